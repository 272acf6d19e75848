//! HTTP(S): a fresh connection per hop, so every hop keeps its own phases (DNS, connect,
//! TLS, TTFB, transfer); redirects followed manually with loop detection, the address guard
//! on every hop, and the assertions on the final, decoded response.
//!
//! The pinger owns name resolution, the connection and the TLS handshake; hyper's
//! connection-level client (`hyper::client::conn::http1` and `http2`, chosen by ALPN) speaks
//! HTTP on it. One request per connection: HTTP/1.1 sends `Connection: close`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use common::messages::{
    FailureKind, HttpAuth, HttpHop, HttpMethod, HttpSpec, Phase, PhaseTimings, is_secret_header_name,
};
use futures::FutureExt as _;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, HOST, HeaderName, HeaderValue,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING, USER_AGENT,
};
use http::{HeaderMap, Method, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use url::Url;

use crate::checks::body::{self, BodyError};
use crate::checks::{assertions, tls};
use crate::engine::Engine;
use crate::net::ms_since;
use crate::report::{Report, failure};

/// Largest body read, counted in decoded bytes; the rest is neither downloaded nor decoded.
pub const BODY_CAP: usize = 1024 * 1024;

/// Largest response head accepted (status line and headers).
pub const MAX_HEAD: usize = 64 * 1024;

/// Most response headers accepted.
pub const MAX_HEADERS: usize = 128;

/// The codings offered when the user's headers name none: every one the pinger decodes.
pub const ACCEPT_ENCODING_VALUE: &str = "gzip, deflate, br, zstd";

const USER_AGENT_VALUE: &str = concat!("PingTower/", env!("CARGO_PKG_VERSION"), " (uptime check)");

/// A response as far as the check needs it.
struct Response {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

fn method_of(m: HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
    }
}

/// The request headers every hop sends (user headers, then credentials).
fn base_headers(spec: &HttpSpec) -> Result<HeaderMap, String> {
    let mut h = HeaderMap::new();
    h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    h.insert(ACCEPT, HeaderValue::from_static("*/*"));
    for header in &spec.headers {
        let name =
            HeaderName::from_bytes(header.name.as_bytes()).map_err(|e| format!("header {:?}: {e}", header.name))?;
        let value = HeaderValue::from_str(&header.value).map_err(|e| format!("header {:?}: {e}", header.name))?;
        if name == USER_AGENT || name == ACCEPT || name == HOST {
            h.insert(name, value);
        } else {
            h.append(name, value);
        }
    }
    match &spec.auth {
        Some(HttpAuth::Basic { username, password }) => {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            let mut v = HeaderValue::from_str(&format!("Basic {token}")).map_err(|e| e.to_string())?;
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        Some(HttpAuth::Bearer { token }) => {
            let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| format!("bearer token: {e}"))?;
            v.set_sensitive(true);
            h.insert(AUTHORIZATION, v);
        }
        None => {}
    }
    if !h.contains_key(ACCEPT_ENCODING) {
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static(ACCEPT_ENCODING_VALUE));
    }
    // One request per connection: the server may close at once (HTTP/1.1 only; HTTP/2 has
    // no such header and ends the connection with GOAWAY).
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    Ok(h)
}

/// Takes every secret out of `headers`: the credentials (`Authorization`,
/// `Proxy-Authorization`, `Cookie`), every header the user marked secret, and every header
/// whose name makes it secret (see [`common::messages::HttpHeader::is_secret`]).
fn strip_secrets(headers: &mut HeaderMap, spec: &HttpSpec) {
    for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
        headers.remove(name);
    }
    for header in spec.headers.iter().filter(|h| h.is_secret()) {
        headers.remove(header.name.as_str());
    }
    let by_name: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_secret_header_name(n.as_str()))
        .cloned()
        .collect();
    for name in by_name {
        headers.remove(name);
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Runs an HTTP check into `report`.
pub async fn check(engine: &Engine, spec: &HttpSpec, report: &mut Report) {
    report.enter(Phase::Setup);
    let started = Instant::now();
    let first = match Url::parse(&spec.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        Ok(u) => Err(format!(
            "unsupported URL {u}: only http and https with a host can be checked"
        )),
        Err(e) => Err(format!("invalid URL {:?}: {e}", spec.url)),
    };
    let first = match first {
        Ok(u) => u,
        Err(message) => return report.fail(failure(FailureKind::Internal, Phase::Setup, message)),
    };
    let mut headers = match base_headers(spec) {
        Ok(h) => h,
        Err(e) => return report.fail(failure(FailureKind::Internal, Phase::Setup, e)),
    };
    let mut url = first.clone();
    let mut method = method_of(spec.method);
    let mut body = spec.body.clone().map(Bytes::from).unwrap_or_default();
    let mut visited: HashSet<String> = HashSet::new();
    let mut redirects: u32 = 0;
    let response = loop {
        if spec.https_only && url.scheme() != "https" {
            let phase = if redirects == 0 { Phase::Setup } else { Phase::Redirect };
            return report.fail(failure(
                FailureKind::InsecureRedirect,
                phase,
                format!("{url} is plain http but the chain must be https only"),
            ));
        }
        visited.insert(url.as_str().to_owned());
        let response = match hop(engine, spec, &url, &method, &headers, &body, report).await {
            Some(r) => r,
            None => {
                if !report.is_down() {
                    report.fail(failure(
                        FailureKind::Internal,
                        Phase::Setup,
                        format!("could not build a request for {url}"),
                    ));
                }
                return;
            }
        };
        let location = response
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        if !(spec.follow_redirects && is_redirect(response.status)) || location.is_none() {
            break response;
        }
        report.enter(Phase::Redirect);
        let location = location.expect("checked").to_owned();
        if let Some(h) = report.hops.last_mut() {
            h.location = Some(location.clone());
        }
        let next = match url.join(&location) {
            Ok(n) if matches!(n.scheme(), "http" | "https") => Ok(n),
            Ok(n) => Err(format!("redirect to unsupported URL {n}")),
            Err(e) => Err(format!("redirect to an invalid location {location:?}: {e}")),
        };
        let next = match next {
            Ok(n) => n,
            Err(message) => return report.fail(failure(FailureKind::HttpProtocol, Phase::Redirect, message)),
        };
        if visited.contains(next.as_str()) {
            return report.fail(failure(
                FailureKind::RedirectLoop,
                Phase::Redirect,
                format!("redirect loop: {url} → {next}, which was already visited"),
            ));
        }
        if redirects >= u32::from(spec.max_redirects) {
            return report.fail(failure(
                FailureKind::TooManyRedirects,
                Phase::Redirect,
                format!("more than {} redirects (next: {next})", spec.max_redirects),
            ));
        }
        if response.status == 303 && method != Method::HEAD
            || matches!(response.status, 301 | 302) && method == Method::POST
        {
            method = Method::GET;
            body = Bytes::new();
        }
        // Secrets stay with the origin they were given for (scheme, host and port); once
        // the chain has left it they are gone for the rest of it.
        if next.origin() != first.origin() {
            strip_secrets(&mut headers, spec);
        }
        url = next;
        redirects += 1;
    };

    report.enter(Phase::Validation);
    report.status_code = Some(response.status);
    if !spec.expected_status.iter().any(|r| r.contains(response.status)) {
        let ranges: Vec<String> = spec
            .expected_status
            .iter()
            .map(|r| {
                if r.from == r.to {
                    r.from.to_string()
                } else {
                    format!("{}–{}", r.from, r.to)
                }
            })
            .collect();
        report.fail(failure(
            FailureKind::HttpStatus,
            Phase::Validation,
            format!(
                "status {} from {url} is not among the expected {}",
                response.status,
                ranges.join(", ")
            ),
        ));
    }
    if !report.is_down()
        && let Some(f) = assertions::evaluate(&spec.assertions, &response.body, &response.headers)
    {
        report.fail(f);
    }
    if !report.is_down()
        && let Some(expected) = &spec.expected_final_url
    {
        let same = match Url::parse(expected) {
            Ok(e) => e == url,
            Err(_) => expected == url.as_str(),
        };
        if !same {
            report.fail(failure(
                FailureKind::UnexpectedFinalUrl,
                Phase::Validation,
                format!("the chain ended at {url}, expected {expected}"),
            ));
        }
    }
    if let Some(limit) = spec.degraded_above_ms {
        let took = started.elapsed().as_millis();
        if took > u128::from(limit) {
            report.degrade(failure(
                FailureKind::SlowResponse,
                Phase::Validation,
                format!("the response took {took} ms, above the {limit} ms limit"),
            ));
        }
    }
    if report.down.is_some() || report.degraded.is_some() {
        report.body_excerpt = assertions::excerpt(&response.body);
    }
}

/// One request on a fresh connection; records its hop. `None` when the hop failed (the
/// failure is in `report`).
async fn hop(
    engine: &Engine,
    spec: &HttpSpec,
    url: &Url,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
    report: &mut Report,
) -> Option<Response> {
    let host = match url.host()? {
        url::Host::Domain(d) => d.to_owned(),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Ipv6(a) => a.to_string(),
    };
    let port = url.port_or_known_default()?;
    report.hops.push(HttpHop {
        url: url.to_string(),
        status: None,
        resolved_ip: None,
        location: None,
        http_version: None,
        timings: PhaseTimings::default(),
    });
    let idx = report.hops.len() - 1;

    report.enter(Phase::Dns);
    let addrs = match engine.net.resolve(&host, port, spec.resolver.as_ref()).await {
        Ok((addrs, dns_ms)) => {
            report.hops[idx].timings.dns_ms = dns_ms;
            addrs
        }
        Err(mut f) => {
            if f.kind == FailureKind::BlockedAddress && idx > 0 {
                f.message = format!("redirect to {url}: {}", f.message);
                f.phase = Phase::Redirect;
            }
            report.fail(f);
            return None;
        }
    };

    report.enter(Phase::Connect);
    let t = Instant::now();
    let connected = engine.net.connect(&addrs).await;
    report.hops[idx].timings.connect_ms = Some(ms_since(t));
    let (tcp, addr) = match connected {
        Ok(c) => c,
        Err(f) => {
            report.fail(f);
            return None;
        }
    };
    report.hops[idx].resolved_ip = Some(addr.ip());
    report.resolved_ip = Some(addr.ip());

    let stream = if url.scheme() == "https" {
        report.enter(Phase::Tls);
        let t = Instant::now();
        let stream = match engine.tls.handshake(tcp, &host).await {
            Ok(s) => s,
            Err(f) => {
                report.hops[idx].timings.tls_ms = Some(ms_since(t));
                report.fail(f);
                return None;
            }
        };
        report.hops[idx].timings.tls_ms = Some(ms_since(t));
        match engine.tls.inspect(stream.get_ref().1, &host) {
            Some((info, fail)) => {
                tls::judge(report, &info, fail, spec.verify_tls, spec.tls_warn_days);
                report.tls = Some(info);
            }
            None => {
                if spec.verify_tls {
                    report.fail(failure(
                        FailureKind::TlsHandshake,
                        Phase::Tls,
                        "the server presented no certificate we could read",
                    ));
                }
            }
        }
        if report.is_down() {
            // Nothing, credentials least of all, goes to a server that failed validation.
            return None;
        }
        Transport::Tls(Box::new(stream))
    } else {
        Transport::Plain(tcp)
    };
    let version = match &stream {
        Transport::Tls(tls) if tls.get_ref().1.alpn_protocol() == Some(b"h2") => Version::HTTP_2,
        _ => Version::HTTP_11,
    };
    let request = match request_of(url, method, headers, body, version) {
        Ok(r) => r,
        Err(e) => {
            report.fail(failure(FailureKind::Internal, Phase::Setup, e));
            return None;
        }
    };
    match stream {
        Transport::Tls(tls) if version == Version::HTTP_2 => {
            // The connection task ends the session itself (GOAWAY, then close_notify) once
            // the request and its connection handle are dropped; it is given the check's
            // time and a little more to do so.
            let close_limit = Duration::from_millis(u64::from(spec.timeout_ms)) + Duration::from_secs(5);
            exchange_h2(*tls, request, close_limit, idx, report).await
        }
        Transport::Tls(mut tls) => {
            let response = exchange_h1(&mut *tls, request, idx, report).await;
            // The server is told the session ends (close_notify) before the connection closes.
            let _ = tls.shutdown().await;
            response
        }
        Transport::Plain(mut tcp) => {
            let response = exchange_h1(&mut tcp, request, idx, report).await;
            if response.is_some() {
                // The exchange is over: the connection is reset rather than closed, as
                // HAProxy's health checks do. One segment instead of the FIN handshake, and no
                // TIME_WAIT socket left behind per check (a pinger makes thousands a second,
                // each on a fresh port).
                let _ = tcp.set_zero_linger();
            }
            response
        }
    }
}

/// The connection of a hop, after the TLS handshake if any.
enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// The request of one hop. HTTP/1.1 gets the origin-form target and a `host` header (unless
/// the user gave one); HTTP/2 the absolute URI, whose authority is the user's `host` when
/// given, and no connection-specific header. A `Content-Length` or `Transfer-Encoding` of
/// the user's is replaced by the body's own length.
fn request_of(
    url: &Url,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
    version: Version,
) -> Result<http::Request<Full<Bytes>>, String> {
    let mut authority = url.host_str().unwrap_or_default().to_owned();
    if let Some(p) = url.port() {
        let _ = write!(authority, ":{p}");
    }
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut headers = headers.clone();
    headers.remove(CONTENT_LENGTH);
    headers.remove(TRANSFER_ENCODING);
    if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let uri = if version == Version::HTTP_2 {
        headers.remove(CONNECTION);
        if let Some(host) = headers.remove(HOST).and_then(|h| h.to_str().ok().map(str::to_owned)) {
            authority = host;
        }
        format!("{}://{authority}{target}", url.scheme())
    } else {
        if !headers.contains_key(HOST) {
            let value = HeaderValue::from_str(&authority).map_err(|e| format!("host {authority:?}: {e}"))?;
            headers.insert(HOST, value);
        }
        target
    };
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(&uri)
        .version(version)
        .body(Full::new(body.clone()))
        .map_err(|e| format!("could not build a request for {uri}: {e}"))?;
    *request.headers_mut() = headers;
    Ok(request)
}

/// HTTP/1.x on `io` (plain or TLS, borrowed so the caller can end it as it must), with
/// hyper's lenient response options: obsolete folded header lines and a space before a
/// header's colon are accepted, as curl and browsers do.
async fn exchange_h1<S>(
    io: &mut S,
    request: http::Request<Full<Bytes>>,
    idx: usize,
    report: &mut Report,
) -> Option<Response>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    report.enter(Phase::Ttfb);
    let t = Instant::now();
    let mut builder = http1::Builder::new();
    builder
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD);
    let (mut sender, conn) = match builder.handshake(TokioIo::new(io)).await {
        Ok(c) => c,
        Err(e) => return handshake_failed("connection", &e, t, idx, report),
    };
    let head = sender.send_request(request);
    // The connection is ended by the caller (a reset for plain HTTP, close_notify for TLS),
    // not by hyper.
    let conn = conn.without_shutdown().map(|end| end.map(drop));
    exchange(head, conn, t, idx, report).await
}

/// HTTP/2 on a TLS stream that negotiated `h2`.
async fn exchange_h2<S>(
    io: S,
    request: http::Request<Full<Bytes>>,
    close_limit: Duration,
    idx: usize,
    report: &mut Report,
) -> Option<Response>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    report.enter(Phase::Ttfb);
    let t = Instant::now();
    let mut builder = http2::Builder::new(Spawn { limit: close_limit });
    builder.max_header_list_size(MAX_HEAD as u32);
    let (mut sender, conn) = match builder.handshake(TokioIo::new(io)).await {
        Ok(c) => c,
        Err(e) => return handshake_failed("HTTP/2 connection", &e, t, idx, report),
    };
    let head = sender.send_request(request);
    exchange(head, conn, t, idx, report).await
}

/// A `connection` (HTTP/1 or HTTP/2) that failed before a response, started at `t`: the
/// hop's time to first byte is what it took, and the check fails there.
fn handshake_failed(
    connection: &str,
    e: &hyper::Error,
    t: Instant,
    idx: usize,
    report: &mut Report,
) -> Option<Response> {
    report.hops[idx].timings.ttfb_ms = Some(ms_since(t));
    report.fail(failure(
        FailureKind::HttpProtocol,
        Phase::Ttfb,
        format!("the {connection} failed before a response: {}", body::chain(e)),
    ));
    None
}

/// Runs hyper's HTTP/2 connection tasks on tokio, each for at most `limit`: a peer that
/// stops reading cannot keep one alive after its check.
#[derive(Clone, Copy)]
struct Spawn {
    limit: Duration,
}

impl<F> hyper::rt::Executor<F> for Spawn
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(tokio::time::timeout(self.limit, fut));
    }
}

/// Waits for the response head (`head`, started at `t`) and reads its body, driving `conn`
/// meanwhile; records TTFB, transfer time, status and version of hop `idx`. `None` when it
/// failed (the failure is in `report`).
async fn exchange<H, C>(head: H, conn: C, t: Instant, idx: usize, report: &mut Report) -> Option<Response>
where
    H: Future<Output = hyper::Result<http::Response<Incoming>>>,
    C: Future<Output = hyper::Result<()>>,
{
    let mut conn = std::pin::pin!(conn);
    let mut ended: Option<hyper::Result<()>> = None;
    let head = driving(head, conn.as_mut(), &mut ended).await;
    report.hops[idx].timings.ttfb_ms = Some(ms_since(t));
    let response = match head {
        Ok(r) => r,
        Err(e) => {
            // A request cancelled because the connection failed: the connection's error says why.
            let cause = match &ended {
                Some(Err(c)) if e.is_canceled() || e.is_closed() => c,
                _ => &e,
            };
            let msg = if cause.is_incomplete_message() {
                "the server closed the connection without a complete response".to_owned()
            } else if cause.is_parse() || cause.is_parse_status() || cause.is_parse_too_large() {
                format!("no valid response: {}", body::chain(cause))
            } else {
                format!("the connection failed before a response: {}", body::chain(cause))
            };
            report.fail(failure(FailureKind::HttpProtocol, Phase::Ttfb, msg));
            return None;
        }
    };
    let (parts, incoming) = response.into_parts();
    report.hops[idx].status = Some(parts.status.as_u16());
    report.hops[idx].http_version = Some(version_name(parts.version).to_owned());
    report.enter(Phase::Transfer);
    let t = Instant::now();
    let read = driving(
        body::read(incoming, &parts.headers, BODY_CAP),
        conn.as_mut(),
        &mut ended,
    )
    .await;
    report.hops[idx].timings.transfer_ms = Some(ms_since(t));
    let (msg, decoded) = match read {
        Ok(b) => {
            return Some(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: b.decoded,
            });
        }
        Err(BodyError::Broken {
            error,
            framing: true,
            raw,
            decoded,
        }) => (
            format!("the body is not validly framed after {raw} bytes: {error}"),
            decoded,
        ),
        Err(BodyError::Broken {
            error,
            framing: false,
            raw,
            decoded,
        }) => (format!("the connection broke after {raw} body bytes: {error}"), decoded),
        Err(BodyError::Undecodable { error, decoded }) => (error, decoded),
        Err(BodyError::Bomb {
            consumed,
            codings,
            decoded,
        }) => (
            format!(
                "the body decodes to more than {} KiB from only {consumed} bytes of {} (over {}:1): \
                 a decompression bomb; decoding stopped at the cap",
                BODY_CAP / 1024,
                codings.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
                body::BOMB_RATIO
            ),
            decoded,
        ),
    };
    report.fail(failure(FailureKind::HttpProtocol, Phase::Transfer, msg));
    report.body_excerpt = assertions::excerpt(&decoded);
    None
}

/// Runs `work` while driving the connection `conn` (whose end, if it comes first, is kept
/// in `ended`): hyper's connection-level client needs its connection polled for the
/// request to progress, and here it is polled on the check's own task.
async fn driving<W, C>(work: W, mut conn: Pin<&mut C>, ended: &mut Option<hyper::Result<()>>) -> W::Output
where
    W: Future,
    C: Future<Output = hyper::Result<()>>,
{
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => return out,
            end = conn.as_mut(), if ended.is_none() => *ended = Some(end),
        }
    }
}

/// The name of an HTTP version as hops record it.
fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}
