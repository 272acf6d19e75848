//! HTTP/2 over TLS, chosen by ALPN, against hyper servers with certificates made in the
//! test; and HTTPS sessions of either version end cleanly (close_notify, not a bare close).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::messages::{Assertion, HttpSpec, Outcome};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::oneshot;

use crate::helpers::*;

const JSON: &str = r#"{"status":"ok","protocol":"h2"}"#;

/// What the server saw of the one request it served.
#[derive(Debug, Clone)]
struct Seen {
    version: http::Version,
    method: http::Method,
    uri: String,
    headers: http::HeaderMap,
}

/// A server's TLS stream that records how reading it ended: `Ok` at a clean end (the peer
/// sent close_notify), the error kind otherwise (`UnexpectedEof` for a bare close).
struct Watch<S> {
    inner: S,
    end: Arc<Mutex<Option<Result<(), io::ErrorKind>>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watch<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() == before => *self.end.lock().unwrap() = Some(Ok(())),
            Poll::Ready(Err(e)) => *self.end.lock().unwrap() = Some(Err(e.kind())),
            _ => {}
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watch<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A loopback HTTPS server for one connection, speaking HTTP/2 with ALPN offering only
/// `h2`. It reports the request it saw and how reading its connection ended.
async fn h2_only_server(
    leaf: &Leaf,
) -> (
    SocketAddr,
    Arc<Mutex<Option<Seen>>>,
    oneshot::Receiver<Option<Result<(), io::ErrorKind>>>,
) {
    let mut config = (*leaf.server_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
    let (ended_tx, ended_rx) = oneshot::channel();
    let slot = seen.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let service = service_fn(move |req: http::Request<Incoming>| {
            *slot.lock().unwrap() = Some(Seen {
                version: req.version(),
                method: req.method().clone(),
                uri: req.uri().to_string(),
                headers: req.headers().clone(),
            });
            async move {
                Ok::<_, Infallible>(
                    http::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(JSON.as_bytes())))
                        .unwrap(),
                )
            }
        });
        let end = Arc::new(Mutex::new(None));
        let io = TokioIo::new(Watch {
            inner: tls,
            end: end.clone(),
        });
        let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
        assert!(served.is_ok(), "{served:?}");
        let _ = ended_tx.send(*end.lock().unwrap());
    });
    (addr, seen, ended_rx)
}

#[tokio::test]
async fn an_h2_only_server_is_checked_over_http2_with_every_phase_timed() {
    // Arrange
    let pki = Pki::new();
    let (addr, seen, ended) = h2_only_server(&pki.leaf(&["localhost"])).await;
    let mut spec = HttpSpec::get(format!("https://localhost:{}/health?full=1", addr.port()));
    spec.assertions = vec![Assertion::JsonPathEquals {
        path: "$.protocol".into(),
        value: "h2".into(),
    }];

    // Act
    let report = run_http(&engine_trusting(&pki), spec).await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    let hop = &report.hops[0];
    assert_eq!(hop.http_version.as_deref(), Some("HTTP/2"));
    assert_eq!(hop.status, Some(200));
    let t = hop.timings;
    for (phase, ms) in [
        ("dns", t.dns_ms),
        ("connect", t.connect_ms),
        ("tls", t.tls_ms),
        ("ttfb", t.ttfb_ms),
        ("transfer", t.transfer_ms),
    ] {
        assert!(ms.is_some_and(|ms| ms >= 0.0), "{phase} is timed: {t:?}");
    }
    assert!(report.tls.as_ref().is_some_and(|tls| tls.chain_valid));
    let seen = seen.lock().unwrap().clone().expect("a request");
    assert_eq!(seen.version, http::Version::HTTP_2);
    assert_eq!(seen.method, http::Method::GET);
    assert_eq!(seen.uri, format!("https://localhost:{}/health?full=1", addr.port()));
    assert!(seen.headers.get("connection").is_none(), "{:?}", seen.headers);
    assert_eq!(seen.headers.get("accept-encoding").unwrap(), "gzip, deflate, br, zstd");
    let ended = tokio::time::timeout(Duration::from_secs(5), ended)
        .await
        .expect("the session ends")
        .unwrap();
    assert_eq!(ended, Some(Ok(())), "the session ends cleanly (GOAWAY, close_notify)");
}

#[tokio::test]
async fn an_http1_https_session_ends_cleanly() {
    // Arrange: a raw TLS server (ALPN http/1.1 only) that answers, then reads to the end.
    let pki = Pki::new();
    let mut config = (*pki.leaf(&["127.0.0.1"]).server_config()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tls.read(&mut chunk).await.unwrap();
            assert!(n > 0, "a request");
            request.extend_from_slice(&chunk[..n]);
        }
        tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .unwrap();
        tls.flush().await.unwrap();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).await.map_err(|e| e.kind())
    });

    // Act
    let report = get(&engine_trusting(&pki), &format!("https://127.0.0.1:{port}/")).await;

    // Assert
    assert_eq!(outcome(&report), Outcome::Up, "{report:?}");
    assert_eq!(report.hops[0].http_version.as_deref(), Some("HTTP/1.1"));
    let end = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the session ends")
        .unwrap();
    assert_eq!(
        end,
        Ok(0),
        "the session ends cleanly (close_notify), not with a bare close"
    );
}
