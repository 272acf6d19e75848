//! A generic webhook: a signed JSON POST (ours, documented here, or the user's own body from a
//! template) to any http(s) URL.
//!
//! **The request.** `POST <settings.url>` with `Content-Type` `settings.content_type`
//! (default `application/json`) and these headers on every request:
//! - `X-PingTower-Event`: the event (`opened`, `resolved`, `report`, `certificate`,
//!   `flapping`, `reminder`, `digest`, `test`);
//! - `X-PingTower-Delivery`: the delivery's id, the same on every retry of one message (a
//!   receiver drops duplicates by it);
//! - `X-PingTower-Timestamp`: when this attempt was made, in Unix seconds;
//! - `X-PingTower-Signature: v1=<hex>` when the channel has a `secret`: the lower-case hex
//!   HMAC-SHA256 of `"{timestamp}.{body}"` keyed with the secret (see [`verify`]);
//! - the channel's own headers (secrets named `header:<Name>`, at most
//!   [`limits::HEADERS`](crate::limits::HEADERS)).
//!
//! **The default body** (no template), version 1:
//! `{"version":1, "event", "severity", "incident_id", "delivery_id", "title", "badge",
//! "headline", "name", "facts":[{"label","value"}], "text", "link", "ack_url",
//! "items":[{"name","headline","link"}], "more", "occurred_at" (RFC 3339), "language"}`;
//! absent values are `null`. Every text is already in the recipient's language.
//!
//! **Templates.** `settings.template` is a [MiniJinja](https://docs.rs/minijinja) template
//! (at most [`limits::TEMPLATE`](crate::limits::TEMPLATE) bytes) given the same names as
//! variables; values are inserted as they are, so a JSON template quotes strings with
//! `tojson` (`{"text": {{ title|tojson }}}`). There is no loader (no `include`), evaluation
//! has a fuel limit, and a JSON content type requires the rendered body to be JSON.
//!
//! **Receiving.** Check the signature with [`verify`] (constant time, timestamp within a
//! tolerance), and remember the `(timestamp, signature)` pairs seen within the tolerance to
//! refuse a replayed request.

use chrono::{SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::http::{check_short, host_of, parse_url};
use crate::{Channel, FieldError, Kind, Notice, Request, SecretField, Secrets, limits};

/// The prefix of a custom header's secret (`header:X-Api-Key`).
pub const HEADER_PREFIX: &str = "header:";
/// The signature scheme's version, in the signature header (`v1=<hex>`).
pub const SIGNATURE_VERSION: &str = "v1";
/// The shortest signing secret.
pub const SECRET_MIN: usize = 16;
/// The fuel a template may burn (MiniJinja counts instructions).
pub const TEMPLATE_FUEL: u64 = 50_000;
/// The largest body a template may render, in bytes.
pub const BODY_MAX: usize = 64 * 1024;
/// The content type of the default body.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";
/// The headers PingTower sets, which custom headers may not replace (besides `X-PingTower-*`).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
];
const TEMPLATE_FIELD: &str = "settings.template";

type HmacSha256 = Hmac<Sha256>;

/// The generic webhook.
pub struct Webhook;

/// A webhook's settings (its URL is not a secret; the signing key and header values are).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST.
    #[serde(default)]
    pub url: String,
    /// A MiniJinja template of the body; the default JSON body when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The body's content type.
    #[serde(default = "default_content_type")]
    pub content_type: String,
}

fn default_content_type() -> String {
    DEFAULT_CONTENT_TYPE.to_owned()
}

/// Why a received request's signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `X-PingTower-Timestamp` is not Unix seconds.
    #[error("the timestamp is not a number of seconds")]
    Timestamp,
    /// The timestamp is outside the tolerance (an old request, or a replay of one).
    #[error("the timestamp is outside the tolerance")]
    Expired,
    /// `X-PingTower-Signature` holds no `v1=<hex>` signature.
    #[error("the signature header holds no v1 signature")]
    Malformed,
    /// No signature matches the body and timestamp.
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-PingTower-Signature` value of `body` sent at `timestamp`: `v1=<hex HMAC-SHA256 of
/// "{timestamp}.{body}">`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, &timestamp.to_string(), body).finalize().into_bytes();
    format!("{SIGNATURE_VERSION}={}", hex::encode(digest))
}

/// Checks a received request (for receivers): `timestamp` and `signature` are the
/// `X-PingTower-Timestamp` and `X-PingTower-Signature` headers, `body` the raw body, `now`
/// the receiver's Unix time. The timestamp must be within `tolerance_secs` of `now`; the
/// signature header may list several comma-separated signatures (one must match, compared in
/// constant time). A replay within the tolerance passes this check: remember the
/// `(timestamp, signature)` pairs seen.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let timestamp = timestamp.trim();
    let sent: i64 = timestamp.parse().map_err(|_| VerifyError::Timestamp)?;
    if now.abs_diff(sent) > tolerance_secs.unsigned_abs() {
        return Err(VerifyError::Expired);
    }
    let prefix = format!("{SIGNATURE_VERSION}=");
    let mut seen = false;
    for candidate in signature
        .split(',')
        .filter_map(|s| s.trim().strip_prefix(prefix.as_str()))
    {
        let Ok(bytes) = hex::decode(candidate) else { continue };
        seen = true;
        if mac(secret, timestamp, body).verify_slice(&bytes).is_ok() {
            return Ok(());
        }
    }
    Err(if seen {
        VerifyError::Mismatch
    } else {
        VerifyError::Malformed
    })
}

/// The default body, and the template's variables.
pub fn payload(n: &Notice) -> Value {
    json!({
        "version": 1,
        "event": n.event.as_str(),
        "severity": n.severity.as_str(),
        "incident_id": n.incident_id,
        "delivery_id": n.key,
        "title": n.title(),
        "badge": n.badge,
        "headline": n.headline,
        "name": n.name,
        "facts": n.facts.iter().map(|(label, value)| json!({"label": label, "value": value})).collect::<Vec<_>>(),
        "text": n.text,
        "link": n.link,
        "ack_url": n.ack_link,
        "items": n.items,
        "more": n.more,
        "occurred_at": n.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "language": n.lang.tag(),
    })
}

/// Whether `content_type` is JSON (`application/json`, `application/*+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// MiniJinja as templates get it: no loader, a fuel limit, undefined names are errors.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env
}

/// Renders `template` for `n`; a JSON `content_type` requires JSON out.
pub fn render_template(template: &str, content_type: &str, n: &Notice) -> Result<String, FieldError> {
    let out = environment()
        .render_str(template, payload(n))
        .map_err(|e| FieldError::new(TEMPLATE_FIELD, format!("does not render: {e}")))?;
    if out.len() > BODY_MAX {
        return Err(FieldError::new(
            TEMPLATE_FIELD,
            format!("renders a body over {BODY_MAX} bytes"),
        ));
    }
    if is_json(content_type)
        && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&out)
    {
        return Err(FieldError::new(
            TEMPLATE_FIELD,
            format!(
                "does not render valid JSON (line {}, column {}; quote strings with `|tojson`)",
                e.line(),
                e.column()
            ),
        ));
    }
    Ok(out)
}

fn check_template(template: &str, content_type: &str) -> Result<(), FieldError> {
    if template.len() > limits::TEMPLATE {
        return Err(FieldError::new(
            TEMPLATE_FIELD,
            format!("is longer than {} bytes", limits::TEMPLATE),
        ));
    }
    if template.trim().is_empty() {
        return Err(FieldError::new(
            TEMPLATE_FIELD,
            "is empty (leave it out for the default body)",
        ));
    }
    let env = environment();
    env.template_from_str(template)
        .map_err(|e| FieldError::new(TEMPLATE_FIELD, format!("is not a valid template: {e}")))?;
    // Run-time errors (unknown names, bad filters, JSON out) show now rather than at the
    // first incident: render the samples that use every variable.
    for event in [crate::Event::Opened, crate::Event::Digest, crate::Event::Report] {
        render_template(
            template,
            content_type,
            &Notice::sample(event, common::i18n::Language::En),
        )?;
    }
    Ok(())
}

fn check_content_type(value: &str, has_template: bool) -> Result<(), FieldError> {
    const FIELD: &str = "settings.content_type";
    check_short(FIELD, value)?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    let valid = essence.split_once('/').is_some_and(|(t, s)| {
        let token = |p: &str| !p.is_empty() && http::HeaderName::from_bytes(p.as_bytes()).is_ok();
        token(t) && token(s)
    });
    if !valid || http::HeaderValue::from_str(value).is_err() {
        return Err(FieldError::new(FIELD, "must be a media type (type/subtype)"));
    }
    if !has_template && !is_json(value) {
        return Err(FieldError::new(FIELD, "must be JSON unless a template gives the body"));
    }
    Ok(())
}

/// The channel's own headers (`header:<Name>` secrets), checked: valid names and values, at
/// most [`limits::HEADERS`], none that PingTower sets.
pub fn custom_headers(secrets: &Secrets) -> Result<Vec<(&str, &str)>, FieldError> {
    let mut out = Vec::new();
    for (key, value) in &secrets.0 {
        let Some(name) = key.strip_prefix(HEADER_PREFIX) else {
            continue;
        };
        let field = || format!("secrets.{key}");
        let lower = name.to_ascii_lowercase();
        if name.is_empty() || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(FieldError::new(field(), "is not a valid HTTP header name"));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-pingtower-") {
            return Err(FieldError::new(field(), "is a header PingTower sets itself"));
        }
        if value.len() > limits::SECRET || http::HeaderValue::from_str(value).is_err() {
            return Err(FieldError::new(field(), "is not a valid HTTP header value"));
        }
        out.push((name, value.as_str()));
    }
    if out.len() > limits::HEADERS {
        return Err(FieldError::new(
            "secrets",
            format!("at most {} custom headers", limits::HEADERS),
        ));
    }
    Ok(out)
}

fn check_secret(secrets: &Secrets) -> Result<(), FieldError> {
    match secrets.0.get("secret") {
        Some(s) if s.chars().count() < SECRET_MIN => Err(FieldError::new(
            "secrets.secret",
            format!("must be at least {SECRET_MIN} characters"),
        )),
        Some(s) if s.chars().any(char::is_control) => {
            Err(FieldError::new("secrets.secret", "must not hold control characters"))
        }
        _ => Ok(()),
    }
}

impl Channel for Webhook {
    const KIND: Kind = Kind::Webhook;
    const SECRETS: &'static [SecretField] = &[
        SecretField {
            name: "secret",
            required: false,
        },
        SecretField {
            name: "header:*",
            required: false,
        },
    ];
    type Settings = WebhookSettings;

    fn validate(s: &WebhookSettings, secrets: &Secrets) -> Result<(), FieldError> {
        if s.url.trim().is_empty() {
            return Err(FieldError::new("settings.url", "is required"));
        }
        parse_url("settings.url", &s.url)?;
        check_content_type(&s.content_type, s.template.is_some())?;
        if let Some(t) = &s.template {
            check_template(t, &s.content_type)?;
        }
        check_secret(secrets)?;
        custom_headers(secrets).map(drop)
    }

    fn summary(s: &WebhookSettings) -> String {
        // The path and query may hold a token: the host only.
        match url::Url::parse(&s.url) {
            Ok(u) => format!("Webhook ({})", host_of(&u)),
            Err(_) => "Webhook".to_owned(),
        }
    }

    fn render(s: &WebhookSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let url = parse_url("settings.url", &s.url)?;
        let body = match &s.template {
            Some(t) => render_template(t, &s.content_type, n)?.into_bytes(),
            None => serde_json::to_vec(&payload(n)).expect("a JSON value serialises"),
        };
        let timestamp = Utc::now().timestamp();
        let mut request = Request {
            method: http::Method::POST,
            url,
            headers: vec![("Content-Type".into(), s.content_type.clone())],
            body,
        }
        .header("X-PingTower-Event", n.event.as_str())
        .header("X-PingTower-Delivery", n.key.to_string())
        .header("X-PingTower-Timestamp", timestamp.to_string());
        if let Some(secret) = secrets.get("secret") {
            let value = signature(secret, timestamp, &request.body);
            request = request.header("X-PingTower-Signature", value);
        }
        for (name, value) in custom_headers(secrets)? {
            request = request.header(name, value);
        }
        Ok(request)
    }
}

/// A receiver of the default body (tests): checks the shape, the signature with
/// [`SAMPLE_SECRET`](fake::SAMPLE_SECRET) and refuses replays.
#[cfg(feature = "testing")]
pub mod fake {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};

    use super::*;
    use crate::testing::{Received, require_strings};

    /// The sample channel's signing secret.
    pub const SAMPLE_SECRET: &str = "sample-signing-secret-0123456789";
    /// The sample channel's custom header and its value.
    pub const SAMPLE_HEADER: (&str, &str) = ("X-Api-Key", "sample-api-key");
    /// How far a timestamp may be from the fake's clock.
    pub const TOLERANCE_SECS: i64 = 300;

    /// A request as a receiver remembers it: `(receiver, timestamp, signature)`.
    type Seen = (String, String, String);

    /// Requests seen, with their timestamps: the receiver is the
    /// `Host` header (each fake has its own port), so fakes running at once share nothing.
    static SEEN: LazyLock<Mutex<HashMap<Seen, i64>>> = LazyLock::new(Default::default);

    /// Whether this request was seen before (remembering it); entries older than the
    /// tolerance are forgotten (the timestamp check refuses those requests anyway).
    fn replayed(r: &Received, timestamp: &str, signature: &str, now: i64) -> bool {
        let sent = timestamp.trim().parse().unwrap_or(now);
        let key = (
            r.header("host").unwrap_or_default().to_owned(),
            timestamp.to_owned(),
            signature.to_owned(),
        );
        let mut seen = SEEN.lock().unwrap();
        seen.retain(|_, at| now.abs_diff(*at) <= TOLERANCE_SECS.unsigned_abs());
        seen.insert(key, sent).is_some()
    }

    fn check_headers(r: &Received, b: &Value, problems: &mut Vec<String>) {
        if r.header("x-pingtower-event") != b["event"].as_str() {
            problems.push("X-PingTower-Event must be the body's event".into());
        }
        if r.header("x-pingtower-delivery") != b["delivery_id"].as_str() {
            problems.push("X-PingTower-Delivery must be the body's delivery_id".into());
        }
        if r.header(SAMPLE_HEADER.0) != Some(SAMPLE_HEADER.1) {
            problems.push(format!("the custom header {} is missing", SAMPLE_HEADER.0));
        }
        let (Some(timestamp), Some(signature)) = (r.header("x-pingtower-timestamp"), r.header("x-pingtower-signature"))
        else {
            problems.push("X-PingTower-Timestamp and X-PingTower-Signature are required".into());
            return;
        };
        let now = Utc::now().timestamp();
        if let Err(e) = verify(SAMPLE_SECRET, timestamp, signature, &r.body, now, TOLERANCE_SECS) {
            problems.push(format!("signature: {e}"));
        } else if replayed(r, timestamp, signature, now) {
            problems.push("replayed: this timestamp and signature were seen before".into());
        }
    }

    /// The default body's shape, its headers and its signature.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = Vec::new();
        if r.method != "POST" || !r.header("content-type").is_some_and(is_json) {
            problems.push("must be a JSON POST".into());
        }
        let b = r.json();
        if b["version"] != 1 {
            problems.push("`version` must be 1".into());
        }
        problems.extend(require_strings(
            &b,
            &[
                "event",
                "severity",
                "delivery_id",
                "title",
                "badge",
                "headline",
                "name",
                "occurred_at",
                "language",
            ],
        ));
        if b["occurred_at"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_err())
        {
            problems.push("`occurred_at` must be RFC 3339".into());
        }
        let facts_ok = b["facts"]
            .as_array()
            .is_some_and(|f| f.iter().all(|f| f["label"].is_string() && f["value"].is_string()));
        if !facts_ok {
            problems.push("`facts` must be [{label, value}] strings".into());
        }
        let items_ok = b["items"]
            .as_array()
            .is_some_and(|i| i.iter().all(|i| i["name"].is_string() && i["headline"].is_string()));
        if !items_ok {
            problems.push("`items` must be [{name, headline, link}]".into());
        }
        if !b["more"].is_u64() {
            problems.push("`more` must be a count".into());
        }
        for key in ["incident_id", "text", "link", "ack_url"] {
            if !(b[key].is_null() || b[key].is_string()) {
                problems.push(format!("`{key}` must be a string or null"));
            }
        }
        check_headers(r, &b, &mut problems);
        problems
    }

    /// A receiver answers `204 No Content`.
    pub fn answer(_: &Received) -> (u16, String) {
        (204, String::new())
    }

    /// A signed channel with one custom header, posting to `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        let secrets = Secrets(
            [
                ("secret".to_owned(), SAMPLE_SECRET.to_owned()),
                (
                    format!("{HEADER_PREFIX}{}", SAMPLE_HEADER.0),
                    SAMPLE_HEADER.1.to_owned(),
                ),
            ]
            .into(),
        );
        (json!({"url": format!("{base}/hooks/pingtower?token=sample")}), secrets)
    }
}
