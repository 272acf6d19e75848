//! Opsgenie: the Alert API (<https://docs.opsgenie.com/docs/alert-api>), authenticated by an
//! API integration's key in `Authorization: GenieKey <key>`.
//!
//! The incident's id is the alert's `alias` (≤ 512 characters; messages without an incident
//! use the delivery's key), so Opsgenie de-duplicates one incident's messages into one alert:
//! - opened, reminder, certificate, flapping, digest, test: **create**
//!   `POST /v2/alerts` with `message` (≤ 130), `alias`, `description` (≤ 15,000),
//!   `priority` (P1–P5), `source`, `entity`, `tags` (≤ 20 of ≤ 50) and `details`;
//! - resolved: **close** `POST /v2/alerts/{alias}/close?identifierType=alias` with
//!   `source` and `note`;
//! - report: **add note** `POST /v2/alerts/{alias}/notes?identifierType=alias` (`note` ≤
//!   25,000).
//!
//! Requests are processed asynchronously: 202 `{"result":"Request will be processed",
//! "took":…,"requestId":"…"}`. 401/403 mean the key is wrong; 422 a field is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::api::{check_token, delivered_with, endpoint};
use super::shared::{by_severity, check_tags};
use crate::http::{host_of, parse_url, truncate};
use crate::{Channel, Disposition, Event, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// `message`'s length.
pub const MESSAGE_MAX: usize = 130;
/// `alias`'s length.
pub const ALIAS_MAX: usize = 512;
/// `description`'s length.
pub const DESCRIPTION_MAX: usize = 15_000;
/// A note's length.
pub const NOTE_MAX: usize = 25_000;
/// `entity`'s length.
pub const ENTITY_MAX: usize = 512;
/// `source`'s length.
pub const SOURCE_MAX: usize = 100;
/// How many tags.
pub const TAGS_MAX: usize = crate::limits::TAGS;
/// A tag's length.
pub const TAG_MAX: usize = 50;
/// A detail's key's length.
pub const DETAIL_KEY_MAX: usize = 100;
/// A detail's value's length (all details together may take 8,000 characters).
pub const DETAIL_VALUE_MAX: usize = 1000;
/// An API key's length (Opsgenie's are UUIDs).
pub const API_KEY_MAX: usize = 128;
/// The API's address (EU accounts: `https://api.eu.opsgenie.com`).
pub const API_URL: &str = "https://api.opsgenie.com";
/// `source` of every request.
pub const SOURCE: &str = "PingTower";

/// Opsgenie.
pub struct Opsgenie;

fn default_api_url() -> String {
    API_URL.to_owned()
}

/// Opsgenie's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsgenieSettings {
    /// The API's base URL: `https://api.opsgenie.com` or `https://api.eu.opsgenie.com`.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// P1–P5; by default from the severity (critical P1, warning P3, info P5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Tags of every alert.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Default for OpsgenieSettings {
    fn default() -> Self {
        Self {
            api_url: default_api_url(),
            priority: None,
            tags: Vec::new(),
        }
    }
}

/// Whether `p` is one of Opsgenie's priorities.
pub fn is_priority(p: &str) -> bool {
    matches!(p, "P1" | "P2" | "P3" | "P4" | "P5")
}

/// The alert's alias: the incident, else the delivery.
pub fn alias(n: &Notice) -> String {
    n.incident_id.unwrap_or(n.key).to_string()
}

fn priority(s: &OpsgenieSettings, n: &Notice) -> String {
    s.priority
        .clone()
        .unwrap_or_else(|| by_severity(n, ["P1", "P3", "P5"]).to_owned())
}

fn details(n: &Notice) -> Value {
    let details: Map<String, Value> = n
        .facts
        .iter()
        .map(|(l, v)| (truncate(l, DETAIL_KEY_MAX), json!(truncate(v, DETAIL_VALUE_MAX))))
        .collect();
    Value::Object(details)
}

/// `{api}/v2/alerts/{alias}/{action}?identifierType=alias`.
fn alert_action(base: &Url, n: &Notice, action: &str) -> Url {
    let mut url = endpoint(base, "/v2/alerts");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.push(&alias(n)).push(action);
    }
    url.query_pairs_mut().append_pair("identifierType", "alias");
    url
}

impl Channel for Opsgenie {
    const KIND: Kind = Kind::Opsgenie;
    const SECRETS: &'static [SecretField] = &[SecretField {
        name: "api_key",
        required: true,
    }];
    type Settings = OpsgenieSettings;

    fn validate(s: &OpsgenieSettings, secrets: &Secrets) -> Result<(), FieldError> {
        parse_url("settings.api_url", &s.api_url)?;
        if let Some(p) = &s.priority
            && !is_priority(p)
        {
            return Err(FieldError::new("settings.priority", "must be P1, P2, P3, P4 or P5"));
        }
        check_tags(&s.tags, TAG_MAX, false)?;
        check_token("secrets.api_key", secrets.required("api_key")?, API_KEY_MAX)
    }

    fn summary(s: &OpsgenieSettings) -> String {
        match Url::parse(s.api_url.trim()) {
            Ok(u) => format!("Opsgenie {}", host_of(&u)),
            Err(_) => "Opsgenie".to_owned(),
        }
    }

    fn render(s: &OpsgenieSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let base = parse_url("settings.api_url", &s.api_url)?;
        let (url, body) = match n.event {
            Event::Resolved => (
                alert_action(&base, n, "close"),
                json!({"source": SOURCE, "note": truncate(&n.plain(), NOTE_MAX)}),
            ),
            Event::Report => (
                alert_action(&base, n, "notes"),
                json!({"source": SOURCE, "note": truncate(&n.plain(), NOTE_MAX)}),
            ),
            _ => {
                let mut body = json!({
                    "message": truncate(&n.title(), MESSAGE_MAX),
                    "alias": alias(n),
                    "description": truncate(&n.plain(), DESCRIPTION_MAX),
                    "priority": priority(s, n),
                    "source": SOURCE,
                    "entity": truncate(&n.name, ENTITY_MAX),
                    "details": details(n),
                });
                if !s.tags.is_empty() {
                    body["tags"] = json!(s.tags);
                }
                (endpoint(&base, "/v2/alerts"), body)
            }
        };
        let key = secrets.required("api_key")?;
        Ok(Request::post_json(url, &body).header("Authorization", format!("GenieKey {key}")))
    }

    fn classify(r: &Response) -> Disposition {
        delivered_with(r, "requestId")
    }
}

/// The sample channel's API key (tests).
#[cfg(any(test, feature = "testing"))]
fn key() -> Secrets {
    crate::kinds::shared::secrets(&[("api_key", "eb243592-faa2-4ba2-a551-1afdf565c889")])
}

/// Opsgenie's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::{chars as len, json_post};
    use crate::testing::{Received, require_strings};

    /// JSON POSTs with `GenieKey` auth: create on `/v2/alerts` (message ≤ 130, alias ≤ 512,
    /// description ≤ 15,000, priority P1–P5, ≤ 20 tags of ≤ 50, string details), close and
    /// add note on `/v2/alerts/{alias}/{close|notes}?identifierType=alias` (note ≤ 25,000,
    /// required to add one).
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = json_post(r);
        if !r
            .header("authorization")
            .is_some_and(|a| a.starts_with("GenieKey ") && a.len() > 9)
        {
            problems.push("`Authorization` must be `GenieKey <key>`".into());
        }
        let b = r.json();
        if len(&b["source"]) > SOURCE_MAX {
            problems.push("`source` over 100 characters".into());
        }
        let segments: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["v2", "alerts"] => problems.extend(check_create(&b)),
            ["v2", "alerts", alias, action @ ("close" | "notes")] => {
                if alias.is_empty() || alias.len() > ALIAS_MAX {
                    problems.push("the alias in the path must be 1–512 characters".into());
                }
                if r.query != "identifierType=alias" {
                    problems.push("an alias is named by `?identifierType=alias`".into());
                }
                if *action == "notes" {
                    problems.extend(require_strings(&b, &["note"]));
                }
                if len(&b["note"]) > NOTE_MAX {
                    problems.push("`note` over 25000 characters".into());
                }
            }
            _ => problems.push(format!("no alert API at {}", r.path)),
        }
        problems
    }

    fn check_create(b: &Value) -> Vec<String> {
        let mut problems = require_strings(b, &["message"]);
        for (key, max) in [
            ("message", MESSAGE_MAX),
            ("alias", ALIAS_MAX),
            ("description", DESCRIPTION_MAX),
            ("entity", ENTITY_MAX),
        ] {
            if len(&b[key]) > max {
                problems.push(format!("`{key}` over {max} characters"));
            }
        }
        if !b["priority"].is_null() && !b["priority"].as_str().is_some_and(is_priority) {
            problems.push("`priority` must be P1–P5".into());
        }
        if let Some(tags) = b["tags"].as_array()
            && (tags.len() > TAGS_MAX || tags.iter().any(|t| len(t) == 0 || len(t) > TAG_MAX))
        {
            problems.push("at most 20 tags of 1–50 characters".into());
        }
        if let Some(details) = b["details"].as_object()
            && details.values().any(|v| !v.is_string())
        {
            problems.push("`details` values must be strings".into());
        }
        problems
    }

    /// `202 {"result":"Request will be processed","took":0.1,"requestId":"…"}`.
    pub fn answer(_: &Received) -> (u16, String) {
        let body = json!({
            "result": "Request will be processed",
            "took": 0.1,
            "requestId": uuid::Uuid::new_v4().to_string(),
        });
        (202, body.to_string())
    }

    /// An API integration at `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        (json!({"api_url": base, "tags": ["pingtower", "shop"]}), key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::shared::test::answer;
    use common::i18n::Language;

    fn request(event: Event) -> Request {
        Opsgenie::render(&Default::default(), &key(), &Notice::sample(event, Language::En)).unwrap()
    }

    #[test]
    fn an_incident_is_created_closed_and_noted_by_its_alias() {
        let incident = Notice::sample(Event::Opened, Language::En).incident_id.unwrap();
        let create = request(Event::Opened);
        assert_eq!(create.url.as_str(), "https://api.opsgenie.com/v2/alerts");
        assert_eq!(
            create.header_value("authorization"),
            Some("GenieKey eb243592-faa2-4ba2-a551-1afdf565c889")
        );
        let body = create.body_json().unwrap();
        assert_eq!(body["alias"], incident.to_string().as_str());
        assert_eq!(body["priority"], "P1");
        assert!(body["message"].as_str().unwrap().chars().count() <= MESSAGE_MAX);
        assert_eq!(
            request(Event::Resolved).url.as_str(),
            format!("https://api.opsgenie.com/v2/alerts/{incident}/close?identifierType=alias")
        );
        assert_eq!(
            request(Event::Report).url.as_str(),
            format!("https://api.opsgenie.com/v2/alerts/{incident}/notes?identifierType=alias")
        );
        assert_eq!(request(Event::Certificate).body_json().unwrap()["priority"], "P3");
    }

    #[test]
    fn settings_and_the_key_name_their_field() {
        assert!(Opsgenie::validate(&Default::default(), &key()).is_ok());
        let bad = |s: OpsgenieSettings| Opsgenie::validate(&s, &key()).unwrap_err().field;
        assert_eq!(
            bad(OpsgenieSettings {
                priority: Some("P6".into()),
                ..Default::default()
            }),
            "settings.priority"
        );
        assert_eq!(
            bad(OpsgenieSettings {
                tags: vec!["t".repeat(51)],
                ..Default::default()
            }),
            "settings.tags[0]"
        );
        assert_eq!(
            bad(OpsgenieSettings {
                tags: vec!["t".into(); 21],
                ..Default::default()
            }),
            "settings.tags"
        );
        assert_eq!(
            Opsgenie::validate(&Default::default(), &Secrets::default())
                .unwrap_err()
                .field,
            "secrets.api_key"
        );
        let eu = OpsgenieSettings {
            api_url: "https://api.eu.opsgenie.com".into(),
            ..Default::default()
        };
        assert_eq!(Opsgenie::summary(&eu), "Opsgenie api.eu.opsgenie.com");
    }

    #[test]
    fn answers_give_the_request_id_and_422_is_permanent() {
        let r = |status: u16, body: &str| answer(status, &[], body);
        assert_eq!(
            Opsgenie::classify(&r(
                202,
                r#"{"result":"Request will be processed","took":0.1,"requestId":"r-1"}"#
            )),
            Disposition::Delivered {
                external_id: Some("r-1".into())
            }
        );
        assert!(matches!(Opsgenie::classify(&r(422, "{}")), Disposition::Permanent(_)));
        assert!(matches!(Opsgenie::classify(&r(401, "{}")), Disposition::Unreachable(_)));
        assert!(matches!(Opsgenie::classify(&r(403, "{}")), Disposition::Unreachable(_)));
    }
}
