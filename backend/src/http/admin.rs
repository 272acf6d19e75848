//! The admin's routes: users (permission, quota overrides) and installation settings.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, patch, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::http::accounts::registration_open;
use crate::http::auth::Caller;
use crate::http::pagination::{decode_cursor, encode_cursor, page_limit, page_of};
use crate::quotas::{MAX_QUOTA_VALUE, QUOTA_KEYS, QuotaOverrides, Quotas, effective, overrides_view};
use crate::state::AppState;

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}", patch(update_user))
        .route("/api/admin/settings", put(update_settings).get(get_settings))
}

/// A user as the admin sees them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdminUser {
    /// Id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// The installation's admin.
    pub is_admin: bool,
    /// Effective permission to monitor private addresses.
    pub may_private_targets: bool,
    /// Effective quotas.
    pub quotas: Quotas,
    /// Overrides of the defaults (null: the default).
    pub quota_overrides: QuotaOverrides,
    /// Targets they own.
    pub target_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
}

page_of!(
    /// A page of users.
    AdminUserList,
    AdminUser
);

/// Page query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page size (default 50, max 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Opaque cursor from `next_cursor`.
    pub cursor: Option<String>,
}

/// Body of `PATCH /api/admin/users/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Grant or revoke the private-targets permission.
    #[serde(default)]
    pub may_private_targets: Option<bool>,
    /// Quota overrides to change: a key with an integer sets it, with null resets it; absent
    /// keys stay as they are.
    #[serde(default)]
    #[schema(value_type = Option<QuotaOverrides>)]
    pub quota_overrides: Option<BTreeMap<String, Option<u32>>>,
}

/// A user as stored, with the number of their targets.
struct UserRow {
    id: Uuid,
    email: String,
    is_admin: bool,
    may_private_targets: bool,
    quota_overrides: Value,
    target_count: i64,
    created_at: DateTime<Utc>,
}

/// The users that match `$tail` (one select list for the page and the single user, checked at
/// build time).
macro_rules! select_users {
    ($tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            UserRow,
            r#"select u.id, u.email, u.is_admin, o.may_private_targets, o.quota_overrides,
                      (select count(*) from targets t where t.owner_id = u.id) as "target_count!",
                      u.created_at
               from users u join organisations o on o.id = u.id "#
                + $tail
            $(, $arg)*
        )
    };
}

fn admin_user(state: &AppState, r: UserRow) -> AdminUser {
    AdminUser {
        id: r.id,
        email: r.email,
        is_admin: r.is_admin,
        may_private_targets: state.guard.allow_private_targets() && (r.is_admin || r.may_private_targets),
        quotas: effective(state, &r.quota_overrides),
        quota_overrides: overrides_view(&r.quota_overrides),
        target_count: r.target_count,
        created_at: r.created_at,
    }
}

#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(UserListQuery),
    responses((status = 200, body = AdminUserList), (status = 403, description = "not an admin")))]
async fn list_users(Caller { state, user }: Caller, Query(q): Query<UserListQuery>) -> ApiResult<Json<AdminUserList>> {
    user.require_admin()?;
    let limit = page_limit(q.limit)?;
    let offset = decode_cursor(q.cursor.as_deref())?;
    let rows: Vec<UserRow> = select_users!("order by u.created_at, u.id limit $1 offset $2", limit, offset)
        .fetch_all(&state.pool)
        .await?;
    let total: i64 = sqlx::query_scalar!(r#"select count(*) as "count!" from users"#)
        .fetch_one(&state.pool)
        .await?;
    let next = offset + rows.len() as i64;
    Ok(Json(AdminUserList {
        next_cursor: (next < total && !rows.is_empty()).then(|| encode_cursor(next)),
        total,
        items: rows.into_iter().map(|r| admin_user(&state, r)).collect(),
    }))
}

#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = AdminUser), (status = 403, description = "not an admin"), (status = 404),
        (status = 422, description = "an unknown quota or a value out of range; `field` names it")))]
async fn update_user(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UserPatch>,
) -> ApiResult<Json<AdminUser>> {
    user.require_admin()?;
    let mut set = serde_json::Map::new();
    let mut unset: Vec<String> = Vec::new();
    for (k, v) in body.quota_overrides.iter().flatten() {
        let field = format!("quota_overrides.{k}");
        if !QUOTA_KEYS.contains(&k.as_str()) {
            return Err(ApiError::validation(
                field,
                format!("unknown quota; known: {}", QUOTA_KEYS.join(", ")),
            ));
        }
        match v {
            Some(n) if *n > MAX_QUOTA_VALUE => {
                return Err(ApiError::validation(field, format!("at most {MAX_QUOTA_VALUE}")));
            }
            Some(0) if k == "min_interval_seconds" => {
                return Err(ApiError::validation(
                    field,
                    "the shortest interval is at least 1 second",
                ));
            }
            Some(n) => {
                set.insert(k.clone(), (*n).into());
            }
            None => unset.push(k.clone()),
        }
    }
    let mut tx = state.pool.begin().await?;
    let done = sqlx::query!(
        "update organisations set may_private_targets = coalesce($2, may_private_targets), \
         quota_overrides = (quota_overrides - $4::text[]) || $3, updated_at = now() where id = $1 and personal",
        id,
        body.may_private_targets,
        Value::Object(set),
        &unset,
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    let row: UserRow = select_users!("where u.id = $1", id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    if let Some(may) = body.may_private_targets {
        tracing::info!(admin = %user.id, user = %id, may_private_targets = may, "private-targets permission changed");
    }
    Ok(Json(admin_user(&state, row)))
}

/// Installation settings an admin can change.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settings {
    /// Whether anyone may sign up.
    pub registration_open: bool,
}

#[utoipa::path(get, path = "/api/admin/settings", tag = "admin", responses((status = 200, body = Settings), (status = 403)))]
async fn get_settings(Caller { state, user }: Caller) -> ApiResult<Json<Settings>> {
    user.require_admin()?;
    Ok(Json(Settings {
        registration_open: registration_open(&state).await?,
    }))
}

#[utoipa::path(put, path = "/api/admin/settings", tag = "admin", request_body = Settings, responses((status = 204), (status = 403)))]
async fn update_settings(Caller { state, user }: Caller, Json(body): Json<Settings>) -> ApiResult<StatusCode> {
    user.require_admin()?;
    sqlx::query!(
        "insert into app_settings (key, value) values ('registration_open', $1) \
         on conflict (key) do update set value = excluded.value, updated_at = now()",
        Value::Bool(body.registration_open),
    )
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_users, update_user, get_settings, update_settings),
    components(schemas(Quotas, QuotaOverrides, AdminUser, AdminUserList, UserPatch, Settings))
)]
pub struct Doc;
