//! Our own extractors, so that every rejected input is a problem+json in
//! our format rather than axum's plain-text default.

pub use crate::body::{ApiJson, OptionalJson};

use crate::AppState;
use crate::problem::AppError;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;
use stackflow_core::{Actor, ChangeNumber, Channel};
use stackflow_store::Caller;

/// Query parameters; a malformed query is 400 `bad_query`, naming the
/// parameter in `errors` as a validation error names a field.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(AppError::bad_request(
                "bad_query",
                "query parameters may not contain NUL characters",
            ));
        }
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                // The parameter's name, as validation errors name fields;
                // `.` when the query as a whole could not be read.
                let field = error.path().to_string();
                let message = error.inner().to_string();
                if field == "." {
                    AppError::bad_request("bad_query", message)
                } else {
                    AppError::bad_query_parameter(&field, &message)
                }
            })
    }
}

/// Path parameters; one that cannot be decoded (e.g. invalid UTF-8) names
/// nothing here: 404.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| AppError::not_found(format!("no such resource: {}", e.body_text())))
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
            .and_then(bearer_credentials)
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

/// The token of an `Authorization` header value: the scheme name is
/// case-insensitive (RFC 9110 §11.1), so `BEARER x` is as good as `Bearer x`.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
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
        if text == "*" {
            // "Any current version": the same as sending no precondition.
            return Ok(IfMatch(None));
        }
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

#[cfg(test)]
mod tests {
    use super::bearer_credentials;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer sf_abc",
            "bearer sf_abc",
            "BEARER sf_abc",
            "bEaReR  sf_abc ",
        ] {
            assert_eq!(bearer_credentials(value), Some("sf_abc"), "{value}");
        }
    }

    #[test]
    fn other_schemes_and_bare_tokens_are_not_bearer_credentials() {
        for value in ["Basic c2Y6YWJj", "sf_abc", "Bearersf_abc", "Token sf_abc"] {
            assert_eq!(bearer_credentials(value), None, "{value}");
        }
    }
}
