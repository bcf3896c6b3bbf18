//! `GET /api/changes/{number}/audit`: the change's audit trail.

use crate::AppState;
use crate::extract::{ApiPath, ApiQuery, Auth, change_number};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use stackflow_store::AuditEvent;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(change_audit))
}

/// Every audit event of a change, oldest first: who, what, when, through
/// which channel, and the change before and after.
#[utoipa::path(get, path = "/api/changes/{number}/audit", tag = "changes",
    params(("number" = String, Path, description = "Change number"), PageParams),
    responses((status = 200, body = ListResponse<AuditEvent>), (status = 404, body = Problem)))]
async fn change_audit(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<AuditEvent>>> {
    let number = change_number(&number)?;
    let page = params.request()?;
    if state.store.get_change(number).await?.is_none() {
        return Err(AppError::not_found(format!("change {number} not found")));
    }
    let trail = state
        .store
        .audit_trail("change", &number.to_string(), page)
        .await?;
    Ok(Json(trail.into()))
}
