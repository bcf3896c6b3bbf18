//! What can go wrong in the data layer.

use stackflow_core::{FieldError, Refusal};

/// A store failure. Refusals and not-found are the caller's fault and become
/// 4xx; `Database` is ours and becomes a logged 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The domain refused the operation.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The client's version is stale: someone else wrote first.
    #[error("stale version: the change is at version {current}, not {expected}")]
    StaleVersion {
        /// What the client sent.
        expected: i64,
        /// What the store has.
        current: i64,
    },
    /// The change moved on after its risk was assessed: assess it again and
    /// retry.
    #[error("{0} changed after its risk was assessed")]
    AssessmentOutdated(String),
    /// A uniqueness rule was violated (e.g. a name already taken).
    #[error("{0}")]
    Duplicate(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored data could not be decoded (a bug or a hand edit).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Writing an export failed.
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Refused(Refusal::invalid(field, message))
    }

    /// A 422 for several fields.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        StoreError::Refused(Refusal::Invalid(errors))
    }

    /// True for a unique-constraint violation, on either backend.
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        err.as_database_error()
            .is_some_and(|e| e.is_unique_violation())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
