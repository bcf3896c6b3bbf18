//! Properties of agenda placement over many schedules and instants.

use crate::support::saved_at;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::json;
use stackflow_core::cab::{CabSchedule, meetings_between, next_meeting_for};

const ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "UTC",
];
const RULES: [&str; 3] = [
    "FREQ=WEEKLY;BYDAY=TH",
    "FREQ=DAILY",
    "FREQ=MONTHLY;BYDAY=1TU",
];
const FIRSTS: [&str; 3] = ["2026-01-08T14:00", "2026-01-08T09:30", "2026-01-06T16:00"];

proptest! {
    #[test]
    fn next_meeting_for_is_the_first_whose_cutoff_is_not_past(
        zone in 0..ZONES.len(),
        rule in 0..RULES.len(),
        cutoff_hours in 0i64..=96,
        seconds in 0i64..(3 * 365 * 24 * 3600),
    ) {
        // Monthly "first Tuesday" needs a Tuesday first meeting.
        let first = if rule == 2 { FIRSTS[2] } else { FIRSTS[rule % 2] };
        let document: CabSchedule = serde_json::from_value(json!({
            "time_zone": ZONES[zone],
            "rrule": RULES[rule],
            "first_start": first,
            "agenda_cutoff_hours": cutoff_hours,
            "agenda_mail_hours": 0,
        })).unwrap();
        let schedule = document.validate(chrono_tz::UTC, saved_at()).unwrap();
        let t: DateTime<Utc> = saved_at() - Duration::days(60) + Duration::seconds(seconds);
        let next = next_meeting_for(&schedule, t).expect("an unending recurrence");
        prop_assert!(next.cutoff >= t);
        prop_assert_eq!(next.cutoff, next.start - Duration::hours(cutoff_hours));
        let earlier = meetings_between(&schedule, next.start - Duration::days(90), next.start).unwrap();
        for meeting in earlier {
            prop_assert!(meeting.cutoff < t, "{} also makes it", meeting.id);
        }
    }
}
