//! The HTTP side every kind shares: the request a kind renders, the answer it gets, and what
//! the answer means by default.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::FieldError;

/// The longest wait a `Retry-After` may ask for; longer asks are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How much of a service's answer is kept (errors quote its start).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One request to a service. Its `Debug` shows the method and host only: URLs and headers
/// may carry secrets (Slack's webhook path, tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// GET, POST, PUT.
    pub method: http::Method,
    /// Where.
    pub url: Url,
    /// Headers, in order (names as the service documents them).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("host", &self.url.host_str())
            .field("headers", &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Request {
    /// A POST of `body` as JSON.
    pub fn post_json(url: Url, body: &Value) -> Self {
        Self::json(http::Method::POST, url, body)
    }

    /// A request with `body` as JSON.
    pub fn json(method: http::Method, url: Url, body: &Value) -> Self {
        Self {
            method,
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).expect("a JSON value serialises"),
        }
    }

    /// The same with one more header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body as JSON (tests and fakes).
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A service's answer: status, headers (names lower-case) and the start of the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body (at most [`MAX_RESPONSE_BYTES`], lossy UTF-8).
    pub body: String,
}

impl Response {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// `status 404: <start of the body>` for errors and the dashboard.
    pub fn describe(&self) -> String {
        let excerpt: String = self
            .body
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        let excerpt = excerpt.trim();
        if excerpt.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {excerpt}", self.status)
        }
    }
}

/// What an answer (or a failure to get one) means for the message and the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The service took it; its id for the message, if it gives one.
    Delivered {
        /// The service's message id (Matrix event id, Pushover request…).
        external_id: Option<String>,
    },
    /// Too many requests: nothing goes to this channel before `retry_after` (the service's
    /// `Retry-After`, else the channel's own pace), then the message is tried again.
    RateLimited {
        /// How long the service asked to wait.
        retry_after: Option<Duration>,
    },
    /// Try again later (5xx, timeouts, connection refused).
    Transient(String),
    /// This message cannot be sent (400, 413, 422…); the channel may work for others.
    Permanent(String),
    /// The channel is gone or refused (401, 403, 404, 410): it is disabled, with this reason.
    Unreachable(String),
}

/// The default meaning of an answer: 2xx delivered, 429 rate limited (with `Retry-After`),
/// 408/425/5xx transient, 401/403/404/410 unreachable, other 4xx permanent.
pub fn classify(r: &Response) -> Disposition {
    match r.status {
        200..=299 => Disposition::Delivered { external_id: None },
        429 => Disposition::RateLimited {
            retry_after: retry_after(r),
        },
        408 | 425 | 500..=599 => Disposition::Transient(r.describe()),
        401 | 403 | 404 | 410 => Disposition::Unreachable(r.describe()),
        _ => Disposition::Permanent(r.describe()),
    }
}

/// The answer's `Retry-After` (seconds, possibly fractional, or an HTTP date), capped at
/// [`MAX_RETRY_AFTER`].
pub fn retry_after(r: &Response) -> Option<Duration> {
    let value = r.header("retry-after")?.trim();
    let wait = if let Ok(secs) = value.parse::<f64>() {
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))?
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default()
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an `http(s)` URL setting or secret named `field`: a host, no credentials in it,
/// at most [`limits::URL`](crate::limits::URL) long.
pub fn parse_url(field: &str, value: &str) -> Result<Url, FieldError> {
    if value.len() > crate::limits::URL {
        return Err(FieldError::new(
            field,
            format!("is longer than {} characters", crate::limits::URL),
        ));
    }
    let url = Url::parse(value.trim()).map_err(|e| FieldError::new(field, format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FieldError::new(field, "must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::new(field, "has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new(
            field,
            "must not hold credentials (use the kind's token field)",
        ));
    }
    Ok(url)
}

/// Checks a short text setting: at most [`limits::SHORT`](crate::limits::SHORT) characters,
/// no control characters.
pub fn check_short(field: &str, value: &str) -> Result<(), FieldError> {
    if value.chars().count() > crate::limits::SHORT {
        return Err(FieldError::new(
            field,
            format!("is longer than {} characters", crate::limits::SHORT),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not hold control characters"));
    }
    Ok(())
}

/// The host of `url` as the dashboard shows a channel whose URL is secret.
pub fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: "nope".into(),
        }
    }

    #[test]
    fn answers_are_classified_by_status() {
        assert_eq!(
            classify(&answer(204, &[])),
            Disposition::Delivered { external_id: None }
        );
        assert_eq!(
            classify(&answer(429, &[("retry-after", "7")])),
            Disposition::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(classify(&answer(503, &[])), Disposition::Transient(_)));
        assert!(matches!(classify(&answer(410, &[])), Disposition::Unreachable(_)));
        assert!(matches!(classify(&answer(400, &[])), Disposition::Permanent(_)));
    }

    #[test]
    fn retry_after_takes_seconds_fractions_and_dates_and_is_capped() {
        assert_eq!(
            retry_after(&answer(429, &[("Retry-After", "1.5")])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&answer(429, &[("retry-after", "999999")])),
            Some(MAX_RETRY_AFTER)
        );
        let at = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after(&answer(429, &[("retry-after", &at)])).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(retry_after(&answer(429, &[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&answer(429, &[("retry-after", "-3")])), None);
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(parse_url("settings.url", "https://hooks.example.com/x").is_ok());
        assert_eq!(parse_url("settings.url", "ftp://x").unwrap_err().field, "settings.url");
        assert!(parse_url("settings.url", "https://user:pw@example.com/").is_err());
        assert!(parse_url("settings.url", &format!("https://e.com/{}", "a".repeat(3000))).is_err());
    }
}
