//! Stored approval workflows: a document with the version it was saved as.

use chrono::{DateTime, Utc};
use serde::Serialize;
use stackflow_core::workflow::{Workflow, WorkflowDocument};

/// One saved version of a workflow document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredWorkflow {
    /// The workflow's name (its document's).
    pub name: String,
    /// The version (1 for the first save, +1 per edit).
    pub version: u32,
    /// Whether this version may be selected (the document's `active`).
    pub active: bool,
    /// Its priority among matching workflows (the document's `priority`).
    pub priority: i32,
    /// The document as saved.
    pub document: WorkflowDocument,
    /// When this version was saved.
    pub created_at: DateTime<Utc>,
    /// Who saved it (`system` for the defaults `migrate` installs).
    pub created_by: String,
}

impl StoredWorkflow {
    /// The version as the workflow core selects and resolves it.
    pub fn to_workflow(&self) -> Workflow {
        Workflow {
            version: self.version,
            document: self.document.clone(),
        }
    }
}

/// One entry of a workflow's version history (without its document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowVersion {
    /// The version.
    pub version: u32,
    /// Whether it was active.
    pub active: bool,
    /// Its priority.
    pub priority: i32,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// Who saved it.
    pub created_by: String,
}

/// A workflow version with the history of every version of its name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowHistory {
    /// The requested (by default the current) version.
    pub workflow: StoredWorkflow,
    /// Every version of the name, oldest first.
    pub versions: Vec<WorkflowVersion>,
}

/// Who `migrate` records as the author of the default workflows.
pub const SYSTEM_AUTHOR: &str = "system";
