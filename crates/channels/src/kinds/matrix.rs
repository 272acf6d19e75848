//! Matrix: an `m.room.message` sent through the client-server API
//! (<https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid>).
//!
//! `PUT {homeserver}/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` with the
//! access token in `Authorization: Bearer`. The transaction id is the delivery's key, the
//! same on every retry: the homeserver answers a repeated transaction with the event it
//! already sent, so a retry after a lost answer posts nothing twice. The body is an `m.text`
//! message with a plain `body` and an HTML `formatted_body`
//! (`org.matrix.custom.html`, every user text escaped). The answer is 200
//! `{"event_id":"$…"}`; 429 `M_LIMIT_EXCEEDED` carries `retry_after_ms`; 401/403 mean the
//! token is wrong or the user is not in the room. An event may take 65,536 bytes.

use serde::{Deserialize, Serialize};
use serde_json::json;
use url::{Url, form_urlencoded};

use super::api::{check_token, delivered_with, endpoint, truncate_bytes};
use crate::http::{self, host_of, parse_url, truncate};
use crate::{Channel, Disposition, FieldError, Kind, Notice, Request, Response, SecretField, Secrets};
use common::html::escape;

/// A room id's length in bytes.
pub const ROOM_ID_MAX: usize = 255;
/// The longest text (a report) carried, in characters: the event stays under 65,536 bytes
/// with it twice (plain and HTML), in any script.
pub const TEXT_MAX: usize = 6000;
/// The plain body's size in bytes.
pub const BODY_MAX_BYTES: usize = 28_000;
/// An access token's length.
pub const TOKEN_MAX: usize = 1024;
/// The event type sent.
pub const EVENT_TYPE: &str = "m.room.message";

/// Matrix.
pub struct Matrix;

/// Matrix' settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSettings {
    /// The homeserver's base URL: `https://matrix.example.org`.
    pub homeserver: String,
    /// The room: `!opaque:server`.
    pub room_id: String,
}

/// Whether `id` is a room id: `!`, an opaque part, `:`, a server name; no spaces or control
/// characters; at most 255 bytes.
pub fn is_room_id(id: &str) -> bool {
    let Some((opaque, server)) = id.strip_prefix('!').and_then(|rest| rest.split_once(':')) else {
        return false;
    };
    id.len() <= ROOM_ID_MAX
        && !opaque.is_empty()
        && !server.is_empty()
        && !id.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The send URL: the room id percent-encoded as one path segment, the transaction id last.
pub fn send_url(homeserver: &Url, room_id: &str, txn_id: &str) -> Url {
    let room: String = form_urlencoded::byte_serialize(room_id.as_bytes()).collect();
    let txn: String = form_urlencoded::byte_serialize(txn_id.as_bytes()).collect();
    endpoint(
        homeserver,
        &format!("/_matrix/client/v3/rooms/{room}/send/{EVENT_TYPE}/{txn}"),
    )
}

/// The message as HTML: bold title, facts, text, digest and links, every user text escaped.
pub fn html(n: &Notice) -> String {
    let mut out = format!("<strong>{}</strong>", escape(&n.title()));
    for (l, v) in &n.facts {
        out.push_str(&format!("<br><b>{}</b>: {}", escape(l), escape(v)));
    }
    if let Some(t) = &n.text {
        out.push_str(&format!(
            "<p>{}</p>",
            escape(&truncate(t, TEXT_MAX)).replace('\n', "<br>")
        ));
    }
    let digest = n.digest_lines();
    if !digest.is_empty() {
        let items: Vec<String> = digest.iter().map(|l| escape(l)).collect();
        out.push_str(&format!("<p>{}</p>", items.join("<br>")));
    }
    let mut links = Vec::new();
    if let Some(link) = &n.link {
        links.push(format!("<a href=\"{}\">{}</a>", escape(link), escape(&n.open_label())));
    }
    if let Some(ack) = &n.ack_link {
        links.push(format!("<a href=\"{}\">{}</a>", escape(ack), escape(&n.ack_label())));
    }
    if !links.is_empty() {
        out.push_str(&format!("<p>{}</p>", links.join(" · ")));
    }
    out
}

/// The notice with its long text cut to [`TEXT_MAX`].
fn bounded(n: &Notice) -> Notice {
    let mut n = n.clone();
    n.text = n.text.map(|t| truncate(&t, TEXT_MAX));
    n
}

impl Channel for Matrix {
    const KIND: Kind = Kind::Matrix;
    const SECRETS: &'static [SecretField] = &[SecretField {
        name: "access_token",
        required: true,
    }];
    type Settings = MatrixSettings;

    fn validate(s: &MatrixSettings, secrets: &Secrets) -> Result<(), FieldError> {
        parse_url("settings.homeserver", &s.homeserver)?;
        if !is_room_id(&s.room_id) {
            return Err(FieldError::new(
                "settings.room_id",
                format!("must be a room id like !opaque:example.org (at most {ROOM_ID_MAX} bytes)"),
            ));
        }
        check_token("secrets.access_token", secrets.required("access_token")?, TOKEN_MAX)
    }

    fn summary(s: &MatrixSettings) -> String {
        let host = Url::parse(s.homeserver.trim()).map(|u| host_of(&u)).unwrap_or_default();
        format!("Matrix {} on {host}", truncate(&s.room_id, 80))
    }

    fn render(s: &MatrixSettings, secrets: &Secrets, n: &Notice) -> Result<Request, FieldError> {
        let homeserver = parse_url("settings.homeserver", &s.homeserver)?;
        let n = bounded(n);
        let body = json!({
            "msgtype": "m.text",
            "body": truncate_bytes(&n.plain(), BODY_MAX_BYTES),
            "format": "org.matrix.custom.html",
            "formatted_body": html(&n),
        });
        let url = send_url(&homeserver, &s.room_id, &n.key.to_string());
        let token = secrets.required("access_token")?;
        Ok(Request::json(::http::Method::PUT, url, &body).header("Authorization", format!("Bearer {token}")))
    }

    /// 429: the wait is `retry_after_ms` of `M_LIMIT_EXCEEDED`, else `Retry-After`; 2xx: the
    /// `event_id`; otherwise as usual (401/403 unreachable).
    fn classify(r: &Response) -> Disposition {
        if r.status == 429 {
            let from_body = r
                .json()
                .and_then(|j| j["retry_after_ms"].as_u64())
                .map(|ms| std::time::Duration::from_millis(ms).min(http::MAX_RETRY_AFTER));
            return Disposition::RateLimited {
                retry_after: from_body.or_else(|| http::retry_after(r)),
            };
        }
        delivered_with(r, "event_id")
    }
}

/// A homeserver's documented shape (tests).
#[cfg(feature = "testing")]
pub mod fake {
    use serde_json::Value;

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::kinds::shared::fake::{JSON, has_content_type};
    use crate::kinds::shared::secrets;
    use crate::testing::{Received, require_strings};

    /// The room id and transaction id of a send path, decoded.
    pub fn send_path(path: &str) -> Option<(String, String)> {
        let rest = path.strip_prefix("/_matrix/client/v3/rooms/")?;
        let (room, rest) = rest.split_once('/')?;
        let txn = rest.strip_prefix(&format!("send/{EVENT_TYPE}/"))?;
        let decode = |s: &str| -> String {
            form_urlencoded::parse(format!("v={s}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .collect()
        };
        (!txn.is_empty() && !txn.contains('/')).then(|| (decode(room), decode(txn)))
    }

    /// `PUT …/rooms/{roomId}/send/m.room.message/{txnId}`, bearer token, JSON `m.text` with
    /// `body`, and `formatted_body` in `org.matrix.custom.html`; the event within 65,536
    /// bytes.
    pub fn check(r: &Received) -> Vec<String> {
        let mut problems = Vec::new();
        if r.method != "PUT" {
            problems.push(format!("events are sent with PUT, not {}", r.method));
        }
        match send_path(&r.path) {
            Some((room, _)) if is_room_id(&room) => {}
            _ => problems.push(format!("not a send path with a room id: {}", r.path)),
        }
        if !r
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7)
        {
            problems.push("`Authorization` must be `Bearer <token>`".into());
        }
        if !has_content_type(r, JSON) {
            problems.push("must be JSON".into());
        }
        if r.body.len() > 65_536 {
            problems.push("the event is over 65536 bytes".into());
        }
        let b = r.json();
        problems.extend(require_strings(&b, &["msgtype", "body"]));
        if b["msgtype"] != "m.text" && b["msgtype"] != "m.notice" {
            problems.push("`msgtype` must be m.text or m.notice".into());
        }
        if !b["formatted_body"].is_null()
            && (b["format"] != "org.matrix.custom.html" || !b["formatted_body"].is_string())
        {
            problems.push("`formatted_body` needs `format: org.matrix.custom.html`".into());
        }
        problems
    }

    /// The event id a homeserver gives the transaction `txn` in `room`: the same for a
    /// repeated transaction (the spec's idempotency), another for another.
    pub fn event_id(room: &str, txn: &str) -> String {
        let digest = Sha256::digest(format!("{room}\n{txn}").as_bytes());
        format!("${}", &hex::encode(digest)[..32])
    }

    /// `200 {"event_id":"$…"}`, the same for a repeated transaction id.
    pub fn answer(r: &Received) -> (u16, String) {
        let (room, txn) = send_path(&r.path).unwrap_or_default();
        (200, json!({"event_id": event_id(&room, &txn)}).to_string())
    }

    /// A room on the homeserver at `base`.
    pub fn sample(base: &str) -> (Value, Secrets) {
        (
            json!({"homeserver": base, "room_id": "!AbCdEfGh1234:matrix.example.org"}),
            secrets(&[("access_token", "syt_cGluZ3Rvd2Vy_abcdefghijklmnopqrst_0A1b2C")]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use common::i18n::Language;

    fn settings() -> MatrixSettings {
        MatrixSettings {
            homeserver: "https://matrix.example.org".into(),
            room_id: "!AbCd:example.org".into(),
        }
    }

    fn token() -> Secrets {
        crate::kinds::shared::secrets(&[("access_token", "syt_abc")])
    }

    #[test]
    fn the_room_is_encoded_and_the_delivery_key_is_the_transaction() {
        let n = Notice::sample(Event::Opened, Language::En);
        let req = Matrix::render(&settings(), &token(), &n).unwrap();
        assert_eq!(req.method, ::http::Method::PUT);
        assert_eq!(
            req.url.as_str(),
            format!(
                "https://matrix.example.org/_matrix/client/v3/rooms/%21AbCd%3Aexample.org/send/m.room.message/{}",
                n.key
            )
        );
        assert_eq!(req.header_value("authorization"), Some("Bearer syt_abc"));
        let body = req.body_json().unwrap();
        assert_eq!(body["format"], "org.matrix.custom.html");
        assert!(body["body"].as_str().unwrap().contains(&n.headline));
    }

    #[test]
    fn user_text_is_escaped_in_html() {
        let mut n = Notice::sample(Event::Report, Language::En);
        n.name = "<script>".into();
        n.headline = "<img src=x onerror=alert(1)> is down".into();
        n.facts = vec![("a&b".into(), "\"quoted\"".into())];
        let html = html(&n);
        assert!(!html.contains("<img") && !html.contains("<script"), "{html}");
        assert!(html.contains("&lt;img") && html.contains("a&amp;b") && html.contains("&quot;quoted&quot;"));
    }

    #[test]
    fn room_ids_and_tokens_are_checked() {
        assert!(Matrix::validate(&settings(), &token()).is_ok());
        for bad in [
            "#alias:example.org",
            "!nocolon",
            "!:example.org",
            "!a b:example.org",
            "!x:",
        ] {
            let s = MatrixSettings {
                room_id: bad.into(),
                ..settings()
            };
            assert_eq!(
                Matrix::validate(&s, &token()).unwrap_err().field,
                "settings.room_id",
                "{bad}"
            );
        }
        let long = MatrixSettings {
            room_id: format!("!{}:example.org", "a".repeat(250)),
            ..settings()
        };
        assert_eq!(Matrix::validate(&long, &token()).unwrap_err().field, "settings.room_id");
        assert_eq!(
            Matrix::validate(&settings(), &Secrets::default()).unwrap_err().field,
            "secrets.access_token"
        );
        assert_eq!(
            Matrix::summary(&settings()),
            "Matrix !AbCd:example.org on matrix.example.org"
        );
    }

    #[test]
    fn rate_limits_take_retry_after_ms_else_the_header() {
        let limited = Response {
            status: 429,
            headers: vec![("retry-after".into(), "9".into())],
            body: r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000}"#.into(),
        };
        assert_eq!(
            Matrix::classify(&limited),
            Disposition::RateLimited {
                retry_after: Some(std::time::Duration::from_millis(2000))
            }
        );
        let header_only = Response {
            body: "{}".into(),
            ..limited
        };
        assert_eq!(
            Matrix::classify(&header_only),
            Disposition::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(9))
            }
        );
        let forbidden = Response {
            status: 403,
            headers: Vec::new(),
            body: r#"{"errcode":"M_FORBIDDEN"}"#.into(),
        };
        assert!(matches!(Matrix::classify(&forbidden), Disposition::Unreachable(_)));
        let sent = Response {
            status: 200,
            headers: Vec::new(),
            body: r#"{"event_id":"$abc"}"#.into(),
        };
        assert_eq!(
            Matrix::classify(&sent),
            Disposition::Delivered {
                external_id: Some("$abc".into())
            }
        );
    }

    #[test]
    fn long_reports_stay_under_the_event_size() {
        let mut n = Notice::sample(Event::Report, Language::Ru);
        n.text = Some("ж<".repeat(40_000));
        let req = Matrix::render(&settings(), &token(), &n).unwrap();
        assert!(req.body.len() < 65_536, "{}", req.body.len());
    }
}
