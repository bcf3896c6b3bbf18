//! Cursor pagination: `?limit=` (default 50, at most 500) and `?cursor=`.
//!
//! Cursors are opaque to clients: base64url of the keyset position, so a
//! page boundary never shifts when items are created while a client pages.

use crate::problem::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use stackflow_store::{Page, PageRequest};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size; larger requests are served this many.
pub const MAX_LIMIT: u32 = 500;

/// The pagination query parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// Items per page (1–500, default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// Validates into a store page request.
    pub fn request(&self) -> Result<PageRequest, AppError> {
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(n) if n < 1 => {
                return Err(AppError::bad_request(
                    "bad_limit",
                    "limit must be at least 1",
                ));
            }
            Some(n) => u32::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
        };
        let after = self.cursor.as_deref().map(decode).transpose()?;
        Ok(PageRequest { limit, after })
    }
}

fn decode(cursor: &str) -> Result<i64, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("k:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| AppError::bad_request("bad_cursor", "the cursor is not one this API issued"))
}

fn encode(position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("k:{position}"))
}

/// A page of items as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListResponse<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> ListResponse<T> {
    /// A list that is always returned whole (it is small by nature: a
    /// change's tasks, a user's tokens), in the same shape as paged lists.
    pub fn complete(items: Vec<T>) -> Self {
        ListResponse {
            items,
            next_cursor: None,
        }
    }
}

impl<T> From<Page<T>> for ListResponse<T> {
    fn from(page: Page<T>) -> Self {
        ListResponse {
            items: page.items,
            next_cursor: page.next_cursor.map(encode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let params = PageParams {
            limit: Some(900),
            cursor: Some(encode(42)),
        };
        let request = params.request().unwrap();
        assert_eq!((request.limit, request.after), (MAX_LIMIT, Some(42)));
        assert!(
            PageParams {
                limit: Some(0),
                cursor: None
            }
            .request()
            .is_err()
        );
        assert!(
            PageParams {
                limit: None,
                cursor: Some("nonsense!".into())
            }
            .request()
            .is_err()
        );
    }
}
