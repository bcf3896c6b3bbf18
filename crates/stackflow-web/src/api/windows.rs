//! `/api/windows`: maintenance and blackout windows, one-off or recurring,
//! with their occurrences in a range on request.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use stackflow_core::{ChangeWindow, FieldError, NewWindow, Occurrence};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_windows, create_window))
        .routes(routes!(get_window, delete_window))
}

/// Longest range occurrences are expanded in, as for the schedule: each
/// recurring window's expansion grows with it.
const MAX_RANGE_DAYS: i64 = 366;

/// The range to expand occurrences in: both or neither.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RangeParams {
    /// Start of the range (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339); at most 366 days after `from`.
    to: Option<DateTime<Utc>>,
}

/// A window, with its occurrences in the requested range when one was given.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct WindowView {
    #[serde(flatten)]
    window: ChangeWindow,
    /// Occurrences overlapping `[from, to)` (only with `?from=&to=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    occurrences: Option<Vec<Occurrence>>,
}

/// Lists the windows, oldest first, a page at a time; with `?from=&to=`
/// each carries its occurrences in that range.
#[utoipa::path(get, path = "/api/windows", tag = "schedule", params(RangeParams, PageParams),
    responses((status = 200, body = ListResponse<WindowView>), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn list_windows(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(range): ApiQuery<RangeParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<WindowView>>> {
    let page = page.request()?;
    let max_span = Duration::days(MAX_RANGE_DAYS);
    let range = match (range.from, range.to) {
        (None, None) => None,
        (Some(from), Some(to)) if to > from && to - from <= max_span => Some((from, to)),
        (Some(from), Some(to)) => {
            let message = if to > from {
                format!("the range may span at most {MAX_RANGE_DAYS} days")
            } else {
                "must be after from".to_owned()
            };
            return Err(AppError::invalid(vec![FieldError::new("to", message)]));
        }
        (from, _) => {
            let missing = if from.is_none() { "from" } else { "to" };
            return Err(AppError::invalid(vec![FieldError::new(
                missing,
                "give both from and to, or neither",
            )]));
        }
    };
    let windows = ListResponse::page_of_whole(state.store.list_windows().await?, page);
    Ok(Json(ListResponse {
        items: windows
            .items
            .into_iter()
            .map(|window| WindowView {
                occurrences: range.map(|(from, to)| window.occurrences(from, to)),
                window,
            })
            .collect(),
        next_cursor: windows.next_cursor,
    }))
}

/// Creates a window (admins and change managers).
#[utoipa::path(post, path = "/api/windows", tag = "schedule", request_body = NewWindow,
    responses((status = 201, body = ChangeWindow), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_window(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(draft): ApiJson<NewWindow>,
) -> ApiResult<(StatusCode, HeaderMap, Json<ChangeWindow>)> {
    let window = state.store.create_window(&caller, draft).await?;
    // The write requested a reassessment of every change awaiting
    // approval with itself: the job worker runs it within a poll.
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/windows/{}", window.id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(window)))
}

/// Reads one window.
#[utoipa::path(get, path = "/api/windows/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "Window id")),
    responses((status = 200, body = ChangeWindow), (status = 404, body = Problem)))]
async fn get_window(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ChangeWindow>> {
    state
        .store
        .get_window(id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("window {id} not found")))
}

/// Deletes a window (admins and change managers).
#[utoipa::path(delete, path = "/api/windows/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "Window id")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_window(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state.store.delete_window(&caller, id).await?;
    // The write requested a reassessment of every change awaiting
    // approval with itself: the job worker runs it within a poll.
    Ok(StatusCode::NO_CONTENT)
}
