//! DNS: a small client (UDP with TCP fallback, or TCP) over hickory-proto messages, and the
//! DNS check (A, AAAA, CNAME, MX, TXT, NS, SOA; rcode, answers, timing, expected answers).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use common::messages::{DnsAnswer, DnsInfo, DnsRecordType, DnsSpec, DnsTransport, FailureKind, Phase, Resolver};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};

use crate::net::{Net, ms_since};
use crate::report::{Report, failure};

/// How long one query waits for its answer when the caller gives no tighter budget.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a query got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server answered with an error code.
    #[error("the server answered {0}")]
    Rcode(String),
    /// Network or protocol trouble.
    #[error("{0}")]
    Io(String),
}

/// The answer to one query.
pub struct Answer {
    /// Response code, e.g. `NOERROR`.
    pub rcode: String,
    /// Records of the answer section.
    pub records: Vec<Record>,
}

fn rcode_text(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("{other:?}").to_uppercase(),
    }
}

fn local_for(server: SocketAddr, source: Option<IpAddr>) -> SocketAddr {
    match source {
        Some(src) if src.is_ipv4() == server.is_ipv4() => SocketAddr::new(src, 0),
        _ if server.is_ipv4() => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        _ => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Asks `resolver` for `name`/`rtype` (recursion desired). UDP answers that are truncated
/// are asked again over TCP.
pub async fn query(
    resolver: &Resolver,
    name: &str,
    rtype: RecordType,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<Answer, DnsError> {
    let fqdn = Name::from_str(name).map_err(|e| DnsError::Io(format!("bad name {name:?}: {e}")))?;
    let mut msg = Message::query();
    msg.add_query(Query::query(fqdn, rtype));
    msg.metadata.recursion_desired = true;
    let bytes = msg.to_vec().map_err(|e| DnsError::Io(e.to_string()))?;
    let id = msg.metadata.id;
    let exchange = async {
        let reply = match resolver.protocol {
            DnsTransport::Udp => {
                let r = udp_exchange(resolver.address, &bytes, id, source).await?;
                if r.metadata.truncation {
                    tcp_exchange(resolver.address, &bytes, source).await?
                } else {
                    r
                }
            }
            DnsTransport::Tcp => tcp_exchange(resolver.address, &bytes, source).await?,
        };
        Ok::<_, DnsError>(reply)
    };
    let reply = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| DnsError::Timeout(timeout))??;
    Ok(Answer {
        rcode: rcode_text(reply.metadata.response_code),
        records: reply.answers,
    })
}

async fn udp_exchange(server: SocketAddr, bytes: &[u8], id: u16, source: Option<IpAddr>) -> Result<Message, DnsError> {
    let io = |e: std::io::Error| DnsError::Io(format!("{server} (udp): {e}"));
    let sock = UdpSocket::bind(local_for(server, source)).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    sock.send(bytes).await.map_err(io)?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await.map_err(io)?;
        if let Ok(m) = Message::from_vec(&buf[..n])
            && m.metadata.id == id
        {
            return Ok(m);
        }
        // A stray or forged datagram: keep waiting for ours.
    }
}

async fn tcp_exchange(server: SocketAddr, bytes: &[u8], source: Option<IpAddr>) -> Result<Message, DnsError> {
    let io = |e: std::io::Error| DnsError::Io(format!("{server} (tcp): {e}"));
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(io)?;
    if source.is_some() {
        socket.bind(local_for(server, source)).map_err(io)?;
    }
    let mut stream = socket.connect(server).await.map_err(io)?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(io)?;
    let len = stream.read_u16().await.map_err(io)? as usize;
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(io)?;
    Message::from_vec(&buf).map_err(|e| DnsError::Io(format!("{server}: malformed answer: {e}")))
}

/// The A and AAAA addresses of `name` from `resolver` (for HTTP checks that name one).
pub async fn resolve_ips(resolver: &Resolver, name: &str, source: Option<IpAddr>) -> Result<Vec<IpAddr>, DnsError> {
    let (a, aaaa) = tokio::join!(
        query(resolver, name, RecordType::A, source, QUERY_TIMEOUT),
        query(resolver, name, RecordType::AAAA, source, QUERY_TIMEOUT)
    );
    let a = a?;
    if a.rcode != "NOERROR" {
        return Err(DnsError::Rcode(a.rcode));
    }
    let mut ips = Vec::new();
    for r in a.records.iter().chain(aaaa.iter().flat_map(|x| x.records.iter())) {
        match &r.data {
            RData::A(v4) => ips.push(IpAddr::V4(v4.0)),
            RData::AAAA(v6) => ips.push(IpAddr::V6(v6.0)),
            _ => {}
        }
    }
    Ok(ips)
}

fn record_type(t: DnsRecordType) -> RecordType {
    match t {
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Cname => RecordType::CNAME,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Txt => RecordType::TXT,
        DnsRecordType::Ns => RecordType::NS,
        DnsRecordType::Soa => RecordType::SOA,
    }
}

/// A record's data as text: `192.0.2.1`, `10 mail.example.com.`, TXT strings joined.
pub fn rdata_text(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

fn normalise(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The first nameserver of `/etc/resolv.conf` (the system resolver for DNS checks).
pub fn system_resolver() -> Option<Resolver> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next() == Some("nameserver"))
            .then(|| parts.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| Resolver {
                address: SocketAddr::new(ip, 53),
                protocol: DnsTransport::Udp,
            })
    })
}

/// Runs a DNS check into `report`.
pub async fn check(net: &Net, spec: &DnsSpec, budget: Duration, report: &mut Report) {
    report.enter(Phase::Setup);
    // A resolver the user did not choose (the system's knows internal names): its A/AAAA
    // answers are guarded for checks without the private permission.
    let guard_answers = spec.resolver.is_none() && !net.private_allowed();
    let (resolver, label) = match spec.resolver.as_ref() {
        Some(r) => {
            if let Err(f) = net.admit(r.address) {
                return report.fail(failure(
                    f.kind,
                    f.phase,
                    format!("resolver {}: {}", r.address, f.message),
                ));
            }
            (r.clone(), r.address.to_string())
        }
        None => match net.default_resolver().cloned().or_else(system_resolver) {
            Some(r) if net.default_resolver().is_some() => (r.clone(), format!("public ({})", r.address)),
            Some(r) => (r.clone(), format!("system ({})", r.address)),
            None => {
                return report.fail(failure(
                    FailureKind::DnsError,
                    Phase::Setup,
                    "no nameserver in /etc/resolv.conf",
                ));
            }
        },
    };
    report.enter(Phase::Dns);
    let started = Instant::now();
    let answer = query(&resolver, &spec.name, record_type(spec.record_type), net.source, budget).await;
    let duration_ms = ms_since(started);
    let mut info = DnsInfo {
        rcode: None,
        resolver: label,
        answers: Vec::new(),
        duration_ms,
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            report.dns = Some(info);
            return report.fail(crate::net::dns_failure(&spec.name, e));
        }
    };
    info.rcode = Some(answer.rcode.clone());
    if guard_answers {
        let refused = answer.records.iter().any(|r| match &r.data {
            RData::A(a) => net.guard.check_ip(IpAddr::V4(a.0), net.may_private).is_err(),
            RData::AAAA(a) => net.guard.check_ip(IpAddr::V6(a.0), net.may_private).is_err(),
            _ => false,
        });
        if refused {
            // Neither the address nor the rest of the answer is shown: it is internal.
            report.dns = Some(info);
            return report.fail(failure(
                FailureKind::BlockedAddress,
                Phase::Dns,
                format!(
                    "{} resolves to an address this check may not reach (a private or internal address)",
                    spec.name
                ),
            ));
        }
    }
    info.answers = answer
        .records
        .iter()
        .map(|r| DnsAnswer {
            record_type: r.record_type().to_string(),
            value: rdata_text(&r.data),
            ttl: r.ttl,
        })
        .collect();
    let wanted = spec.record_type.as_str();
    let matching: Vec<&DnsAnswer> = info.answers.iter().filter(|a| a.record_type == wanted).collect();
    let f = match answer.rcode.as_str() {
        "NOERROR" if matching.is_empty() => Some(failure(
            FailureKind::DnsNoRecords,
            Phase::Dns,
            format!("{} has no {wanted} records", spec.name),
        )),
        "NOERROR" => None,
        "NXDOMAIN" => Some(failure(
            FailureKind::DnsNxdomain,
            Phase::Dns,
            format!("{} does not exist (NXDOMAIN)", spec.name),
        )),
        "SERVFAIL" => Some(failure(
            FailureKind::DnsServfail,
            Phase::Dns,
            format!("the resolver failed for {} (SERVFAIL)", spec.name),
        )),
        other => Some(failure(
            FailureKind::DnsError,
            Phase::Dns,
            format!("the resolver answered {other} for {}", spec.name),
        )),
    };
    if let Some(f) = f {
        report.dns = Some(info);
        return report.fail(f);
    }
    report.enter(Phase::Validation);
    let have: Vec<String> = matching.iter().map(|a| normalise(&a.value)).collect();
    let missing: Vec<&String> = spec
        .expected_answers
        .iter()
        .filter(|e| !have.contains(&normalise(e)))
        .collect();
    if !missing.is_empty() {
        let got: Vec<&str> = matching.iter().map(|a| a.value.as_str()).collect();
        report.fail(failure(
            FailureKind::DnsUnexpectedAnswer,
            Phase::Validation,
            format!("expected {missing:?} among the {wanted} answers, got {got:?}"),
        ));
    }
    report.dns = Some(info);
}
