//! What the API-style kinds (ntfy, Gotify, Pushover, PagerDuty, Opsgenie, Matrix) share: an
//! endpoint under a configured base URL, a token fit for a header, the service's id in its
//! success answer, and a cut by bytes for services that count bytes.

use serde_json::Value;
use url::Url;

use crate::FieldError;
use crate::http::{self, Disposition, Response};

/// `base` with `path` (which starts with `/`) appended to its path; query and fragment
/// dropped. `https://push.example/gotify/` + `/message` → `https://push.example/gotify/message`.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let joined = format!("{}{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url
}

/// Checks a token sent in a header: visible ASCII only (no spaces, no line breaks), at
/// most `max` characters. The error names `field`, never the value.
pub fn check_token(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.len() > max {
        return Err(FieldError::new(field, format!("is longer than {max} characters")));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            "must be visible ASCII characters without spaces",
        ));
    }
    Ok(())
}

/// The default meaning of `r`, with the service's id for the message taken from the JSON
/// field `field` of a success answer (a string or a number).
pub fn delivered_with(r: &Response, field: &str) -> Disposition {
    match http::classify(r) {
        Disposition::Delivered { .. } => Disposition::Delivered {
            external_id: external_id(r, field),
        },
        other => other,
    }
}

/// The JSON field `field` of `r`'s body as text.
pub fn external_id(r: &Response, field: &str) -> Option<String> {
    match r.json()?.get(field)? {
        Value::String(s) if !s.is_empty() => Some(http::truncate(s, crate::limits::SHORT)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `text` cut to at most `max` bytes (at a character boundary), with `…` when cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Whether every character of `s` is ASCII alphanumeric or one of `extra`.
pub fn is_word(s: &str, extra: &[char]) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path_and_drop_its_query() {
        let base = Url::parse("https://push.example/gotify/?x=1#f").unwrap();
        assert_eq!(
            endpoint(&base, "/message").as_str(),
            "https://push.example/gotify/message"
        );
        let root = Url::parse("https://api.pushover.net").unwrap();
        assert_eq!(
            endpoint(&root, "/1/messages.json").as_str(),
            "https://api.pushover.net/1/messages.json"
        );
    }

    #[test]
    fn byte_cuts_stop_at_a_character_boundary() {
        assert_eq!(truncate_bytes("abc", 3), "abc");
        let cut = truncate_bytes("жжжжж", 7);
        assert!(cut.len() <= 7 && cut.ends_with('…'), "{cut}");
    }

    #[test]
    fn tokens_refuse_spaces_and_line_breaks() {
        assert!(check_token("secrets.token", "tk_abc", 64).is_ok());
        assert_eq!(
            check_token("secrets.token", "a b", 64).unwrap_err().field,
            "secrets.token"
        );
        assert!(check_token("secrets.token", "a\r\nX: y", 64).is_err());
        assert!(check_token("secrets.token", &"a".repeat(65), 64).is_err());
    }

    #[test]
    fn external_ids_are_strings_or_numbers() {
        let r = |body: &str| crate::kinds::shared::test::answer(200, &[], body);
        assert_eq!(external_id(&r(r#"{"id":25}"#), "id").as_deref(), Some("25"));
        assert_eq!(external_id(&r(r#"{"id":"abc"}"#), "id").as_deref(), Some("abc"));
        assert_eq!(external_id(&r("nope"), "id"), None);
        assert!(matches!(
            delivered_with(&r(r#"{"id":"x"}"#), "id"),
            Disposition::Delivered { external_id: Some(_) }
        ));
    }
}
