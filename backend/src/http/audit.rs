//! The audit log: every write a signed-in caller makes through the API (who, in which
//! organisation, what to which resource, when, from which client address, with the changed
//! fields), recorded by one layer around every route, and read by admins.
//!
//! The layer learns who called from [`Slot`], which the caller's extractor fills
//! ([`crate::http::auth::CurrentUser`]); a request nobody signed (sign-in, pings, public pages)
//! is not recorded. Field *names* are recorded always; values only of the plain fields in
//! [`SHOWN`], never of secrets, passwords, codes or specs.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::http::auth::Caller;
use crate::ratelimit::ClientIp;
use crate::state::AppState;

/// The largest body the layer reads to name its fields (the API's own JSON limit).
const MAX_BODY: usize = 2 * 1024 * 1024;
/// Fields whose values are plain facts, recorded as sent (strings cut to 200 characters).
pub const SHOWN: &[&str] = &[
    "name",
    "title",
    "role",
    "email",
    "language",
    "require_2fa",
    "paused",
    "kind",
    "interval_seconds",
    "timeout_seconds",
    "slug",
    "scope",
    "label",
    "organisation_id",
    "user_id",
    "expires_at",
    "starts_at",
    "ends_at",
    "recurrence",
    "may_private_targets",
];

/// Who made the request, as the extractor found them.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user.
    pub user: Uuid,
    /// Their email then.
    pub email: String,
    /// The organisation they acted in.
    pub org: Uuid,
    /// The API token, when one was used.
    pub token: Option<Uuid>,
}

/// Where the caller's extractor leaves the [`Actor`] for the layer.
#[derive(Debug, Clone, Default)]
pub struct Slot(pub Arc<OnceLock<Actor>>);

/// The layer: records a write once its handler has answered.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let (mut parts, body) = request.into_parts();
    let client = ClientIp::from_request_parts(&mut parts, &state).await.ok();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::too_large("body", "the body is larger than 2 MiB").into_response(),
    };
    let fields = fields(&bytes);
    let slot = Slot::default();
    parts.extensions.insert(slot.clone());
    let response = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    let Some(actor) = slot.0.get() else {
        return response;
    };
    let route = route.unwrap_or_else(|| path.clone());
    let (resource, resource_id) = resource(&route, &path);
    let status = response.status().as_u16() as i16;
    let done = sqlx::query!(
        "insert into audit_log (org_id, user_id, actor_email, token_id, action, resource, resource_id, status, client_ip, fields) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        actor.org,
        actor.user,
        &actor.email,
        actor.token,
        format!("{method} {route}"),
        resource,
        resource_id,
        status,
        client.map(|c| c.0.to_string()),
        fields
    )
    .execute(&state.pool)
    .await;
    if let Err(e) = done {
        tracing::error!(error = %e, org = %actor.org, user = %actor.user, route, "audit record not written");
        metrics::counter!("pingtower_backend_audit_failures_total").increment(1);
    }
    response
}

/// The body's top-level fields: the values of [`SHOWN`] ones, `null` for the rest.
pub fn fields(body: &[u8]) -> Value {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Value::Object(Map::new());
    };
    let shown = map
        .into_iter()
        .take(100)
        .map(|(k, v)| {
            // PostgreSQL's jsonb holds no NUL character: it is dropped from names and values.
            let v = match v {
                Value::String(s) if SHOWN.contains(&k.as_str()) => {
                    Value::String(s.chars().filter(|c| *c != '\0').take(200).collect())
                }
                v @ (Value::Bool(_) | Value::Number(_) | Value::Null) if SHOWN.contains(&k.as_str()) => v,
                _ => Value::Null,
            };
            (k.chars().filter(|c| *c != '\0').take(100).collect::<String>(), v)
        })
        .collect();
    Value::Object(shown)
}

/// The resource a route acts on (`/api/targets/{id}/test` → `targets`) and the id in the path,
/// if the route has one.
pub fn resource(route: &str, path: &str) -> (String, Option<String>) {
    let segments: Vec<&str> = route.trim_start_matches("/api/").split('/').collect();
    let name = segments.first().copied().unwrap_or("").chars().take(100).collect();
    let actual: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    let id = segments
        .iter()
        .position(|s| s.starts_with('{'))
        .and_then(|i| actual.get(i))
        .map(|s| s.chars().take(100).collect());
    (name, id)
}

/// The audit routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/organisation/audit", get(list))
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries older than this id (the previous page's `next_cursor`).
    pub before: Option<i64>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Only this member's.
    pub user_id: Option<Uuid>,
    /// Only this resource (`targets`, `channels`, `organisation`…; at most 100 characters).
    #[param(max_length = 100)]
    pub resource: Option<String>,
    /// Only since then (RFC 3339).
    pub since: Option<DateTime<Utc>>,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Id (newest first).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (null once their account is deleted).
    pub user_id: Option<Uuid>,
    /// Their email then.
    pub actor_email: String,
    /// The API token used, if any.
    pub token_id: Option<Uuid>,
    /// Method and route: `PATCH /api/targets/{id}`.
    pub action: String,
    /// The resource: `targets`, `channels`, `organisation`…
    pub resource: String,
    /// The id in the path, if any.
    pub resource_id: Option<String>,
    /// The answer's status (a refused write is recorded too).
    pub status: i16,
    /// The client address.
    pub client_ip: Option<String>,
    /// The fields sent: plain values as sent, `null` where the value is not recorded.
    pub fields: Value,
}

/// A page of the audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEntry>,
    /// `before` of the next page; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<i64>,
}

#[utoipa::path(get, path = "/api/organisation/audit", tag = "organisations", params(AuditQuery),
    responses((status = 200, body = AuditPage, description = "the organisation's audit log, newest first"),
        (status = 403, description = "only an admin or the owner may")))]
async fn list(Caller { state, user }: Caller, Query(q): Query<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let org = user.may(Action::Manage)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit", "limit is 1 to 200"));
    }
    if q.resource.as_ref().is_some_and(|r| r.len() > 100) {
        return Err(ApiError::validation("resource", "at most 100 characters"));
    }
    let items: Vec<AuditEntry> = sqlx::query_as!(
        AuditEntry,
        "select id, at, user_id, actor_email, token_id, action, resource, resource_id, status, client_ip, fields \
         from audit_log where org_id = $1 and ($2::bigint is null or id < $2) and ($3::uuid is null or user_id = $3) \
         and ($4::text is null or resource = $4) and ($5::timestamptz is null or at >= $5) \
         order by id desc limit $6",
        org,
        q.before,
        q.user_id,
        q.resource,
        q.since,
        limit
    )
    .fetch_all(&state.pool)
    .await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage { items, next_cursor }))
}

/// Deletes entries older than `days`, a batch at a time; how many went.
pub async fn prune(pool: &sqlx::PgPool, days: u32) -> Result<u64, sqlx::Error> {
    let mut gone = 0;
    loop {
        let done = sqlx::query!(
            "delete from audit_log where id in (select id from audit_log \
             where at < now() - make_interval(days => $1) limit 10000)",
            days as i32
        )
        .execute(pool)
        .await?;
        gone += done.rows_affected();
        if done.rows_affected() < 10_000 {
            return Ok(gone);
        }
    }
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list), components(schemas(AuditEntry, AuditPage)))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_show_plain_values_and_hide_the_rest() {
        let f = fields(
            br#"{"name":"api","spec":{"url":"https://x"},"password":"hunter2","paused":true,"secrets":{"token":"s"}}"#,
        );
        assert_eq!(
            f,
            serde_json::json!({"name": "api", "spec": null, "password": null, "paused": true, "secrets": null})
        );
        assert_eq!(fields(b"not json"), serde_json::json!({}));
        assert!(!f.to_string().contains("hunter2"));
        assert_eq!(
            fields(br#"{"na\u0000me":"a\u0000b"}"#),
            serde_json::json!({"name": null})
        );
        assert_eq!(fields(br#"{"name":"a\u0000b"}"#), serde_json::json!({"name": "ab"}));
    }

    #[test]
    fn resource_and_id_come_from_the_route() {
        assert_eq!(
            resource("/api/targets/{id}/test", "/api/targets/abc/test"),
            ("targets".into(), Some("abc".into()))
        );
        assert_eq!(
            resource("/api/organisation", "/api/organisation"),
            ("organisation".into(), None)
        );
    }
}
