//! Per-user quotas and the private-targets permission: defaults from configuration
//! (`PINGTOWER_QUOTA_*`), overrides per user in `users.quota_overrides`, set by an admin
//! through `/api/admin/users`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::http::auth::CurrentUser;

/// Largest value an admin may set for any quota.
pub const MAX_QUOTA_VALUE: u32 = 100_000_000;

/// Default quotas of every user (an admin can override each per user).
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaConfig {
    /// Targets per user.
    #[arg(
        long = "quota-max-targets",
        env = "PINGTOWER_QUOTA_MAX_TARGETS",
        default_value_t = 1000
    )]
    pub max_targets: u32,
    /// Longest check timeout in seconds (always also shorter than the interval).
    #[arg(
        long = "quota-max-timeout-seconds",
        env = "PINGTOWER_QUOTA_MAX_TIMEOUT_SECONDS",
        default_value_t = 60
    )]
    pub max_timeout_seconds: u32,
    /// Request headers per HTTP check.
    #[arg(
        long = "quota-max-headers",
        env = "PINGTOWER_QUOTA_MAX_HEADERS",
        default_value_t = 50
    )]
    pub max_headers: u32,
    /// Bytes of all request header names and values of a check.
    #[arg(long = "quota-max-header-bytes", env = "PINGTOWER_QUOTA_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: u32,
    /// Bytes of a check's request body.
    #[arg(long = "quota-max-body-bytes", env = "PINGTOWER_QUOTA_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: u32,
    /// Assertions per HTTP check.
    #[arg(
        long = "quota-max-assertions",
        env = "PINGTOWER_QUOTA_MAX_ASSERTIONS",
        default_value_t = 20
    )]
    pub max_assertions: u32,
    /// Bytes of a whole target spec as JSON.
    #[arg(long = "quota-max-spec-bytes", env = "PINGTOWER_QUOTA_MAX_SPEC_BYTES", default_value_t = 64 * 1024)]
    pub max_spec_bytes: u32,
    /// Maintenance windows per user.
    #[arg(
        long = "quota-max-maintenance-windows",
        env = "PINGTOWER_QUOTA_MAX_MAINTENANCE_WINDOWS",
        default_value_t = 100
    )]
    pub max_maintenance_windows: u32,
    /// Status pages per user.
    #[arg(
        long = "quota-max-status-pages",
        env = "PINGTOWER_QUOTA_MAX_STATUS_PAGES",
        default_value_t = 20
    )]
    pub max_status_pages: u32,
    /// Targets on one status page.
    #[arg(
        long = "quota-max-targets-per-page",
        env = "PINGTOWER_QUOTA_MAX_TARGETS_PER_PAGE",
        default_value_t = 100
    )]
    pub max_targets_per_page: u32,
    /// Notification channels per user.
    #[arg(
        long = "quota-max-channels",
        env = "PINGTOWER_QUOTA_MAX_CHANNELS",
        default_value_t = 20
    )]
    pub max_channels: u32,
    /// "Test now" calls per user and minute.
    #[arg(
        long = "quota-test-now-per-minute",
        env = "PINGTOWER_QUOTA_TEST_NOW_PER_MINUTE",
        default_value_t = 10
    )]
    pub test_now_per_minute: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            max_targets: 1000,
            max_timeout_seconds: 60,
            max_headers: 50,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            max_assertions: 20,
            max_spec_bytes: 64 * 1024,
            max_maintenance_windows: 100,
            max_status_pages: 20,
            max_targets_per_page: 100,
            max_channels: 20,
            test_now_per_minute: 10,
        }
    }
}

/// One user's effective quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quotas {
    /// Targets.
    pub max_targets: u32,
    /// Shortest check interval, seconds.
    pub min_interval_seconds: u32,
    /// Longest check timeout, seconds (and always shorter than the interval).
    pub max_timeout_seconds: u32,
    /// Headers per HTTP check.
    pub max_headers: u32,
    /// Bytes of a check's header names and values.
    pub max_header_bytes: u32,
    /// Bytes of a check's request body.
    pub max_body_bytes: u32,
    /// Assertions per HTTP check.
    pub max_assertions: u32,
    /// Bytes of a spec as JSON.
    pub max_spec_bytes: u32,
    /// Maintenance windows.
    pub max_maintenance_windows: u32,
    /// Status pages.
    pub max_status_pages: u32,
    /// Targets per status page.
    pub max_targets_per_page: u32,
    /// Notification channels.
    pub max_channels: u32,
    /// "Test now" calls per minute.
    pub test_now_per_minute: u32,
}

/// The quota names, as in [`Quotas`].
pub const QUOTA_KEYS: [&str; 13] = [
    "max_targets",
    "min_interval_seconds",
    "max_timeout_seconds",
    "max_headers",
    "max_header_bytes",
    "max_body_bytes",
    "max_assertions",
    "max_spec_bytes",
    "max_maintenance_windows",
    "max_status_pages",
    "max_targets_per_page",
    "max_channels",
    "test_now_per_minute",
];

/// Per-user overrides: each key of [`Quotas`], an integer or null (the default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaOverrides {
    /// Targets.
    pub max_targets: Option<u32>,
    /// Shortest check interval, seconds.
    pub min_interval_seconds: Option<u32>,
    /// Longest check timeout, seconds.
    pub max_timeout_seconds: Option<u32>,
    /// Headers per HTTP check.
    pub max_headers: Option<u32>,
    /// Bytes of a check's header names and values.
    pub max_header_bytes: Option<u32>,
    /// Bytes of a check's request body.
    pub max_body_bytes: Option<u32>,
    /// Assertions per HTTP check.
    pub max_assertions: Option<u32>,
    /// Bytes of a spec as JSON.
    pub max_spec_bytes: Option<u32>,
    /// Maintenance windows.
    pub max_maintenance_windows: Option<u32>,
    /// Status pages.
    pub max_status_pages: Option<u32>,
    /// Targets per status page.
    pub max_targets_per_page: Option<u32>,
    /// Notification channels.
    pub max_channels: Option<u32>,
    /// "Test now" calls per minute.
    pub test_now_per_minute: Option<u32>,
}

/// The installation's default quotas.
pub fn defaults(state: &AppState) -> Quotas {
    let q = &state.config.api.quotas;
    Quotas {
        max_targets: q.max_targets,
        min_interval_seconds: state.config.api.min_interval_seconds,
        max_timeout_seconds: q.max_timeout_seconds,
        max_headers: q.max_headers,
        max_header_bytes: q.max_header_bytes,
        max_body_bytes: q.max_body_bytes,
        max_assertions: q.max_assertions,
        max_spec_bytes: q.max_spec_bytes,
        max_maintenance_windows: q.max_maintenance_windows,
        max_status_pages: q.max_status_pages,
        max_targets_per_page: q.max_targets_per_page,
        max_channels: q.max_channels,
        test_now_per_minute: q.test_now_per_minute,
    }
}

/// The defaults with the stored overrides (a JSON object) laid over them.
pub fn effective(state: &AppState, overrides: &Value) -> Quotas {
    let mut base = serde_json::to_value(defaults(state)).expect("quotas serialise");
    if let (Some(b), Some(o)) = (base.as_object_mut(), overrides.as_object()) {
        for (k, v) in o {
            if b.contains_key(k) && v.as_u64().is_some() {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(base).unwrap_or_else(|_| defaults(state))
}

/// The overrides as the API shows them (unknown keys dropped).
fn overrides_view(overrides: &Value) -> QuotaOverrides {
    let mut map = serde_json::Map::new();
    if let Some(o) = overrides.as_object() {
        for k in QUOTA_KEYS {
            if let Some(v) = o.get(k).filter(|v| v.as_u64().is_some()) {
                map.insert(k.to_owned(), v.clone());
            }
        }
    }
    serde_json::from_value(Value::Object(map)).unwrap_or_default()
}

/// `GET /api/auth/me`: the user, their permission and their quotas.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    /// The user's fields.
    #[serde(flatten)]
    pub user: crate::http::accounts::User,
    /// May monitor private addresses (admins always, unless the installation allows none).
    pub may_private_targets: bool,
    /// Effective quotas.
    pub quotas: Quotas,
}

/// A user's quotas and permission, as stored.
#[derive(Debug, Clone)]
pub struct UserLimits {
    /// Effective quotas.
    pub quotas: Quotas,
    /// Effective private-targets permission (installation switch && (admin || granted)).
    pub may_private_targets: bool,
}

/// Loads `user`'s effective quotas and permission.
pub async fn load(state: &AppState, user: Uuid) -> ApiResult<UserLimits> {
    let row: Option<(bool, bool, Value)> =
        sqlx::query_as("select is_admin, may_private_targets, quota_overrides from users where id = $1")
            .bind(user)
            .fetch_optional(&state.pool)
            .await?;
    let (is_admin, may, overrides) = row.ok_or_else(ApiError::unauthorized)?;
    Ok(UserLimits {
        quotas: effective(state, &overrides),
        may_private_targets: state.guard.allow_private_targets() && (is_admin || may),
    })
}

/// Refuses when `existing + adding` would pass `limit` (422 naming `field` and the limit).
pub fn check_count(field: &str, what: &str, existing: i64, adding: i64, limit: u32) -> Result<(), ApiError> {
    // Adding nothing never fails (an owner above a lowered quota may still update).
    if adding > 0 && existing + adding > i64::from(limit) {
        return Err(ApiError::validation(
            field,
            format!("the quota of {limit} {what} would be exceeded (you have {existing})"),
        ));
    }
    Ok(())
}

/// Rows a user owns whose number a quota bounds.
#[derive(Debug, Clone, Copy)]
pub enum Counted {
    /// `targets`.
    Targets,
    /// `maintenance_windows`.
    MaintenanceWindows,
    /// `status_pages`.
    StatusPages,
    /// `notification_channels`.
    Channels,
}

impl Counted {
    fn sql(self) -> &'static str {
        match self {
            Counted::Targets => "select count(*) from targets where owner_id = $1",
            Counted::MaintenanceWindows => "select count(*) from maintenance_windows where owner_id = $1",
            Counted::StatusPages => "select count(*) from status_pages where owner_id = $1",
            Counted::Channels => "select count(*) from notification_channels where user_id = $1",
        }
    }

    /// The quota's key (the `field` of a refusal) and what it counts.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Counted::Targets => ("max_targets", "targets"),
            Counted::MaintenanceWindows => ("max_maintenance_windows", "maintenance windows"),
            Counted::StatusPages => ("max_status_pages", "status pages"),
            Counted::Channels => ("max_channels", "notification channels"),
        }
    }

    fn limit(self, q: &Quotas) -> u32 {
        match self {
            Counted::Targets => q.max_targets,
            Counted::MaintenanceWindows => q.max_maintenance_windows,
            Counted::StatusPages => q.max_status_pages,
            Counted::Channels => q.max_channels,
        }
    }
}

/// Inside the transaction that inserts them: locks `owner`'s row and refuses `adding` more
/// rows of `what` over the owner's quota (422 naming the quota and its limit). The lock holds
/// until commit, so concurrent creates count one after the other.
pub async fn reserve(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    owner: Uuid,
    what: Counted,
    adding: i64,
) -> ApiResult<()> {
    let overrides: Value = sqlx::query_scalar("select quota_overrides from users where id = $1 for update")
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let existing: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(what.sql()))
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
    let (field, noun) = what.names();
    check_count(field, noun, existing, adding, what.limit(&effective(state, &overrides)))
}

/// Refuses a status page with more targets than the owner's quota allows.
pub async fn check_page_targets(state: &AppState, owner: Uuid, count: usize) -> ApiResult<()> {
    let limit = load(state, owner).await?.quotas.max_targets_per_page;
    if count > limit as usize {
        return Err(ApiError::validation(
            "targets",
            format!("a status page may show at most {limit} targets (your quota)"),
        ));
    }
    Ok(())
}

/// Counts one event per user in a sliding minute (in-process: "Test now" calls).
#[derive(Debug, Default)]
pub struct PerMinute {
    events: Mutex<HashMap<Uuid, VecDeque<Instant>>>,
}

impl PerMinute {
    /// Records a call of `user` if fewer than `limit` happened in the last minute; otherwise
    /// the seconds until one slot frees.
    pub fn try_acquire(&self, user: Uuid, limit: u32) -> Result<(), u64> {
        const WINDOW: Duration = Duration::from_secs(60);
        let now = Instant::now();
        let mut events = self.events.lock().expect("rate map");
        // Forget idle users now and then so the map stays bounded by active users.
        if events.len() > 10_000 {
            events.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let q = events.entry(user).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            let oldest = *q.front().unwrap_or(&now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        q.push_back(now);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Admin API
// ---------------------------------------------------------------------------------------------

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}", patch(update_user))
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

/// A page of users.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdminUserList {
    /// This page.
    pub items: Vec<AdminUser>,
    /// Users in all.
    pub total: i64,
    /// Cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Page query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct UserListQuery {
    /// Page size (default 50, max 500).
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
    #[schema(value_type = Option<Object>)]
    pub quota_overrides: Option<BTreeMap<String, Option<u32>>>,
}

type UserRow = (Uuid, String, bool, bool, Value, i64, DateTime<Utc>);

const USER_SELECT: &str = "select u.id, u.email, u.is_admin, u.may_private_targets, u.quota_overrides, \
     (select count(*) from targets t where t.owner_id = u.id) as target_count, u.created_at from users u";

fn admin_user(state: &AppState, r: UserRow) -> AdminUser {
    let (id, email, is_admin, may, overrides, target_count, created_at) = r;
    AdminUser {
        id,
        email,
        is_admin,
        may_private_targets: state.guard.allow_private_targets() && (is_admin || may),
        quotas: effective(state, &overrides),
        quota_overrides: overrides_view(&overrides),
        target_count,
        created_at,
    }
}

#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(UserListQuery),
    responses((status = 200, body = AdminUserList), (status = 403, description = "not an admin")))]
async fn list_users(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<UserListQuery>,
) -> ApiResult<Json<AdminUserList>> {
    user.require_admin()?;
    let limit = crate::http::targets::page_limit(q.limit)?;
    let offset = crate::http::targets::decode_cursor(q.cursor.as_deref())?;
    let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{USER_SELECT} order by u.created_at, u.id limit $1 offset $2"
    )))
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let total: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&state.pool)
        .await?;
    let next = offset + rows.len() as i64;
    Ok(Json(AdminUserList {
        next_cursor: (next < total && !rows.is_empty()).then(|| crate::http::targets::encode_cursor(next)),
        total,
        items: rows.into_iter().map(|r| admin_user(&state, r)).collect(),
    }))
}

#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = AdminUser), (status = 403, description = "not an admin"), (status = 404),
        (status = 422, description = "an unknown quota or a value out of range; `field` names it")))]
async fn update_user(
    State(state): State<AppState>,
    user: CurrentUser,
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
    let done = sqlx::query(
        "update users set may_private_targets = coalesce($2, may_private_targets), \
         quota_overrides = (quota_overrides - $4::text[]) || $3, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(body.may_private_targets)
    .bind(sqlx::types::Json(Value::Object(set)))
    .bind(&unset)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    let row: UserRow = sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_SELECT} where u.id = $1")))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    if let Some(may) = body.may_private_targets {
        tracing::info!(admin = %user.id, user = %id, may_private_targets = may, "private-targets permission changed");
    }
    Ok(Json(admin_user(&state, row)))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_users, update_user),
    components(schemas(Me, Quotas, QuotaOverrides, AdminUser, AdminUserList, UserPatch))
)]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_settings_parse_from_the_command_line_beside_every_other_setting() {
        use clap::{CommandFactory, Parser};
        crate::Cli::command().debug_assert();
        let cli = crate::Cli::try_parse_from([
            "backend",
            "--quota-max-targets",
            "7",
            "--quota-test-now-per-minute",
            "3",
            "--allow-private-targets",
            "true",
        ])
        .unwrap();
        assert_eq!(cli.config.api.quotas.max_targets, 7);
        assert_eq!(cli.config.api.quotas.test_now_per_minute, 3);
        assert_eq!(cli.config.api.quotas.max_headers, QuotaConfig::default().max_headers);
        assert!(cli.config.guard.allow_private_targets);
    }

    #[test]
    fn a_user_gets_the_limit_per_minute_then_a_wait() {
        let limiter = PerMinute::default();
        let u = Uuid::now_v7();
        for _ in 0..3 {
            limiter.try_acquire(u, 3).unwrap();
        }
        let wait = limiter.try_acquire(u, 3).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        limiter.try_acquire(Uuid::now_v7(), 3).unwrap();
    }
}
