//! The job worker: runs the durable jobs of the store's job table (see
//! `docs/jobs.md`). Every `serve` instance runs one; the store hands each
//! due job to one worker at a time under a lease, so several instances on
//! one PostgreSQL database share the work without running a job twice
//! at once. Tests call [`run_due`] to drain the jobs at the test clock's
//! time instead of waiting for the worker.

use crate::AppState;
use crate::problem::AppError;
use chrono::{DateTime, Duration, Utc};
use stackflow_core::ChangeNumber;
use stackflow_store::{Job, JobKind, TimerOutcome};
use std::time::Duration as StdDuration;

/// How long a claimed job is held before another worker may take it over;
/// far longer than any job runs, so only a dead worker's jobs move.
const LEASE: Duration = Duration::minutes(5);

/// How often `serve`'s worker looks for due jobs: a reassessment requested
/// by a write runs within about this long, a timer this long after it is
/// due.
pub const POLL_INTERVAL: StdDuration = StdDuration::from_secs(1);

/// Jobs claimed at once.
const BATCH: u32 = 50;

/// Longest wait before a failed job is retried.
const MAX_BACKOFF_SECONDS: i64 = 3_600;

/// When a job that failed on its `attempts`-th run is tried again:
/// 2, 4, 8 … seconds, at most an hour.
pub fn retry_at(now: DateTime<Utc>, attempts: i32) -> DateTime<Utc> {
    let exponent = u32::try_from(attempts.clamp(1, 12)).unwrap_or(12);
    now + Duration::seconds((1_i64 << exponent).min(MAX_BACKOFF_SECONDS))
}

/// A name for this worker in the job table, unique per process.
pub fn worker_name() -> String {
    format!("worker-{}", uuid::Uuid::now_v7())
}

/// Runs every job due at the clock's time, batch after batch, until none
/// is left; returns how many ran (failed ones included). A failure is
/// recorded on the job and retried later with backoff; it never stops the
/// others.
pub async fn run_due(state: &AppState, worker: &str) -> Result<usize, AppError> {
    let mut ran = 0;
    loop {
        match run_due_batch(state, worker).await? {
            0 => return Ok(ran),
            batch => ran += batch,
        }
    }
}

/// Claims one batch of the jobs due at the clock's time and runs it;
/// returns how many ran. Jobs the batch requests run in a later batch, so
/// a test can tell work that settles from work that requests itself again.
pub async fn run_due_batch(state: &AppState, worker: &str) -> Result<usize, AppError> {
    let now = state.clock.now();
    let jobs = state.store.claim_jobs(worker, now, LEASE, BATCH).await?;
    let ran = jobs.len();
    for job in jobs {
        match run_one(state, &job, worker, now).await {
            // It left the table with its effect, in one transaction.
            Ok(Finished::WithItsEffect) => {}
            Ok(Finished::ToComplete) => {
                if !state.store.complete_job(&job, worker).await? {
                    tracing::warn!(job = job.id, "a job's lease ran out while it ran");
                }
            }
            Err(message) => {
                tracing::error!(job = job.id, key = %job.key, error = %message, "job failed");
                let retry = retry_at(state.clock.now(), job.attempts);
                state.store.fail_job(&job, worker, &message, retry).await?;
            }
        }
    }
    Ok(ran)
}

/// How a job that ran ends.
pub(crate) enum Finished {
    /// The job was removed in the transaction that wrote what it did
    /// (timers, the agenda mail): nothing left to do.
    WithItsEffect,
    /// The worker completes it now (a follow-up whose effect has its own
    /// transaction, or a job this worker no longer held as claimed).
    ToComplete,
}

/// Does one job's work; the error is kept on the job.
async fn run_one(
    state: &AppState,
    job: &Job,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<Finished, String> {
    match &job.kind {
        Ok(JobKind::RiskReassess) => {
            let number: ChangeNumber = job
                .key
                .parse()
                .map_err(|e: String| format!("bad change number: {e}"))?;
            crate::risk::reassess_number(state, number, now)
                .await
                .map_err(|e| format!("{e:?}"))?;
            Ok(Finished::ToComplete)
        }
        Ok(JobKind::ApprovalSla | JobKind::ReviewOverdue) => {
            match state.store.fire_timer(job, worker, now).await {
                Ok(TimerOutcome::Fired(_)) => Ok(Finished::WithItsEffect),
                Ok(TimerOutcome::NotHeld) => Ok(Finished::ToComplete),
                Err(error) => Err(error.to_string()),
            }
        }
        Ok(JobKind::CabAgendaMail) => crate::cab_mail::mail_agenda(state, job, worker, now).await,
        Err(unknown) => Err(format!("kind `{unknown}` is not known to this version")),
    }
}

/// Polls for due jobs every `interval` until the task is dropped, logging
/// (not stopping on) store errors.
pub fn spawn_worker(state: AppState, interval: StdDuration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let worker = worker_name();
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = run_due(&state, &worker).await {
                tracing::error!(error = ?error, "running due jobs failed");
            }
        }
    })
}
