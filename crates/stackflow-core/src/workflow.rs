//! Configurable approval workflows: documents that say which changes they
//! apply to and which stages approve them.
//!
//! The path of a document, all pure:
//!
//! 1. [`parse_document`] reads JSON or YAML into a [`WorkflowDocument`];
//! 2. [`validate`] checks it against the groups of the organisation and lists
//!    every problem with its field path (on save);
//! 3. [`select`] picks the workflow for a change when it is submitted;
//! 4. [`resolve_plan`] turns it into the [`ApprovalPlan`](crate::ApprovalPlan)
//!    frozen on the change — the evaluator in `approval` never sees documents;
//! 5. [`approval_due_at`] computes the round's due time from its [`Sla`].
//!
//! [`default_workflows`] reproduces the built-in policy as documents.

mod defaults;
mod document;
mod resolve;
mod select;
mod sla;
mod validate;

pub use defaults::{DEFAULT_WORKFLOWS_YAML, default_workflows};
pub use document::{
    ApproverSpec, DocumentFormat, LaneDocument, Sla, StageDocument, WorkflowDocument, WorkflowKind,
    WorkflowMatch, parse_document,
};
pub use resolve::resolve_plan;
pub use select::select;
pub use sla::approval_due_at;
pub use validate::validate;

use crate::directory::Actor;
use crate::enums::ChangeType;
use crate::risk::RiskLevel;

/// A stored version of a workflow document, as the store hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// The stored version (1 for the first save, +1 per edit).
    pub version: u32,
    /// The document of that version.
    pub document: WorkflowDocument,
}

impl Workflow {
    /// The workflow's name (its document's).
    pub fn name(&self) -> &str {
        &self.document.name
    }
}

/// What selection and resolution need to know about a change, gathered by
/// the store when the change is submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFacts {
    /// The change's type.
    pub change_type: ChangeType,
    /// Its risk level, once assessed.
    pub risk_level: Option<RiskLevel>,
    /// The classes of its affected CIs.
    pub ci_classes: Vec<String>,
    /// The owner groups of its affected CIs.
    pub ci_owner_groups: Vec<String>,
    /// Its assignment group.
    pub assignment_group: Option<String>,
    /// Who requested it (never an approver of it).
    pub requester: String,
    /// Active users with their roles, for `role` approvers.
    pub users: Vec<Actor>,
}

impl ChangeFacts {
    /// Facts of a change with nothing known beyond its type and requester.
    pub fn new(change_type: ChangeType, requester: impl Into<String>) -> Self {
        ChangeFacts {
            change_type,
            risk_level: None,
            ci_classes: Vec::new(),
            ci_owner_groups: Vec::new(),
            assignment_group: None,
            requester: requester.into(),
            users: Vec::new(),
        }
    }
}

/// The workflow chosen for a change with the facts it resolves against:
/// what `lifecycle::decide` needs to plan a submission from a workflow
/// instead of the built-in policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedWorkflow {
    /// The workflow version that applies.
    pub workflow: Workflow,
    /// The change's facts (type, requester and assignment group are taken
    /// from the change itself when deciding).
    pub facts: ChangeFacts,
}
