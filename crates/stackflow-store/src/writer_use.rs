//! How busy SQLite's one writer connection is.
//!
//! Why: every write transaction on SQLite runs on one connection, one after
//! the other, so the API's write rate can never pass the number of
//! transactions that connection gets through in a second. The meter shows
//! how close to that bound a run is: the connection's share of a window
//! spent held, and how long each transaction held it. The pool's hooks
//! tell it when the connection is taken (`before_acquire`, or
//! `after_connect` for a new one) and when it is given back
//! (`after_release`); a holding counts when it ends.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts, from the pool's hooks, the writer connection's holdings and
/// their length. One connection: at most one holding is open at a time.
#[derive(Debug, Default)]
pub(crate) struct WriterMeter {
    state: Mutex<MeterState>,
}

#[derive(Debug, Default)]
struct MeterState {
    transactions: u64,
    held: Duration,
    /// When the holding now open began.
    taken_at: Option<Instant>,
}

impl WriterMeter {
    /// The connection was taken at `at`.
    pub(crate) fn taken(&self, at: Instant) {
        let mut state = self.lock();
        state.transactions += 1;
        state.taken_at = Some(at);
    }

    /// The connection was given back at `at`.
    pub(crate) fn released(&self, at: Instant) {
        let mut state = self.lock();
        if let Some(taken_at) = state.taken_at.take() {
            state.held += at.saturating_duration_since(taken_at);
        }
    }

    /// What the meter shows at `at`; a holding still open counts up to it.
    pub(crate) fn reading(&self, at: Instant) -> WriterReading {
        let state = self.lock();
        let open = state.taken_at.map_or(Duration::ZERO, |taken_at| {
            at.saturating_duration_since(taken_at)
        });
        WriterReading {
            transactions: state.transactions,
            held: state.held + open,
            at,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MeterState> {
        // The state is two counters and an instant, each written whole: a
        // panic elsewhere cannot leave it half changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer meter at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterReading {
    /// Times the connection was taken: one per write transaction.
    pub transactions: u64,
    /// Time it was held, in all.
    pub held: Duration,
    /// When it was read.
    pub at: Instant,
}

/// The writer's use between two readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterUse {
    /// Write transactions begun.
    pub transactions: u64,
    /// Time the connection was held.
    pub busy: Duration,
    /// The time between the readings.
    pub window: Duration,
}

impl WriterUse {
    /// From `start` to `end`.
    pub fn between(start: &WriterReading, end: &WriterReading) -> WriterUse {
        WriterUse {
            transactions: end.transactions.saturating_sub(start.transactions),
            busy: end.held.saturating_sub(start.held),
            window: end.at.saturating_duration_since(start.at),
        }
    }

    /// The share of the window the connection was held, 0 to 1.
    pub fn busy_share(&self) -> f64 {
        self.busy.as_secs_f64() / self.window.as_secs_f64().max(1e-9)
    }

    /// How long each transaction held the connection, on average.
    pub fn held_per_transaction(&self) -> Duration {
        match u32::try_from(self.transactions) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.busy / n,
            Err(_) => Duration::from_secs_f64(self.busy.as_secs_f64() / self.transactions as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_busy_time_is_the_holdings_between_the_readings() {
        let meter = WriterMeter::default();
        let t0 = Instant::now();
        meter.taken(t0);
        meter.released(t0 + ms(5));
        let start = meter.reading(t0 + ms(10));
        meter.taken(t0 + ms(11));
        meter.released(t0 + ms(13));
        meter.taken(t0 + ms(15));
        meter.released(t0 + ms(19));
        let end = meter.reading(t0 + ms(30));
        let used = WriterUse::between(&start, &end);
        assert_eq!(used.transactions, 2);
        assert_eq!(used.window, ms(20));
        assert_eq!(used.busy, ms(6), "the holding before the start is left out");
        assert_eq!(used.held_per_transaction(), ms(3));
        assert!((used.busy_share() - 0.3).abs() < 1e-9);
    }

    #[test]
    fn a_holding_open_at_a_reading_counts_up_to_it_and_only_once() {
        let meter = WriterMeter::default();
        let t0 = Instant::now();
        meter.taken(t0);
        let start = meter.reading(t0 + ms(4));
        meter.released(t0 + ms(6));
        meter.taken(t0 + ms(8));
        let end = meter.reading(t0 + ms(9));
        let used = WriterUse::between(&start, &end);
        // 4–6 ms of the first holding, 8–9 ms of the second.
        assert_eq!(used.busy, ms(3));
        assert_eq!(used.transactions, 1);
        meter.released(t0 + ms(12));
        assert_eq!(meter.reading(t0 + ms(20)).held, ms(10));
    }

    #[test]
    fn a_release_without_a_taking_adds_nothing() {
        let meter = WriterMeter::default();
        let t0 = Instant::now();
        meter.released(t0 + ms(5));
        assert_eq!(meter.reading(t0 + ms(6)).held, Duration::ZERO);
    }

    #[test]
    fn nothing_taken_is_nothing_held() {
        let meter = WriterMeter::default();
        let start = meter.reading(Instant::now());
        let used = WriterUse::between(&start, &start);
        assert_eq!(used.transactions, 0);
        assert_eq!(used.held_per_transaction(), Duration::ZERO);
        assert_eq!(used.busy_share(), 0.0);
    }
}
