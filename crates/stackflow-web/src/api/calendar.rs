//! `/api/calendar`: the business calendar (time zone, working days and
//! hours, holidays) that SLA clocks and the risk engine count in.

use crate::AppState;
use crate::extract::{ApiJson, Auth};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::State;
use stackflow_core::CalendarDocument;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_calendar, put_calendar))
}

/// The business calendar; Monday to Friday 09:00–17:00 UTC until one is set.
#[utoipa::path(get, path = "/api/calendar", tag = "schedule",
    responses((status = 200, body = CalendarDocument)))]
async fn get_calendar(
    State(state): State<AppState>,
    Auth(_caller): Auth,
) -> ApiResult<Json<CalendarDocument>> {
    let calendar = state.store.get_calendar().await?;
    Ok(Json(CalendarDocument::from(&calendar)))
}

/// Replaces the business calendar (admins and change managers).
#[utoipa::path(put, path = "/api/calendar", tag = "schedule", request_body = CalendarDocument,
    responses((status = 200, body = CalendarDocument), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn put_calendar(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(document): ApiJson<CalendarDocument>,
) -> ApiResult<Json<CalendarDocument>> {
    let calendar = state.store.put_calendar(&caller, document).await?;
    // The write requested a reassessment of every change awaiting
    // approval with itself: the job worker runs it within a poll.
    Ok(Json(CalendarDocument::from(&calendar)))
}
