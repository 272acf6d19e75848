//! Compressed bodies are decoded before anything judges them: assertions, the excerpt; the
//! cap counts decoded bytes, so a decompression bomb stops there.

use std::sync::Arc;

use async_compression::tokio::bufread::{BrotliEncoder, DeflateEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
use common::messages::{Assertion, FailureKind, HttpHeader, HttpSpec, Outcome, Phase};
use tokio::io::AsyncReadExt;

use crate::helpers::*;

const JSON: &str = r#"{"status":"ok","checks":[{"name":"db","up":true}],"note":"compressed body"}"#;

/// `data` compressed as `coding` says.
async fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => GzipEncoder::new(data).read_to_end(&mut out).await,
        "deflate" => ZlibEncoder::new(data).read_to_end(&mut out).await,
        "raw-deflate" => DeflateEncoder::new(data).read_to_end(&mut out).await,
        "br" => BrotliEncoder::new(data).read_to_end(&mut out).await,
        "zstd" => ZstdEncoder::new(data).read_to_end(&mut out).await,
        other => panic!("no encoder for {other}"),
    }
    .unwrap();
    out
}

/// A server answering every request with `status`, `Content-Encoding: encoding` and `body`.
async fn serving(status: u16, encoding: &str, body: Vec<u8>) -> TestServer {
    let headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Content-Encoding".to_owned(), encoding.to_owned()),
    ];
    TestServer::http(
        "127.0.0.1",
        Arc::new(move |_: &str| Reply::Status {
            status,
            headers: headers.clone(),
            body: body.clone(),
        }),
    )
    .await
}

fn json_assertions() -> Vec<Assertion> {
    vec![
        Assertion::BodyContains {
            value: "compressed body".into(),
        },
        Assertion::JsonPathEquals {
            path: "$.checks[0].name".into(),
            value: "db".into(),
        },
    ]
}

#[tokio::test]
async fn gzip_deflate_br_and_zstd_bodies_pass_body_and_json_assertions() {
    for (wire, header) in [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("raw-deflate", "deflate"),
        ("br", "br"),
        ("zstd", "zstd"),
    ] {
        // Arrange
        let server = serving(200, header, compress(wire, JSON.as_bytes()).await).await;
        let mut spec = HttpSpec::get(server.url("http", "/"));
        spec.assertions = json_assertions();

        // Act
        let report = run_http(&engine(), spec).await;

        // Assert
        assert_eq!(outcome(&report), Outcome::Up, "{wire}: {report:?}");
        let seen = server.last_request.lock().unwrap().to_ascii_lowercase();
        assert!(seen.contains("accept-encoding: gzip, deflate, br, zstd\r\n"), "{seen}");
    }
}

#[tokio::test]
async fn stacked_codings_are_undone_in_reverse_and_identity_passes_through() {
    let gzipped = compress("gzip", JSON.as_bytes()).await;
    let stacked = compress("br", &gzipped).await;
    for (header, body) in [
        ("gzip, br", stacked),
        ("identity", JSON.as_bytes().to_vec()),
        ("gzip, identity", gzipped),
    ] {
        let server = serving(200, header, body).await;
        let mut spec = HttpSpec::get(server.url("http", "/"));
        spec.assertions = json_assertions();
        let report = run_http(&engine(), spec).await;
        assert_eq!(outcome(&report), Outcome::Up, "{header}: {report:?}");
    }
}

#[tokio::test]
async fn a_browser_like_accept_encoding_set_by_the_user_is_sent_and_its_bodies_decoded() {
    // Arrange: Chrome's header, copied into the check.
    let server = serving(200, "br", compress("br", JSON.as_bytes()).await).await;
    let mut spec = HttpSpec::get(server.url("http", "/"));
    spec.headers = vec![HttpHeader::new("Accept-Encoding", "gzip, deflate, br, zstd, dcb, dcz")];
    spec.assertions = json_assertions();

    // Act
    let report = run_http(&engine(), spec).await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let seen = server.last_request.lock().unwrap().to_ascii_lowercase();
    assert_eq!(seen.matches("accept-encoding").count(), 1, "{seen}");
    assert!(
        seen.contains("accept-encoding: gzip, deflate, br, zstd, dcb, dcz\r\n"),
        "{seen}"
    );
}

#[tokio::test]
async fn the_excerpt_of_a_failed_compressed_response_is_decoded_text() {
    let server = serving(
        500,
        "gzip",
        compress("gzip", b"<html><h1>Database unavailable</h1></html>").await,
    )
    .await;
    let report = get(&engine(), &server.url("http", "/")).await;
    assert_eq!(kind(&report), Some(FailureKind::HttpStatus), "{report:?}");
    assert_eq!(report.body_excerpt.as_deref(), Some("Database unavailable"));
}

#[tokio::test]
async fn a_10_mib_gzip_bomb_stops_at_the_cap_with_a_clear_failure() {
    // Arrange: 10 MiB of zeros, about 10 KiB gzipped.
    let bomb = compress("gzip", &vec![0u8; 10 * 1024 * 1024]).await;
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let server = serving(200, "gzip", bomb).await;

    // Act
    let report = get(&engine(), &server.url("http", "/")).await;

    // Assert
    let f = report.verdict().1.expect("a bomb is not up");
    assert_eq!((f.kind, f.phase), (FailureKind::HttpProtocol, Phase::Transfer), "{f:?}");
    assert!(
        f.message.contains("decompression bomb") && f.message.contains("1024 KiB"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn a_large_compressed_page_is_cut_at_the_cap_like_a_plain_one() {
    // Arrange: 3 MiB of varied text (about 4:1 in gzip) with a marker at the end.
    let mut text = String::new();
    let mut n: u64 = 1;
    while text.len() < 3 * 1024 * 1024 {
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        text.push_str(&format!("<p>line {} of a long page</p>\n", n >> 40));
    }
    text.push_str("TAIL");
    let server = serving(200, "gzip", compress("gzip", text.as_bytes()).await).await;
    let mut spec = HttpSpec::get(server.url("http", "/"));
    spec.assertions = vec![Assertion::BodyContains {
        value: "of a long page".into(),
    }];

    // Act
    let up = run_http(&engine(), spec.clone()).await;
    spec.assertions = vec![Assertion::BodyContains { value: "TAIL".into() }];
    let cut = run_http(&engine(), spec).await;

    // Assert
    assert_eq!(outcome(&up), Outcome::Up, "{up:?}");
    assert_eq!(
        kind(&cut),
        Some(FailureKind::AssertionFailed),
        "the tail past the cap is not read: {cut:?}"
    );
}

#[tokio::test]
async fn an_undecodable_body_is_a_protocol_failure_that_says_so() {
    for (header, body, words) in [
        ("gzip", b"this is not gzip at all".to_vec(), "not valid gzip"),
        ("br", b"\xff\xff\xff\xff not brotli".to_vec(), "not valid br"),
        ("compress", b"whatever".to_vec(), "cannot decode"),
        ("gzip, gzip, gzip, gzip", b"x".to_vec(), "more than 3 are refused"),
    ] {
        let server = serving(200, header, body).await;
        let report = get(&engine(), &server.url("http", "/")).await;
        let f = report.verdict().1.unwrap_or_else(|| panic!("{header}: taken as up"));
        assert_eq!(
            (f.kind, f.phase),
            (FailureKind::HttpProtocol, Phase::Transfer),
            "{header}: {f:?}"
        );
        assert!(f.message.contains(words), "{header}: {}", f.message);
        assert_eq!(report.status_code, None, "{header}: no final response was judged");
        assert_eq!(report.hops[0].status, Some(200));
    }
}

#[tokio::test]
async fn an_empty_compressed_body_is_an_empty_body() {
    let server = serving(200, "gzip", Vec::new()).await;
    let report = get(&engine(), &server.url("http", "/")).await;
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
}
