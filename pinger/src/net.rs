//! Name resolution, the address guard and TCP connects, each timed, for every check.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use common::messages::{Failure, FailureKind, Phase, Resolver};
use common::netguard::AddressPolicy;
use ipnet::IpNet;
use tokio::net::{TcpSocket, TcpStream};

use crate::checks::dns::{self, DnsError};
use crate::report::failure;

/// How the pinger reaches targets: the address policy and the source address.
#[derive(Debug, Clone)]
pub struct Net {
    /// Which addresses may be reached.
    pub policy: AddressPolicy,
    /// Ranges the operator allows although the policy blocks them (an internal status
    /// page, say); unroutable addresses stay blocked.
    pub allowed: Arc<[IpNet]>,
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
    /// Refuses `ip` when the policy does.
    pub fn guard(&self, ip: IpAddr) -> Result<(), Failure> {
        if self.allowed.iter().any(|net| net.contains(&ip)) && (AddressPolicy { allow_private: true }).check(ip).is_ok()
        {
            return Ok(());
        }
        self.policy
            .check(ip)
            .map_err(|e| failure(FailureKind::BlockedAddress, Phase::Setup, e.to_string()))
    }

    /// Resolves `host` (system resolver, or `resolver`), then guards every address.
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
                    Some(r) => {
                        self.guard(r.address.ip()).map_err(|mut f| {
                            f.message = format!("resolver {}: {}", r.address, f.message);
                            f
                        })?;
                        dns::resolve_ips(r, name, self.source)
                            .await
                            .map_err(|e| dns_failure(name, e))?
                    }
                    None => system_lookup(name, port).await?,
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
            self.guard(*ip).map_err(|mut f| {
                if matches!(Host::parse(host), Host::Name(_)) {
                    f.message = format!("{host} resolves to {}", f.message);
                    f.phase = Phase::Dns;
                }
                f
            })?;
        }
        Ok((ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect(), took))
    }

    /// Connects to the first address that answers, bound to the source address.
    pub async fn connect(&self, addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), Failure> {
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
