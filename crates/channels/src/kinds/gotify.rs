//! Gotify: `POST /message` with an application token (<https://gotify.net/api-docs>,
//! message extras: <https://gotify.net/docs/msgextras>).
//!
//! The token goes in the `X-Gotify-Key` header. The body is `title`, `message` (Markdown,
//! declared by the `client::display` extra), `priority` (0–10) and a `client::notification`
//! click URL. Gotify answers 200 with the stored message and its numeric `id`; 401/403 mean
//! the token is wrong.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::api::{check_token, delivered_with, endpoint};
use super::shared::{by_severity, markdown_links};
use super::slack::markdown;
use crate::http::{parse_url, truncate};
use crate::{Channel, Disposition, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// The highest priority.
pub const PRIORITY_MAX: u8 = 10;
/// The title's length.
pub const TITLE_MAX: usize = 250;
/// The message's length.
pub const MESSAGE_MAX: usize = 16_000;
/// An application token's length (Gotify's are 15 characters).
pub const TOKEN_MAX: usize = 128;

/// Gotify.
pub struct Gotify;

/// Gotify's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GotifySettings {
    /// The server's base URL: `https://push.example.com`.
    pub url: String,
    /// 0–10; by default from the severity (critical 8, warning 5, info 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
}

fn priority(s: &GotifySettings, n: &Notice) -> u8 {
    s.priority.unwrap_or(by_severity(n, [8, 5, 2]))
}

/// The message as Markdown: facts, text, digest and links, one paragraph each.
pub fn message(n: &Notice) -> String {
    let mut parts: Vec<String> = n
        .facts
        .iter()
        .map(|(l, v)| format!("**{}**: {}", markdown(l), markdown(v)))
        .collect();
    if let Some(t) = &n.text {
        parts.push(markdown(t));
    }
    parts.extend(n.digest_lines().iter().map(|l| markdown(l)));
    if parts.is_empty() {
        parts.push(markdown(&n.headline));
    }
    let links = markdown_links(n, markdown);
    if !links.is_empty() {
        parts.push(links);
    }
    truncate(&parts.join("\n\n"), MESSAGE_MAX)
}

impl Channel for Gotify {
    const KIND: Kind = Kind::Gotify;
    const SECRETS: &'static [SecretField] = &[SecretField {
        name: "token",
        required: true,
    }];
    type Settings = GotifySettings;

    fn validate(s: &GotifySettings, secrets: &Secrets) -> Result<(), FieldError> {
        parse_url("settings.url", &s.url)?;
        if s.priority.is_some_and(|p| p > PRIORITY_MAX) {
            return Err(FieldError::new(
                "settings.priority",
                format!("must be 0–{PRIORITY_MAX}"),
            ));
        }
        check_token("secrets.token", secrets.required("token")?, TOKEN_MAX)
    }

    fn summary(s: &GotifySettings) -> String {
        match url::Url::parse(s.url.trim()) {
            Ok(u) => format!(
                "Gotify {}{}",
                u.host_str().unwrap_or_default(),
                u.path().trim_end_matches('/')
            ),
            Err(_) => "Gotify".to_owned(),
        }
    }

    fn render(s: &GotifySettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let base = parse_url("settings.url", &s.url)?;
        let mut extras = json!({"client::display": {"contentType": "text/markdown"}});
        if let Some(link) = &n.link {
            extras["client::notification"] = json!({"click": {"url": link}});
        }
        let body = json!({
            "title": truncate(&n.title(), TITLE_MAX),
            "message": message(n),
            "priority": priority(s, n),
            "extras": extras,
        });
        Ok(Request::post_json(endpoint(&base, "/message"), &body).header("X-Gotify-Key", secrets.required("token")?))
    }

    fn classify(r: &Response) -> Disposition {
        delivered_with(r, "id")
    }
}

/// Gotify's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use serde_json::Value;

    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::kinds::shared::fake::{JSON, post_to};
    use crate::kinds::shared::secrets;
    use crate::testing::{Received, require_strings};

    static NEXT_ID: AtomicU64 = AtomicU64::new(1);

    /// `POST /message`, JSON, `X-Gotify-Key`, a `message`, priority an integer, extras keyed
    /// `<top-level-namespace>::<sub-namespace>`.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = post_to(r, "/message", "messages are a POST to /message", JSON, "must be JSON");
        if r.header("x-gotify-key").is_none_or(str::is_empty) {
            problems.push("the app token goes in `X-Gotify-Key`".into());
        }
        let b = r.json();
        problems.extend(require_strings(&b, &["message"]));
        if !b["priority"].is_null() && !b["priority"].is_i64() {
            problems.push("`priority` must be an integer".into());
        }
        if let Some(extras) = b["extras"].as_object() {
            for (key, value) in extras {
                if key.split("::").count() != 2 || !value.is_object() {
                    problems.push(format!("extras.{key}: must be `namespace::name` holding an object"));
                }
            }
            let content = &b["extras"]["client::display"]["contentType"];
            if !content.is_null() && content != "text/plain" && content != "text/markdown" {
                problems.push("client::display.contentType is text/plain or text/markdown".into());
            }
        }
        problems
    }

    /// `200` with the stored message and its `id`.
    pub fn answer(r: &Received) -> (u16, String) {
        let b = r.json();
        let body = json!({
            "id": NEXT_ID.fetch_add(1, Ordering::Relaxed),
            "appid": 1,
            "title": b["title"],
            "message": b["message"],
            "priority": b["priority"],
            "extras": b["extras"],
            "date": "2026-12-05T10:00:00Z",
        });
        (200, body.to_string())
    }

    /// A server at `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        (json!({"url": base}), secrets(&[("token", "AvKcy9o-yvVhyKd")]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use common::i18n::Language;

    fn token() -> Secrets {
        crate::kinds::shared::secrets(&[("token", "AvKcy9o-yvVhyKd")])
    }

    #[test]
    fn it_posts_markdown_to_message_under_the_base_path() {
        let s = GotifySettings {
            url: "https://push.example/gotify/".into(),
            priority: None,
        };
        let req = Gotify::render(&s, &token(), &Notice::sample(Event::Certificate, Language::En)).unwrap();
        assert_eq!(req.url.as_str(), "https://push.example/gotify/message");
        assert_eq!(req.header_value("x-gotify-key"), Some("AvKcy9o-yvVhyKd"));
        let body = req.body_json().unwrap();
        assert_eq!(body["priority"], 5);
        assert_eq!(body["extras"]["client::display"]["contentType"], "text/markdown");
        assert!(body["extras"]["client::notification"]["click"]["url"].is_string());
        assert_eq!(Gotify::summary(&s), "Gotify push.example/gotify");
    }

    #[test]
    fn settings_and_the_token_name_their_field() {
        let s = GotifySettings {
            url: "https://push.example".into(),
            priority: Some(11),
        };
        assert_eq!(Gotify::validate(&s, &token()).unwrap_err().field, "settings.priority");
        let s = GotifySettings {
            url: "push.example".into(),
            priority: None,
        };
        assert_eq!(Gotify::validate(&s, &token()).unwrap_err().field, "settings.url");
        let s = GotifySettings {
            url: "https://push.example".into(),
            priority: Some(0),
        };
        assert!(Gotify::validate(&s, &token()).is_ok());
        assert_eq!(
            Gotify::validate(&s, &Secrets::default()).unwrap_err().field,
            "secrets.token"
        );
    }

    #[test]
    fn user_text_cannot_inject_markdown_links() {
        let mut n = Notice::sample(Event::Opened, Language::En);
        n.facts = vec![("x".into(), "[click](https://evil.example)".into())];
        assert!(message(&n).contains(r"\[click\]"));
    }
}
