//! `pinger check`: the real binary runs one check and prints it.

use std::process::Command;
use std::sync::Arc;

use common::messages::{CheckResult, FailureKind, Outcome};

use crate::helpers::*;

/// Runs `pinger check` with `args`: exit code and stdout.
fn pinger_check(args: &[&str]) -> (i32, String) {
    let (code, stdout, _) = pinger_check_all(args);
    (code, stdout)
}

#[tokio::test]
async fn pinger_check_prints_every_hop_and_phase_and_json_on_request() {
    // Arrange
    let server = TestServer::http(
        "127.0.0.1",
        Arc::new(|p: &str| match p {
            "/old" => Reply::redirect(301, "/new"),
            "/new" => Reply::ok("hello"),
            _ => Reply::status(404, "<p>gone</p>"),
        }),
    )
    .await;
    let url = server.url("http", "/old");

    // Act
    let text = tokio::task::spawn_blocking({
        let url = url.clone();
        move || pinger_check(&[&url])
    })
    .await
    .unwrap();
    let json = tokio::task::spawn_blocking({
        let url = url.clone();
        move || pinger_check(&["--json", &url])
    })
    .await
    .unwrap();
    let missing = tokio::task::spawn_blocking({
        let url = server.url("http", "/missing");
        move || pinger_check(&[&url])
    })
    .await
    .unwrap();

    // Assert
    assert_eq!(text.0, 0, "{}", text.1);
    assert!(text.1.contains("UP"), "{}", text.1);
    assert!(text.1.contains("hop 1") && text.1.contains("hop 2"), "{}", text.1);
    assert!(
        text.1.contains("connect") && text.1.contains("ttfb") && text.1.contains("transfer"),
        "{}",
        text.1
    );
    let result: CheckResult = serde_json::from_str(&json.1).expect("--json prints a CheckResult");
    assert_eq!(result.outcome, Outcome::Up);
    assert_eq!(result.hops.len(), 2);
    assert_eq!(missing.0, 2);
    assert!(missing.1.contains("http_status"), "{}", missing.1);
}

#[tokio::test]
async fn pinger_check_has_tcp_dns_and_tls_forms() {
    let server = answering("x").await;
    let mut zone = Zone::default();
    zone.a("app.test.", "127.0.0.1");
    let dns = TestDns::start(zone).await;
    let secure = TestServer::https(
        "127.0.0.1",
        Arc::new(|_: &str| Reply::ok("x")),
        Pki::self_signed(&["127.0.0.1"]).server_config(),
    )
    .await;
    let tcp_target = server.addr.to_string();
    let tls_target = secure.addr.to_string();
    let resolver = dns.addr.to_string();
    let (tcp, dns_out, tls) = tokio::task::spawn_blocking(move || {
        (
            pinger_check(&["--tcp", "--json", &tcp_target]),
            pinger_check(&["--dns", "app.test", "--type", "A", "--resolver", &resolver, "--json"]),
            pinger_check(&["--tls", "--json", &tls_target]),
        )
    })
    .await
    .unwrap();
    let tcp: CheckResult = serde_json::from_str(&tcp.1).unwrap();
    assert_eq!(tcp.outcome, Outcome::Up);
    let dns_result: CheckResult = serde_json::from_str(&dns_out.1).unwrap();
    assert_eq!(dns_result.outcome, Outcome::Up);
    assert_eq!(dns_result.dns.unwrap().answers[0].value, "127.0.0.1");
    let tls: CheckResult = serde_json::from_str(&tls.1).unwrap();
    assert_eq!(tls.failure.unwrap().kind, FailureKind::TlsUntrusted);
    assert!(
        !tls.tls.unwrap().chain_valid,
        "facts are printed for an untrusted certificate"
    );
}

#[tokio::test]
async fn pinger_check_tls_upgrades_with_starttls_smtp() {
    // Arrange: a real SMTP server offering STARTTLS with a self-signed certificate.
    let leaf = Pki::self_signed(&["127.0.0.1"]);
    let dir = std::env::temp_dir().join(format!("pingtower-cli-starttls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    let server = common::testing::SmtpSink::start_with_starttls(&cert, &key).await;
    let target = format!("127.0.0.1:{}", server.port);

    // Act
    let (upgraded, misused) = tokio::task::spawn_blocking(move || {
        (
            pinger_check(&["--tls", "--starttls", "smtp", "--json", &target]),
            pinger_check_all(&["--tcp", "--starttls", "smtp", &target]),
        )
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    // Assert: the handshake ran after the upgrade, so the certificate's facts are there.
    let result: CheckResult = serde_json::from_str(&upgraded.1).unwrap();
    assert_eq!(result.failure.unwrap().kind, FailureKind::TlsUntrusted);
    assert!(result.tls.unwrap().sans.contains(&"127.0.0.1".to_owned()));
    assert_ne!(misused.0, 0, "--starttls without --tls is refused");
    assert!(misused.2.contains("--starttls"), "{}", misused.2);
}

#[tokio::test]
async fn empty_environment_variables_count_as_unset() {
    // Arrange: settings left empty, as `PINGTOWER_X=` or `${X:-}` in a compose file leaves them.
    let server = answering("fine").await;
    let url = server.url("http", "/");

    // Act
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_pinger"))
            .args(["check", &url])
            .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
            .env("PINGTOWER_PINGER_SOURCE_ADDR", "")
            .env("PINGTOWER_PINGER_CONCURRENCY", "")
            .env("PINGTOWER_PINGER_EXTRA_CA_FILE", " ")
            .output()
            .expect("pinger runs")
    })
    .await
    .unwrap();

    // Assert: the defaults apply; nothing fails to parse.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("UP"), "stderr: {stderr}");
}

/// Runs `pinger check` with `args`: exit code, stdout, stderr.
fn pinger_check_all<A: AsRef<std::ffi::OsStr>>(args: &[A]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pinger"))
        .arg("check")
        .args(args)
        .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
        .output()
        .expect("pinger runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn pinger_check_takes_assertions_from_its_flags() {
    use tokio::io::AsyncReadExt;
    // Arrange: a gzip JSON health endpoint, a 404 and a slow page.
    let json = br#"{"status":"ok","count":3,"checks":[{"name":"db","up":true}]}"#;
    let mut gzipped = Vec::new();
    async_compression::tokio::bufread::GzipEncoder::new(&json[..])
        .read_to_end(&mut gzipped)
        .await
        .unwrap();
    let server = TestServer::http(
        "127.0.0.1",
        Arc::new(move |p: &str| match p {
            "/health" => Reply::Status {
                status: 200,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Content-Encoding".into(), "gzip".into()),
                ],
                body: gzipped.clone(),
            },
            "/slow" => Reply::Slow(std::time::Duration::from_millis(300)),
            _ => Reply::status(404, "<p>gone</p>"),
        }),
    )
    .await;
    let health = server.url("http", "/health");
    let missing = server.url("http", "/missing");
    let slow = server.url("http", "/slow");
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || pinger_check_all(&args))
    };

    // Act
    let all_hold = run(&[
        "--json",
        &health,
        "--expect-status",
        "200-299",
        "--contains",
        "\"db\"",
        "--not-contains",
        "error",
        "--matches",
        r#""up":\s*true"#,
        "--json-path",
        "$.status=ok",
        "--json-path",
        "$.count=3",
        "--json-path",
        "$.checks[0]",
        "--degraded-above",
        "5000",
    ]);
    let absent_text = run(&["--json", &health, "--contains", "maintenance"]);
    let present_text = run(&["--json", &health, "--not-contains", "ok"]);
    let no_match = run(&["--json", &health, "--matches", "^<html"]);
    let wrong_value = run(&["--json", &health, "--json-path", "$.count=4"]);
    let unexpected_status = run(&["--json", &health, "--expect-status", "404"]);
    let expected_404 = run(&[
        "--json",
        &missing,
        "--expect-status",
        "200",
        "--expect-status",
        "400-404",
    ]);
    let too_slow = run(&["--json", &slow, "--degraded-above", "50"]);
    let bad_range = run(&[&health, "--expect-status", "2xx"]);
    let bad_regex = run(&[&health, "--matches", "("]);
    let not_http = run(&["--tcp", &server.addr.to_string(), "--contains", "x"]);

    // Assert
    let result = |out: &(i32, String, String)| -> CheckResult {
        serde_json::from_str(&out.1).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    };
    let out = all_hold.await.unwrap();
    assert_eq!(out.0, 0, "{out:?}");
    assert_eq!(result(&out).outcome, Outcome::Up);
    for (out, words) in [
        (absent_text.await.unwrap(), "does not contain \"maintenance\""),
        (present_text.await.unwrap(), "contains \"ok\""),
        (no_match.await.unwrap(), "does not match /^<html/"),
        (wrong_value.await.unwrap(), "$.count is 3, expected 4"),
    ] {
        assert_eq!(out.0, 2, "{out:?}");
        let f = result(&out).failure.unwrap();
        assert_eq!(f.kind, FailureKind::AssertionFailed, "{f:?}");
        assert!(f.message.contains(words), "{:?} does not say {words:?}", f.message);
    }
    let out = unexpected_status.await.unwrap();
    assert_eq!(
        (out.0, result(&out).failure.unwrap().kind),
        (2, FailureKind::HttpStatus)
    );
    let out = expected_404.await.unwrap();
    assert_eq!((out.0, result(&out).outcome), (0, Outcome::Up), "{out:?}");
    let out = too_slow.await.unwrap();
    assert_eq!(out.0, 1, "{out:?}");
    assert_eq!(result(&out).failure.unwrap().kind, FailureKind::SlowResponse);
    for (out, words) in [
        (
            bad_range.await.unwrap(),
            "--expect-status \"2xx\": \"2xx\" is not a status code",
        ),
        (bad_regex.await.unwrap(), "--matches \"(\""),
        (not_http.await.unwrap(), "are for HTTP checks"),
    ] {
        assert!(out.0 != 0 && out.1.is_empty(), "refused before any check: {out:?}");
        assert!(out.2.contains(words), "{:?} does not say {words:?}", out.2);
    }
}
