//! Targets: CRUD with validation and owner scoping, the filtered list, import/export
//! (config as code) and "Test now".

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use common::messages::{CheckJob, CheckJobs, CheckResult, CheckSpec, Envelope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Action;
use crate::dependencies;
use crate::error::owned_delete;
use crate::error::{ApiError, ApiResult, Json, Path, Query};
use crate::http::auth::Caller;
use crate::http::pagination::{decode_cursor, encode_cursor, page_limit, page_of};
use crate::quotas::{self, UserLimits};
use crate::secrets::{self, Secrets};
use crate::state::AppState;
use crate::targets::{self, TargetInput, TargetsDocument, ValidTarget, parse_input, validate_input};

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

/// A target's current state, as the incident engine keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetStateView {
    /// `unknown|up|pending|degraded|down|flapping|paused`.
    #[schema(value_type = common::messages::TargetStatus)]
    pub status: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Last result time.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Last total latency.
    pub last_latency_ms: Option<i32>,
    /// Last failure (`{kind, phase, message}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<common::messages::Failure>)]
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
    #[schema(value_type = common::messages::CheckKind)]
    pub kind: String,
    /// The check spec JSON, its secrets masked (a masked header or auth also says `"secret": true`).
    #[schema(value_type = common::messages::CheckSpec)]
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
    /// A heartbeat's ping URL (`{PINGTOWER_PUBLIC_URL}/ping/{token}`); append `/start`,
    /// `/fail`, `/log` or `/{exit_status}` for the other pings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ping_url: Option<String>,
    /// A heartbeat's schedule state and slug URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub heartbeat: Option<crate::heartbeats::store::HeartbeatView>,
    /// Ids of the targets this one depends on (its own; those of its tags are in
    /// `/api/tag-dependencies`).
    #[serde(default)]
    pub depends_on: Vec<Uuid>,
    /// Latency baseline settings, and whether they judge now.
    #[serde(default)]
    #[schema(required = true)]
    pub baseline: crate::baselines::BaselineView,
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
            ping_url: None,
            heartbeat: None,
            depends_on: Vec::new(),
            baseline: Default::default(),
        }
    }
}

/// Fills the dependencies of `targets`.
async fn attach_dependencies(state: &AppState, targets: &mut [Target]) -> ApiResult<()> {
    let ids: Vec<Uuid> = targets.iter().map(|t| t.id).collect();
    let mut deps = dependencies::of_targets(&state.pool, &ids).await?;
    for t in targets {
        t.depends_on = deps.remove(&t.id).unwrap_or_default();
    }
    Ok(())
}

/// Fills the ping URL and heartbeat state of the heartbeats among `targets`, and every
/// target's dependencies.
async fn attach_heartbeats(state: &AppState, targets: &mut [Target]) -> ApiResult<()> {
    attach_dependencies(state, targets).await?;
    let ids: Vec<Uuid> = targets.iter().filter(|t| t.kind == "heartbeat").map(|t| t.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut views = crate::heartbeats::store::views(&state.pool, &state.config.api.public_url, &ids).await?;
    for t in targets {
        if let Some(urls) = views.remove(&t.id) {
            t.ping_url = Some(urls.ping_url);
            t.heartbeat = Some(urls.view);
        }
    }
    Ok(())
}

pub(crate) async fn load_target(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<Target> {
    // The select list of `LIST_SELECT` below, checked at build time.
    let row: TargetRow = sqlx::query_as!(
        TargetRow,
        r#"select t.id, t.name, t.kind, t.spec, t.interval_seconds, t.regions, t.tags, t.failure_threshold,
                  t.success_threshold, t.paused, t.created_at, t.updated_at,
                  (case when t.paused then 'paused' else coalesce(ts.status, 'unknown') end) as "status!",
                  coalesce(ts.since, t.created_at) as "since!",
                  ts.last_checked_at as "last_checked_at?", ts.last_latency_ms as "last_latency_ms?",
                  ts.last_failure as "last_failure?"
           from targets t left join target_state ts on ts.target_id = t.id
           where t.id = $1 and t.owner_id = $2"#,
        id,
        owner,
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let mut target = [Target::from(row)];
    attach_heartbeats(state, &mut target).await?;
    crate::http::baselines::attach(state, &mut target).await?;
    let [target] = target;
    Ok(target)
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

/// `$sql` with `$1` the id, `$2` the owner and `$3`…`$12` the columns of the target `$t` sealed
/// as `$sealed`: one bind list for the insert and the update, each checked at build time.
macro_rules! target_query {
    ($sql:literal, $id:expr, $owner:expr, $t:expr, $sealed:expr) => {
        sqlx::query!(
            $sql,
            $id,
            $owner,
            &$t.name,
            $t.spec.kind().as_str(),
            sqlx::types::Json(&$sealed.spec) as _,
            $t.interval_seconds as i32,
            &$t.regions,
            &$t.tags,
            $t.failure_threshold as i32,
            $t.success_threshold as i32,
            $t.paused,
            $sealed.secrets.as_deref()
        )
    };
}

async fn insert_target(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    prefix: &str,
    t: &ValidTarget,
    sealed: &Sealed,
) -> ApiResult<Uuid> {
    let id = Uuid::now_v7();
    target_query!(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, tags, \
         failure_threshold, success_threshold, paused, secrets) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        id,
        owner,
        t,
        sealed
    )
    .execute(&mut *conn)
    .await?;
    crate::heartbeats::store::sync(conn, owner, id, &t.spec, t.paused, &format!("{prefix}spec.slug")).await?;
    if let Some(b) = &t.baseline {
        crate::baselines::store::save_settings(conn, id, b).await?;
    }
    Ok(id)
}

async fn update_row(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    id: Uuid,
    prefix: &str,
    t: &ValidTarget,
    sealed: &Sealed,
) -> ApiResult<bool> {
    let done = target_query!(
        "update targets set name = $3, kind = $4, spec = $5, interval_seconds = $6, regions = $7, tags = $8, \
         failure_threshold = $9, success_threshold = $10, paused = $11, secrets = $12, updated_at = now() \
         where id = $1 and owner_id = $2",
        id,
        owner,
        t,
        sealed
    )
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    crate::heartbeats::store::sync(conn, owner, id, &t.spec, t.paused, &format!("{prefix}spec.slug")).await?;
    if let Some(b) = &t.baseline {
        crate::baselines::store::save_settings(conn, id, b).await?;
    }
    Ok(true)
}

#[utoipa::path(post, path = "/api/targets", tag = "targets", request_body = TargetInput,
    responses((status = 201, body = Target),
        (status = 413, description = "a byte size over its quota; `field` names it"),
        (status = 422, description = "a field is invalid or over its quota, or a dependency is not yours \
         (`depends_on[i]`); `field` names it")))]
async fn create_target(
    Caller { state, user }: Caller,
    body: Result<Json<Value>, ApiError>,
) -> ApiResult<(StatusCode, Json<Target>)> {
    let org = user.may(Action::Edit)?;
    let Json(body) = body?;
    let limits = quotas::load(&state, org).await?;
    let mut input = parse_input(body)?;
    let deps = input.take_dependencies();
    let valid = validate_input(&state, "", input, &limits, None).await?;
    let sealed = seal(&state, "", &valid)?;
    let mut tx = state.pool.begin().await?;
    quotas::reserve(&mut tx, &state, org, quotas::Counted::Targets, 1).await?;
    let id = insert_target(&mut tx, org, "", &valid, &sealed).await?;
    // Nothing depends on a new target yet: it closes no cycle.
    if let Some((ids, names)) = deps {
        let deps = dependencies::resolve(&mut tx, org, "", &ids, &names, &HashMap::new(), None).await?;
        dependencies::set_target(&mut tx, id, &deps).await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_target(&state, org, id).await?)))
}

/// A stored target's spec and sealed secrets.
struct StoredRow {
    name: String,
    spec: Value,
    secrets: Option<Vec<u8>>,
    regions: Vec<String>,
}

/// The spec and opened secrets of a stored target of `owner`.
async fn stored_secrets(
    state: &AppState,
    owner: Uuid,
    id: Uuid,
) -> ApiResult<Option<(CheckSpec, Secrets, Vec<String>)>> {
    let row = sqlx::query_as!(
        StoredRow,
        "select name, spec, secrets, regions from targets where id = $1 and owner_id = $2",
        id,
        owner,
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(StoredRow {
        spec,
        secrets: sealed,
        regions,
        ..
    }) = row
    else {
        return Ok(None);
    };
    let spec: CheckSpec = serde_json::from_value(spec).map_err(ApiError::internal)?;
    let secrets = secrets::stored(state.secret_key.as_ref(), &spec, sealed.as_deref()).map_err(ApiError::internal)?;
    Ok(Some((spec, secrets, regions)))
}

#[utoipa::path(get, path = "/api/targets/{id}", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 200, body = Target), (status = 404)))]
async fn get_target(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Target>> {
    let org = user.may(Action::Read)?;
    Ok(Json(load_target(&state, org, id).await?))
}

#[utoipa::path(put, path = "/api/targets/{id}", tag = "targets", params(("id" = Uuid, Path)), request_body = TargetInput,
    responses((status = 200, body = Target), (status = 404), (status = 413),
        (status = 422, description = "a field is invalid or over its quota, or a dependency is not yours or closes a \
         cycle (named in the message: `A → B → A`); `field` names it")))]
async fn update_target(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<Value>, ApiError>,
) -> ApiResult<Json<Target>> {
    let org = user.may(Action::Edit)?;
    let Json(body) = body?;
    // Foreign ids are 404 before any validation detail is revealed.
    let Some((_, old, _)) = stored_secrets(&state, org, id).await? else {
        return Err(ApiError::not_found());
    };
    let limits = quotas::load(&state, org).await?;
    let mut input = parse_input(body)?;
    let deps = input.take_dependencies();
    let valid = validate_input(&state, "", input, &limits, Some(&old)).await?;
    let sealed = seal(&state, "", &valid)?;
    let mut tx = state.pool.begin().await?;
    dependencies::lock(&mut tx, org).await?;
    if !update_row(&mut tx, org, id, "", &valid, &sealed).await? {
        return Err(ApiError::not_found());
    }
    // A cycle is told on what changed: the dependencies, or else the tags.
    let field = match deps {
        Some((ids, names)) => {
            let field = if ids.is_empty() && !names.is_empty() {
                "depends_on_names"
            } else {
                "depends_on"
            };
            let deps =
                dependencies::resolve(&mut tx, org, "", &ids, &names, &HashMap::new(), Some((id, &valid.name))).await?;
            dependencies::set_target(&mut tx, id, &deps).await?;
            field
        }
        None => "tags",
    };
    dependencies::check_acyclic(&mut tx, org, &[id], |_| field.to_owned()).await?;
    tx.commit().await?;
    Ok(Json(load_target(&state, org, id).await?))
}

owned_delete!(
    crate::access::Action::Edit,
    #[utoipa::path(delete, path = "/api/targets/{id}", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
    delete_target,
    "delete from targets where id = $1 and owner_id = $2"
);

/// Query of the target list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only targets in this status.
    #[param(pattern = "^(unknown|up|pending|degraded|down|flapping|paused)$")]
    pub status: Option<String>,
    /// Only targets with this tag.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub tag: Option<String>,
    /// Text in the name or address.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub q: Option<String>,
    /// `name` (default), `status` (worst first) or `changed` (last state change).
    #[param(pattern = "^(name|status|changed)$")]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// Page size (default 50, max 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Opaque cursor from `next_cursor`.
    pub cursor: Option<String>,
}

page_of!(
    /// A page of targets.
    TargetList,
    Target
);

/// The list's select list, the same as [`load_target`]'s. The list is built with a
/// [`sqlx::QueryBuilder`] because its sort is chosen at run time (from [`Sort`] and [`Order`],
/// never from the request's text); its values are bound.
const LIST_SELECT: &str = "select t.id, t.name, t.kind, t.spec, t.interval_seconds, t.regions, t.tags, \
     t.failure_threshold, t.success_threshold, t.paused, t.created_at, t.updated_at, \
     (case when t.paused then 'paused' else coalesce(ts.status, 'unknown') end) as status, \
     coalesce(ts.since, t.created_at) as since, ts.last_checked_at, ts.last_latency_ms, ts.last_failure \
     from targets t left join target_state ts on ts.target_id = t.id ";

/// The list's sort keys.
#[derive(Clone, Copy)]
enum Sort {
    Name,
    Status,
    Changed,
}

/// The list's sort direction.
#[derive(Clone, Copy)]
enum Order {
    Asc,
    Desc,
}

impl Order {
    fn sql(self) -> &'static str {
        match self {
            Order::Asc => " asc",
            Order::Desc => " desc",
        }
    }
}

/// Pushes the list's filter (`where ...`), every value bound.
fn push_filter(
    b: &mut sqlx::QueryBuilder<sqlx::Postgres>,
    owner: Uuid,
    status: Option<&str>,
    tag: Option<&str>,
    pattern: Option<&str>,
) {
    b.push("where t.owner_id = ").push_bind(owner);
    if let Some(status) = status {
        b.push(" and (case when t.paused then 'paused' else coalesce(ts.status, 'unknown') end) = ")
            .push_bind(status);
    }
    if let Some(tag) = tag {
        b.push(" and ").push_bind(tag).push(" = any(t.tags)");
    }
    if let Some(pattern) = pattern {
        b.push(" and (t.name ilike ")
            .push_bind(pattern)
            .push(" or coalesce(t.spec->>'url', t.spec->>'host', t.spec->>'name', '') ilike ")
            .push_bind(pattern)
            .push(")");
    }
}

/// Pushes the list's `order by` for `sort` and `order` (fixed SQL text only).
fn push_order(b: &mut sqlx::QueryBuilder<sqlx::Postgres>, sort: Sort, order: Order) {
    let dir = order.sql();
    b.push(" order by ");
    match sort {
        Sort::Name => b.push("lower(t.name)").push(dir).push(", t.id").push(dir),
        Sort::Status => b
            .push(
                "(case (case when t.paused then 'paused' else coalesce(ts.status, 'unknown') end) \
                 when 'down' then 0 when 'flapping' then 1 when 'degraded' then 2 \
                 when 'pending' then 3 when 'unknown' then 4 when 'up' then 5 else 6 end)",
            )
            .push(dir)
            .push(", lower(t.name), t.id"),
        Sort::Changed => b
            .push("coalesce(ts.since, t.created_at)")
            .push(dir)
            .push(", t.id")
            .push(dir),
    };
}

fn like_pattern(q: &str) -> String {
    let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[utoipa::path(get, path = "/api/targets", tag = "targets", params(ListQuery),
    responses((status = 200, body = TargetList)))]
async fn list_targets(Caller { state, user }: Caller, Query(q): Query<ListQuery>) -> ApiResult<Json<TargetList>> {
    let org = user.may(Action::Read)?;
    let limit = page_limit(q.limit)?;
    let offset = decode_cursor(q.cursor.as_deref())?;
    for (field, value) in [("q", &q.q), ("tag", &q.tag)] {
        if let Some(v) = value
            && (v.chars().count() > 200 || v.chars().any(char::is_control))
        {
            return Err(ApiError::validation(
                field,
                format!("{field} has at most 200 characters and no control characters"),
            ));
        }
    }
    if let Some(s) = q.status.as_deref()
        && !["unknown", "up", "pending", "degraded", "down", "flapping", "paused"].contains(&s)
    {
        return Err(ApiError::validation("status", format!("unknown status {s:?}")));
    }
    let order = match q.order.as_deref() {
        None | Some("asc") => Order::Asc,
        Some("desc") => Order::Desc,
        Some(_) => return Err(ApiError::validation("order", "order must be asc or desc")),
    };
    let sort = match q.sort.as_deref() {
        None | Some("name") => Sort::Name,
        Some("status") => Sort::Status,
        Some("changed") => Sort::Changed,
        Some(_) => return Err(ApiError::validation("sort", "sort must be name, status or changed")),
    };
    let pattern =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
    let (status, tag) = (q.status.as_deref(), q.tag.as_deref());
    let mut page = sqlx::QueryBuilder::new(LIST_SELECT);
    push_filter(&mut page, org, status, tag, pattern.as_deref());
    push_order(&mut page, sort, order);
    page.push(" limit ").push_bind(limit).push(" offset ").push_bind(offset);
    let rows: Vec<TargetRow> = page.build_query_as().fetch_all(&state.pool).await?;
    let mut count =
        sqlx::QueryBuilder::new("select count(*) from targets t left join target_state ts on ts.target_id = t.id ");
    push_filter(&mut count, org, status, tag, pattern.as_deref());
    let total: i64 = count.build_query_scalar().fetch_one(&state.pool).await?;
    let next = offset + rows.len() as i64;
    let mut items: Vec<Target> = rows.into_iter().map(Target::from).collect();
    attach_heartbeats(&state, &mut items).await?;
    crate::http::baselines::attach(&state, &mut items).await?;
    Ok(Json(TargetList {
        next_cursor: (next < total && !items.is_empty()).then(|| encode_cursor(next)),
        total,
        items,
    }))
}

// ---------------------------------------------------------------------------------------------
// Import / export
// ---------------------------------------------------------------------------------------------

// Kept beside `TargetRow`: `query_as!` maps one select list to one struct, and the export reads fewer columns.
/// One exported target: name, spec, interval, regions, tags, thresholds, paused.
struct ExportRow {
    id: Uuid,
    name: String,
    spec: Value,
    interval_seconds: i32,
    regions: Vec<String>,
    tags: Vec<String>,
    failure_threshold: i32,
    success_threshold: i32,
    paused: bool,
}

/// Export query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `yaml`.
    #[param(pattern = "^(json|yaml)$")]
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
    responses((status = 200, description = "JSON, or YAML with ?format=yaml",
        content((TargetsDocument = "application/json"), (TargetsDocument = "application/yaml")))))]
async fn export_targets(Caller { state, user }: Caller, Query(q): Query<ExportQuery>) -> ApiResult<Response> {
    let org = user.may(Action::Read)?;
    let rows: Vec<ExportRow> = sqlx::query_as!(
        ExportRow,
        "select id, name, spec, interval_seconds, regions, tags, failure_threshold, success_threshold, paused \
         from targets where owner_id = $1 order by lower(name), id",
        org,
    )
    .fetch_all(&state.pool)
    .await?;
    let mut depends_on = dependencies::names_of(&state.pool, org).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let baselines = crate::baselines::store::load_many(&state.pool, &ids).await?;
    let doc = TargetsDocument {
        version: 1,
        targets: rows
            .into_iter()
            .map(|r| TargetInput {
                name: r.name,
                kind: None,
                spec: {
                    let mut spec = r.spec;
                    secrets::mask_json(&mut spec);
                    spec
                },
                interval_seconds: Some(r.interval_seconds as u32),
                timeout_seconds: None,
                regions: Some(r.regions),
                tags: r.tags,
                failure_threshold: Some(r.failure_threshold as u32),
                success_threshold: Some(r.success_threshold as u32),
                paused: r.paused,
                depends_on: None,
                depends_on_names: Some(depends_on.remove(&r.id).unwrap_or_default()),
                baseline: baselines.get(&r.id).and_then(|b| b.settings.as_input()),
            })
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
            let text = targets::to_yaml(&doc)?;
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
        (status = 422, description = "a field is invalid, a mask matches no stored secret, a dependency names no \
         target or closes a cycle, or the target quota would be exceeded (nothing is created)")))]
async fn import_targets(
    Caller { state, user }: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportOutcome>> {
    let org = user.may(Action::Edit)?;
    let doc = targets::parse_document(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), &body)?;
    let limits = quotas::load(&state, org).await?;
    // The stored secrets of same-named targets: a mask in the document takes its value from them.
    let stored: Vec<StoredRow> = sqlx::query_as!(
        StoredRow,
        "select name, spec, secrets, regions from targets where owner_id = $1",
        org,
    )
    .fetch_all(&state.pool)
    .await?;
    let mut valid = Vec::with_capacity(doc.targets.len());
    let mut sealed = Vec::with_capacity(doc.targets.len());
    let mut deps = Vec::with_capacity(doc.targets.len());
    for (i, mut t) in doc.targets.into_iter().enumerate() {
        let prefix = format!("targets[{i}].");
        deps.push(t.take_dependencies());
        let old = match stored.iter().find(|r| r.name == t.name.trim()) {
            Some(r) => {
                let spec: CheckSpec = serde_json::from_value(r.spec.clone()).map_err(ApiError::internal)?;
                Some(
                    secrets::stored(state.secret_key.as_ref(), &spec, r.secrets.as_deref())
                        .map_err(ApiError::internal)?,
                )
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
    quotas::reserve(&mut tx, &state, org, quotas::Counted::Targets, 0).await?;
    let existing: Vec<(String, Uuid)> = sqlx::query!(
        "select name, id from targets where owner_id = $1 order by created_at",
        org
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.name, r.id))
    .collect();
    let new = valid
        .iter()
        .filter(|t| !existing.iter().any(|(n, _)| *n == t.name))
        .count() as i64;
    // Before any write: an import over the quota creates nothing.
    quotas::reserve(&mut tx, &state, org, quotas::Counted::Targets, new).await?;
    let mut outcome = ImportOutcome { created: 0, updated: 0 };
    // The document's targets by name, and in its order.
    let mut named: HashMap<String, Uuid> = HashMap::new();
    let mut ids = Vec::with_capacity(valid.len());
    for (i, (t, s)) in valid.iter().zip(&sealed).enumerate() {
        let prefix = format!("targets[{i}].");
        let id = match existing.iter().find(|(n, _)| *n == t.name) {
            Some((_, id)) => {
                update_row(&mut tx, org, *id, &prefix, t, s).await?;
                outcome.updated += 1;
                *id
            }
            None => {
                outcome.created += 1;
                insert_target(&mut tx, org, &prefix, t, s).await?
            }
        };
        named.insert(t.name.clone(), id);
        ids.push(id);
    }
    // Dependencies once every target exists (they may name each other); an entry without any
    // keeps a stored target's. A cycle is told on the first entry of it, on what that entry
    // changed: its dependencies by name or id, else its tags.
    let mut fields = Vec::with_capacity(ids.len());
    for (i, d) in deps.into_iter().enumerate() {
        let prefix = format!("targets[{i}].");
        let Some((dep_ids, names)) = d else {
            fields.push(format!("{prefix}tags"));
            continue;
        };
        let field = if names.is_empty() {
            "depends_on"
        } else {
            "depends_on_names"
        };
        fields.push(format!("{prefix}{field}"));
        let this = Some((ids[i], valid[i].name.as_str()));
        let resolved = dependencies::resolve(&mut tx, org, &prefix, &dep_ids, &names, &named, this).await?;
        dependencies::set_target(&mut tx, ids[i], &resolved).await?;
    }
    dependencies::check_acyclic(&mut tx, org, &ids, |at| match ids.iter().position(|id| *id == at) {
        Some(i) => fields[i].clone(),
        None => "targets".to_owned(),
    })
    .await?;
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
    if matches!(spec, CheckSpec::Heartbeat(_)) {
        return Err(ApiError::validation(
            "spec.kind",
            "a heartbeat is not checked by PingTower: your job pings its URL",
        ));
    }
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
    let envelope = Envelope::new(CheckJobs::one(job));
    match bus::request::<CheckJobs, CheckResult>(&state.publisher, &envelope, wait).await {
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
    responses((status = 200, body = crate::http::history::CheckResultJson, description = "the result of the check, a `CheckResult`"), (status = 413), (status = 422),
        (status = 429, description = "over the \"Test now\" quota per minute; see Retry-After"),
        (status = 503), (status = 504)))]
async fn test_spec(Caller { state, user }: Caller, body: Result<Json<Value>, ApiError>) -> ApiResult<Response> {
    let org = user.may(Action::Edit)?;
    let Json(body) = body?;
    let limits = quotas::load(&state, org).await?;
    test_now_permit(&state, org, &limits)?;
    let valid = validate_input(&state, "", parse_input(body)?, &limits, None).await?;
    let region = valid.regions.first().cloned().unwrap_or_else(|| "default".into());
    let result = test_now(&state, org, &limits, Uuid::nil(), &region, valid.spec).await?;
    Ok(Json(result).into_response())
}

#[utoipa::path(post, path = "/api/targets/{id}/test", tag = "targets", params(("id" = Uuid, Path)),
    responses((status = 200, body = crate::http::history::CheckResultJson, description = "the result of the check, a `CheckResult`"), (status = 404),
        (status = 422, description = "the target is a heartbeat (it is pinged, not checked); `field` is `spec.kind`"),
        (status = 429, description = "over the \"Test now\" quota per minute; see Retry-After"),
        (status = 503), (status = 504)))]
async fn test_target(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Response> {
    let org = user.may(Action::Edit)?;
    let limits = quotas::load(&state, org).await?;
    test_now_permit(&state, org, &limits)?;
    let (mut spec, secrets, regions) = stored_secrets(&state, org, id).await?.ok_or_else(ApiError::not_found)?;
    // The job is the only place the secrets travel decrypted.
    secrets::fill(&mut spec, &secrets);
    let region = regions.first().cloned().unwrap_or_else(|| "default".into());
    let result = test_now(&state, org, &limits, id, &region, spec).await?;
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
