//! `POST /api/cab/meetings/{id}/outcomes`: the meeting's decision on its
//! agenda items, applied through the lifecycle all or nothing.

use super::cab::meeting;
use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use stackflow_core::cab::{CabOutcome, Meeting};
use stackflow_core::{Change, ChangeNumber, FieldError};
use stackflow_store::OutcomeItem;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Most items one request records.
const MAX_ITEMS: usize = 500;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_outcomes))
}

/// One decision of the meeting.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OutcomeRequestItem {
    /// The change's number.
    change: ChangeNumber,
    /// `approved`, `rejected` or `deferred`.
    outcome: CabOutcome,
    /// The board's notes.
    #[serde(default)]
    notes: String,
}

/// The meeting's decisions.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OutcomesRequest {
    /// One per decided item.
    items: Vec<OutcomeRequestItem>,
}

/// The changes as the outcomes left them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct OutcomesResult {
    /// The meeting.
    meeting: Meeting,
    /// Each decided change, in request order.
    changes: Vec<Change>,
}

/// Records the meeting's outcomes (change managers and admins): approved
/// settles the CAB stage, rejected rejects the change, deferred moves it to
/// the next meeting. All or nothing: one refused item and none is applied.
#[utoipa::path(post, path = "/api/cab/meetings/{id}/outcomes", tag = "cab",
    params(("id" = String, Path, description = "Meeting id, local start `YYYY-MM-DDTHHMM`")),
    request_body = OutcomesRequest,
    responses((status = 200, body = OutcomesResult), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn post_outcomes(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<OutcomesRequest>,
) -> ApiResult<Json<OutcomesResult>> {
    if !caller.actor.is_manager() {
        return Err(stackflow_core::Refusal::forbidden(
            "cab_outcome_by_manager",
            "only a change manager or an admin records CAB outcomes",
        )
        .into());
    }
    if request.items.is_empty() || request.items.len() > MAX_ITEMS {
        return Err(AppError::invalid(vec![FieldError::new(
            "items",
            format!("between 1 and {MAX_ITEMS} items"),
        )]));
    }
    let (_, meeting) = meeting(&state, &id).await?;
    let items = request
        .items
        .into_iter()
        .map(|item| OutcomeItem {
            change: item.change,
            outcome: item.outcome,
            notes: item.notes,
        })
        .collect();
    let changes = state
        .store
        .record_cab_outcomes(&caller, &meeting, items)
        .await?;
    Ok(Json(OutcomesResult { meeting, changes }))
}
