//! The schedule document: defaults, the default schedule, and validation
//! errors that name the field.

use crate::support::{saved_at, utc};
use chrono::Duration;
use serde_json::json;
use stackflow_core::Refusal;
use stackflow_core::cab::{CabSchedule, default_schedule, meetings_between};

fn document(body: serde_json::Value) -> CabSchedule {
    serde_json::from_value(body).expect("a schedule document")
}

fn refused_fields(body: serde_json::Value) -> Vec<String> {
    match document(body).validate(chrono_tz::Europe::London, saved_at()) {
        Err(Refusal::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("not refused as invalid: {other:?}"),
    }
}

#[test]
fn absent_fields_take_their_defaults() {
    let s = document(json!({"first_start": "2026-01-06T09:30"}))
        .validate(chrono_tz::Europe::Berlin, saved_at())
        .unwrap();
    assert_eq!(s.zone(), chrono_tz::Europe::Berlin);
    assert_eq!(s.rrule(), "FREQ=WEEKLY");
    assert_eq!(s.first_start(), utc("2026-01-06T08:30:00Z"));
    assert_eq!(s.duration(), Duration::minutes(60));
    assert_eq!(s.agenda_cutoff(), Duration::hours(24));
    assert_eq!(s.agenda_mail_lead(), Duration::hours(2));
    assert_eq!((s.title(), s.location()), (None, None));
}

#[test]
fn the_default_schedule_is_thursdays_at_two_local() {
    let document = default_schedule(chrono_tz::Europe::London);
    let s = document.validate(chrono_tz::UTC, saved_at()).unwrap();
    assert_eq!(s.zone(), chrono_tz::Europe::London);
    let july = meetings_between(&s, utc("2026-07-01T00:00:00Z"), utc("2026-07-10T00:00:00Z"));
    let july = july.unwrap();
    assert_eq!(july.len(), 2);
    assert_eq!(july[0].id, "2026-07-02T1400");
    assert_eq!(july[0].start, utc("2026-07-02T13:00:00Z"));
    // It round-trips as JSON, as the store keeps it.
    let text = serde_json::to_string(&document).unwrap();
    assert_eq!(
        serde_json::from_str::<CabSchedule>(&text).unwrap(),
        document
    );
}

#[test]
fn title_and_location_are_kept_trimmed() {
    let s = document(json!({
        "first_start": "2026-01-08T14:00",
        "title": " Change Advisory Board ",
        "location": "Room 4.01",
    }))
    .validate(chrono_tz::UTC, saved_at())
    .unwrap();
    assert_eq!(s.title(), Some("Change Advisory Board"));
    assert_eq!(s.location(), Some("Room 4.01"));
}

#[test]
fn each_bad_field_is_named() {
    let cases = [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"rrule": "NOT A RULE"}), "rrule"),
        (json!({"rrule": ""}), "rrule"),
        (json!({"rrule": "FREQ=WEEKLY\nFREQ=DAILY"}), "rrule"),
        (json!({"rrule": "FREQ=HOURLY"}), "rrule"),
        (json!({"rrule": "FREQ=MINUTELY"}), "rrule"),
        (json!({"rrule": "FREQ=DAILY;BYHOUR=9,15"}), "rrule"),
        (json!({"duration_minutes": 0}), "duration_minutes"),
        (json!({"duration_minutes": 24 * 60 + 1}), "duration_minutes"),
        (json!({"agenda_cutoff_hours": -1}), "agenda_cutoff_hours"),
        (json!({"agenda_mail_hours": -2}), "agenda_mail_hours"),
        (json!({"agenda_mail_hours": 30}), "agenda_mail_hours"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"location": "room\n4"}), "location"),
        (json!({"first_start": "next Thursday"}), "first_start"),
        (json!({"first_start": "2026-01-08T14:00:30"}), "first_start"),
        (json!({"first_start": "0999-01-08T14:00"}), "first_start"),
        // A Wednesday for a Thursday rule: not the rule's first occurrence.
        (
            json!({"rrule": "FREQ=WEEKLY;BYDAY=TH", "first_start": "2026-01-07T14:00"}),
            "first_start",
        ),
        // London's clocks skip 01:00–02:00 on 29 March 2026.
        (json!({"first_start": "2026-03-29T01:30"}), "first_start"),
        // More than a year ahead.
        (json!({"first_start": "2027-03-04T14:00"}), "first_start"),
        // Ran out before "now".
        (
            json!({"rrule": "FREQ=WEEKLY;COUNT=3", "first_start": "2025-01-02T14:00"}),
            "rrule",
        ),
        (
            json!({"rrule": "FREQ=WEEKLY;UNTIL=20250601T000000Z", "first_start": "2025-01-02T14:00"}),
            "rrule",
        ),
    ];
    for (overrides, field) in cases {
        let mut body = json!({"first_start": "2026-01-08T14:00"});
        for (key, value) in overrides.as_object().unwrap() {
            body[key] = value.clone();
        }
        assert_eq!(refused_fields(body.clone()), [field], "{body}");
    }
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let fields = refused_fields(json!({
        "time_zone": "Nowhere",
        "rrule": "FREQ=SECONDLY",
        "first_start": "soon",
        "duration_minutes": 0,
        "agenda_cutoff_hours": -5,
        "agenda_mail_hours": -1,
    }));
    assert_eq!(
        fields,
        [
            "time_zone",
            "first_start",
            "duration_minutes",
            "agenda_cutoff_hours",
            "agenda_mail_hours",
            "rrule"
        ]
    );
}

#[test]
fn unknown_fields_and_a_missing_first_start_do_not_parse() {
    let unknown = json!({"first_start": "2026-01-08T14:00", "weekday": "thu"});
    assert!(serde_json::from_value::<CabSchedule>(unknown).is_err());
    assert!(serde_json::from_value::<CabSchedule>(json!({})).is_err());
}
