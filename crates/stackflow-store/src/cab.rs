//! The CAB's storage: the meeting schedule document, agenda candidates and
//! the outcomes meetings record (see `docs/cab.md`).

use crate::{Caller, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use stackflow_core::cab::{CabOutcome, CabSchedule, Meeting, MeetingSchedule};
use stackflow_core::{Change, ChangeNumber, Vote};

/// The CAB schedule in force: the document and what it validates into.
#[derive(Debug, Clone)]
pub struct CabScheduleState {
    /// The document as stored, or the default one.
    pub document: CabSchedule,
    /// The validated schedule the meeting functions read.
    pub schedule: MeetingSchedule,
    /// Whether no document is stored and the default applies.
    pub is_default: bool,
}

/// An outcome a meeting recorded for one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecordedOutcome {
    /// Approved, rejected or deferred.
    pub outcome: CabOutcome,
    /// The board's notes.
    pub notes: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// One change that belongs on a meeting's agenda, with what the agenda shows.
#[derive(Debug, Clone)]
pub struct AgendaEntry {
    /// The change as it is now.
    pub change: Change,
    /// Its votes of the current approval round.
    pub votes: Vec<Vote>,
    /// The latest outcome the meeting recorded for it, if any.
    pub recorded: Option<RecordedOutcome>,
}

/// One item of an outcomes request.
#[derive(Debug, Clone)]
pub struct OutcomeItem {
    /// The change decided.
    pub change: ChangeNumber,
    /// The decision.
    pub outcome: CabOutcome,
    /// The board's notes.
    pub notes: String,
}

/// The CAB schedule, agendas and outcomes.
#[async_trait]
pub trait CabStore: Send + Sync {
    /// The schedule in force: the stored document, or the default (weekly,
    /// Thursday 14:00 in the business calendar's zone).
    async fn cab_schedule(&self) -> Result<CabScheduleState>;
    /// Validates (in the business calendar's zone) and replaces the schedule
    /// (admins and change managers), audited `cab.schedule_updated`.
    async fn put_cab_schedule(
        &self,
        by: &Caller,
        document: CabSchedule,
    ) -> Result<CabScheduleState>;
    /// The changes on `meeting`'s agenda: normal changes in `authorize`
    /// placed on it, and every change it recorded an outcome for.
    async fn cab_agenda_entries(&self, meeting: &Meeting) -> Result<Vec<AgendaEntry>>;
    /// For meetings starting in `[from, to)`: (meeting start, change) for
    /// each change placed on a meeting or decided by one, for item counts.
    async fn cab_placements(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, ChangeNumber)>>;
    /// Records `meeting`'s outcomes, each applied through the lifecycle
    /// (change managers and admins), all or nothing in one transaction.
    async fn record_cab_outcomes(
        &self,
        by: &Caller,
        meeting: &Meeting,
        items: Vec<OutcomeItem>,
    ) -> Result<Vec<Change>>;
}
