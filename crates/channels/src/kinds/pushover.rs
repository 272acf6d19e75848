//! Pushover: `POST /1/messages.json`, form-encoded (<https://pushover.net/api>).
//!
//! The application token (`token`) and the user or group key (`user`) are both 30
//! characters of `[A-Za-z0-9]`. Limits: title 250 characters, message 1,024, supplementary
//! `url` 512 and `url_title` 100; `priority` −2..=2, where 2 (emergency) needs `retry`
//! (≥ 30 s) and `expire` (≤ 10,800 s); `device` names are up to 25 of `[A-Za-z0-9_-]`,
//! comma-separated. A good request answers 200 `{"status":1,"request":"<uuid>"}`; a 4xx
//! answer's JSON names the bad parameter (`"token":"invalid"`, `"user":"invalid"`); 429 is
//! the monthly quota.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::form_urlencoded;

use super::api::{delivered_with, endpoint, is_word};
use super::shared::by_severity;
use crate::http::{check_short, parse_url, truncate};
use crate::{Channel, Disposition, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};

/// The title's length.
pub const TITLE_MAX: usize = 250;
/// The message's length.
pub const MESSAGE_MAX: usize = 1024;
/// The supplementary URL's length.
pub const URL_MAX: usize = 512;
/// The URL title's length.
pub const URL_TITLE_MAX: usize = 100;
/// A device name's length.
pub const DEVICE_MAX: usize = 25;
/// A sound's name's length (custom sounds' names are limited to 20 characters).
pub const SOUND_MAX: usize = 20;
/// The application token's and the user key's length.
pub const KEY_LEN: usize = 30;
/// How often an emergency (priority 2) message is repeated until acknowledged, in seconds.
pub const EMERGENCY_RETRY: u32 = 60;
/// For how long, in seconds.
pub const EMERGENCY_EXPIRE: u32 = 3600;
/// The API's address.
pub const API_URL: &str = "https://api.pushover.net";

/// Pushover.
pub struct Pushover;

fn default_api_url() -> String {
    API_URL.to_owned()
}

/// Pushover's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushoverSettings {
    /// The API's base URL (`https://api.pushover.net`).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// Only these devices of the user (comma-separated names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// A sound's name (`pushover`, `siren`, a custom sound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<String>,
    /// −2..=2; by default from the severity (critical 1, warning 0, info −1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i8>,
}

impl Default for PushoverSettings {
    fn default() -> Self {
        Self {
            api_url: default_api_url(),
            device: None,
            sound: None,
            priority: None,
        }
    }
}

fn check_key(field: &str, value: &str) -> Result<(), FieldError> {
    if value.len() != KEY_LEN || !is_word(value, &[]) {
        return Err(FieldError::new(field, format!("must be {KEY_LEN} letters and digits")));
    }
    Ok(())
}

/// Whether `device` is a comma-separated list of device names.
pub fn is_device_list(device: &str) -> bool {
    device
        .split(',')
        .all(|d| !d.is_empty() && d.len() <= DEVICE_MAX && is_word(d, &['-', '_']))
}

fn priority(s: &PushoverSettings, n: &Notice) -> i8 {
    s.priority.unwrap_or(by_severity(n, [1, 0, -1]))
}

/// The message: facts, text, digest and the acknowledgement link (the dashboard link is
/// the supplementary URL); the headline when there is nothing else.
fn message(n: &Notice) -> String {
    let mut body = n.body();
    if body.is_empty() {
        body = n.headline.clone();
    }
    let ack = n.ack_link.as_ref().map(|a| format!("\n\n{}: {a}", n.ack_label()));
    match ack {
        // The link must survive the cut: cut the text before it.
        Some(ack) if ack.chars().count() < MESSAGE_MAX / 2 => {
            format!("{}{ack}", truncate(&body, MESSAGE_MAX - ack.chars().count()))
        }
        _ => truncate(&body, MESSAGE_MAX),
    }
}

impl Channel for Pushover {
    const KIND: Kind = Kind::Pushover;
    const SECRETS: &'static [SecretField] = &[
        SecretField {
            name: "token",
            required: true,
        },
        SecretField {
            name: "user_key",
            required: true,
        },
    ];
    type Settings = PushoverSettings;

    fn validate(s: &PushoverSettings, secrets: &Secrets) -> Result<(), FieldError> {
        parse_url("settings.api_url", &s.api_url)?;
        if let Some(device) = &s.device
            && !is_device_list(device)
        {
            return Err(FieldError::new(
                "settings.device",
                format!("must be device names of up to {DEVICE_MAX} letters, digits, `-` or `_`, comma-separated"),
            ));
        }
        if let Some(device) = &s.device {
            check_short("settings.device", device)?;
        }
        if let Some(sound) = &s.sound
            && (sound.is_empty() || sound.len() > SOUND_MAX || !is_word(sound, &['-', '_']))
        {
            return Err(FieldError::new(
                "settings.sound",
                format!("must be a sound's name: 1–{SOUND_MAX} letters, digits, `-` or `_`"),
            ));
        }
        if s.priority.is_some_and(|p| !(-2..=2).contains(&p)) {
            return Err(FieldError::new("settings.priority", "must be -2..2"));
        }
        check_key("secrets.token", secrets.required("token")?)?;
        check_key("secrets.user_key", secrets.required("user_key")?)
    }

    fn summary(s: &PushoverSettings) -> String {
        match &s.device {
            Some(d) => format!("Pushover → {}", truncate(d, 60)),
            None => "Pushover (all devices)".to_owned(),
        }
    }

    fn render(s: &PushoverSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let base = parse_url("settings.api_url", &s.api_url)?;
        let priority = priority(s, n);
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", secrets.required("token")?)
            .append_pair("user", secrets.required("user_key")?)
            .append_pair("title", &truncate(&n.title(), TITLE_MAX))
            .append_pair("message", &message(n))
            .append_pair("priority", &priority.to_string())
            .append_pair("timestamp", &n.at.timestamp().to_string());
        if priority == 2 {
            form.append_pair("retry", &EMERGENCY_RETRY.to_string())
                .append_pair("expire", &EMERGENCY_EXPIRE.to_string());
        }
        if let Some(link) = n.link.as_deref().filter(|l| l.len() <= URL_MAX) {
            form.append_pair("url", link)
                .append_pair("url_title", &truncate(&n.open_label(), URL_TITLE_MAX));
        }
        if let Some(device) = &s.device {
            form.append_pair("device", device);
        }
        if let Some(sound) = &s.sound {
            form.append_pair("sound", sound);
        }
        Ok(Request {
            method: ::http::Method::POST,
            url: endpoint(&base, "/1/messages.json"),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: form.finish().into_bytes(),
        })
    }

    /// A 4xx naming the token or the user key invalid: the channel cannot work (unreachable);
    /// other 4xx: this message (permanent); 429: the quota is used up.
    fn classify(r: &Response) -> Disposition {
        let json = r.json().unwrap_or(Value::Null);
        let bad_key = json["token"] == "invalid" || json["user"] == "invalid";
        match r.status {
            400..=499 if r.status != 429 && bad_key => Disposition::Unreachable(r.describe()),
            _ => match delivered_with(r, "request") {
                Disposition::Delivered { .. } if json["status"] != json!(1) => Disposition::Permanent(r.describe()),
                other => other,
            },
        }
    }
}

/// The sample channel's application token and user key (tests).
#[cfg(any(test, feature = "testing"))]
fn keys() -> Secrets {
    crate::kinds::shared::secrets(&[
        ("token", "azGDORePK8gMaC0QOYAMyEEuzJnyUi"),
        ("user_key", "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"),
    ])
}

/// Pushover's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use super::*;
    use crate::kinds::shared::fake::{FORM, post_to};
    use crate::testing::Received;

    fn len(v: Option<&String>) -> usize {
        v.map_or(0, |s| s.chars().count())
    }

    /// A form POST to `/1/messages.json` with a good token and user key, a message, and
    /// every parameter within its limit.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = post_to(
            r,
            "/1/messages.json",
            "messages are a POST to /1/messages.json",
            FORM,
            "must be form-encoded",
        );
        let form: std::collections::HashMap<String, String> = form_urlencoded::parse(&r.body).into_owned().collect();
        for key in ["token", "user"] {
            if !form.get(key).is_some_and(|v| v.len() == KEY_LEN && is_word(v, &[])) {
                problems.push(format!("`{key}` must be 30 letters and digits"));
            }
        }
        if len(form.get("message")) == 0 || len(form.get("message")) > MESSAGE_MAX {
            problems.push("`message` must be 1–1024 characters".into());
        }
        for (key, max) in [("title", TITLE_MAX), ("url", URL_MAX), ("url_title", URL_TITLE_MAX)] {
            if len(form.get(key)) > max {
                problems.push(format!("`{key}` over {max} characters"));
            }
        }
        let priority = form.get("priority").map(|p| p.parse::<i8>());
        if priority
            .as_ref()
            .is_some_and(|p| !p.as_ref().is_ok_and(|p| (-2..=2).contains(p)))
        {
            problems.push("`priority` must be -2..2".into());
        }
        if matches!(priority, Some(Ok(2))) {
            let retry = form.get("retry").and_then(|v| v.parse::<u32>().ok());
            let expire = form.get("expire").and_then(|v| v.parse::<u32>().ok());
            if retry.is_none_or(|r| r < 30) || expire.is_none_or(|e| e > 10_800) {
                problems.push("priority 2 needs `retry` ≥ 30 and `expire` ≤ 10800".into());
            }
        }
        if form.get("timestamp").is_some_and(|t| t.parse::<i64>().is_err()) {
            problems.push("`timestamp` must be a Unix time".into());
        }
        if form.get("device").is_some_and(|d| !is_device_list(d)) {
            problems.push("`device` must be device names".into());
        }
        problems
    }

    /// `200 {"status":1,"request":"<uuid>"}`.
    pub fn answer(_: &Received) -> (u16, String) {
        (
            200,
            json!({"status": 1, "request": uuid::Uuid::new_v4().to_string()}).to_string(),
        )
    }

    /// An application at `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        (
            json!({"api_url": base, "device": "phone,tablet_2", "sound": "siren"}),
            keys(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::kinds::shared::test::answer;
    use common::i18n::Language;

    fn form(req: &Request) -> std::collections::HashMap<String, String> {
        form_urlencoded::parse(&req.body).into_owned().collect()
    }

    #[test]
    fn emergency_priority_adds_retry_and_expire() {
        let s = PushoverSettings {
            priority: Some(2),
            ..Default::default()
        };
        let req = Pushover::render(&s, &keys(), &Notice::sample(Event::Opened, Language::Ru)).unwrap();
        assert_eq!(req.url.as_str(), "https://api.pushover.net/1/messages.json");
        let f = form(&req);
        assert_eq!(
            (f["priority"].as_str(), f["retry"].as_str(), f["expire"].as_str()),
            ("2", "60", "3600")
        );
        let req = Pushover::render(&Default::default(), &keys(), &Notice::sample(Event::Test, Language::En)).unwrap();
        let f = form(&req);
        assert_eq!(f["priority"], "-1");
        assert!(!f.contains_key("retry"));
    }

    #[test]
    fn long_texts_are_cut_to_the_limits_and_keep_the_ack_link() {
        let mut n = Notice::sample(Event::Opened, Language::En);
        n.text = Some("x".repeat(5000));
        let f = form(&Pushover::render(&Default::default(), &keys(), &n).unwrap());
        assert!(f["message"].chars().count() <= MESSAGE_MAX);
        assert!(f["message"].ends_with(n.ack_link.as_deref().unwrap()));
    }

    #[test]
    fn settings_and_keys_name_their_field() {
        let ok = PushoverSettings::default();
        assert!(Pushover::validate(&ok, &keys()).is_ok());
        let bad = |s: PushoverSettings| Pushover::validate(&s, &keys()).unwrap_err().field;
        assert_eq!(
            bad(PushoverSettings {
                device: Some("a,,b".into()),
                ..Default::default()
            }),
            "settings.device"
        );
        assert_eq!(
            bad(PushoverSettings {
                device: Some("x".repeat(26)),
                ..Default::default()
            }),
            "settings.device"
        );
        assert_eq!(
            bad(PushoverSettings {
                priority: Some(3),
                ..Default::default()
            }),
            "settings.priority"
        );
        assert_eq!(
            bad(PushoverSettings {
                sound: Some("a b".into()),
                ..Default::default()
            }),
            "settings.sound"
        );
        let mut short = keys();
        short.0.insert("user_key".into(), "abc".into());
        assert_eq!(Pushover::validate(&ok, &short).unwrap_err().field, "secrets.user_key");
    }

    #[test]
    fn an_invalid_token_or_user_disables_the_channel() {
        let r = |status: u16, body: &str| answer(status, &[], body);
        let user = r(
            400,
            r#"{"user":"invalid","errors":["user identifier is invalid"],"status":0}"#,
        );
        assert!(matches!(Pushover::classify(&user), Disposition::Unreachable(_)));
        let token = r(
            400,
            r#"{"token":"invalid","errors":["application token is invalid"],"status":0}"#,
        );
        assert!(matches!(Pushover::classify(&token), Disposition::Unreachable(_)));
        let other = r(
            400,
            r#"{"message":"cannot be blank","errors":["message cannot be blank"],"status":0}"#,
        );
        assert!(matches!(Pushover::classify(&other), Disposition::Permanent(_)));
        assert!(matches!(
            Pushover::classify(&r(429, "{}")),
            Disposition::RateLimited { .. }
        ));
        let ok = Pushover::classify(&r(
            200,
            r#"{"status":1,"request":"5042853c-402d-4a18-abcb-168734a801de"}"#,
        ));
        assert_eq!(
            ok,
            Disposition::Delivered {
                external_id: Some("5042853c-402d-4a18-abcb-168734a801de".into())
            }
        );
    }
}
