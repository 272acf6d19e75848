//! Explicit dependencies in the engine: an incident that opens while one of its target's
//! dependencies (its own, or its tags') has an incident open is linked to that incident
//! (`incidents.caused_by`) and held: stored, timed and published for the dashboard and the
//! report writer, with `caused_by.held` so the notifier sends nothing.
//!
//! - When the cause resolves, each incident it holds that is still open is linked to another
//!   open incident of its dependencies if there is one (it keeps waiting), or else released:
//!   its `opened` event is published again with `released_at`, and the owner hears of it then.
//!   The release is a state change (`held` → `released`) in the batch's transaction, so a
//!   redelivered result releases nothing twice; the notifier's log makes the sends once.
//! - An incident that resolves while held becomes `silent`: its resolution is held too, and
//!   nothing about it is ever sent.
//! - An incident already notified when one of its dependencies goes down is linked to the
//!   dependency's incident for display; nothing else changes.
//!
//! The mechanism knows only "this incident is explained by that one": a later correlation of
//! incidents can hold and release through [`hold`] and [`release_held_by`] the same way.

use chrono::{DateTime, Utc};
use common::messages::{
    CausedBy, CheckKind, CheckResult, Evidence, IncidentEvent, IncidentEventKind, TargetRef, TargetStatus,
};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::engine::{EngineError, address_of, outbox, timeline};

/// An open incident that explains another.
#[derive(Debug, Clone)]
pub struct Cause {
    /// Its incident.
    pub incident_id: Uuid,
    /// Its target.
    pub target_id: Uuid,
    /// Its target's name.
    pub target_name: String,
}

impl Cause {
    /// The message form, `held` or not.
    pub fn as_message(&self, held: bool) -> CausedBy {
        CausedBy {
            incident_id: self.incident_id,
            target_id: self.target_id,
            target_name: self.target_name.clone(),
            held,
            released_at: None,
        }
    }
}

/// The oldest open incident among the dependencies of `target` (carrying `tags`), other than
/// `except`: what holds a new incident of `target`.
pub async fn cause_of(
    tx: &mut PgConnection,
    target: &TargetRef,
    tags: &[String],
    except: Option<Uuid>,
) -> Result<Option<Cause>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select i.id as "incident_id!", t.id as "target_id!", t.name as "target_name!"
           from incidents i join targets t on t.id = i.target_id
           where i.resolved_at is null and t.owner_id = $2 and t.id <> $1
             and ($4::uuid is null or i.id <> $4)
             and t.id in (select depends_on from target_dependencies where target_id = $1
                          union
                          select depends_on from tag_dependencies where owner_id = $2 and tag = any($3))
           order by i.opened_at, i.id
           limit 1"#,
        target.id,
        target.owner_id,
        tags,
        except
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| Cause {
        incident_id: r.incident_id,
        target_id: r.target_id,
        target_name: r.target_name,
    }))
}

/// Records that `incident` (just opened, stored as `held`) waits for `cause`.
pub async fn hold(tx: &mut PgConnection, incident: Uuid, at: DateTime<Utc>, cause: &Cause) -> Result<(), sqlx::Error> {
    timeline(
        tx,
        incident,
        at,
        "held",
        &format!(
            "Linked to the incident of {}, a dependency that is down: notifications wait until it recovers.",
            cause.target_name
        ),
    )
    .await
}

/// Links the open, not yet linked incidents of the targets that depend on `target` to its
/// incident `incident` (just opened): they were notified already, the link is for display.
pub async fn link_dependants(
    tx: &mut PgConnection,
    target: &TargetRef,
    incident: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let linked = sqlx::query_scalar!(
        "update incidents i set caused_by = $3, updated_at = now()
         from targets t
         where t.id = i.target_id and t.owner_id = $2 and t.id <> $1
           and i.resolved_at is null and i.caused_by is null and i.id <> $3
           and (exists (select 1 from target_dependencies d where d.target_id = t.id and d.depends_on = $1)
                or exists (select 1 from tag_dependencies g
                           where g.owner_id = $2 and g.depends_on = $1 and g.tag = any(t.tags)))
         returning i.id",
        target.id,
        target.owner_id,
        incident
    )
    .fetch_all(&mut *tx)
    .await?;
    for id in linked {
        timeline(
            tx,
            id,
            at,
            "linked",
            &format!("{}, a dependency, went down too: linked to its incident.", target.name),
        )
        .await?;
    }
    Ok(())
}

/// The cause of `incident` as its events name it (`held` while it waits), if it has one.
pub async fn event_cause(tx: &mut PgConnection, incident: Uuid) -> Result<Option<CausedBy>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select c.id as "incident_id!", t.id as "target_id!", t.name as "target_name!",
                  i.notify_state, i.released_at
           from incidents i join incidents c on c.id = i.caused_by join targets t on t.id = c.target_id
           where i.id = $1"#,
        incident
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| CausedBy {
        incident_id: r.incident_id,
        target_id: r.target_id,
        target_name: r.target_name,
        held: matches!(r.notify_state.as_str(), "held" | "silent"),
        released_at: r.released_at,
    }))
}

/// A held incident of a dependant, as loaded to relink or release it.
struct Held {
    id: Uuid,
    opened_at: DateTime<Utc>,
    regions: Vec<String>,
    severity: String,
    evidence: Json<Evidence>,
    target_id: Uuid,
    owner_id: Uuid,
    name: String,
    kind: String,
    spec: Json<serde_json::Value>,
    tags: Vec<String>,
}

/// After `incident` resolved at `at`: if it was held, it becomes silent (nothing about it is
/// ever sent).
pub async fn on_resolved(tx: &mut PgConnection, incident: Uuid, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let silenced = sqlx::query_scalar!(
        r#"update incidents i set notify_state = 'silent'
           where i.id = $1 and i.notify_state = 'held'
           returning (select t.name from incidents c join targets t on t.id = c.target_id
                      where c.id = i.caused_by) as "cause?""#,
        incident
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(cause) = silenced {
        let cause = cause.unwrap_or_else(|| "its dependency".to_owned());
        timeline(
            tx,
            incident,
            at,
            "silent",
            &format!("Recovered while {cause} was still down: nothing was sent."),
        )
        .await?;
    }
    Ok(())
}

/// After `incident` resolved at `at` (the result `result`): the incidents it held that are
/// still open wait for another open incident of their dependencies, or are released (their
/// `opened` event goes out now, once).
pub async fn release_held_by(
    tx: &mut PgConnection,
    incident: Uuid,
    at: DateTime<Utc>,
    result: &CheckResult,
) -> Result<(), EngineError> {
    let (cause_target, cause_name) = sqlx::query!(
        "select t.id, t.name from incidents i join targets t on t.id = i.target_id where i.id = $1",
        incident
    )
    .fetch_one(&mut *tx)
    .await
    .map(|r| (r.id, r.name))?;
    let held = sqlx::query_as!(
        Held,
        r#"select i.id, i.opened_at, i.regions, i.severity, i.evidence as "evidence: Json<Evidence>",
                  t.id as target_id, t.owner_id, t.name, t.kind, t.spec as "spec: Json<serde_json::Value>", t.tags
           from incidents i join targets t on t.id = i.target_id
           where i.caused_by = $1 and i.notify_state = 'held' and i.resolved_at is null
           order by i.opened_at, i.id
           for update of i"#,
        incident
    )
    .fetch_all(&mut *tx)
    .await?;
    for h in held {
        let target = TargetRef {
            id: h.target_id,
            owner_id: h.owner_id,
            name: h.name.clone(),
            check_kind: serde_json::from_value(serde_json::Value::String(h.kind.clone())).unwrap_or(CheckKind::Http),
            address: address_of(&h.spec.0).unwrap_or_default(),
        };
        if let Some(next) = cause_of(tx, &target, &h.tags, Some(h.id)).await? {
            sqlx::query!(
                "update incidents set caused_by = $2, updated_at = now() where id = $1",
                h.id,
                next.incident_id
            )
            .execute(&mut *tx)
            .await?;
            timeline(
                tx,
                h.id,
                at,
                "held",
                &format!(
                    "{cause_name} recovered; {} is still down: notifications keep waiting.",
                    next.target_name
                ),
            )
            .await?;
            continue;
        }
        sqlx::query!(
            "update incidents set notify_state = 'released', released_at = $2, updated_at = now() where id = $1",
            h.id,
            at
        )
        .execute(&mut *tx)
        .await?;
        timeline(
            tx,
            h.id,
            at,
            "released",
            &format!("{cause_name} recovered and {} is still down: notified now.", h.name),
        )
        .await?;
        let event = IncidentEvent {
            incident_id: h.id,
            kind: IncidentEventKind::Opened,
            target: Some(target),
            state: if h.severity == "degraded" {
                TargetStatus::Degraded
            } else {
                TargetStatus::Down
            },
            regions: h.regions,
            started_at: h.opened_at,
            resolved_at: None,
            pinger_id: None,
            evidence: h.evidence.0,
            caused_by: Some(CausedBy {
                incident_id: incident,
                target_id: cause_target,
                target_name: cause_name.clone(),
                held: false,
                released_at: Some(at.max(h.opened_at)),
            }),
            group: None,
        };
        outbox(tx, result, event).await?;
    }
    Ok(())
}
