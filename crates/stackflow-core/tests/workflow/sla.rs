//! Approval due times, computed by hand.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::{America, Europe};
use stackflow_core::ChangeType;
use stackflow_core::business_calendar::{BusinessCalendar, Holiday};
use stackflow_core::workflow::{Sla, approval_due_at};

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

/// Office hours in Berlin with Easter Monday 2026 off.
fn berlin() -> BusinessCalendar {
    let mut calendar = BusinessCalendar::office_hours(Europe::Berlin);
    calendar.holidays.push(Holiday {
        date: NaiveDate::from_ymd_opt(2026, 4, 6).unwrap(),
        name: "Easter Monday".into(),
        yearly: false,
    });
    calendar
}

#[test]
fn five_business_days_from_a_thursday_afternoon_skip_the_weekend_and_the_holiday() {
    // Thursday 2 April 2026 15:00 Berlin (CEST, UTC+2). Working days after
    // it: Fri 3, (weekend), (Easter Monday), Tue 7, Wed 8, Thu 9, Fri 10.
    let requested = utc("2026-04-02T13:00:00Z");
    let due = utc("2026-04-10T13:00:00Z");
    let calendar = berlin();
    assert_eq!(
        approval_due_at(
            Some(Sla::BusinessDays(5)),
            ChangeType::Normal,
            requested,
            &calendar
        ),
        due
    );
    // The default for a normal change is the same.
    assert_eq!(
        approval_due_at(None, ChangeType::Normal, requested, &calendar),
        due
    );
}

#[test]
fn two_wall_clock_hours_are_two_real_hours_across_a_dst_change() {
    // Sunday 29 March 2026, 01:30 CET in Berlin; the clocks jump from 02:00
    // to 03:00, so two hours later it is 04:30 CEST — 02:30 UTC.
    let requested = utc("2026-03-29T00:30:00Z");
    let due = approval_due_at(None, ChangeType::Emergency, requested, &berlin());
    assert_eq!(due, utc("2026-03-29T02:30:00Z"));
    assert_eq!(
        due.with_timezone(&Europe::Berlin)
            .format("%H:%M")
            .to_string(),
        "04:30"
    );
    assert_eq!(
        approval_due_at(
            Some(Sla::Minutes(90)),
            ChangeType::Emergency,
            requested,
            &berlin()
        ),
        utc("2026-03-29T02:00:00Z")
    );
}

#[test]
fn business_hours_continue_on_the_next_working_day() {
    // Friday 10 April 15:00 Berlin: two hours to 17:00, then Monday 13
    // April 09:00 + 2 h = 11:00 CEST, 09:00 UTC.
    let requested = utc("2026-04-10T13:00:00Z");
    assert_eq!(
        approval_due_at(
            Some(Sla::BusinessHours(4)),
            ChangeType::Normal,
            requested,
            &berlin()
        ),
        utc("2026-04-13T09:00:00Z")
    );
    // New York, Friday 3 April 16:00 EDT (20:00 UTC): Good Friday is not a
    // holiday there: one hour Friday, seven Monday to 16:00 EDT.
    let new_york = BusinessCalendar::office_hours(America::New_York);
    assert_eq!(
        approval_due_at(
            Some(Sla::BusinessHours(8)),
            ChangeType::Normal,
            utc("2026-04-03T20:00:00Z"),
            &new_york
        ),
        utc("2026-04-06T20:00:00Z")
    );
}

#[test]
fn a_calendar_without_working_time_still_gives_a_due_time() {
    let mut never = berlin();
    never.working_days = [false; 7];
    let requested = utc("2026-04-02T13:00:00Z");
    assert_eq!(
        approval_due_at(
            Some(Sla::BusinessHours(3)),
            ChangeType::Normal,
            requested,
            &never
        ),
        utc("2026-04-02T16:00:00Z")
    );
    assert_eq!(
        approval_due_at(
            Some(Sla::BusinessDays(1)),
            ChangeType::Normal,
            requested,
            &never
        ),
        utc("2026-04-03T13:00:00Z")
    );
}
