//! `/api/cab/meetings/{id}/agenda` and `agenda.ics`: a meeting's agenda,
//! generated from the changes on it, as JSON and as iCalendar.

use super::cab::meeting;
use super::schedule_ics::{fold_content_lines, one_line, text};
use crate::AppState;
use crate::extract::{ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use serde::Serialize;
use stackflow_core::cab::{
    Agenda, AgendaCandidate, AgendaItem, Meeting, MeetingSchedule, agenda_text, build_agenda,
};
use stackflow_store::{AgendaEntry, RecordedOutcome};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The media type of the iCalendar answer.
const TEXT_CALENDAR: &str = "text/calendar; charset=utf-8";

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_agenda))
        .routes(routes!(get_agenda_ics))
}

/// One agenda item with the outcome record behind it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AgendaItemView {
    #[serde(flatten)]
    item: AgendaItem,
    /// Who recorded the outcome, when, with what notes.
    recorded: Option<RecordedOutcome>,
}

/// A meeting's agenda.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AgendaView {
    /// The meeting.
    meeting: Meeting,
    /// Its items, riskiest first.
    items: Vec<AgendaItemView>,
}

/// The agenda of `meeting` and the entries it was built from.
pub(crate) async fn read_agenda(
    state: &AppState,
    meeting: &Meeting,
) -> ApiResult<(Agenda, Vec<AgendaEntry>)> {
    let entries = state.store.cab_agenda_entries(meeting).await?;
    state.impact.refresh_for_query().await;
    let radii: Vec<usize> = entries
        .iter()
        .map(|e| state.impact.count_now(&e.change.affected_cis, None))
        .collect();
    let candidates: Vec<AgendaCandidate<'_>> = entries
        .iter()
        .zip(&radii)
        .map(|(entry, radius)| AgendaCandidate {
            change: &entry.change,
            blast_radius: *radius,
            votes: &entry.votes,
            outcome: entry.recorded.as_ref().map(|r| r.outcome),
        })
        .collect();
    let agenda = build_agenda(meeting, &candidates);
    Ok((agenda, entries))
}

/// A meeting's agenda: the normal changes in `authorize` placed on it and
/// those it recorded an outcome for, riskiest first, each with its risk,
/// blast radius, window, plans, conflicts, CAB votes and outcome.
#[utoipa::path(get, path = "/api/cab/meetings/{id}/agenda", tag = "cab",
    params(("id" = String, Path, description = "Meeting id, local start `YYYY-MM-DDTHHMM`")),
    responses((status = 200, body = AgendaView), (status = 404, body = Problem)))]
async fn get_agenda(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AgendaView>> {
    let (_, meeting) = meeting(&state, &id).await?;
    let (agenda, mut entries) = read_agenda(&state, &meeting).await?;
    let items = agenda
        .items
        .into_iter()
        .map(|item| {
            let recorded = entries
                .iter_mut()
                .find(|e| e.change.number == item.number)
                .and_then(|e| e.recorded.take());
            AgendaItemView { item, recorded }
        })
        .collect();
    Ok(Json(AgendaView {
        meeting: agenda.meeting,
        items,
    }))
}

/// The meeting as an iCalendar event whose description is the agenda.
#[utoipa::path(get, path = "/api/cab/meetings/{id}/agenda.ics", tag = "cab",
    params(("id" = String, Path, description = "Meeting id, local start `YYYY-MM-DDTHHMM`")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = Problem)))]
async fn get_agenda_ics(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let (schedule, meeting) = meeting(&state, &id).await?;
    let (agenda, entries) = read_agenda(&state, &meeting).await?;
    // DTSTAMP from the data, never the wall clock: an unchanged agenda
    // exports the same bytes.
    let stamp = entries
        .iter()
        .map(|e| e.change.updated_at)
        .chain(
            entries
                .iter()
                .filter_map(|e| e.recorded.as_ref().map(|r| r.recorded_at)),
        )
        .fold(meeting.cutoff, DateTime::<Utc>::max);
    let body = fold_content_lines(&render(&state, &schedule.schedule, &agenda, stamp).to_string());
    Ok(([(header::CONTENT_TYPE, TEXT_CALENDAR)], body))
}

fn render(
    state: &AppState,
    schedule: &MeetingSchedule,
    agenda: &Agenda,
    stamp: DateTime<Utc>,
) -> Calendar {
    let meeting = &agenda.meeting;
    let title = schedule.title().unwrap_or("Change Advisory Board");
    let mut event = Event::new();
    event
        .uid(&format!("cab-{}@{}", meeting.id, state.uid_domain()))
        .timestamp(stamp)
        .last_modified(stamp)
        .starts(meeting.start)
        .ends(meeting.end)
        .summary(&one_line(&format!("{title} {}", meeting.id)))
        .description(&text(&agenda_text(agenda, state.public_url.as_deref())))
        .url(&state.link(&format!("/api/cab/meetings/{}/agenda", meeting.id)))
        .status(EventStatus::Confirmed);
    if let Some(location) = schedule.location() {
        event.location(&one_line(location));
    }
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("PRODID", "-//StackFlow//CAB agenda//EN"))
        .append_property(("VERSION", "2.0"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .push(event.done());
    calendar.done()
}
