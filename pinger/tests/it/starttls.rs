//! TLS checks with a STARTTLS upgrade: SMTP against a real aiosmtpd server on loopback (with
//! certificates made in the test), IMAP and POP3 against small scripted servers that then
//! hand the connection to a real rustls server.

use std::path::PathBuf;
use std::time::Duration;

use common::messages::{CheckSpec, FailureKind, Outcome, Phase, Starttls, TlsSpec};
use common::testing::SmtpSink;
use pinger::report::Report;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::*;

/// `leaf`'s certificate and key as PEM files in a fresh directory (removed on drop).
struct PemFiles {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl PemFiles {
    fn new(leaf: &Leaf) -> Self {
        let dir = std::env::temp_dir().join(format!("pingtower-starttls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &leaf.cert_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        Self { dir, cert, key }
    }
}

impl Drop for PemFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn starttls_check(engine: &pinger::Engine, port: u16, proto: Starttls) -> Report {
    let spec = CheckSpec::Tls(TlsSpec {
        host: "127.0.0.1".into(),
        port,
        sni: None,
        warn_days: 14,
        timeout_ms: 5_000,
        starttls: Some(proto),
    });
    engine.run(&spec, Duration::from_secs(5)).await
}

#[tokio::test]
async fn smtp_starttls_with_a_trusted_certificate_is_up_with_the_certificate_facts() {
    // Arrange
    let pki = Pki::new();
    let leaf = pki.leaf(&["localhost", "127.0.0.1"]);
    let files = PemFiles::new(&leaf);
    let server = SmtpSink::start_with_starttls(&files.cert, &files.key).await;

    // Act
    let report = starttls_check(&engine_trusting(&pki), server.port, Starttls::Smtp).await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let tls = report.tls.expect("TLS facts");
    assert!(tls.chain_valid && tls.hostname_matches, "{tls:?}");
    assert!(tls.issuer.contains("PingTower Test CA"), "{}", tls.issuer);
    assert!(tls.sans.contains(&"127.0.0.1".to_owned()), "{:?}", tls.sans);
    assert!((364..=366).contains(&tls.days_left), "{}", tls.days_left);
    assert!(tls.version.is_some() && tls.cipher.is_some(), "{tls:?}");
}

#[tokio::test]
async fn smtp_starttls_with_an_expired_certificate_is_tls_expired_with_its_facts() {
    // Arrange
    let pki = Pki::new();
    let leaf = pki.leaf_between(&["127.0.0.1"], -60, -3);
    let files = PemFiles::new(&leaf);
    let server = SmtpSink::start_with_starttls(&files.cert, &files.key).await;

    // Act
    let report = starttls_check(&engine_trusting(&pki), server.port, Starttls::Smtp).await;

    // Assert
    let f = report.verdict().1.expect("a failure");
    assert_eq!((f.kind, f.phase), (FailureKind::TlsExpired, Phase::Tls), "{f:?}");
    let tls = report.tls.expect("facts even though validation failed");
    assert!(tls.days_left < 0, "{}", tls.days_left);
    assert!(!tls.chain_valid);
}

#[tokio::test]
async fn an_smtp_server_without_starttls_is_a_clear_handshake_failure() {
    // Arrange: aiosmtpd without a TLS context does not offer STARTTLS.
    let server = SmtpSink::start().await;

    // Act
    let report = starttls_check(&engine(), server.port, Starttls::Smtp).await;

    // Assert
    let f = report.verdict().1.expect("a failure");
    assert_eq!((f.kind, f.phase), (FailureKind::TlsHandshake, Phase::Tls), "{f:?}");
    assert!(f.message.contains("does not offer STARTTLS"), "{}", f.message);
    assert!(report.tls.is_none());
}

/// A one-connection server: sends `greeting`, reads one command line (kept for the test),
/// answers `answer`, then, when `tls` is given, serves a TLS handshake with it.
async fn scripted(
    greeting: &'static str,
    answer: &'static str,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.write_all(greeting.as_bytes()).await.unwrap();
        let mut command = String::new();
        BufReader::new(&mut tcp).read_line(&mut command).await.unwrap();
        tcp.write_all(answer.as_bytes()).await.unwrap();
        if let Some(config) = tls {
            let mut stream = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await.unwrap();
            // Held open until the client closes.
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut [0u8; 1]).await;
        }
        command
    });
    (port, task)
}

#[tokio::test]
async fn imap_starttls_upgrades_then_reports_the_certificate() {
    let pki = Pki::new();
    let leaf = pki.leaf(&["127.0.0.1"]);
    let (port, server) = scripted(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
        "a1 OK begin TLS now\r\n",
        Some(leaf.server_config()),
    )
    .await;
    let report = starttls_check(&engine_trusting(&pki), port, Starttls::Imap).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert!(report.tls.expect("TLS facts").chain_valid);
    assert_eq!(server.await.unwrap(), "a1 STARTTLS\r\n");
}

#[tokio::test]
async fn pop3_starttls_upgrades_then_reports_the_certificate() {
    let pki = Pki::new();
    let leaf = pki.leaf(&["127.0.0.1"]);
    let (port, server) = scripted("+OK POP3 ready\r\n", "+OK begin TLS\r\n", Some(leaf.server_config())).await;
    let report = starttls_check(&engine_trusting(&pki), port, Starttls::Pop3).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert!(report.tls.expect("TLS facts").chain_valid);
    assert_eq!(server.await.unwrap(), "STLS\r\n");
}

#[tokio::test]
async fn a_refused_imap_or_pop3_upgrade_is_a_handshake_failure_naming_the_answer() {
    let (imap, _imap_server) = scripted("* OK ready\r\n", "a1 NO not now\r\n", None).await;
    let (pop3, _pop3_server) = scripted("+OK ready\r\n", "-ERR TLS unavailable\r\n", None).await;
    for (port, proto, said) in [
        (imap, Starttls::Imap, "a1 NO not now"),
        (pop3, Starttls::Pop3, "-ERR TLS unavailable"),
    ] {
        let report = starttls_check(&engine(), port, proto).await;
        let f = report.verdict().1.expect("a failure");
        assert_eq!((f.kind, f.phase), (FailureKind::TlsHandshake, Phase::Tls), "{f:?}");
        assert!(f.message.contains(said), "{}", f.message);
    }
}
