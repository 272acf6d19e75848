//! `/api/maintenance…`: maintenance windows, owner-scoped (the engine reads them through
//! [`crate::incidents::maintenance`]).

use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Action;
use crate::error::owned_delete;
use crate::error::{ApiError, ApiResult};
use crate::error::{Json, Path};
use crate::http::auth::Caller;
use crate::http::pagination::page_of;
use crate::state::AppState;

/// Routes of the maintenance API.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/maintenance", get(list_windows).post(create_window))
        .route(
            "/api/maintenance/{id}",
            get(get_window).put(update_window).delete(delete_window),
        )
}

/// A maintenance window as the API takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct WindowBody {
    /// Name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Target covered.
    pub target_id: Option<Uuid>,
    /// Tag covered.
    #[schema(max_length = 64)]
    pub tag: Option<String>,
    /// Start.
    #[schema(
        pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d)$"
    )]
    pub starts_at: DateTime<Utc>,
    /// End.
    #[schema(
        pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d)$"
    )]
    pub ends_at: DateTime<Utc>,
    /// `null`, `daily` or `weekly`.
    #[schema(pattern = "^(daily|weekly)$")]
    pub recurrence: Option<String>,
}

/// How a window repeats.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Recurrence {
    /// Every day at the same time.
    Daily,
    /// Every week at the same time.
    Weekly,
}

/// A maintenance window as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MaintenanceWindow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Target covered.
    #[schema(required = true)]
    pub target_id: Option<Uuid>,
    /// Tag covered.
    #[schema(required = true)]
    pub tag: Option<String>,
    /// Start (of the first occurrence).
    pub starts_at: DateTime<Utc>,
    /// End (of the first occurrence).
    pub ends_at: DateTime<Utc>,
    /// Null for a single window.
    #[schema(value_type = Option<Recurrence>, required = true)]
    pub recurrence: Option<String>,
}

page_of!(
    /// The windows, latest start first (not paginated).
    WindowList,
    MaintenanceWindow
);

/// The windows of `maintenance_windows` that match `$filter` (one select list for the list and
/// the single window, checked at build time).
macro_rules! select_windows {
    ($filter:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            MaintenanceWindow,
            "select id, name, target_id, tag, starts_at, ends_at, recurrence from maintenance_windows "
                + $filter
            $(, $arg)*
        )
    };
}

/// `$sql` with `$1` the window's id, `$2` its owner and `$3`…`$8` the fields of the body `$b`:
/// one bind list for the insert and the update, each checked at build time.
macro_rules! window_query {
    ($sql:literal, $id:expr, $owner:expr, $b:expr) => {
        sqlx::query!(
            $sql,
            $id,
            $owner,
            $b.name.trim(),
            $b.target_id,
            $b.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()),
            $b.starts_at,
            $b.ends_at,
            $b.recurrence.as_deref(),
        )
    };
}

async fn validate_window(state: &AppState, owner: Uuid, b: &WindowBody) -> ApiResult<()> {
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name", "a name has 1 to 200 characters"));
    }
    let tag = b.tag.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if b.target_id.is_none() && tag.is_none() {
        return Err(ApiError::validation("target_id", "a window covers a target or a tag"));
    }
    if let Some(t) = b.target_id {
        let owned: Option<Uuid> =
            sqlx::query_scalar!("select id from targets where id = $1 and owner_id = $2", t, owner)
                .fetch_optional(&state.pool)
                .await?;
        if owned.is_none() {
            return Err(ApiError::validation("target_id", "no such target"));
        }
    }
    if b.ends_at <= b.starts_at {
        return Err(ApiError::validation("ends_at", "ends_at must be after starts_at"));
    }
    match b.recurrence.as_deref() {
        None | Some("daily") | Some("weekly") => {}
        Some(_) => {
            return Err(ApiError::validation(
                "recurrence",
                "recurrence is null, daily or weekly",
            ));
        }
    }
    if let (Some("daily"), true) = (
        b.recurrence.as_deref(),
        b.ends_at - b.starts_at > chrono::Duration::days(1),
    ) {
        return Err(ApiError::validation("ends_at", "a daily window lasts at most a day"));
    }
    if let (Some("weekly"), true) = (
        b.recurrence.as_deref(),
        b.ends_at - b.starts_at > chrono::Duration::weeks(1),
    ) {
        return Err(ApiError::validation("ends_at", "a weekly window lasts at most a week"));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/maintenance", tag = "maintenance",
    responses((status = 200, body = WindowList, description = "the maintenance windows")))]
async fn list_windows(Caller { state, user }: Caller) -> ApiResult<Json<WindowList>> {
    let org = user.may(Action::Read)?;
    let items: Vec<MaintenanceWindow> = select_windows!("where owner_id = $1 order by starts_at desc, id", org)
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(WindowList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

async fn load_window(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<MaintenanceWindow> {
    select_windows!("where id = $1 and owner_id = $2", id, owner)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(post, path = "/api/maintenance", tag = "maintenance", request_body = WindowBody,
    responses((status = 201, body = MaintenanceWindow, description = "the window"), (status = 422, description = "a field is invalid, or `max_maintenance_windows` would be exceeded")))]
async fn create_window(
    Caller { state, user }: Caller,
    body: Result<Json<WindowBody>, ApiError>,
) -> ApiResult<(StatusCode, Json<MaintenanceWindow>)> {
    let org = user.may(Action::Edit)?;
    let Json(b) = body?;
    validate_window(&state, org, &b).await?;
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    crate::quotas::reserve(&mut tx, &state, org, crate::quotas::Counted::MaintenanceWindows, 1).await?;
    window_query!(
        "insert into maintenance_windows (id, owner_id, name, target_id, tag, starts_at, ends_at, recurrence)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        org,
        b
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_window(&state, org, id).await?)))
}

#[utoipa::path(get, path = "/api/maintenance/{id}", tag = "maintenance", params(("id" = Uuid, Path, description = "the window's id")),
    responses((status = 200, body = MaintenanceWindow, description = "the window"), (status = 404, description = "no such window of yours")))]
async fn get_window(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<MaintenanceWindow>> {
    let org = user.may(Action::Read)?;
    Ok(Json(load_window(&state, org, id).await?))
}

#[utoipa::path(put, path = "/api/maintenance/{id}", tag = "maintenance", params(("id" = Uuid, Path, description = "the window's id")), request_body = WindowBody,
    responses((status = 200, body = MaintenanceWindow, description = "the window"), (status = 404, description = "no such window of yours"), (status = 422)))]
async fn update_window(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<WindowBody>, ApiError>,
) -> ApiResult<Json<MaintenanceWindow>> {
    let org = user.may(Action::Edit)?;
    load_window(&state, org, id).await?;
    let Json(b) = body?;
    validate_window(&state, org, &b).await?;
    window_query!(
        "update maintenance_windows set name = $3, target_id = $4, tag = $5, starts_at = $6, ends_at = $7,
             recurrence = $8, updated_at = now()
         where id = $1 and owner_id = $2",
        id,
        org,
        b
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(load_window(&state, org, id).await?))
}

owned_delete!(
    crate::access::Action::Edit,
    #[utoipa::path(delete, path = "/api/maintenance/{id}", tag = "maintenance", params(("id" = Uuid, Path, description = "the window's id")),
    responses((status = 204), (status = 404, description = "no such window of yours")))]
    delete_window,
    "delete from maintenance_windows where id = $1 and owner_id = $2"
);

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_windows, create_window, get_window, update_window, delete_window),
    components(schemas(WindowBody))
)]
pub struct Doc;
