//! The REST API, one module per resource, assembled with its OpenAPI
//! description (generated from the handlers' annotations).

mod actions;
mod approvals;
mod audit;
mod cab;
pub(crate) mod cab_agenda;
mod cab_outcomes;
mod calendar;
mod changes;
mod cmdb;
mod impact;
mod import;
mod people;
mod schedule;
mod schedule_feeds;
mod schedule_ics;
mod tasks;
mod templates;
mod windows;
mod workflows;

use crate::AppState;
pub use schedule_feeds::calendar_feed_path;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "StackFlow API", description = "ITIL change enablement: changes, approvals, CMDB, audit."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "changes", description = "Change requests and their lifecycle"),
        (name = "cmdb", description = "Configuration items and relationships"),
        (name = "people", description = "Users, groups and API tokens"),
        (name = "templates", description = "Standard change templates"),
        (name = "cab", description = "The Change Advisory Board: meeting schedule, agendas and outcomes"),
        (name = "schedule", description = "The business calendar, maintenance and blackout windows, and the change schedule"),
        (name = "workflows", description = "Approval workflow documents, versioned"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(changes::routes())
        .merge(actions::routes())
        .merge(approvals::routes())
        .merge(tasks::routes())
        .merge(audit::routes())
        .merge(cmdb::routes())
        .merge(impact::routes())
        .merge(import::routes())
        .merge(templates::routes())
        .merge(people::routes())
        .merge(calendar::routes())
        .merge(windows::routes())
        .merge(schedule::routes())
        .merge(schedule_feeds::routes())
        .merge(workflows::routes())
        .merge(cab::routes())
}

/// The media type of every error answer (RFC 9457).
const PROBLEM_JSON: &str = "application/problem+json";

/// Finishes the generated document with what holds for every route and is
/// not repeated on each one: an error answer is a problem document
/// (`application/problem+json`, where the annotations can only say JSON),
/// and every route under `/api/` answers `401` without a valid token.
pub fn finish_document(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/api/");
        for operation in operations_mut(item) {
            let responses = &mut operation.responses.responses;
            for (status, response) in responses.iter_mut() {
                if let (true, RefOr::T(response)) = (is_error_status(status), response) {
                    as_problem_json(response);
                }
            }
            if authenticated {
                responses
                    .entry("401".to_owned())
                    .or_insert_with(|| RefOr::T(unauthorized_response()));
            }
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// `4XX`, `5XX` and every status from 400 up.
fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

fn as_problem_json(response: &mut Response) {
    if let Some(content) = response.content.shift_remove("application/json") {
        response.content.insert(PROBLEM_JSON.to_owned(), content);
    }
}

fn unauthorized_response() -> Response {
    ResponseBuilder::new()
        .description("No token, or one that is unknown, revoked or expired")
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}
