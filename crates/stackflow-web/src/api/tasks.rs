//! `/api/changes/{number}/tasks`: implementation tasks of a change.

use crate::AppState;
use crate::extract::{ApiJson, Auth, IfMatch, change_number};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use stackflow_core::task::{NewTask, Task, TaskPatch};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tasks, add_task))
        .routes(routes!(update_task))
}

/// A change's tasks in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TaskList {
    /// The tasks, by position.
    items: Vec<Task>,
}

/// Lists a change's implementation tasks in order.
#[utoipa::path(get, path = "/api/changes/{number}/tasks", tag = "changes",
    params(("number" = String, Path, description = "Change number")),
    responses((status = 200, body = TaskList), (status = 404, body = Problem)))]
async fn list_tasks(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    Path(number): Path<String>,
) -> ApiResult<Json<TaskList>> {
    let number = change_number(&number)?;
    Ok(Json(TaskList {
        items: state.store.list_tasks(number).await?,
    }))
}

/// Adds a task (appended unless `position` is given). Allowed to the
/// assignee, the assignment group, the requester and change managers.
#[utoipa::path(post, path = "/api/changes/{number}/tasks", tag = "changes", request_body = NewTask,
    params(("number" = String, Path, description = "Change number")),
    responses((status = 201, body = Task), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn add_task(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(number): Path<String>,
    if_match: IfMatch,
    ApiJson(task): ApiJson<NewTask>,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let number = change_number(&number)?;
    let task = state
        .store
        .add_task(&caller, number, if_match.0, task)
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
    Path((number, id)): Path<(String, String)>,
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
            .update_task(&caller, number, id, if_match.0, patch)
            .await?,
    ))
}
