//! A heartbeat target's row beside its target: made with the target, kept in step with its
//! spec and pause, and read for the API.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use common::messages::CheckSpec;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Beat, Schedule, new_ping_key, new_token};
use crate::error::ApiError;

/// A heartbeat as the API shows it, inside its target.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeartbeatView {
    /// The slug URL (`{public}/ping/{ping_key}/{slug}`), when the heartbeat has a slug.
    pub slug_url: Option<String>,
    /// The last ping (not counting `log` pings).
    pub last_ping_at: Option<DateTime<Utc>>,
    /// The last success.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the run in progress started (`/start` without a finish yet).
    pub started_at: Option<DateTime<Utc>>,
    /// The last finished run's duration (a start, then a success or failure).
    pub last_duration_ms: Option<i64>,
    /// When the next ping is expected (none before the first ping and while paused).
    pub expected_at: Option<DateTime<Utc>>,
    /// When silence makes the target down (the expected time or the run's start, plus grace).
    pub alert_at: Option<DateTime<Utc>>,
    /// Pings received in all.
    pub pings: i64,
}

/// A target's ping URL and its heartbeat view.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `{public}/ping/{token}`.
    pub ping_url: String,
    /// The rest.
    pub view: HeartbeatView,
}

/// Joins `public_url` (no trailing slash) and a path.
fn join(public_url: &url::Url, path: &str) -> String {
    format!("{}{path}", public_url.as_str().trim_end_matches('/'))
}

/// The heartbeat views of `ids` (those that are heartbeats), by target.
pub async fn views(
    pool: &sqlx::PgPool,
    public_url: &url::Url,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Urls>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select h.target_id, h.token, h.slug, o.ping_key, h.last_ping_at, h.last_success_at, h.started_at,
                  h.last_duration_ms, h.expected_at, d.alert_at, h.pings
           from heartbeats h join organisations o on o.id = h.owner_id
           join heartbeat_deadlines d on d.target_id = h.target_id
           where h.target_id = any($1)"#,
        ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let slug_url = match (&r.ping_key, &r.slug) {
                (Some(key), Some(slug)) => Some(join(public_url, &format!("/ping/{key}/{slug}"))),
                _ => None,
            };
            (
                r.target_id,
                Urls {
                    ping_url: join(public_url, &format!("/ping/{}", r.token)),
                    view: HeartbeatView {
                        slug_url,
                        last_ping_at: r.last_ping_at,
                        last_success_at: r.last_success_at,
                        started_at: r.started_at,
                        last_duration_ms: r.last_duration_ms,
                        expected_at: r.expected_at,
                        alert_at: r.alert_at,
                        pings: r.pings,
                    },
                },
            )
        })
        .collect())
}

/// Keeps the heartbeat row of target `id` in step with its stored spec and pause: made (with
/// a new token, and the owner's ping key if they have none) for a new heartbeat, its slug
/// updated, its deadlines cleared while paused and recomputed from the last ping when the
/// schedule changed. A target that is no longer a heartbeat loses its row. `field` names the
/// slug in errors (`spec.slug`, `targets[3].spec.slug`).
pub async fn sync(
    conn: &mut sqlx::PgConnection,
    owner: Uuid,
    id: Uuid,
    spec: &CheckSpec,
    paused: bool,
    field: &str,
) -> Result<(), ApiError> {
    let CheckSpec::Heartbeat(h) = spec else {
        sqlx::query!("delete from heartbeats where target_id = $1", id)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    };
    // Validated already (`validate::spec`): a failure here is a fault, not the user's input.
    let schedule = Schedule::of(h).map_err(|e| ApiError::internal(format!("a validated schedule: {}", e.message)))?;
    if let Some(slug) = &h.slug {
        let taken = sqlx::query_scalar!(
            r#"select exists (select 1 from heartbeats where owner_id = $1 and slug = $2 and target_id <> $3) as "taken!""#,
            owner,
            slug,
            id
        )
        .fetch_one(&mut *conn)
        .await?;
        if taken {
            return Err(ApiError::validation(field, "another of your heartbeats has this slug"));
        }
    }
    sqlx::query!(
        "update organisations set ping_key = $2 where id = $1 and ping_key is null",
        owner,
        new_ping_key()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "with h as (
             insert into heartbeats (target_id, owner_id, token, slug) values ($1, $2, $3, $4)
             on conflict (target_id) do update set slug = excluded.slug returning target_id
         )
         insert into heartbeat_deadlines (target_id) select target_id from h on conflict do nothing",
        id,
        owner,
        new_token(),
        h.slug.as_deref()
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        "select h.last_ping_at, h.last_success_at, h.started_at, h.last_duration_ms, h.expected_at, d.alert_at
         from heartbeats h join heartbeat_deadlines d on d.target_id = h.target_id
         where h.target_id = $1 for update of h, d",
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut beat = Beat {
        last_ping_at: row.last_ping_at,
        last_success_at: row.last_success_at,
        started_at: row.started_at,
        last_duration_ms: row.last_duration_ms,
        expected_at: row.expected_at,
        alert_at: row.alert_at,
    };
    let grace = chrono::Duration::seconds(i64::from(h.grace_seconds));
    beat.reschedule(&schedule, grace, paused);
    sqlx::query!(
        "with deadline as (update heartbeat_deadlines set alert_at = $4 where target_id = $1)
         update heartbeats set started_at = $2, expected_at = $3 where target_id = $1",
        id,
        beat.started_at,
        beat.expected_at,
        beat.alert_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives heartbeat `id` of `owner` a new ping token (the old URL stops working at once on
/// every backend: the ping writer looks tokens up as it stores their pings); `false` when
/// there is no such heartbeat of theirs.
pub async fn rotate_token(pool: &sqlx::PgPool, owner: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "update heartbeats set token = $3 where target_id = $1 and owner_id = $2",
        id,
        owner,
        new_token()
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
