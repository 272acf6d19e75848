//! Escalation policies (owner-scoped CRUD under `/api/escalation-policies`) and the public
//! acknowledgement links of alerts (`/api/ack/{token}`, signed by [`common::ack`]).
//!
//! A policy's steps are stored as the jsonb `[{"after_minutes", "channel_ids"}]` the notifier
//! reads; the notifier writes `escalation_runs`, this module never does.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use common::ack::{Ack, AckError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult, Json, Path, owned_delete};
use crate::http::auth::Caller;
use crate::http::pagination::page_of;
use crate::http::status_pages::public_rate;
use crate::ratelimit::ClientIp;
use crate::state::AppState;

/// Most policies one user may have.
pub const MAX_POLICIES: u32 = 50;
/// Longest policy name, in characters.
const MAX_NAME: usize = 100;
/// Most steps of a policy.
const MAX_STEPS: usize = 10;
/// Most channels of one step.
const MAX_STEP_CHANNELS: usize = 10;
/// Most members one step names.
const MAX_STEP_MEMBERS: usize = 10;
/// Latest a step may start, in minutes after the incident opened (a day).
const MAX_AFTER_MINUTES: i32 = 1440;
/// Shortest and longest reminder interval, in minutes.
const REMINDER_MINUTES: std::ops::RangeInclusive<i32> = 5..=1440;
/// Most targets a policy is attached to.
const MAX_TARGETS: usize = 500;
/// Most tags of a policy.
const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
const MAX_TAG: usize = 50;

/// The routes of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/escalation-policies", get(list_policies).post(create_policy))
        .route(
            "/api/escalation-policies/{id}",
            get(get_policy).put(update_policy).delete(delete_policy),
        )
        .route("/api/ack/{token}", get(ack_info).post(acknowledge))
}

/// One step of a policy: whom to alert, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationStep {
    /// Minutes after the incident opened (0 to 1440), strictly increasing from step to step.
    #[schema(minimum = 0, maximum = 1440)]
    pub after_minutes: i32,
    /// The organisation's channels alerted (up to 10 distinct ones).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub channel_ids: Vec<Uuid>,
    /// Members alerted (up to 10 distinct members of the organisation), each on the verified
    /// channels of their personal organisation (their own Telegram, email…), which stay
    /// theirs. A member who leaves is dropped from every step. A step names at least one
    /// channel or member.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub member_ids: Vec<Uuid>,
}

/// A policy as written: every field is replaced (`PUT`) or set (`POST`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EscalationPolicyBody {
    /// Its name (trimmed: 1 to 100 characters, no control characters).
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
    /// 1 to 10 steps, `after_minutes` strictly increasing.
    #[schema(min_items = 1, max_items = 10)]
    pub steps: Vec<EscalationStep>,
    /// Remind the channels reached so far every N minutes (5 to 1440) while the incident stays
    /// open and unacknowledged; null: no reminders.
    #[serde(default)]
    #[schema(minimum = 5, maximum = 1440)]
    pub reminder_minutes: Option<i32>,
    /// Targets of yours the policy applies to (at most 500, distinct).
    #[serde(default)]
    #[schema(max_items = 500)]
    pub target_ids: Vec<Uuid>,
    /// Tags: the policy also applies to targets carrying one of them (at most 20, each 1 to 50
    /// characters once trimmed; duplicates are dropped).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
}

/// An escalation policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EscalationPolicy {
    /// Id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<EscalationStep>,
    /// Reminder interval in minutes; null: no reminders.
    #[schema(required = true)]
    pub reminder_minutes: Option<i32>,
    /// The targets it applies to (ordered by id).
    pub target_ids: Vec<Uuid>,
    /// The tags it applies to.
    pub tags: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

page_of!(
    /// The caller's escalation policies, oldest first (not paginated: at most 50).
    EscalationPolicyList,
    EscalationPolicy
);

/// A policy as read from its row.
struct PolicyRow {
    id: Uuid,
    name: String,
    steps: sqlx::types::Json<Vec<EscalationStep>>,
    reminder_minutes: Option<i32>,
    target_ids: Vec<Uuid>,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PolicyRow> for EscalationPolicy {
    fn from(r: PolicyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            steps: r.steps.0,
            reminder_minutes: r.reminder_minutes,
            target_ids: r.target_ids,
            tags: r.tags,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The policies (with their targets) that match `$filter` on `p`: one select list for the list
/// and the single policy, checked at build time.
macro_rules! select_policies {
    ($filter:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            PolicyRow,
            r#"select p.id, p.name, p.steps as "steps: sqlx::types::Json<Vec<EscalationStep>>", p.reminder_minutes,
                      array(select t.target_id from escalation_policy_targets t where t.policy_id = p.id
                            order by t.target_id) as "target_ids!",
                      p.tags, p.created_at, p.updated_at
               from escalation_policies p "#
                + $filter
            $(, $arg)*
        )
    };
}

/// A body checked and normalised, ready to store.
#[derive(Debug)]
struct ValidPolicy {
    name: String,
    steps: Vec<EscalationStep>,
    reminder_minutes: Option<i32>,
    target_ids: Vec<Uuid>,
    tags: Vec<String>,
}

/// Checks what needs no database: each problem names its field.
fn check_shape(body: EscalationPolicyBody) -> ApiResult<ValidPolicy> {
    let name = crate::validate::text("name", &body.name, MAX_NAME)?;
    if body.steps.is_empty() || body.steps.len() > MAX_STEPS {
        return Err(ApiError::validation(
            "steps",
            format!("a policy has 1 to {MAX_STEPS} steps"),
        ));
    }
    let mut previous: Option<i32> = None;
    for (i, step) in body.steps.iter().enumerate() {
        let field = format!("steps[{i}].after_minutes");
        if !(0..=MAX_AFTER_MINUTES).contains(&step.after_minutes) {
            return Err(ApiError::validation(
                field,
                format!("a step starts 0 to {MAX_AFTER_MINUTES} minutes after the incident opened"),
            ));
        }
        if let Some(p) = previous
            && step.after_minutes <= p
        {
            return Err(ApiError::validation(
                field,
                format!("must be later than the previous step's {p} minutes"),
            ));
        }
        previous = Some(step.after_minutes);
        if step.channel_ids.is_empty() && step.member_ids.is_empty() {
            return Err(ApiError::validation(
                format!("steps[{i}].channel_ids"),
                "a step alerts at least one channel or member",
            ));
        }
        if step.channel_ids.len() > MAX_STEP_CHANNELS {
            return Err(ApiError::validation(
                format!("steps[{i}].channel_ids"),
                format!("a step alerts at most {MAX_STEP_CHANNELS} channels"),
            ));
        }
        if step.member_ids.len() > MAX_STEP_MEMBERS {
            return Err(ApiError::validation(
                format!("steps[{i}].member_ids"),
                format!("a step names at most {MAX_STEP_MEMBERS} members"),
            ));
        }
        if let Some(j) = first_repeat(&step.channel_ids) {
            return Err(ApiError::validation(
                format!("steps[{i}].channel_ids[{j}]"),
                "this channel is listed twice in the step",
            ));
        }
        if let Some(j) = first_repeat(&step.member_ids) {
            return Err(ApiError::validation(
                format!("steps[{i}].member_ids[{j}]"),
                "this member is listed twice in the step",
            ));
        }
    }
    if let Some(m) = body.reminder_minutes
        && !REMINDER_MINUTES.contains(&m)
    {
        return Err(ApiError::validation(
            "reminder_minutes",
            format!(
                "reminders are every {} to {} minutes (null: none)",
                REMINDER_MINUTES.start(),
                REMINDER_MINUTES.end()
            ),
        ));
    }
    if body.target_ids.len() > MAX_TARGETS {
        return Err(ApiError::validation(
            "target_ids",
            format!("a policy applies to at most {MAX_TARGETS} targets"),
        ));
    }
    if let Some(j) = first_repeat(&body.target_ids) {
        return Err(ApiError::validation(
            format!("target_ids[{j}]"),
            "this target is listed twice",
        ));
    }
    // As targets' tags: trimmed, bounded, duplicates dropped.
    if body.tags.len() > MAX_TAGS {
        return Err(ApiError::validation("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in body.tags.iter().enumerate() {
        let t = crate::validate::text(&format!("tags[{i}]"), t, MAX_TAG)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(ValidPolicy {
        name,
        steps: body.steps,
        reminder_minutes: body.reminder_minutes,
        target_ids: body.target_ids,
        tags,
    })
}

/// The index of the first id that repeats an earlier one.
fn first_repeat(ids: &[Uuid]) -> Option<usize> {
    (1..ids.len()).find(|&j| ids[..j].contains(&ids[j]))
}

/// Checks that every channel and target named is `owner`'s, and every member named belongs to
/// it (422 naming the first that does not).
async fn check_owned(tx: &mut sqlx::PgConnection, owner: Uuid, policy: &ValidPolicy) -> ApiResult<()> {
    let channel_ids: Vec<Uuid> = policy
        .steps
        .iter()
        .flat_map(|s| s.channel_ids.iter().copied())
        .collect();
    let channels: Vec<Uuid> = sqlx::query_scalar!(
        "select id from notification_channels where owner_id = $1 and id = any($2)",
        owner,
        &channel_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    for (i, step) in policy.steps.iter().enumerate() {
        if let Some(j) = step.channel_ids.iter().position(|c| !channels.contains(c)) {
            return Err(ApiError::validation(
                format!("steps[{i}].channel_ids[{j}]"),
                "no such channel",
            ));
        }
    }
    let member_ids: Vec<Uuid> = policy.steps.iter().flat_map(|s| s.member_ids.iter().copied()).collect();
    let members: Vec<Uuid> = sqlx::query_scalar!(
        "select user_id from memberships where org_id = $1 and user_id = any($2)",
        owner,
        &member_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    for (i, step) in policy.steps.iter().enumerate() {
        if let Some(j) = step.member_ids.iter().position(|m| !members.contains(m)) {
            return Err(ApiError::validation(
                format!("steps[{i}].member_ids[{j}]"),
                "no such member of this organisation",
            ));
        }
    }
    let targets: Vec<Uuid> = sqlx::query_scalar!(
        "select id from targets where owner_id = $1 and id = any($2)",
        owner,
        &policy.target_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    if let Some(j) = policy.target_ids.iter().position(|t| !targets.contains(t)) {
        return Err(ApiError::validation(format!("target_ids[{j}]"), "no such target"));
    }
    Ok(())
}

/// Replaces the targets of `policy` (the owner's only: a target deleted meanwhile is skipped).
async fn replace_targets(tx: &mut sqlx::PgConnection, owner: Uuid, policy: Uuid, targets: &[Uuid]) -> ApiResult<()> {
    sqlx::query!("delete from escalation_policy_targets where policy_id = $1", policy)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into escalation_policy_targets (policy_id, target_id) \
         select $1, id from targets where owner_id = $2 and id = any($3)",
        policy,
        owner,
        targets
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The policy `id` of `owner`, read through `db`.
async fn load_policy<'e>(db: impl sqlx::PgExecutor<'e>, owner: Uuid, id: Uuid) -> ApiResult<EscalationPolicy> {
    let row = select_policies!("where p.id = $1 and p.owner_id = $2", id, owner)
        .fetch_optional(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(row.into())
}

#[utoipa::path(get, path = "/api/escalation-policies", tag = "escalation",
    responses((status = 200, body = EscalationPolicyList, description = "your policies, oldest first (not paginated)")))]
async fn list_policies(Caller { state, user }: Caller) -> ApiResult<Json<EscalationPolicyList>> {
    let org = user.may(Action::Read)?;
    let items: Vec<EscalationPolicy> = select_policies!("where p.owner_id = $1 order by p.created_at, p.id", org)
        .fetch_all(&state.pool)
        .await?
        .into_iter()
        .map(EscalationPolicy::from)
        .collect();
    Ok(Json(EscalationPolicyList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/escalation-policies", tag = "escalation", request_body = EscalationPolicyBody,
    responses((status = 201, body = EscalationPolicy, description = "created"),
        (status = 422, description = "a field is invalid, named by `field` (`name`, `steps`, `steps[i].after_minutes`, \
         `steps[i].channel_ids[j]`, `steps[i].member_ids[j]`, `reminder_minutes`, `target_ids[j]`, `tags[i]`), or you have 50 policies already \
         (`field` max_escalation_policies)")))]
async fn create_policy(
    Caller { state, user }: Caller,
    body: Result<Json<EscalationPolicyBody>, ApiError>,
) -> ApiResult<(StatusCode, Json<EscalationPolicy>)> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let policy = check_shape(body)?;
    let mut tx = state.pool.begin().await?;
    // The owner's row is locked until commit, so concurrent creates count one after the other
    // (as quotas::reserve does).
    sqlx::query_scalar!("select id from organisations where id = $1 for update", org)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let existing: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from escalation_policies where owner_id = $1"#,
        org
    )
    .fetch_one(&mut *tx)
    .await?;
    crate::quotas::check_count(
        "max_escalation_policies",
        "escalation policies",
        existing,
        1,
        MAX_POLICIES,
    )?;
    check_owned(&mut tx, org, &policy).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "insert into escalation_policies (id, owner_id, name, steps, reminder_minutes, tags) \
         values ($1, $2, $3, $4, $5, $6)",
        id,
        org,
        &policy.name,
        sqlx::types::Json(&policy.steps) as _,
        policy.reminder_minutes,
        &policy.tags
    )
    .execute(&mut *tx)
    .await?;
    replace_targets(&mut tx, org, id, &policy.target_ids).await?;
    let created = load_policy(&mut *tx, org, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/api/escalation-policies/{id}", tag = "escalation", params(("id" = Uuid, Path, description = "the policy's id")),
    responses((status = 200, body = EscalationPolicy), (status = 404, description = "no such policy of yours")))]
async fn get_policy(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<EscalationPolicy>> {
    let org = user.may(Action::Read)?;
    Ok(Json(load_policy(&state.pool, org, id).await?))
}

#[utoipa::path(put, path = "/api/escalation-policies/{id}", tag = "escalation", params(("id" = Uuid, Path, description = "the policy's id")),
    request_body = EscalationPolicyBody,
    responses((status = 200, body = EscalationPolicy, description = "the policy, every field replaced"),
        (status = 404, description = "no such policy of yours"),
        (status = 422, description = "a field is invalid, named by `field` (as for POST)")))]
async fn update_policy(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<EscalationPolicyBody>, ApiError>,
) -> ApiResult<Json<EscalationPolicy>> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let mut tx = state.pool.begin().await?;
    // Foreign ids are 404 before any validation detail is revealed.
    sqlx::query_scalar!(
        "select id from escalation_policies where id = $1 and owner_id = $2 for update",
        id,
        org
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let policy = check_shape(body)?;
    check_owned(&mut tx, org, &policy).await?;
    sqlx::query!(
        "update escalation_policies set name = $3, steps = $4, reminder_minutes = $5, tags = $6, updated_at = now() \
         where id = $1 and owner_id = $2",
        id,
        org,
        &policy.name,
        sqlx::types::Json(&policy.steps) as _,
        policy.reminder_minutes,
        &policy.tags
    )
    .execute(&mut *tx)
    .await?;
    replace_targets(&mut tx, org, id, &policy.target_ids).await?;
    let updated = load_policy(&mut *tx, org, id).await?;
    tx.commit().await?;
    Ok(Json(updated))
}

owned_delete!(
    crate::access::Action::Manage,
    #[utoipa::path(delete, path = "/api/escalation-policies/{id}", tag = "escalation", params(("id" = Uuid, Path, description = "the policy's id")),
        responses((status = 204, description = "deleted (escalations under way for it stop)"), (status = 404, description = "no such policy of yours")))]
    delete_policy,
    "delete from escalation_policies where id = $1 and owner_id = $2"
);

/// What an acknowledgement link shows of its incident.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AckInfo {
    /// The incident.
    pub incident_id: Uuid,
    /// Its target's name.
    pub target_name: String,
    /// `down` or `degraded`.
    pub severity: String,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Resolved; null while open.
    #[schema(required = true)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Acknowledged; null until someone does.
    #[schema(required = true)]
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// The link's token, checked: rate limited per client, 503 without a secret key, 404 when not
/// valid, 410 when expired.
fn verify_link(state: &AppState, client: &ClientIp, token: &str) -> ApiResult<Ack> {
    public_rate(state, client)?;
    let Some(key) = state.secret_key.as_ref() else {
        return Err(ApiError::unavailable(
            "acknowledgement links need PINGTOWER_SECRET_KEY to be configured on the server",
        ));
    };
    Ack::verify(key, token, Utc::now()).map_err(|e| match e {
        AckError::Invalid => ApiError::not_found(),
        AckError::Expired => ApiError::gone(e.to_string()),
    })
}

/// The incident `id` as a link shows it (`None`: it no longer exists).
async fn load_ack_info(state: &AppState, id: Uuid) -> ApiResult<Option<AckInfo>> {
    Ok(sqlx::query_as!(
        AckInfo,
        "select i.id as incident_id, t.name as target_name, i.severity, i.opened_at, i.resolved_at, i.acknowledged_at \
         from incidents i join targets t on t.id = i.target_id where i.id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?)
}

/// An answer to a link: never kept by a browser or a proxy (the token in the URL is what
/// authenticates it).
fn ack_answer(info: AckInfo) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(info)).into_response()
}

/// The incident an alert's acknowledgement link names. Opening it changes nothing (mail
/// scanners follow links): `POST` acknowledges. Rate limited per client; cached per incident
/// for the public cache TTL (an acknowledgement through a link refreshes it).
#[utoipa::path(get, path = "/api/ack/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "the token of the alert's acknowledgement link")),
    responses((status = 200, body = AckInfo, description = "the incident (not acknowledged by this request)"),
        (status = 404, description = "not a valid link, or the incident no longer exists"),
        (status = 410, description = "the link has expired (links are valid for 7 days)"),
        (status = 429, description = "too many public requests from this client; see Retry-After"),
        (status = 503, description = "the server has no PINGTOWER_SECRET_KEY (or the database is unavailable)")))]
async fn ack_info(State(state): State<AppState>, client: ClientIp, Path(token): Path<String>) -> ApiResult<Response> {
    let ack = verify_link(&state, &client, &token)?;
    let info = state
        .edge
        .ack_cache
        .get_or_load(ack.incident_id, load_ack_info(&state, ack.incident_id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(ack_answer(info))
}

/// Acknowledges the incident a link names, as `POST /api/incidents/{id}/ack` does (no user:
/// `acknowledged_by` stays null); the first acknowledgement writes a timeline entry naming the
/// channel the link was sent to. No session needed.
#[utoipa::path(post, path = "/api/ack/{token}", tag = "public", security(()),
    params(("token" = String, Path, description = "the token of the alert's acknowledgement link")),
    responses((status = 200, body = AckInfo, description = "the incident, acknowledged (again: nothing changes)"),
        (status = 404, description = "not a valid link, or the incident no longer exists"),
        (status = 410, description = "the link has expired (links are valid for 7 days)"),
        (status = 429, description = "too many public requests from this client; see Retry-After"),
        (status = 503, description = "the server has no PINGTOWER_SECRET_KEY (or the database is unavailable)")))]
async fn acknowledge(
    State(state): State<AppState>,
    client: ClientIp,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let ack = verify_link(&state, &client, &token)?;
    let mut tx = state.pool.begin().await?;
    let acked = sqlx::query!(
        r#"update incidents set acknowledged_at = coalesce(acknowledged_at, now()), updated_at = now()
           where id = $1
           returning owner_id, (case when acknowledged_at = now() then acknowledged_at end) as "first_ack?""#,
        ack.incident_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    if let Some(at) = acked.first_ack {
        let channel = sqlx::query!(
            "select kind, label, address from notification_channels
             where id = $1 and (owner_id = $2 or (owner_id = user_id and exists
                   (select 1 from memberships m where m.org_id = $2 and m.user_id = notification_channels.user_id)))",
            ack.channel_id,
            acked.owner_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let by = match channel {
            Some(c) => {
                let name = c.label.filter(|l| !l.trim().is_empty()).unwrap_or(c.address);
                format!("a link sent to {} channel \"{name}\"", c.kind)
            }
            None => "a link in an alert".to_owned(),
        };
        crate::incidents::engine::timeline(
            &mut tx,
            ack.incident_id,
            at,
            "acknowledged",
            &format!("Acknowledged by {by}."),
        )
        .await?;
    }
    tx.commit().await?;
    let info = load_ack_info(&state, ack.incident_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    state.edge.ack_cache.insert(ack.incident_id, Some(info.clone()));
    Ok(ack_answer(info))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_policies,
        create_policy,
        get_policy,
        update_policy,
        delete_policy,
        ack_info,
        acknowledge
    ),
    components(schemas(
        EscalationStep,
        EscalationPolicyBody,
        EscalationPolicy,
        EscalationPolicyList,
        AckInfo
    ))
)]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;

    fn body(steps: &[(i32, usize)]) -> EscalationPolicyBody {
        EscalationPolicyBody {
            name: "  On call  ".into(),
            steps: steps
                .iter()
                .map(|&(after_minutes, n)| EscalationStep {
                    after_minutes,
                    channel_ids: (0..n).map(|_| Uuid::now_v7()).collect(),
                    member_ids: Vec::new(),
                })
                .collect(),
            reminder_minutes: None,
            target_ids: Vec::new(),
            tags: vec![" a ".into(), "a".into(), "b".into()],
        }
    }

    fn field(r: ApiResult<ValidPolicy>) -> String {
        r.expect_err("refused").field.expect("a field")
    }

    #[test]
    fn a_valid_body_is_trimmed_and_its_tags_deduplicated() {
        let p = check_shape(body(&[(0, 1), (10, 2)])).unwrap();
        assert_eq!(p.name, "On call");
        assert_eq!(p.tags, ["a", "b"]);
    }

    #[test]
    fn each_shape_problem_names_its_field() {
        assert_eq!(field(check_shape(body(&[]))), "steps");
        assert_eq!(field(check_shape(body(&[(0, 1); 11]))), "steps");
        assert_eq!(field(check_shape(body(&[(5, 1), (5, 1)]))), "steps[1].after_minutes");
        assert_eq!(field(check_shape(body(&[(1441, 1)]))), "steps[0].after_minutes");
        assert_eq!(field(check_shape(body(&[(0, 0)]))), "steps[0].channel_ids");
        assert_eq!(field(check_shape(body(&[(0, 11)]))), "steps[0].channel_ids");
        let mut twice = body(&[(0, 2)]);
        twice.steps[0].channel_ids[1] = twice.steps[0].channel_ids[0];
        assert_eq!(field(check_shape(twice)), "steps[0].channel_ids[1]");
        // A step of members only is fine; too many or repeated members are not.
        let mut members = body(&[(0, 0)]);
        members.steps[0].member_ids = vec![Uuid::now_v7()];
        assert!(check_shape(members).is_ok());
        let mut crowd = body(&[(0, 0)]);
        crowd.steps[0].member_ids = (0..11).map(|_| Uuid::now_v7()).collect();
        assert_eq!(field(check_shape(crowd)), "steps[0].member_ids");
        let mut again = body(&[(0, 0)]);
        let m = Uuid::now_v7();
        again.steps[0].member_ids = vec![m, m];
        assert_eq!(field(check_shape(again)), "steps[0].member_ids[1]");
        let mut reminder = body(&[(0, 1)]);
        reminder.reminder_minutes = Some(4);
        assert_eq!(field(check_shape(reminder)), "reminder_minutes");
        let mut name = body(&[(0, 1)]);
        name.name = "   ".into();
        assert_eq!(field(check_shape(name)), "name");
        let mut tag = body(&[(0, 1)]);
        tag.tags = vec!["x".repeat(51)];
        assert_eq!(field(check_shape(tag)), "tags[0]");
        let mut targets = body(&[(0, 1)]);
        let t = Uuid::now_v7();
        targets.target_ids = vec![t, Uuid::now_v7(), t];
        assert_eq!(field(check_shape(targets)), "target_ids[2]");
    }
}
