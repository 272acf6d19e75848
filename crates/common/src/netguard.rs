//! The address guard: which IP addresses a monitored target may point at.
//!
//! Monitored URLs are user input, so without a guard any user could make the pinger reach
//! the installation's own network (SSRF; changedetection.io CVE-2026-27696). The backend
//! checks addresses at submit time and the pinger again after every DNS resolution, on IP
//! literals and on every redirect hop. IPv4 addresses hidden inside IPv6 (mapped,
//! compatible, NAT64, 6to4, Teredo, and the operator's network-specific NAT64 prefixes) are
//! unwrapped and judged as IPv4.
//!
//! [`Guard`] is the whole decision, in three layers:
//! 1. unroutable addresses (unspecified, multicast, broadcast) are refused for everyone;
//! 2. the suite's own endpoints (broker, management API, PostgreSQL, ClickHouse, its own
//!    listeners) are refused for everyone, admins included, unless the operator lists them
//!    in `PINGTOWER_PINGER_ALLOWED_RANGES` on purpose;
//! 3. private, loopback and link-local ranges pass only when the installation makes them
//!    possible (`PINGTOWER_ALLOW_PRIVATE_TARGETS`) *and* the owner holds the permission
//!    (admins, and users an admin granted it to) — or when the operator allowed the range.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::config::{AmqpConfig, GuardConfig};

/// Whether private addresses are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    /// `PINGTOWER_ALLOW_PRIVATE_TARGETS=true`: loopback, private and link-local targets are
    /// allowed (local setups and tests, where every target lives on loopback).
    pub allow_private: bool,
}

/// An address the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ip} is a {range} address; monitoring it is not allowed on this installation")]
pub struct BlockedAddress {
    /// The refused address.
    pub ip: IpAddr,
    /// The range it falls in, in words.
    pub range: &'static str,
}

const V4_BLOCKED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\""),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignment"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

const V6_BLOCKED: &[(&str, &str)] = &[
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
    ("2001:db8::/32", "documentation"),
    ("100::/64", "discard"),
    ("fec0::/10", "site-local (deprecated private)"),
];

/// Ranges that stay blocked even when private targets are allowed: nobody monitors them.
fn always_blocked(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() => Some("unroutable"),
        IpAddr::V6(v6) if v6.is_unspecified() || v6.is_multicast() => Some("unroutable"),
        _ => None,
    }
}

/// The IPv4 address embedded in an IPv6 one, for the forms that route to IPv4.
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks); not :: or ::1.
    if s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6].iter().all(|x| *x == 0) || s[2] == 1) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    // 6to4 2002:aabb:ccdd::/48.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    // Teredo 2001:0::/32: the client address is the last 32 bits, inverted.
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]));
    }
    None
}

/// The blocked range `ip` falls in, if any (ignoring the policy).
pub fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => V4_BLOCKED
            .iter()
            .find(|(net, _)| net.parse::<Ipv4Net>().expect("valid range").contains(&v4))
            .map(|(_, what)| *what),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return blocked_range(IpAddr::V4(v4));
            }
            V6_BLOCKED
                .iter()
                .find(|(net, _)| net.parse::<Ipv6Net>().expect("valid range").contains(&v6))
                .map(|(_, what)| *what)
        }
    }
}

impl AddressPolicy {
    /// Whether a check may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), BlockedAddress> {
        if let Some(range) = always_blocked(ip) {
            return Err(BlockedAddress { ip, range });
        }
        if self.allow_private {
            return Ok(());
        }
        match blocked_range(ip) {
            Some(range) => Err(BlockedAddress { ip, range }),
            None => Ok(()),
        }
    }

    /// Checks a host that is an IP literal (with or without IPv6 brackets, IPv4 in any of
    /// the encodings `inet_aton` accepts); names pass here and are checked after resolution.
    pub fn check_host(&self, host: &str) -> Result<(), BlockedAddress> {
        match parse_ip_literal(host) {
            Some(ip) => self.check(ip),
            None => Ok(()),
        }
    }
}

/// The IP address a host string denotes when it is a literal: IPv6 (with or without
/// brackets), dotted IPv4, or IPv4 in the forms the C resolver (`inet_aton`) and URL parsers
/// also accept — one to four parts, each decimal, octal (`0177`) or hex (`0x7f`), the last
/// part filling the remaining bytes (`2130706433`, `0x7f000001`, `127.1`, `0x7f.0.0.1`), with
/// an optional trailing dot. `None` for names.
pub fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip);
    }
    let bare = bare.strip_suffix('.').unwrap_or(bare);
    let parts: Vec<&str> = bare.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        let n = if digits.is_empty() {
            // "0x" alone is zero, as inet_aton reads it.
            if radix == 16 { 0 } else { return None }
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        nums.push(n);
    }
    let (last, init) = nums.split_last()?;
    if init.iter().any(|n| *n > 255) || *last >= 1u64 << (8 * (5 - nums.len())) {
        return None;
    }
    let mut value: u64 = 0;
    for (i, n) in init.iter().enumerate() {
        value |= n << (8 * (3 - i));
    }
    value |= last;
    Some(IpAddr::V4(Ipv4Addr::from(value as u32)))
}

/// What a protected endpoint is called in refusals.
const PROTECTED: &str = "one of this installation's own services";

/// How long resolving the names of the suite's own endpoints may take at start-up.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(5);

/// The address guard of one installation: operator settings plus the suite's own endpoints.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    allow_private_targets: bool,
    allowed: Vec<IpNet>,
    nat64: Vec<Ipv6Net>,
    protected: Vec<SocketAddr>,
}

impl Guard {
    /// The guard for `config`, protecting `suite` (URLs such as `amqp://h:5672/%2f`,
    /// `postgres://u:p@h:5432/db`, `http://h:8123`, or bare `host:port`) and the configured
    /// `PINGTOWER_PROTECTED_ADDRESSES`. Names are resolved now, each within a deadline; a
    /// name that does not resolve is logged and skipped (its service is not reachable by
    /// that name from here either).
    pub async fn new(config: &GuardConfig, suite: &[String]) -> Self {
        let mut protected = Vec::new();
        for entry in suite.iter().chain(&config.protected_addresses) {
            let Some((host, port)) = endpoint(entry) else {
                tracing::warn!(entry = %redact(entry), "not an address with a port; not protected");
                continue;
            };
            if let Some(ip) = parse_ip_literal(&host) {
                protected.push(SocketAddr::new(ip, port));
                continue;
            }
            match tokio::time::timeout(RESOLVE_DEADLINE, tokio::net::lookup_host((host.as_str(), port))).await {
                Ok(Ok(addrs)) => protected.extend(addrs),
                Ok(Err(error)) => {
                    tracing::warn!(host = %host, port, error = %error, "protected endpoint does not resolve")
                }
                Err(_) => tracing::warn!(host = %host, port, "protected endpoint did not resolve in time"),
            }
        }
        Self::from_parts(config, protected)
    }

    /// The guard for `config` protecting exactly `protected` (no name resolution; the
    /// configured `protected_addresses` are taken when they are IP literals).
    pub fn from_parts(config: &GuardConfig, mut protected: Vec<SocketAddr>) -> Self {
        for entry in &config.protected_addresses {
            if let Some((host, port)) = endpoint(entry)
                && let Some(ip) = parse_ip_literal(&host)
            {
                protected.push(SocketAddr::new(ip, port));
            }
        }
        protected.sort();
        protected.dedup();
        Self {
            inner: Arc::new(Inner {
                allow_private_targets: config.allow_private_targets,
                allowed: config.allowed_ranges.clone(),
                nat64: config.nat64_prefixes.clone(),
                protected,
            }),
        }
    }

    /// Whether private targets are possible at all on this installation.
    pub fn allow_private_targets(&self) -> bool {
        self.inner.allow_private_targets
    }

    /// The protected endpoints, as resolved.
    pub fn protected(&self) -> &[SocketAddr] {
        &self.inner.protected
    }

    /// Whether a check may connect to `addr`; `may_private` is the owner's permission.
    pub fn check(&self, addr: SocketAddr, may_private: bool) -> Result<(), BlockedAddress> {
        self.judge(addr.ip(), Some(addr.port()), may_private)
    }

    /// Whether a check may reach `ip` on some port (a DNS answer judged on its own): the
    /// protected endpoints are not consulted, the ranges are.
    pub fn check_ip(&self, ip: IpAddr, may_private: bool) -> Result<(), BlockedAddress> {
        self.judge(ip, None, may_private)
    }

    fn judge(&self, ip: IpAddr, port: Option<u16>, may_private: bool) -> Result<(), BlockedAddress> {
        let unwrapped = self.unwrap(ip);
        if let Some(range) = always_blocked(ip).or_else(|| always_blocked(unwrapped)) {
            return Err(BlockedAddress { ip, range });
        }
        let allowed = self
            .inner
            .allowed
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&unwrapped));
        if allowed {
            return Ok(());
        }
        if let Some(port) = port
            && self.inner.protected.iter().any(|p| same_endpoint(*p, unwrapped, port))
        {
            return Err(BlockedAddress { ip, range: PROTECTED });
        }
        if self.inner.allow_private_targets && may_private {
            return Ok(());
        }
        match blocked_range(unwrapped) {
            Some(range) => Err(BlockedAddress { ip, range }),
            None => Ok(()),
        }
    }

    /// `ip` with an IPv4 address inside one of the operator's NAT64 prefixes or the
    /// standard embeddings taken out.
    fn unwrap(&self, ip: IpAddr) -> IpAddr {
        let IpAddr::V6(v6) = ip else {
            return ip;
        };
        if let Some(v4) = embedded_ipv4(v6) {
            return IpAddr::V4(v4);
        }
        for prefix in &self.inner.nat64 {
            if prefix.contains(&v6) {
                let o = v6.octets();
                // RFC 6052 places the IPv4 address after the prefix, skipping octet 8 (u).
                let at = usize::from(prefix.prefix_len() / 8);
                let bytes: Vec<u8> = o[at.min(16)..]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| at + i != 8)
                    .map(|(_, b)| *b)
                    .take(4)
                    .collect();
                if let Ok(b) = <[u8; 4]>::try_from(bytes.as_slice()) {
                    return IpAddr::V4(Ipv4Addr::from(b));
                }
            }
        }
        ip
    }
}

/// Whether a protected endpoint covers `ip:port`. A loopback or wildcard endpoint listens
/// on (or is reachable at) every loopback address, so it covers the port on all of them.
fn same_endpoint(protected: SocketAddr, ip: IpAddr, port: u16) -> bool {
    if protected.port() != port {
        return false;
    }
    let local = |ip: IpAddr| ip.is_loopback() || ip.is_unspecified();
    let p = match protected.ip() {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    p == ip || (local(p) && local(ip))
}

/// `host` and port of an endpoint written as a URL or `host:port`, with the scheme's
/// default port when the URL names none.
fn endpoint(entry: &str) -> Option<(String, u16)> {
    let entry = entry.trim();
    if entry.contains("://")
        && let Ok(url) = url::Url::parse(entry)
    {
        let port = url.port().or_else(|| match url.scheme() {
            "amqp" => Some(5672),
            "amqps" => Some(5671),
            "postgres" | "postgresql" => Some(5432),
            _ => url.port_or_known_default(),
        })?;
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']').to_owned();
        return Some((host, port));
    }
    let (host, port) = entry.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}

/// An endpoint as it may be logged: without credentials.
fn redact(entry: &str) -> String {
    match url::Url::parse(entry) {
        Ok(mut url) if entry.contains("://") => {
            let _ = url.set_password(None);
            let _ = url.set_username("");
            url.to_string()
        }
        _ => entry.chars().filter(|c| *c != '@').take(100).collect(),
    }
}

/// The suite endpoints every service knows from its AMQP settings: the broker and its
/// management API.
pub fn amqp_endpoints(amqp: &AmqpConfig) -> Vec<String> {
    use secrecy::ExposeSecret;
    vec![
        amqp.amqp_url.expose_secret().to_owned(),
        amqp.management_url.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy { allow_private: false };
    const LAX: AddressPolicy = AddressPolicy { allow_private: true };

    /// Whether the strict policy blocks `ip`.
    fn strictly_blocked(ip: &str) -> bool {
        STRICT.check(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn private_loopback_link_local_and_metadata_are_refused() {
        let refused = [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ];
        for ip in refused {
            assert!(strictly_blocked(ip), "{ip} should be blocked");
        }
    }

    #[test]
    fn public_addresses_pass() {
        let public = [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "172.32.0.1",
        ];
        for ip in public {
            assert!(!strictly_blocked(ip), "{ip} should pass");
        }
    }

    #[test]
    fn allowing_private_targets_opens_loopback_but_not_unroutable_addresses() {
        assert!(LAX.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(LAX.check("0.0.0.0".parse().unwrap()).is_err());
        assert!(LAX.check("ff02::1".parse().unwrap()).is_err());
    }

    #[test]
    fn ipv4_literals_in_every_encoding_are_recognised() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        for host in [
            "127.0.0.1",
            "127.0.0.1.",
            "2130706433",
            "0x7f000001",
            "0X7F000001",
            "017700000001",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "0177.0.0.01",
            "127.1",
            "127.0.1",
            "0x7f.1",
        ] {
            assert_eq!(parse_ip_literal(host), Some(loopback), "{host}");
            assert!(STRICT.check_host(host).is_err(), "{host}");
        }
        assert_eq!(parse_ip_literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(parse_ip_literal("0"), Some("0.0.0.0".parse().unwrap()));
        for name in [
            "example.com",
            "1e100.net",
            "256.1.1.1",
            "1.2.3.4.5",
            "08.1.1.1",
            "0x",
            "",
            "4294967296",
        ] {
            assert_ne!(parse_ip_literal(name).map(|ip| ip.is_loopback()), Some(true), "{name}");
        }
        assert_eq!(parse_ip_literal("256.1.1.1"), None);
        assert_eq!(parse_ip_literal("4294967296"), None);
        assert_eq!(parse_ip_literal("example.com"), None);
    }

    #[test]
    fn host_literals_are_checked_and_names_deferred() {
        assert!(STRICT.check_host("[::1]").is_err());
        assert!(STRICT.check_host("127.0.0.1").is_err());
        assert!(STRICT.check_host("example.com").is_ok());
    }
    fn guard(allow_private: bool, protected: &[&str]) -> Guard {
        let config = GuardConfig {
            allow_private_targets: allow_private,
            allowed_ranges: Vec::new(),
            protected_addresses: Vec::new(),
            nat64_prefixes: vec!["2001:db8:64::/96".parse().unwrap()],
        };
        Guard::from_parts(&config, protected.iter().map(|p| p.parse().unwrap()).collect())
    }

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_addresses_need_both_the_installation_switch_and_the_owners_permission() {
        let lax = guard(true, &[]);
        assert!(lax.check(at("127.0.0.1:8080"), true).is_ok());
        assert!(lax.check(at("127.0.0.1:8080"), false).is_err());
        assert!(lax.check(at("10.1.2.3:80"), false).is_err());
        assert!(lax.check(at("93.184.216.34:80"), false).is_ok());
        let strict = guard(false, &[]);
        assert!(strict.check(at("127.0.0.1:8080"), true).is_err());
        assert!(strict.check(at("192.168.1.1:80"), true).is_err());
    }

    #[test]
    fn the_suites_own_endpoints_are_refused_for_everyone_on_every_loopback_form() {
        let g = guard(true, &["127.0.0.1:8123", "0.0.0.0:5432", "10.0.0.5:5672"]);
        for addr in [
            "127.0.0.1:8123",
            "127.0.0.2:8123",
            "[::1]:8123",
            "[::ffff:127.0.0.1]:8123",
            "127.0.0.1:5432",
            "[::1]:5432",
            "10.0.0.5:5672",
        ] {
            let refused = g.check(at(addr), true).unwrap_err();
            assert_eq!(refused.range, PROTECTED, "{addr}");
        }
        assert!(g.check(at("127.0.0.1:8124"), true).is_ok());
        assert!(g.check(at("10.0.0.6:5672"), true).is_ok());
        // Without a port (a DNS answer) only the ranges apply.
        assert!(g.check_ip("127.0.0.1".parse().unwrap(), true).is_ok());
    }

    #[test]
    fn the_operators_allowed_ranges_lift_ranges_and_protection_but_not_unroutable() {
        let config = GuardConfig {
            allow_private_targets: false,
            allowed_ranges: vec!["10.9.0.0/16".parse().unwrap(), "224.0.0.0/4".parse().unwrap()],
            protected_addresses: vec!["10.9.0.1:5432".into()],
            nat64_prefixes: Vec::new(),
        };
        let g = Guard::from_parts(&config, Vec::new());
        assert!(g.check(at("10.9.3.4:80"), false).is_ok());
        assert!(g.check(at("10.9.0.1:5432"), false).is_ok());
        assert!(g.check(at("10.8.0.1:80"), false).is_err());
        assert!(g.check(at("224.0.0.1:80"), false).is_err());
    }

    #[test]
    fn network_specific_nat64_prefixes_and_site_local_are_unwrapped_and_refused() {
        let g = guard(false, &[]);
        // 2001:db8:64::/96 + 127.0.0.1
        assert!(g.check(at("[2001:db8:64::7f00:1]:80"), false).is_err());
        assert!(g.check(at("[fec0::1]:80"), false).is_err());
        let lax = guard(true, &["127.0.0.1:8123"]);
        assert_eq!(
            lax.check(at("[2001:db8:64::7f00:1]:8123"), true).unwrap_err().range,
            PROTECTED
        );
    }

    #[test]
    fn endpoints_are_read_from_urls_and_host_port_pairs() {
        assert_eq!(
            endpoint("amqp://guest:guest@127.0.0.1:5672/%2f"),
            Some(("127.0.0.1".into(), 5672))
        );
        assert_eq!(endpoint("amqp://rabbit/%2f"), Some(("rabbit".into(), 5672)));
        assert_eq!(endpoint("postgres://u:p@db/pingtower"), Some(("db".into(), 5432)));
        assert_eq!(endpoint("http://127.0.0.1:8123"), Some(("127.0.0.1".into(), 8123)));
        assert_eq!(endpoint("http://[::1]/"), Some(("::1".into(), 80)));
        assert_eq!(endpoint("clickhouse:9000"), Some(("clickhouse".into(), 9000)));
        assert_eq!(endpoint("[::1]:15672"), Some(("::1".into(), 15672)));
        assert_eq!(endpoint("nonsense"), None);
        assert!(!redact("postgres://u:hunter2@db/x").contains("hunter2"));
    }

    #[tokio::test]
    async fn names_of_suite_endpoints_are_resolved_at_start() {
        let config = GuardConfig::default();
        let g = Guard::new(
            &config,
            &["http://localhost:8123".into(), "amqp://u:p@127.0.0.1:5672/%2f".into()],
        )
        .await;
        assert!(g.protected().contains(&at("127.0.0.1:5672")));
        assert!(g.protected().iter().any(|p| p.port() == 8123 && p.ip().is_loopback()));
    }
}
