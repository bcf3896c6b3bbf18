//! `/api/schedule.ics`: the change schedule as an RFC 5545 iCalendar
//! document for calendar clients, built with the `icalendar` crate.

use super::schedule::{ScheduleData, ScheduleParams, check_range, read_schedule};
use crate::AppState;
use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use stackflow_core::{Change, ChangeState, ChangeWindow, Occurrence, WindowKind};

/// The default range, around the clock's now: 30 days back…
const DEFAULT_DAYS_BACK: i64 = 30;
/// …to 180 days ahead.
const DEFAULT_DAYS_AHEAD: i64 = 180;
/// The media type of the answer.
pub(super) const TEXT_CALENDAR: &str = "text/calendar; charset=utf-8";

/// The change schedule as iCalendar: one event per change and one per
/// window occurrence. Without `from`/`to`, 30 days back to 180 ahead.
#[utoipa::path(get, path = "/api/schedule.ics", tag = "schedule", params(ScheduleParams),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub(super) async fn get_schedule_ics(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<ScheduleParams>,
) -> ApiResult<impl IntoResponse> {
    let body = schedule_ics(&state, &params).await?;
    Ok(([(header::CONTENT_TYPE, TEXT_CALENDAR)], body))
}

/// The schedule's iCalendar text for a request's range (the default one
/// where `from` or `to` is missing): the export's and the feeds' body.
pub(super) async fn schedule_ics(state: &AppState, params: &ScheduleParams) -> ApiResult<String> {
    let now = state.clock.now();
    let from = params
        .from
        .unwrap_or(now - Duration::days(DEFAULT_DAYS_BACK));
    let to = params
        .to
        .unwrap_or(now + Duration::days(DEFAULT_DAYS_AHEAD));
    let (from, to) = check_range(from, to)?;
    let data = read_schedule(state, from, to, params.assignment_group.as_deref()).await?;
    if data.changes.truncated {
        tracing::warn!(%from, %to, "the iCalendar schedule was truncated");
    }
    Ok(render(state, &data).to_string())
}

/// The whole calendar. Every event has a fixed UID and a DTSTAMP from the
/// data (the last revision), never from the wall clock, so two exports of
/// an unchanged schedule are the same and clients update events in place.
fn render(state: &AppState, data: &ScheduleData) -> Calendar {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("PRODID", "-//StackFlow//Change schedule//EN"))
        .append_property(("VERSION", "2.0"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name("StackFlow change schedule");
    if data.changes.truncated {
        calendar.append_property(("X-STACKFLOW-TRUNCATED", "TRUE"));
    }
    for change in &data.changes.changes {
        if let Some(event) = change_event(state, change) {
            calendar.push(event);
        }
    }
    for (window, occurrences) in &data.windows {
        for occurrence in occurrences {
            calendar.push(window_event(state, window, occurrence));
        }
    }
    calendar.done()
}

/// The event of a change; `None` for one without a planned window (the
/// store returns none such).
fn change_event(state: &AppState, change: &Change) -> Option<Event> {
    let (start, end) = (change.planned_start?, change.planned_end?);
    let status = match change.state {
        ChangeState::Assess | ChangeState::Authorize => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    Some(
        Event::new()
            .uid(&format!("{}@stackflow", change.number))
            .timestamp(change.updated_at)
            .last_modified(change.updated_at)
            .starts(start)
            .ends(end)
            .summary(&format!("{} {}", change.number, change.title))
            .description(&change_description(change))
            .url(&state.link(&format!("/api/changes/{}", change.number)))
            .status(status)
            .categories([change.change_type.as_str()])
            .done(),
    )
}

/// State, risk, group, CIs and conflicts, one per line.
fn change_description(change: &Change) -> String {
    let risk = change.risk_assessment.as_ref().map_or_else(
        || "not assessed".to_owned(),
        |r| format!("{} (score {})", r.risk_level, r.automated_score),
    );
    let mut lines = vec![
        format!("State: {}", change.state),
        format!("Type: {}", change.change_type),
        format!("Risk: {risk}"),
        format!(
            "Assignment group: {}",
            change.assignment_group.as_deref().unwrap_or("none")
        ),
        format!(
            "Affected CIs: {}",
            if change.affected_cis.is_empty() {
                "none".to_owned()
            } else {
                change.affected_cis.join(", ")
            }
        ),
        format!("Conflicts: {}", change.conflicts.len()),
    ];
    lines.extend(change.conflicts.iter().map(|c| format!("- {}", c.reason)));
    lines.join("\n")
}

/// The event of one occurrence of a window.
fn window_event(state: &AppState, window: &ChangeWindow, occurrence: &Occurrence) -> Event {
    let (label, transparency) = match window.kind {
        WindowKind::Maintenance => ("Maintenance", "TRANSPARENT"),
        WindowKind::Blackout => ("Blackout", "OPAQUE"),
    };
    let applies_to = if window.scope.is_global() {
        "every CI".to_owned()
    } else {
        let names: Vec<&str> = (window.scope.cis.iter())
            .chain(&window.scope.classes)
            .map(String::as_str)
            .collect();
        names.join(", ")
    };
    let description = if window.description.is_empty() {
        format!("Applies to: {applies_to}")
    } else {
        format!("{}\nApplies to: {applies_to}", window.description)
    };
    Event::new()
        .uid(&format!(
            "window-{}-{}@stackflow",
            window.id,
            basic_utc(occurrence.start)
        ))
        .timestamp(window.created_at)
        .starts(occurrence.start)
        .ends(occurrence.end)
        .summary(&format!("{label}: {}", window.name))
        .description(&description)
        .url(&state.link(&format!("/api/windows/{}", window.id)))
        .add_property("TRANSP", transparency)
        .categories([window.kind.as_str()])
        .done()
}

/// `20261201T220000Z`: the RFC 5545 UTC form, for UIDs.
fn basic_utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}
