//! HTTPS and TLS checks against loopback servers with certificates made in the test: the
//! failure kinds are distinct and the certificate facts are reported even when validation fails.

use std::sync::Arc;

use common::messages::{CheckSpec, FailureKind, HttpSpec, Outcome, Phase, TlsSpec};
use pinger::report::Report;

use crate::helpers::*;

async fn https_server(leaf: &Leaf) -> TestServer {
    TestServer::https(
        "127.0.0.1",
        Arc::new(|_: &str| Reply::ok("secure")),
        leaf.server_config(),
    )
    .await
}

async fn tls_check(engine: &pinger::Engine, host: &str, port: u16) -> Report {
    let spec = CheckSpec::Tls(TlsSpec {
        host: host.into(),
        port,
        sni: None,
        warn_days: 14,
        timeout_ms: 5_000,
        starttls: None,
    });
    engine.run(&spec, std::time::Duration::from_secs(5)).await
}

#[tokio::test]
async fn a_valid_certificate_from_the_trusted_test_ca_is_up_with_all_tls_facts() {
    // Arrange
    let pki = Pki::new();
    let server = https_server(&pki.leaf(&["localhost", "127.0.0.1"])).await;

    // Act
    let report = get(
        &engine_trusting(&pki),
        &format!("https://localhost:{}/", server.addr.port()),
    )
    .await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let tls = report.tls.expect("TLS facts");
    assert!(tls.chain_valid && tls.hostname_matches);
    assert!(tls.issuer.contains("PingTower Test CA"), "{}", tls.issuer);
    assert!(tls.subject.contains("localhost"), "{}", tls.subject);
    assert!(tls.sans.contains(&"localhost".to_owned()) && tls.sans.contains(&"127.0.0.1".to_owned()));
    assert!((364..=366).contains(&tls.days_left), "{}", tls.days_left);
    assert_eq!(tls.fingerprint_sha256.len(), 64);
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    assert!(tls.cipher.is_some());
    assert!(tls.validation_error.is_none());
    assert!(report.hops[0].timings.tls_ms.is_some());
}

#[tokio::test]
async fn an_expired_certificate_is_tls_expired_with_its_facts() {
    let pki = Pki::new();
    let server = https_server(&pki.leaf_between(&["127.0.0.1"], -60, -3)).await;
    let report = get(&engine_trusting(&pki), &server.url("https", "/")).await;
    let f = report.verdict().1.unwrap();
    assert_eq!((f.kind, f.phase), (FailureKind::TlsExpired, Phase::Tls), "{f:?}");
    let tls = report.tls.expect("facts even though validation failed");
    assert!(tls.days_left < 0, "{}", tls.days_left);
    assert!(!tls.chain_valid);
    assert!(tls.validation_error.is_some());
    assert_eq!(report.hops[0].status, None, "no request is sent to an invalid server");
}

#[tokio::test]
async fn a_certificate_expiring_in_5_days_is_degraded() {
    let pki = Pki::new();
    let server = https_server(&pki.leaf_between(&["127.0.0.1"], -80, 5)).await;
    let report = get(&engine_trusting(&pki), &server.url("https", "/")).await;
    assert_eq!(outcome(&report), Outcome::Degraded, "{report:?}");
    assert_eq!(kind(&report), Some(FailureKind::TlsExpiring));
    assert_eq!(report.status_code, Some(200), "the request still ran");
    let tls = report.tls.unwrap();
    assert!((4..=5).contains(&tls.days_left), "{}", tls.days_left);
    assert!(tls.chain_valid);
}

#[tokio::test]
async fn a_certificate_for_another_host_is_tls_hostname() {
    let pki = Pki::new();
    let server = https_server(&pki.leaf(&["wrong.example"])).await;
    let report = get(&engine_trusting(&pki), &server.url("https", "/")).await;
    assert_eq!(kind(&report), Some(FailureKind::TlsHostname), "{report:?}");
    let tls = report.tls.unwrap();
    assert!(!tls.hostname_matches);
    assert!(tls.chain_valid, "the chain itself is fine");
    assert_eq!(tls.sans, vec!["wrong.example".to_owned()]);
}

#[tokio::test]
async fn a_self_signed_certificate_is_tls_untrusted_unless_verification_is_off() {
    let server = https_server(&Pki::self_signed(&["127.0.0.1"])).await;
    let report = get(&engine(), &server.url("https", "/")).await;
    assert_eq!(kind(&report), Some(FailureKind::TlsUntrusted), "{report:?}");
    let tls = report.tls.unwrap();
    assert!(!tls.chain_valid);
    assert!(tls.hostname_matches);

    let mut spec = HttpSpec::get(server.url("https", "/"));
    spec.verify_tls = false;
    let report = run_http(&engine(), spec).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert!(!report.tls.unwrap().chain_valid, "facts still tell the truth");
}

#[tokio::test]
async fn http_redirected_to_https_is_followed_with_tls_on_the_second_hop() {
    let pki = Pki::new();
    let secure = https_server(&pki.leaf(&["127.0.0.1"])).await;
    let target = secure.url("https", "/");
    let plain = TestServer::http("127.0.0.1", Arc::new(move |_: &str| Reply::redirect(301, &target))).await;

    let report = get(&engine_trusting(&pki), &plain.url("http", "/")).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.hops.len(), 2);
    assert_eq!(report.hops[0].timings.tls_ms, None);
    assert!(report.hops[1].timings.tls_ms.is_some());
    assert!(report.tls.is_some());

    // An https-only chain refuses the plain first hop.
    let mut spec = HttpSpec::get(plain.url("http", "/"));
    spec.https_only = true;
    assert_eq!(
        kind(&run_http(&engine_trusting(&pki), spec).await),
        Some(FailureKind::InsecureRedirect)
    );
}

#[tokio::test]
async fn an_https_chain_that_drops_to_http_fails_https_only() {
    let pki = Pki::new();
    let plain = answering("plain").await;
    let target = plain.url("http", "/");
    let secure = TestServer::https(
        "127.0.0.1",
        Arc::new(move |_: &str| Reply::redirect(302, &target)),
        pki.leaf(&["127.0.0.1"]).server_config(),
    )
    .await;
    let mut spec = HttpSpec::get(secure.url("https", "/"));
    spec.https_only = true;
    let report = run_http(&engine_trusting(&pki), spec).await;
    let f = report.verdict().1.unwrap();
    assert_eq!(
        (f.kind, f.phase),
        (FailureKind::InsecureRedirect, Phase::Redirect),
        "{f:?}"
    );
    assert_eq!(plain.hits(), 0, "the plain hop is never requested");
}

#[tokio::test]
async fn the_tls_check_reports_facts_and_distinct_kinds() {
    let pki = Pki::new();
    let engine = engine_trusting(&pki);
    let good = https_server(&pki.leaf(&["localhost"])).await;
    let report = tls_check(&engine, "localhost", good.addr.port()).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert!(report.tls.as_ref().unwrap().chain_valid);

    let expired = https_server(&pki.leaf_between(&["localhost"], -60, -3)).await;
    let report = tls_check(&engine, "localhost", expired.addr.port()).await;
    assert_eq!(kind(&report), Some(FailureKind::TlsExpired));
    assert!(report.tls.is_some());

    let expiring = https_server(&pki.leaf_between(&["localhost"], -60, 5)).await;
    let report = tls_check(&engine, "localhost", expiring.addr.port()).await;
    assert_eq!(
        (outcome(&report), kind(&report)),
        (Outcome::Degraded, Some(FailureKind::TlsExpiring))
    );

    // A server that answers the ClientHello with plain text.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = plain.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = plain.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let report = tls_check(&engine, "127.0.0.1", port).await;
    assert_eq!(kind(&report), Some(FailureKind::TlsHandshake), "{report:?}");
}

#[tokio::test]
async fn a_cached_chain_verdict_is_per_server_name() {
    let pki = Pki::new();
    let engine = engine_trusting(&pki);
    let server = https_server(&pki.leaf(&["localhost"])).await;
    let by_name = format!("https://localhost:{}/", server.addr.port());
    let by_ip = server.url("https", "/");
    for _ in 0..2 {
        assert_eq!(outcome(&get(&engine, &by_name).await), Outcome::Up);
        assert_eq!(kind(&get(&engine, &by_ip).await), Some(FailureKind::TlsHostname));
    }
    let tls = get(&engine, &by_name).await.tls.unwrap();
    assert_eq!(tls.cipher.as_deref(), Some("TLS13_AES_128_GCM_SHA256"));
}
