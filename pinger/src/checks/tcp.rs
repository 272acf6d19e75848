//! TCP: connect to host:port with timing, optionally expecting a banner.

use std::time::Instant;

use common::messages::{FailureKind, HttpHop, Phase, PhaseTimings, TcpSpec};
use tokio::io::AsyncReadExt;

use crate::net::{Net, ms_since};
use crate::report::{Report, failure};

/// Largest banner kept.
const BANNER_CAP: usize = 1024;

/// Runs a TCP check into `report`. The phase timings go in a single hop named `tcp://host:port`.
pub async fn check(net: &Net, spec: &TcpSpec, banner_deadline: tokio::time::Instant, report: &mut Report) {
    let mut timings = PhaseTimings::default();
    let url = format!("tcp://{}:{}", spec.host, spec.port);
    report.enter(Phase::Dns);
    let (addrs, dns_ms) = match net.resolve(&spec.host, spec.port, None).await {
        Ok(r) => r,
        Err(f) => return report.fail(f),
    };
    timings.dns_ms = dns_ms;
    report.enter(Phase::Connect);
    let started = Instant::now();
    let connected = net.connect(&addrs).await;
    timings.connect_ms = Some(ms_since(started));
    let (mut stream, addr) = match connected {
        Ok(c) => c,
        Err(f) => {
            report.hops.push(hop(url, None, timings));
            return report.fail(f);
        }
    };
    report.resolved_ip = Some(addr.ip());
    report.hops.push(hop(url, Some(addr), timings));
    let Some(expected) = &spec.expected_banner else {
        return;
    };
    report.enter(Phase::Transfer);
    let started = Instant::now();
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    // Read until the expected text shows, the peer closes, or the cap is reached; the
    // check's own timeout bounds the wait.
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if text.contains(expected.as_str()) || buf.len() >= BANNER_CAP {
            break;
        }
        match tokio::time::timeout_at(banner_deadline, stream.read(&mut chunk)).await {
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                let take = n.min(BANNER_CAP - buf.len());
                buf.extend_from_slice(&chunk[..take]);
                report.banner = Some(printable(&buf));
            }
        }
    }
    if let Some(h) = report.hops.last_mut() {
        h.timings.ttfb_ms = Some(ms_since(started));
    }
    let banner = printable(&buf);
    report.enter(Phase::Validation);
    if !banner.contains(expected.as_str()) {
        report.fail(failure(
            FailureKind::BannerMismatch,
            Phase::Validation,
            format!("the banner {banner:?} does not contain {expected:?}"),
        ));
    }
    report.banner = Some(banner);
}

fn hop(url: String, addr: Option<std::net::SocketAddr>, timings: PhaseTimings) -> HttpHop {
    HttpHop {
        url,
        status: None,
        resolved_ip: addr.map(|a| a.ip()),
        location: None,
        http_version: None,
        timings,
    }
}

/// Bytes as text without control characters (except tab and newline).
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}
