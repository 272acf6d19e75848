//! ntfy: a message published as JSON to the server's root URL
//! (<https://docs.ntfy.sh/publish/#publish-as-json>).
//!
//! The channel's `url` is the topic URL (`https://ntfy.sh/mytopic`): the topic is its last
//! path segment (1–64 of `[-_A-Za-z0-9]`), the server is the rest. The JSON body carries
//! `topic`, `title`, `message`, `priority` (1–5), `tags`, `click` and up to three `view`
//! actions; an access token, if the topic is protected, goes in `Authorization: Bearer`
//! (<https://docs.ntfy.sh/publish/#access-tokens>). ntfy answers 200 with the message's
//! `id`; messages over the server's size limit (4,096 bytes by default) become attachments,
//! so the message is cut below it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::api::{check_token, delivered_with, is_word, truncate_bytes};
use super::shared::{by_severity, check_tags, links};
use crate::http::{parse_url, truncate};
use crate::{Channel, Disposition, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// A topic name's length.
pub const TOPIC_MAX: usize = 64;
/// A tag's length.
pub const TAG_MAX: usize = 64;
/// How many tags a channel adds ([`limits::TAGS`](crate::limits::TAGS)).
pub const TAGS_MAX: usize = crate::limits::TAGS;
/// The message's size in bytes (ntfy's default `message-size-limit` is 4,096).
pub const MESSAGE_MAX_BYTES: usize = 4000;
/// The title's length.
pub const TITLE_MAX: usize = 250;
/// ntfy takes at most three actions per message.
pub const ACTIONS_MAX: usize = 3;
/// An access token's length.
pub const TOKEN_MAX: usize = 256;

/// ntfy.
pub struct Ntfy;

/// ntfy's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfySettings {
    /// The topic URL: `https://ntfy.sh/mytopic`.
    pub url: String,
    /// 1 (min) – 5 (max); by default from the severity (critical 5, warning 4, info 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Tags (or emoji short codes) added to every message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The server's root URL and the topic of a topic URL.
pub fn split_topic(url: &str) -> Result<(Url, String), FieldError> {
    const FIELD: &str = "settings.url";
    let mut server = parse_url(FIELD, url)?;
    if server.query().is_some() || server.fragment().is_some() {
        return Err(FieldError::new(
            FIELD,
            "must be the topic URL, without a query or fragment",
        ));
    }
    let topic = server
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_owned();
    if topic.is_empty() || topic.len() > TOPIC_MAX || !is_word(&topic, &['-', '_']) {
        return Err(FieldError::new(
            FIELD,
            format!("must end in a topic of 1–{TOPIC_MAX} letters, digits, `-` or `_` (https://ntfy.sh/mytopic)"),
        ));
    }
    server
        .path_segments_mut()
        .map_err(|()| FieldError::new(FIELD, "has no path"))?
        .pop()
        .push("");
    Ok((server, topic))
}

fn priority(s: &NtfySettings, n: &Notice) -> u8 {
    s.priority.unwrap_or(by_severity(n, [5, 4, 3]))
}

/// The message: facts, text, digest; the headline when there is nothing else.
fn message(n: &Notice) -> String {
    let body = n.body();
    let body = if body.is_empty() { n.headline.clone() } else { body };
    truncate_bytes(&body, MESSAGE_MAX_BYTES)
}

impl Channel for Ntfy {
    const KIND: Kind = Kind::Ntfy;
    const SECRETS: &'static [SecretField] = &[SecretField {
        name: "token",
        required: false,
    }];
    type Settings = NtfySettings;

    fn validate(s: &NtfySettings, secrets: &Secrets) -> Result<(), FieldError> {
        split_topic(&s.url)?;
        if let Some(p) = s.priority
            && !(1..=5).contains(&p)
        {
            return Err(FieldError::new("settings.priority", "must be 1–5"));
        }
        check_tags(&s.tags, TAG_MAX, true)?;
        if let Some(token) = secrets.get("token") {
            check_token("secrets.token", token, TOKEN_MAX)?;
        }
        Ok(())
    }

    fn summary(s: &NtfySettings) -> String {
        let url = s.url.trim();
        let shown = url.split_once("://").map_or(url, |(_, rest)| rest);
        format!("ntfy {}", truncate(shown, 120))
    }

    fn render(s: &NtfySettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let (server, topic) = split_topic(&s.url)?;
        let mut actions: Vec<Value> = links(n)
            .iter()
            .map(|l| {
                let mut action = json!({"action": "view", "label": l.label, "url": l.url});
                if l.ack {
                    action["clear"] = json!(true);
                }
                action
            })
            .collect();
        actions.truncate(ACTIONS_MAX);
        let mut body = json!({
            "topic": topic,
            "title": truncate(&n.title(), TITLE_MAX),
            "message": message(n),
            "priority": priority(s, n),
        });
        if !s.tags.is_empty() {
            body["tags"] = json!(s.tags);
        }
        if let Some(link) = &n.link {
            body["click"] = json!(link);
        }
        if !actions.is_empty() {
            body["actions"] = Value::Array(actions);
        }
        let request = Request::post_json(server, &body);
        Ok(match secrets.get("token") {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        })
    }

    fn classify(r: &Response) -> Disposition {
        delivered_with(r, "id")
    }
}

/// ntfy's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::kinds::shared::fake::{JSON, post_to};
    use crate::kinds::shared::secrets;
    use crate::testing::{Received, require_strings};

    static NEXT_ID: AtomicU64 = AtomicU64::new(1);

    /// A JSON publish: POST to `/`, `topic` valid, `message` ≤ 4,096 bytes, priority 1–5,
    /// at most 3 actions (each with `action`, `label`, `url`), a bearer token if any.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = post_to(r, "/", "a JSON publish is a POST to the root", JSON, "must be JSON");
        if r.header("authorization").is_some_and(|a| !a.starts_with("Bearer ")) {
            problems.push("`Authorization` must be `Bearer <token>`".into());
        }
        let b = r.json();
        problems.extend(require_strings(&b, &["topic", "message"]));
        let topic = b["topic"].as_str().unwrap_or_default();
        if topic.len() > TOPIC_MAX || !is_word(topic, &['-', '_']) {
            problems.push("`topic` must be 1–64 of [-_A-Za-z0-9]".into());
        }
        if b["message"].as_str().is_some_and(|m| m.len() > 4096) {
            problems.push("`message` over 4096 bytes".into());
        }
        if !b["priority"].is_null() && !b["priority"].as_u64().is_some_and(|p| (1..=5).contains(&p)) {
            problems.push("`priority` must be 1–5".into());
        }
        if !b["tags"].is_null() && !b["tags"].as_array().is_some_and(|t| t.iter().all(Value::is_string)) {
            problems.push("`tags` must be an array of strings".into());
        }
        if !b["click"].is_null() && b["click"].as_str().and_then(|u| Url::parse(u).ok()).is_none() {
            problems.push("`click` must be a URL".into());
        }
        if let Some(actions) = b["actions"].as_array() {
            if actions.len() > ACTIONS_MAX {
                problems.push("at most 3 actions".into());
            }
            for (i, a) in actions.iter().enumerate() {
                if a["action"] != "view" || !require_strings(a, &["label", "url"]).is_empty() {
                    problems.push(format!("actions[{i}]: a view action needs `label` and `url`"));
                }
            }
        }
        problems
    }

    /// `200 {"id","time","event":"message","topic"}`.
    pub fn answer(r: &Received) -> (u16, String) {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let body = json!({
            "id": format!("fake{n:08}"),
            "time": 1_796_464_800,
            "expires": 1_796_508_000,
            "event": "message",
            "topic": r.json()["topic"],
        });
        (200, body.to_string())
    }

    /// A protected topic on `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        let settings = json!({"url": format!("{base}/pingtower-alerts"), "tags": ["pingtower"]});
        (settings, secrets(&[("token", "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2")]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use common::i18n::Language;

    fn settings(url: &str) -> NtfySettings {
        NtfySettings {
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_topic_is_the_last_segment_and_the_server_the_rest() {
        let (server, topic) = split_topic("https://ntfy.sh/mytopic").unwrap();
        assert_eq!((server.as_str(), topic.as_str()), ("https://ntfy.sh/", "mytopic"));
        let (server, _) = split_topic("https://push.example/ntfy/alerts").unwrap();
        assert_eq!(server.as_str(), "https://push.example/ntfy/");
        for bad in ["https://ntfy.sh/", "https://ntfy.sh/a.b", "https://ntfy.sh/t?x=1"] {
            assert_eq!(split_topic(bad).unwrap_err().field, "settings.url", "{bad}");
        }
        assert!(split_topic(&format!("https://ntfy.sh/{}", "a".repeat(65))).is_err());
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let none = Secrets::default();
        assert!(Ntfy::validate(&settings("https://ntfy.sh/t"), &none).is_ok());
        let bad = NtfySettings {
            priority: Some(6),
            ..settings("https://ntfy.sh/t")
        };
        assert_eq!(Ntfy::validate(&bad, &none).unwrap_err().field, "settings.priority");
        let bad = NtfySettings {
            tags: vec!["x".repeat(65)],
            ..settings("https://ntfy.sh/t")
        };
        assert_eq!(Ntfy::validate(&bad, &none).unwrap_err().field, "settings.tags[0]");
        let bad = NtfySettings {
            tags: vec!["x".into(); 21],
            ..settings("https://ntfy.sh/t")
        };
        assert_eq!(Ntfy::validate(&bad, &none).unwrap_err().field, "settings.tags");
        let token = crate::kinds::shared::secrets(&[("token", "tk 1")]);
        assert_eq!(
            Ntfy::validate(&settings("https://ntfy.sh/t"), &token)
                .unwrap_err()
                .field,
            "secrets.token"
        );
        assert_eq!(
            Ntfy::summary(&settings("https://ntfy.sh/mytopic")),
            "ntfy ntfy.sh/mytopic"
        );
    }

    #[test]
    fn priority_follows_severity_unless_set() {
        let n = Notice::sample(Event::Opened, Language::En);
        let req = Ntfy::render(&settings("https://ntfy.sh/t"), &Secrets::default(), &n).unwrap();
        let body = req.body_json().unwrap();
        assert_eq!(body["priority"], 5);
        assert_eq!(body["topic"], "t");
        assert_eq!(req.url.as_str(), "https://ntfy.sh/");
        assert_eq!(body["actions"].as_array().unwrap().len(), 2);
        assert!(req.header_value("authorization").is_none());
        let set = NtfySettings {
            priority: Some(2),
            ..settings("https://ntfy.sh/t")
        };
        let body = Ntfy::render(&set, &Secrets::default(), &n)
            .unwrap()
            .body_json()
            .unwrap();
        assert_eq!(body["priority"], 2);
    }
}
