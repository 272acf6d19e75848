//! Status pages: owner CRUD and the public `GET /status/{slug}` (badges are
//! [`crate::http::badges`]). Public answers carry only public fields: display names, states, uptime,
//! incident times — never ids, URLs, owners or evidence.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Action;
use crate::error::owned_delete;
use crate::error::{ApiError, ApiResult};
use crate::error::{Json, Path};
use crate::history::{Granularity, Seam};
use crate::http::auth::Caller;
use crate::http::history;
use crate::http::pagination::page_of;
use crate::ratelimit::ClientIp;
use crate::state::AppState;

/// Days of bars on a status page.
const DAYS: i64 = 90;
/// Resolved incidents shown on a status page, if this recent.
const RECENT_INCIDENTS: Duration = Duration::days(14);

/// Routes of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/status-pages", get(list_pages).post(create_page))
        .route(
            "/api/status-pages/{id}",
            get(get_page).put(update_page).delete(delete_page),
        )
        .route("/status/{slug}", get(public_page))
}

/// A target on a page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PageTarget {
    /// The target.
    pub target_id: Uuid,
    /// Name shown instead of the target's.
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    /// Order on the page.
    #[serde(default)]
    pub position: i32,
    /// Group heading.
    #[schema(max_length = 200)]
    pub group: Option<String>,
}

/// A status page as the API takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PageBody {
    /// URL name: `a-z0-9-`, 3 to 64 characters.
    #[schema(min_length = 3, max_length = 64, pattern = "^[a-z0-9][a-z0-9-]*[a-z0-9]$")]
    pub slug: String,
    /// Title.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// Description.
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Targets shown.
    #[serde(default)]
    pub targets: Vec<PageTarget>,
}

fn valid_slug(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

async fn validate(state: &AppState, owner: Uuid, b: &PageBody) -> ApiResult<()> {
    if !valid_slug(&b.slug) {
        return Err(ApiError::validation(
            "slug",
            "3 to 64 of a-z, 0-9 and -, not at either end",
        ));
    }
    if b.title.trim().is_empty() || b.title.chars().count() > 200 {
        return Err(ApiError::validation("title", "a title has 1 to 200 characters"));
    }
    if b.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
        return Err(ApiError::validation(
            "description",
            "a description has at most 2000 characters",
        ));
    }
    for (i, t) in b.targets.iter().enumerate() {
        if t.display_name.as_ref().is_some_and(|d| d.chars().count() > 200) {
            return Err(ApiError::validation(
                format!("targets[{i}].display_name"),
                "a display name has at most 200 characters",
            ));
        }
        if t.group.as_ref().is_some_and(|g| g.chars().count() > 200) {
            return Err(ApiError::validation(
                format!("targets[{i}].group"),
                "a group has at most 200 characters",
            ));
        }
    }
    crate::quotas::check_page_targets(state, owner, b.targets.len()).await?;
    let ids: Vec<Uuid> = b.targets.iter().map(|t| t.target_id).collect();
    let owned: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from targets where id = any($1) and owner_id = $2"#,
        &ids,
        owner
    )
    .fetch_one(&state.pool)
    .await?;
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    if owned != distinct.len() as i64 || distinct.len() != ids.len() {
        return Err(ApiError::validation("targets", "unknown or repeated target"));
    }
    Ok(())
}

async fn save_targets(tx: &mut sqlx::PgConnection, page: Uuid, b: &PageBody) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from status_page_targets where status_page_id = $1", page)
        .execute(&mut *tx)
        .await?;
    for t in &b.targets {
        sqlx::query!(
            "insert into status_page_targets (status_page_id, target_id, position, display_name, group_name)
             values ($1, $2, $3, $4, $5)",
            page,
            t.target_id,
            t.position,
            t.display_name.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            t.group.as_deref().map(str::trim).filter(|s| !s.is_empty())
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// `$sql` with `$1` the page's id, `$2` its owner and `$3`…`$5` slug, title and description
/// of the body `$b`: one bind list for the insert and the update, each checked at build time.
macro_rules! page_query {
    ($sql:literal, $id:expr, $owner:expr, $b:expr) => {
        sqlx::query!($sql, $id, $owner, &$b.slug, $b.title.trim(), $b.description.as_deref())
    };
}

fn conflict_or(e: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &e
        && db.code().as_deref() == Some("23505")
    {
        return ApiError::conflict("that slug is taken");
    }
    e.into()
}

/// A target of a status page as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusPageTarget {
    /// The target.
    pub target_id: Uuid,
    /// Name shown instead of the target's.
    #[schema(required = true)]
    pub display_name: Option<String>,
    /// Order on the page.
    pub position: i32,
    /// Group heading.
    #[serde(rename = "group")]
    #[schema(required = true)]
    pub group_name: Option<String>,
}

/// A status page as the API shows it to its owner.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusPage {
    /// Id.
    pub id: Uuid,
    /// URL name (`/status/{slug}`).
    pub slug: String,
    /// Title.
    pub title: String,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Targets shown, in order.
    pub targets: Vec<StatusPageTarget>,
}

page_of!(
    /// The status pages, by slug (not paginated).
    StatusPageList,
    StatusPage
);

/// The public page of `GET /status/{slug}`: public fields only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicPage {
    /// Title.
    pub title: String,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// The worst state of the targets: `up`, `degraded`, `down` or `unknown`.
    pub status: &'static str,
    /// The targets, in the page's order.
    pub targets: Vec<PublicTarget>,
    /// Open incidents and those resolved in the last 14 days, newest first.
    pub incidents: Vec<PublicIncident>,
}

/// A target as the public page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicTarget {
    /// Display name.
    pub name: String,
    /// Group heading.
    #[schema(required = true)]
    pub group: Option<String>,
    /// `up`, `degraded`, `down`, `paused` or `unknown`.
    pub status: &'static str,
    /// Uptime by time over the last 90 days; null without checks.
    #[schema(required = true)]
    pub uptime_90d: Option<f64>,
    /// One bar a day, today last.
    pub days: Vec<PublicDay>,
}

/// A day's bar on the public page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicDay {
    /// The UTC date.
    pub date: chrono::NaiveDate,
    /// Uptime by time; null when nothing was checked.
    #[schema(required = true)]
    pub uptime: Option<f64>,
}

/// An incident as the public page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicIncident {
    /// The target's display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Resolved; null while open.
    #[schema(required = true)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Severity.
    pub severity: String,
}

/// A target as the public page shows it (state columns are null before the first check).
struct PublicTargetRow {
    id: Uuid,
    name: String,
    group_name: Option<String>,
    status: Option<String>,
    paused: bool,
}

/// A recent incident as the public page shows it.
struct PublicIncidentRow {
    target_id: Uuid,
    opened_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    severity: String,
}

async fn load_page(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<StatusPage> {
    let page = sqlx::query!(
        "select slug, title, description from status_pages where id = $1 and owner_id = $2",
        id,
        owner,
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let targets = sqlx::query_as!(
        StatusPageTarget,
        "select target_id, display_name, position, group_name from status_page_targets
         where status_page_id = $1 order by position, target_id",
        id,
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(StatusPage {
        id,
        slug: page.slug,
        title: page.title,
        description: page.description,
        targets,
    })
}

#[utoipa::path(get, path = "/api/status-pages", tag = "status",
    responses((status = 200, body = StatusPageList, description = "the status pages")))]
async fn list_pages(Caller { state, user }: Caller) -> ApiResult<Json<StatusPageList>> {
    let org = user.may(Action::Read)?;
    let ids: Vec<Uuid> = sqlx::query_scalar!("select id from status_pages where owner_id = $1 order by slug", org)
        .fetch_all(&state.pool)
        .await?;
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        items.push(load_page(&state, org, id).await?);
    }
    Ok(Json(StatusPageList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(get, path = "/api/status-pages/{id}", tag = "status", params(("id" = Uuid, Path, description = "the page's id")),
    responses((status = 200, body = StatusPage, description = "the page"), (status = 404, description = "no such page of yours")))]
async fn get_page(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<StatusPage>> {
    let org = user.may(Action::Read)?;
    Ok(Json(load_page(&state, org, id).await?))
}

#[utoipa::path(post, path = "/api/status-pages", tag = "status", request_body = PageBody,
    responses((status = 201, body = StatusPage, description = "the page"), (status = 409, description = "the slug is taken"),
        (status = 422, description = "a field is invalid, `max_status_pages` would be exceeded or `targets` is over the per-page quota")))]
async fn create_page(
    Caller { state, user }: Caller,
    body: Result<Json<PageBody>, ApiError>,
) -> ApiResult<(StatusCode, Json<StatusPage>)> {
    let org = user.may(Action::Edit)?;
    let Json(b) = body?;
    validate(&state, org, &b).await?;
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    crate::quotas::reserve(&mut tx, &state, org, crate::quotas::Counted::StatusPages, 1).await?;
    page_query!(
        "insert into status_pages (id, owner_id, slug, title, description) values ($1, $2, $3, $4, $5)",
        id,
        org,
        b
    )
    .execute(&mut *tx)
    .await
    .map_err(conflict_or)?;
    save_targets(&mut tx, id, &b).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_page(&state, org, id).await?)))
}

#[utoipa::path(put, path = "/api/status-pages/{id}", tag = "status", params(("id" = Uuid, Path, description = "the page's id")), request_body = PageBody,
    responses((status = 200, body = StatusPage, description = "the page"), (status = 404, description = "no such page of yours"), (status = 409, description = "the slug is taken"),
        (status = 422, description = "a field is invalid or `targets` is over the per-page quota")))]
async fn update_page(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<PageBody>, ApiError>,
) -> ApiResult<Json<StatusPage>> {
    let org = user.may(Action::Edit)?;
    load_page(&state, org, id).await?;
    let Json(b) = body?;
    validate(&state, org, &b).await?;
    let mut tx = state.pool.begin().await?;
    page_query!(
        "update status_pages set slug = $3, title = $4, description = $5, updated_at = now()
         where id = $1 and owner_id = $2",
        id,
        org,
        b
    )
    .execute(&mut *tx)
    .await
    .map_err(conflict_or)?;
    save_targets(&mut tx, id, &b).await?;
    tx.commit().await?;
    Ok(Json(load_page(&state, org, id).await?))
}

owned_delete!(
    crate::access::Action::Edit,
    #[utoipa::path(delete, path = "/api/status-pages/{id}", tag = "status", params(("id" = Uuid, Path, description = "the page's id")),
    responses((status = 204), (status = 404, description = "no such page of yours")))]
    delete_page,
    "delete from status_pages where id = $1 and owner_id = $2"
);

/// The public status of a target (`paused` targets show as such).
pub fn public_status(status: Option<&str>, paused: bool) -> &'static str {
    if paused {
        return "paused";
    }
    match status {
        Some("up") => "up",
        Some("degraded") | Some("pending") | Some("flapping") => "degraded",
        Some("down") => "down",
        _ => "unknown",
    }
}

/// 429 with `Retry-After` when `client` asked for public pages and badges too often.
pub fn public_rate(state: &AppState, client: &ClientIp) -> ApiResult<()> {
    state.edge.public_limiter.check(&client.key()).map_err(|wait| {
        metrics::counter!("pingtower_backend_public_rate_limited_total").increment(1);
        ApiError::rate_limited(wait.as_secs().max(1))
    })
}

/// The public page: rate limited per client, and one database round per slug and cache TTL
/// however many visitors ask.
#[utoipa::path(get, path = "/status/{slug}", tag = "public", params(("slug" = String, Path, description = "the page's slug")), security(()),
    responses((status = 200, body = PublicPage, description = "the public page: display names, states, uptime bars, incident times"), (status = 404, description = "no such page"),
        (status = 429, description = "too many public requests from this client; see Retry-After")))]
async fn public_page(
    State(state): State<AppState>,
    client: ClientIp,
    Path(slug): Path<String>,
) -> ApiResult<Json<PublicPage>> {
    public_rate(&state, &client)?;
    if !valid_slug(&slug) {
        return Err(ApiError::not_found());
    }
    let page = state
        .edge
        .status_cache
        .get_or_load(slug.clone(), load_public_page(&state, &slug))
        .await?;
    page.map(Json).ok_or_else(ApiError::not_found)
}

/// The public page of `slug`, with at most `PINGTOWER_STATUS_PAGE_MAX_TARGETS` targets;
/// `None` when there is no such page.
async fn load_public_page(state: &AppState, slug: &str) -> ApiResult<Option<PublicPage>> {
    let Some(page) = sqlx::query!("select id, title, description from status_pages where slug = $1", slug)
        .fetch_optional(&state.read_pool)
        .await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query_as!(
        PublicTargetRow,
        r#"select t.id, coalesce(p.display_name, t.name) as "name!", p.group_name, s.status as "status?", t.paused
           from status_page_targets p join targets t on t.id = p.target_id
           left join target_state s on s.target_id = t.id
           where p.status_page_id = $1 order by p.position, t.name, t.id limit $2"#,
        page.id,
        i64::from(state.config.edge.status_page_max_targets),
    )
    .fetch_all(&state.read_pool);
    let (rows, seam) = tokio::try_join!(rows, Seam::load(&state.pool))?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let incidents = sqlx::query_as!(
        PublicIncidentRow,
        "select target_id, opened_at, resolved_at, severity from incidents
         where target_id = any($1) and (resolved_at is null or resolved_at > $2)
         order by opened_at desc limit 50",
        &ids,
        Utc::now() - RECENT_INCIDENTS,
    )
    .fetch_all(&state.read_pool);
    let store = history::store(state);
    let (daily, incidents) = tokio::join!(history::daily_bars(&store, &seam, &ids, DAYS), incidents);
    let (daily, incidents) = (daily?, incidents?);
    let mut worst = if rows.is_empty() { "unknown" } else { "up" };
    let mut names: BTreeMap<Uuid, String> = BTreeMap::new();
    let mut targets = Vec::with_capacity(rows.len());
    for PublicTargetRow {
        id,
        name,
        group_name: group,
        status,
        paused,
    } in rows
    {
        let status = public_status(status.as_deref(), paused);
        worst = match (worst, status) {
            (_, "down") | ("down", _) => "down",
            (_, "degraded") | ("degraded", _) => "degraded",
            (w, _) => w,
        };
        let by_day = daily.get(&id);
        let (uptime_90d, ..) = history::uptime_of(by_day.into_iter().flat_map(|m| m.values()), Granularity::Day);
        let days = history::bars(by_day, DAYS)
            .into_iter()
            .map(|d| PublicDay {
                date: d.date,
                uptime: d.uptime,
            })
            .collect();
        names.insert(id, name.clone());
        targets.push(PublicTarget {
            name,
            group,
            status,
            uptime_90d,
            days,
        });
    }
    let incidents = incidents
        .into_iter()
        .map(|i| PublicIncident {
            name: names.get(&i.target_id).cloned(),
            opened_at: i.opened_at,
            resolved_at: i.resolved_at,
            severity: i.severity,
        })
        .collect();
    Ok(Some(PublicPage {
        title: page.title,
        description: page.description,
        status: worst,
        targets,
        incidents,
    }))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_pages, create_page, get_page, update_page, delete_page, public_page),
    components(schemas(PageBody, PageTarget))
)]
pub struct Doc;
