//! `/api/cis` and `/api/relationships`: configuration items and their
//! dependencies.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use stackflow_core::Criticality;
use stackflow_store::{Ci, CiFilter, CiPatch, NewCi, NewRelationship, Relationship};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cis, create_ci))
        .routes(routes!(get_ci, update_ci, delete_ci))
        .routes(routes!(ci_relationships))
        .routes(routes!(create_relationship))
        .routes(routes!(delete_relationship))
}

/// Filters of the CI list (all optional; given ones must all match).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CiListParams {
    /// CI class, e.g. `database`.
    class: Option<String>,
    /// Criticality.
    criticality: Option<Criticality>,
    /// Owner group name.
    owner_group: Option<String>,
    /// Start of the name.
    prefix: Option<String>,
    /// Items per page (1–500, default 50).
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Lists configuration items, oldest first.
#[utoipa::path(get, path = "/api/cis", tag = "cmdb", params(CiListParams),
    responses((status = 200, body = ListResponse<Ci>), (status = 400, body = Problem)))]
async fn list_cis(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<CiListParams>,
) -> ApiResult<Json<ListResponse<Ci>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request()?;
    let filter = CiFilter {
        class: params.class,
        criticality: params.criticality,
        owner_group: params.owner_group,
        prefix: params.prefix.filter(|p| !p.is_empty()),
    };
    Ok(Json(state.store.list_cis(&filter, page).await?.into()))
}

/// Deletes a configuration item and its relationships (admins and change
/// managers); refused while an open change names it.
#[utoipa::path(delete, path = "/api/cis/{name}", tag = "cmdb",
    params(("name" = String, Path, description = "CI name")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_ci(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_ci(&caller, &name).await?;
    state.impact.catch_up_or_log().await;
    crate::risk::reassess_after_cmdb_change(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a relationship.
#[utoipa::path(delete, path = "/api/relationships/{id}", tag = "cmdb",
    params(("id" = i64, Path, description = "Relationship id")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_relationship(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::not_found(format!("no relationship `{id}`")))?;
    state.store.delete_relationship(&caller, id).await?;
    state.impact.catch_up_or_log().await;
    crate::risk::reassess_after_cmdb_change(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a configuration item (admins and change managers).
#[utoipa::path(post, path = "/api/cis", tag = "cmdb", request_body = NewCi,
    responses((status = 201, body = Ci), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_ci(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(ci): ApiJson<NewCi>,
) -> ApiResult<(StatusCode, Json<Ci>)> {
    let created = state.store.create_ci(&caller, ci).await?;
    state.impact.catch_up_or_log().await;
    crate::risk::reassess_after_cmdb_change(&state).await;
    Ok((StatusCode::CREATED, Json(created)))
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
    let updated = state.store.update_ci(&caller, &name, patch).await?;
    state.impact.catch_up_or_log().await;
    crate::risk::reassess_after_cmdb_change(&state).await;
    Ok(Json(updated))
}

/// Lists the relationships in which a CI takes part, in both directions.
#[utoipa::path(get, path = "/api/cis/{name}/relationships", tag = "cmdb",
    params(("name" = String, Path, description = "CI name"), PageParams),
    responses((status = 200, body = ListResponse<Relationship>), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn ci_relationships(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<Relationship>>> {
    let page = page.request()?;
    if state.store.get_ci(&name).await?.is_none() {
        return Err(AppError::not_found(format!("CI `{name}` not found")));
    }
    Ok(Json(ListResponse::page_of_whole(
        state.store.list_relationships(&name).await?,
        page,
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
    let created = state.store.create_relationship(&caller, rel).await?;
    state.impact.catch_up_or_log().await;
    crate::risk::reassess_after_cmdb_change(&state).await;
    Ok((StatusCode::CREATED, Json(created)))
}
