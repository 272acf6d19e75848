//! The address guard: which IP addresses a monitored target may point at.
//!
//! Monitored URLs are user input, so without a guard any user could make the pinger reach
//! the installation's own network (SSRF; changedetection.io CVE-2026-27696). The backend
//! checks addresses at submit time and the pinger again after every DNS resolution, on IP
//! literals and on every redirect hop. IPv4 addresses hidden inside IPv6 (mapped,
//! compatible, NAT64, 6to4, Teredo) are unwrapped and judged as IPv4.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

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

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy { allow_private: false };
    const LAX: AddressPolicy = AddressPolicy { allow_private: true };

    #[test]
    fn private_loopback_link_local_and_metadata_are_refused() {
        for ip in [
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
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(STRICT.check(ip).is_err(), "{ip} should be blocked");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "172.32.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(STRICT.check(ip).is_ok(), "{ip} should pass");
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
}
