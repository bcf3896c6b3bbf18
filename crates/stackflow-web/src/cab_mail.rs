//! The CAB agenda mail-out: before each meeting (its `mail_at`, by default
//! two hours before it starts) the generated agenda goes to every CAB
//! member through the outbox. One `cab.agenda_mail` timer per meeting,
//! keyed by the meeting id; each one, when it has mailed its agenda, sets
//! the next meeting's. `serve` sets the first at start-up and a schedule
//! change sets the first under the new schedule, so the chain always has
//! a next link (requests coalesce, so setting it twice is harmless).

use crate::AppState;
use crate::jobs::Finished;
use crate::problem::AppError;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use stackflow_core::cab::{
    Meeting, MeetingSchedule, agenda_text, meeting_after, meeting_by_id, meetings_between,
};
use stackflow_core::{GroupKind, Notification};
use stackflow_store::{Job, JobKind, NewJob};

/// Event type of the agenda message.
pub const AGENDA_EVENT: &str = "cab.agenda";
/// Its topic for webhook subscribers.
pub const TOPIC_CAB: &str = "cab";

/// How far ahead the next meeting to mail is looked for.
const LOOKAHEAD_DAYS: i64 = 366;

/// The agenda mail-out timer of `meeting`.
fn mail_job(meeting: &Meeting) -> NewJob {
    NewJob {
        kind: JobKind::CabAgendaMail,
        key: meeting.id.clone(),
        payload: json!({"meeting": meeting.id}),
        run_at: meeting.mail_at,
    }
}

/// The first meeting whose agenda is not yet due to be mailed at `now`.
fn next_to_mail(schedule: &MeetingSchedule, now: DateTime<Utc>) -> Option<Meeting> {
    meetings_between(schedule, now, now + Duration::days(LOOKAHEAD_DAYS))
        .ok()?
        .into_iter()
        .find(|meeting| meeting.mail_at >= now)
}

/// Sets the timer of the next meeting's agenda mail under the schedule in
/// force (nothing when the recurrence has ended).
pub async fn request_next(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now();
    let schedule = state.store.cab_schedule().await?;
    if let Some(meeting) = next_to_mail(&schedule.schedule, now) {
        state.store.request_job(&mail_job(&meeting), now).await?;
    }
    Ok(())
}

/// [`request_next`], logging instead of failing: called after writes that
/// have already succeeded, and at start-up.
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
    let (notes, next) = match meeting_by_id(&schedule.schedule, &job.key) {
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
            (vec![note], meeting_after(&schedule.schedule, &meeting))
        }
        None => (Vec::new(), next_to_mail(&schedule.schedule, now)),
    };
    let follow_ups: Vec<NewJob> = next.iter().map(mail_job).collect();
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
