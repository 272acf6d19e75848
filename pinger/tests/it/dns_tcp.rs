//! DNS checks against a DNS server started by the test, and TCP checks.

use std::time::Duration;

use common::messages::{CheckSpec, DnsRecordType, DnsSpec, FailureKind, HttpSpec, Outcome, Phase, TcpSpec};
use pinger::report::Report;

use crate::helpers::*;

fn zone() -> Zone {
    let mut z = Zone::default();
    z.a("app.test.", "127.0.0.1")
        .a("app.test.", "127.0.0.9")
        .aaaa("app.test.", "::1")
        .cname("www.test.", "app.test.")
        .mx("test.", 10, "mail.test.")
        .txt("test.", "v=spf1 -all")
        .a("mail.test.", "127.0.0.1");
    z
}

async fn dns(server: &TestDns, name: &str, t: DnsRecordType, expected: &[&str], tcp: bool) -> Report {
    let spec = CheckSpec::Dns(DnsSpec {
        name: name.into(),
        record_type: t,
        resolver: Some(server.resolver(tcp)),
        expected_answers: expected.iter().map(|s| s.to_string()).collect(),
        timeout_ms: 2_000,
    });
    engine().run(&spec, Duration::from_secs(2)).await
}

fn values(r: &Report, t: &str) -> Vec<String> {
    r.dns
        .as_ref()
        .unwrap()
        .answers
        .iter()
        .filter(|a| a.record_type == t)
        .map(|a| a.value.clone())
        .collect()
}

#[tokio::test]
async fn a_aaaa_cname_txt_and_mx_answers_are_reported() {
    // Arrange
    let server = TestDns::start(zone()).await;

    // Act + Assert
    let r = dns(
        &server,
        "app.test",
        DnsRecordType::A,
        &["127.0.0.1", "127.0.0.9"],
        false,
    )
    .await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    let info = r.dns.as_ref().unwrap();
    assert_eq!(info.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(info.answers[0].ttl, 300);
    assert_eq!(values(&r, "A"), vec!["127.0.0.1", "127.0.0.9"]);

    let r = dns(&server, "app.test", DnsRecordType::Aaaa, &["::1"], false).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");

    let r = dns(&server, "www.test", DnsRecordType::Cname, &["app.test."], false).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    assert_eq!(values(&r, "CNAME"), vec!["app.test."]);

    let r = dns(&server, "test", DnsRecordType::Txt, &["v=spf1 -all"], false).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    assert_eq!(values(&r, "TXT"), vec!["v=spf1 -all"]);

    let r = dns(&server, "test", DnsRecordType::Mx, &["10 mail.test."], true).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    assert_eq!(values(&r, "MX"), vec!["10 mail.test."]);
}

#[tokio::test]
async fn nxdomain_servfail_timeout_and_wrong_answers_are_distinct_kinds() {
    let server = TestDns::start(zone()).await;
    let r = dns(&server, "nope.test", DnsRecordType::A, &[], false).await;
    assert_eq!(kind(&r), Some(FailureKind::DnsNxdomain));
    assert_eq!(r.dns.as_ref().unwrap().rcode.as_deref(), Some("NXDOMAIN"));

    let mut z = zone();
    z.a("servfail.test.", "127.0.0.1").a("silent.test.", "127.0.0.1");
    let server = TestDns::start(z).await;
    let r = dns(&server, "servfail.test", DnsRecordType::A, &[], false).await;
    assert_eq!(kind(&r), Some(FailureKind::DnsServfail));

    let r = dns(&server, "silent.test", DnsRecordType::A, &[], false).await;
    let f = r.verdict().1.unwrap();
    assert_eq!((f.kind, f.phase), (FailureKind::DnsTimeout, Phase::Dns), "{f:?}");

    let r = dns(&server, "app.test", DnsRecordType::A, &["192.0.2.1"], false).await;
    assert_eq!(kind(&r), Some(FailureKind::DnsUnexpectedAnswer));

    let r = dns(&server, "mail.test", DnsRecordType::Txt, &[], false).await;
    assert_eq!(kind(&r), Some(FailureKind::DnsNoRecords));
}

#[tokio::test]
async fn an_http_check_may_name_its_resolver() {
    let dns_server = TestDns::start(zone()).await;
    let web = TestServer::http("127.0.0.1", std::sync::Arc::new(|_: &str| Reply::ok("hi"))).await;
    let mut spec = HttpSpec::get(format!("http://www.test:{}/", web.addr.port()));
    spec.resolver = Some(dns_server.resolver(false));
    let r = run_http(&engine(), spec.clone()).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    assert!(r.hops[0].timings.dns_ms.is_some());
    assert_eq!(r.resolved_ip, Some("127.0.0.1".parse().unwrap()));

    spec.url = format!("http://nope.test:{}/", web.addr.port());
    assert_eq!(kind(&run_http(&engine(), spec).await), Some(FailureKind::DnsNxdomain));
}

async fn tcp(port: u16, banner: Option<&str>) -> Report {
    let spec = CheckSpec::Tcp(TcpSpec {
        host: "127.0.0.1".into(),
        port,
        timeout_ms: 1_000,
        expected_banner: banner.map(str::to_owned),
    });
    engine().run(&spec, Duration::from_secs(1)).await
}

#[tokio::test]
async fn an_open_port_is_up_and_a_closed_one_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    let r = tcp(port, None).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    assert!(r.hops[0].timings.connect_ms.is_some());

    let r = tcp(port, Some("SSH-2.0")).await;
    assert_eq!(outcome(&r), Outcome::Up, "{r:?}");
    assert!(r.banner.as_deref().unwrap().starts_with("SSH-2.0-OpenSSH"));

    let r = tcp(port, Some("220 smtp")).await;
    assert_eq!(kind(&r), Some(FailureKind::BannerMismatch), "{r:?}");

    let closed = common::testing::ClosedPort::new();
    let r = tcp(closed.port, None).await;
    assert_eq!(kind(&r), Some(FailureKind::ConnectRefused));
}
