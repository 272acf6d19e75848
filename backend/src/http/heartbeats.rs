//! A heartbeat target's pings and ping token: `GET /api/targets/{id}/pings` (the last pings,
//! with their bodies) and `POST /api/targets/{id}/ping-token` (a new token; the old URL stops
//! working). The ping endpoint itself is [`crate::http::pings`].

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::heartbeats::KEEP_PINGS;
use crate::http::auth::Caller;
use crate::state::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/targets/{id}/pings", get(list_pings))
        .route("/api/targets/{id}/ping-token", post(rotate_token))
}

/// One ping of a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PingView {
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// `success`, `start`, `fail`, `exit_status` or `log`.
    #[schema(value_type = common::messages::HeartbeatEvent)]
    pub event: String,
    /// The exit status reported (`/ping/{token}/{status}`).
    pub exit_status: Option<i16>,
    /// `GET`, `HEAD` or `POST`.
    pub method: String,
    /// The client's address.
    pub client_ip: String,
    /// The client's `User-Agent` (at most 200 characters).
    pub user_agent: Option<String>,
    /// The body of a POST (its first 10 KiB).
    pub body: Option<String>,
    /// The run's duration, for a finish after a start.
    pub duration_ms: Option<i64>,
    /// The result the ping became (none for `start` and `log`, and while paused).
    pub result_id: Option<Uuid>,
}

/// The last pings of a heartbeat, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PingList {
    /// The pings.
    pub items: Vec<PingView>,
}

/// Query of the ping list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PingsQuery {
    /// How many (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// Whether `id` is a heartbeat of `owner`.
async fn owned_heartbeat(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<()> {
    let found = sqlx::query_scalar!(
        r#"select exists (select 1 from heartbeats where target_id = $1 and owner_id = $2) as "found!""#,
        id,
        owner
    )
    .fetch_one(&state.pool)
    .await?;
    if found { Ok(()) } else { Err(ApiError::not_found()) }
}

#[utoipa::path(get, path = "/api/targets/{id}/pings", tag = "targets", params(("id" = Uuid, Path), PingsQuery),
    responses((status = 200, body = PingList), (status = 404, description = "no heartbeat of yours has this id")))]
async fn list_pings(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<PingsQuery>,
) -> ApiResult<Json<PingList>> {
    let org = user.may(Action::Read)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=KEEP_PINGS).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {KEEP_PINGS}"),
        ));
    }
    owned_heartbeat(&state, org, id).await?;
    let items = sqlx::query_as!(
        PingView,
        "select received_at, event, exit_status, method, client_ip, user_agent, body, duration_ms, result_id
         from heartbeat_pings where target_id = $1 order by id desc limit $2",
        id,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(PingList { items }))
}

#[utoipa::path(post, path = "/api/targets/{id}/ping-token", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 200, body = crate::http::targets::Target, description = "the target with its new ping URL"),
        (status = 404, description = "no heartbeat of yours has this id")))]
async fn rotate_token(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<crate::http::targets::Target>> {
    let org = user.may(Action::Edit)?;
    if !crate::heartbeats::store::rotate_token(&state.pool, org, id).await? {
        return Err(ApiError::not_found());
    }
    Ok(Json(crate::http::targets::load_target(&state, org, id).await?))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_pings, rotate_token), components(schemas(PingView, PingList)))]
pub struct Doc;
