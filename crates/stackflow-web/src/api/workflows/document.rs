//! What `/api/workflows` reads and returns: a workflow document in JSON or
//! YAML, and stored versions as views.

use crate::AppState;
use crate::body::body_problem;
use crate::problem::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};
use serde::Serialize;
use stackflow_core::FieldError;
use stackflow_core::workflow::{DocumentFormat, WorkflowDocument, parse_document};
use stackflow_store::{StoredWorkflow, WorkflowHistory, WorkflowVersion};

/// A workflow document body: JSON (`application/json`) or YAML
/// (`application/yaml`, `text/yaml`), parsed by the core so that a bad field
/// is a 422 naming its path, as validation errors do.
pub(super) struct DocumentBody(pub WorkflowDocument);

impl FromRequest<AppState> for DocumentBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let mime = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        let format = match mime.as_deref() {
            Some("application/json") => DocumentFormat::Json,
            Some("application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml") => {
                DocumentFormat::Yaml
            }
            _ => {
                return Err(AppError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the workflow as application/json or application/yaml",
                ));
            }
        };
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_problem)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            AppError::invalid(vec![FieldError::new("document", "must be UTF-8 text")])
        })?;
        let document = parse_document(text, format)?;
        // PostgreSQL cannot store NUL in text or JSON, and no name needs
        // one. Checked on the parsed document as it will be stored, so an
        // escape (`\0` in YAML, `\u0000` in JSON) is caught too.
        let stored = serde_json::to_string(&document).map_err(|_| {
            AppError::invalid(vec![FieldError::new("document", "cannot be stored")])
        })?;
        if text.contains('\0') || stored.contains("\\u0000") {
            return Err(AppError::invalid(vec![FieldError::new(
                "document",
                "may not contain NUL characters",
            )]));
        }
        Ok(DocumentBody(document))
    }
}

/// One stored version of a workflow.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WorkflowView {
    /// The workflow's name.
    name: String,
    /// The version (1 for the first save, +1 per edit).
    version: u32,
    /// Whether it may be selected.
    active: bool,
    /// Its priority among matching workflows.
    priority: i32,
    /// The document (see docs/workflows.md).
    #[schema(value_type = Object)]
    document: WorkflowDocument,
    /// When this version was saved.
    created_at: DateTime<Utc>,
    /// Who saved it (`system` for the installed defaults).
    created_by: String,
}

impl From<StoredWorkflow> for WorkflowView {
    fn from(stored: StoredWorkflow) -> Self {
        WorkflowView {
            name: stored.name,
            version: stored.version,
            active: stored.active,
            priority: stored.priority,
            document: stored.document,
            created_at: stored.created_at,
            created_by: stored.created_by,
        }
    }
}

/// One entry of a workflow's version history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct VersionView {
    /// The version.
    version: u32,
    /// Whether it was active.
    active: bool,
    /// Its priority.
    priority: i32,
    /// When it was saved.
    created_at: DateTime<Utc>,
    /// Who saved it.
    created_by: String,
}

impl From<WorkflowVersion> for VersionView {
    fn from(version: WorkflowVersion) -> Self {
        VersionView {
            version: version.version,
            active: version.active,
            priority: version.priority,
            created_at: version.created_at,
            created_by: version.created_by,
        }
    }
}

/// A workflow version with every version of its name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct WorkflowDetail {
    #[serde(flatten)]
    workflow: WorkflowView,
    /// Every version, oldest first.
    versions: Vec<VersionView>,
}

impl From<WorkflowHistory> for WorkflowDetail {
    fn from(history: WorkflowHistory) -> Self {
        WorkflowDetail {
            workflow: history.workflow.into(),
            versions: history.versions.into_iter().map(Into::into).collect(),
        }
    }
}
