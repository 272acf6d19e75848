//! HTTP checks against loopback servers: statuses, redirect chains, loops, timeouts,
//! refused connections, broken bodies and assertions.

use std::sync::Arc;

use common::messages::{Assertion, FailureKind, HttpSpec, Outcome, Phase, StatusRange};

use crate::helpers::*;

/// A server where /a redirects to /b with `first`, /b to /c with `second`, and /c answers "final".
async fn two_redirects(first: u16, second: u16) -> TestServer {
    serve(move |p| match p {
        "/a" => Reply::redirect(first, "/b"),
        "/b" => Reply::redirect(second, "/c"),
        _ => Reply::ok("final"),
    })
    .await
}

/// A server answering `path` with `reply` and every other path with `otherwise`.
async fn serve_one_path(path: &'static str, reply: Reply, otherwise: Reply) -> TestServer {
    serve(move |p| if p == path { reply.clone() } else { otherwise.clone() }).await
}

/// Two servers on different ports (so different origins): the first redirects every path to
/// the second's /landing, which answers 200.
async fn redirect_to_another_origin() -> (TestServer, TestServer) {
    let other = serve(|_| Reply::ok("landed")).await;
    let landing = other.url("http", "/landing");
    let first = serve(move |_| Reply::redirect(302, &landing)).await;
    (first, other)
}

/// A plain HTTP server on 127.0.0.1 answering each path as `f` says.
async fn serve(f: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
    TestServer::http("127.0.0.1", Arc::new(f)).await
}

#[tokio::test]
async fn a_200_is_up_with_every_phase_timed() {
    // Arrange
    let server = serve(|_| Reply::ok("<h1>hello</h1>")).await;

    // Act
    let report = get(&engine(), &server.url("http", "/")).await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.status_code, Some(200));
    assert_eq!(report.hops.len(), 1);
    let t = report.hops[0].timings;
    assert!(
        t.connect_ms.is_some() && t.ttfb_ms.is_some() && t.transfer_ms.is_some(),
        "{t:?}"
    );
    assert_eq!(t.dns_ms, None, "an IP literal needs no DNS");
    assert_eq!(report.resolved_ip, Some("127.0.0.1".parse().unwrap()));
    assert!(report.body_excerpt.is_none());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_name_is_resolved_and_timed() {
    let server = serve(|_| Reply::ok("ok")).await;
    let report = get(&engine(), &format!("http://localhost:{}/", server.addr.port())).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert!(report.hops[0].timings.dns_ms.is_some());
}

#[tokio::test]
async fn a_301_302_chain_is_followed_and_every_hop_recorded() {
    // Arrange: /a → 301 /b → 302 /c → 200
    let server = two_redirects(301, 302).await;

    // Act
    let report = get(&engine(), &server.url("http", "/a")).await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let statuses: Vec<Option<u16>> = report.hops.iter().map(|h| h.status).collect();
    assert_eq!(statuses, vec![Some(301), Some(302), Some(200)]);
    assert_eq!(report.hops[0].location.as_deref(), Some("/b"));
    assert!(report.hops[2].url.ends_with("/c"));
    assert!(
        report.hops.iter().all(|h| h.timings.connect_ms.is_some()),
        "a fresh connection per hop"
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn redirects_can_be_left_unfollowed_and_limited() {
    let server = two_redirects(302, 302).await;
    let mut spec = HttpSpec::get(server.url("http", "/a"));
    spec.follow_redirects = false;
    let report = run_http(&engine(), spec).await;
    assert_eq!(outcome(&report), Outcome::Up);
    assert_eq!(report.status_code, Some(302));
    assert_eq!(report.hops.len(), 1);

    let mut spec = HttpSpec::get(server.url("http", "/a"));
    spec.max_redirects = 1;
    let report = run_http(&engine(), spec).await;
    assert_eq!(kind(&report), Some(FailureKind::TooManyRedirects));
}

#[tokio::test]
async fn a_redirect_loop_is_detected() {
    let server = serve_one_path("/a", Reply::redirect(302, "/b"), Reply::redirect(302, "/a")).await;
    let report = get(&engine(), &server.url("http", "/a")).await;
    assert_eq!(kind(&report), Some(FailureKind::RedirectLoop), "{report:?}");
    assert_eq!(report.verdict().1.unwrap().phase, Phase::Redirect);
    assert_eq!(report.hops.len(), 2);
}

#[tokio::test]
async fn a_404_and_a_500_are_down_with_the_status_and_an_excerpt() {
    let server = serve_one_path(
        "/missing",
        Reply::status(404, "<html><body><h1>Not Found</h1></body></html>"),
        Reply::status(500, "<p>Internal <b>Server</b> Error</p>"),
    )
    .await;
    let report = get(&engine(), &server.url("http", "/missing")).await;
    assert_eq!(kind(&report), Some(FailureKind::HttpStatus));
    assert_eq!(report.status_code, Some(404));
    assert_eq!(report.body_excerpt.as_deref(), Some("Not Found"));

    let report = get(&engine(), &server.url("http", "/boom")).await;
    assert_eq!(outcome(&report), Outcome::Down);
    assert_eq!(kind(&report), Some(FailureKind::HttpStatus));
    assert_eq!(report.status_code, Some(500));
    assert_eq!(report.body_excerpt.as_deref(), Some("Internal Server Error"));

    let mut spec = HttpSpec::get(server.url("http", "/missing"));
    spec.expected_status = vec![StatusRange { from: 404, to: 404 }];
    assert_eq!(outcome(&run_http(&engine(), spec).await), Outcome::Up);
}

#[tokio::test]
async fn a_slow_server_times_out_in_the_ttfb_phase() {
    let server = serve(|_| Reply::Slow(std::time::Duration::from_secs(30))).await;
    let mut spec = HttpSpec::get(server.url("http", "/"));
    spec.timeout_ms = 300;
    let report = run_http(&engine(), spec).await;
    let f = report.verdict().1.unwrap();
    assert_eq!(f.kind, FailureKind::Timeout, "{f:?}");
    assert_eq!(f.phase, Phase::Ttfb);
    assert_eq!(report.hops.len(), 1, "the partial hop is kept");
}

#[tokio::test]
async fn a_refused_connection_is_connect_refused() {
    let closed = common::testing::ClosedPort::new();
    let report = get(&engine(), &format!("http://127.0.0.1:{}/", closed.port)).await;
    let f = report.verdict().1.unwrap();
    assert_eq!(f.kind, FailureKind::ConnectRefused, "{f:?}");
    assert_eq!(f.phase, Phase::Connect);
}

#[tokio::test]
async fn a_connection_closed_mid_body_is_a_protocol_failure_in_transfer() {
    let server = serve(|_| Reply::CloseMidBody).await;
    let report = get(&engine(), &server.url("http", "/")).await;
    let f = report.verdict().1.unwrap();
    assert_eq!(f.kind, FailureKind::HttpProtocol, "{f:?}");
    assert_eq!(f.phase, Phase::Transfer);
    assert_eq!(report.hops[0].status, Some(200));
}

#[tokio::test]
async fn body_json_and_header_assertions_decide_the_outcome() {
    let server = serve(|_| Reply::Status {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Version".into(), "7".into()),
        ],
        body: br#"{"status":"ok","checks":[{"name":"db","up":true}]}"#.to_vec(),
    })
    .await;
    let mut spec = HttpSpec::get(server.url("http", "/health"));
    spec.assertions = vec![
        contains("ok"),
        Assertion::BodyNotContains { value: "error".into() },
        Assertion::BodyMatches {
            pattern: r#""up":\s*true"#.into(),
        },
        Assertion::JsonPathEquals {
            path: "$.checks[0].name".into(),
            value: "db".into(),
        },
        Assertion::JsonPathExists {
            path: "$.status".into(),
        },
        header_equals("x-version", "7"),
    ];
    assert_eq!(outcome(&run_http(&engine(), spec.clone()).await), Outcome::Up);

    spec.assertions.push(Assertion::JsonPathEquals {
        path: "$.status".into(),
        value: "degraded".into(),
    });
    let report = run_http(&engine(), spec).await;
    assert_eq!(kind(&report), Some(FailureKind::AssertionFailed));
    assert!(report.body_excerpt.is_some());
}

#[tokio::test]
async fn a_slow_response_above_the_limit_is_degraded() {
    let server = serve(|_| Reply::Slow(std::time::Duration::from_millis(150))).await;
    let mut spec = HttpSpec::get(server.url("http", "/"));
    spec.degraded_above_ms = Some(50);
    let report = run_http(&engine(), spec).await;
    assert_eq!(outcome(&report), Outcome::Degraded);
    assert_eq!(kind(&report), Some(FailureKind::SlowResponse));
}

#[tokio::test]
async fn the_expected_final_url_is_enforced() {
    let server = serve_one_path("/start", Reply::redirect(302, "/elsewhere"), Reply::ok("x")).await;
    let mut spec = HttpSpec::get(server.url("http", "/start"));
    spec.expected_final_url = Some(server.url("http", "/elsewhere"));
    assert_eq!(outcome(&run_http(&engine(), spec.clone()).await), Outcome::Up);
    spec.expected_final_url = Some(server.url("http", "/home"));
    assert_eq!(
        kind(&run_http(&engine(), spec).await),
        Some(FailureKind::UnexpectedFinalUrl)
    );
}

#[tokio::test]
async fn basic_auth_headers_and_post_bodies_are_sent() {
    let server = serve(|_| Reply::ok("ok")).await;
    let mut spec = HttpSpec::get(server.url("http", "/submit?x=1"));
    spec.method = common::messages::HttpMethod::Post;
    spec.body = Some("{\"a\":1}".into());
    spec.headers = vec![common::messages::HttpHeader::new("X-Probe", "yes")];
    spec.auth = Some(common::messages::HttpAuth::Basic {
        username: "u".into(),
        password: "p".into(),
    });
    let report = run_http(&engine(), spec).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let seen = server.last_request.lock().unwrap().to_ascii_lowercase();
    assert!(seen.starts_with("post /submit?x=1 http/1.1"), "{seen}");
    assert!(seen.contains("authorization: basic dtpw"), "{seen}");
    assert!(seen.contains("x-probe: yes"), "{seen}");
    assert!(seen.contains(&format!("host: {}", server.addr)), "{seen}");
    assert!(seen.ends_with("{\"a\":1}"), "{seen}");
}

#[tokio::test]
async fn credentials_are_not_forwarded_to_another_origin() {
    let (server, other) = redirect_to_another_origin().await;
    let mut spec = HttpSpec::get(server.url("http", "/"));
    spec.auth = Some(common::messages::HttpAuth::Bearer { token: "secret".into() });
    let report = run_http(&engine(), spec).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert!(server.last_request.lock().unwrap().contains("Bearer secret"));
    assert!(!other.last_request.lock().unwrap().contains("secret"));
}

#[tokio::test]
async fn every_secret_header_is_dropped_on_a_redirect_to_another_origin_and_plain_ones_follow() {
    // Arrange: A redirects to B on another port; both record the request they saw.
    let (a, b) = redirect_to_another_origin().await;
    let mut spec = HttpSpec::get(a.url("http", "/"));
    let mut marked = common::messages::HttpHeader::new("X-Account", "marked-value-3");
    marked.secret = true;
    spec.headers = vec![
        common::messages::HttpHeader::new("X-Api-Key", "apikey-value-1"),
        common::messages::HttpHeader::new("Cookie", "session=cookie-value-2"),
        marked,
        common::messages::HttpHeader::new("X-Session-Token", "token-value-4"),
        common::messages::HttpHeader::new("Proxy-Authorization", "Basic proxy-value-5"),
        common::messages::HttpHeader::new("X-Plain", "visible-value"),
    ];
    spec.auth = Some(common::messages::HttpAuth::Basic {
        username: "user".into(),
        password: "password-value-6".into(),
    });
    let secrets = [
        "apikey-value-1",
        "cookie-value-2",
        "marked-value-3",
        "token-value-4",
        "proxy-value-5",
        "authorization",
        "x-api-key",
        "x-account",
    ];

    // Act
    let report = run_http(&engine(), spec).await;

    // Assert: A got everything, B only the plain header.
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let seen_a = a.last_request.lock().unwrap().to_ascii_lowercase();
    let seen_b = b.last_request.lock().unwrap().to_ascii_lowercase();
    for s in secrets {
        assert!(seen_a.contains(s), "A (the origin) got {s}: {seen_a}");
        assert!(!seen_b.contains(s), "B (another origin) got {s}: {seen_b}");
    }
    assert!(seen_a.contains("authorization: basic"), "{seen_a}");
    assert!(seen_b.contains("x-plain: visible-value"), "{seen_b}");
}

#[tokio::test]
async fn checks_connect_from_the_configured_source_address() {
    let server = serve(|_| Reply::ok("ok")).await;
    let guard = common::netguard::Guard::from_parts(&guard_config(true), Vec::new());
    let engine = pinger::Engine::new(guard, Some("127.0.0.2".parse().unwrap()), None)
        .unwrap()
        .operator();
    let report = get(&engine, &server.url("http", "/")).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let peer = server.last_peer.lock().unwrap().expect("a connection");
    assert_eq!(peer.ip(), "127.0.0.2".parse::<std::net::IpAddr>().unwrap());
}

#[tokio::test]
async fn bodies_are_read_up_to_1_mib_only() {
    let mut big = "a".repeat(2 * 1024 * 1024);
    big.push_str("TAIL");
    let server = serve(move |_| Reply::Status {
        status: 200,
        headers: Vec::new(),
        body: big.clone().into_bytes(),
    })
    .await;
    let mut spec = HttpSpec::get(server.url("http", "/"));
    spec.assertions = vec![Assertion::BodyContains { value: "aaaa".into() }];
    assert_eq!(outcome(&run_http(&engine(), spec.clone()).await), Outcome::Up);
    spec.assertions = vec![Assertion::BodyContains { value: "TAIL".into() }];
    let report = run_http(&engine(), spec).await;
    assert_eq!(
        kind(&report),
        Some(FailureKind::AssertionFailed),
        "the tail beyond 1 MiB is not read"
    );
    assert!(report.body_excerpt.unwrap().len() <= 1024);
}

#[tokio::test]
async fn a_finished_exchange_resets_the_connection_instead_of_leaving_time_wait() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A raw server that answers, keeps its end open and reads on: a FIN reads as the end of
    // the stream, a reset as an error.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await
    });

    let report = get(&engine(), &format!("http://127.0.0.1:{port}/")).await;

    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let after = server.await.unwrap();
    assert_eq!(
        after.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "the server saw a reset, not an orderly close"
    );
}
