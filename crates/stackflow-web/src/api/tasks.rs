//! `/api/changes/{number}/tasks`: implementation tasks of a change.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, IfMatch, change_number};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use stackflow_core::task::{NewTask, Task, TaskPatch};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, add_task))
        .routes(routes!(update_task))
}

/// Lists a change's implementation tasks in order, a page at a time.
#[utoipa::path(get, path = "/api/changes/{number}/tasks", tag = "changes",
    params(("number" = String, Path, description = "Change number"), PageParams),
    responses((status = 200, body = ListResponse<Task>), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn list_tasks(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<Task>>> {
    let number = change_number(&number)?;
    let page = page.request()?;
    Ok(Json(ListResponse::page_of_whole(
        state.store.list_tasks(number).await?,
        page,
    )))
}

/// Adds a task (appended unless `position` is given). Allowed to the
/// assignee, the assignment group, the requester and change managers.
#[utoipa::path(post, path = "/api/changes/{number}/tasks", tag = "changes", request_body = NewTask,
    params(("number" = String, Path, description = "Change number")),
    responses((status = 201, body = Task), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn add_task(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(number): ApiPath<String>,
    if_match: IfMatch,
    ApiJson(task): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let number = change_number(&number)?;
    let expected = if_match.or_body(task.version)?;
    let task = state
        .store
        .add_task(&caller, number, expected, task)
        .await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// Edits, reassigns, reorders (`position`) or moves (`state`) a task:
/// `open` → `in_progress` → `done` or `skipped`.
#[utoipa::path(patch, path = "/api/changes/{number}/tasks/{id}", tag = "changes", request_body = TaskPatch,
    params(("number" = String, Path, description = "Change number"), ("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn update_task(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath((number, id)): ApiPath<(String, String)>,
    if_match: IfMatch,
    ApiJson(patch): ApiJson<TaskPatch>,
) -> ApiResult<Json<Task>> {
    let number = change_number(&number)?;
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::not_found(format!("no task `{id}` on {number}")))?;
    Ok(Json(
        state
            .store
            .update_task(&caller, number, id, if_match.or_body(patch.version)?, patch)
            .await?,
    ))
}
