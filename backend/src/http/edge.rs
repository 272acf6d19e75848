//! What every request passes through on the API listener: the request timeout, the
//! cross-site guard of cookie-authenticated writes, and the browser security headers.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use std::net::SocketAddr;

use crate::error::ApiError;
use crate::http::auth::{self, SESSION_COOKIE};
use crate::ratelimit::{ClientIp, client_ip};
use crate::state::AppState;

/// The policy of every page: scripts and everything else only from this origin (no inline
/// scripts). Inline *styles* stay allowed: the dashboard's components and charts set them.
const CSP_BASE: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; \
    form-action 'self'";

/// Paths other sites may frame: the public status page (`/s/{slug}`), its JSON and badges.
const FRAMABLE: &[&str] = &["/s/", "/status/", "/badge/"];

/// Routes whose writes come from the plain HTML form of a mail link (token-authenticated,
/// not by the session), so they accept a form body.
const FORM_ROUTES: &[&str] = &["/api/channels/verify", "/api/channels/unsubscribe"];

/// The route that also takes YAML.
const YAML_ROUTE: &str = "/api/targets/import";

/// The middleware: refuses cross-site cookie writes, bounds the request's time and adds the
/// security headers to the answer.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if let Err(e) = cross_site_check(&state, &request) {
        let mut response = e.into_response();
        security_headers(&state, &path, response.headers_mut());
        return response;
    }
    let mut response = match tokio::time::timeout(state.config.edge.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("pingtower_backend_request_timeouts_total").increment(1);
            ApiError::timeout("the request took too long").into_response()
        }
    };
    security_headers(&state, &path, response.headers_mut());
    response
}

/// Cookie-authenticated writes must be JSON (or YAML on the import route; a form on the mail
/// link routes) and, when the browser names an `Origin`, come from this installation.
/// Bearer-token requests carry no ambient credential and are not affected.
fn cross_site_check(state: &AppState, request: &Request) -> Result<(), ApiError> {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    // Heartbeat pings carry their credential in the URL and change nothing a session owns:
    // a browser's cookie riding along is ignored, whatever the Origin or body type.
    if request.uri().path().starts_with("/ping/") {
        return Ok(());
    }
    let headers = request.headers();
    if auth::bearer_in(headers).is_some() || auth::cookie_in(headers, SESSION_COOKIE).is_none() {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !same_origin(state, origin, headers)
    {
        metrics::counter!("pingtower_backend_cross_site_refused_total").increment(1);
        return Err(ApiError::forbidden(
            "cross-site request refused (Origin does not match)",
        ));
    }
    let path = request.uri().path();
    if FORM_ROUTES.contains(&path) {
        return Ok(());
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        // No type is fine only without a body (logout, acknowledge, delete): a browser form
        // always sends a type.
        if has_body(headers) {
            return Err(unsupported(path));
        }
        return Ok(());
    };
    let mime = content_type
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let yaml = path == YAML_ROUTE && matches!(mime.as_str(), "application/yaml" | "application/x-yaml" | "text/yaml");
    if mime == "application/json" || yaml {
        Ok(())
    } else {
        Err(unsupported(path))
    }
}

fn unsupported(path: &str) -> ApiError {
    let expected = if path == YAML_ROUTE {
        "application/json or application/yaml"
    } else {
        "application/json"
    };
    ApiError {
        status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ..ApiError::bad_request(format!("expected Content-Type: {expected}"))
    }
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Whether `origin` is the public URL's origin or the origin of the `Host` asked for.
fn same_origin(state: &AppState, origin: &HeaderValue, headers: &HeaderMap) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    if origin == state.config.api.public_url.origin().ascii_serialization() {
        return true;
    }
    let Ok(url) = url::Url::parse(&origin) else {
        return false; // `null` (sandboxed frames, file pages) included.
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let Some(asked) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
    else {
        return false;
    };
    let default_port = if url.scheme() == "https" { 443 } else { 80 };
    asked.host().eq_ignore_ascii_case(host) && asked.port_u16().unwrap_or(default_port) == port
}

/// The browser security headers; status pages and badges may be framed by other sites.
fn security_headers(state: &AppState, path: &str, headers: &mut HeaderMap) {
    let framable = FRAMABLE.iter().any(|p| path.starts_with(p));
    let csp = if framable {
        HeaderValue::from_static(CSP_BASE)
    } else {
        HeaderValue::from_str(&format!("{CSP_BASE}; frame-ancestors 'none'")).expect("ASCII policy")
    };
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(csp);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    if !framable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if state.config.api.cookie_secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

/// The client address of every request: the peer, or the client a trusted proxy names.
impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical())
            .ok_or_else(|| ApiError::internal("no peer address on the request"))?;
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.config.edge.trusted_proxies,
        )))
    }
}
