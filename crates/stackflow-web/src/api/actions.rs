//! The lifecycle actions on a change: one endpoint each, all decided by the
//! domain core's state machine.

use super::changes::etag;
use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth, IfMatch, OptionalJson, change_number};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use stackflow_core::{Action, Change, CloseCode, Decision, ObjectivesMet};
use stackflow_store::Caller;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(approve))
        .routes(routes!(implement))
        .routes(routes!(complete))
        .routes(routes!(review))
        .routes(routes!(cancel))
}

/// An action without parameters; the body may be empty.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VersionBody {
    /// The version the client last saw (or send `If-Match`).
    version: Option<i64>,
}

/// A vote.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// `approved` or `rejected`.
    decision: Decision,
    /// Why.
    #[serde(default)]
    notes: String,
    /// The version the client last saw.
    version: Option<i64>,
}

/// The post-implementation review.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// `yes`, `partially` or `no`.
    objectives_met: ObjectivesMet,
    /// `successful`, `successful_with_issues` or `unsuccessful`.
    close_code: CloseCode,
    /// What was learned.
    #[serde(default)]
    lessons_learned: String,
    /// The version the client last saw.
    version: Option<i64>,
}

/// A cancellation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    /// Why (required).
    reason: String,
    /// The version the client last saw.
    version: Option<i64>,
}

async fn act(
    state: &AppState,
    caller: &Caller,
    number: &str,
    expected: Option<i64>,
    action: Action,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let number = change_number(number)?;
    // Withdrawing, rejecting or completing a change ends its conflicts; the
    // store clears them and requests the other changes' reassessment.
    let change = state
        .store
        .act_on_change(caller, number, expected, action)
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(&change));
    Ok((headers, Json(change)))
}

/// Submits a change: normal → `assess`, emergency → `authorize`, standard →
/// `scheduled` (pre-approved by its template). Normal and emergency changes
/// are risk-assessed and checked for schedule conflicts on the way.
#[utoipa::path(post, path = "/api/changes/{number}/submit", tag = "changes", request_body(content = Option<VersionBody>, description = "optional"),
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn submit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    OptionalJson(body): OptionalJson<VersionBody>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let expected = if_match.or_body(body.version)?;
    let number = change_number(&number)?;
    let change = crate::risk::submit(&state, &caller, number, expected).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(&change));
    Ok((headers, Json(change)))
}

/// Votes in the change's open approval stage. The requester may not vote
/// (403); a person votes once per stage (409).
#[utoipa::path(post, path = "/api/changes/{number}/approve", tag = "changes", request_body = ApproveBody,
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn approve(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ApproveBody>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let expected = if_match.or_body(body.version)?;
    let action = Action::Vote {
        decision: body.decision,
        notes: body.notes,
    };
    act(&state, &caller, &number, expected, action).await
}

/// Starts implementation: `scheduled` → `implement`.
#[utoipa::path(post, path = "/api/changes/{number}/implement", tag = "changes", request_body(content = Option<VersionBody>, description = "optional"),
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 409, body = Problem)))]
async fn implement(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    OptionalJson(body): OptionalJson<VersionBody>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let expected = if_match.or_body(body.version)?;
    act(&state, &caller, &number, expected, Action::Implement).await
}

/// Completes implementation: `implement` → `review`; refused while a task
/// is open or in progress.
#[utoipa::path(post, path = "/api/changes/{number}/complete", tag = "changes", request_body(content = Option<VersionBody>, description = "optional"),
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 409, body = Problem)))]
async fn complete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    OptionalJson(body): OptionalJson<VersionBody>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let expected = if_match.or_body(body.version)?;
    act(&state, &caller, &number, expected, Action::Complete).await
}

/// Records the post-implementation review and closes the change.
#[utoipa::path(post, path = "/api/changes/{number}/review", tag = "changes", request_body = ReviewBody,
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn review(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let expected = if_match.or_body(body.version)?;
    let action = Action::Review {
        objectives_met: body.objectives_met,
        close_code: body.close_code,
        lessons_learned: body.lessons_learned,
    };
    act(&state, &caller, &number, expected, action).await
}

/// Cancels a change before implementation.
#[utoipa::path(post, path = "/api/changes/{number}/cancel", tag = "changes", request_body = CancelBody,
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = Change), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn cancel(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<CancelBody>,
) -> ApiResult<(HeaderMap, Json<Change>)> {
    let expected = if_match.or_body(body.version)?;
    act(
        &state,
        &caller,
        &number,
        expected,
        Action::Cancel {
            reason: body.reason,
        },
    )
    .await
}
