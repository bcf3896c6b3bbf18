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
#[into_params(parameter_in = Query)]
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

/// The position a cursor of this API holds; `400 bad_cursor` for any other.
pub(crate) fn decode(cursor: &str) -> Result<i64, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("k:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| AppError::bad_request("bad_cursor", "the cursor is not one this API issued"))
}

/// The cursor of a position.
pub(crate) fn encode(position: i64) -> String {
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
    /// One page of a list read whole (small by nature: the windows, the
    /// templates, a change's tasks), cut by `?limit=` and `?cursor=` like the
    /// lists the store pages. Here the cursor holds the position of the
    /// page's first item in the list's fixed order; a cursor past the end
    /// gives an empty last page.
    pub fn page_of_whole(items: Vec<T>, page: PageRequest) -> Self {
        let total = items.len();
        let start = page
            .after
            .map_or(0, |position| usize::try_from(position).unwrap_or(total))
            .min(total);
        let end = start
            .saturating_add(usize::try_from(page.limit).unwrap_or(usize::MAX))
            .min(total);
        let next_cursor = (end < total)
            .then(|| i64::try_from(end).ok())
            .flatten()
            .map(encode);
        ListResponse {
            items: items.into_iter().skip(start).take(end - start).collect(),
            next_cursor,
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

    /// Follows a whole list's cursors page by page, as a client would.
    fn pages_of(items: &[u32], limit: u32) -> Vec<Vec<u32>> {
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = PageParams {
                limit: Some(i64::from(limit)),
                cursor,
            }
            .request()
            .unwrap();
            let response = ListResponse::page_of_whole(items.to_vec(), page);
            pages.push(response.items);
            match response.next_cursor {
                Some(next) => cursor = Some(next),
                None => return pages,
            }
        }
    }

    #[test]
    fn a_whole_list_is_cut_into_pages_each_item_once() {
        let items: Vec<u32> = (1..=5).collect();
        assert_eq!(pages_of(&items, 2), [vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(pages_of(&items, 5), vec![items.clone()]);
        assert_eq!(pages_of(&items, 500), vec![items]);
        assert_eq!(pages_of(&[], 2), [Vec::<u32>::new()]);
    }

    #[test]
    fn a_cursor_past_the_end_of_a_whole_list_gives_an_empty_last_page() {
        for position in [5, 6, i64::MAX, -1] {
            let page = PageRequest {
                limit: 2,
                after: Some(position),
            };
            let response = ListResponse::page_of_whole(vec![1, 2, 3, 4, 5], page);
            assert!(response.items.is_empty(), "{position}");
            assert_eq!(response.next_cursor, None, "{position}");
        }
    }

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
