//! `/api/cis` and `/api/relationships`: configuration items and their
//! dependencies.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use stackflow_store::{Ci, CiPatch, NewCi, NewRelationship, Relationship};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cis, create_ci))
        .routes(routes!(get_ci, update_ci))
        .routes(routes!(ci_relationships))
        .routes(routes!(create_relationship))
}

/// Lists configuration items, oldest first.
#[utoipa::path(get, path = "/api/cis", tag = "cmdb", params(PageParams),
    responses((status = 200, body = ListResponse<Ci>), (status = 400, body = Problem)))]
async fn list_cis(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<Ci>>> {
    Ok(Json(state.store.list_cis(params.request()?).await?.into()))
}

/// Creates a configuration item (admins and change managers).
#[utoipa::path(post, path = "/api/cis", tag = "cmdb", request_body = NewCi,
    responses((status = 201, body = Ci), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_ci(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(ci): ApiJson<NewCi>,
) -> ApiResult<(StatusCode, Json<Ci>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_ci(&caller, ci).await?),
    ))
}

/// Reads one configuration item.
#[utoipa::path(get, path = "/api/cis/{name}", tag = "cmdb",
    params(("name" = String, Path, description = "CI name")),
    responses((status = 200, body = Ci), (status = 404, body = Problem)))]
async fn get_ci(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Ci>> {
    state
        .store
        .get_ci(&name)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("CI `{name}` not found")))
}

/// Edits a configuration item.
#[utoipa::path(patch, path = "/api/cis/{name}", tag = "cmdb", request_body = CiPatch,
    params(("name" = String, Path, description = "CI name")),
    responses((status = 200, body = Ci), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_ci(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(patch): ApiJson<CiPatch>,
) -> ApiResult<Json<Ci>> {
    Ok(Json(state.store.update_ci(&caller, &name, patch).await?))
}

/// Lists the relationships in which a CI takes part, in both directions.
#[utoipa::path(get, path = "/api/cis/{name}/relationships", tag = "cmdb",
    params(("name" = String, Path, description = "CI name")),
    responses((status = 200, body = ListResponse<Relationship>), (status = 404, body = Problem)))]
async fn ci_relationships(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<ListResponse<Relationship>>> {
    if state.store.get_ci(&name).await?.is_none() {
        return Err(AppError::not_found(format!("CI `{name}` not found")));
    }
    Ok(Json(ListResponse::complete(
        state.store.list_relationships(&name).await?,
    )))
}

/// Records that `from` depends on `to`.
#[utoipa::path(post, path = "/api/relationships", tag = "cmdb", request_body = NewRelationship,
    responses((status = 201, body = Relationship), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_relationship(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(rel): ApiJson<NewRelationship>,
) -> ApiResult<(StatusCode, Json<Relationship>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_relationship(&caller, rel).await?),
    ))
}
