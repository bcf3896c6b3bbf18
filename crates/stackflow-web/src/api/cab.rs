//! `/api/cab/schedule` and `/api/cab/meetings`: the CAB meeting schedule
//! document and the meetings its recurrence gives (see `docs/cab.md`).

use crate::AppState;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use stackflow_core::cab::{CabSchedule, Meeting, meeting_by_id, meetings_between};
use stackflow_store::CabScheduleState;
use std::collections::{HashMap, HashSet};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Meetings listed without `to`: this many days after `from`.
const DEFAULT_DAYS_AHEAD: i64 = 90;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_cab_schedule, put_cab_schedule))
        .routes(routes!(list_meetings))
        .merge(super::cab_agenda::routes())
        .merge(super::cab_outcomes::routes())
}

/// The schedule in force and the meeting `id` names, or 404 when its
/// recurrence gives no meeting there.
pub(super) async fn meeting(state: &AppState, id: &str) -> ApiResult<(CabScheduleState, Meeting)> {
    let schedule = state.store.cab_schedule().await?;
    let meeting = meeting_by_id(&schedule.schedule, id)
        .ok_or_else(|| AppError::not_found(format!("CAB meeting {id} not found")))?;
    Ok((schedule, meeting))
}

/// The CAB meeting schedule; weekly on Thursdays at 14:00 in the business
/// calendar's zone until one is set.
#[utoipa::path(get, path = "/api/cab/schedule", tag = "cab",
    responses((status = 200, body = CabSchedule)))]
async fn get_cab_schedule(
    State(state): State<AppState>,
    Auth(_caller): Auth,
) -> ApiResult<Json<CabSchedule>> {
    Ok(Json(state.store.cab_schedule().await?.document))
}

/// Replaces the CAB meeting schedule (admins and change managers).
/// Changes already placed keep their `cab_date`.
#[utoipa::path(put, path = "/api/cab/schedule", tag = "cab", request_body = CabSchedule,
    responses((status = 200, body = CabSchedule), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn put_cab_schedule(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(document): ApiJson<CabSchedule>,
) -> ApiResult<Json<CabSchedule>> {
    let saved = state.store.put_cab_schedule(&caller, document).await?;
    Ok(Json(saved.document))
}

/// The range of meetings to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct MeetingParams {
    /// Meetings starting at or after this instant (default: now).
    from: Option<DateTime<Utc>>,
    /// …and before this one (default: 90 days after `from`; at most 400).
    to: Option<DateTime<Utc>>,
}

/// A meeting with the number of changes on its agenda.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MeetingSummary {
    #[serde(flatten)]
    meeting: Meeting,
    /// Changes placed on it or decided by it.
    item_count: usize,
}

/// Meetings in a range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct MeetingList {
    /// The meetings, in order.
    items: Vec<MeetingSummary>,
    /// Pass as `cursor` for the rest of the range; null on its last page.
    next_cursor: Option<String>,
}

/// The CAB meetings the recurrence gives in `[from, to)`, each with how
/// many changes its agenda holds, a page at a time.
#[utoipa::path(get, path = "/api/cab/meetings", tag = "cab", params(MeetingParams, PageParams),
    responses((status = 200, body = MeetingList), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn list_meetings(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<MeetingParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<MeetingList>> {
    let page = page.request()?;
    let from = params.from.unwrap_or_else(|| state.clock.now());
    let to = match params.to {
        Some(to) => to,
        None => from
            .checked_add_signed(Duration::days(DEFAULT_DAYS_AHEAD))
            .ok_or_else(|| AppError::bad_request("bad_range", "from is too late"))?,
    };
    let schedule = state.store.cab_schedule().await?;
    let ListResponse {
        items: meetings,
        next_cursor,
    } = ListResponse::page_of_whole(meetings_between(&schedule.schedule, from, to)?, page);
    let placed = match (meetings.first(), meetings.last()) {
        (Some(first), Some(last)) => {
            state
                .store
                .cab_placements(first.start, last.start + Duration::seconds(1))
                .await?
        }
        _ => Vec::new(),
    };
    // A change both placed on a meeting and decided by it counts once.
    let mut counts: HashMap<DateTime<Utc>, usize> = HashMap::new();
    for (start, _) in placed.into_iter().collect::<HashSet<_>>() {
        *counts.entry(start).or_default() += 1;
    }
    let items = meetings
        .into_iter()
        .map(|meeting| MeetingSummary {
            item_count: counts.get(&meeting.start).copied().unwrap_or(0),
            meeting,
        })
        .collect();
    Ok(Json(MeetingList { items, next_cursor }))
}
