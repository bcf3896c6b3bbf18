//! `GET /api/changes/{number}/approvals`: stages, lanes, approvers, votes.

use super::changes::load;
use crate::AppState;
use crate::extract::{ApiPath, Auth};
use crate::problem::{ApiResult, Problem};
use axum::Json;
use axum::extract::State;
use stackflow_core::approval::{ApprovalView, summarize};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_approvals))
}

/// The approval round of a change: each stage and lane with its eligible
/// approvers and standing, and every vote with its channel and time.
#[utoipa::path(get, path = "/api/changes/{number}/approvals", tag = "changes",
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = ApprovalView), (status = 404, body = Problem)))]
async fn get_approvals(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<ApprovalView>> {
    let change = load(&state, &number).await?;
    let votes = state.store.list_votes(change.number).await?;
    let directory = state.store.directory().await?;
    Ok(Json(summarize(
        &change.approval,
        &change.requested_by,
        &directory,
        votes,
    )))
}
