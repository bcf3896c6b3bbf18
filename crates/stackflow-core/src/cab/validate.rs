//! Validation of the schedule document: every bad field is named, and
//! only a valid document becomes a [`MeetingSchedule`].

use super::schedule::{
    CabSchedule, MAX_DURATION_MINUTES, MAX_LEAD_HOURS, MAX_TEXT_FIELD, MeetingSchedule,
};
use crate::change::{MAX_YEAR, MIN_YEAR};
use crate::errors::{FieldError, Refusal};
use crate::windows::{MAX_SCANNED, rule_set};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A valid schedule has a meeting starting within this many days of "now".
const HORIZON_DAYS: i64 = 366;
/// The local date-time forms `first_start` accepts.
const LOCAL_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"];

impl CabSchedule {
    /// Checks every field and builds the schedule, or lists every bad field.
    /// `organisation_zone` stands in for an absent `time_zone`; `now` is
    /// when the schedule is saved (it must give a meeting within a year).
    pub fn validate(
        &self,
        organisation_zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<MeetingSchedule, Refusal> {
        let mut errors = Vec::new();
        let zone = self.zone(organisation_zone, &mut errors);
        let first_local = parse_local(&self.first_start, &mut errors);
        let duration = bounded(
            "duration_minutes",
            self.duration_minutes,
            1,
            MAX_DURATION_MINUTES,
            &mut errors,
        );
        let cutoff = bounded(
            "agenda_cutoff_hours",
            self.agenda_cutoff_hours,
            0,
            MAX_LEAD_HOURS,
            &mut errors,
        );
        let mail = bounded(
            "agenda_mail_hours",
            self.agenda_mail_hours,
            0,
            MAX_LEAD_HOURS,
            &mut errors,
        );
        if let (Some(cutoff), Some(mail)) = (cutoff, mail)
            && mail > cutoff
        {
            errors.push(FieldError::new(
                "agenda_mail_hours",
                "must be at most agenda_cutoff_hours: the agenda is mailed once it is final",
            ));
        }
        let location = text_field("location", self.location.as_deref(), &mut errors);
        let title = text_field("title", self.title.as_deref(), &mut errors);
        let rrule = self.rrule.trim().to_owned();
        let rule_ok = check_rule_text(&rrule, &mut errors);
        let (Some(zone), Some(first_local)) = (zone, first_local) else {
            return Err(Refusal::Invalid(errors));
        };
        let Some(first_start) = zone
            .from_local_datetime(&first_local)
            .earliest()
            .map(|at| at.with_timezone(&Utc))
        else {
            errors.push(FieldError::new(
                "first_start",
                format!("{first_local} does not exist in {zone}: the clocks skip it"),
            ));
            return Err(Refusal::Invalid(errors));
        };
        let set = if rule_ok {
            recurrence(&rrule, zone, first_start, now, &mut errors)
        } else {
            None
        };
        match (set, duration, cutoff, mail) {
            (Some(set), Some(duration), Some(cutoff), Some(mail)) if errors.is_empty() => {
                Ok(MeetingSchedule {
                    zone,
                    rrule,
                    set,
                    first_start,
                    duration: Duration::minutes(duration),
                    agenda_cutoff: Duration::hours(cutoff),
                    agenda_mail_lead: Duration::hours(mail),
                    location,
                    title,
                })
            }
            _ => Err(Refusal::Invalid(errors)),
        }
    }

    fn zone(&self, organisation_zone: Tz, errors: &mut Vec<FieldError>) -> Option<Tz> {
        let Some(name) = &self.time_zone else {
            return Some(organisation_zone);
        };
        let parsed = name.parse::<Tz>().ok();
        if parsed.is_none() {
            errors.push(FieldError::new(
                "time_zone",
                format!(
                    "unknown time zone `{name}`: use an IANA name such as `Europe/London` or `UTC`"
                ),
            ));
        }
        parsed
    }
}

/// A local date-time to the minute, in the supported years.
fn parse_local(text: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDateTime> {
    let parsed = LOCAL_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text.trim(), format).ok());
    let message = match parsed {
        None => "a local date-time such as `2026-01-08T14:00`".to_owned(),
        Some(at) if at.second() != 0 => "whole minutes only (meetings start on a minute)".into(),
        Some(at) if !(MIN_YEAR..=MAX_YEAR).contains(&at.year()) => {
            format!("must be between the years {MIN_YEAR} and {MAX_YEAR}")
        }
        Some(at) => return Some(at),
    };
    errors.push(FieldError::new("first_start", message));
    None
}

/// `value` if it lies in `min..=max`, else an error on `field`.
fn bounded(
    field: &str,
    value: i64,
    min: i64,
    max: i64,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    if (min..=max).contains(&value) {
        Some(value)
    } else {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
        None
    }
}

/// An optional one-line text, trimmed; blank counts as absent.
fn text_field(field: &str, text: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    if text.chars().count() > MAX_TEXT_FIELD {
        errors.push(FieldError::new(
            field,
            format!("at most {MAX_TEXT_FIELD} characters"),
        ));
    } else if text.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "one line, no control characters"));
    }
    Some(text.to_owned())
}

/// Checks what can be checked of the rule without a start: one line,
/// parseable, at most daily, and no time-of-day parts (the time comes from
/// `first_start`, so a meeting never repeats within a day).
fn check_rule_text(rule: &str, errors: &mut Vec<FieldError>) -> bool {
    let before = errors.len();
    let invalid = |message: String| FieldError::new("rrule", message);
    if rule.is_empty() || rule.contains(['\n', '\r']) {
        errors.push(invalid(
            "an RRULE value such as `FREQ=WEEKLY;BYDAY=TH`, on one line".into(),
        ));
        return false;
    }
    match rule.parse::<rrule::RRule<rrule::Unvalidated>>() {
        Err(e) => errors.push(invalid(format!("not a valid RRULE: {e}"))),
        Ok(parsed) => {
            if matches!(
                parsed.get_freq(),
                rrule::Frequency::Hourly | rrule::Frequency::Minutely | rrule::Frequency::Secondly
            ) {
                errors.push(invalid(
                    "the CAB meets at most daily (FREQ=DAILY or less often)".into(),
                ));
            }
            let has_time_parts = !parsed.get_by_hour().is_empty()
                || !parsed.get_by_minute().is_empty()
                || !parsed.get_by_second().is_empty();
            if has_time_parts {
                errors.push(invalid(
                    "no BYHOUR, BYMINUTE or BYSECOND: the time of day comes from first_start"
                        .into(),
                ));
            }
        }
    }
    errors.len() == before
}

/// Builds the recurrence from the first start and checks it starts there
/// and gives a meeting within a year of `now`.
fn recurrence(
    rule: &str,
    zone: Tz,
    first_start: DateTime<Utc>,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<crate::windows::Recurrence> {
    let set = match rule_set(rule, zone.name(), first_start) {
        Ok(set) => set,
        Err(e) => {
            errors.push(FieldError::new("rrule", format!("not a valid RRULE: {e}")));
            return None;
        }
    };
    let mut starts = set.starts().take(MAX_SCANNED);
    // RFC 5545 leaves a DTSTART the rule does not produce undefined; the
    // first meeting must be one the rule gives.
    match starts.next() {
        None => {
            errors.push(FieldError::new("rrule", "the rule gives no meeting"));
            return None;
        }
        Some(first) if first != first_start => {
            errors.push(FieldError::new(
                "first_start",
                format!(
                    "must be the rule's first occurrence; the rule first gives {}",
                    first.with_timezone(&zone).format("%Y-%m-%dT%H:%M")
                ),
            ));
            return None;
        }
        Some(_) => {}
    }
    let horizon = now
        .checked_add_signed(Duration::days(HORIZON_DAYS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if first_start >= horizon {
        errors.push(FieldError::new(
            "first_start",
            "the first meeting must be within a year from now",
        ));
        return None;
    }
    let next = std::iter::once(first_start)
        .chain(starts)
        .find(|start| *start >= now);
    if next.is_none_or(|start| start >= horizon) {
        errors.push(FieldError::new(
            "rrule",
            "the rule gives no meeting in the coming year (has its COUNT or UNTIL run out?)",
        ));
        return None;
    }
    Some(set)
}
