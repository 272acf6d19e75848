//! HTTP/1.x framing through the whole check, against raw loopback servers that write exact
//! bytes: lengths, chunked bodies, bodies until close, interim responses, bodiless
//! responses, the body cap, lenient heads (folded lines, a space before the colon) and
//! broken responses with the failure each one gets.

use common::messages::{FailureKind, HttpHeader, HttpMethod, HttpSpec, Outcome, Phase};
use pinger::report::Report;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

/// A server on loopback that reads a request, writes `head` and holds the connection open
/// until the client goes; its address, and the task that ends then.
async fn answers_and_holds(head: &'static [u8]) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        s.write_all(head).await.unwrap();
        let _ = s.read(&mut buf).await;
    });
    (addr, server)
}

/// A server on loopback that reads one request (head, and a body of its `Content-Length`),
/// writes `pieces` (one write each) and closes; the request it read comes back through the
/// handle.
async fn raw_server(pieces: Vec<Vec<u8>>) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(p) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                break request.len();
            }
            request.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        while request.len() < head_end + length {
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&chunk[..n]);
        }
        for p in pieces {
            if s.write_all(&p).await.is_err() {
                break;
            }
            s.flush().await.unwrap();
            tokio::task::yield_now().await;
        }
        let _ = s.shutdown().await;
        String::from_utf8_lossy(&request).into_owned()
    });
    (format!("http://{addr}"), task)
}

fn pieces(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// Checks `spec`'s path on a raw server writing `parts`; the report and the request seen.
async fn check_raw(mut spec: HttpSpec, parts: Vec<Vec<u8>>) -> (Report, String) {
    let (base, server) = raw_server(parts).await;
    spec.url = format!("{base}{}", spec.url);
    spec.timeout_ms = 5_000;
    let report = run_http(&engine(), spec).await;
    let request = server.await.unwrap();
    (report, request)
}

#[tokio::test]
async fn a_content_length_body_is_read_whole_and_the_request_is_well_formed() {
    // Arrange: a POST whose user header claims a wrong length.
    let mut spec = HttpSpec::get("/p?q=1");
    spec.method = HttpMethod::Post;
    spec.body = Some("{\"a\":1}".into());
    spec.headers = vec![HttpHeader::new("Content-Length", "999")];
    spec.assertions = vec![contains("hello"), header_equals("x-a", "1")];

    // Act
    let (report, request) = check_raw(
        spec,
        pieces(&[
            b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhel",
            b"lo",
        ]),
    )
    .await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.status_code, Some(201));
    assert_eq!(report.hops[0].http_version.as_deref(), Some("HTTP/1.1"));
    let request = request.to_ascii_lowercase();
    assert!(request.starts_with("post /p?q=1 http/1.1\r\n"), "{request}");
    assert!(request.contains("\r\nhost: 127.0.0.1:"), "{request}");
    assert!(
        request.contains("content-length: 7\r\n"),
        "the body's own length: {request}"
    );
    assert!(
        !request.contains("999"),
        "a caller's content-length is replaced: {request}"
    );
    assert!(
        request.contains("connection: close\r\n"),
        "one request per connection: {request}"
    );
    assert!(
        request.contains("accept-encoding: gzip, deflate, br, zstd\r\n"),
        "every decodable coding is offered: {request}"
    );
    assert!(request.ends_with("{\"a\":1}"), "{request}");
}

#[tokio::test]
async fn a_chunked_body_with_extensions_and_trailers_is_decoded() {
    let mut spec = HttpSpec::get("/");
    spec.assertions = vec![contains("hello0123456789abcdef")];
    let (report, _) = check_raw(
        spec,
        pieces(&[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"5;name=v\r\nhello\r\n",
            b"1",
            b"0\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n",
        ]),
    )
    .await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
}

#[tokio::test]
async fn a_body_without_length_is_read_until_the_server_closes() {
    let mut spec = HttpSpec::get("/");
    spec.assertions = vec![contains("first second")];
    let (report, _) = check_raw(spec, pieces(&[b"HTTP/1.0 200 OK\r\n\r\nfirst ", b"second"])).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.hops[0].http_version.as_deref(), Some("HTTP/1.0"));
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    // The same steps as the other framing tests (check_raw, then the verdict): only the bytes differ.
    let (report, _) = check_raw(
        HttpSpec::get("/"),
        pieces(&[
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ]),
    )
    .await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.status_code, Some(204));
    assert_eq!(report.hops[0].status, Some(204));
}

#[tokio::test]
async fn a_head_request_and_204_and_304_read_no_body_despite_their_length() {
    // Each server promises a body it never sends and then keeps the connection open: a
    // client waiting for the body would time out.
    for (method, head) in [
        (
            HttpMethod::Head,
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"[..],
        ),
        (
            HttpMethod::Get,
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 1000\r\n\r\n"[..],
        ),
        (
            HttpMethod::Get,
            &b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"[..],
        ),
    ] {
        let (addr, server) = answers_and_holds(head).await;
        let mut spec = HttpSpec::get(format!("http://{addr}/"));
        spec.method = method;
        spec.timeout_ms = 3_000;
        let report = run_http(&engine(), spec).await;
        assert_eq!(outcome(&report), Outcome::Up, "{method:?} {head:?}: {report:?}");
        server.await.unwrap();
    }
}

#[tokio::test]
async fn bodies_stop_at_the_cap_however_they_are_framed() {
    // 2 MiB of 'a' then a tail, framed by length, chunked, and until close.
    let mut big = vec![b'a'; 2 * 1024 * 1024];
    big.extend_from_slice(b"TAIL");
    let by_length = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes(),
        big.clone(),
    ];
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for part in big.chunks(300 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let until_close = [b"HTTP/1.0 200 OK\r\n\r\n".to_vec(), big.clone()];
    for (name, parts) in [
        ("length", by_length.to_vec()),
        ("chunked", vec![chunked]),
        ("until close", until_close.to_vec()),
    ] {
        let mut spec = HttpSpec::get("/");
        spec.assertions = vec![contains("aaaa")];
        let (report, _) = check_raw(spec, parts.clone()).await;
        assert_eq!(outcome(&report), Outcome::Up, "{name}: {report:?}");

        let mut spec = HttpSpec::get("/");
        spec.assertions = vec![contains("TAIL")];
        let (report, _) = check_raw(spec, parts).await;
        assert_eq!(
            kind(&report),
            Some(FailureKind::AssertionFailed),
            "{name}: the tail beyond 1 MiB is not read: {report:?}"
        );
    }
}

#[tokio::test]
async fn folded_header_lines_and_a_space_before_the_colon_are_accepted() {
    // Arrange: an obsolete folded line (RFC 9112 §5.2) and "Name : value", as curl accepts.
    let mut spec = HttpSpec::get("/");
    spec.assertions = vec![contains("fine"), header_equals("x-spaced", "yes")];

    // Act
    let (report, _) = check_raw(
        spec,
        pieces(&[b"HTTP/1.1 200 OK\r\nX-Folded: first\r\n  second\r\nX-Spaced : yes\r\nContent-Length: 4\r\n\r\nfine"]),
    )
    .await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.status_code, Some(200));
}

#[tokio::test]
async fn broken_responses_are_protocol_failures_that_say_what_broke() {
    // (bytes written, phase of the failure, words the message must hold)
    let cases: Vec<(Vec<u8>, Phase, &str)> = vec![
        (Vec::new(), Phase::Ttfb, "without a complete response"),
        (
            b"HTTP/1.1 200 OK\r\nContent-".to_vec(),
            Phase::Ttfb,
            "without a complete response",
        ),
        (
            b"HTTP/1.1 2x0 OK\r\n\r\n".to_vec(),
            Phase::Ttfb,
            "no valid response: invalid HTTP status-code",
        ),
        (
            b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
            Phase::Ttfb,
            "no valid response: invalid HTTP version",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".to_vec(),
            Phase::Ttfb,
            "no valid response: invalid content-length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".to_vec(),
            Phase::Ttfb,
            "no valid response: invalid content-length",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            Phase::Transfer,
            "the connection broke after 3 body bytes",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            Phase::Transfer,
            "not validly framed after 0 bytes: error reading a body from connection: invalid chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n".to_vec(),
            Phase::Transfer,
            "invalid chunk body",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab".to_vec(),
            Phase::Transfer,
            "the connection broke after 2 body bytes",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n".to_vec(),
            Phase::Transfer,
            "the connection broke after 3 body bytes",
        ),
    ];
    for (bytes, phase, expected) in cases {
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        let (report, _) = check_raw(HttpSpec::get("/"), vec![bytes]).await;
        let f = report
            .verdict()
            .1
            .unwrap_or_else(|| panic!("{shown:?} was taken as a response"));
        assert_eq!(f.kind, FailureKind::HttpProtocol, "{shown:?}: {f:?}");
        assert_eq!(f.phase, phase, "{shown:?}: {f:?}");
        assert!(
            f.message.to_lowercase().contains(&expected.to_lowercase()),
            "{shown:?}: {:?} does not say {expected:?}",
            f.message
        );
    }
}

#[tokio::test]
async fn an_endless_head_is_refused_at_the_limit() {
    let mut long = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
    long.resize(pinger::checks::http::MAX_HEAD + 100, b'a');
    let many = [
        &b"HTTP/1.1 200 OK\r\n"[..],
        &b"X-A: 1\r\n".repeat(pinger::checks::http::MAX_HEADERS + 1),
        b"\r\n",
    ]
    .concat();
    for bytes in [long, many] {
        let (report, _) = check_raw(HttpSpec::get("/"), vec![bytes]).await;
        let f = report.verdict().1.expect("refused");
        assert_eq!((f.kind, f.phase), (FailureKind::HttpProtocol, Phase::Ttfb), "{f:?}");
        assert!(f.message.contains("message head is too large"), "{f:?}");
    }
}

#[tokio::test]
async fn a_body_that_stalls_times_out_in_the_transfer_phase() {
    // Arrange: the head and part of the body, then nothing while the connection stays open.
    let (addr, server) = answers_and_holds(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial").await;
    let mut spec = HttpSpec::get(format!("http://{addr}/"));
    spec.timeout_ms = 300;

    // Act
    let report = run_http(&engine(), spec).await;

    // Assert
    let f = report.verdict().1.expect("a stalled body is not up");
    assert_eq!((f.kind, f.phase), (FailureKind::Timeout, Phase::Transfer), "{f:?}");
    assert_eq!(report.hops[0].status, Some(200));
    assert!(report.hops[0].timings.ttfb_ms.is_some());
    server.await.unwrap();
}
