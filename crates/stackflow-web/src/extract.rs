//! Our own extractors, so that every rejected input is a problem+json in
//! our format rather than axum's plain-text default.

use crate::AppState;
use crate::problem::AppError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;
use stackflow_core::{Actor, ChangeNumber, Channel};
use stackflow_store::Caller;

/// A JSON body. Malformed JSON is 400; a body of the wrong shape (missing or
/// unknown fields, wrong types, unknown enum values) is 422 naming the field;
/// a body over the limit is 413; a non-JSON content type is 415.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_problem)?;
        if !is_json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: absent or empty is the type's default; anything
/// else must be valid JSON of that type.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_problem)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

fn body_problem(rejection: BytesRejection) -> AppError {
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

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        json_problem(&path, err.into_inner())
    })?;
    deserializer.end().map_err(|err| json_problem(".", err))?;
    Ok(value)
}

fn json_problem(path: &str, err: serde_json::Error) -> AppError {
    if err.is_syntax() || err.is_eof() {
        AppError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {err}"),
        )
    } else {
        let field = if path == "." { "body" } else { path };
        AppError::invalid(vec![stackflow_core::FieldError::new(
            field,
            strip_position(&err.to_string()),
        )])
    }
}

/// serde_json appends " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Query parameters; a malformed query is 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| AppError::bad_request("bad_query", e.body_text()))
    }
}

/// The authenticated caller: a bearer token that is known, not revoked,
/// not expired, and whose user is active. Anything else is 401.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| AppError::unauthorized("send `Authorization: Bearer <token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let now = state.clock.now();
        let actor: Actor =
            state.store.authenticate(token, now).await?.ok_or_else(|| {
                AppError::unauthorized("the token is unknown, revoked or expired")
            })?;
        Ok(Auth(Caller::new(actor, Channel::Api, now)))
    }
}

/// The `If-Match` header as a change version: `3`, `"3"` or `W/"3"`.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let text = value.to_str().unwrap_or_default().trim();
        let bare = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
        bare.parse::<i64>().map(|v| IfMatch(Some(v))).map_err(|_| {
            AppError::bad_request(
                "bad_if_match",
                format!("If-Match must be a change version, got `{text}`"),
            )
        })
    }
}

impl IfMatch {
    /// The expected version: the header wins over a body `version`; when
    /// both are given they must agree.
    pub fn or_body(self, body: Option<i64>) -> Result<Option<i64>, AppError> {
        match (self.0, body) {
            (Some(h), Some(b)) if h != b => Err(AppError::bad_request(
                "version_mismatch",
                format!("If-Match says version {h} but the body says {b}"),
            )),
            (h, b) => Ok(h.or(b)),
        }
    }
}

/// Parses a change number from a path; a malformed one names no change (404).
pub fn change_number(text: &str) -> Result<ChangeNumber, AppError> {
    text.parse().map_err(|_| {
        AppError::not_found(format!(
            "no change `{text}`: change numbers look like CHG0000456"
        ))
    })
}
