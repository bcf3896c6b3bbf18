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
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
