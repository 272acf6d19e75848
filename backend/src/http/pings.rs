//! The heartbeat ping endpoint, compatible with Healthchecks' ping URLs: a script written for
//! Healthchecks works against PingTower once the host is changed.
//!
//! - `/ping/{token}` (success), `/ping/{token}/start`, `/fail`, `/log` and `/{exit_status}`
//!   (0 is a success, 1–255 a failure);
//! - the slug form `/ping/{ping_key}/{slug}` with the same suffixes.
//!
//! GET, HEAD and POST are accepted; a POST body is kept (its first 10 KiB). No session, no
//! cross-site rule (the endpoint is for `curl`, and the token is the credential). Answers
//! `200 OK` once the ping is stored and its result confirmed by the broker; 404 for an unknown
//! token or suffix; 429 past the rate limit of the URL's credential (the token, or the ping
//! key and slug); 503 when the ping could not be stored or published (a retry is safe:
//! `curl --retry` does it).
//!
//! A token is looked up by the writer that stores the ping, in the same transaction
//! ([`crate::heartbeats::recorder`]): no query of its own, and a rotated token is refused at
//! once. A slug URL is looked up first, through a cache of a few seconds.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::messages::heartbeat_bounds;

use crate::error::{ApiError, ApiResult};
use crate::heartbeats::recorder::{Heartbeat, Incoming, RecordError, Whose};
use crate::heartbeats::{Ping, is_slug, is_token};
use crate::ratelimit::ClientIp;
use crate::state::AppState;

/// The routes of the ping endpoint (outside `/api`, as Healthchecks has them).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ping/{a}", get(ping_one).post(ping_one))
        .route("/ping/{a}/{b}", get(ping_two).post(ping_two))
        .route("/ping/{a}/{b}/{c}", get(ping_three).post(ping_three))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// The largest body read (its first 10 KiB are kept); larger is 413.
const MAX_BODY: usize = 1024 * 1024;

/// Whose ping a URL names.
enum Key<'a> {
    Token(&'a str),
    Slug { ping_key: &'a str, slug: &'a str },
}

fn unknown_action() -> ApiError {
    ApiError {
        message: "unknown ping; use /start, /fail, /log or an exit status 0-255 after the token or slug".to_owned(),
        ..ApiError::not_found()
    }
}

fn unknown_heartbeat() -> ApiError {
    ApiError {
        message: "no heartbeat has this ping URL".to_owned(),
        ..ApiError::not_found()
    }
}

#[utoipa::path(get, path = "/ping/{token}", tag = "pings", security(()),
    params(("token" = String, Path, description = "the heartbeat's ping token")),
    responses((status = 200, body = String, content_type = "text/plain", description = "`OK`: stored, and its result confirmed by the broker"),
        (status = 404, description = "no heartbeat has this token"),
        (status = 429, description = "more pings with this token than the rate limit (PINGTOWER_PING_RATE_LIMIT per minute); see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
async fn ping_one(
    State(state): State<AppState>,
    client: ClientIp,
    method: Method,
    user_agent: UserAgent,
    Path(a): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    handle(&state, &client, &method, user_agent, Key::Token(&a), None, body).await
}

#[utoipa::path(post, path = "/ping/{token}", tag = "pings", security(()),
    params(("token" = String, Path, description = "the heartbeat's ping token")),
    request_body(content = String, content_type = "text/plain", description = "output of the job, kept (its first 10 KiB) with the ping"),
    responses((status = 200, body = String, content_type = "text/plain", description = "`OK`"),
        (status = 404, description = "no heartbeat has this token"),
        (status = 413, description = "a body over 1 MiB"),
        (status = 429, description = "over the rate limit; see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
#[allow(dead_code)]
fn ping_one_post_doc() {}

#[utoipa::path(get, path = "/ping/{token}/{action}", tag = "pings", security(()),
    params(("token" = String, Path, description = "the heartbeat's ping token, or the owner's ping key (slug form: `/ping/{ping_key}/{slug}`)"),
        ("action" = String, Path, description = "`start`, `fail`, `log` or an exit status 0–255 after a token; the slug after a ping key")),
    responses((status = 200, body = String, content_type = "text/plain", description = "`OK`"),
        (status = 404, description = "no such heartbeat, or an unknown action"),
        (status = 429, description = "over the rate limit; see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
async fn ping_two(
    State(state): State<AppState>,
    client: ClientIp,
    method: Method,
    user_agent: UserAgent,
    Path((a, b)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    if is_token(&a) {
        handle(&state, &client, &method, user_agent, Key::Token(&a), Some(&b), body).await
    } else {
        let key = Key::Slug { ping_key: &a, slug: &b };
        handle(&state, &client, &method, user_agent, key, None, body).await
    }
}

#[utoipa::path(post, path = "/ping/{token}/{action}", tag = "pings", security(()),
    params(("token" = String, Path, description = "the ping token, or the ping key of the slug form"),
        ("action" = String, Path, description = "`start`, `fail`, `log` or an exit status 0–255; or the slug")),
    request_body(content = String, content_type = "text/plain", description = "output of the job, kept (its first 10 KiB)"),
    responses((status = 200, body = String, content_type = "text/plain", description = "`OK`"),
        (status = 404, description = "no such heartbeat, or an unknown action"),
        (status = 413, description = "a body over 1 MiB"),
        (status = 429, description = "over the rate limit; see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
#[allow(dead_code)]
fn ping_two_post_doc() {}

#[utoipa::path(get, path = "/ping/{ping_key}/{slug}/{action}", tag = "pings", security(()),
    params(("ping_key" = String, Path, description = "the owner's ping key"),
        ("slug" = String, Path, description = "the heartbeat's slug"),
        ("action" = String, Path, description = "`start`, `fail`, `log` or an exit status 0–255")),
    responses((status = 200, body = String, content_type = "text/plain", description = "`OK`"),
        (status = 404, description = "no such heartbeat, or an unknown action"),
        (status = 429, description = "over the rate limit; see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
async fn ping_three(
    State(state): State<AppState>,
    client: ClientIp,
    method: Method,
    user_agent: UserAgent,
    Path((a, b, c)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let key = Key::Slug { ping_key: &a, slug: &b };
    handle(&state, &client, &method, user_agent, key, Some(&c), body).await
}

#[utoipa::path(post, path = "/ping/{ping_key}/{slug}/{action}", tag = "pings", security(()),
    params(("ping_key" = String, Path, description = "the owner's ping key"),
        ("slug" = String, Path, description = "the heartbeat's slug"),
        ("action" = String, Path, description = "`start`, `fail`, `log` or an exit status 0–255")),
    request_body(content = String, content_type = "text/plain", description = "output of the job, kept (its first 10 KiB)"),
    responses((status = 200, body = String, content_type = "text/plain", description = "`OK`"),
        (status = 404, description = "no such heartbeat, or an unknown action"),
        (status = 413, description = "a body over 1 MiB"),
        (status = 429, description = "over the rate limit; see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
#[allow(dead_code)]
fn ping_three_post_doc() {}

/// The client's `User-Agent`, without control characters, cut to 200 characters (read alone:
/// the ping needs no other header, so the request's header map is not copied).
struct UserAgent(Option<String>);

impl<S: Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UserAgent(
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().filter(|c| !c.is_control()).take(200).collect()),
        ))
    }
}

/// Cuts `body` to [`heartbeat_bounds::BODY_BYTES`] at a character boundary, as text: bytes
/// that are not UTF-8, and NUL (which PostgreSQL's text cannot hold: one would fail the
/// statement that stores the whole batch of pings), become U+FFFD.
fn kept_body(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text =
        String::from_utf8_lossy(&body[..body.len().min(heartbeat_bounds::BODY_BYTES + 4)]).replace('\0', "\u{fffd}");
    let mut end = text.len().min(heartbeat_bounds::BODY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

/// The heartbeat of a slug URL, through the lookup cache (`None`: no such heartbeat).
async fn lookup_slug(
    state: &AppState,
    cache_key: String,
    ping_key: &str,
    slug: &str,
) -> ApiResult<Option<Arc<Heartbeat>>> {
    let load = async {
        let row = sqlx::query!(
            "select t.id, t.owner_id, t.paused, t.spec from heartbeats h join targets t on t.id = h.target_id
             join organisations o on o.id = h.owner_id where o.ping_key = $1 and h.slug = $2",
            ping_key,
            slug
        )
        .fetch_optional(&state.pool)
        .await?;
        Ok::<_, ApiError>(row.and_then(|r| Heartbeat::of(r.id, r.owner_id, r.paused, r.spec).map(Arc::new)))
    };
    state.edge.heartbeat_cache.get_or_load(cache_key, load).await
}

/// The answer to a URL that names no heartbeat: 404, or 429 for a client that misses often
/// (guessing tokens costs a lookup each, so a guesser is slowed down).
fn miss(state: &AppState, client: &ClientIp) -> ApiError {
    match state.edge.ping_miss_limiter.check(&client.key()) {
        Err(wait) => ApiError::rate_limited(wait.as_secs()),
        Ok(()) => unknown_heartbeat(),
    }
}

/// The answer to a ping over its URL's rate limit: 429 with `Retry-After`.
fn refused(wait: std::time::Duration) -> ApiError {
    metrics::counter!("pingtower_heartbeat_pings_refused_total").increment(1);
    ApiError::rate_limited(wait.as_secs())
}

async fn handle(
    state: &AppState,
    client: &ClientIp,
    method: &Method,
    user_agent: UserAgent,
    key: Key<'_>,
    action: Option<&str>,
    body: Bytes,
) -> ApiResult<Response> {
    let at = state.config.api.clock.now();
    let ping = Ping::parse(action).ok_or_else(unknown_action)?;
    // The rate limit is kept per URL credential: the token, or the ping key and slug.
    let (whose, credential) = match key {
        Key::Token(token) if is_token(token) => (Whose::Token(token.to_owned()), token.to_owned()),
        Key::Slug { ping_key, slug } if ping_key.len() == 22 && is_slug(slug) => {
            let credential = format!("{ping_key}/{slug}");
            match lookup_slug(state, credential.clone(), ping_key, slug).await? {
                Some(heartbeat) => (Whose::Target(heartbeat.target_id), credential),
                None => return Err(miss(state, client)),
            }
        }
        _ => return Err(miss(state, client)),
    };
    // Over the limit: a slug URL's heartbeat is known already; a token's is known only to the
    // writer, which refuses the ping without storing it (or answers that the token is unknown).
    let over_limit = state.edge.ping_limiter.check(&credential).err();
    if let (Some(wait), Whose::Target(_)) = (over_limit, &whose) {
        return Err(refused(wait));
    }
    let method = match *method {
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        _ => "GET",
    };
    let incoming = Incoming {
        whose,
        ping,
        at,
        method,
        client_ip: client.0.to_string(),
        user_agent: user_agent.0,
        body: kept_body(&body),
        over_limit,
    };
    match state.recorder.record(incoming, &state.publisher).await {
        Ok(()) => {}
        Err(RecordError::Unknown) => return Err(miss(state, client)),
        Err(RecordError::RateLimited(wait)) => return Err(refused(wait)),
        Err(error) => {
            metrics::counter!("pingtower_heartbeat_pings_failed_total").increment(1);
            return Err(ApiError::unavailable(error.to_string()));
        }
    }
    metrics::counter!("pingtower_heartbeat_pings_total", "event" => ping.event().as_str()).increment(1);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "OK",
    )
        .into_response())
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    ping_one,
    ping_one_post_doc,
    ping_two,
    ping_two_post_doc,
    ping_three,
    ping_three_post_doc
))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_kept_up_to_ten_kib_at_a_character_boundary() {
        assert_eq!(kept_body(b""), None);
        assert_eq!(kept_body(b"done").as_deref(), Some("done"));
        let long = "é".repeat(6_000);
        let kept = kept_body(long.as_bytes()).unwrap();
        assert!(kept.len() <= heartbeat_bounds::BODY_BYTES && kept.len() >= heartbeat_bounds::BODY_BYTES - 1);
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_body_keeps_no_nul_and_no_invalid_utf8() {
        assert_eq!(kept_body(b"a\0b\xffc").as_deref(), Some("a\u{fffd}b\u{fffd}c"));
        let nuls = kept_body(&[0u8; 20_000]).unwrap();
        assert!(nuls.len() <= heartbeat_bounds::BODY_BYTES && nuls.chars().all(|c| c == '\u{fffd}'));
    }
}
