//! `GET /api/cis/{name}/impact` and `GET /api/changes/{number}/impact`: the
//! blast radius, answered from the in-process impact index.

use crate::AppState;
use crate::extract::{ApiPath, ApiQuery, Auth};
use crate::pagination;
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use stackflow_core::FieldError;
use stackflow_core::impact::{ImpactPage, ImpactReport};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Most impacted CIs listed in one response.
const MAX_ITEMS: usize = 1000;
/// Impacted CIs listed when `limit` is not given.
const DEFAULT_ITEMS: usize = 50;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ci_impact))
        .routes(routes!(change_impact))
}

/// How deep to walk and which page of impacted CIs to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImpactParams {
    /// Dependency levels to follow (default: unlimited).
    depth: Option<u32>,
    /// Impacted CIs to list (0–1000, default 50); totals are always complete.
    limit: Option<usize>,
    /// Impacted CIs to skip (the previous page's `next_offset`).
    offset: Option<usize>,
    /// The previous page's `next_cursor`: the same position as
    /// `next_offset`, in the form every list of the API takes.
    cursor: Option<String>,
}

impl ImpactParams {
    fn page(&self) -> ApiResult<ImpactPage> {
        let limit = self.limit.unwrap_or(DEFAULT_ITEMS);
        if limit > MAX_ITEMS {
            return Err(AppError::invalid(vec![FieldError::new(
                "limit",
                format!("at most {MAX_ITEMS}"),
            )]));
        }
        let from_cursor = self
            .cursor
            .as_deref()
            .map(pagination::decode)
            .transpose()?
            .map(|position| usize::try_from(position).unwrap_or(usize::MAX));
        let offset = match (self.offset, from_cursor) {
            (Some(offset), Some(cursor)) if offset != cursor => {
                return Err(AppError::bad_request(
                    "bad_cursor",
                    "give `cursor` or `offset`, not two different positions",
                ));
            }
            (offset, cursor) => offset.or(cursor).unwrap_or(0),
        };
        Ok(ImpactPage { offset, limit })
    }
}

/// The cursor of the next page of impacted CIs, if there is one.
fn next_cursor(report: &ImpactReport) -> Option<String> {
    report
        .next_offset
        .and_then(|offset| i64::try_from(offset).ok())
        .map(pagination::encode)
}

/// A CI's blast radius, with the list's cursor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CiImpact {
    #[serde(flatten)]
    report: ImpactReport,
    /// Pass as `cursor` for the next page of `items`; null on the last.
    next_cursor: Option<String>,
}

/// The blast radius of one CI: every CI that depends on it, directly or
/// transitively, with totals by class and criticality and one page of the
/// impacted CIs (most critical first), each with its dependency chain.
#[utoipa::path(get, path = "/api/cis/{name}/impact", tag = "cmdb",
    params(("name" = String, Path, description = "CI name"), ImpactParams),
    responses((status = 200, body = CiImpact), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn ci_impact(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<ImpactParams>,
) -> ApiResult<Json<CiImpact>> {
    let page = params.page()?;
    state.impact.refresh_for_query().await;
    let (report, missing) = state
        .impact
        .report(vec![name.clone()], params.depth, page)
        .await;
    if !missing.is_empty() {
        return Err(AppError::not_found(format!("CI `{name}` not found")));
    }
    Ok(Json(CiImpact {
        next_cursor: next_cursor(&report),
        report,
    }))
}

/// A change's blast radius.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ChangeImpact {
    /// The change.
    number: String,
    /// The blast radius of its affected CIs.
    #[serde(flatten)]
    report: ImpactReport,
    /// Affected CIs the CMDB does not hold (deleted since, or never
    /// recorded).
    missing: Vec<String>,
    /// Pass as `cursor` for the next page of `items`; null on the last.
    next_cursor: Option<String>,
}

/// The blast radius of a change's affected CIs.
#[utoipa::path(get, path = "/api/changes/{number}/impact", tag = "changes",
    params(("number" = String, Path, description = "Change number"), ImpactParams),
    responses((status = 200, body = ChangeImpact), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn change_impact(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(params): ApiQuery<ImpactParams>,
) -> ApiResult<Json<ChangeImpact>> {
    let page = params.page()?;
    let change = super::changes::load(&state, &number).await?;
    state.impact.refresh_for_query().await;
    let (report, missing) = state
        .impact
        .report(change.affected_cis, params.depth, page)
        .await;
    Ok(Json(ChangeImpact {
        number: change.number.to_string(),
        next_cursor: next_cursor(&report),
        report,
        missing,
    }))
}
