//! Name resolution, the address guard and TCP connects, each timed, for every check.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use common::messages::{Failure, FailureKind, Phase, Resolver};
use common::netguard::Guard;
use tokio::net::{TcpSocket, TcpStream};

use crate::checks::dns::{self, DnsError};
use crate::report::failure;

/// How the pinger reaches targets: the address guard, whose permission a check runs with,
/// and the source address.
#[derive(Debug, Clone)]
pub struct Net {
    /// Which addresses may be reached (the installation's settings and its own endpoints).
    pub guard: Guard,
    /// Whether the check runs for someone who may reach private addresses (the job's
    /// `allow_private`; true for the operator's own checks: canaries, `pinger check`).
    pub may_private: bool,
    /// Resolver for the names of checks without that permission (so that they cannot learn
    /// internal names from the system resolver); None: the system resolver, answers guarded.
    pub public_resolver: Option<Resolver>,
    /// Local address connections are bound to (one per simulated region).
    pub source: Option<IpAddr>,
}

/// Milliseconds since `t`.
pub fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// A host as a URL or a spec names it.
pub enum Host<'a> {
    /// An IP literal.
    Ip(IpAddr),
    /// A name to resolve.
    Name(&'a str),
}

impl<'a> Host<'a> {
    /// Classifies a host string: IP literal (with or without brackets) or a name.
    /// IPv4 in every `inet_aton` encoding (`2130706433`, `0x7f.1`) counts as a literal.
    pub fn parse(host: &'a str) -> Self {
        match common::netguard::parse_ip_literal(host) {
            Some(ip) => Host::Ip(ip),
            None => Host::Name(host),
        }
    }
}

impl Net {
    /// Refuses `addr` when the guard does for this check's permission.
    pub fn admit(&self, addr: SocketAddr) -> Result<(), Failure> {
        self.guard
            .check(addr, self.may_private)
            .map_err(|e| failure(FailureKind::BlockedAddress, Phase::Setup, e.to_string()))
    }

    /// Whether this check may reach private addresses at all (the installation allows them
    /// and the check's owner holds the permission).
    pub fn private_allowed(&self) -> bool {
        self.may_private && self.guard.allow_private_targets()
    }

    /// The resolver for a name when the check names none: the public resolver for checks
    /// without the private permission, when one is configured.
    pub fn default_resolver(&self) -> Option<&Resolver> {
        if self.private_allowed() {
            None
        } else {
            self.public_resolver.as_ref()
        }
    }

    /// Resolves `host` (with `resolver`, else the public resolver for checks without the
    /// private permission, else the system resolver), then guards every address.
    ///
    /// Returns the addresses and the resolution time (None for IP literals). Any blocked
    /// address refuses the whole name: a name that mixes public and private answers is a
    /// rebinding attempt.
    pub async fn resolve(
        &self,
        host: &str,
        port: u16,
        resolver: Option<&Resolver>,
    ) -> Result<(Vec<SocketAddr>, Option<f64>), Failure> {
        let (ips, took) = match Host::parse(host) {
            Host::Ip(ip) => (vec![ip], None),
            Host::Name(name) => {
                let started = Instant::now();
                let bare = name.trim_end_matches('.').to_ascii_lowercase();
                let ips = match resolver {
                    // RFC 6761: localhost names are loopback, whatever a resolver says.
                    _ if bare == "localhost" || bare.ends_with(".localhost") => {
                        vec![
                            IpAddr::from([127, 0, 0, 1]),
                            IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                        ]
                    }
                    // The check's own resolver is a target like any other.
                    Some(r) => {
                        self.admit(r.address).map_err(|mut f| {
                            f.message = format!("resolver {}: {}", r.address, f.message);
                            f
                        })?;
                        dns::resolve_ips(r, name, self.source)
                            .await
                            .map_err(|e| dns_failure(name, e))?
                    }
                    // The operator's public resolver, for checks without the private permission.
                    None => match self.default_resolver() {
                        Some(r) => dns::resolve_ips(r, name, self.source)
                            .await
                            .map_err(|e| dns_failure(name, e))?,
                        None => system_lookup(name, port).await?,
                    },
                };
                (ips, Some(ms_since(started)))
            }
        };
        if ips.is_empty() {
            return Err(failure(
                FailureKind::DnsNoRecords,
                Phase::Dns,
                format!("{host} has no A or AAAA records"),
            ));
        }
        for ip in &ips {
            self.admit(SocketAddr::new(*ip, port)).map_err(|mut f| {
                if matches!(Host::parse(host), Host::Name(_)) {
                    f.message = format!("{host} resolves to {}", f.message);
                    f.phase = Phase::Dns;
                }
                f
            })?;
        }
        Ok((ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect(), took))
    }

    /// Connects to the first address that answers, bound to the source address. Every
    /// address is guarded again here, whoever resolved it.
    pub async fn connect(&self, addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), Failure> {
        for addr in addrs {
            self.admit(*addr)?;
        }
        let mut last = None;
        for addr in addrs {
            match self.connect_one(*addr).await {
                Ok(s) => return Ok((s, *addr)),
                Err(e) => last = Some((addr, e)),
            }
        }
        let (addr, e) = last.expect("at least one address");
        let kind = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => FailureKind::ConnectRefused,
            std::io::ErrorKind::TimedOut => FailureKind::ConnectTimeout,
            _ => FailureKind::ConnectError,
        };
        Err(failure(kind, Phase::Connect, format!("connecting to {addr}: {e}")))
    }

    async fn connect_one(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(src) = self.source
            && src.is_ipv4() == addr.is_ipv4()
        {
            socket.bind(SocketAddr::new(src, 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

async fn system_lookup(name: &str, port: u16) -> Result<Vec<IpAddr>, Failure> {
    match tokio::net::lookup_host((name, port)).await {
        Ok(addrs) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for a in addrs {
                if !ips.contains(&a.ip()) {
                    ips.push(a.ip());
                }
            }
            // IPv4 first: most targets and every test server listen on IPv4.
            ips.sort_by_key(|ip| !ip.is_ipv4());
            Ok(ips)
        }
        Err(e) => {
            let text = e.to_string();
            let kind = if text.contains("not known") || text.contains("No address") || text.contains("not found") {
                FailureKind::DnsNxdomain
            } else if text.contains("Temporary failure") || text.contains("try again") {
                FailureKind::DnsServfail
            } else {
                FailureKind::DnsError
            };
            Err(failure(kind, Phase::Dns, format!("resolving {name}: {text}")))
        }
    }
}

/// A DNS client error as a check failure.
pub fn dns_failure(name: &str, e: DnsError) -> Failure {
    let kind = match &e {
        DnsError::Timeout(_) => FailureKind::DnsTimeout,
        DnsError::Rcode(r) if r == "NXDOMAIN" => FailureKind::DnsNxdomain,
        DnsError::Rcode(r) if r == "SERVFAIL" => FailureKind::DnsServfail,
        _ => FailureKind::DnsError,
    };
    failure(kind, Phase::Dns, format!("resolving {name}: {e}"))
}
