//! The CAB agenda mail-out: before each meeting (its `mail_at`, by default
//! two hours before it starts) the generated agenda goes to every CAB
//! member through the outbox. One `cab.agenda_mail` timer per meeting,
//! keyed by the meeting id; each one, when it has mailed its agenda, sets
//! the next meeting's. `serve` sets the first at start-up and a schedule
//! change sets the first under the new schedule in its own transaction,
//! so the chain always has a next link (requests coalesce, so setting it
//! twice is harmless). A meeting already over when its timer runs (the
//! workers were down) is not mailed: the chain moves on to the next one.

use crate::AppState;
use crate::jobs::Finished;
use crate::problem::AppError;
use chrono::{DateTime, Utc};
use serde_json::json;
use stackflow_core::cab::{agenda_text, meeting_by_id, next_to_mail};
use stackflow_core::{GroupKind, Notification};
use stackflow_store::{Job, NewJob, agenda_mail_job};

/// Event type of the agenda message.
pub const AGENDA_EVENT: &str = "cab.agenda";
/// Its topic for webhook subscribers.
pub const TOPIC_CAB: &str = "cab";

/// Sets the timer of the next meeting's agenda mail under the schedule in
/// force (nothing when the recurrence has ended).
pub async fn request_next(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now();
    let schedule = state.store.cab_schedule().await?;
    if let Some(meeting) = next_to_mail(&schedule.schedule, now) {
        state
            .store
            .request_job(&agenda_mail_job(&meeting), now)
            .await?;
    }
    Ok(())
}

/// [`request_next`], logging instead of failing: called at start-up.
pub async fn request_next_or_log(state: &AppState) {
    if let Err(error) = request_next(state).await {
        tracing::error!(error = ?error, "setting the next CAB agenda mail failed");
    }
}

/// Runs a `cab.agenda_mail` timer: builds the meeting's agenda and writes
/// it to the outbox for the CAB's members, with the next meeting's timer,
/// in the transaction that removes this one. A meeting the schedule no
/// longer has (it was changed) mails nothing and sets the next meeting
/// under the new schedule instead.
pub(crate) async fn mail_agenda(
    state: &AppState,
    job: &Job,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<Finished, String> {
    let failed = |e: AppError| format!("{e:?}");
    let schedule = state
        .store
        .cab_schedule()
        .await
        .map_err(|e| e.to_string())?;
    let meeting = meeting_by_id(&schedule.schedule, &job.key);
    let (notes, next) = match meeting {
        // Not yet due (the mail time moved later since it was set): wait.
        Some(meeting) if meeting.mail_at > now => (Vec::new(), Some(meeting)),
        // Over already (the workers were down): an agenda after the fact
        // helps nobody; go on with the next meeting to mail.
        Some(meeting) if meeting.end <= now => (Vec::new(), next_to_mail(&schedule.schedule, now)),
        Some(meeting) => {
            let (agenda, _) = crate::api::cab_agenda::read_agenda(state, &meeting)
                .await
                .map_err(failed)?;
            let directory = state.store.directory().await.map_err(|e| e.to_string())?;
            let mut members: Vec<String> = (directory.groups.iter())
                .filter(|g| g.kind == GroupKind::Cab)
                .flat_map(|g| g.members.iter().cloned())
                .collect();
            members.sort();
            members.dedup();
            let numbers: Vec<String> = (agenda.items.iter())
                .map(|item| item.number.to_string())
                .collect();
            let note = Notification {
                event: AGENDA_EVENT,
                topic: TOPIC_CAB,
                recipients: members,
                data: json!({
                    "meeting": meeting,
                    "changes": numbers,
                    "agenda": agenda_text(&agenda, state.public_url.as_deref()),
                }),
            };
            // The meeting after this one: its mail time is still ahead.
            let after = next_to_mail(&schedule.schedule, meeting.start);
            (vec![note], after)
        }
        // The schedule changed and has no such meeting: the next meeting
        // under the schedule in force.
        None => (Vec::new(), next_to_mail(&schedule.schedule, now)),
    };
    let follow_ups: Vec<NewJob> = next.iter().map(agenda_mail_job).collect();
    let finished = state
        .store
        .finish_job_with(job, worker, now, &job.key, &notes, &follow_ups)
        .await
        .map_err(|e| e.to_string())?;
    Ok(if finished {
        Finished::WithItsEffect
    } else {
        Finished::ToComplete
    })
}
