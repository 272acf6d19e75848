//! SVG badges of a target behind an unguessable token: the owner mints the token, anyone with
//! it reads `/badge/{token}/status.svg`, `uptime.svg` or `response.svg` (rate limited, cached).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult};
use crate::error::{Json, Path};
use crate::history::{Granularity, Seam};
use crate::http::auth::Caller;
use crate::http::history;
use crate::http::status_pages::{public_rate, public_status};
use crate::ratelimit::ClientIp;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/targets/{id}/badge-token", post(create_badge_token))
        .route("/badge/{token}/{file}", get(badge))
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A target's new badge token.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BadgeToken {
    /// The token of `/badge/{token}/{file}`: 48 hex characters, shown once.
    pub token: String,
}

#[utoipa::path(post, path = "/api/targets/{id}/badge-token", tag = "status", params(("id" = Uuid, Path, description = "the target's id")),
    responses((status = 200, body = BadgeToken, description = "the new badge token (the old one stops working)"), (status = 404, description = "no such target of yours")))]
async fn create_badge_token(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<BadgeToken>> {
    let org = user.may(Action::Edit)?;
    history::owned_target(&state, org, id).await?;
    let mut raw = [0u8; 24];
    rand::rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    sqlx::query!(
        "insert into badge_tokens (token_hash, target_id) values ($1, $2)
         on conflict (target_id) do update set token_hash = excluded.token_hash, created_at = now()",
        token_hash(&token),
        id
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(BadgeToken { token }))
}

/// Longest badge token read (ours are 48 hex characters).
const MAX_BADGE_TOKEN: usize = 128;

/// A badge: rate limited per client and cached per (token, file) for the cache TTL.
#[utoipa::path(get, path = "/badge/{token}/{file}", tag = "public", security(()),
    params(("token" = String, Path, description = "the badge token"), ("file" = String, Path, description = "`status.svg`, `uptime.svg` or `response.svg`")),
    responses((status = 200, content_type = "image/svg+xml", body = String, description = "the badge"), (status = 404, description = "unknown token or badge"),
        (status = 429, description = "too many public requests from this client; see Retry-After")))]
async fn badge(
    State(state): State<AppState>,
    client: ClientIp,
    Path((token, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    public_rate(&state, &client)?;
    if token.len() > MAX_BADGE_TOKEN || !matches!(file.as_str(), "status.svg" | "uptime.svg" | "response.svg") {
        return Err(ApiError::not_found());
    }
    let key = (token.clone(), file.clone());
    let svg = state
        .edge
        .badge_cache
        .get_or_load(key, render_badge(&state, &token, &file))
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=60"),
        ],
        svg,
    )
        .into_response())
}

/// What a badge shows of its target (state columns are null before the first check).
struct BadgeRow {
    id: Uuid,
    status: Option<String>,
    paused: bool,
    latency: Option<i32>,
}

/// The SVG of badge `file` for `token`; `None` for an unknown token or file.
async fn render_badge(state: &AppState, token: &str, file: &str) -> ApiResult<Option<String>> {
    let row = sqlx::query_as!(
        BadgeRow,
        r#"select t.id, s.status as "status?", t.paused, s.last_latency_ms as "latency?"
           from badge_tokens b join targets t on t.id = b.target_id
           left join target_state s on s.target_id = t.id where b.token_hash = $1"#,
        token_hash(token),
    )
    .fetch_optional(&state.read_pool)
    .await?;
    let Some(BadgeRow {
        id,
        status,
        paused,
        latency,
    }) = row
    else {
        return Ok(None);
    };
    let (label, value, color) = match file {
        "status.svg" => {
            let s = public_status(status.as_deref(), paused);
            let color = match s {
                "up" => "#4c1",
                "degraded" => "#dfb317",
                "down" => "#e05d44",
                _ => "#9f9f9f",
            };
            ("status", s.to_owned(), color)
        }
        "uptime.svg" => {
            let seam = Seam::load(&state.pool).await?;
            let daily = history::daily_bars(&history::store(state), &seam, &[id], 30).await?;
            let (uptime, ..) =
                history::uptime_of(daily.get(&id).into_iter().flat_map(|m| m.values()), Granularity::Day);
            match uptime {
                Some(u) => {
                    let color = if u >= 0.999 {
                        "#4c1"
                    } else if u >= 0.99 {
                        "#dfb317"
                    } else {
                        "#e05d44"
                    };
                    ("uptime 30d", format!("{:.2}%", u * 100.0), color)
                }
                None => ("uptime 30d", "n/a".to_owned(), "#9f9f9f"),
            }
        }
        "response.svg" => match latency {
            Some(ms) => ("response", format!("{ms} ms"), "#007ec6"),
            None => ("response", "n/a".to_owned(), "#9f9f9f"),
        },
        _ => return Ok(None),
    };
    Ok(Some(svg(label, &value, color)))
}

/// A flat two-part badge.
pub fn svg(label: &str, value: &str, color: &str) -> String {
    let w = |s: &str| 10 + 7 * s.chars().count();
    let (lw, vw) = (w(label), w(value));
    let total = lw + vw;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{color}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{vx}" y="14">{value}</text></g></svg>"##,
        lx = lw / 2,
        vx = lw + vw / 2,
    )
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create_badge_token, badge))]
pub struct Doc;
