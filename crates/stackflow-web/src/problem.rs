//! RFC 9457 problem details: the one error type of the HTTP layer.
//!
//! Every failure a client can cause maps to a 4xx with a `type` naming the
//! rule that refused; server faults become a logged 500 whose cause is never
//! shown to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stackflow_core::{FieldError, Refusal};
use stackflow_store::StoreError;

/// A problem to report to the client.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    rule: String,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
}

/// Handler results.
pub type ApiResult<T> = Result<T, AppError>;

/// The JSON body of a problem response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:stackflow:problem:<rule>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The rule that refused (also the last part of `type`).
    pub rule: String,
    /// For validation errors: each bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl AppError {
    /// A problem with a status, rule and detail.
    pub fn new(status: StatusCode, rule: impl Into<String>, detail: impl Into<String>) -> Self {
        let title = match status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "Payload too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
            StatusCode::UNPROCESSABLE_ENTITY => "Validation failed",
            StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
            // Any other client error keeps HTTP's own name for its status;
            // only server errors read as such.
            other if other.is_client_error() => other.canonical_reason().unwrap_or("Client error"),
            _ => "Internal server error",
        };
        AppError {
            status,
            rule: rule.into(),
            title,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 400.
    pub fn bad_request(rule: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, rule, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 400 `bad_query`: a query parameter that cannot be read, named in
    /// `errors` as a validation error's fields are.
    pub fn bad_query_parameter(field: &str, message: &str) -> Self {
        AppError {
            errors: vec![FieldError::new(field, message)],
            ..Self::bad_request("bad_query", format!("{field}: {message}"))
        }
    }

    /// 422 listing the bad fields.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        AppError {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Forbidden { rule, detail } => {
                AppError::new(StatusCode::FORBIDDEN, rule, detail)
            }
            Refusal::Conflict { rule, detail } => AppError::new(StatusCode::CONFLICT, rule, detail),
            Refusal::Invalid(errors) => AppError::invalid(errors),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => AppError::not_found(format!("{what} not found")),
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::StaleVersion { .. } => {
                AppError::new(StatusCode::CONFLICT, "stale_version", err.to_string())
            }
            StoreError::Duplicate(detail) => {
                AppError::new(StatusCode::CONFLICT, "duplicate", detail)
            }
            StoreError::AssessmentOutdated(_) => AppError::new(
                StatusCode::CONFLICT,
                "assessment_outdated",
                format!("{err}; it kept changing, so try again"),
            ),
            StoreError::Database(_)
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Io(_) => {
                // Logged here, once; the client learns only that it was our fault.
                tracing::error!(error = %err, "store failure");
                AppError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = Problem {
            problem_type: format!("urn:stackflow:problem:{}", self.rule),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            rule: self.rule,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"stackflow\""),
            );
        }
        response
    }
}
