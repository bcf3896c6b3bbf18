//! The CAB meeting schedule as a stored JSON document, and the validated
//! schedule the meeting functions read. Parsing is validating: a
//! [`CabSchedule`] becomes a [`MeetingSchedule`] only through
//! [`CabSchedule::validate`] (in `validate.rs`), whose errors name the field.

use crate::windows::MAX_SCANNED;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The recurrence when the document names none: every week on the first
/// meeting's weekday.
pub const DEFAULT_RRULE: &str = "FREQ=WEEKLY";
/// How long a meeting lasts when the document does not say.
pub const DEFAULT_DURATION_MINUTES: i64 = 60;
/// How long before the meeting a change must reach `authorize` to be on its
/// agenda, when the document does not say.
pub const DEFAULT_AGENDA_CUTOFF_HOURS: i64 = 24;
/// How long before the meeting the agenda is mailed, when the document does
/// not say.
pub const DEFAULT_AGENDA_MAIL_HOURS: i64 = 2;
/// Longest meeting accepted: one day.
pub const MAX_DURATION_MINUTES: i64 = 24 * 60;
/// Longest cut-off or mail lead accepted: thirty days.
pub const MAX_LEAD_HOURS: i64 = 30 * 24;
/// Longest title or location accepted.
pub const MAX_TEXT_FIELD: usize = 200;

/// The CAB meeting schedule document, as stored and as `GET`/`PUT` carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "time_zone": "Europe/London",
    "rrule": "FREQ=WEEKLY;BYDAY=TH",
    "first_start": "2026-01-08T14:00",
    "duration_minutes": 60,
    "agenda_cutoff_hours": 24,
    "agenda_mail_hours": 2,
    "title": "Change Advisory Board",
    "location": "Room 4.01 / https://meet.example.com/cab"
}))]
pub struct CabSchedule {
    /// IANA time zone the meetings keep their local time in; absent means
    /// the organisation's (the business calendar's).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// RFC 5545 RRULE value, at most daily, e.g. `FREQ=WEEKLY;BYDAY=TH`
    /// (default `FREQ=WEEKLY`). The time of day comes from `first_start`.
    #[serde(default = "default_rrule")]
    pub rrule: String,
    /// Local date-time of the first meeting, `YYYY-MM-DDTHH:MM`; it must be
    /// the rule's first occurrence.
    pub first_start: String,
    /// How long each meeting lasts (default 60, at most a day).
    #[serde(default = "default_duration")]
    pub duration_minutes: i64,
    /// A change must reach `authorize` at least this long before a meeting
    /// starts to be on its agenda (default 24).
    #[serde(default = "default_cutoff")]
    pub agenda_cutoff_hours: i64,
    /// The agenda is mailed this long before the meeting starts (default 2,
    /// at most the cut-off, so that the mailed agenda is final).
    #[serde(default = "default_mail")]
    pub agenda_mail_hours: i64,
    /// Where the board meets (a room, a call link).
    #[serde(default)]
    pub location: Option<String>,
    /// The meeting's title in calendars and mail.
    #[serde(default)]
    pub title: Option<String>,
}

fn default_rrule() -> String {
    DEFAULT_RRULE.to_owned()
}

fn default_duration() -> i64 {
    DEFAULT_DURATION_MINUTES
}

fn default_cutoff() -> i64 {
    DEFAULT_AGENDA_CUTOFF_HOURS
}

fn default_mail() -> i64 {
    DEFAULT_AGENDA_MAIL_HOURS
}

/// The schedule an organisation starts with: weekly on Thursdays at 14:00
/// local time in `zone`, an hour long, the defaults for cut-off and mail.
pub fn default_schedule(zone: Tz) -> CabSchedule {
    CabSchedule {
        time_zone: Some(zone.name().to_owned()),
        rrule: "FREQ=WEEKLY;BYDAY=TH".to_owned(),
        // 2026-01-01 is a Thursday.
        first_start: "2026-01-01T14:00".to_owned(),
        duration_minutes: DEFAULT_DURATION_MINUTES,
        agenda_cutoff_hours: DEFAULT_AGENDA_CUTOFF_HOURS,
        agenda_mail_hours: DEFAULT_AGENDA_MAIL_HOURS,
        location: None,
        title: None,
    }
}

/// A validated schedule: the only input the meeting functions accept.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingSchedule {
    pub(super) zone: Tz,
    pub(super) rrule: String,
    pub(super) set: crate::windows::Recurrence,
    pub(super) first_start: DateTime<Utc>,
    pub(super) duration: Duration,
    pub(super) agenda_cutoff: Duration,
    pub(super) agenda_mail_lead: Duration,
    pub(super) location: Option<String>,
    pub(super) title: Option<String>,
}

impl MeetingSchedule {
    /// The zone meetings keep their local time in (and their ids are written in).
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The RRULE value, trimmed.
    pub fn rrule(&self) -> &str {
        &self.rrule
    }

    /// The first meeting's start.
    pub fn first_start(&self) -> DateTime<Utc> {
        self.first_start
    }

    /// How long each meeting lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// How long before a meeting its agenda closes.
    pub fn agenda_cutoff(&self) -> Duration {
        self.agenda_cutoff
    }

    /// How long before a meeting its agenda is mailed.
    pub fn agenda_mail_lead(&self) -> Duration {
        self.agenda_mail_lead
    }

    /// Where the board meets, if said.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// The meeting title, if said.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Meeting starts in order from the first, at most [`MAX_SCANNED`].
    pub(super) fn starts(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.set.starts().take(MAX_SCANNED)
    }
}
