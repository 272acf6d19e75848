//! Microsoft Teams: a Workflows webhook ("Post to a channel when a webhook request is
//! received") posting an Adaptive Card.
//!
//! - The request: <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook>:
//!   `{"type": "message", "attachments": [{"contentType":
//!   "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <card>}]}`.
//!   The workflow's URL (its query holds the signature `sig`) is the secret.
//! - The card: <https://adaptivecards.io/explorer/> (schema 1.4, which Teams renders): a
//!   `TextBlock` title (bolder, wrapped, coloured by severity), a `FactSet` of the facts
//!   (`title`/`value` strings), a `TextBlock` of the text and digest lines, and
//!   `Action.OpenUrl` actions (open the dashboard, acknowledge).
//! - Limits: a message is at most about 28 KB
//!   (<https://learn.microsoft.com/en-us/microsoftteams/limits-specifications-teams#chat-and-channel-messages>).
//! - The answer: `202 Accepted`, empty; a disabled or deleted workflow answers 4xx.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::shared::{URL_SECRET, by_severity, links, secret_url};
use crate::http::truncate;
use crate::{Channel, Event, FieldError, Kind, Notice, Request, SecretField, Secrets};

/// The attachment's content type.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// The card schema.
pub const CARD_SCHEMA: &str = "http://adaptivecards.io/schemas/adaptive-card.json";
/// The card version Teams renders.
pub const CARD_VERSION: &str = "1.4";
/// A message's size, in bytes.
pub const MESSAGE_MAX_BYTES: usize = 28 * 1024;
/// The title's length.
pub const TITLE_MAX: usize = 500;
/// Facts shown.
pub const FACTS_MAX: usize = 10;
/// A fact's title.
pub const FACT_TITLE_MAX: usize = 100;
/// A fact's value.
pub const FACT_VALUE_MAX: usize = 500;
/// An action's title.
pub const ACTION_TITLE_MAX: usize = 100;
/// The text block's length, first try; shorter when the message would be too large.
const TEXT_MAX: &[usize] = &[6000, 2000, 500, 0];

/// Microsoft Teams.
pub struct Teams;

/// Teams' settings: none (the workflow decides the team and channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {}

/// The title's colour: good (resolved), attention (critical), warning, accent.
fn color(n: &Notice) -> &'static str {
    if n.event == Event::Resolved {
        return "Good";
    }
    by_severity(n, ["Attention", "Warning", "Accent"])
}

/// The Adaptive Card of `n`, its text block cut to `text_max` characters.
pub fn card(n: &Notice, text_max: usize) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": truncate(&n.title(), TITLE_MAX),
        "size": "Medium",
        "weight": "Bolder",
        "color": color(n),
        "wrap": true,
    })];
    if !n.facts.is_empty() {
        let facts: Vec<Value> = n
            .facts
            .iter()
            .take(FACTS_MAX)
            .map(|(l, v)| json!({"title": truncate(l, FACT_TITLE_MAX), "value": truncate(v, FACT_VALUE_MAX)}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut lines: Vec<String> = n.text.iter().cloned().collect();
    lines.extend(n.digest_lines());
    let text = truncate(&lines.join("\n\n"), text_max);
    if !text.is_empty() {
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    let actions: Vec<Value> = links(n)
        .iter()
        .map(|l| {
            let mut action =
                json!({"type": "Action.OpenUrl", "title": truncate(&l.label, ACTION_TITLE_MAX), "url": l.url});
            if l.ack {
                action["style"] = json!("positive");
            }
            action
        })
        .collect();
    let mut card = json!({
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = json!(actions);
    }
    card
}

/// The message posting `card`.
fn message(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": CARD_CONTENT_TYPE,
            "contentUrl": null,
            "content": card,
        }],
    })
}

impl Channel for Teams {
    const KIND: Kind = Kind::Teams;
    const SECRETS: &'static [SecretField] = URL_SECRET;
    type Settings = TeamsSettings;

    fn validate(_: &TeamsSettings, secrets: &Secrets) -> Result<(), FieldError> {
        secret_url(secrets).map(drop)
    }

    fn summary(_: &TeamsSettings) -> String {
        "Microsoft Teams workflow".to_owned()
    }

    fn render(_: &TeamsSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let url = secret_url(secrets)?;
        let mut request = Request::post_json(url.clone(), &message(card(n, TEXT_MAX[0])));
        for &max in &TEXT_MAX[1..] {
            if request.body.len() <= MESSAGE_MAX_BYTES {
                break;
            }
            request = Request::post_json(url.clone(), &message(card(n, max)));
        }
        Ok(request)
    }
}

/// The Workflows webhook's and Adaptive Cards' documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::{json_post, url_sample};
    use crate::testing::Received;

    const ELEMENTS: &[&str] = &[
        "TextBlock",
        "FactSet",
        "ColumnSet",
        "Container",
        "Image",
        "RichTextBlock",
    ];

    fn nonempty(v: &Value) -> bool {
        v.as_str().is_some_and(|s| !s.trim().is_empty())
    }

    fn check_element(i: usize, e: &Value, problems: &mut Vec<String>) {
        let ty = e["type"].as_str().unwrap_or_default();
        if !ELEMENTS.contains(&ty) {
            problems.push(format!("body[{i}]: unknown element {ty:?}"));
        }
        match ty {
            "TextBlock" => {
                if !nonempty(&e["text"]) {
                    problems.push(format!("body[{i}]: a TextBlock's text must be a non-empty string"));
                }
                if !(e["wrap"].is_null() || e["wrap"].is_boolean()) {
                    problems.push(format!("body[{i}]: wrap must be a boolean"));
                }
            }
            "FactSet" => {
                let facts = e["facts"].as_array();
                if facts.is_none_or(|f| {
                    f.is_empty() || f.iter().any(|f| !f["title"].is_string() || !f["value"].is_string())
                }) {
                    problems.push(format!("body[{i}]: a FactSet needs facts of title and value strings"));
                }
            }
            _ => {}
        }
    }

    fn check_card(c: &Value, problems: &mut Vec<String>) {
        if c["type"] != "AdaptiveCard" || c["$schema"] != CARD_SCHEMA {
            problems.push("content must be an AdaptiveCard with its $schema".into());
        }
        if !matches!(
            c["version"].as_str(),
            Some("1.0" | "1.1" | "1.2" | "1.3" | "1.4" | "1.5")
        ) {
            problems.push("content.version must be 1.0–1.5 (what Teams renders)".into());
        }
        match c["body"].as_array() {
            Some(body) if !body.is_empty() => body.iter().enumerate().for_each(|(i, e)| check_element(i, e, problems)),
            _ => problems.push("content.body must be a non-empty array".into()),
        }
        for (i, a) in c["actions"].as_array().into_iter().flatten().enumerate() {
            let url_ok = a["url"].as_str().is_some_and(|u| url::Url::parse(u).is_ok());
            if a["type"] != "Action.OpenUrl" || !nonempty(&a["title"]) || !url_ok {
                problems.push(format!("actions[{i}]: an Action.OpenUrl with a title and a URL"));
            }
        }
        if !(c["actions"].is_null() || c["actions"].is_array()) {
            problems.push("content.actions must be an array".into());
        }
    }

    /// The message, its one attachment and the card's structure.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = json_post(r);
        if r.body.len() > MESSAGE_MAX_BYTES {
            problems.push(format!("the message is over {MESSAGE_MAX_BYTES} bytes"));
        }
        let b = r.json();
        if b["type"] != "message" {
            problems.push("`type` must be \"message\"".into());
        }
        let Some([attachment]) = b["attachments"].as_array().map(Vec::as_slice) else {
            problems.push("`attachments` must hold one card".into());
            return problems;
        };
        if attachment["contentType"] != CARD_CONTENT_TYPE {
            problems.push(format!("attachments[0].contentType must be {CARD_CONTENT_TYPE}"));
        }
        if !attachment["contentUrl"].is_null() {
            problems.push("attachments[0].contentUrl must be null".into());
        }
        check_card(&attachment["content"], &mut problems);
        problems
    }

    /// Workflows accept with `202` and no body.
    pub fn answer(_: &Received) -> (u16, String) {
        (202, String::new())
    }

    /// A workflow at `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        url_sample(&format!(
            "{base}/workflows/0a1b2c3d/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sample-signature"
        ))
    }
}
