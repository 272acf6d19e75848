//! `/api/incidents…`, `/api/targets/{id}/incidents` and `/api/maintenance…`, owner-scoped.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::no_content_or_not_found;
use crate::http::targets::{decode_cursor, encode_cursor, page_limit};
use crate::{ApiError, ApiResult, AppState, CurrentUser};

/// Routes of the incidents and maintenance API.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/incidents", get(list_incidents))
        .route("/api/incidents/{id}", get(get_incident))
        .route("/api/incidents/{id}/ack", post(acknowledge_incident))
        .route("/api/incidents/{id}/notes", post(add_note))
        .route("/api/targets/{id}/incidents", get(list_target_incidents))
        .route("/api/maintenance", get(list_windows).post(create_window))
        .route(
            "/api/maintenance/{id}",
            get(get_window).put(update_window).delete(delete_window),
        )
}

fn parse_id(id: &str) -> ApiResult<Uuid> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// `?status=&target_id=&limit=&cursor=`.
#[derive(Debug, Deserialize)]
pub struct IncidentQuery {
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// Only this target's.
    pub target_id: Option<Uuid>,
    /// Page size.
    pub limit: Option<i64>,
    /// Cursor.
    pub cursor: Option<String>,
}

type IncidentRow = (
    Uuid,
    Uuid,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Vec<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Value,
);

const INCIDENT_COLUMNS: &str = "i.id, i.target_id, t.name, i.severity, i.opened_at, i.resolved_at, i.regions, \
                                i.failure_kind, i.acknowledged_at, i.evidence";

fn incident_json(r: IncidentRow, evidence: bool) -> Value {
    let (id, target_id, name, severity, opened_at, resolved_at, regions, failure_kind, acknowledged_at, ev) = r;
    json!({
        "id": id, "target_id": target_id, "target_name": name, "severity": severity,
        "opened_at": opened_at, "resolved_at": resolved_at, "regions": regions,
        "failure_kind": failure_kind, "acknowledged_at": acknowledged_at,
        "evidence": if evidence { ev } else { Value::Null },
        "timeline": [], "reports": [], "notes": [],
    })
}

async fn list(state: &AppState, owner: Uuid, q: IncidentQuery) -> ApiResult<Json<Value>> {
    let limit = page_limit(q.limit)?;
    let offset = decode_cursor(q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("open" | "resolved")) => Some(s.to_owned()),
        Some(_) => return Err(ApiError::validation("status", "status is open or resolved")),
    };
    let filter = "from incidents i join targets t on t.id = i.target_id
         where i.owner_id = $1 and ($2::uuid is null or i.target_id = $2)
           and ($3::text is null or ($3 = 'open') = (i.resolved_at is null))";
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) {filter}")))
        .bind(owner)
        .bind(q.target_id)
        .bind(&status)
        .fetch_one(&state.pool)
        .await?;
    let rows: Vec<IncidentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {INCIDENT_COLUMNS} {filter} order by i.opened_at desc, i.id desc limit $4 offset $5"
    )))
    .bind(owner)
    .bind(q.target_id)
    .bind(&status)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let next = offset + rows.len() as i64;
    Ok(Json(json!({
        "items": rows.into_iter().map(|r| incident_json(r, false)).collect::<Vec<_>>(),
        "total": total,
        "next_cursor": (next < total).then(|| encode_cursor(next)),
    })))
}

async fn list_incidents(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<Value>> {
    list(&state, user.id, q).await
}

async fn list_target_incidents(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(mut q): Query<IncidentQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    crate::http::history::owned_target(&state, user.id, id).await?;
    q.target_id = Some(id);
    list(&state, user.id, q).await
}

/// The full incident of `owner`: evidence, timeline, reports, notes.
pub async fn load_incident(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<Value> {
    let row: IncidentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {INCIDENT_COLUMNS} from incidents i join targets t on t.id = i.target_id
         where i.id = $1 and i.owner_id = $2"
    )))
    .bind(id)
    .bind(owner)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let mut v = incident_json(row, true);
    let timeline: Vec<(DateTime<Utc>, String, String)> =
        sqlx::query_as("select at, kind, message from incident_timeline where incident_id = $1 order by at, id")
            .bind(id)
            .fetch_all(&state.pool)
            .await?;
    let reports: Vec<Value> =
        sqlx::query_scalar("select report from incident_reports where incident_id = $1 order by created_at")
            .bind(id)
            .fetch_all(&state.pool)
            .await?;
    let notes: Vec<(DateTime<Utc>, Option<String>, String)> = sqlx::query_as(
        "select n.created_at, u.email, n.text from incident_notes n left join users u on u.id = n.author_id
         where n.incident_id = $1 order by n.created_at, n.id",
    )
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    v["timeline"] = timeline
        .into_iter()
        .map(|(at, kind, message)| json!({"at": at, "kind": kind, "message": message}))
        .collect();
    v["reports"] = Value::Array(reports);
    v["notes"] = notes
        .into_iter()
        .map(|(at, author, text)| json!({"at": at, "author": author, "text": text}))
        .collect();
    Ok(v)
}

async fn get_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(load_incident(&state, user.id, parse_id(&id)?).await?))
}

async fn acknowledge_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let acked: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "update incidents set acknowledged_at = coalesce(acknowledged_at, now()),
             acknowledged_by = coalesce(acknowledged_by, $3), updated_at = now()
         where id = $1 and owner_id = $2
         returning (case when acknowledged_at = now() then acknowledged_at end)",
    )
    .bind(id)
    .bind(user.id)
    .bind(user.id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(first) = acked else {
        return Err(ApiError::not_found());
    };
    if let Some(at) = first {
        crate::incidents::engine::timeline(
            &mut tx,
            id,
            at,
            "acknowledged",
            &format!("Acknowledged by {}.", user.email),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Json(load_incident(&state, user.id, id).await?))
}

/// `{text}`.
#[derive(Debug, Deserialize)]
pub struct NoteBody {
    /// The note.
    pub text: String,
}

async fn add_note(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Result<Json<NoteBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let Json(body) = body?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::validation("text", "a note has 1 to 10,000 characters"));
    }
    let done = sqlx::query(
        "insert into incident_notes (id, incident_id, author_id, text)
         select $1, id, $3, $4 from incidents where id = $2 and owner_id = $3",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(user.id)
    .bind(text)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    Ok(Json(load_incident(&state, user.id, id).await?))
}

// ---------------------------------------------------------------------------------------------
// Maintenance windows
// ---------------------------------------------------------------------------------------------

/// A maintenance window as the API takes it.
#[derive(Debug, Deserialize)]
pub struct WindowBody {
    /// Name.
    pub name: String,
    /// Target covered.
    pub target_id: Option<Uuid>,
    /// Tag covered.
    pub tag: Option<String>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// `null`, `daily` or `weekly`.
    pub recurrence: Option<String>,
}

type WindowRow = (
    Uuid,
    String,
    Option<Uuid>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
);

fn window_json((id, name, target_id, tag, starts_at, ends_at, recurrence): WindowRow) -> Value {
    json!({"id": id, "name": name, "target_id": target_id, "tag": tag, "starts_at": starts_at,
           "ends_at": ends_at, "recurrence": recurrence})
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
        let owned: Option<Uuid> = sqlx::query_scalar("select id from targets where id = $1 and owner_id = $2")
            .bind(t)
            .bind(owner)
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

const WINDOW_COLUMNS: &str = "id, name, target_id, tag, starts_at, ends_at, recurrence";

async fn list_windows(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Value>> {
    let rows: Vec<WindowRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {WINDOW_COLUMNS} from maintenance_windows where owner_id = $1 order by starts_at desc, id"
    )))
    .bind(user.id)
    .fetch_all(&state.pool)
    .await?;
    let total = rows.len();
    Ok(Json(json!({
        "items": rows.into_iter().map(window_json).collect::<Vec<_>>(),
        "total": total,
        "next_cursor": null,
    })))
}

async fn load_window(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<Value> {
    let row: WindowRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {WINDOW_COLUMNS} from maintenance_windows where id = $1 and owner_id = $2"
    )))
    .bind(id)
    .bind(owner)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(window_json(row))
}

async fn create_window(
    State(state): State<AppState>,
    user: CurrentUser,
    body: Result<Json<WindowBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(b) = body?;
    validate_window(&state, user.id, &b).await?;
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    crate::quotas::reserve(&mut tx, &state, user.id, crate::quotas::Counted::MaintenanceWindows, 1).await?;
    sqlx::query(
        "insert into maintenance_windows (id, owner_id, name, target_id, tag, starts_at, ends_at, recurrence)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(user.id)
    .bind(b.name.trim())
    .bind(b.target_id)
    .bind(b.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(&b.recurrence)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_window(&state, user.id, id).await?)))
}

async fn get_window(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(load_window(&state, user.id, parse_id(&id)?).await?))
}

async fn update_window(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Result<Json<WindowBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    load_window(&state, user.id, id).await?;
    let Json(b) = body?;
    validate_window(&state, user.id, &b).await?;
    sqlx::query(
        "update maintenance_windows set name = $3, target_id = $4, tag = $5, starts_at = $6, ends_at = $7,
             recurrence = $8, updated_at = now()
         where id = $1 and owner_id = $2",
    )
    .bind(id)
    .bind(user.id)
    .bind(b.name.trim())
    .bind(b.target_id)
    .bind(b.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()))
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(&b.recurrence)
    .execute(&state.pool)
    .await?;
    Ok(Json(load_window(&state, user.id, id).await?))
}

async fn delete_window(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    no_content_or_not_found(
        sqlx::query("delete from maintenance_windows where id = $1 and owner_id = $2")
            .bind(parse_id(&id)?)
            .bind(user.id)
            .execute(&state.pool)
            .await?,
    )
}
