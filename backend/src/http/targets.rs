//! Targets: CRUD with validation and owner scoping, the filtered list, import/export
//! (config as code) and "Test now".

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use common::messages::{CheckJob, CheckKind, CheckResult, CheckSpec, Envelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Json, Path, Query, no_content_or_not_found};
use crate::http::auth::CurrentUser;
use crate::quotas::{self, UserLimits};
use crate::secrets::{self, Secrets};
use crate::validate;

/// Default check interval.
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
/// Longest check interval.
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
/// Most targets one import may carry.
pub const MAX_IMPORT: usize = 10_000;

/// The target routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/targets", get(list_targets).post(create_target))
        .route("/api/targets/test", post(test_spec))
        .route("/api/targets/export", get(export_targets))
        .route("/api/targets/import", post(import_targets))
        .route(
            "/api/targets/{id}",
            get(get_target).put(update_target).delete(delete_target),
        )
        .route("/api/targets/{id}/test", post(test_target))
}

/// A target as written by users: the body of POST/PUT and one entry of an export.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetInput {
    /// Name shown everywhere (1–200 characters, no control characters).
    pub name: String,
    /// `http`, `tcp`, `dns` or `tls`; optional, must match `spec.kind` when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub kind: Option<CheckKind>,
    /// The check: exactly the JSON of `common::messages::CheckSpec`, tagged by `kind`.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Seconds between checks (default 60; at least the operator's minimum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    /// Seconds a check may take (< interval); overrides `spec.timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Pinger regions (default: all known regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Consecutive failures that open an incident (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Consecutive successes that resolve it (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
    /// Checks are paused.
    #[serde(default)]
    pub paused: bool,
}

/// A validated target, ready to store. Its `Debug` leaves the spec out (it holds secrets).
#[derive(Clone)]
pub struct ValidTarget {
    /// Name.
    pub name: String,
    /// The check.
    pub spec: CheckSpec,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Regions.
    pub regions: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Failures to open.
    pub failure_threshold: u32,
    /// Successes to resolve.
    pub success_threshold: u32,
    /// Paused.
    pub paused: bool,
}

impl std::fmt::Debug for ValidTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidTarget")
            .field("name", &self.name)
            .field("kind", &self.spec.kind())
            .field("interval_seconds", &self.interval_seconds)
            .finish_non_exhaustive()
    }
}

/// A target's current state, as the incident engine keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetStateView {
    /// `unknown|up|pending|degraded|down|flapping|paused`.
    pub status: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Last result time.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Last total latency.
    pub last_latency_ms: Option<i32>,
    /// Last failure (`{kind, phase, message}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Value>,
}

/// A target as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `http`, `tcp`, `dns`, `tls`.
    pub kind: String,
    /// The check spec JSON.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Seconds between checks.
    pub interval_seconds: i32,
    /// Seconds a check may take.
    pub timeout_seconds: f64,
    /// Regions.
    pub regions: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Failures to open.
    pub failure_threshold: i32,
    /// Successes to resolve.
    pub success_threshold: i32,
    /// Paused.
    pub paused: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Current state.
    pub state: TargetStateView,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: Uuid,
    name: String,
    kind: String,
    spec: Value,
    interval_seconds: i32,
    regions: Vec<String>,
    tags: Vec<String>,
    failure_threshold: i32,
    success_threshold: i32,
    paused: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status: String,
    since: DateTime<Utc>,
    last_checked_at: Option<DateTime<Utc>>,
    last_latency_ms: Option<i32>,
    last_failure: Option<Value>,
}

impl From<TargetRow> for Target {
    fn from(r: TargetRow) -> Self {
        let timeout_ms = r.spec.get("timeout_ms").and_then(Value::as_f64).unwrap_or(10_000.0);
        let mut spec = r.spec;
        secrets::mask_json(&mut spec);
        Target {
            id: r.id,
            name: r.name,
            kind: r.kind,
            spec,
            interval_seconds: r.interval_seconds,
            timeout_seconds: timeout_ms / 1000.0,
            regions: r.regions,
            tags: r.tags,
            failure_threshold: r.failure_threshold,
            success_threshold: r.success_threshold,
            paused: r.paused,
            created_at: r.created_at,
            updated_at: r.updated_at,
            state: TargetStateView {
                status: r.status,
                since: r.since,
                last_checked_at: r.last_checked_at,
                last_latency_ms: r.last_latency_ms,
                last_failure: r.last_failure,
            },
        }
    }
}

const STATUS_EXPR: &str = "(case when t.paused then 'paused' else coalesce(ts.status, 'unknown') end)";

fn select_targets(tail: &str) -> String {
    format!(
        "select t.id, t.name, t.kind, t.spec, t.interval_seconds, t.regions, t.tags, t.failure_threshold, \
         t.success_threshold, t.paused, t.created_at, t.updated_at, {STATUS_EXPR} as status, \
         coalesce(ts.since, t.created_at) as since, ts.last_checked_at, ts.last_latency_ms, ts.last_failure \
         from targets t left join target_state ts on ts.target_id = t.id {tail}"
    )
}

/// Deserialises `value` as `T`, naming the failing field as `prefix.path`.
fn from_value<T: serde::de::DeserializeOwned>(prefix: &str, value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut path = e.path().to_string();
        let message = e.into_inner().to_string();
        // A missing field is reported at its parent; name the field itself.
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            path = if path == "." {
                missing.to_owned()
            } else {
                format!("{path}.{missing}")
            };
        }
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => String::new(),
            (true, p) => p.to_owned(),
            (false, ".") => prefix.to_owned(),
            (false, p) => format!("{prefix}.{p}"),
        };
        if field.is_empty() {
            ApiError::invalid_body(message)
        } else {
            ApiError::validation(field, message)
        }
    })
}

/// Decodes a `spec` JSON, naming the failing field (`spec.url`, `spec.record_type`).
pub fn decode_spec(prefix: &str, value: Value) -> Result<CheckSpec, ApiError> {
    use common::messages::{DnsSpec, HttpSpec, TcpSpec, TlsSpec};
    let Value::Object(mut map) = value else {
        return Err(ApiError::validation(prefix, "spec must be an object with a kind"));
    };
    let kind = map.remove("kind");
    let kind_field = format!("{prefix}.kind");
    let rest = Value::Object(map);
    match kind.as_ref().and_then(Value::as_str) {
        Some("http") => Ok(CheckSpec::Http(from_value::<HttpSpec>(prefix, rest)?)),
        Some("tcp") => Ok(CheckSpec::Tcp(from_value::<TcpSpec>(prefix, rest)?)),
        Some("dns") => Ok(CheckSpec::Dns(from_value::<DnsSpec>(prefix, rest)?)),
        Some("tls") => Ok(CheckSpec::Tls(from_value::<TlsSpec>(prefix, rest)?)),
        Some(other) => Err(ApiError::validation(
            kind_field,
            format!("unknown check kind {other:?}; use http, tcp, dns or tls"),
        )),
        None => Err(ApiError::validation(
            kind_field,
            "spec.kind is required: http, tcp, dns or tls",
        )),
    }
}

/// 413 naming `field`: a byte size over its quota.
fn too_large(field: String, message: String) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        ..ApiError::validation(field, message)
    }
}

/// The per-check quotas that need the decoded spec: headers, header bytes, body, assertions.
fn spec_quotas(prefix: &str, spec: &CheckSpec, q: &quotas::Quotas) -> Result<(), ApiError> {
    let CheckSpec::Http(h) = spec else {
        return Ok(());
    };
    if h.headers.len() > q.max_headers as usize {
        return Err(ApiError::validation(
            format!("{prefix}.headers"),
            format!("at most {} headers (your quota)", q.max_headers),
        ));
    }
    let header_bytes: usize = h.headers.iter().map(|x| x.name.len() + x.value.len()).sum();
    if header_bytes > q.max_header_bytes as usize {
        return Err(too_large(
            format!("{prefix}.headers"),
            format!("the headers may take at most {} bytes (your quota)", q.max_header_bytes),
        ));
    }
    if let Some(body) = &h.body
        && body.len() > q.max_body_bytes as usize
    {
        return Err(too_large(
            format!("{prefix}.body"),
            format!("the body may take at most {} bytes (your quota)", q.max_body_bytes),
        ));
    }
    if h.assertions.len() > q.max_assertions as usize {
        return Err(ApiError::validation(
            format!("{prefix}.assertions"),
            format!("at most {} assertions (your quota)", q.max_assertions),
        ));
    }
    Ok(())
}

/// Validates a target input against the owner's quotas and permission; `prefix` is prepended
/// to field names (`targets[3].`). A secret sent as the mask takes its value from `old` (the
/// stored target's secrets), and is refused when there is none.
pub async fn validate_input(
    state: &AppState,
    prefix: &str,
    input: TargetInput,
    limits: &UserLimits,
    old: Option<&Secrets>,
) -> Result<ValidTarget, ApiError> {
    let f = |name: &str| format!("{prefix}{name}");
    let q = &limits.quotas;
    let name = validate::text(&f("name"), &input.name, 200)?;
    let spec_bytes = serde_json::to_vec(&input.spec).map(|v| v.len()).unwrap_or(usize::MAX);
    if spec_bytes > q.max_spec_bytes as usize {
        return Err(too_large(
            f("spec"),
            format!(
                "the spec may take at most {} bytes as JSON (your quota)",
                q.max_spec_bytes
            ),
        ));
    }
    let mut spec = decode_spec(&f("spec"), input.spec)?;
    if let Some(kind) = input.kind
        && kind != spec.kind()
    {
        return Err(ApiError::validation(f("kind"), "kind must match spec.kind"));
    }
    spec_quotas(&f("spec"), &spec, q)?;
    secrets::resolve(&f("spec"), &mut spec, old)?;
    let interval = input
        .interval_seconds
        .unwrap_or(DEFAULT_INTERVAL_SECONDS.max(q.min_interval_seconds));
    if interval < q.min_interval_seconds || interval > MAX_INTERVAL_SECONDS {
        return Err(ApiError::validation(
            f("interval_seconds"),
            format!(
                "the interval must be between {} and {MAX_INTERVAL_SECONDS} seconds",
                q.min_interval_seconds
            ),
        ));
    }
    if let Some(t) = input.timeout_seconds {
        if !t.is_finite() || t <= 0.0 {
            return Err(ApiError::validation(
                f("timeout_seconds"),
                "the timeout must be positive",
            ));
        }
        let ms = (t * 1000.0).round() as u32;
        match &mut spec {
            CheckSpec::Http(s) => s.timeout_ms = ms,
            CheckSpec::Tcp(s) => s.timeout_ms = ms,
            CheckSpec::Dns(s) => s.timeout_ms = ms,
            CheckSpec::Tls(s) => s.timeout_ms = ms,
        }
    }
    let timeout_field = if input.timeout_seconds.is_some() {
        f("timeout_seconds")
    } else {
        f("spec.timeout_ms")
    };
    if u64::from(spec.timeout_ms()) >= u64::from(interval) * 1000 {
        return Err(ApiError::validation(
            timeout_field,
            "the timeout must be shorter than the interval",
        ));
    }
    if u64::from(spec.timeout_ms()) > u64::from(q.max_timeout_seconds) * 1000 {
        return Err(ApiError::validation(
            timeout_field,
            format!(
                "the timeout may be at most {} seconds (your quota)",
                q.max_timeout_seconds
            ),
        ));
    }
    validate::spec(&f("spec"), &spec, &state.guard, limits.may_private_targets).await?;
    let known = crate::http::accounts::known_regions(state);
    let regions = match input.regions {
        None => known.clone(),
        Some(r) if r.is_empty() => known.clone(),
        Some(r) => {
            let mut out: Vec<String> = Vec::new();
            for (i, region) in r.iter().enumerate() {
                let region = region.trim();
                if !known.iter().any(|k| k == region) {
                    return Err(ApiError::validation(
                        format!("{prefix}regions[{i}]"),
                        format!("unknown region {region:?}; known: {}", known.join(", ")),
                    ));
                }
                if !out.iter().any(|o| o == region) {
                    out.push(region.to_owned());
                }
            }
            out
        }
    };
    if input.tags.len() > 50 {
        return Err(ApiError::validation(f("tags"), "at most 50 tags"));
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in input.tags.iter().enumerate() {
        let t = validate::text(&format!("{prefix}tags[{i}]"), t, 64)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    let threshold = |field: &str, v: Option<u32>, default: u32| -> Result<u32, ApiError> {
        let v = v.unwrap_or(default);
        if !(1..=100).contains(&v) {
            return Err(ApiError::validation(
                f(field),
                "the threshold must be between 1 and 100",
            ));
        }
        Ok(v)
    };
    Ok(ValidTarget {
        name,
        failure_threshold: threshold("failure_threshold", input.failure_threshold, 3)?,
        success_threshold: threshold("success_threshold", input.success_threshold, 2)?,
        spec,
        interval_seconds: interval,
        regions,
        tags,
        paused: input.paused,
    })
}

/// Reads a POST/PUT body into a [`TargetInput`], naming the failing field.
fn parse_input(body: Value) -> Result<TargetInput, ApiError> {
    from_value("", body)
}

async fn load_target(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<Target> {
    let row: TargetRow = sqlx::query_as(sqlx::AssertSqlSafe(select_targets(
        "where t.id = $1 and t.owner_id = $2",
    )))
    .bind(id)
    .bind(owner)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(row.into())
}

/// A target's spec as stored: secrets masked, and sealed beside it.
pub struct Sealed {
    spec: CheckSpec,
    secrets: Option<Vec<u8>>,
}

/// Seals the secrets of `t` (refused without a key, naming the field under `prefix`).
fn seal(state: &AppState, prefix: &str, t: &ValidTarget) -> Result<Sealed, ApiError> {
    let (spec, secrets) = secrets::seal_spec(state.secret_key.as_ref(), &format!("{prefix}spec"), &t.spec)?;
    Ok(Sealed { spec, secrets })
}

async fn insert_target(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    t: &ValidTarget,
    sealed: &Sealed,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, tags, \
         failure_threshold, success_threshold, paused, secrets) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(owner)
    .bind(&t.name)
    .bind(t.spec.kind().as_str())
    .bind(sqlx::types::Json(&sealed.spec))
    .bind(t.interval_seconds as i32)
    .bind(&t.regions)
    .bind(&t.tags)
    .bind(t.failure_threshold as i32)
    .bind(t.success_threshold as i32)
    .bind(t.paused)
    .bind(&sealed.secrets)
    .execute(conn)
    .await?;
    Ok(id)
}

async fn update_row(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    id: Uuid,
    t: &ValidTarget,
    sealed: &Sealed,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update targets set name = $3, kind = $4, spec = $5, interval_seconds = $6, regions = $7, tags = $8, \
         failure_threshold = $9, success_threshold = $10, paused = $11, secrets = $12, updated_at = now() \
         where id = $1 and owner_id = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(&t.name)
    .bind(t.spec.kind().as_str())
    .bind(sqlx::types::Json(&sealed.spec))
    .bind(t.interval_seconds as i32)
    .bind(&t.regions)
    .bind(&t.tags)
    .bind(t.failure_threshold as i32)
    .bind(t.success_threshold as i32)
    .bind(t.paused)
    .bind(&sealed.secrets)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[utoipa::path(post, path = "/api/targets", tag = "targets", request_body = TargetInput,
    responses((status = 201, body = Target),
        (status = 413, description = "a byte size over its quota; `field` names it"),
        (status = 422, description = "a field is invalid or over its quota; `field` names it")))]
async fn create_target(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Json<Target>)> {
    let limits = quotas::load(&state, user.id).await?;
    let valid = validate_input(&state, "", parse_input(body)?, &limits, None).await?;
    let sealed = seal(&state, "", &valid)?;
    let mut tx = state.pool.begin().await?;
    quotas::reserve(&mut tx, &state, user.id, quotas::Counted::Targets, 1).await?;
    let id = insert_target(&mut tx, user.id, &valid, &sealed).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_target(&state, user.id, id).await?)))
}

/// The spec and opened secrets of a stored target of `owner`.
async fn stored_secrets(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> ApiResult<Option<(CheckSpec, Secrets, Vec<String>)>> {
    let row: Option<(Value, Option<Vec<u8>>, Vec<String>)> =
        sqlx::query_as("select spec, secrets, regions from targets where id = $1 and owner_id = $2")
            .bind(id)
            .bind(owner)
            .fetch_optional(&state.pool)
            .await?;
    let Some((spec, sealed, regions)) = row else {
        return Ok(None);
    };
    let spec: CheckSpec = serde_json::from_value(spec).map_err(ApiError::internal)?;
    let secrets = secrets::stored(state.secret_key.as_ref(), &spec, sealed.as_deref()).map_err(ApiError::internal)?;
    Ok(Some((spec, secrets, regions)))
}

#[utoipa::path(get, path = "/api/targets/{id}", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 200, body = Target), (status = 404)))]
async fn get_target(State(state): State<AppState>, user: CurrentUser, Path(id): Path<Uuid>) -> ApiResult<Json<Target>> {
    Ok(Json(load_target(&state, user.id, id).await?))
}

#[utoipa::path(put, path = "/api/targets/{id}", tag = "targets", params(("id" = Uuid, Path)), request_body = TargetInput,
    responses((status = 200, body = Target), (status = 404), (status = 413), (status = 422)))]
async fn update_target(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    Json(body): Json<Value>,
) -> ApiResult<Json<Target>> {
    // Foreign ids are 404 before any validation detail is revealed.
    let Some((_, old, _)) = stored_secrets(&state, user.id, id).await? else {
        return Err(ApiError::not_found());
    };
    let limits = quotas::load(&state, user.id).await?;
    let valid = validate_input(&state, "", parse_input(body)?, &limits, Some(&old)).await?;
    let sealed = seal(&state, "", &valid)?;
    let mut conn = state.pool.acquire().await?;
    if !update_row(&mut conn, user.id, id, &valid, &sealed).await? {
        return Err(ApiError::not_found());
    }
    drop(conn);
    Ok(Json(load_target(&state, user.id, id).await?))
}

#[utoipa::path(delete, path = "/api/targets/{id}", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn delete_target(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    no_content_or_not_found(
        sqlx::query("delete from targets where id = $1 and owner_id = $2")
            .bind(id)
            .bind(user.id)
            .execute(&state.pool)
            .await?,
    )
}

/// Query of the target list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only targets in this status.
    pub status: Option<String>,
    /// Only targets with this tag.
    pub tag: Option<String>,
    /// Text in the name or address.
    pub q: Option<String>,
    /// `name` (default), `status` (worst first) or `changed` (last state change).
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    /// Page size (default 50, max 500).
    pub limit: Option<i64>,
    /// Opaque cursor from `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of targets.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetList {
    /// This page.
    pub items: Vec<Target>,
    /// Matching targets in all.
    pub total: i64,
    /// Cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Page size from `?limit=` (default 50, 1..=500).
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation("limit", "limit must be between 1 and 500")),
    }
}

/// Encodes an offset cursor.
pub fn encode_cursor(offset: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// Decodes an offset cursor.
pub fn decode_cursor(cursor: Option<&str>) -> Result<i64, ApiError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<i64>().ok()))
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::validation("cursor", "invalid cursor"))
}

fn like_pattern(q: &str) -> String {
    let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[utoipa::path(get, path = "/api/targets", tag = "targets", params(ListQuery),
    responses((status = 200, body = TargetList)))]
async fn list_targets(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<TargetList>> {
    let limit = page_limit(q.limit)?;
    let offset = decode_cursor(q.cursor.as_deref())?;
    if let Some(s) = q.status.as_deref()
        && !["unknown", "up", "pending", "degraded", "down", "flapping", "paused"].contains(&s)
    {
        return Err(ApiError::validation("status", format!("unknown status {s:?}")));
    }
    let desc = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(ApiError::validation("order", "order must be asc or desc")),
    };
    let dir = if desc { "desc" } else { "asc" };
    let order = match q.sort.as_deref() {
        None | Some("name") => format!("lower(t.name) {dir}, t.id {dir}"),
        Some("status") => format!(
            "(case {STATUS_EXPR} when 'down' then 0 when 'flapping' then 1 when 'degraded' then 2 \
             when 'pending' then 3 when 'unknown' then 4 when 'up' then 5 else 6 end) {dir}, lower(t.name), t.id"
        ),
        Some("changed") => format!("coalesce(ts.since, t.created_at) {dir}, t.id {dir}"),
        Some(_) => return Err(ApiError::validation("sort", "sort must be name, status or changed")),
    };
    let filter = format!(
        "where t.owner_id = $1 and ($2::text is null or {STATUS_EXPR} = $2) and ($3::text is null or $3 = any(t.tags)) \
         and ($4::text is null or t.name ilike $4 or coalesce(t.spec->>'url', t.spec->>'host', t.spec->>'name', '') ilike $4)"
    );
    let pattern =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
    let rows: Vec<TargetRow> = sqlx::query_as(sqlx::AssertSqlSafe(select_targets(&format!(
        "{filter} order by {order} limit $5 offset $6"
    ))))
    .bind(user.id)
    .bind(q.status.as_deref())
    .bind(q.tag.as_deref())
    .bind(pattern.as_deref())
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select count(*) from targets t left join target_state ts on ts.target_id = t.id {filter}"
    )))
    .bind(user.id)
    .bind(q.status.as_deref())
    .bind(q.tag.as_deref())
    .bind(pattern.as_deref())
    .fetch_one(&state.pool)
    .await?;
    let next = offset + rows.len() as i64;
    Ok(Json(TargetList {
        next_cursor: (next < total && !rows.is_empty()).then(|| encode_cursor(next)),
        total,
        items: rows.into_iter().map(Target::from).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Import / export
// ---------------------------------------------------------------------------------------------

/// The import/export document (config as code).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetsDocument {
    /// Always 1.
    pub version: u32,
    /// The targets.
    pub targets: Vec<TargetInput>,
}

/// One exported target: name, spec, interval, regions, tags, thresholds, paused.
type ExportRow = (String, Value, i32, Vec<String>, Vec<String>, i32, i32, bool);

/// Export query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `json` (default) or `yaml`.
    pub format: Option<String>,
}

/// Import outcome.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    /// Targets created.
    pub created: u32,
    /// Targets updated (matched by name).
    pub updated: u32,
}

#[utoipa::path(get, path = "/api/targets/export", tag = "targets", params(ExportQuery),
    responses((status = 200, body = TargetsDocument, description = "JSON, or YAML with ?format=yaml")))]
async fn export_targets(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let rows: Vec<ExportRow> = sqlx::query_as(
        "select name, spec, interval_seconds, regions, tags, failure_threshold, success_threshold, paused \
         from targets where owner_id = $1 order by lower(name), id",
    )
    .bind(user.id)
    .fetch_all(&state.pool)
    .await?;
    let doc = TargetsDocument {
        version: 1,
        targets: rows
            .into_iter()
            .map(
                |(name, mut spec, interval, regions, tags, ft, st, paused)| TargetInput {
                    name,
                    kind: None,
                    spec: {
                        secrets::mask_json(&mut spec);
                        spec
                    },
                    interval_seconds: Some(interval as u32),
                    timeout_seconds: None,
                    regions: Some(regions),
                    tags,
                    failure_threshold: Some(ft as u32),
                    success_threshold: Some(st as u32),
                    paused,
                },
            )
            .collect(),
    };
    match q.format.as_deref() {
        None | Some("json") => Ok((
            [(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"pingtower-targets.json\"",
            )],
            Json(doc),
        )
            .into_response()),
        Some("yaml") => {
            let text = serde_norway::to_string(&doc).map_err(ApiError::internal)?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/yaml"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"pingtower-targets.yaml\"",
                    ),
                ],
                text,
            )
                .into_response())
        }
        Some(_) => Err(ApiError::validation("format", "format must be json or yaml")),
    }
}

#[utoipa::path(post, path = "/api/targets/import", tag = "targets",
    request_body(content = TargetsDocument, content_type = "application/json"),
    responses((status = 200, body = ImportOutcome), (status = 413),
        (status = 422, description = "a field is invalid, a mask matches no stored secret, or the target quota \
         would be exceeded (nothing is created)")))]
async fn import_targets(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportOutcome>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    let value: Value = if content_type.contains("yaml") {
        serde_norway::from_slice(&body).map_err(|e| ApiError::invalid_body(format!("not valid YAML: {e}")))?
    } else if content_type.contains("json") {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_body(format!("not valid JSON: {e}")))?
    } else {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ..ApiError::invalid_body("send application/json or application/yaml")
        });
    };
    let doc: TargetsDocument = from_value("", value)?;
    if doc.version != 1 {
        return Err(ApiError::validation("version", "only version 1 documents are known"));
    }
    if doc.targets.len() > MAX_IMPORT {
        return Err(ApiError::validation(
            "targets",
            format!("at most {MAX_IMPORT} targets per import"),
        ));
    }
    let limits = quotas::load(&state, user.id).await?;
    // The stored secrets of same-named targets: a mask in the document takes its value from them.
    let stored: Vec<(String, Value, Option<Vec<u8>>)> =
        sqlx::query_as("select name, spec, secrets from targets where owner_id = $1")
            .bind(user.id)
            .fetch_all(&state.pool)
            .await?;
    let mut valid = Vec::with_capacity(doc.targets.len());
    let mut sealed = Vec::with_capacity(doc.targets.len());
    for (i, t) in doc.targets.into_iter().enumerate() {
        let prefix = format!("targets[{i}].");
        let old = match stored.iter().find(|(n, _, _)| *n == t.name.trim()) {
            Some((_, spec, s)) => {
                let spec: CheckSpec = serde_json::from_value(spec.clone()).map_err(ApiError::internal)?;
                Some(secrets::stored(state.secret_key.as_ref(), &spec, s.as_deref()).map_err(ApiError::internal)?)
            }
            None => None,
        };
        let v = validate_input(&state, &prefix, t, &limits, old.as_ref()).await?;
        sealed.push(seal(&state, &prefix, &v)?);
        if valid.iter().any(|o: &ValidTarget| o.name == v.name) {
            return Err(ApiError::validation(
                format!("{prefix}name"),
                "two targets of the document have this name",
            ));
        }
        valid.push(v);
    }
    let mut tx = state.pool.begin().await?;
    // Lock the owner first: the names read here and the count hold until commit.
    quotas::reserve(&mut tx, &state, user.id, quotas::Counted::Targets, 0).await?;
    let existing: Vec<(String, Uuid)> =
        sqlx::query_as("select name, id from targets where owner_id = $1 order by created_at")
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await?;
    let new = valid
        .iter()
        .filter(|t| !existing.iter().any(|(n, _)| *n == t.name))
        .count() as i64;
    // Before any write: an import over the quota creates nothing.
    quotas::reserve(&mut tx, &state, user.id, quotas::Counted::Targets, new).await?;
    let mut outcome = ImportOutcome { created: 0, updated: 0 };
    for (t, s) in valid.iter().zip(&sealed) {
        match existing.iter().find(|(n, _)| *n == t.name) {
            Some((_, id)) => {
                update_row(&mut tx, user.id, *id, t, s).await?;
                outcome.updated += 1;
            }
            None => {
                insert_target(&mut tx, user.id, t, s).await?;
                outcome.created += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(Json(outcome))
}

// ---------------------------------------------------------------------------------------------
// Test now
// ---------------------------------------------------------------------------------------------

/// Counts a "Test now" call of `user` against their per-minute quota (429 with `Retry-After`).
fn test_now_permit(state: &AppState, user: Uuid, limits: &UserLimits) -> ApiResult<()> {
    state
        .test_now_limiter
        .try_acquire(user, limits.quotas.test_now_per_minute)
        .map_err(ApiError::rate_limited)
}

/// Sends one job (carrying its owner and their permission) to a pinger of the target's first
/// region and waits for its result.
pub async fn test_now(
    state: &AppState,
    owner: Uuid,
    limits: &UserLimits,
    target_id: Uuid,
    region: &str,
    spec: CheckSpec,
) -> ApiResult<CheckResult> {
    let now = Utc::now();
    let wait = state.config.api.test_now_timeout;
    let job = CheckJob {
        job_id: Uuid::now_v7(),
        target_id,
        owner_id: Some(owner),
        allow_private: limits.may_private_targets,
        region: region.to_owned(),
        scheduled_for: now,
        deadline: now + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(30)),
        spec,
    };
    let envelope = Envelope::new(job);
    match bus::request::<CheckJob, CheckResult>(&state.publisher, &envelope, wait).await {
        Ok(reply) => Ok(reply.payload),
        Err(bus::RequestError::Timeout(d)) => Err(ApiError::timeout(format!(
            "no pinger of region {region} answered within {}s",
            d.as_secs()
        ))),
        Err(bus::RequestError::Publish(bus::PublishError::Unroutable { .. })) => Err(ApiError::unavailable(format!(
            "no job queue for region {region}; is broker-init run for it?"
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "test now failed");
            Err(ApiError::unavailable(format!("the message broker is unavailable: {e}")))
        }
    }
}

#[utoipa::path(post, path = "/api/targets/test", tag = "targets", request_body = TargetInput,
    responses((status = 200, description = "CheckResult JSON"), (status = 413), (status = 422),
        (status = 429, description = "over the \"Test now\" quota per minute; see Retry-After"),
        (status = 503), (status = 504)))]
async fn test_spec(State(state): State<AppState>, user: CurrentUser, Json(body): Json<Value>) -> ApiResult<Response> {
    let limits = quotas::load(&state, user.id).await?;
    test_now_permit(&state, user.id, &limits)?;
    let valid = validate_input(&state, "", parse_input(body)?, &limits, None).await?;
    let region = valid.regions.first().cloned().unwrap_or_else(|| "default".into());
    let result = test_now(&state, user.id, &limits, Uuid::nil(), &region, valid.spec).await?;
    Ok(Json(result).into_response())
}

#[utoipa::path(post, path = "/api/targets/{id}/test", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 200, description = "CheckResult JSON"), (status = 404),
        (status = 429, description = "over the \"Test now\" quota per minute; see Retry-After"),
        (status = 503), (status = 504)))]
async fn test_target(State(state): State<AppState>, user: CurrentUser, Path(id): Path<Uuid>) -> ApiResult<Response> {
    let limits = quotas::load(&state, user.id).await?;
    test_now_permit(&state, user.id, &limits)?;
    let (mut spec, secrets, regions) = stored_secrets(&state, user.id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // The job is the only place the secrets travel decrypted.
    secrets::fill(&mut spec, &secrets);
    let region = regions.first().cloned().unwrap_or_else(|| "default".into());
    let result = test_now(&state, user.id, &limits, id, &region, spec).await?;
    Ok(Json(result).into_response())
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_targets,
        create_target,
        get_target,
        update_target,
        delete_target,
        export_targets,
        import_targets,
        test_spec,
        test_target
    ),
    components(schemas(TargetInput, Target, TargetStateView, TargetList, TargetsDocument, ImportOutcome))
)]
pub struct Doc;
