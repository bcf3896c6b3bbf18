//! How busy SQLite's one writer connection is.
//!
//! Why: every write transaction on SQLite runs on one connection, one after
//! the other, so the API's write rate can never pass the number of
//! transactions that connection gets through in a second. The meter shows
//! how close to that bound a run is: the connection's share of a window
//! spent in use, and how long each transaction held it. The pool reports
//! how long the connection sat idle each time it is taken
//! (`before_acquire`); the rest of the time it was held.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts, from the pool's hook, the writer connection's acquisitions and
/// the time it sat idle before each.
#[derive(Debug, Default)]
pub(crate) struct WriterMeter {
    transactions: AtomicU64,
    idle_nanos: AtomicU64,
}

impl WriterMeter {
    /// The connection was taken after sitting idle for `idle_for`.
    pub(crate) fn taken(&self, idle_for: Duration) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(idle_for.as_nanos()).unwrap_or(u64::MAX);
        self.idle_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// What the meter shows now.
    pub(crate) fn reading(&self) -> WriterReading {
        WriterReading {
            transactions: self.transactions.load(Ordering::Relaxed),
            idle: Duration::from_nanos(self.idle_nanos.load(Ordering::Relaxed)),
            at: Instant::now(),
        }
    }
}

/// The writer meter at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterReading {
    /// Times the connection was taken: one per write transaction.
    pub transactions: u64,
    /// Idle time summed over those takings.
    pub idle: Duration,
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
    /// From `start` to `end`. An idle stretch is counted when it ends, at
    /// the next taking, so one still going at `end` counts as busy: over a
    /// window of seconds under load that is a few milliseconds at most.
    pub fn between(start: &WriterReading, end: &WriterReading) -> WriterUse {
        let window = end.at.saturating_duration_since(start.at);
        let idle = end.idle.saturating_sub(start.idle);
        WriterUse {
            transactions: end.transactions.saturating_sub(start.transactions),
            busy: window.saturating_sub(idle),
            window,
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

    #[test]
    fn the_busy_time_is_the_window_less_the_idle_time() {
        let meter = WriterMeter::default();
        meter.taken(Duration::from_millis(5));
        let start = meter.reading();
        meter.taken(Duration::from_millis(1));
        meter.taken(Duration::from_millis(2));
        meter.taken(Duration::ZERO);
        let mut end = meter.reading();
        end.at = start.at + Duration::from_millis(12);
        let used = WriterUse::between(&start, &end);
        assert_eq!(used.transactions, 3);
        assert_eq!(used.window, Duration::from_millis(12));
        assert_eq!(used.busy, Duration::from_millis(9));
        assert_eq!(used.held_per_transaction(), Duration::from_millis(3));
        assert!((used.busy_share() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn nothing_taken_is_nothing_held() {
        let meter = WriterMeter::default();
        let start = meter.reading();
        let used = WriterUse::between(&start, &start);
        assert_eq!(used.transactions, 0);
        assert_eq!(used.held_per_transaction(), Duration::ZERO);
        assert_eq!(used.busy_share(), 0.0);
    }
}
