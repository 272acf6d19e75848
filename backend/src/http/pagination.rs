//! Offset pagination of the list routes: `?limit=` (1–500, default 50) and the opaque
//! `cursor` from a page's `next_cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 500;

/// Page size from `?limit=` (default 50, 1..=500).
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation("limit", "limit must be between 1 and 500")),
    }
}

/// Encodes an offset cursor.
pub fn encode_cursor(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// Decodes an offset cursor.
pub fn decode_cursor(cursor: Option<&str>) -> Result<i64, ApiError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::validation("cursor", "invalid cursor"))
}

/// Defines a list answer: `$name` is `{items, total, next_cursor}` of `$item`s (the shape of
/// every list route), with its OpenAPI schema.
macro_rules! page_of {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            /// The page's items.
            pub items: Vec<$item>,
            /// How many there are in all.
            pub total: i64,
            /// Cursor of the next page; null on the last (and on a list that is not paginated).
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }
    };
}
pub(crate) use page_of;
