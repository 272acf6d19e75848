//! `/api/incidents…` and `/api/targets/{id}/incidents`, owner-scoped.

use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult};
use crate::error::{Json, Path, Query};
use crate::http::auth::Caller;
use crate::http::pagination::{decode_cursor, encode_cursor, page_limit, page_of};
use crate::state::AppState;

/// Routes of the incidents API.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/incidents", get(list_incidents))
        .route("/api/incidents/{id}", get(get_incident))
        .route("/api/incidents/{id}/ack", post(acknowledge_incident))
        .route("/api/incidents/{id}/notes", post(add_note))
        .route("/api/targets/{id}/incidents", get(list_target_incidents))
        .route("/api/incident-groups", get(list_groups))
        .route("/api/incident-groups/{id}", get(get_group))
}

/// `?status=&target_id=&limit=&cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// `open` or `resolved`.
    #[param(value_type = Option<String>, pattern = "^(open|resolved)?$")]
    pub status: Option<String>,
    /// Only this target's.
    pub target_id: Option<Uuid>,
    /// Page size.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// An incident with its target's name, as the API shows it.
struct IncidentRow {
    id: Uuid,
    target_id: Uuid,
    target_name: String,
    severity: String,
    opened_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    regions: Vec<String>,
    failure_kind: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
    evidence: Value,
    group_id: Option<Uuid>,
    caused_by: Option<Uuid>,
    cause_target_id: Option<Uuid>,
    cause_target_name: Option<String>,
    notify_state: String,
}

/// The incidents (joined with their targets) that match `$filter`: one select list for the
/// page and the single incident, checked at build time.
macro_rules! select_incidents {
    ($filter:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            IncidentRow,
            r#"select i.id, i.target_id, t.name as target_name, i.severity, i.opened_at, i.resolved_at,
                      i.regions, i.failure_kind, i.acknowledged_at, i.evidence, i.group_id, i.caused_by,
                      c.target_id as "cause_target_id?", ct.name as "cause_target_name?", i.notify_state
               from incidents i join targets t on t.id = i.target_id
               left join incidents c on c.id = i.caused_by left join targets ct on ct.id = c.target_id "#
                + $filter
            $(, $arg)*
        )
    };
}

/// An incident as the API shows it (in a list: without evidence, timeline, reports or notes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Incident {
    /// Id.
    pub id: Uuid,
    /// The target.
    pub target_id: Uuid,
    /// The target's name.
    pub target_name: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Resolved; null while open.
    #[schema(required = true)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Regions that saw it.
    pub regions: Vec<String>,
    /// The failure kind that opened it (a `FailureKind`).
    #[schema(value_type = Option<common::messages::FailureKind>, required = true)]
    pub failure_kind: Option<String>,
    /// Acknowledged; null until someone does.
    #[schema(required = true)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The `Evidence` (crates/common, `messages`); null in a list.
    #[schema(value_type = Option<common::messages::Evidence>, required = true)]
    pub evidence: Value,
    /// The group incident it belongs to (`GET /api/incident-groups/{id}`): incidents of the
    /// organisation that opened close together sharing a cause; null when it stands alone.
    #[schema(required = true)]
    pub group_id: Option<Uuid>,
    /// What happened, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// The incident that explains this one: a dependency's, open when this one opened (or that
    /// went down while it was open); null when none.
    #[schema(required = true)]
    pub caused_by: Option<IncidentLink>,
    /// Whether the owner was told: `notified` when it opened; `held` while it waits for
    /// `caused_by` to resolve (nothing sent yet); `released` when that resolved while this one
    /// stayed open (notified then); `silent` when it resolved while held (nothing ever sent).
    #[schema(pattern = "^(notified|held|released|silent)$")]
    pub notification: String,
    /// The incidents linked to this one as their cause, oldest first (empty in a list).
    pub effects: Vec<IncidentLink>,
    /// `IncidentReport`s (crates/common, `messages`), oldest first.
    #[schema(value_type = Vec<common::messages::IncidentReport>)]
    pub reports: Vec<Value>,
    /// Notes, oldest first.
    pub notes: Vec<IncidentNote>,
}

page_of!(
    /// A page of incidents, newest first.
    IncidentList,
    Incident
);

impl Incident {
    fn from_row(r: IncidentRow, evidence: bool) -> Self {
        Incident {
            id: r.id,
            target_id: r.target_id,
            target_name: r.target_name,
            severity: r.severity,
            opened_at: r.opened_at,
            resolved_at: r.resolved_at,
            regions: r.regions,
            failure_kind: r.failure_kind,
            acknowledged_at: r.acknowledged_at,
            evidence: if evidence { r.evidence } else { Value::Null },
            group_id: r.group_id,
            caused_by: match (r.caused_by, r.cause_target_id, r.cause_target_name) {
                (Some(incident_id), Some(target_id), Some(target_name)) => Some(IncidentLink {
                    incident_id,
                    target_id,
                    target_name,
                }),
                _ => None,
            },
            notification: r.notify_state,
            effects: Vec::new(),
            timeline: Vec::new(),
            reports: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Another incident, as a link to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentLink {
    /// Its id.
    pub incident_id: Uuid,
    /// Its target.
    pub target_id: Uuid,
    /// Its target's name.
    pub target_name: String,
}

/// A line of an incident's timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// `opened`, `acknowledged`, `resolved`, …
    pub kind: String,
    /// What happened, for people.
    pub message: String,
}

/// A note on an incident, with its author's address (null once the author is gone).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentNote {
    /// Written.
    pub at: DateTime<Utc>,
    /// The author's email.
    #[schema(required = true)]
    pub author: Option<String>,
    /// The note.
    pub text: String,
}

async fn list(state: &AppState, owner: Uuid, q: IncidentQuery) -> ApiResult<Json<IncidentList>> {
    let limit = page_limit(q.limit)?;
    let offset = decode_cursor(q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("open" | "resolved")) => Some(s.to_owned()),
        Some(_) => return Err(ApiError::validation("status", "status is open or resolved")),
    };
    // The same filter as the page's below (a null parameter matches every row).
    let total: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from incidents i join targets t on t.id = i.target_id
           where i.owner_id = $1 and ($2::uuid is null or i.target_id = $2)
             and ($3::text is null or ($3 = 'open') = (i.resolved_at is null))"#,
        owner,
        q.target_id,
        status.as_deref(),
    )
    .fetch_one(&state.pool)
    .await?;
    let rows: Vec<IncidentRow> = select_incidents!(
        "where i.owner_id = $1 and ($2::uuid is null or i.target_id = $2)
           and ($3::text is null or ($3 = 'open') = (i.resolved_at is null))
         order by i.opened_at desc, i.id desc limit $4 offset $5",
        owner,
        q.target_id,
        status.as_deref(),
        limit,
        offset,
    )
    .fetch_all(&state.pool)
    .await?;
    let next = offset + rows.len() as i64;
    Ok(Json(IncidentList {
        items: rows.into_iter().map(|r| Incident::from_row(r, false)).collect(),
        total,
        next_cursor: (next < total).then(|| encode_cursor(next)),
    }))
}

#[utoipa::path(get, path = "/api/incidents", tag = "incidents", params(IncidentQuery),
    responses((status = 200, body = IncidentList, description = "a page of incidents"), (status = 400), (status = 422)))]
async fn list_incidents(
    Caller { state, user }: Caller,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<IncidentList>> {
    let org = user.may(Action::Read)?;
    list(&state, org, q).await
}

#[utoipa::path(get, path = "/api/targets/{id}/incidents", tag = "history", params(("id" = Uuid, Path, description = "the target's id"), IncidentQuery),
    responses((status = 200, body = IncidentList, description = "a page of the target's incidents"), (status = 400), (status = 404, description = "no such target of yours"), (status = 422)))]
async fn list_target_incidents(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Query(mut q): Query<IncidentQuery>,
) -> ApiResult<Json<IncidentList>> {
    let org = user.may(Action::Read)?;
    crate::http::history::owned_target(&state, org, id).await?;
    q.target_id = Some(id);
    list(&state, org, q).await
}

/// The full incident of `owner`: evidence, timeline, reports, notes.
pub async fn load_incident(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<Incident> {
    let row: IncidentRow = select_incidents!("where i.id = $1 and i.owner_id = $2", id, owner)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut incident = Incident::from_row(row, true);
    incident.timeline = sqlx::query_as!(
        TimelineEntry,
        "select at, kind, message from incident_timeline where incident_id = $1 order by at, id",
        id
    )
    .fetch_all(&state.pool)
    .await?;
    incident.effects = sqlx::query_as!(
        IncidentLink,
        "select i.id as incident_id, i.target_id, t.name as target_name
         from incidents i join targets t on t.id = i.target_id
         where i.caused_by = $1 and i.owner_id = $2 order by i.opened_at, i.id",
        id,
        owner
    )
    .fetch_all(&state.pool)
    .await?;
    incident.reports = sqlx::query_scalar!(
        "select report from incident_reports where incident_id = $1 order by created_at",
        id
    )
    .fetch_all(&state.pool)
    .await?;
    incident.notes = sqlx::query_as!(
        IncidentNote,
        r#"select n.created_at as at, u.email as "author?", n.text from incident_notes n
           left join users u on u.id = n.author_id
           where n.incident_id = $1 order by n.created_at, n.id"#,
        id
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(incident)
}

#[utoipa::path(get, path = "/api/incidents/{id}", tag = "incidents", params(("id" = Uuid, Path, description = "the incident's id")),
    responses((status = 200, body = Incident, description = "the incident with timeline, reports and notes"), (status = 404, description = "no such incident of yours")))]
async fn get_incident(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Incident>> {
    let org = user.may(Action::Read)?;
    Ok(Json(load_incident(&state, org, id).await?))
}

#[utoipa::path(post, path = "/api/incidents/{id}/ack", tag = "incidents", params(("id" = Uuid, Path, description = "the incident's id")),
    responses((status = 200, body = Incident, description = "the acknowledged incident"), (status = 404, description = "no such incident of yours")))]
async fn acknowledge_incident(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Incident>> {
    let org = user.may(Action::Acknowledge)?;
    let mut tx = state.pool.begin().await?;
    let acked: Option<Option<DateTime<Utc>>> = sqlx::query_scalar!(
        r#"update incidents set acknowledged_at = coalesce(acknowledged_at, now()),
             acknowledged_by = coalesce(acknowledged_by, $3), updated_at = now()
         where id = $1 and owner_id = $2
         returning (case when acknowledged_at = now() then acknowledged_at end) as "first_ack?""#,
        id,
        org,
        user.id,
    )
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
    Ok(Json(load_incident(&state, org, id).await?))
}

/// `{text}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NoteBody {
    /// The note: 1 to 10 000 characters, not only spaces; line breaks and tabs are kept, other
    /// control characters (NUL…) are refused.
    #[schema(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub text: String,
}

#[utoipa::path(post, path = "/api/incidents/{id}/notes", tag = "incidents", params(("id" = Uuid, Path, description = "the incident's id")), request_body = NoteBody,
    responses((status = 200, body = Incident, description = "the incident with the note"), (status = 404, description = "no such incident of yours"), (status = 422)))]
async fn add_note(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<NoteBody>, ApiError>,
) -> ApiResult<Json<Incident>> {
    let org = user.may(Action::Acknowledge)?;
    let Json(body) = body?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::validation("text", "a note has 1 to 10,000 characters"));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::validation(
            "text",
            "a note must not contain control characters other than line breaks and tabs",
        ));
    }
    let done = sqlx::query!(
        "insert into incident_notes (id, incident_id, author_id, text)
         select $1, id, $3, $4 from incidents where id = $2 and owner_id = $5",
        Uuid::now_v7(),
        id,
        user.id,
        text,
        org,
    )
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    Ok(Json(load_incident(&state, org, id).await?))
}

/// A group incident: incidents of one organisation that opened close together and share a
/// cause signal. Each member keeps its own incident, timeline and uptime; the group resolves
/// with its last member.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentGroup {
    /// Id.
    pub id: Uuid,
    /// The shared signal: `ip:<address>:<failure kind>`, `host:<name>:<failure kind>`,
    /// `dns:<resolver>:<rcode>`, `cert:<SHA-256 fingerprint>` or
    /// `region:<region>:<failure kind>:<phase>`.
    pub cause: String,
    /// What the members have in common, in words ("all resolve to 203.0.113.7, which refuses
    /// connections").
    pub summary: String,
    /// When its first member opened.
    pub opened_at: DateTime<Utc>,
    /// When its last member resolved; null while one is open.
    #[schema(required = true)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Its members, in the order they opened (without evidence, timeline, reports or notes;
    /// at most 1,000).
    pub members: Vec<Incident>,
    /// The group's report, an `IncidentReport` (crates/common, `messages`): the newest member
    /// report written with the group's facts, naming the shared cause and the members; null
    /// until the llm-service wrote one.
    #[schema(value_type = Option<common::messages::IncidentReport>, required = true)]
    pub report: Option<Value>,
}

/// Most members a group answer lists.
const MAX_GROUP_MEMBERS: i64 = 1000;

#[utoipa::path(get, path = "/api/incident-groups/{id}", tag = "incidents", params(("id" = Uuid, Path, description = "the group's id")),
    responses((status = 200, body = IncidentGroup, description = "the group incident and its members"),
        (status = 404, description = "no such group of yours")))]
async fn get_group(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<IncidentGroup>> {
    let org = user.may(Action::Read)?;
    let g = sqlx::query!(
        "select id, cause, summary, opened_at, resolved_at, report from incident_groups where id = $1 and owner_id = $2",
        id,
        org
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let members: Vec<IncidentRow> = select_incidents!(
        "where i.group_id = $1 and i.owner_id = $2 order by i.opened_at, i.id limit $3",
        id,
        org,
        MAX_GROUP_MEMBERS
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(IncidentGroup {
        id: g.id,
        cause: g.cause,
        summary: g.summary,
        opened_at: g.opened_at,
        resolved_at: g.resolved_at,
        members: members.into_iter().map(|r| Incident::from_row(r, false)).collect(),
        report: g.report,
    }))
}

/// `?state=&limit=&cursor=` of the group list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// `open` (a member is still open), `resolved` or `all` (the default).
    #[param(value_type = Option<String>, pattern = "^(open|resolved|all)?$")]
    pub state: Option<String>,
    /// Page size: 1 to 100 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// The previous page's `next_cursor` (opaque).
    pub cursor: Option<String>,
}

/// A group incident in a list: what its members share, how many there are and the first few.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentGroupSummary {
    /// Id (`GET /api/incident-groups/{id}` has all its members).
    pub id: Uuid,
    /// The shared signal, as in `IncidentGroup`.
    pub cause: String,
    /// What the members have in common, in words.
    pub summary: String,
    /// When its first member opened.
    pub opened_at: DateTime<Utc>,
    /// When its last member resolved; null while one is open.
    #[schema(required = true)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// How many incidents are its members.
    pub member_count: i64,
    /// How many of them are still open.
    pub open_member_count: i64,
    /// Its first members (at most 5), in the order they opened: each incident with its target's name.
    #[schema(max_items = 5)]
    pub first_members: Vec<IncidentLink>,
}

page_of!(
    /// A page of group incidents, newest first.
    IncidentGroupList,
    IncidentGroupSummary
);

/// Largest page of groups.
const MAX_GROUP_PAGE: i64 = 100;
/// Members named in a list item.
const LISTED_MEMBERS: i64 = 5;

/// A keyset cursor: the last item's opening time (microseconds) and id.
fn encode_group_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("g:{}:{id}", at.timestamp_micros()))
}

fn decode_group_cursor(c: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let mut parts = s.splitn(3, ':');
            (parts.next()? == "g").then_some(())?;
            let at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
            Some((at, parts.next()?.parse().ok()?))
        })
        .ok_or_else(|| ApiError::validation("cursor", "invalid cursor"))
}

#[utoipa::path(get, path = "/api/incident-groups", tag = "incidents", params(GroupQuery),
    responses((status = 200, body = IncidentGroupList, description = "a page of your organisation's group incidents, newest first"),
        (status = 422, description = "`state` is not open, resolved or all; `limit` is not 1 to 100; `cursor` is not a page's `next_cursor`")))]
async fn list_groups(
    Caller { state, user }: Caller,
    Query(q): Query<GroupQuery>,
) -> ApiResult<Json<IncidentGroupList>> {
    let org = user.may(Action::Read)?;
    let open = match q.state.as_deref() {
        None | Some("" | "all") => None,
        Some("open") => Some(true),
        Some("resolved") => Some(false),
        Some(_) => return Err(ApiError::validation("state", "state is open, resolved or all")),
    };
    let limit = match q.limit.as_deref().filter(|l| !l.is_empty()) {
        None => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_GROUP_PAGE).contains(n))
            .ok_or_else(|| ApiError::validation("limit", "limit must be between 1 and 100"))?,
    };
    let cursor = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_group_cursor)
        .transpose()?;
    let (after_at, after_id) = cursor.unzip();
    let total: i64 = sqlx::query_scalar!(
        r#"select count(*) as "count!" from incident_groups
           where owner_id = $1 and ($2::bool is null or $2 = (resolved_at is null))"#,
        org,
        open
    )
    .fetch_one(&state.pool)
    .await?;
    // One more than the page, to know whether another follows.
    let mut rows = sqlx::query!(
        r#"select g.id, g.cause, g.summary, g.opened_at, g.resolved_at,
                  m.members as "members!", m.open_members as "open_members!"
           from incident_groups g
           cross join lateral (
               select count(*) as members, count(*) filter (where i.resolved_at is null) as open_members
               from incidents i where i.group_id = g.id and i.owner_id = g.owner_id
           ) m
           where g.owner_id = $1 and ($2::bool is null or $2 = (g.resolved_at is null))
             and ($3::timestamptz is null or (g.opened_at, g.id) < ($3, $4::uuid))
           order by g.opened_at desc, g.id desc limit $5"#,
        org,
        open,
        after_at,
        after_id,
        limit + 1
    )
    .fetch_all(&state.pool)
    .await?;
    let next_cursor = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_group_cursor(r.opened_at, r.id))
    });
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    // The first members of every group of the page, in one query.
    let firsts = sqlx::query!(
        r#"select f.group_id as "group_id!", f.incident_id as "incident_id!", f.target_id as "target_id!",
                  f.target_name as "target_name!"
           from unnest($1::uuid[]) as p(id)
           cross join lateral (
               select i.group_id, i.id as incident_id, i.target_id, t.name as target_name, i.opened_at
               from incidents i join targets t on t.id = i.target_id
               where i.group_id = p.id and i.owner_id = $2
               order by i.opened_at, i.id limit $3
           ) f
           order by f.group_id, f.opened_at, f.incident_id"#,
        &ids,
        org,
        LISTED_MEMBERS
    )
    .fetch_all(&state.pool)
    .await?;
    let mut members: std::collections::HashMap<Uuid, Vec<IncidentLink>> = std::collections::HashMap::new();
    for f in firsts {
        members.entry(f.group_id).or_default().push(IncidentLink {
            incident_id: f.incident_id,
            target_id: f.target_id,
            target_name: f.target_name,
        });
    }
    let items = rows
        .into_iter()
        .map(|r| IncidentGroupSummary {
            first_members: members.remove(&r.id).unwrap_or_default(),
            id: r.id,
            cause: r.cause,
            summary: r.summary,
            opened_at: r.opened_at,
            resolved_at: r.resolved_at,
            member_count: r.members,
            open_member_count: r.open_members,
        })
        .collect();
    Ok(Json(IncidentGroupList {
        items,
        total,
        next_cursor: next_cursor.flatten(),
    }))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_incidents,
        list_target_incidents,
        get_incident,
        acknowledge_incident,
        add_note,
        get_group,
        list_groups
    ),
    components(schemas(NoteBody, IncidentGroup, IncidentLink, IncidentGroupSummary, IncidentGroupList))
)]
pub struct Doc;
