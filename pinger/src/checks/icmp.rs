//! ICMP: echo requests (ping) through an unprivileged ICMP datagram socket, or a raw socket,
//! with the round trip of every echo, the loss, and their summary.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::messages::{FailureKind, HttpHop, IcmpEcho, IcmpInfo, IcmpSpec, Phase, PhaseTimings};
use socket2::{Domain, Protocol, Socket, Type};
use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};

use crate::net::Net;
use crate::report::{Report, failure};

/// Which ICMP sockets the pinger may open.
///
/// Linux lets a process open an unprivileged ICMP datagram socket (`SOCK_DGRAM`) when its
/// group lies inside `net.ipv4.ping_group_range` (the range covers ICMPv6 too), and a raw
/// socket (`SOCK_RAW`) when it holds `CAP_NET_RAW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum IcmpSockets {
    /// A datagram socket, else a raw one.
    #[default]
    Auto,
    /// Only a datagram socket.
    Dgram,
    /// Only a raw socket.
    Raw,
}

impl IcmpSockets {
    /// The socket types to try, in order.
    fn types(self) -> &'static [Type] {
        match self {
            IcmpSockets::Auto => &[Type::DGRAM, Type::RAW],
            IcmpSockets::Dgram => &[Type::DGRAM],
            IcmpSockets::Raw => &[Type::RAW],
        }
    }
}

/// The name of a socket type in results (`dgram`, `raw`).
fn type_name(t: Type) -> &'static str {
    if t == Type::RAW { "raw" } else { "dgram" }
}

/// Opens an ICMP client for `ip`'s family, trying the socket types `sockets` allows in order,
/// bound to `source` when it is of the same family. Returns the client and the socket type's
/// name, or a failure naming every type tried and why the host refused it.
pub fn open(ip: IpAddr, source: Option<IpAddr>, sockets: IcmpSockets) -> Result<(Client, &'static str), String> {
    let (domain, protocol, kind) = if ip.is_ipv4() {
        (Domain::IPV4, Protocol::ICMPV4, ICMP::V4)
    } else {
        (Domain::IPV6, Protocol::ICMPV6, ICMP::V6)
    };
    let mut tried = Vec::new();
    for &ty in sockets.types() {
        // surge-ping falls back to the other type on its own: probe the type first, so that
        // a type the configuration rules out is never opened.
        if let Err(e) = Socket::new(domain, ty, Some(protocol)) {
            tried.push(describe(ty, &e));
            continue;
        }
        let mut config = Config::builder().kind(kind).sock_type_hint(ty);
        if let Some(src) = source.filter(|s| s.is_ipv4() == ip.is_ipv4()) {
            config = config.bind(SocketAddr::new(src, 0));
        }
        match Client::new(&config.build()) {
            Ok(client) if client.get_socket().get_type() == ty => return Ok((client, type_name(ty))),
            Ok(_) => tried.push(describe(ty, &"another type was opened instead")),
            Err(e) => tried.push(describe(ty, &e)),
        }
    }
    let hint = match sockets {
        IcmpSockets::Auto => {
            "this host allows neither: an unprivileged ICMP socket needs the pinger's group inside \
             net.ipv4.ping_group_range, a raw socket needs CAP_NET_RAW"
        }
        IcmpSockets::Dgram => {
            "only datagram sockets are allowed (PINGTOWER_PINGER_ICMP_SOCKET=dgram), and they need the \
             pinger's group inside net.ipv4.ping_group_range"
        }
        IcmpSockets::Raw => {
            "only raw sockets are allowed (PINGTOWER_PINGER_ICMP_SOCKET=raw), and they need CAP_NET_RAW"
        }
    };
    Err(format!(
        "no ICMP socket could be opened: tried {}; {hint}",
        tried.join(", then ")
    ))
}

/// A socket type tried and why it could not be used.
fn describe(ty: Type, why: &dyn std::fmt::Display) -> String {
    if ty == Type::RAW {
        format!("a raw socket (SOCK_RAW: {why})")
    } else {
        format!("an unprivileged datagram socket (SOCK_DGRAM: {why})")
    }
}

/// Runs an ICMP check into `report`: resolves and guards the host, sends `count` echo
/// requests `interval_ms` apart, each waiting `timeout_ms` for its reply, and judges the loss
/// and the average round trip. The timings go in a single hop named `icmp://host` (the
/// connect phase holds the average round trip).
pub async fn check(net: &Net, sockets: IcmpSockets, spec: &IcmpSpec, report: &mut Report) {
    let url = format!("icmp://{}", spec.host);
    report.enter(Phase::Dns);
    let (addrs, dns_ms) = match net.resolve(&spec.host, 0, None).await {
        Ok(r) => r,
        Err(f) => return report.fail(f),
    };
    let addr = addrs[0];
    // Guarded again here, whoever resolved it.
    if let Err(f) = net.admit(addr) {
        return report.fail(f);
    }
    let ip = addr.ip();
    report.resolved_ip = Some(ip);
    report.enter(Phase::Setup);
    let (client, socket) = match open(ip, net.source, sockets) {
        Ok(c) => c,
        Err(message) => return report.fail(failure(FailureKind::Internal, Phase::Setup, message)),
    };
    report.enter(Phase::Connect);
    let echoes = echo_all(&client, ip, spec).await;
    let info = summary(socket, echoes);
    report.hops.push(HttpHop {
        url,
        status: None,
        resolved_ip: Some(ip),
        location: None,
        http_version: None,
        timings: PhaseTimings {
            dns_ms,
            connect_ms: info.rtt_avg_ms,
            ..PhaseTimings::default()
        },
    });
    judge(spec, ip, &info, report);
    report.icmp = Some(info);
}

/// Sends every echo request on its schedule and waits for each reply concurrently.
async fn echo_all(client: &Client, ip: IpAddr, spec: &IcmpSpec) -> Vec<IcmpEcho> {
    let ident = PingIdentifier(uuid::Uuid::new_v4().as_u128() as u16);
    let payload: Vec<u8> = (0..spec.payload_size).map(|i| (i % 256) as u8).collect();
    let start = tokio::time::Instant::now();
    let timeout = Duration::from_millis(u64::from(spec.timeout_ms));
    let count = u16::try_from(spec.count).unwrap_or(u16::MAX);
    let echoes = (0..count).map(|seq| {
        let payload = &payload;
        async move {
            tokio::time::sleep_until(start + Duration::from_millis(u64::from(spec.interval_ms) * u64::from(seq))).await;
            let mut pinger = client.pinger(ip, ident).await;
            pinger.timeout(timeout);
            // The round trip runs from just before the request is sent until the reply is in
            // hand, as ping(8) measures it: surge-ping's own figure starts once the send call
            // has returned, after a reply over loopback may already have arrived (it reads 0).
            let sent = Instant::now();
            match pinger.ping(PingSequence(seq), payload).await {
                Ok(_) => IcmpEcho {
                    seq,
                    rtt_ms: Some(sent.elapsed().as_secs_f64() * 1000.0),
                    error: None,
                },
                Err(SurgeError::Timeout { .. }) => IcmpEcho {
                    seq,
                    rtt_ms: None,
                    error: Some(format!("no reply within {} ms", spec.timeout_ms)),
                },
                Err(e) => IcmpEcho {
                    seq,
                    rtt_ms: None,
                    error: Some(e.to_string()),
                },
            }
        }
    });
    futures::future::join_all(echoes).await
}

/// The summary of the echoes: counts, loss and round trips.
pub fn summary(socket: &str, echoes: Vec<IcmpEcho>) -> IcmpInfo {
    let rtts: Vec<f64> = echoes.iter().filter_map(|e| e.rtt_ms).collect();
    let sent = echoes.len() as u32;
    let received = rtts.len() as u32;
    let loss_percent = if sent == 0 {
        100.0
    } else {
        f64::from(sent - received) * 100.0 / f64::from(sent)
    };
    let (min, avg, max) = if rtts.is_empty() {
        (None, None, None)
    } else {
        (
            rtts.iter().copied().reduce(f64::min),
            Some(rtts.iter().sum::<f64>() / rtts.len() as f64),
            rtts.iter().copied().reduce(f64::max),
        )
    };
    IcmpInfo {
        socket: socket.to_owned(),
        sent,
        received,
        loss_percent,
        rtt_min_ms: min,
        rtt_avg_ms: avg,
        rtt_max_ms: max,
        echoes,
    }
}

/// Down when no reply came, degraded when the loss or the average round trip is above its
/// threshold.
fn judge(spec: &IcmpSpec, ip: IpAddr, info: &IcmpInfo, report: &mut Report) {
    let lost = info.sent - info.received;
    if info.received == 0 {
        // Every request failed to leave (unreachable network…): a connection error, not loss.
        let unsent = info
            .echoes
            .iter()
            .filter_map(|e| e.error.as_deref())
            .find(|e| !e.starts_with("no reply"));
        if let Some(error) = unsent
            && info
                .echoes
                .iter()
                .all(|e| e.error.as_deref().is_some_and(|x| !x.starts_with("no reply")))
        {
            return report.fail(failure(
                FailureKind::ConnectError,
                Phase::Connect,
                format!("sending echo requests to {ip}: {error}"),
            ));
        }
        return report.fail(failure(
            FailureKind::PacketLoss,
            Phase::Connect,
            format!(
                "no echo reply from {ip}: {lost} of {} requests lost (100 % loss)",
                info.sent
            ),
        ));
    }
    report.enter(Phase::Validation);
    if let Some(threshold) = spec.degraded_loss_percent
        && info.loss_percent > f64::from(threshold)
    {
        report.degrade(failure(
            FailureKind::PacketLoss,
            Phase::Validation,
            format!(
                "{lost} of {} echo requests to {ip} lost ({:.0} % loss), above {threshold} %",
                info.sent, info.loss_percent
            ),
        ));
    }
    if let (Some(threshold), Some(avg)) = (spec.degraded_above_ms, info.rtt_avg_ms)
        && avg > f64::from(threshold)
    {
        report.degrade(failure(
            FailureKind::SlowResponse,
            Phase::Validation,
            format!("the average round trip to {ip} took {avg:.1} ms, above {threshold} ms"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(seq: u16, rtt: Option<f64>) -> IcmpEcho {
        IcmpEcho {
            seq,
            rtt_ms: rtt,
            error: rtt.is_none().then(|| "no reply within 1000 ms".to_owned()),
        }
    }

    #[test]
    fn the_summary_counts_loss_and_round_trips() {
        let info = summary(
            "raw",
            vec![echo(0, Some(1.0)), echo(1, None), echo(2, Some(3.0)), echo(3, None)],
        );
        assert_eq!((info.sent, info.received), (4, 2));
        assert_eq!(info.loss_percent, 50.0);
        assert_eq!(info.rtt_min_ms, Some(1.0));
        assert_eq!(info.rtt_avg_ms, Some(2.0));
        assert_eq!(info.rtt_max_ms, Some(3.0));
    }

    #[test]
    fn loss_above_the_threshold_degrades_and_total_loss_is_down() {
        let mut spec = IcmpSpec::new("192.0.2.1");
        spec.degraded_loss_percent = Some(20);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut some = Report::default();
        judge(
            &spec,
            ip,
            &summary("raw", vec![echo(0, Some(1.0)), echo(1, None)]),
            &mut some,
        );
        let mut none = Report::default();
        judge(
            &spec,
            ip,
            &summary("raw", vec![echo(0, None), echo(1, None)]),
            &mut none,
        );
        let mut within = Report::default();
        spec.degraded_loss_percent = Some(50);
        judge(
            &spec,
            ip,
            &summary("raw", vec![echo(0, Some(1.0)), echo(1, None)]),
            &mut within,
        );

        assert_eq!(some.degraded.as_ref().map(|f| f.kind), Some(FailureKind::PacketLoss));
        assert!(some.down.is_none());
        assert_eq!(none.down.as_ref().map(|f| f.kind), Some(FailureKind::PacketLoss));
        assert!(none.down.unwrap().message.contains("100 % loss"));
        assert!(within.degraded.is_none() && within.down.is_none());
    }

    #[test]
    fn a_slow_average_round_trip_degrades() {
        let mut spec = IcmpSpec::new("192.0.2.1");
        spec.degraded_above_ms = Some(5);
        let mut r = Report::default();
        judge(
            &spec,
            "192.0.2.1".parse().unwrap(),
            &summary("dgram", vec![echo(0, Some(4.0)), echo(1, Some(8.0))]),
            &mut r,
        );
        let f = r.degraded.expect("degraded");
        assert_eq!(f.kind, FailureKind::SlowResponse);
        assert!(f.message.contains("6.0 ms"), "{}", f.message);
    }
}
