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
//! token or suffix; 429 past the per-heartbeat rate limit; 503 when the ping could not be
//! stored or published (a retry is safe: `curl --retry` does it).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::messages::{Envelope, heartbeat_bounds};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::heartbeats::recorder::{Heartbeat, Incoming, RecordError};
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
        (status = 429, description = "more pings of this heartbeat than the rate limit (PINGTOWER_PING_RATE_LIMIT per minute); see Retry-After"),
        (status = 503, description = "the ping could not be stored or published; retry")))]
async fn ping_one(
    State(state): State<AppState>,
    client: ClientIp,
    method: Method,
    headers: HeaderMap,
    Path(a): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    handle(&state, &client, &method, &headers, Key::Token(&a), None, body).await
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
    headers: HeaderMap,
    Path((a, b)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    if is_token(&a) {
        handle(&state, &client, &method, &headers, Key::Token(&a), Some(&b), body).await
    } else {
        let key = Key::Slug { ping_key: &a, slug: &b };
        handle(&state, &client, &method, &headers, key, None, body).await
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
    headers: HeaderMap,
    Path((a, b, c)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let key = Key::Slug { ping_key: &a, slug: &b };
    handle(&state, &client, &method, &headers, key, Some(&c), body).await
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

/// Cuts `body` to [`heartbeat_bounds::BODY_BYTES`] at a character boundary.
fn kept_body(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(heartbeat_bounds::BODY_BYTES + 4)]);
    let mut end = text.len().min(heartbeat_bounds::BODY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_owned())
}

async fn lookup(state: &AppState, key: &Key<'_>) -> ApiResult<Option<Arc<Heartbeat>>> {
    let cache_key = match key {
        Key::Token(t) => (*t).to_owned(),
        Key::Slug { ping_key, slug } => format!("{ping_key}/{slug}"),
    };
    let load = async {
        let row = match key {
            Key::Token(token) => sqlx::query!(
                "select t.id, t.owner_id, t.paused, t.spec from heartbeats h join targets t on t.id = h.target_id
                 where h.token = $1",
                token
            )
            .fetch_optional(&state.pool)
            .await?
            .map(|r| (r.id, r.owner_id, r.paused, r.spec)),
            Key::Slug { ping_key, slug } => sqlx::query!(
                "select t.id, t.owner_id, t.paused, t.spec from heartbeats h join targets t on t.id = h.target_id
                 join organisations o on o.id = h.owner_id where o.ping_key = $1 and h.slug = $2",
                ping_key,
                slug
            )
            .fetch_optional(&state.pool)
            .await?
            .map(|r| (r.id, r.owner_id, r.paused, r.spec)),
        };
        Ok::<_, ApiError>(
            row.and_then(|(id, owner, paused, spec)| Heartbeat::of(id, owner, paused, spec).map(Arc::new)),
        )
    };
    state.edge.heartbeat_cache.get_or_load(cache_key, load).await
}

async fn handle(
    state: &AppState,
    client: &ClientIp,
    method: &Method,
    headers: &HeaderMap,
    key: Key<'_>,
    action: Option<&str>,
    body: Bytes,
) -> ApiResult<Response> {
    let at = state.config.api.clock.now();
    let ping = Ping::parse(action).ok_or_else(unknown_action)?;
    let well_formed = match &key {
        Key::Token(t) => is_token(t),
        Key::Slug { ping_key, slug } => ping_key.len() == 22 && is_slug(slug),
    };
    let heartbeat = if well_formed { lookup(state, &key).await? } else { None };
    let Some(heartbeat) = heartbeat else {
        // Guessing tokens costs a lookup each: a client that misses often is slowed down.
        if let Err(wait) = state.edge.ping_miss_limiter.check(&client.key()) {
            return Err(ApiError::rate_limited(wait.as_secs()));
        }
        return Err(unknown_heartbeat());
    };
    if let Err(wait) = state.edge.ping_limiter.check(&heartbeat.target_id.to_string()) {
        metrics::counter!("pingtower_heartbeat_pings_refused_total").increment(1);
        return Err(ApiError::rate_limited(wait.as_secs()));
    }
    let method = match *method {
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        _ => "GET",
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
    let incoming = Incoming {
        heartbeat: heartbeat.clone(),
        ping,
        at,
        method,
        client_ip: client.0.to_string(),
        user_agent,
        body: kept_body(&body),
    };
    let result = match state.recorder.record(incoming).await {
        Ok(r) => r,
        Err(RecordError::Gone) => return Err(unknown_heartbeat()),
        Err(error) => {
            metrics::counter!("pingtower_heartbeat_pings_failed_total").increment(1);
            return Err(ApiError::unavailable(error.to_string()));
        }
    };
    if let Some(result) = result {
        let id: Uuid = result.result_id;
        if let Err(error) = state
            .publisher
            .publish(&Envelope::new(result).with_message_id(id))
            .await
        {
            metrics::counter!("pingtower_heartbeat_pings_failed_total").increment(1);
            tracing::warn!(%error, target_id = %heartbeat.target_id, "a heartbeat ping's result was not published");
            return Err(ApiError::unavailable(
                "the ping was stored but the broker did not take its result; retry",
            ));
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
}
