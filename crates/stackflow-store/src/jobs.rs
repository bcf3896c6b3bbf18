//! Durable background work, as the store keeps it: the kinds of job, a job
//! as claimed, and a request for one. The worker that runs them lives in
//! the web crate (`stackflow_web::jobs`); see `docs/jobs.md`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a job does. Stored by name, so a name this version does not know
/// (written by a newer one sharing the database) is reported, not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Reassess the risk of a change awaiting approval whose conflicts
    /// were flagged or cleared by another change's write.
    RiskReassess,
    /// A timer at an approval round's due time: escalates the breach if
    /// the round is still open.
    ApprovalSla,
    /// A timer at a post-implementation review's due time: escalates it
    /// if it is still not recorded.
    ReviewOverdue,
    /// A timer before each CAB meeting: mails its agenda to the CAB, then
    /// sets itself for the next meeting.
    CabAgendaMail,
}

impl JobKind {
    /// Every kind, for listing.
    pub const ALL: [JobKind; 4] = [
        JobKind::RiskReassess,
        JobKind::ApprovalSla,
        JobKind::ReviewOverdue,
        JobKind::CabAgendaMail,
    ];

    /// Timers act on a change and leave with their effect, in one
    /// transaction (`JobStore::fire_timer`); the others are follow-ups
    /// the worker completes after running them.
    pub fn is_timer(self) -> bool {
        matches!(self, JobKind::ApprovalSla | JobKind::ReviewOverdue)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::RiskReassess => "risk.reassess",
            JobKind::ApprovalSla => "approval.sla",
            JobKind::ReviewOverdue => "review.overdue",
            JobKind::CabAgendaMail => "cab.agenda_mail",
        }
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| format!("unknown job kind `{name}`"))
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for background work, written with the business write that
/// implies it. One job is pending per kind and key: a second request for
/// the same pair coalesces with the first (see `JobStore::request_job`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do.
    pub kind: JobKind,
    /// Whom it is about, e.g. a change number.
    pub key: String,
    /// Whatever else the job needs.
    pub payload: serde_json::Value,
    /// Not before this instant.
    pub run_at: DateTime<Utc>,
}

impl NewJob {
    /// A job with an empty payload.
    pub fn new(kind: JobKind, key: impl Into<String>, run_at: DateTime<Utc>) -> Self {
        NewJob {
            kind,
            key: key.into(),
            payload: serde_json::Value::Null,
            run_at,
        }
    }
}

/// The agenda mail-out timer of a CAB meeting, at its `mail_at`.
pub fn agenda_mail_job(meeting: &stackflow_core::cab::Meeting) -> NewJob {
    NewJob {
        kind: JobKind::CabAgendaMail,
        key: meeting.id.clone(),
        payload: serde_json::json!({"meeting": meeting.id}),
        run_at: meeting.mail_at,
    }
}

/// A job as stored, or as claimed by a worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// What to do; the stored name when this version does not know it.
    pub kind: Result<JobKind, String>,
    /// Whom it is about.
    pub key: String,
    /// Whatever else the job needs.
    pub payload: serde_json::Value,
    /// When it is (or was) due.
    pub run_at: DateTime<Utc>,
    /// How often it was requested again; a worker completes only the
    /// generation it ran.
    pub generation: i64,
    /// Runs started so far, this one included.
    pub attempts: i32,
    /// Why the last run failed.
    pub last_error: Option<String>,
    /// The worker holding it, while leased.
    pub locked_by: Option<String>,
    /// Until when it is leased.
    pub locked_until: Option<DateTime<Utc>>,
}

/// What firing a timer came to.
#[derive(Debug, Clone, PartialEq)]
pub enum TimerOutcome {
    /// The timer ran and is gone, with its escalation (the change as
    /// escalated) or without one (nothing was due any more).
    Fired(Option<Box<stackflow_core::Change>>),
    /// This worker no longer held the timer as it was claimed (its lease
    /// ran out, or it was requested again): nothing was done, and the
    /// worker completes it as any other job.
    NotHeld,
}
