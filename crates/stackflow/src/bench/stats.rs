//! Latency percentiles, shared by the benchmarks.

use std::time::Duration;

/// Latency percentiles of one series, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Percentiles {
    /// The percentiles of `times` (sorted in place); all zero when empty.
    pub fn of(times: &mut [Duration]) -> Percentiles {
        times.sort_unstable();
        let at = |q: f64| {
            let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len().max(1)) - 1;
            times.get(i).map_or(0.0, |t| t.as_secs_f64() * 1000.0)
        };
        Percentiles {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_in_milliseconds() {
        let mut times: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut times);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        let mut one = [Duration::from_micros(1500)];
        assert_eq!(Percentiles::of(&mut one).p50, 1.5);
        assert_eq!(Percentiles::of(&mut []).p99, 0.0);
    }
}
