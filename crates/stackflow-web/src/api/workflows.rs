//! `/api/workflows`: approval workflow documents, versioned. Anyone
//! signed in reads them; admins and change managers save new versions.

mod document;

use crate::AppState;
use crate::extract::{ApiPath, ApiQuery, Auth, IfMatch};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use document::{DocumentBody, WorkflowDetail, WorkflowView};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(get_workflow, update_workflow))
}

/// Which version of a workflow to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionParams {
    /// A stored version; absent: the current one.
    version: Option<u32>,
}

/// The current version of every workflow, by name, a page at a time.
#[utoipa::path(get, path = "/api/workflows", tag = "workflows", params(PageParams),
    responses((status = 200, body = ListResponse<WorkflowView>), (status = 400, body = Problem)))]
async fn list_workflows(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<WorkflowView>>> {
    let page = page.request()?;
    let workflows = state.store.list_workflows().await?;
    Ok(Json(ListResponse::page_of_whole(
        workflows.into_iter().map(Into::into).collect(),
        page,
    )))
}

/// One workflow (its current version, or `?version=N`) with its versions.
#[utoipa::path(get, path = "/api/workflows/{name}", tag = "workflows", params(
        ("name" = String, Path, description = "Workflow name"), VersionParams),
    responses((status = 200, body = WorkflowDetail), (status = 404, body = Problem)))]
async fn get_workflow(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
) -> ApiResult<Json<WorkflowDetail>> {
    let history = state
        .store
        .get_workflow(&name, params.version)
        .await?
        .ok_or_else(|| match params.version {
            Some(version) => {
                AppError::not_found(format!("workflow {name} version {version} not found"))
            }
            None => AppError::not_found(format!("workflow {name} not found")),
        })?;
    Ok(Json(history.into()))
}

/// Creates a workflow as version 1 (admins and change managers). The body
/// is the document, JSON or YAML (`Content-Type: application/yaml`).
#[utoipa::path(post, path = "/api/workflows", tag = "workflows",
    request_body(content(
        (Object = "application/json"),
        (String = "application/yaml"),
    ), description = "The workflow document; see docs/workflows.md"),
    responses((status = 201, body = WorkflowView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn create_workflow(
    State(state): State<AppState>,
    Auth(caller): Auth,
    DocumentBody(document): DocumentBody,
) -> ApiResult<(StatusCode, HeaderMap, Json<WorkflowView>)> {
    let stored = state.store.create_workflow(&caller, document).await?;
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/workflows/{}", stored.name)) {
        headers.insert(header::LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(stored.into())))
}

/// Saves a new version of a workflow (admins and change managers); send
/// `If-Match: <version>` to refuse the save if someone saved one since.
/// Changes already submitted keep the plan of the version they were
/// submitted under.
#[utoipa::path(put, path = "/api/workflows/{name}", tag = "workflows",
    params(("name" = String, Path, description = "Workflow name")),
    request_body(content(
        (Object = "application/json"),
        (String = "application/yaml"),
    ), description = "The workflow document; its `name` must be the path's"),
    responses((status = 200, body = WorkflowView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn update_workflow(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(name): ApiPath<String>,
    if_match: IfMatch,
    DocumentBody(document): DocumentBody,
) -> ApiResult<Json<WorkflowView>> {
    let expected = if_match
        .0
        .map(|version| {
            u32::try_from(version).map_err(|_| {
                AppError::bad_request(
                    "bad_if_match",
                    format!("If-Match must be a workflow version, got {version}"),
                )
            })
        })
        .transpose()?;
    let stored = state
        .store
        .update_workflow(&caller, &name, expected, document)
        .await?;
    Ok(Json(stored.into()))
}
