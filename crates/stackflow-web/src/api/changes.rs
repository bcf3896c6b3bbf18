//! `/api/changes`: create, list, read and edit change requests.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, IfMatch, change_number};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use stackflow_core::change::{MAX_YEAR, MIN_YEAR};
use stackflow_core::conflict::Conflict;
use stackflow_core::risk::RiskAssessment;
use stackflow_core::{Action, Change, ChangeDraft, ChangePatch, ChangeState, ChangeType};
use stackflow_store::ChangeFilter;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_change, list_changes))
        .routes(routes!(get_change, edit_change))
        .routes(routes!(get_risk))
}

/// Creates a change in state `new`.
#[utoipa::path(post, path = "/api/changes", tag = "changes", request_body = ChangeDraft,
    responses((status = 201, body = Change), (status = 422, body = Problem), (status = 403, body = Problem)))]
async fn create_change(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(draft): ApiJson<ChangeDraft>,
) -> ApiResult<(StatusCode, HeaderMap, Json<Change>)> {
    let change = state.store.create_change(&caller, draft).await?;
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/changes/{}", change.number)) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::ETAG, etag(&change));
    Ok((StatusCode::CREATED, headers, Json(change)))
}

/// Filters of the change list (all optional; given ones must all match).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangeListParams {
    /// Lifecycle state.
    state: Option<ChangeState>,
    /// Change type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    change_type: Option<ChangeType>,
    /// CAB meeting day, `YYYY-MM-DD`, or a change's own `cab_date` (an
    /// RFC 3339 instant: its day in UTC).
    #[serde(default, deserialize_with = "cab_day")]
    #[param(value_type = Option<String>)]
    cab_date: Option<NaiveDate>,
    /// Requester username.
    requested_by: Option<String>,
    /// Assignment group name.
    assignment_group: Option<String>,
    /// An affected CI's name.
    ci: Option<String>,
    /// Text in the title or number.
    q: Option<String>,
    /// Items per page (1–500, default 50).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A `cab_date` filter: a day, or an instant whose UTC day is meant, so a
/// change's own `cab_date` can be passed back as it came.
fn cab_day<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveDate>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Ok(day) = text.parse::<NaiveDate>() {
        return Ok(Some(day));
    }
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|instant| Some(instant.naive_utc().date()))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "`{text}` is neither a day (YYYY-MM-DD) nor an RFC 3339 instant"
            ))
        })
}

/// Lists changes, newest first.
#[utoipa::path(get, path = "/api/changes", tag = "changes", params(ChangeListParams),
    responses((status = 200, body = ListResponse<Change>), (status = 400, body = Problem)))]
async fn list_changes(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<ChangeListParams>,
) -> ApiResult<Json<ListResponse<Change>>> {
    if let Some(day) = params.cab_date
        && !(MIN_YEAR..=MAX_YEAR).contains(&day.year())
    {
        return Err(AppError::bad_request(
            "bad_query",
            format!("cab_date must be between the years {MIN_YEAR} and {MAX_YEAR}"),
        ));
    }
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request()?;
    let filter = ChangeFilter {
        state: params.state,
        change_type: params.change_type,
        cab_date: params.cab_date,
        requested_by: params.requested_by,
        assignment_group: params.assignment_group,
        ci: params.ci,
        q: params.q.filter(|q| !q.trim().is_empty()),
    };
    Ok(Json(state.store.list_changes(&filter, page).await?.into()))
}

/// Reads one change by number.
#[utoipa::path(get, path = "/api/changes/{number}", tag = "changes",
    params(("number" = String, Path, description = "Change number, e.g. CHG0000456")),
    responses((status = 200, body = Change), (status = 404, body = Problem)))]
async fn get_change(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let change = load(&state, &number).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(&change));
    Ok((headers, Json(change)))
}

/// Edits a change while it is `new` (also after a rejection). Send
/// `If-Match: <version>` or `"version"` in the body to refuse stale edits.
#[utoipa::path(patch, path = "/api/changes/{number}", tag = "changes", request_body = ChangePatch,
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn edit_change(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(patch): ApiJson<ChangePatch>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let number = change_number(&number)?;
    let expected = if_match.or_body(patch.version)?;
    let change = state
        .store
        .act_on_change(&caller, number, expected, Action::Edit(Box::new(patch)))
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(&change));
    Ok((headers, Json(change)))
}

/// A change's risk assessment and every assessment before it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RiskResponse {
    /// The newest assessment, in the seed's shape (`null` until submitted).
    risk_assessment: Option<RiskAssessment>,
    /// Its schedule conflicts.
    conflicts: Vec<Conflict>,
    /// Every assessment, oldest first: at submission, and each reassessment
    /// that changed the finding while the change awaited approval.
    history: Vec<RiskAssessment>,
}

/// Reads a change's risk assessment, conflicts and assessment history.
#[utoipa::path(get, path = "/api/changes/{number}/risk", tag = "changes",
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = RiskResponse), (status = 404, body = Problem)))]
async fn get_risk(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<RiskResponse>> {
    let parsed = change_number(&number)?;
    let (change, history) = state
        .store
        .change_with_risk_history(parsed)
        .await?
        .ok_or_else(|| change_not_found(parsed))?;
    Ok(Json(RiskResponse {
        risk_assessment: change.risk_assessment,
        conflicts: change.conflicts,
        history,
    }))
}

/// Loads a change by the number in a path, or 404.
pub(super) async fn load(state: &AppState, number: &str) -> ApiResult<Change> {
    let parsed = change_number(number)?;
    state
        .store
        .get_change(parsed)
        .await?
        .ok_or_else(|| change_not_found(parsed))
}

/// The 404 for a change number that names no change.
fn change_not_found(number: stackflow_core::ChangeNumber) -> crate::problem::AppError {
    crate::problem::AppError::not_found(format!("change {number} not found"))
}

/// The change's version as an entity tag, for `If-Match`.
pub(super) fn etag(change: &Change) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", change.version))
        .unwrap_or(HeaderValue::from_static("\"0\""))
}
