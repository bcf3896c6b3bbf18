//! Why the domain said no.

use serde::Serialize;

/// One invalid field of an input, named by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, e.g. `planned_end` or `affected_cis[2]`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A refused action. Each variant maps to one HTTP status; `rule` names the
/// rule that refused, so the user learns what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The actor may not do this (403).
    #[error("{rule}: {detail}")]
    Forbidden {
        /// Machine-readable rule name.
        rule: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// Not possible in the change's current state (409).
    #[error("{rule}: {detail}")]
    Conflict {
        /// Machine-readable rule name.
        rule: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// The input is invalid (422).
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

impl Refusal {
    /// A 403 refusal.
    pub fn forbidden(rule: &'static str, detail: impl Into<String>) -> Self {
        Refusal::Forbidden {
            rule,
            detail: detail.into(),
        }
    }

    /// A 409 refusal.
    pub fn conflict(rule: &'static str, detail: impl Into<String>) -> Self {
        Refusal::Conflict {
            rule,
            detail: detail.into(),
        }
    }

    /// A 422 refusal for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Refusal::Invalid(vec![FieldError::new(field, message)])
    }
}
