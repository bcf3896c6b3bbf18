//! Meetings from the recurrence: local time across daylight-saving
//! changes, the agenda cut-off, deferral and meeting ids.

use crate::support::{london_thursdays, schedule, utc};
use serde_json::json;
use stackflow_core::Refusal;
use stackflow_core::cab::{
    Meeting, meeting_after, meeting_by_id, meetings_between, next_meeting_for, parse_meeting_id,
};

fn starts(meetings: &[Meeting]) -> Vec<String> {
    meetings
        .iter()
        .map(|m| m.start.format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

#[test]
fn london_meetings_keep_14_00_local_across_the_october_change() {
    // BST (UTC+1) ends on Sunday 25 October 2026: Thursday 14:00 is 13:00Z
    // before it and 14:00Z after it.
    let found = meetings_between(
        &london_thursdays(),
        utc("2026-10-15T00:00:00Z"),
        utc("2026-11-06T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        starts(&found),
        [
            "2026-10-15T13:00Z",
            "2026-10-22T13:00Z",
            "2026-10-29T14:00Z",
            "2026-11-05T14:00Z"
        ]
    );
    let ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "2026-10-15T1400",
            "2026-10-22T1400",
            "2026-10-29T1400",
            "2026-11-05T1400"
        ]
    );
}

#[test]
fn london_meetings_keep_14_00_local_across_the_march_change() {
    // BST starts on Sunday 29 March 2026.
    let found = meetings_between(
        &london_thursdays(),
        utc("2026-03-19T00:00:00Z"),
        utc("2026-04-03T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        starts(&found),
        [
            "2026-03-19T14:00Z",
            "2026-03-26T14:00Z",
            "2026-04-02T13:00Z"
        ]
    );
}

#[test]
fn new_york_changes_a_week_after_london() {
    // EDT ends on Sunday 1 November 2026: Thursday 10:00 is 14:00Z, then 15:00Z.
    let new_york = schedule(json!({
        "time_zone": "America/New_York",
        "rrule": "FREQ=WEEKLY;BYDAY=TH",
        "first_start": "2026-01-08T10:00"
    }));
    let found = meetings_between(
        &new_york,
        utc("2026-10-29T00:00:00Z"),
        utc("2026-11-06T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(starts(&found), ["2026-10-29T14:00Z", "2026-11-05T15:00Z"]);
}

#[test]
fn a_meeting_carries_its_end_cutoff_and_mail_time() {
    let found = meetings_between(
        &london_thursdays(),
        utc("2026-10-22T00:00:00Z"),
        utc("2026-10-23T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        found,
        [Meeting {
            id: "2026-10-22T1400".into(),
            start: utc("2026-10-22T13:00:00Z"),
            end: utc("2026-10-22T14:00:00Z"),
            cutoff: utc("2026-10-21T13:00:00Z"),
            mail_at: utc("2026-10-22T11:00:00Z"),
        }]
    );
}

#[test]
fn the_range_is_half_open_and_bounded() {
    let s = london_thursdays();
    let at = utc("2026-10-29T14:00:00Z");
    assert_eq!(meetings_between(&s, at, at).unwrap(), []);
    let from_start = meetings_between(&s, at, utc("2026-10-29T14:00:01Z")).unwrap();
    assert_eq!(starts(&from_start), ["2026-10-29T14:00Z"]);
    let ending_at_start = meetings_between(&s, utc("2026-10-23T00:00:00Z"), at).unwrap();
    assert_eq!(ending_at_start, []);
    let year = meetings_between(&s, utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
    assert_eq!(
        year.unwrap().len(),
        52,
        "Thursdays from 8 January to 31 December"
    );
    for (from, to) in [
        ("2026-01-01T00:00:00Z", "2027-02-05T00:00:01Z"),
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ] {
        let Err(Refusal::Invalid(errors)) = meetings_between(&s, utc(from), utc(to)) else {
            panic!("{from}..{to} not refused");
        };
        assert_eq!(errors[0].field, "to");
    }
    assert!(meetings_between(&s, utc("2026-01-01T00:00:00Z"), utc("2027-02-05T00:00:00Z")).is_ok());
}

#[test]
fn a_change_makes_the_meeting_whose_cutoff_it_reaches() {
    let s = london_thursdays();
    // The 29 October meeting starts at 14:00Z; its agenda closes 24 hours
    // earlier, at 14:00Z on the 28th.
    let this_week = next_meeting_for(&s, utc("2026-10-28T13:00:00Z")).unwrap();
    assert_eq!(this_week.id, "2026-10-29T1400");
    let exactly_at_cutoff = next_meeting_for(&s, utc("2026-10-28T14:00:00Z")).unwrap();
    assert_eq!(exactly_at_cutoff.id, "2026-10-29T1400");
    let too_late = next_meeting_for(&s, utc("2026-10-28T15:00:00Z")).unwrap();
    assert_eq!(too_late.id, "2026-11-05T1400");
    assert_eq!(too_late.start, utc("2026-11-05T14:00:00Z"));
    // Before the first meeting, the first meeting.
    let early = next_meeting_for(&s, utc("2025-06-01T00:00:00Z")).unwrap();
    assert_eq!(early.id, "2026-01-08T1400");
}

#[test]
fn the_cutoff_counts_elapsed_hours_across_the_clock_change() {
    // The 29 October meeting (14:00Z) closes at 14:00Z on the 28th; the
    // 22 October one (13:00Z) at 13:00Z on the 21st.
    let s = london_thursdays();
    assert_eq!(
        next_meeting_for(&s, utc("2026-10-21T13:00:00Z"))
            .unwrap()
            .id,
        "2026-10-22T1400"
    );
    assert_eq!(
        next_meeting_for(&s, utc("2026-10-21T13:00:01Z"))
            .unwrap()
            .id,
        "2026-10-29T1400"
    );
}

#[test]
fn deferral_moves_to_the_next_meeting() {
    let s = london_thursdays();
    let this_week = meeting_by_id(&s, "2026-10-22T1400").unwrap();
    let next = meeting_after(&s, &this_week).unwrap();
    assert_eq!(next.id, "2026-10-29T1400");
    assert_eq!(next.start, utc("2026-10-29T14:00:00Z"));
}

#[test]
fn a_finished_recurrence_has_no_later_meeting() {
    let three = schedule(json!({
        "rrule": "FREQ=WEEKLY;COUNT=3",
        "first_start": "2026-01-08T14:00"
    }));
    let last = meeting_by_id(&three, "2026-01-22T1400").unwrap();
    assert_eq!(meeting_after(&three, &last), None);
    assert_eq!(next_meeting_for(&three, utc("2026-01-21T15:00:00Z")), None);
    assert_eq!(meeting_by_id(&three, "2026-01-29T1400"), None);
}

#[test]
fn meeting_ids_round_trip() {
    let s = london_thursdays();
    let year = meetings_between(&s, utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
    for meeting in year.unwrap() {
        assert_eq!(meeting_by_id(&s, &meeting.id), Some(meeting.clone()));
        let local = parse_meeting_id(&meeting.id).unwrap();
        assert_eq!(local.format("%H:%M").to_string(), "14:00");
    }
}

#[test]
fn ids_the_recurrence_does_not_give_name_no_meeting() {
    let s = london_thursdays();
    for id in [
        "2026-10-29T1500", // right day, wrong time
        "2026-10-30T1400", // a Friday
        "2026-01-01T1400", // a Thursday before the first meeting
        "2026-10-29T14:00",
        "2026-1-29T1400",
        "2026-10-29t1400",
        "2026-10-29T1400 ",
        "20261029T1400",
        "",
        "next week",
    ] {
        assert_eq!(meeting_by_id(&s, id), None, "{id:?}");
    }
    assert!(parse_meeting_id("2026-10-29T1500").is_some());
    assert!(parse_meeting_id("2026-02-30T1400").is_none());
}

#[test]
fn ids_stay_unique_when_the_clocks_repeat_or_skip_an_hour() {
    // Daily at 01:30 in London: on 29 March 01:30 does not exist, on
    // 25 October it happens twice. Every meeting the rule gives has an id
    // that finds it again.
    let nightly = schedule(json!({
        "time_zone": "Europe/London",
        "rrule": "FREQ=DAILY",
        "first_start": "2026-01-01T01:30"
    }));
    for (from, to) in [
        ("2026-03-27T00:00:00Z", "2026-04-01T00:00:00Z"),
        ("2026-10-23T00:00:00Z", "2026-10-28T00:00:00Z"),
    ] {
        let found = meetings_between(&nightly, utc(from), utc(to)).unwrap();
        let mut ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), found.len());
        for meeting in &found {
            assert_eq!(meeting_by_id(&nightly, &meeting.id).as_ref(), Some(meeting));
        }
    }
}
