//! JSON request bodies, parsed so that every problem names its field.
//!
//! Malformed JSON is 400; a body of the wrong shape (not an object, missing
//! or unknown fields, wrong types, unknown enum values, text with NUL
//! characters) is 422 naming the field; over the size limit is 413; a body
//! sent with a content type other than JSON is 415. A body sent with no
//! content type at all is read as JSON: scripts often leave it out, and
//! JSON is all this API takes.

use crate::AppState;
use crate::problem::AppError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use stackflow_core::FieldError;

/// A required JSON object body.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json_type = is_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_problem)?;
        if !json_type {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON object body: absent or empty is the type's default;
/// anything else must be a JSON object of that type, sent as JSON.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json_type = is_json(req.headers());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_problem)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json_type {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Whether a body may be read as JSON: its content type says JSON
/// (`application/json`, with parameters or not, or a `+json` type), or it
/// has none.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
}

fn unsupported_media_type() -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as application/json",
    )
}

pub(crate) fn body_problem(rejection: BytesRejection) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
        )
    } else {
        AppError::bad_request("unreadable_body", rejection.body_text())
    }
}

/// Parses a body in two steps: to a JSON value (syntax, object shape, NUL
/// characters), then to `T` with the path of any mismatch.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|err| {
        AppError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {err}"),
        )
    })?;
    if !value.is_object() {
        return Err(AppError::invalid(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    }
    if let Some(path) = find_nul(&value, String::new()) {
        return Err(AppError::invalid(vec![FieldError::new(
            path,
            "may not contain NUL characters",
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        AppError::invalid(vec![field_error(&path, &message)])
    })
}

/// Names the field of a mismatch; a missing field is reported as itself,
/// not as its parent object.
fn field_error(path: &str, message: &str) -> FieldError {
    let parent = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.strip_suffix('`')
    {
        let field = if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        };
        return FieldError::new(field, "required");
    }
    FieldError::new(if parent.is_empty() { "body" } else { parent }, message)
}

/// The path of the first string (or key) containing a NUL character: such
/// text cannot be stored in PostgreSQL and has no place in a change record.
fn find_nul(value: &Value, path: String) -> Option<String> {
    let at = |path: &str| {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(at(&path)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_nul(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(child)
            } else {
                find_nul(item, child)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_field() {
        assert_eq!(
            field_error(".", "missing field `decision`"),
            FieldError::new("decision", "required")
        );
        assert_eq!(
            field_error("a.b", "missing field `c`"),
            FieldError::new("a.b.c", "required")
        );
        let nested = serde_json::json!({"affected_cis": ["ok", "bad\u{0}"]});
        assert_eq!(
            find_nul(&nested, String::new()).as_deref(),
            Some("affected_cis[1]")
        );
    }
}
