use super::*;
use serde_json::json;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

fn new_window(body: serde_json::Value) -> NewWindow {
    serde_json::from_value(body).expect("a window draft")
}

fn window(body: serde_json::Value) -> ChangeWindow {
    new_window(body)
        .into_window(1, "max", utc("2026-11-01T00:00:00Z"))
        .expect("a valid window")
}

fn refused_fields(body: serde_json::Value) -> Vec<(String, String)> {
    match new_window(body).into_window(1, "max", utc("2026-11-01T00:00:00Z")) {
        Err(Refusal::Invalid(errors)) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => panic!("not refused as invalid: {other:?}"),
    }
}

fn starts(occurrences: &[Occurrence]) -> Vec<String> {
    occurrences
        .iter()
        .map(|o| o.start.format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

fn ci(name: &str, class: &str) -> (String, String) {
    (name.to_owned(), class.to_owned())
}

#[test]
fn a_weekly_window_keeps_its_local_time_across_daylight_saving_changes() {
    // Sundays 04:00–06:00 in Berlin: 03:00Z in winter, 02:00Z in summer.
    let w = window(json!({
        "name": "Sunday patching", "kind": "maintenance",
        "start": "2026-03-22T03:00:00Z", "end": "2026-03-22T05:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SU", "time_zone": "Europe/Berlin"
    }));
    let spring = w.occurrences(utc("2026-03-20T00:00:00Z"), utc("2026-04-06T00:00:00Z"));
    assert_eq!(
        starts(&spring),
        [
            "2026-03-22T03:00Z",
            "2026-03-29T02:00Z",
            "2026-04-05T02:00Z"
        ]
    );
    assert!(spring.iter().all(|o| o.end - o.start == Duration::hours(2)));
    let autumn = w.occurrences(utc("2026-10-17T00:00:00Z"), utc("2026-10-26T00:00:00Z"));
    assert_eq!(starts(&autumn), ["2026-10-18T02:00Z", "2026-10-25T03:00Z"]);
    // In UTC the same rule keeps UTC time instead.
    let in_utc = window(json!({
        "name": "UTC patching", "kind": "maintenance",
        "start": "2026-03-22T03:00:00Z", "end": "2026-03-22T05:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SU"
    }));
    let spring = in_utc.occurrences(utc("2026-03-28T00:00:00Z"), utc("2026-03-30T00:00:00Z"));
    assert_eq!(starts(&spring), ["2026-03-29T03:00Z"]);
}

#[test]
fn count_and_until_end_a_series() {
    let counted = window(json!({
        "name": "Three nights", "kind": "blackout",
        "start": "2026-11-25T22:00:00Z", "end": "2026-11-25T23:00:00Z",
        "recurrence": "FREQ=DAILY;COUNT=3"
    }));
    let all = counted.occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
    assert_eq!(
        starts(&all),
        [
            "2026-11-25T22:00Z",
            "2026-11-26T22:00Z",
            "2026-11-27T22:00Z"
        ]
    );
    let until = window(json!({
        "name": "Until December", "kind": "maintenance",
        "start": "2026-11-29T03:00:00Z", "end": "2026-11-29T05:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261220T030000Z",
        "time_zone": "Europe/Berlin"
    }));
    let all = until.occurrences(utc("2026-01-01T00:00:00Z"), utc("2027-06-01T00:00:00Z"));
    assert_eq!(
        starts(&all),
        [
            "2026-11-29T03:00Z",
            "2026-12-06T03:00Z",
            "2026-12-13T03:00Z",
            "2026-12-20T03:00Z"
        ]
    );
}

#[test]
fn an_occurrence_that_began_before_the_range_is_included_and_the_range_is_half_open() {
    // Every night 22:00–02:00 UTC: it spans midnight.
    let nightly = window(json!({
        "name": "Nightly", "kind": "maintenance",
        "start": "2026-11-20T22:00:00Z", "end": "2026-11-21T02:00:00Z",
        "recurrence": "FREQ=DAILY"
    }));
    let found = nightly.occurrences(utc("2026-11-26T01:00:00Z"), utc("2026-11-26T22:00:00Z"));
    assert_eq!(starts(&found), ["2026-11-25T22:00Z"]);
    assert_eq!(found[0].end, utc("2026-11-26T02:00:00Z"));
    // An empty range has nothing; a one-off window outside the range neither.
    assert!(
        nightly
            .occurrences(utc("2026-11-26T01:00:00Z"), utc("2026-11-26T01:00:00Z"))
            .is_empty()
    );
    let once = window(json!({
        "name": "Once", "kind": "blackout",
        "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"
    }));
    assert!(
        once.occurrences(utc("2026-12-02T00:00:00Z"), utc("2026-12-03T00:00:00Z"))
            .is_empty()
    );
    assert_eq!(
        once.occurrences(utc("2026-12-01T23:00:00Z"), utc("2026-12-03T00:00:00Z"))
            .len(),
        1
    );
}

#[test]
fn expansion_is_bounded() {
    let hourly = window(json!({
        "name": "Hourly", "kind": "maintenance",
        "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z",
        "recurrence": "FREQ=HOURLY"
    }));
    let found = hourly.occurrences(utc("2026-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"));
    assert_eq!(found.len(), MAX_OCCURRENCES);
}

#[test]
fn scoped_windows_apply_to_their_cis_and_classes_global_ones_to_all() {
    let scoped = window(json!({
        "name": "DB freeze", "kind": "blackout",
        "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z",
        "scope": {"cis": ["web-01"], "classes": ["database"]}
    }));
    assert!(scoped.applies_to("web-01", "server"));
    assert!(scoped.applies_to("orders-db", "database"));
    assert!(!scoped.applies_to("web-02", "server"));
    let global = window(json!({
        "name": "Year end", "kind": "blackout",
        "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"
    }));
    assert!(global.applies_to("anything", "any_class"));

    let windows = [scoped, global.clone()];
    let (from, to) = (utc("2026-12-01T10:00:00Z"), utc("2026-12-01T11:00:00Z"));
    let hits = blackouts_overlapping(&windows, from, to, &[ci("web-02", "server")]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0.name, "Year end");
    // With no affected CIs only global windows count.
    let hits = blackouts_overlapping(&windows[..1], from, to, &[]);
    assert!(hits.is_empty());
    let hits = blackouts_overlapping(&windows, from, to, &[ci("orders-db", "database")]);
    assert_eq!(hits.len(), 2);
}

#[test]
fn a_blackout_takes_precedence_over_maintenance_and_business_hours() {
    let calendar = BusinessCalendar::default_calendar();
    let maintenance = window(json!({
        "name": "Wednesday maintenance", "kind": "maintenance",
        "start": "2026-11-25T08:00:00Z", "end": "2026-11-25T18:00:00Z"
    }));
    let blackout = window(json!({
        "name": "Billing freeze", "kind": "blackout",
        "start": "2026-11-25T11:30:00Z", "end": "2026-11-25T12:30:00Z",
        "scope": {"classes": ["database"]}
    }));
    let windows = [maintenance, blackout];
    let (start, end) = (
        Some(utc("2026-11-25T11:00:00Z")),
        Some(utc("2026-11-25T12:00:00Z")),
    );
    let db = [ci("orders-db", "database")];
    assert_eq!(
        classify_window(&windows, &calendar, start, end, &db),
        WindowFit::Blackout {
            window: "Billing freeze".into()
        }
    );
    // The blackout does not apply to a web server: maintenance wins.
    let web = [ci("web-01", "server")];
    assert_eq!(
        classify_window(&windows, &calendar, start, end, &web),
        WindowFit::Maintenance {
            window: "Wednesday maintenance".into()
        }
    );
    // A change ending when the blackout starts does not overlap it.
    let before = Some(utc("2026-11-25T11:30:00Z"));
    assert_eq!(
        classify_window(&windows, &calendar, start, before, &db),
        WindowFit::Maintenance {
            window: "Wednesday maintenance".into()
        }
    );
}

#[test]
fn maintenance_must_contain_the_whole_change_window() {
    let calendar = BusinessCalendar::default_calendar();
    // Saturdays 20:00–23:00 UTC.
    let windows = [window(json!({
        "name": "Saturday evening", "kind": "maintenance",
        "start": "2026-11-28T20:00:00Z", "end": "2026-11-28T23:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SA"
    }))];
    let fit = |start: &str, end: &str| {
        classify_window(&windows, &calendar, Some(utc(start)), Some(utc(end)), &[])
    };
    let inside = WindowFit::Maintenance {
        window: "Saturday evening".into(),
    };
    assert_eq!(fit("2026-12-05T20:00:00Z", "2026-12-05T23:00:00Z"), inside);
    assert_eq!(
        fit("2026-12-05T22:00:00Z", "2026-12-05T23:30:00Z"),
        WindowFit::OutsideBusinessHours
    );
    // Monday 16:00–18:00 UTC: partly business time.
    assert_eq!(
        fit("2026-12-07T16:00:00Z", "2026-12-07T18:00:00Z"),
        WindowFit::BusinessHours
    );
    assert_eq!(
        classify_window(
            &windows,
            &calendar,
            None,
            Some(utc("2026-12-07T18:00:00Z")),
            &[]
        ),
        WindowFit::Unplanned
    );
}

#[test]
fn maintenance_needs_every_affected_ci_covered() {
    let calendar = BusinessCalendar::default_calendar();
    let db_window = window(json!({
        "name": "DB window", "kind": "maintenance",
        "start": "2026-11-28T20:00:00Z", "end": "2026-11-28T23:00:00Z",
        "scope": {"classes": ["database"]}
    }));
    let web_window = window(json!({
        "name": "Web window", "kind": "maintenance",
        "start": "2026-11-28T19:00:00Z", "end": "2026-11-28T22:00:00Z",
        "scope": {"cis": ["web-01"]}
    }));
    let (start, end) = (
        Some(utc("2026-11-28T20:30:00Z")),
        Some(utc("2026-11-28T21:30:00Z")),
    );
    let cis = [ci("orders-db", "database"), ci("web-01", "server")];
    let only_db = [db_window.clone()];
    assert_eq!(
        classify_window(&only_db, &calendar, start, end, &cis),
        WindowFit::OutsideBusinessHours
    );
    // A scoped window does not count for a change naming no CI.
    assert_eq!(
        classify_window(&only_db, &calendar, start, end, &[]),
        WindowFit::OutsideBusinessHours
    );
    let both = [db_window, web_window];
    assert_eq!(
        classify_window(&both, &calendar, start, end, &cis),
        WindowFit::Maintenance {
            window: "DB window".into()
        }
    );
}

#[test]
fn drafts_are_validated_field_by_field() {
    let fields = refused_fields(json!({
        "name": " ", "kind": "maintenance",
        "start": "2026-11-28T20:00:00Z", "end": "2026-11-28T20:00:00Z",
        "time_zone": "Europe/Atlantis",
        "scope": {"classes": ["Database"], "cis": ["a/b"]}
    }));
    let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "name",
            "end",
            "time_zone",
            "scope.cis[0]",
            "scope.classes[0]"
        ]
    );
    let long = refused_fields(json!({
        "name": "x".repeat(201), "kind": "blackout",
        "start": "2026-11-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"
    }));
    assert_eq!(long.len(), 2, "{long:?}");
    assert!(long[1].1.contains("31 days"), "{long:?}");
    let ancient = refused_fields(json!({
        "name": "Ancient", "kind": "blackout",
        "start": "1969-12-31T00:00:00Z", "end": "1970-01-01T01:00:00Z"
    }));
    assert_eq!(ancient[0].0, "start");
}

#[test]
fn recurrence_rules_are_checked_by_the_rrule_parser() {
    let base = |rule: &str| {
        json!({
            "name": "Rule", "kind": "maintenance",
            "start": "2026-11-29T03:00:00Z", "end": "2026-11-29T05:00:00Z",
            "recurrence": rule
        })
    };
    for bad in [
        "FREQ=FORTNIGHTLY",
        "BYDAY=SU",
        "FREQ=WEEKLY;BYDAY=XX",
        "",
        "FREQ=MINUTELY",
        // Faster than hourly through the BY parts, whatever the FREQ.
        "FREQ=HOURLY;BYMINUTE=0,30",
        "FREQ=DAILY;BYHOUR=3,4;BYMINUTE=0,1,2",
        "FREQ=WEEKLY;BYDAY=SU;BYSECOND=0,1",
    ] {
        let fields = refused_fields(base(bad));
        assert_eq!(fields.len(), 1, "{bad}: {fields:?}");
        assert_eq!(fields[0].0, "recurrence", "{bad}: {fields:?}");
    }
    // 29 November 2026 is a Sunday: a Saturday rule does not start there.
    let fields = refused_fields(base("FREQ=WEEKLY;BYDAY=SA"));
    assert_eq!(fields[0].0, "start", "{fields:?}");
    assert!(fields[0].1.contains("2026-12-05T03:00:00"), "{fields:?}");
    assert!(
        new_window(base("RRULE:FREQ=WEEKLY;BYDAY=SU"))
            .into_window(1, "max", utc("2026-11-01T00:00:00Z"))
            .is_ok()
    );
}

#[test]
fn hourly_rules_with_one_minute_value_are_accepted() {
    for rule in [
        "FREQ=HOURLY",
        "FREQ=HOURLY;BYMINUTE=0",
        "FREQ=DAILY;BYHOUR=3,4,5;BYMINUTE=0;BYSECOND=0",
    ] {
        let w = new_window(json!({
            "name": "Rule", "kind": "maintenance",
            "start": "2026-11-29T03:00:00Z", "end": "2026-11-29T03:30:00Z",
            "recurrence": rule
        }))
        .into_window(1, "max", utc("2026-11-01T00:00:00Z"));
        assert!(w.is_ok(), "{rule}: {w:?}");
    }
}

#[test]
fn a_recurring_window_starts_on_a_whole_second() {
    let fields = refused_fields(json!({
        "name": "Rule", "kind": "maintenance",
        "start": "2026-11-29T03:00:00.5Z", "end": "2026-11-29T05:00:00Z",
        "recurrence": "FREQ=WEEKLY"
    }));
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, "start");
    assert!(fields[0].1.contains("whole second"), "{fields:?}");
    // A one-off window keeps its fraction.
    assert!(
        new_window(json!({
            "name": "Once", "kind": "maintenance",
            "start": "2026-11-29T03:00:00.5Z", "end": "2026-11-29T05:00:00Z"
        }))
        .into_window(1, "max", utc("2026-11-01T00:00:00Z"))
        .is_ok()
    );
}

#[test]
fn a_bad_rule_is_listed_beside_the_other_bad_fields() {
    let fields = refused_fields(json!({
        "name": "", "kind": "maintenance",
        "start": "2026-11-29T03:00:00Z", "end": "2026-11-29T05:00:00Z",
        "recurrence": "FREQ=FORTNIGHTLY"
    }));
    let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["name", "recurrence"], "{fields:?}");
}

#[test]
fn window_fit_serialises_with_its_kind() {
    assert_eq!(
        serde_json::to_value(WindowFit::Blackout {
            window: "Freeze".into()
        })
        .unwrap(),
        json!({"fit": "blackout", "window": "Freeze"})
    );
    assert_eq!(
        serde_json::to_value(WindowFit::BusinessHours).unwrap(),
        json!({"fit": "business_hours"})
    );
}

#[test]
fn a_change_across_a_nightly_freeze_records_it_once() {
    let nightly = window(json!({
        "name": "Nightly batch", "kind": "blackout",
        "start": "2026-12-01T22:00:00Z", "end": "2026-12-02T02:00:00Z",
        "recurrence": "FREQ=DAILY"
    }));
    let mut weekend = window(json!({
        "name": "Weekend freeze", "kind": "blackout",
        "start": "2026-12-05T00:00:00Z", "end": "2026-12-07T00:00:00Z"
    }));
    weekend.id = 2;
    let windows = [nightly, weekend];
    // Three nights, then the weekend.
    let planned = (utc("2026-12-02T12:00:00Z"), utc("2026-12-05T06:00:00Z"));
    let hits = blackouts_overlapping(&windows, planned.0, planned.1, &[]);
    assert_eq!(hits.len(), 4);
    let now = utc("2026-11-28T10:00:00Z");
    let records = crate::conflict::blackout_conflicts(planned, &hits, now);
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[0].window.as_deref(), Some("Nightly batch"));
    assert_eq!(records[0].overlap_start, utc("2026-12-02T22:00:00Z"));
    assert_eq!(records[0].overlap_end, utc("2026-12-03T02:00:00Z"));
    assert_eq!(
        records[0].reason,
        "the planned window overlaps the blackout window Nightly batch 3 times, \
         first from 2026-12-02T22:00:00+00:00 to 2026-12-03T02:00:00+00:00"
    );
    assert_eq!(records[1].window_id, Some(2));
    assert_eq!(records[1].overlap_start, utc("2026-12-05T00:00:00Z"));
    assert_eq!(records[1].overlap_end, planned.1);
    assert_eq!(
        records[1].reason,
        "the planned window overlaps the blackout window Weekend freeze \
         (2026-12-05T00:00:00+00:00 to 2026-12-05T06:00:00+00:00)"
    );
}

#[test]
fn a_nightly_window_keeps_the_night_the_clocks_skip_midnight() {
    use chrono::TimeZone;
    // Cairo moves from 00:00 to 01:00 on Friday 24 April 2026: that
    // night's 00:30 does not exist on the wall clock.
    let cairo = chrono_tz::Africa::Cairo;
    let skipped = chrono::NaiveDate::from_ymd_opt(2026, 4, 24)
        .unwrap()
        .and_hms_opt(0, 30, 0)
        .unwrap();
    assert!(cairo.from_local_datetime(&skipped).earliest().is_none());
    let freeze = window(json!({
        "name": "Nightly batch", "kind": "blackout",
        "start": "2026-04-20T22:30:00Z", "end": "2026-04-21T02:00:00Z",
        "recurrence": "FREQ=DAILY", "time_zone": "Africa/Cairo"
    }));
    let found = freeze.occurrences(utc("2026-04-22T00:00:00Z"), utc("2026-04-26T00:00:00Z"));
    assert_eq!(
        starts(&found),
        [
            "2026-04-21T22:30Z", // 00:30 winter time, 22 April, still running
            "2026-04-22T22:30Z", // 00:30 winter time, 23 April
            "2026-04-23T22:30Z", // the skipped 00:30, read in winter time: 01:30 summer time
            "2026-04-24T21:30Z", // 00:30 summer time from then on
            "2026-04-25T21:30Z",
        ]
    );
}

#[test]
fn an_hourly_window_across_a_clock_change_never_repeats_an_instant() {
    // Berlin goes from 02:00 to 03:00 on 29 March 2026.
    let hourly = window(json!({
        "name": "Hourly sync", "kind": "blackout",
        "start": "2026-03-28T23:00:00Z", "end": "2026-03-28T23:10:00Z",
        "recurrence": "FREQ=HOURLY", "time_zone": "Europe/Berlin"
    }));
    let found = hourly.occurrences(utc("2026-03-28T23:00:00Z"), utc("2026-03-29T04:00:00Z"));
    assert_eq!(
        starts(&found),
        [
            "2026-03-28T23:00Z", // 00:00 winter time
            "2026-03-29T00:00Z", // 01:00
            "2026-03-29T01:00Z", // the skipped 02:00 and the real 03:00 summer time, once
            "2026-03-29T02:00Z", // 04:00
            "2026-03-29T03:00Z",
        ]
    );
}

#[test]
fn until_must_be_a_utc_time() {
    let fields = refused_fields(json!({
        "name": "Rule", "kind": "maintenance",
        "start": "2026-11-29T03:00:00Z", "end": "2026-11-29T05:00:00Z",
        "recurrence": "FREQ=WEEKLY;UNTIL=20261220T030000", "time_zone": "Europe/Berlin"
    }));
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, "recurrence");
}
