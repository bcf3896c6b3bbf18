//! The Change Advisory Board's meetings, agendas and outcomes.
//!
//! CAB meetings recur by an RFC 5545 rule in one IANA time zone
//! ([`CabSchedule`], validated into a [`MeetingSchedule`]); each meeting has
//! an agenda cut-off and a mail time before it ([`Meeting`]). A normal
//! change that reaches `authorize` goes on the first meeting whose cut-off it
//! makes ([`next_meeting_for`]). The agenda is always generated from the
//! changes ([`build_agenda`]), never kept by hand, and renders as plain text
//! for mail and iCalendar ([`agenda_text`]). The meeting's decision on an
//! item is a value ([`decide_outcome`]) that the lifecycle wiring applies.
//!
//! Pure: every instant ("now", "reached authorize at") is a parameter.

mod agenda;
mod meetings;
mod outcome;
mod schedule;
mod text;
mod validate;

pub use agenda::{Agenda, AgendaCandidate, AgendaItem, AgendaVote, build_agenda, cab_stage_index};
pub use meetings::{
    MAX_RANGE_DAYS, Meeting, meeting_after, meeting_by_id, meeting_id, meetings_between,
    next_meeting_for, next_to_mail, parse_meeting_id,
};
pub use outcome::{CabOutcome, OutcomeEffect, decide_outcome};
pub use schedule::{
    CabSchedule, DEFAULT_AGENDA_CUTOFF_HOURS, DEFAULT_AGENDA_MAIL_HOURS, DEFAULT_DURATION_MINUTES,
    DEFAULT_RRULE, MAX_DURATION_MINUTES, MAX_LEAD_HOURS, MAX_TEXT_FIELD, MeetingSchedule,
    default_schedule,
};
pub use text::{PLAN_PREVIEW_CHARS, PLAN_PREVIEW_LINES, agenda_text};
