//! Validation of target input: each problem names the field at fault (`spec.url`,
//! `spec.headers[1].name`, `interval_seconds`…).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::messages::{Assertion, CheckSpec, HttpAuth, Resolver, icmp_bounds};
use common::netguard::{Guard, parse_ip_literal};

use crate::error::ApiError;

/// Longest request body a check may send.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest regex pattern accepted.
const MAX_PATTERN_LEN: usize = 1024;

fn err(field: impl Into<String>, message: impl Into<String>) -> ApiError {
    ApiError::validation(field, message)
}

/// A user-visible text (name, tag, label): trimmed, non-empty, bounded, no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(err(field, format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(err(field, format!("{field} must be at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(err(
            field,
            format!("{field} must not contain control characters (CR, LF, tab…)"),
        ));
    }
    Ok(v.to_owned())
}

fn no_crlf(field: &str, value: &str) -> Result<(), ApiError> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(err(field, format!("{field} must not contain CR, LF or NUL")));
    }
    Ok(())
}

/// Whether `host` is a syntactically valid DNS name or IP literal.
fn valid_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return true;
    }
    valid_dns_name(host)
}

/// Whether `name` is a valid DNS name (labels of letters, digits, `-`, `_`; a trailing dot allowed).
pub fn valid_dns_name(name: &str) -> bool {
    let n = name.strip_suffix('.').unwrap_or(name);
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Checks the syntax of a JSON path as the pinger reads it: `$`, `.key`, `[0]`, `['key']`.
pub fn json_path(path: &str) -> Result<(), String> {
    let p = path.trim();
    if p.is_empty() {
        return Err("the JSON path is empty".into());
    }
    let mut rest = p.strip_prefix('$').unwrap_or(p);
    let mut first = !p.starts_with('$');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("empty key in JSON path {p}"));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| format!("unclosed [ in JSON path {p}"))?;
            let inner = r[..end].trim();
            let quoted = (inner.len() >= 2 && inner.starts_with('\'') && inner.ends_with('\''))
                || (inner.len() >= 2 && inner.starts_with('"') && inner.ends_with('"'));
            if !quoted && inner.parse::<usize>().is_err() {
                return Err(format!(
                    "[{inner}] in JSON path {p} is neither an index nor a quoted key"
                ));
            }
            rest = &r[end + 1..];
        } else if first {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            rest = &rest[end..];
        } else {
            return Err(format!("unexpected {rest:?} in JSON path {p}"));
        }
        first = false;
    }
    Ok(())
}

fn resolver(field: &str, r: &Resolver, guard: &Guard, may_private: bool) -> Result<(), ApiError> {
    if r.address.port() == 0 {
        return Err(err(format!("{field}.address"), "the resolver port must not be 0"));
    }
    guard
        .check(r.address, may_private)
        .map_err(|e| err(format!("{field}.address"), e.to_string()))
}

/// How long resolving a target's name may take at submit time.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(3);

/// Refuses a host whose IP literal, or whose resolved addresses, the guard refuses for an
/// owner with (or without) the private-targets permission; the suite's own endpoints are
/// refused for everyone. Names are resolved asynchronously within [`RESOLVE_DEADLINE`]; a
/// name that does not resolve in time passes (the pinger checks again after every resolution).
pub async fn guard_host(field: &str, host: &str, port: u16, guard: &Guard, may_private: bool) -> Result<(), ApiError> {
    let blocked = |e: common::netguard::BlockedAddress| err(field, e.to_string());
    if let Some(ip) = parse_ip_literal(host) {
        return guard.check(SocketAddr::new(ip, port), may_private).map_err(blocked);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let lower = bare.trim_end_matches('.').to_ascii_lowercase();
    if !(guard.allow_private_targets() && may_private) && (lower == "localhost" || lower.ends_with(".localhost")) {
        return Err(err(
            field,
            format!("{host} is a loopback name; monitoring it is not allowed on this installation"),
        ));
    }
    let lookup = tokio::time::timeout(RESOLVE_DEADLINE, tokio::net::lookup_host((bare, port))).await;
    if let Ok(Ok(addrs)) = lookup {
        for a in addrs {
            guard
                .check(a, may_private)
                .map_err(|e| err(field, format!("{host} resolves to {e}")))?;
        }
    }
    Ok(())
}

/// Validates a check spec (syntax and the address guard, for an owner with or without the
/// private-targets permission). `prefix` is the field path (`spec`).
pub async fn spec(prefix: &str, spec: &CheckSpec, guard: &Guard, may_private: bool) -> Result<(), ApiError> {
    let f = |name: &str| format!("{prefix}.{name}");
    if let CheckSpec::Heartbeat(h) = spec {
        // Nothing is reached: no address to guard, no timeout; the schedule and the slug.
        crate::heartbeats::Schedule::of(h).map_err(|e| err(f(e.field), e.message))?;
        if let Some(slug) = &h.slug
            && !crate::heartbeats::is_slug(slug)
        {
            return Err(err(
                f("slug"),
                "1–100 lowercase letters, digits, '-' or '_', starting with a letter or digit",
            ));
        }
        return Ok(());
    }
    if spec.timeout_ms() == 0 {
        return Err(err(f("timeout_ms"), "the timeout must be positive"));
    }
    match spec {
        CheckSpec::Http(h) => {
            let url = url::Url::parse(&h.url).map_err(|e| err(f("url"), format!("not a valid URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(err(f("url"), "the URL scheme must be http or https"));
            }
            let Some(host) = url.host_str() else {
                return Err(err(f("url"), "the URL has no host"));
            };
            if h.url.contains(['\r', '\n', ' ']) {
                return Err(err(f("url"), "the URL must not contain spaces, CR or LF"));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(err(f("url"), "put credentials in auth, not in the URL"));
            }
            let port = url.port_or_known_default().unwrap_or(80);
            if port == 0 {
                return Err(err(f("url"), "the port must not be 0"));
            }
            guard_host(&f("url"), host, port, guard, may_private).await?;
            for (i, header) in h.headers.iter().enumerate() {
                let hf = format!("{prefix}.headers[{i}]");
                if axum::http::HeaderName::from_bytes(header.name.as_bytes()).is_err() || header.name.is_empty() {
                    return Err(err(
                        format!("{hf}.name"),
                        format!("{:?} is not a legal header name", header.name),
                    ));
                }
                if header.name.eq_ignore_ascii_case("host") || header.name.eq_ignore_ascii_case("content-length") {
                    return Err(err(
                        format!("{hf}.name"),
                        format!("the {} header is set by the pinger", header.name),
                    ));
                }
                no_crlf(&format!("{hf}.value"), &header.value)?;
                if axum::http::HeaderValue::from_str(&header.value).is_err() {
                    return Err(err(format!("{hf}.value"), "not a legal header value"));
                }
            }
            if let Some(body) = &h.body
                && body.len() > MAX_BODY_BYTES
            {
                return Err(err(
                    f("body"),
                    format!("the body must be at most {MAX_BODY_BYTES} bytes"),
                ));
            }
            match &h.auth {
                Some(HttpAuth::Basic { username, password }) => {
                    no_crlf(&f("auth.username"), username)?;
                    if username.contains(':') {
                        return Err(err(f("auth.username"), "a basic-auth user name must not contain ':'"));
                    }
                    no_crlf(&f("auth.password"), password)?;
                }
                Some(HttpAuth::Bearer { token }) => {
                    no_crlf(&f("auth.token"), token)?;
                    if token.is_empty() {
                        return Err(err(f("auth.token"), "the token must not be empty"));
                    }
                }
                None => {}
            }
            if h.expected_status.is_empty() {
                return Err(err(
                    f("expected_status"),
                    "give at least one range of accepted status codes",
                ));
            }
            for (i, r) in h.expected_status.iter().enumerate() {
                if !(100..=599).contains(&r.from) || !(100..=599).contains(&r.to) || r.from > r.to {
                    return Err(err(
                        format!("{prefix}.expected_status[{i}]"),
                        "a status range must lie within 100–599 with from ≤ to",
                    ));
                }
            }
            if h.max_redirects > 30 {
                return Err(err(f("max_redirects"), "at most 30 redirects can be followed"));
            }
            for (i, a) in h.assertions.iter().enumerate() {
                let af = format!("{prefix}.assertions[{i}]");
                match a {
                    Assertion::BodyMatches { pattern } => {
                        if pattern.len() > MAX_PATTERN_LEN {
                            return Err(err(format!("{af}.pattern"), "the pattern is too long"));
                        }
                        regex::RegexBuilder::new(pattern)
                            .size_limit(1 << 20)
                            .build()
                            .map_err(|e| err(format!("{af}.pattern"), format!("the regex does not compile: {e}")))?;
                    }
                    Assertion::JsonPathEquals { path, .. } | Assertion::JsonPathExists { path } => {
                        json_path(path).map_err(|m| err(format!("{af}.path"), m))?;
                    }
                    Assertion::HeaderEquals { name, value } => {
                        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                            return Err(err(
                                format!("{af}.name"),
                                format!("{name:?} is not a legal header name"),
                            ));
                        }
                        no_crlf(&format!("{af}.value"), value)?;
                    }
                    Assertion::BodyContains { value } | Assertion::BodyNotContains { value } => {
                        if value.is_empty() {
                            return Err(err(format!("{af}.value"), "the text must not be empty"));
                        }
                    }
                }
            }
            if let Some(u) = &h.expected_final_url {
                url::Url::parse(u).map_err(|e| err(f("expected_final_url"), format!("not a valid URL: {e}")))?;
            }
            if let Some(r) = &h.resolver {
                resolver(&f("resolver"), r, guard, may_private)?;
            }
        }
        CheckSpec::Tcp(t) => {
            if !valid_host(&t.host) {
                return Err(err(f("host"), "not a valid host name or IP address"));
            }
            if t.port == 0 {
                return Err(err(f("port"), "the port must be between 1 and 65535"));
            }
            guard_host(&f("host"), &t.host, t.port, guard, may_private).await?;
            if let Some(b) = &t.expected_banner {
                no_crlf(&f("expected_banner"), b)?;
            }
        }
        CheckSpec::Dns(d) => {
            if !valid_dns_name(&d.name) {
                return Err(err(f("name"), "not a valid DNS name"));
            }
            if let Some(r) = &d.resolver {
                resolver(&f("resolver"), r, guard, may_private)?;
            }
            for (i, a) in d.expected_answers.iter().enumerate() {
                no_crlf(&format!("{prefix}.expected_answers[{i}]"), a)?;
            }
        }
        CheckSpec::Tls(t) => {
            if !valid_host(&t.host) {
                return Err(err(f("host"), "not a valid host name or IP address"));
            }
            if t.port == 0 {
                return Err(err(f("port"), "the port must be between 1 and 65535"));
            }
            if let Some(sni) = &t.sni
                && !valid_dns_name(sni)
            {
                return Err(err(f("sni"), "not a valid DNS name"));
            }
            guard_host(&f("host"), &t.host, t.port, guard, may_private).await?;
        }
        CheckSpec::Icmp(i) => {
            if !valid_host(&i.host) {
                return Err(err(f("host"), "not a valid host name or IP address"));
            }
            let bounded = |name: &str, v: u32, range: std::ops::RangeInclusive<u32>, unit: &str| {
                if range.contains(&v) {
                    Ok(())
                } else {
                    Err(err(
                        f(name),
                        format!("must be between {} and {}{unit}", range.start(), range.end()),
                    ))
                }
            };
            bounded("count", i.count, icmp_bounds::COUNT, "")?;
            bounded("interval_ms", i.interval_ms, icmp_bounds::INTERVAL_MS, " ms")?;
            bounded("timeout_ms", i.timeout_ms, icmp_bounds::TIMEOUT_MS, " ms")?;
            bounded("payload_size", i.payload_size, icmp_bounds::PAYLOAD_SIZE, " bytes")?;
            if let Some(p) = i.degraded_loss_percent {
                bounded("degraded_loss_percent", p, icmp_bounds::LOSS_PERCENT, " %")?;
            }
            if i.degraded_above_ms == Some(0) {
                return Err(err(f("degraded_above_ms"), "the threshold must be positive"));
            }
            // ICMP has no port: the guard judges the address alone.
            guard_host(&f("host"), &i.host, 0, guard, may_private).await?;
        }
        CheckSpec::Heartbeat(_) => {}
    }
    Ok(())
}

/// Normalises and checks an email address.
pub fn normalise_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let bad = |m: &str| ApiError::validation("email", m);
    if email.len() < 3 || email.len() > 254 {
        return Err(bad("email must be between 3 and 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("email must not contain spaces or control characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(bad("email must look like name@example.com"));
    };
    if local.is_empty()
        || domain.is_empty()
        || local.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad("email must look like name@example.com"));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_of_the_pinger_grammar_parse() {
        for ok in [
            "$",
            "$.status",
            "$.items[0].name",
            "status.code",
            "$['a b']",
            "$[\"x\"][2]",
        ] {
            assert!(json_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "$.", "$..x", "$[abc]", "$[0", "$x"] {
            assert!(json_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names_are_checked() {
        assert!(valid_dns_name("example.com."));
        assert!(valid_dns_name("_dmarc.example.com"));
        assert!(!valid_dns_name("-bad.example"));
        assert!(!valid_dns_name("a..b"));
        assert!(!valid_dns_name("spa ce.com"));
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalise_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
    }

    #[test]
    fn malformed_emails_name_the_field() {
        for bad in [
            "",
            "a",
            "no-at.example.com",
            "a@b",
            "a b@example.com",
            "@example.com",
            "a@.com",
        ] {
            let e = normalise_email(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("email"), "{bad}");
        }
    }
}
