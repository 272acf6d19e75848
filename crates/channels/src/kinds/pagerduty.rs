//! PagerDuty: the Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`,
//! <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/> and
//! <https://developer.pagerduty.com/docs/events-api-v2/resolve-events/>).
//!
//! The incident's id is the `dedup_key` (≤ 255 characters): every message of one incident
//! lands on one PagerDuty alert, and its resolution resolves it. Messages without an
//! incident (digests, tests) use the delivery's key. A trigger carries `payload.summary`
//! (≤ 1,024 characters), `source`, `severity` (critical, error, warning, info), `timestamp`,
//! `component` and `custom_details`, plus `links`, `client` and `client_url`. A resolve needs
//! only `routing_key`, `event_action` and `dedup_key`; PagerDuty ignores a payload on it, and
//! ours carries the summary so the event log says what resolved. The answer is 202
//! `{"status":"success","message":"Event processed","dedup_key":"…"}`; 400 "Invalid routing
//! key" means the integration is gone; 429 is PagerDuty's rate limit.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::api::{delivered_with, is_word};
use super::shared::links;
use crate::http::{check_short, parse_url, truncate};
use crate::{Channel, Disposition, Event, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// `payload.summary`'s length.
pub const SUMMARY_MAX: usize = 1024;
/// `dedup_key`'s length.
pub const DEDUP_KEY_MAX: usize = 255;
/// `source`'s length (PagerDuty documents none; ours is a short setting).
pub const SOURCE_MAX: usize = crate::limits::SHORT;
/// An integration's routing key's length.
pub const ROUTING_KEY_LEN: usize = 32;
/// A custom detail's length.
pub const DETAIL_MAX: usize = 4000;
/// The Events API's address.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// `client` in every event.
pub const CLIENT: &str = "PingTower";

/// PagerDuty.
pub struct PagerDuty;

fn default_events_url() -> String {
    EVENTS_URL.to_owned()
}

fn default_source() -> String {
    CLIENT.to_owned()
}

/// PagerDuty's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    /// The Events API v2 endpoint.
    #[serde(default = "default_events_url")]
    pub events_url: String,
    /// `payload.source`: where the problem is, as PagerDuty shows it.
    #[serde(default = "default_source")]
    pub source: String,
}

impl Default for PagerDutySettings {
    fn default() -> Self {
        Self {
            events_url: default_events_url(),
            source: default_source(),
        }
    }
}

/// The `dedup_key` of `n`: its incident, else the delivery.
pub fn dedup_key(n: &Notice) -> String {
    n.incident_id.unwrap_or(n.key).to_string()
}

/// The facts as an object, with the report's text and the digest's lines.
fn custom_details(n: &Notice) -> Value {
    let mut details = Map::new();
    for (label, value) in &n.facts {
        details.insert(truncate(label, 100), json!(truncate(value, DETAIL_MAX)));
    }
    if let Some(t) = &n.text {
        details.insert("text".into(), json!(truncate(t, DETAIL_MAX)));
    }
    let digest = n.digest_lines();
    if !digest.is_empty() {
        details.insert("incidents".into(), json!(digest));
    }
    Value::Object(details)
}

/// The dashboard's address: the link's origin.
fn client_url(n: &Notice) -> Option<String> {
    let link = Url::parse(n.link.as_deref()?).ok()?;
    Some(format!("{}/", link.origin().ascii_serialization()))
}

fn payload(s: &PagerDutySettings, n: &Notice) -> Value {
    json!({
        "summary": truncate(&n.title(), SUMMARY_MAX),
        "source": s.source,
        "severity": n.severity.as_str(),
        "timestamp": n.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "component": n.name,
        "custom_details": custom_details(n),
    })
}

impl Channel for PagerDuty {
    const KIND: Kind = Kind::Pagerduty;
    const SECRETS: &'static [SecretField] = &[SecretField {
        name: "routing_key",
        required: true,
    }];
    type Settings = PagerDutySettings;

    fn validate(s: &PagerDutySettings, secrets: &Secrets) -> Result<(), FieldError> {
        parse_url("settings.events_url", &s.events_url)?;
        check_short("settings.source", &s.source)?;
        if s.source.trim().is_empty() {
            return Err(FieldError::new("settings.source", "must not be empty"));
        }
        let key = secrets.required("routing_key")?;
        if key.len() != ROUTING_KEY_LEN || !is_word(key, &[]) {
            return Err(FieldError::new(
                "secrets.routing_key",
                format!("must be the integration's {ROUTING_KEY_LEN}-character key"),
            ));
        }
        Ok(())
    }

    fn summary(_: &PagerDutySettings) -> String {
        "PagerDuty Events v2".to_owned()
    }

    fn render(s: &PagerDutySettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let url = parse_url("settings.events_url", &s.events_url)?;
        let routing_key = secrets.required("routing_key")?;
        let body = if n.event == Event::Resolved {
            json!({
                "routing_key": routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key(n),
                "payload": payload(s, n),
            })
        } else {
            let links: Vec<Value> = links(n)
                .iter()
                .map(|l| json!({"href": l.url, "text": l.label}))
                .collect();
            let mut body = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key(n),
                "payload": payload(s, n),
                "links": links,
                "client": CLIENT,
            });
            if let Some(url) = client_url(n) {
                body["client_url"] = json!(url);
            }
            body
        };
        Ok(Request::post_json(url, &body))
    }

    /// 400 "Invalid routing key": the integration is gone (unreachable); other 400s: this
    /// event (permanent); 429: rate limited; 202: the `dedup_key`.
    fn classify(r: &Response) -> Disposition {
        if r.status == 400 && r.body.to_ascii_lowercase().contains("invalid routing key") {
            return Disposition::Unreachable(r.describe());
        }
        delivered_with(r, "dedup_key")
    }
}

/// The sample channel's routing key (tests).
#[cfg(any(test, feature = "testing"))]
fn key() -> Secrets {
    crate::kinds::shared::secrets(&[("routing_key", "R0123456789abcdef0123456789abcde")])
}

/// PagerDuty's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::{JSON, chars as len, post_to};
    use crate::testing::{Received, require_strings};

    const SEVERITIES: &[&str] = &["critical", "error", "warning", "info"];

    /// A JSON POST to `/v2/enqueue`: a 32-character `routing_key`, an `event_action`, a
    /// `dedup_key` ≤ 255 (required to resolve), and for a trigger a payload with `summary`
    /// ≤ 1,024, `source`, a known `severity`, an RFC 3339 `timestamp`, object details, and
    /// links with `href`.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = post_to(
            r,
            "/v2/enqueue",
            "events are a POST to /v2/enqueue",
            JSON,
            "must be JSON",
        );
        let b = r.json();
        if len(&b["routing_key"]) != ROUTING_KEY_LEN {
            problems.push("`routing_key` must be 32 characters".into());
        }
        let action = b["event_action"].as_str().unwrap_or_default();
        if !["trigger", "acknowledge", "resolve"].contains(&action) {
            problems.push("`event_action` must be trigger, acknowledge or resolve".into());
        }
        if len(&b["dedup_key"]) > DEDUP_KEY_MAX || (action != "trigger" && len(&b["dedup_key"]) == 0) {
            problems.push("`dedup_key` ≤ 255, required to acknowledge or resolve".into());
        }
        if action == "trigger" {
            problems.extend(require_strings(
                &b,
                &["payload.summary", "payload.source", "payload.severity"],
            ));
            let p = &b["payload"];
            if len(&p["summary"]) > SUMMARY_MAX {
                problems.push("`payload.summary` over 1024 characters".into());
            }
            if !SEVERITIES.contains(&p["severity"].as_str().unwrap_or_default()) {
                problems.push("`payload.severity` must be critical, error, warning or info".into());
            }
            if p["timestamp"]
                .as_str()
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_err())
            {
                problems.push("`payload.timestamp` must be ISO 8601".into());
            }
            if !p["custom_details"].is_null() && !p["custom_details"].is_object() {
                problems.push("`payload.custom_details` must be an object".into());
            }
            for (i, link) in b["links"].as_array().into_iter().flatten().enumerate() {
                if link["href"].as_str().and_then(|h| Url::parse(h).ok()).is_none() {
                    problems.push(format!("links[{i}]: `href` must be a URL"));
                }
            }
        }
        problems
    }

    /// `202 {"status":"success","message":"Event processed","dedup_key":…}`.
    pub fn answer(r: &Received) -> (u16, String) {
        let key = r.json()["dedup_key"]
            .as_str()
            .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
        (
            202,
            json!({"status": "success", "message": "Event processed", "dedup_key": key}).to_string(),
        )
    }

    /// An integration at `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        (json!({"events_url": format!("{base}/v2/enqueue")}), key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::shared::test::answer;
    use common::i18n::Language;

    fn body(event: Event) -> Value {
        PagerDuty::render(&Default::default(), &key(), &Notice::sample(event, Language::En))
            .unwrap()
            .body_json()
            .unwrap()
    }

    #[test]
    fn the_incident_is_the_dedup_key_of_its_trigger_and_its_resolve() {
        let opened = body(Event::Opened);
        let resolved = body(Event::Resolved);
        let incident = Notice::sample(Event::Opened, Language::En)
            .incident_id
            .unwrap()
            .to_string();
        assert_eq!(opened["event_action"], "trigger");
        assert_eq!(resolved["event_action"], "resolve");
        assert_eq!(opened["dedup_key"], incident.as_str());
        assert_eq!(resolved["dedup_key"], incident.as_str());
        assert_eq!(opened["payload"]["severity"], "critical");
        assert_eq!(opened["payload"]["source"], "PingTower");
        assert_eq!(opened["links"].as_array().unwrap().len(), 2);
        assert_eq!(opened["client_url"], "https://pingtower.example/");
        assert!(opened["payload"]["custom_details"].is_object());
    }

    #[test]
    fn messages_without_an_incident_use_the_delivery_key() {
        let test = Notice::sample(Event::Test, Language::En);
        assert_eq!(body(Event::Test)["dedup_key"], test.key.to_string().as_str());
        assert_eq!(
            body(Event::Digest)["payload"]["custom_details"]["incidents"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn an_invalid_routing_key_disables_the_channel() {
        let r = |status: u16, body: &str| answer(status, &[], body);
        let gone = r(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#,
        );
        assert!(matches!(PagerDuty::classify(&gone), Disposition::Unreachable(_)));
        let bad = r(
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}"#,
        );
        assert!(matches!(PagerDuty::classify(&bad), Disposition::Permanent(_)));
        assert!(matches!(
            PagerDuty::classify(&r(429, "")),
            Disposition::RateLimited { .. }
        ));
        assert_eq!(
            PagerDuty::classify(&r(
                202,
                r#"{"status":"success","message":"Event processed","dedup_key":"k1"}"#
            )),
            Disposition::Delivered {
                external_id: Some("k1".into())
            }
        );
    }

    #[test]
    fn settings_and_the_routing_key_name_their_field() {
        assert!(PagerDuty::validate(&Default::default(), &key()).is_ok());
        let s = PagerDutySettings {
            source: " ".into(),
            ..Default::default()
        };
        assert_eq!(PagerDuty::validate(&s, &key()).unwrap_err().field, "settings.source");
        let s = PagerDutySettings {
            events_url: "mailto:x@y".into(),
            ..Default::default()
        };
        assert_eq!(
            PagerDuty::validate(&s, &key()).unwrap_err().field,
            "settings.events_url"
        );
        let short = crate::kinds::shared::secrets(&[("routing_key", "abc")]);
        assert_eq!(
            PagerDuty::validate(&Default::default(), &short).unwrap_err().field,
            "secrets.routing_key"
        );
    }
}
