//! `/api/templates`: standard change templates.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use stackflow_core::Template;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template))
}

/// A template to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTemplate {
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    implementation_plan: String,
    backout_plan: String,
    test_plan: String,
    assignment_group: Option<String>,
    /// Defaults to true.
    active: Option<bool>,
}

/// Lists the standard change templates by name, a page at a time.
#[utoipa::path(get, path = "/api/templates", tag = "templates", params(PageParams),
    responses((status = 200, body = ListResponse<Template>), (status = 400, body = Problem)))]
async fn list_templates(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<Template>>> {
    let page = page.request()?;
    Ok(Json(ListResponse::page_of_whole(
        state.store.list_templates().await?,
        page,
    )))
}

/// Creates a standard change template (admins and change managers).
#[utoipa::path(post, path = "/api/templates", tag = "templates", request_body = NewTemplate,
    responses((status = 201, body = Template), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_template(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(body): ApiJson<NewTemplate>,
) -> ApiResult<(StatusCode, Json<Template>)> {
    let template = Template {
        name: body.name,
        title: body.title,
        description: body.description,
        implementation_plan: body.implementation_plan,
        backout_plan: body.backout_plan,
        test_plan: body.test_plan,
        assignment_group: body.assignment_group,
        active: body.active.unwrap_or(true),
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_template(&caller, template).await?),
    ))
}

/// Reads one template.
#[utoipa::path(get, path = "/api/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "Template name")),
    responses((status = 200, body = Template), (status = 404, body = Problem)))]
async fn get_template(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Template>> {
    state
        .store
        .get_template(&name)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("template `{name}` not found")))
}
