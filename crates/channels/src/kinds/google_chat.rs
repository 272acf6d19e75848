//! Google Chat: a space's incoming webhook, a text message threaded by incident.
//!
//! - <https://developers.google.com/workspace/chat/quickstart/webhooks>: `POST` the webhook
//!   URL (`…/v1/spaces/{space}/messages?key=…&token=…`, the secret) with a message; with
//!   `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` and `thread.threadKey`, the
//!   messages of one incident form one thread (the first starts it).
//! - The text: <https://developers.google.com/workspace/chat/format-messages>: `*bold*`,
//!   `<url|label>` links; `<users/…>` would mention people, so user text carries no `<`, `>`.
//!   At most [`TEXT_MAX`] characters.
//! - The answer: `200` and the created message; its `name`
//!   (`spaces/{space}/messages/{message}`) is the message's id.

use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::shared::{URL_SECRET, link_line, secret_url};
use crate::http::truncate;
use crate::{Channel, Disposition, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// A message's text.
pub const TEXT_MAX: usize = 4096;
/// A thread key's length (the API's limit).
pub const THREAD_KEY_MAX: usize = 4000;
/// The reply option threading messages by key.
pub const REPLY_OPTION: &str = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

/// Google Chat.
pub struct GoogleChat;

/// Google Chat's settings: none (the webhook belongs to one space).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleChatSettings {}

/// `url` with `key=value` set in its query (replacing any `key`), other pairs kept.
pub fn with_query(mut url: Url, key: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept).append_pair(key, value);
    url
}

fn webhook_url(secrets: &Secrets) -> Result<Url, FieldError> {
    let url = secret_url(secrets)?;
    let has = |name: &str| url.query_pairs().any(|(k, v)| k == name && !v.is_empty());
    if !has("key") || !has("token") {
        return Err(FieldError::new(
            "secrets.url",
            "must be the space's incoming webhook URL (with its key and token)",
        ));
    }
    Ok(url)
}

/// User text made inert: no `<…>` (links and mentions), `*` `_` `~` `` ` `` kept.
pub fn plain(s: &str) -> String {
    s.replace('<', "‹").replace('>', "›")
}

/// A `<url|label>` link.
pub fn link(url: &str, label: &str) -> String {
    let url = url.replace('|', "%7C").replace('>', "%3E").replace('<', "%3C");
    let label = plain(label).replace('|', "¦");
    format!("<{url}|{label}>")
}

/// The whole message: bold title, facts, text, digest (linked), links; the middle is cut to
/// keep the title and links within [`TEXT_MAX`].
pub fn text(n: &Notice) -> String {
    let title = truncate(&format!("*{}*", plain(&n.title())), 500);
    let mut lines: Vec<String> = n
        .facts
        .iter()
        .map(|(l, v)| format!("*{}:* {}", plain(l), plain(v)))
        .collect();
    if let Some(t) = &n.text {
        lines.push(String::new());
        lines.push(plain(t));
    }
    for item in &n.items {
        let name = match &item.link {
            Some(url) => link(url, &item.name),
            None => plain(&item.name),
        };
        lines.push(format!("• {name}: {}", plain(&item.headline)));
    }
    if n.more > 0 {
        lines.extend(n.digest_lines().pop().map(|l| plain(&l)));
    }
    let links = link_line(n, |l| link(l.url, &l.label));
    let used = title.chars().count() + links.chars().count() + 4;
    let body = truncate(&lines.join("\n"), TEXT_MAX.saturating_sub(used));
    let mut out = title;
    for part in [body, links] {
        if !part.is_empty() {
            out.push_str("\n\n");
            out.push_str(&part);
        }
    }
    truncate(&out, TEXT_MAX)
}

impl Channel for GoogleChat {
    const KIND: Kind = Kind::GoogleChat;
    const SECRETS: &'static [SecretField] = URL_SECRET;
    type Settings = GoogleChatSettings;

    fn validate(_: &GoogleChatSettings, secrets: &Secrets) -> Result<(), FieldError> {
        webhook_url(secrets).map(drop)
    }

    fn summary(_: &GoogleChatSettings) -> String {
        "Google Chat webhook".to_owned()
    }

    fn render(_: &GoogleChatSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let url = with_query(webhook_url(secrets)?, "messageReplyOption", REPLY_OPTION);
        let thread_key = n.incident_id.unwrap_or(n.key).to_string();
        let body = json!({"text": text(n), "thread": {"threadKey": thread_key}});
        Ok(Request::post_json(url, &body))
    }

    /// 2xx: the created message's `name`.
    fn classify(r: &Response) -> Disposition {
        match r.status {
            200..=299 => Disposition::Delivered {
                external_id: r.json().and_then(|v| v["name"].as_str().map(str::to_owned)),
            },
            _ => crate::http::classify(r),
        }
    }
}

/// The incoming webhook's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::{json_post, url_sample};
    use crate::testing::{Received, require_strings};

    /// The path, query, text and thread of a webhook message.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = json_post(r);
        let segments: Vec<&str> = r.path.trim_matches('/').split('/').collect();
        if !matches!(segments.as_slice(), ["v1", "spaces", space, "messages"] if !space.is_empty()) {
            problems.push("the path must be /v1/spaces/{space}/messages".into());
        }
        let query: Vec<(String, String)> = url::form_urlencoded::parse(r.query.as_bytes()).into_owned().collect();
        let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if value("key").is_none_or(str::is_empty) || value("token").is_none_or(str::is_empty) {
            problems.push("the webhook's key and token must stay in the query".into());
        }
        let b = r.json();
        problems.extend(require_strings(&b, &["text"]));
        if b["text"].as_str().is_some_and(|t| t.chars().count() > TEXT_MAX) {
            problems.push(format!("`text` over {TEXT_MAX} characters"));
        }
        match value("messageReplyOption") {
            Some(REPLY_OPTION | "REPLY_MESSAGE_OR_FAIL") => {
                let key = b["thread"]["threadKey"].as_str().unwrap_or_default();
                if key.is_empty() || key.len() > THREAD_KEY_MAX {
                    problems.push("a reply option needs `thread.threadKey`".into());
                }
            }
            None | Some("MESSAGE_REPLY_OPTION_UNSPECIFIED") => {}
            Some(other) => problems.push(format!("unknown messageReplyOption {other:?}")),
        }
        problems
    }

    /// `200` and the created message.
    pub fn answer(r: &Received) -> (u16, String) {
        let b = r.json();
        let message = json!({
            "name": "spaces/AAAA/messages/BBBB.BBBB",
            "sender": {"name": "users/114022495153014004089", "type": "BOT"},
            "text": b["text"],
            "thread": {"name": "spaces/AAAA/threads/BBBB", "threadKey": b["thread"]["threadKey"]},
            "space": {"name": "spaces/AAAA", "type": "ROOM"},
            "createTime": chrono::Utc::now().to_rfc3339(),
        });
        (200, message.to_string())
    }

    /// A space's webhook at `base`.
    pub fn sample(base: &str) -> (serde_json::Value, Secrets) {
        url_sample(&format!(
            "{base}/v1/spaces/AAAA/messages?key=sample-key&token=sample-token%3D"
        ))
    }
}
