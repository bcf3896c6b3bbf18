//! Calendar feeds: `/api/schedule/feeds` to create, list and revoke them,
//! and `/feeds/{key}/schedule.ics`, the secret address a calendar client
//! subscribes to. Outlook, Google Calendar and Thunderbird fetch a bare URL
//! and cannot send `Authorization`, so the key in the address is the
//! credential; it opens the schedule's iCalendar form and nothing else,
//! which is why that address sits outside `/api` (where every call needs a
//! bearer token).

use super::schedule::ScheduleParams;
use super::schedule_ics::{TEXT_CALENDAR, schedule_ics};
use crate::AppState;
use crate::extract::{ApiPath, ApiQuery, Auth, OptionalJson};
use crate::pagination::{ListResponse, PageParams};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use stackflow_store::{CalendarFeed, NewCalendarFeed};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Where feeds are served, before the key.
const FEED_PATH_PREFIX: &str = "/feeds/";

/// The path of the feed a key opens, for the server and the CLI alike.
pub fn calendar_feed_path(key: &str) -> String {
    format!("{FEED_PATH_PREFIX}{key}/schedule.ics")
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_feeds, create_feed))
        .routes(routes!(revoke_feed))
        .routes(routes!(get_feed))
}

/// A new feed: its metadata, its key and the address to subscribe to,
/// shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedFeed {
    /// The feed's metadata.
    #[serde(flatten)]
    feed: CalendarFeed,
    /// The secret key. It is stored only as a hash: keep it now.
    key: String,
    /// The address calendar clients subscribe to (absolute under the
    /// configured `public_url`).
    url: String,
}

/// Lists the caller's calendar feeds (every user's to an admin), oldest
/// first, revoked ones included, without their keys.
#[utoipa::path(get, path = "/api/schedule/feeds", tag = "schedule", params(PageParams),
    responses((status = 200, body = ListResponse<CalendarFeed>), (status = 401, body = Problem)))]
async fn list_feeds(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<CalendarFeed>>> {
    let page = params.request()?;
    Ok(Json(
        state.store.list_calendar_feeds(&caller, page).await?.into(),
    ))
}

/// Creates a calendar feed for the caller: a secret address from which a
/// calendar client subscribes to the change schedule.
#[utoipa::path(post, path = "/api/schedule/feeds", tag = "schedule",
    request_body(content = Option<NewCalendarFeed>, description = "optional"),
    responses((status = 201, body = CreatedFeed), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn create_feed(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OptionalJson(feed): OptionalJson<NewCalendarFeed>,
) -> ApiResult<(StatusCode, Json<CreatedFeed>)> {
    let owner = caller.actor.username.clone();
    let (feed, key) = state
        .store
        .create_calendar_feed(&caller, &owner, feed)
        .await?;
    let url = state.link(&calendar_feed_path(&key));
    Ok((StatusCode::CREATED, Json(CreatedFeed { feed, key, url })))
}

/// Revokes a calendar feed (its owner, or an admin): its address answers
/// 404 from then on.
#[utoipa::path(delete, path = "/api/schedule/feeds/{id}", tag = "schedule",
    params(("id" = i64, Path, description = "Feed id")),
    responses((status = 200, body = CalendarFeed), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn revoke_feed(
    State(state): State<AppState>,
    Auth(caller): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CalendarFeed>> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::not_found(format!("no calendar feed `{id}`")))?;
    Ok(Json(state.store.revoke_calendar_feed(&caller, id).await?))
}

/// The change schedule as iCalendar, for a calendar client subscribed to a
/// feed: the same document as `/api/schedule.ics`, with the key in the
/// address instead of a bearer token. An unknown or revoked key, or one
/// whose owner is deactivated, gets 404.
#[utoipa::path(get, path = "/feeds/{key}/schedule.ics", tag = "schedule", security(()),
    params(("key" = String, Path, description = "The feed's key"), ScheduleParams),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn get_feed(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(params): ApiQuery<ScheduleParams>,
) -> ApiResult<impl IntoResponse> {
    let Some((feed, owner)) = state.store.calendar_feed_of_key(&key).await? else {
        return Err(AppError::not_found("no such calendar feed"));
    };
    // Which feed was read, for tracing a client's traffic: never the key.
    tracing::debug!(feed, %owner, "calendar feed read");
    let body = schedule_ics(&state, &params).await?;
    Ok((
        [
            (header::CONTENT_TYPE, TEXT_CALENDAR),
            // The answer is one person's subscription: no shared cache
            // keeps it, and no page it links to learns the address.
            (header::CACHE_CONTROL, "private, no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    ))
}
