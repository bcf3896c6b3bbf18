//! Meetings from the schedule's recurrence, and their ids.
//!
//! A meeting id is the meeting's local start in the schedule's zone written
//! `YYYY-MM-DDTHHMM` (e.g. `2026-12-03T1400`): readable by the board, safe
//! in a URL path, and stable while the schedule is. The recurrence never
//! gives two meetings on one local minute (the rule is at most daily and
//! takes its time of day from the first meeting), so the id is unique.

use super::schedule::MeetingSchedule;
use crate::errors::Refusal;
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The widest range [`meetings_between`] expands.
pub const MAX_RANGE_DAYS: i64 = 400;
/// How meeting ids are written (a `chrono` format).
const ID_FORMAT: &str = "%Y-%m-%dT%H%M";

/// One CAB meeting: when it runs, when its agenda closes and is mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "2026-12-03T1400",
    "start": "2026-12-03T14:00:00Z",
    "end": "2026-12-03T15:00:00Z",
    "cutoff": "2026-12-02T14:00:00Z",
    "mail_at": "2026-12-03T12:00:00Z"
}))]
pub struct Meeting {
    /// Local start in the schedule's zone, `YYYY-MM-DDTHHMM`.
    pub id: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Agenda cut-off: a change must reach `authorize` by then to be on it.
    pub cutoff: DateTime<Utc>,
    /// When the agenda is mailed to the board.
    pub mail_at: DateTime<Utc>,
}

impl Meeting {
    /// The meeting starting at `start` under `schedule` (not checked
    /// against the recurrence: callers pass starts it gave).
    fn at(schedule: &MeetingSchedule, start: DateTime<Utc>) -> Self {
        Meeting {
            id: meeting_id(schedule, start),
            start,
            end: start + schedule.duration(),
            cutoff: start - schedule.agenda_cutoff(),
            mail_at: start - schedule.agenda_mail_lead(),
        }
    }
}

/// The id of a meeting starting at `start`: its local start in the
/// schedule's zone, `YYYY-MM-DDTHHMM`.
pub fn meeting_id(schedule: &MeetingSchedule, start: DateTime<Utc>) -> String {
    start
        .with_timezone(&schedule.zone())
        .format(ID_FORMAT)
        .to_string()
}

/// The local start a meeting id names, if it is a well-formed id (exactly
/// `YYYY-MM-DDTHHMM`, zero-padded).
pub fn parse_meeting_id(id: &str) -> Option<NaiveDateTime> {
    let local = NaiveDateTime::parse_from_str(id, ID_FORMAT).ok()?;
    // chrono accepts unpadded numbers; only the canonical spelling is an id.
    (local.format(ID_FORMAT).to_string() == id).then_some(local)
}

/// Every meeting starting in `[from, to)`, in order. Refused when `to` is
/// before `from` or the range is wider than [`MAX_RANGE_DAYS`].
pub fn meetings_between(
    schedule: &MeetingSchedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Meeting>, Refusal> {
    if to < from {
        return Err(Refusal::invalid("to", "must not be before from"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(Refusal::invalid(
            "to",
            format!("at most {MAX_RANGE_DAYS} days after from"),
        ));
    }
    Ok(schedule
        .starts()
        .skip_while(|start| *start < from)
        .take_while(|start| *start < to)
        .map(|start| Meeting::at(schedule, start))
        .collect())
}

/// The first meeting whose agenda is not yet due to be mailed at `now`
/// (its `mail_at` is now or later), looking a year ahead: the next link of
/// the agenda mail-out.
pub fn next_to_mail(schedule: &MeetingSchedule, now: DateTime<Utc>) -> Option<Meeting> {
    schedule
        .starts()
        .map(|start| Meeting::at(schedule, start))
        .skip_while(|meeting| meeting.mail_at < now)
        .take_while(|meeting| meeting.start < now + Duration::days(366))
        .next()
}

/// The meeting an id names, if the recurrence gives a meeting there.
pub fn meeting_by_id(schedule: &MeetingSchedule, id: &str) -> Option<Meeting> {
    let local = parse_meeting_id(id)?;
    // A local time the clocks repeat has two instants, a skipped one none.
    let instants = schedule.zone().from_local_datetime(&local);
    let earliest = instants.earliest()?.with_timezone(&Utc);
    let latest = instants.latest()?.with_timezone(&Utc);
    schedule
        .starts()
        .skip_while(|start| *start < earliest)
        .take_while(|start| *start <= latest)
        .find(|start| meeting_id(schedule, *start) == id)
        .map(|start| Meeting::at(schedule, start))
}

/// The meeting a change that reached `authorize` at `reached_authorize_at`
/// goes on: the first whose agenda cut-off is at or after that instant
/// (none once the recurrence has ended).
pub fn next_meeting_for(
    schedule: &MeetingSchedule,
    reached_authorize_at: DateTime<Utc>,
) -> Option<Meeting> {
    // Past the end of time there is no meeting (rather than a panic).
    let earliest_start = reached_authorize_at.checked_add_signed(schedule.agenda_cutoff())?;
    first_meeting(schedule, |start| start >= earliest_start)
}

/// The meeting after `meeting`, where a deferred item goes.
pub fn meeting_after(schedule: &MeetingSchedule, meeting: &Meeting) -> Option<Meeting> {
    first_meeting(schedule, |start| start > meeting.start)
}

/// The first meeting whose start satisfies `wanted` (a predicate that,
/// once true, stays true for later starts).
fn first_meeting(
    schedule: &MeetingSchedule,
    wanted: impl Fn(DateTime<Utc>) -> bool,
) -> Option<Meeting> {
    schedule
        .starts()
        .find(|start| wanted(*start))
        .map(|start| Meeting::at(schedule, start))
}
