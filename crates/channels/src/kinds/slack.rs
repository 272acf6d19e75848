//! Slack (an incoming webhook, Block Kit) and Mattermost (its Slack-compatible incoming
//! webhook, Markdown text).
//!
//! - Slack: <https://api.slack.com/messaging/webhooks> and the Block Kit reference. The
//!   webhook URL is the secret. `text` is the notification's fallback; blocks: a header
//!   (plain text, ≤ 150 characters), a section (mrkdwn, ≤ 3,000), up to 10 fields, and link
//!   buttons. Errors: 400 `invalid_payload`, 403 `invalid_token`, 404 `no_service`, 410
//!   `channel_is_archived`, 429 with `Retry-After`.
//! - Mattermost: <https://developers.mattermost.com/integrate/webhooks/incoming/>: `text`
//!   (Markdown), optional `username`, `icon_url` and `channel` overrides.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::shared::{URL_SECRET, links, markdown_links, secret_url};
use crate::http::{check_short, parse_url, truncate};
use crate::{Channel, FieldError, Kind, Notice, Request, SecretField, Secrets};

/// Slack's limits.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELDS_MAX: usize = 10;
const BUTTON_TEXT_MAX: usize = 75;

/// Slack: no settings beyond the webhook URL (a secret).
pub struct Slack;

/// Slack's settings: none (the app's webhook decides the channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {}

/// Escapes text for Slack's mrkdwn (`&`, `<`, `>`).
pub fn mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Channel for Slack {
    const KIND: Kind = Kind::Slack;
    const SECRETS: &'static [SecretField] = URL_SECRET;
    type Settings = SlackSettings;

    fn validate(_: &SlackSettings, secrets: &Secrets) -> Result<(), FieldError> {
        secret_url(secrets).map(drop)
    }

    fn summary(_: &SlackSettings) -> String {
        "Slack incoming webhook".to_owned()
    }

    fn render(_: &SlackSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let mut blocks = vec![json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&n.title(), HEADER_MAX), "emoji": true},
        })];
        let mut lines: Vec<String> = Vec::new();
        if let Some(t) = &n.text {
            lines.push(mrkdwn(t));
        }
        lines.extend(n.digest_lines().iter().map(|l| mrkdwn(l)));
        if !lines.is_empty() {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&lines.join("\n"), SECTION_MAX)},
            }));
        }
        if !n.facts.is_empty() {
            let fields: Vec<Value> = n
                .facts
                .iter()
                .take(FIELDS_MAX)
                .map(|(l, v)| json!({"type": "mrkdwn", "text": truncate(&format!("*{}*\n{}", mrkdwn(l), mrkdwn(v)), 2000)}))
                .collect();
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        let buttons: Vec<Value> = links(n)
            .iter()
            .map(|l| {
                let mut button = json!({
                    "type": "button",
                    "text": {"type": "plain_text", "text": truncate(&l.label, BUTTON_TEXT_MAX)},
                    "url": l.url,
                });
                if l.ack {
                    button["style"] = json!("primary");
                }
                button
            })
            .collect();
        if !buttons.is_empty() {
            blocks.push(json!({"type": "actions", "elements": buttons}));
        }
        let body = json!({"text": n.title(), "blocks": blocks});
        Ok(Request::post_json(secret_url(secrets)?, &body))
    }
}

/// Mattermost.
pub struct Mattermost;

/// Mattermost's settings: optional overrides the webhook allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MattermostSettings {
    /// Post as this user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Post with this avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Post in this channel instead of the webhook's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// Escapes Markdown's emphasis and link characters in user text.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '~' | '[' | ']' | '<' | '>' | '|' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The whole notice as Markdown: bold title, facts, text, digest, links.
pub fn markdown_text(n: &Notice) -> String {
    let mut out = format!("**{}**", markdown(&n.title()));
    for (l, v) in &n.facts {
        out.push_str(&format!("\n**{}**: {}", markdown(l), markdown(v)));
    }
    if let Some(t) = &n.text {
        out.push_str(&format!("\n\n{}", markdown(t)));
    }
    for line in n.digest_lines() {
        out.push_str(&format!("\n{}", markdown(&line)));
    }
    let links = markdown_links(n, markdown);
    if !links.is_empty() {
        out.push_str(&format!("\n\n{links}"));
    }
    out
}

impl Channel for Mattermost {
    const KIND: Kind = Kind::Mattermost;
    const SECRETS: &'static [SecretField] = URL_SECRET;
    type Settings = MattermostSettings;

    fn validate(s: &MattermostSettings, secrets: &Secrets) -> Result<(), FieldError> {
        secret_url(secrets)?;
        if let Some(u) = &s.username {
            check_short("settings.username", u)?;
        }
        if let Some(c) = &s.channel {
            check_short("settings.channel", c)?;
        }
        if let Some(icon) = &s.icon_url {
            parse_url("settings.icon_url", icon)?;
        }
        Ok(())
    }

    fn summary(s: &MattermostSettings) -> String {
        match &s.channel {
            Some(c) => format!("Mattermost webhook → {c}"),
            None => "Mattermost webhook".to_owned(),
        }
    }

    fn render(s: &MattermostSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let mut body = json!({"text": truncate(&markdown_text(n), 16_000)});
        for (key, value) in [
            ("username", &s.username),
            ("icon_url", &s.icon_url),
            ("channel", &s.channel),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        Ok(Request::post_json(secret_url(secrets)?, &body))
    }
}

/// The services' documented shapes (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::{chars as len, json_post, url_sample};
    use crate::testing::{Received, require_strings};

    const BLOCK_TYPES: &[&str] = &["header", "section", "actions", "context", "divider", "image"];

    /// Slack's Block Kit rules, as far as a message of ours can break them.
    pub fn check_slack(r: &Received) -> Vec<String> {
        let mut problems = json_post(r);
        let b = r.json();
        problems.extend(require_strings(&b, &["text"]));
        let Some(blocks) = b["blocks"].as_array() else {
            problems.push("`blocks` must be an array".into());
            return problems;
        };
        if blocks.is_empty() || blocks.len() > 50 {
            problems.push("1–50 blocks".into());
        }
        for (i, block) in blocks.iter().enumerate() {
            let ty = block["type"].as_str().unwrap_or_default();
            if !BLOCK_TYPES.contains(&ty) {
                problems.push(format!("blocks[{i}]: unknown type {ty:?}"));
            }
            match ty {
                "header"
                    if block["text"]["type"] != "plain_text"
                        || len(&block["text"]["text"]) == 0
                        || len(&block["text"]["text"]) > HEADER_MAX =>
                {
                    problems.push(format!("blocks[{i}]: a header is plain_text of 1–150 characters"));
                }
                "section" => {
                    let text = len(&block["text"]["text"]);
                    let fields = block["fields"].as_array();
                    if text == 0 && fields.is_none() {
                        problems.push(format!("blocks[{i}]: a section needs text or fields"));
                    }
                    if text > SECTION_MAX {
                        problems.push(format!("blocks[{i}]: section text over 3000"));
                    }
                    if fields.is_some_and(|f| f.len() > FIELDS_MAX || f.iter().any(|f| len(&f["text"]) > 2000)) {
                        problems.push(format!("blocks[{i}]: at most 10 fields of 2000"));
                    }
                }
                "actions" => {
                    for (j, e) in b["blocks"][i]["elements"].as_array().into_iter().flatten().enumerate() {
                        if e["type"] != "button"
                            || e["text"]["type"] != "plain_text"
                            || len(&e["text"]["text"]) > BUTTON_TEXT_MAX
                            || len(&e["url"]) > 3000
                        {
                            problems.push(format!("blocks[{i}].elements[{j}]: a link button"));
                        }
                    }
                }
                _ => {}
            }
        }
        problems
    }

    /// Mattermost: a JSON POST with `text` (or Slack attachments).
    pub fn check_mattermost(r: &Received) -> Vec<String> {
        let mut problems = json_post(r);
        let b = r.json();
        if len(&b["text"]) == 0 && b["attachments"].as_array().is_none_or(Vec::is_empty) {
            problems.push("`text` or `attachments` is required".into());
        }
        if len(&b["text"]) > 16_383 {
            problems.push("`text` over 16383 characters".into());
        }
        problems
    }

    /// A channel posting to `base`'s webhook path.
    pub fn sample(base: &str) -> (Value, Secrets) {
        url_sample(&format!("{base}/services/T000/B000/XXXX"))
    }

    /// Both answer `200 ok`.
    pub fn answer(_: &Received) -> (u16, String) {
        (200, "ok".into())
    }
}
