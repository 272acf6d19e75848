//! The address guard: a corpus of URLs (and TCP/TLS/DNS targets) that all point at loopback,
//! private, link-local or metadata addresses in every encoding, refused with
//! `blocked_address` — while a listener on loopback records zero connections.

use std::sync::Arc;
use std::time::Duration;

use common::messages::{CheckSpec, DnsRecordType, DnsSpec, FailureKind, HttpSpec, Outcome, Phase, TcpSpec, TlsSpec};
use common::netguard::AddressPolicy;
use pinger::Engine;

use crate::helpers::*;

/// The production policy, except that 127.0.0.2 (the redirecting server) and 127.0.0.3 (the
/// DNS server) are allowed as an operator could allow an internal range. 127.0.0.1, where
/// the canary listener waits, stays blocked.
fn guarded_engine() -> Engine {
    Engine::new(AddressPolicy { allow_private: false }, None, None)
        .unwrap()
        .with_allowed_ranges(vec!["127.0.0.2/32".parse().unwrap(), "127.0.0.3/32".parse().unwrap()])
}

fn corpus(p: u16, redirector: u16) -> Vec<String> {
    let mut urls: Vec<String> = [
        // IPv4 loopback in every encoding.
        "http://127.0.0.1:{p}/",
        "http://127.0.0.1.:{p}/",
        "http://2130706433:{p}/",
        "http://0x7f000001:{p}/",
        "http://0X7F000001:{p}/",
        "http://017700000001:{p}/",
        "http://0x7f.0.0.1:{p}/",
        "http://0177.0.0.1:{p}/",
        "http://0177.0.0.01:{p}/",
        "http://127.1:{p}/",
        "http://127.0.1:{p}/",
        "http://0x7f.1:{p}/",
        "http://%31%32%37.0.0.1:{p}/",
        "https://127.0.0.1:{p}/",
        // IPv6 forms and IPv4 hidden in IPv6.
        "http://[::1]:{p}/",
        "http://[0:0:0:0:0:0:0:1]:{p}/",
        "http://[::ffff:127.0.0.1]:{p}/",
        "http://[::ffff:7f00:1]:{p}/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/",
        "http://[::127.0.0.1]:{p}/",
        "http://[64:ff9b::127.0.0.1]:{p}/",
        "http://[2002:7f00:1::]:{p}/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]:{p}/",
        "http://[fc00::1]:{p}/",
        "http://[fd12:3456::1]:{p}/",
        "http://[::]:{p}/",
        // Unspecified, private, link-local, metadata, CGNAT, benchmarking, multicast.
        "http://0.0.0.0:{p}/",
        "http://0:{p}/",
        "http://10.0.0.1:{p}/",
        "http://172.16.0.1:{p}/",
        "http://192.168.1.1:{p}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1:{p}/",
        "http://198.18.0.1:{p}/",
        "http://224.0.0.1:{p}/",
        // Userinfo and fragment tricks.
        "http://user@127.0.0.1:{p}/",
        "http://user:pass@127.0.0.1:{p}/",
        "http://example.com@127.0.0.1:{p}/",
        "http://example.com:80@127.0.0.1:{p}/",
        "http://127.0.0.1:{p}#@example.com/",
        "http://127.0.0.1:{p}/?@example.com",
        // Names resolving to loopback (system resolver and the test's DNS server).
        "http://localhost:{p}/",
        "http://LOCALHOST:{p}/",
        "http://localhost.:{p}/",
        "http://app.localhost:{p}/",
        "http://evil.test:{p}/",
        "http://mixed.test:{p}/",
        "http://mapped.test:{p}/",
        // Redirects (the first hop is allowed) to forbidden addresses.
        "http://127.0.0.2:{r}/to-metadata",
        "http://127.0.0.2:{r}/to-loopback",
        "http://127.0.0.2:{r}/to-decimal",
        "http://127.0.0.2:{r}/to-mapped",
        "http://127.0.0.2:{r}/to-localhost",
    ]
    .iter()
    .map(|u| u.replace("{p}", &p.to_string()).replace("{r}", &redirector.to_string()))
    .collect();
    urls.dedup();
    urls
}

#[tokio::test]
async fn every_url_of_the_corpus_is_refused_as_blocked_address_and_nothing_connects() {
    // Arrange: the canary listener, a DNS server with rebinding names, a redirector.
    let canary = TestServer::counting("127.0.0.1").await;
    let p = canary.addr.port();
    let mut zone = Zone::default();
    zone.a("evil.test.", "127.0.0.1")
        .a("mixed.test.", "93.184.216.34")
        .a("mixed.test.", "127.0.0.1")
        .a("mapped.test.", "93.184.216.35")
        .aaaa("mapped.test.", "::ffff:127.0.0.1");
    let dns = TestDns::start_on("127.0.0.3", zone).await;
    let redirector = TestServer::http(
        "127.0.0.2",
        Arc::new(move |path: &str| match path {
            "/to-metadata" => Reply::redirect(302, "http://169.254.169.254/latest/meta-data/"),
            "/to-loopback" => Reply::redirect(301, &format!("http://127.0.0.1:{p}/")),
            "/to-decimal" => Reply::redirect(307, &format!("http://2130706433:{p}/")),
            "/to-mapped" => Reply::redirect(308, &format!("http://[::ffff:127.0.0.1]:{p}/")),
            _ => Reply::redirect(302, &format!("http://localhost:{p}/")),
        }),
    )
    .await;
    let engine = guarded_engine();
    let urls = corpus(p, redirector.addr.port());
    assert!(urls.len() >= 40, "corpus has {} URLs", urls.len());

    // Act
    let mut wrong = Vec::new();
    for url in &urls {
        let mut spec = HttpSpec::get(url);
        spec.timeout_ms = 3_000;
        if url.contains(".test:") {
            spec.resolver = Some(dns.resolver(false));
        }
        let report = run_http(&engine, spec).await;
        let f = report.verdict().1;
        if outcome(&report) != Outcome::Down || f.as_ref().map(|f| f.kind) != Some(FailureKind::BlockedAddress) {
            wrong.push(format!("{url}: {f:?}"));
        }
        if url.contains("/to-") {
            assert_eq!(f.unwrap().phase, Phase::Redirect, "{url}");
        }
    }

    // Assert
    assert!(
        wrong.is_empty(),
        "not refused as blocked_address:\n{}",
        wrong.join("\n")
    );
    assert_eq!(canary.hits(), 0, "the loopback listener saw a connection");
    assert_eq!(redirector.hits(), 5, "the allowed first hops did run");
}

#[tokio::test]
async fn tcp_tls_and_dns_targets_are_guarded_too() {
    let canary = TestServer::counting("127.0.0.1").await;
    let p = canary.addr.port();
    let engine = guarded_engine();
    let budget = Duration::from_secs(3);
    let mut specs: Vec<CheckSpec> = [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "localhost",
        "::ffff:127.0.0.1",
        "[::1]",
    ]
    .iter()
    .map(|h| {
        CheckSpec::Tcp(TcpSpec {
            host: h.to_string(),
            port: p,
            timeout_ms: 3_000,
            expected_banner: None,
        })
    })
    .collect();
    specs.push(CheckSpec::Tls(TlsSpec {
        host: "127.0.0.1".into(),
        port: p,
        sni: Some("example.com".into()),
        warn_days: 14,
        timeout_ms: 3_000,
    }));
    specs.push(CheckSpec::Dns(DnsSpec {
        name: "example.com".into(),
        record_type: DnsRecordType::A,
        resolver: Some(common::messages::Resolver {
            address: canary.addr,
            protocol: common::messages::DnsTransport::Tcp,
        }),
        expected_answers: Vec::new(),
        timeout_ms: 3_000,
    }));
    for spec in &specs {
        let report = engine.run(spec, budget).await;
        assert_eq!(kind(&report), Some(FailureKind::BlockedAddress), "{spec:?}: {report:?}");
    }
    assert_eq!(canary.hits(), 0);
}

#[tokio::test]
async fn non_http_schemes_are_refused_before_any_connection() {
    let canary = TestServer::counting("127.0.0.1").await;
    for url in [
        format!("gopher://127.0.0.1:{}/", canary.addr.port()),
        "file:///etc/passwd".to_owned(),
        format!("ftp://127.0.0.1:{}/", canary.addr.port()),
    ] {
        let report = get(&guarded_engine(), &url).await;
        assert_eq!(outcome(&report), Outcome::Down, "{url}");
        assert_eq!(report.verdict().1.unwrap().phase, Phase::Setup);
    }
    assert_eq!(canary.hits(), 0);
}
