//! `/api/users`, `/api/groups`, `/api/tokens`, `/api/me`: people and access.

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, OptionalJson};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stackflow_core::Actor;
use stackflow_store::{Group, NewGroup, NewToken, NewUser, TokenInfo, User, UserPatch};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group))
        .routes(routes!(set_members))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/me", tag = "people", responses((status = 200, body = Actor)))]
async fn me(Auth(caller): Auth) -> Json<Actor> {
    Json(caller.actor)
}

/// Lists users.
#[utoipa::path(get, path = "/api/users", tag = "people", params(PageParams),
    responses((status = 200, body = ListResponse<User>)))]
async fn list_users(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<User>>> {
    Ok(Json(
        state.store.list_users(params.request()?).await?.into(),
    ))
}

/// Creates a user (admins).
#[utoipa::path(post, path = "/api/users", tag = "people", request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn create_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(user): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_user(&caller, user).await?),
    ))
}

/// Reads a user.
#[utoipa::path(get, path = "/api/users/{username}", tag = "people",
    params(("username" = String, Path, description = "Username")),
    responses((status = 200, body = User), (status = 404, body = Problem)))]
async fn get_user(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(username): ApiPath<String>,
) -> ApiResult<Json<User>> {
    state
        .store
        .get_user(&username)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("user `{username}` not found")))
}

/// Edits a user: email, display name, role, active (admins).
#[utoipa::path(patch, path = "/api/users/{username}", tag = "people", request_body = UserPatch,
    params(("username" = String, Path, description = "Username")),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn update_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(username): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        state.store.update_user(&caller, &username, patch).await?,
    ))
}

/// Lists groups with their members.
#[utoipa::path(get, path = "/api/groups", tag = "people", params(PageParams),
    responses((status = 200, body = ListResponse<Group>)))]
async fn list_groups(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<Group>>> {
    Ok(Json(
        state.store.list_groups(params.request()?).await?.into(),
    ))
}

/// Creates a group (admins).
#[utoipa::path(post, path = "/api/groups", tag = "people", request_body = NewGroup,
    responses((status = 201, body = Group), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_group(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiJson(group): ApiJson<NewGroup>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_group(&caller, group).await?),
    ))
}

/// Reads a group.
#[utoipa::path(get, path = "/api/groups/{name}", tag = "people",
    params(("name" = String, Path, description = "Group name")),
    responses((status = 200, body = Group), (status = 404, body = Problem)))]
async fn get_group(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Group>> {
    state
        .store
        .get_group(&name)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("group `{name}` not found")))
}

/// A group's new member list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Members {
    /// Usernames.
    members: Vec<String>,
}

/// Replaces a group's members (admins). Removed approvers stop counting at
/// once, also in approval rounds already open.
#[utoipa::path(put, path = "/api/groups/{name}/members", tag = "people", request_body = Members,
    params(("name" = String, Path, description = "Group name")),
    responses((status = 200, body = Group), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn set_members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<Members>,
) -> ApiResult<Json<Group>> {
    Ok(Json(
        state
            .store
            .set_group_members(&caller, &name, body.members)
            .await?,
    ))
}

/// Lists a user's tokens (the user themself, or an admin).
#[utoipa::path(get, path = "/api/users/{username}/tokens", tag = "people",
    params(("username" = String, Path, description = "Username"), PageParams),
    responses((status = 200, body = ListResponse<TokenInfo>), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn list_tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(username): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<TokenInfo>>> {
    let page = page.request()?;
    let tokens = state.store.list_tokens(&caller, &username).await?;
    Ok(Json(ListResponse::page_of_whole(tokens, page)))
}

/// A new token: its metadata and the secret, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedToken {
    /// The token's metadata.
    #[serde(flatten)]
    info: TokenInfo,
    /// The bearer secret. It is stored only as a hash: keep it now.
    token: String,
}

/// Creates a token for a user (the user themself, or an admin).
#[utoipa::path(post, path = "/api/users/{username}/tokens", tag = "people", request_body(content = Option<NewToken>, description = "optional"),
    params(("username" = String, Path, description = "Username")),
    responses((status = 201, body = CreatedToken), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(username): ApiPath<String>,
    OptionalJson(token): OptionalJson<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (info, token) = state.store.create_token(&caller, &username, token).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { info, token })))
}

/// Revokes a token (its owner, or an admin). Revoked tokens get 401 at once.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "people",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 200, body = TokenInfo), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TokenInfo>> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::not_found(format!("no token `{id}`")))?;
    Ok(Json(state.store.revoke_token(&caller, id).await?))
}
