//! HTTP(S): a fresh connection per hop, driven by hand so every hop keeps its own phases
//! (DNS, connect, TLS, TTFB, transfer); redirects followed manually with loop detection,
//! the address guard on every hop, and the assertions on the final response.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use common::messages::{
    FailureKind, HttpAuth, HttpHop, HttpMethod, HttpSpec, Phase, PhaseTimings, is_secret_header_name,
};
use http::header::{
    ACCEPT, AUTHORIZATION, CONNECTION, COOKIE, HOST, HeaderName, HeaderValue, PROXY_AUTHORIZATION, USER_AGENT,
};
use http::{HeaderMap, Method};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use url::Url;

use crate::checks::{assertions, h1, tls};
use crate::engine::Engine;
use crate::net::ms_since;
use crate::report::{Report, failure};

/// Largest body read; the rest is not downloaded.
pub const BODY_CAP: usize = 1024 * 1024;

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
    // One request per connection: the server may close at once.
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
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        Ok(u) => {
            return report.fail(failure(
                FailureKind::Internal,
                Phase::Setup,
                format!("unsupported URL {u}: only http and https with a host can be checked"),
            ));
        }
        Err(e) => {
            return report.fail(failure(
                FailureKind::Internal,
                Phase::Setup,
                format!("invalid URL {:?}: {e}", spec.url),
            ));
        }
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
            Ok(n) if matches!(n.scheme(), "http" | "https") => n,
            Ok(n) => {
                return report.fail(failure(
                    FailureKind::HttpProtocol,
                    Phase::Redirect,
                    format!("redirect to unsupported URL {n}"),
                ));
            }
            Err(e) => {
                return report.fail(failure(
                    FailureKind::HttpProtocol,
                    Phase::Redirect,
                    format!("redirect to an invalid location {location:?}: {e}"),
                ));
            }
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
    body: &[u8],
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
    let (mut tcp, addr) = match connected {
        Ok(c) => c,
        Err(f) => {
            report.fail(f);
            return None;
        }
    };
    report.hops[idx].resolved_ip = Some(addr.ip());
    report.resolved_ip = Some(addr.ip());

    let mut authority = url.host_str().unwrap_or(&host).to_owned();
    if let Some(p) = url.port() {
        let _ = write!(authority, ":{p}");
    }
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let request = h1::Request {
        method,
        target: &target,
        host: &authority,
        headers,
        body,
    };

    if url.scheme() == "https" {
        report.enter(Phase::Tls);
        let t = Instant::now();
        let mut stream = match engine.tls.handshake(tcp, &host).await {
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
        let response = exchange(&mut stream, request, idx, report).await;
        // The server is told the session ends (close_notify) before the connection closes.
        let _ = stream.shutdown().await;
        response
    } else {
        let response = exchange(&mut tcp, request, idx, report).await;
        if response.is_some() {
            // The exchange is over: the connection is reset rather than closed, as HAProxy's
            // health checks do. One segment instead of the FIN handshake, and no TIME_WAIT
            // socket left behind per check (a pinger makes thousands a second, each on a
            // fresh port).
            let _ = tcp.set_zero_linger();
        }
        response
    }
}

/// Sends the request on `io` and reads the response, recording TTFB and transfer times and
/// the status of hop `idx`. `None` when it failed (the failure is in `report`).
async fn exchange<S>(io: S, request: h1::Request<'_>, idx: usize, report: &mut Report) -> Option<Response>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    report.enter(Phase::Ttfb);
    let t = Instant::now();
    let head = async {
        let mut x = h1::Exchange::send(io, &request).await?;
        let head = x.head().await?;
        Ok::<_, h1::Error>((x, head))
    }
    .await;
    report.hops[idx].timings.ttfb_ms = Some(ms_since(t));
    let (mut x, head) = match head {
        Ok(ok) => ok,
        Err(e) => {
            let msg = match e {
                h1::Error::Closed { got: 0 } => "the server closed the connection without a response".to_owned(),
                h1::Error::Io(e) => format!("the connection failed before a response: {e}"),
                e => format!("no valid response: {e}"),
            };
            report.fail(failure(FailureKind::HttpProtocol, Phase::Ttfb, msg));
            return None;
        }
    };
    report.hops[idx].status = Some(head.status);
    report.hops[idx].http_version = Some(head.version.to_owned());
    report.enter(Phase::Transfer);
    let t = Instant::now();
    let body = x.body(&head, BODY_CAP).await;
    report.hops[idx].timings.transfer_ms = Some(ms_since(t));
    match body {
        Ok(body) => Some(Response {
            status: head.status,
            headers: head.headers,
            body,
        }),
        Err((e, got)) => {
            report.fail(failure(
                FailureKind::HttpProtocol,
                Phase::Transfer,
                format!("the connection broke after {} body bytes: {e}", got.len()),
            ));
            report.body_excerpt = assertions::excerpt(&got);
            None
        }
    }
}
