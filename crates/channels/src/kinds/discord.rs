//! Discord: a channel webhook, one embed per message.
//!
//! <https://discord.com/developers/docs/resources/webhook#execute-webhook>: `POST
//! <webhook url>?wait=true` with `username` and `avatar_url` overrides, `allowed_mentions`
//! (empty `parse`: nothing in a message pings anyone) and `embeds`. The webhook URL (its
//! path holds the token) is the secret.
//!
//! Embed limits (<https://discord.com/developers/docs/resources/message#embed-object-embed-limits>):
//! title 256, description 4,096, up to 25 fields of name 256 and value 1,024, footer text
//! 2,048, and all of these together 6,000 characters. Usernames are 1–80 characters without
//! `@`, `#`, `:`, ```` ``` ````, "discord" or "clyde", and not "everyone" or "here".
//!
//! With `wait=true` the answer is `200` and the message object (its `id` is the message's).
//! A `429` carries `{"retry_after": <seconds, fractional>, "global": bool}` in its body,
//! which is preferred over the `Retry-After` header; an unknown webhook is `404`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::{MAX_RETRY_AFTER, check_short, parse_url, truncate};
use crate::kinds::google_chat::with_query;
use crate::kinds::shared::{URL_SECRET, markdown_links, secret_url};
use crate::{Channel, Disposition, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// An embed's title.
pub const TITLE_MAX: usize = 256;
/// An embed's description.
pub const DESCRIPTION_MAX: usize = 4096;
/// Fields of an embed.
pub const FIELDS_MAX: usize = 25;
/// A field's name.
pub const FIELD_NAME_MAX: usize = 256;
/// A field's value.
pub const FIELD_VALUE_MAX: usize = 1024;
/// A footer's text.
pub const FOOTER_MAX: usize = 2048;
/// Every text of the embeds of one message together.
pub const EMBED_TOTAL_MAX: usize = 6000;
/// Embeds of one message.
pub const EMBEDS_MAX: usize = 10;
/// A webhook's username override.
pub const USERNAME_MAX: usize = 80;
/// The footer of every embed.
const FOOTER: &str = "PingTower";
/// Room kept in the embed for the description when fields are many.
const DESCRIPTION_RESERVE: usize = 500;

/// Discord.
pub struct Discord;

/// Discord's settings: the overrides a webhook allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordSettings {
    /// Post under this name instead of the webhook's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Post with this avatar instead of the webhook's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// Escapes Discord's Markdown in user text (a backslash before any punctuation it reads).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '[' | ']' | '(' | ')' | '-' | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn check_username(name: &str) -> Result<(), FieldError> {
    const FIELD: &str = "settings.username";
    check_short(FIELD, name)?;
    let lower = name.trim().to_lowercase();
    if lower.is_empty() || name.chars().count() > USERNAME_MAX {
        return Err(FieldError::new(FIELD, format!("must be 1–{USERNAME_MAX} characters")));
    }
    if ["@", "#", ":", "```", "discord", "clyde"]
        .iter()
        .any(|bad| lower.contains(bad))
        || lower == "everyone"
        || lower == "here"
    {
        return Err(FieldError::new(
            FIELD,
            "Discord refuses @, #, :, ```, \"discord\", \"clyde\", \"everyone\" and \"here\" in names",
        ));
    }
    Ok(())
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A fact as an inline field, escaped (Discord refuses empty names and values).
fn field(label: &str, value: &str) -> (String, String) {
    let or_dash = |s: &str| if s.trim().is_empty() { "-".to_owned() } else { escape(s) };
    (
        truncate(&or_dash(label), FIELD_NAME_MAX),
        truncate(&or_dash(value), FIELD_VALUE_MAX),
    )
}

/// The description: the text and digest lines (cut to fit), then the links (never cut).
fn description(n: &Notice, max: usize) -> String {
    let links = markdown_links(n, escape);
    let mut lines: Vec<String> = n.text.iter().map(|t| escape(t)).collect();
    lines.extend(n.digest_lines().iter().map(|l| escape(l)));
    let text = lines.join("\n");
    match (text.is_empty(), links.is_empty()) {
        (true, _) => truncate(&links, max),
        (false, true) => truncate(&text, max),
        (false, false) => {
            let room = max.saturating_sub(chars(&links) + 2);
            if room == 0 {
                truncate(&text, max)
            } else {
                format!("{}\n\n{links}", truncate(&text, room))
            }
        }
    }
}

/// The embed of `n`, within every limit (the total included).
pub fn embed(n: &Notice) -> Value {
    let title = truncate(&n.title(), TITLE_MAX);
    let mut budget = EMBED_TOTAL_MAX - chars(&title) - chars(FOOTER);
    let mut fields = Vec::new();
    for (label, value) in n.facts.iter().take(FIELDS_MAX) {
        let (name, value) = field(label, value);
        let cost = chars(&name) + chars(&value);
        if cost + DESCRIPTION_RESERVE > budget {
            break;
        }
        budget -= cost;
        fields.push(json!({"name": name, "value": value, "inline": true}));
    }
    let mut embed = json!({
        "title": title,
        "color": n.color(),
        "fields": fields,
        "timestamp": n.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "footer": {"text": FOOTER},
    });
    let description = description(n, DESCRIPTION_MAX.min(budget));
    if !description.is_empty() {
        embed["description"] = json!(description);
    }
    if let Some(link) = &n.link {
        embed["url"] = json!(link);
    }
    embed
}

/// The `retry_after` of a 429's JSON body (seconds, fractional), capped.
fn body_retry_after(r: &Response) -> Option<Duration> {
    let secs = r.json()?.get("retry_after")?.as_f64()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))
}

impl Channel for Discord {
    const KIND: Kind = Kind::Discord;
    const SECRETS: &'static [SecretField] = URL_SECRET;
    type Settings = DiscordSettings;

    fn validate(s: &DiscordSettings, secrets: &Secrets) -> Result<(), FieldError> {
        secret_url(secrets)?;
        if let Some(name) = &s.username {
            check_username(name)?;
        }
        if let Some(avatar) = &s.avatar_url {
            parse_url("settings.avatar_url", avatar)?;
        }
        Ok(())
    }

    fn summary(s: &DiscordSettings) -> String {
        match &s.username {
            Some(name) => format!("Discord webhook (as {name})"),
            None => "Discord webhook".to_owned(),
        }
    }

    fn render(s: &DiscordSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let url = with_query(secret_url(secrets)?, "wait", "true");
        let mut body = json!({
            "allowed_mentions": {"parse": []},
            "embeds": [embed(n)],
        });
        if let Some(name) = &s.username {
            body["username"] = json!(name);
        }
        if let Some(avatar) = &s.avatar_url {
            body["avatar_url"] = json!(avatar);
        }
        Ok(Request::post_json(url, &body))
    }

    /// 2xx: the message's `id`; 429: the body's `retry_after`, else the header.
    fn classify(r: &Response) -> Disposition {
        match r.status {
            200..=299 => Disposition::Delivered {
                external_id: r.json().and_then(|v| v["id"].as_str().map(str::to_owned)),
            },
            429 => Disposition::RateLimited {
                retry_after: body_retry_after(r).or_else(|| crate::http::retry_after(r)),
            },
            _ => crate::http::classify(r),
        }
    }
}

/// Discord's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::json_post;
    use crate::kinds::shared::secrets;
    use crate::testing::Received;

    fn len(v: &Value) -> usize {
        v.as_str().map_or(0, chars)
    }

    fn check_embed(i: usize, e: &Value, problems: &mut Vec<String>) -> usize {
        let mut total = len(&e["title"]) + len(&e["description"]) + len(&e["footer"]["text"]);
        for (key, max) in [("title", TITLE_MAX), ("description", DESCRIPTION_MAX)] {
            if len(&e[key]) > max || !(e[key].is_null() || e[key].is_string()) {
                problems.push(format!("embeds[{i}].{key}: a string of at most {max}"));
            }
        }
        if len(&e["footer"]["text"]) > FOOTER_MAX {
            problems.push(format!("embeds[{i}].footer.text over {FOOTER_MAX}"));
        }
        if e["color"].as_u64().is_none_or(|c| c > 0xff_ff_ff) {
            problems.push(format!("embeds[{i}].color must be an RGB integer"));
        }
        if !e["url"].is_null() && e["url"].as_str().is_none_or(|u| url::Url::parse(u).is_err()) {
            problems.push(format!("embeds[{i}].url must be a URL"));
        }
        let timestamp_ok = e["timestamp"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
        if !e["timestamp"].is_null() && !timestamp_ok {
            problems.push(format!("embeds[{i}].timestamp must be ISO 8601"));
        }
        let fields = e["fields"].as_array().map(Vec::as_slice).unwrap_or_default();
        if fields.len() > FIELDS_MAX {
            problems.push(format!("embeds[{i}]: at most {FIELDS_MAX} fields"));
        }
        for (j, f) in fields.iter().enumerate() {
            let (name, value) = (len(&f["name"]), len(&f["value"]));
            if name == 0 || name > FIELD_NAME_MAX || value == 0 || value > FIELD_VALUE_MAX {
                problems.push(format!("embeds[{i}].fields[{j}]: name 1–256, value 1–1024"));
            }
            if !(f["inline"].is_null() || f["inline"].is_boolean()) {
                problems.push(format!("embeds[{i}].fields[{j}].inline must be a boolean"));
            }
            total += name + value;
        }
        total
    }

    /// Execute Webhook's rules, as far as a message of ours can break them.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = json_post(r);
        let segments: Vec<&str> = r.path.trim_matches('/').split('/').collect();
        if !matches!(segments.as_slice(), ["api", "webhooks", id, token] if id.parse::<u64>().is_ok() && !token.is_empty())
        {
            problems.push("the path must be /api/webhooks/{id}/{token}".into());
        }
        if !url::form_urlencoded::parse(r.query.as_bytes()).any(|(k, v)| k == "wait" && v == "true") {
            problems.push("`wait=true` is missing (the answer would carry no message id)".into());
        }
        let b = r.json();
        if b["allowed_mentions"]["parse"].as_array().is_none() {
            problems.push("`allowed_mentions.parse` must be an array".into());
        }
        if !b["username"].is_null() && !(1..=USERNAME_MAX).contains(&len(&b["username"])) {
            problems.push("`username` must be 1–80 characters".into());
        }
        let Some(embeds) = b["embeds"]
            .as_array()
            .filter(|e| !e.is_empty() && e.len() <= EMBEDS_MAX)
        else {
            problems.push("`embeds` must be 1–10 embeds (the message has no content)".into());
            return problems;
        };
        let total: usize = embeds
            .iter()
            .enumerate()
            .map(|(i, e)| check_embed(i, e, &mut problems))
            .sum();
        if total > EMBED_TOTAL_MAX {
            problems.push(format!("the embeds' texts total {total}, over {EMBED_TOTAL_MAX}"));
        }
        problems
    }

    /// `200` and the message object.
    pub fn answer(r: &Received) -> (u16, String) {
        let message = json!({
            "id": "1187000000000000001",
            "type": 0,
            "channel_id": "1187000000000000002",
            "webhook_id": "123456789012345678",
            "content": "",
            "embeds": r.json()["embeds"],
            "timestamp": chrono::Utc::now().to_rfc3339(),
        });
        (200, message.to_string())
    }

    /// A webhook at `base` posting under its own name.
    pub fn sample(base: &str) -> (Value, Secrets) {
        let url = format!("{base}/api/webhooks/123456789012345678/sample-token");
        (json!({"username": "PingTower"}), secrets(&[("url", &url)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::shared::test::answer;

    #[test]
    fn the_bodys_retry_after_is_preferred_over_the_header() {
        let r = answer(429, &[("retry-after", "9")], r#"{"retry_after": 1.5, "global": false}"#);
        assert_eq!(
            Discord::classify(&r),
            Disposition::RateLimited {
                retry_after: Some(Duration::from_millis(1500))
            }
        );
        let r = answer(429, &[("retry-after", "9")], "{}");
        assert_eq!(
            Discord::classify(&r),
            Disposition::RateLimited {
                retry_after: Some(Duration::from_secs(9))
            }
        );
        let r = answer(429, &[], r#"{"retry_after": 1e12}"#);
        assert_eq!(
            Discord::classify(&r),
            Disposition::RateLimited {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
    }

    #[test]
    fn the_message_id_is_the_external_id() {
        let r = answer(200, &[], r#"{"id": "42", "type": 0}"#);
        assert_eq!(
            Discord::classify(&r),
            Disposition::Delivered {
                external_id: Some("42".into())
            }
        );
        assert_eq!(
            Discord::classify(&answer(204, &[], "")),
            Disposition::Delivered { external_id: None }
        );
    }

    #[test]
    fn usernames_discord_refuses_are_refused() {
        for bad in ["", "my discord bot", "Clyde", "a@b", "here", &"x".repeat(81)] {
            assert_eq!(check_username(bad).unwrap_err().field, "settings.username", "{bad:?}");
        }
        assert!(check_username("PingTower").is_ok());
    }
}
