//! Approval SLA arithmetic.
//!
//! Until the configurable business calendar lands (time zone, working hours,
//! holidays), business days are Monday to Friday in UTC. The function is the
//! seam the calendar will replace.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

/// Adds `days` business days (Monday–Friday) to `start`, keeping the time of
/// day. A start on a weekend counts from the following Monday's same time.
pub fn add_business_days(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = start;
    while is_weekend(at) {
        at += Duration::days(1);
    }
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if !is_weekend(at) {
            left -= 1;
        }
    }
    at
}

fn is_weekend(at: DateTime<Utc>) -> bool {
    matches!(at.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn five_business_days_skip_the_weekend() {
        // Wednesday 2026-11-25 10:00 → Wednesday 2026-12-02 10:00.
        assert_eq!(
            add_business_days(at("2026-11-25T10:00:00Z"), 5),
            at("2026-12-02T10:00:00Z")
        );
        // Friday → next Friday.
        assert_eq!(
            add_business_days(at("2026-11-27T16:00:00Z"), 5),
            at("2026-12-04T16:00:00Z")
        );
        // Saturday counts from Monday: Monday + 5 = next Monday.
        assert_eq!(
            add_business_days(at("2026-11-28T09:00:00Z"), 5),
            at("2026-12-07T09:00:00Z")
        );
    }
}
