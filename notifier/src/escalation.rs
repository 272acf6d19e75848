//! Escalation policies and reminders.
//!
//! A policy (`escalation_policies`, written by the backend) is attached to targets or tags and
//! has ordered steps: "Telegram now → PagerDuty after 10 min unacknowledged → the team's Slack
//! after 30 min", and optionally a reminder every N minutes while the incident stays open and
//! unacknowledged.
//!
//! - When an incident opens, [`start`] copies each policy that applies into an
//!   `escalation_runs` row (an edit of the policy does not change a run under way). Steps due
//!   at once go with the alert itself (and so through the mass-outage digest); the channels of
//!   later steps get nothing about the incident until their step ([`Plan::waiting`]).
//! - [`run`] wakes every tick and [`send_due`] sends the steps and reminders that are due at
//!   the clock's `now`. Acknowledging (dashboard, API, Telegram button, signed link) or
//!   resolving stops a run before its next message, and the incident's timeline records every
//!   step, reminder and stop.
//! - Exactly once: each message is claimed in the notification log as
//!   `escalation:{policy}:{step}` or `reminder:{n}` per channel, and a run moves to its next
//!   step only when every channel of the step is settled. A notifier restarted mid-policy sends
//!   the overdue steps in order, each once; overdue reminders collapse into one.

use std::collections::HashSet;
use std::time::Duration;

use bus::HandlerError;
use chrono::{DateTime, Utc};
use common::messages::{Envelope, IncidentEvent, IncidentEventKind};
use serde::Deserialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::deliver::Deliverer;
use common::db::timeline;

use crate::store::{self, Recipient};

/// How long a step keeps retrying a channel that fails transiently before the run moves on
/// without it (the timeline says so).
pub const STEP_RETRY_FOR: chrono::Duration = chrono::Duration::minutes(15);

/// Most runs looked at per tick (the rest wait for the next).
const BATCH: i64 = 200;

/// One step of a policy, as the backend stores it.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    /// Minutes after the incident opened.
    pub after_minutes: i64,
    /// The organisation's channels it reaches.
    #[serde(default)]
    pub channel_ids: Vec<Uuid>,
    /// Members it reaches, each on the channels of their personal organisation.
    #[serde(default)]
    pub member_ids: Vec<Uuid>,
}

/// The personal channels of the members some steps name, as [`store::member_channels`]
/// answers them.
struct Personal(Vec<(Uuid, Uuid)>);

impl Personal {
    /// Reads the personal channels of every member `steps` name who still belongs to `owner`.
    async fn of(pool: &PgPool, owner: Uuid, steps: &[Step]) -> Result<Self, sqlx::Error> {
        let members: Vec<Uuid> = steps.iter().flat_map(|s| s.member_ids.iter().copied()).collect();
        if members.is_empty() {
            return Ok(Self(Vec::new()));
        }
        Ok(Self(store::member_channels(pool, owner, &members).await?))
    }

    /// The channels of `member`.
    fn of_member(&self, member: Uuid) -> impl Iterator<Item = Uuid> + '_ {
        self.0.iter().filter(move |(m, _)| *m == member).map(|(_, c)| *c)
    }

    /// Every channel `step` reaches: its own and its members'.
    fn channels<'a>(&'a self, step: &'a Step) -> impl Iterator<Item = Uuid> + 'a {
        step.channel_ids
            .iter()
            .copied()
            .chain(step.member_ids.iter().flat_map(|m| self.of_member(*m)))
    }
}

/// The steps of a run, parsed (malformed steps: none).
fn steps(value: &serde_json::Value) -> Vec<Step> {
    Vec::<Step>::deserialize(value).unwrap_or_default()
}

/// When step `n` of `steps` is due for a run started at `started` (`None`: no such step).
fn step_due(steps: &[Step], n: usize, started: DateTime<Utc>) -> Option<DateTime<Utc>> {
    steps
        .get(n)
        .map(|s| started + chrono::Duration::minutes(s.after_minutes.max(0)))
}

/// Starts the policies of `event`'s owner that apply to its target (attached to it, or sharing
/// a tag): one run each, once (a redelivered event starts nothing). Steps due at once are
/// marked as sent with the alert. Answers how many runs started.
pub async fn start(pool: &PgPool, event: &IncidentEvent) -> Result<u64, sqlx::Error> {
    let Some(target) = &event.target else { return Ok(0) };
    if event.kind != IncidentEventKind::Opened {
        return Ok(0);
    }
    let payload = serde_json::to_value(event).expect("an event serialises");
    // A released incident (held while a dependency was down) is news from its release on.
    let from = event
        .caused_by
        .as_ref()
        .and_then(|c| c.released_at)
        .unwrap_or(event.started_at);
    let mut tx = pool.begin().await?;
    let started = sqlx::query!(
        r#"insert into escalation_runs
              (incident_id, policy_id, policy_name, steps, reminder_minutes, started_at, event,
               next_step, step_due_at, reminder_due_at)
           select $1, p.id, p.name, p.steps, p.reminder_minutes, $2::timestamptz, $3, 0, $2::timestamptz,
                  $2::timestamptz + make_interval(mins => p.reminder_minutes)
           from escalation_policies p
           where p.owner_id = $4
             and (exists (select 1 from escalation_policy_targets pt
                          where pt.policy_id = p.id and pt.target_id = $5)
                  or p.tags && (select t.tags from targets t where t.id = $5))
             and exists (select 1 from incidents i where i.id = $1)
           on conflict (incident_id, policy_id) do nothing
           returning policy_id, policy_name, steps"#,
        event.incident_id,
        from,
        payload,
        target.owner_id,
        target.id,
    )
    .fetch_all(&mut *tx)
    .await?;
    for run in &started {
        let steps = steps(&run.steps);
        // The steps due at once go with the alert.
        let immediate = steps.iter().take_while(|s| s.after_minutes <= 0).count();
        sqlx::query!(
            "update escalation_runs set next_step = $3, step_due_at = $4
             where incident_id = $1 and policy_id = $2",
            event.incident_id,
            run.policy_id,
            immediate as i32,
            step_due(&steps, immediate, from),
        )
        .execute(&mut *tx)
        .await?;
        let later: Vec<String> = steps[immediate..]
            .iter()
            .map(|s| format!("after {} min", s.after_minutes))
            .collect();
        let message = match (immediate, later.is_empty()) {
            (0, _) => format!("Escalation “{}” started: steps {}.", run.policy_name, later.join(", ")),
            (_, true) => format!("Escalation “{}”: step 1 went with the alert.", run.policy_name),
            (_, false) => format!(
                "Escalation “{}” started: step 1 went with the alert; next {}.",
                run.policy_name,
                later.join(", ")
            ),
        };
        timeline(&mut tx, event.incident_id, Utc::now(), "escalation", &message).await?;
    }
    tx.commit().await?;
    Ok(started.len() as u64)
}

/// Who gets an incident's messages under its runs: the channels of steps sent (or going with
/// the alert), and those of steps still to come that nothing has reached yet.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// Channels of steps already sent or due with the alert.
    pub reached: HashSet<Uuid>,
    /// Channels of later steps not reached yet: they get nothing about the incident before
    /// their step.
    pub waiting: HashSet<Uuid>,
}

/// The [`Plan`] of `incident` (empty when no policy runs for it).
pub async fn plan(pool: &PgPool, incident: Uuid) -> Result<Plan, sqlx::Error> {
    let runs = sqlx::query!(
        "select r.steps, r.next_step, i.owner_id from escalation_runs r join incidents i on i.id = r.incident_id
         where r.incident_id = $1",
        incident
    )
    .fetch_all(pool)
    .await?;
    let mut plan = Plan::default();
    let Some(owner) = runs.first().map(|r| r.owner_id) else {
        return Ok(plan);
    };
    let runs: Vec<(Vec<Step>, i32)> = runs.into_iter().map(|r| (steps(&r.steps), r.next_step)).collect();
    let all: Vec<Step> = runs.iter().flat_map(|(s, _)| s.iter().cloned()).collect();
    let personal = Personal::of(pool, owner, &all).await?;
    let mut later = HashSet::new();
    for (steps, next_step) in &runs {
        for (n, step) in steps.iter().enumerate() {
            if (n as i32) < *next_step {
                plan.reached.extend(personal.channels(step));
            } else {
                later.extend(personal.channels(step));
            }
        }
    }
    // A channel a later step names but that an escalation message reached already (another
    // policy's step) is reached.
    let escalated: Vec<Uuid> = sqlx::query_scalar!(
        "select channel_id from notification_log
         where incident_id = $1 and kind like 'escalation:%' and status = 'sent'",
        incident
    )
    .fetch_all(pool)
    .await?;
    plan.reached.extend(escalated);
    plan.waiting = later.difference(&plan.reached).copied().collect();
    Ok(plan)
}

/// Sends due steps and reminders every `tick` until `shutdown`, on the real clock.
pub async fn run(deliverer: Deliverer, pool: PgPool, tick: Duration, shutdown: CancellationToken) {
    loop {
        if let Err(error) = send_due(&deliverer, &pool, Utc::now()).await {
            warn!(
                error = format!("{error:#}"),
                "sending escalation steps failed; trying again"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// What [`send_due`] did in one round.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Steps sent.
    pub steps: usize,
    /// Reminders sent.
    pub reminders: usize,
    /// Runs stopped (acknowledged or resolved).
    pub stopped: usize,
}

/// Stops the runs of acknowledged or resolved incidents, then sends every step and reminder
/// due at `now` (the clock is a parameter: tests step it). A run whose channel fails
/// transiently stays where it is and is tried again next round.
pub async fn send_due(deliverer: &Deliverer, pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Round> {
    let mut round = Round {
        stopped: stop_finished(pool, now).await?,
        ..Round::default()
    };
    let due = sqlx::query!(
        "select incident_id, policy_id from escalation_runs
         where stopped_at is null and (step_due_at <= $1 or reminder_due_at <= $1)
         order by least(step_due_at, reminder_due_at) limit $2",
        now,
        BATCH
    )
    .fetch_all(pool)
    .await?;
    for run in due {
        match advance(deliverer, pool, run.incident_id, run.policy_id, now).await {
            Ok((steps, reminders)) => {
                round.steps += steps;
                round.reminders += reminders;
            }
            Err(e) => {
                warn!(incident_id = %run.incident_id, policy_id = %run.policy_id, error = %e, "escalation not sent yet");
            }
        }
    }
    Ok(round)
}

/// Stops the runs whose incident is acknowledged or resolved; the timeline says so for an
/// acknowledgement that cut a policy short.
async fn stop_finished(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stopped = sqlx::query!(
        r#"update escalation_runs r
           set stopped_at = $1, step_due_at = null, reminder_due_at = null,
               stopped_reason = case when i.resolved_at is not null then 'resolved' else 'acknowledged' end
           from incidents i
           where i.id = r.incident_id and r.stopped_at is null
             and (i.resolved_at is not null or i.acknowledged_at is not null)
           returning r.incident_id, r.policy_name, r.stopped_reason as "reason!",
                     r.next_step, jsonb_array_length(r.steps) as "steps!""#,
        now
    )
    .fetch_all(&mut *tx)
    .await?;
    for s in &stopped {
        if s.reason == "acknowledged" {
            let left = (s.steps - s.next_step).max(0);
            let message = if left > 0 {
                format!(
                    "Escalation “{}” stopped: acknowledged ({left} step{} not sent).",
                    s.policy_name,
                    if left == 1 { "" } else { "s" }
                )
            } else {
                format!("Escalation “{}” stopped: acknowledged.", s.policy_name)
            };
            timeline(&mut tx, s.incident_id, now, "escalation", &message).await?;
        }
    }
    tx.commit().await?;
    if !stopped.is_empty() {
        debug!(stopped = stopped.len(), "escalation runs stopped");
    }
    Ok(stopped.len())
}

/// Sends what is due of one run (locked meanwhile, so two notifiers never send it twice):
/// every overdue step in order, then one reminder. Answers (steps, reminders) sent.
async fn advance(
    deliverer: &Deliverer,
    pool: &PgPool,
    incident: Uuid,
    policy: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<(usize, usize)> {
    let mut tx = pool.begin().await?;
    let Some(run) = sqlx::query!(
        r#"select r.policy_name, r.steps, r.reminder_minutes, r.started_at, r.event, r.next_step,
                  r.step_due_at, r.reminders_sent, r.reminder_due_at,
                  i.acknowledged_at, i.resolved_at, i.owner_id, i.target_id
           from escalation_runs r join incidents i on i.id = r.incident_id
           where r.incident_id = $1 and r.policy_id = $2 and r.stopped_at is null
           for update of r skip locked"#,
        incident,
        policy
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok((0, 0));
    };
    // Acknowledged or resolved since the round began: the next round stops it.
    if run.acknowledged_at.is_some() || run.resolved_at.is_some() {
        return Ok((0, 0));
    }
    let event: IncidentEvent = serde_json::from_value(run.event)?;
    let mut envelope = Envelope::new(event);
    envelope.occurred_at = run.started_at;
    let steps = steps(&run.steps);
    let tags = store::target_facts(pool, run.target_id)
        .await?
        .map(|(_, tags)| tags)
        .unwrap_or_default();
    let subject = Subject {
        owner: run.owner_id,
        target: run.target_id,
        tags: &tags,
    };
    let (mut next, mut due) = (run.next_step.max(0) as usize, run.step_due_at);
    let mut sent_steps = 0;
    while let Some(at) = due.filter(|at| *at <= now) {
        let Some(step) = steps.get(next) else { break };
        let reached = send_step(
            deliverer,
            pool,
            &envelope,
            policy,
            &run.policy_name,
            next,
            step,
            &subject,
            at,
            now,
        )
        .await?;
        next += 1;
        due = step_due(&steps, next, run.started_at);
        sqlx::query!(
            "update escalation_runs set next_step = $3, step_due_at = $4 where incident_id = $1 and policy_id = $2",
            incident,
            policy,
            next as i32,
            due
        )
        .execute(&mut *tx)
        .await?;
        let message = format!(
            "Escalation “{}”, step {} of {} (unacknowledged for {} min): {}.",
            run.policy_name,
            next,
            steps.len(),
            step.after_minutes,
            reached
        );
        timeline(&mut tx, incident, now, "escalation", &message).await?;
        sent_steps += 1;
    }
    let mut sent_reminders = 0;
    if let (Some(at), Some(minutes)) = (run.reminder_due_at.filter(|at| *at <= now), run.reminder_minutes) {
        let n = run.reminders_sent + 1;
        let reached = send_reminder(deliverer, pool, &envelope, &subject, n, now).await?;
        let every = chrono::Duration::minutes(i64::from(minutes));
        // Overdue reminders (the notifier was down) collapse into this one.
        let mut next_at = at + every;
        if next_at <= now {
            next_at = now + every;
        }
        sqlx::query!(
            "update escalation_runs set reminders_sent = $3, reminder_due_at = $4
             where incident_id = $1 and policy_id = $2",
            incident,
            policy,
            n,
            next_at
        )
        .execute(&mut *tx)
        .await?;
        let open_for = (now - run.started_at).num_minutes();
        timeline(
            &mut tx,
            incident,
            now,
            "reminder",
            &format!("Reminder {n} (open for {open_for} min): {reached}."),
        )
        .await?;
        sent_reminders = 1;
    }
    tx.commit().await?;
    if sent_steps + sent_reminders > 0 {
        info!(incident_id = %incident, policy_id = %policy, steps = sent_steps, reminders = sent_reminders, "escalated");
    }
    Ok((sent_steps, sent_reminders))
}

/// Whose incident a run is about: the owner, the target and its tags (read once per run,
/// for every channel's routing rules).
struct Subject<'a> {
    owner: Uuid,
    target: Uuid,
    tags: &'a [String],
}

/// Sends step `n` to its channels; answers what the timeline says about whom it reached. A
/// transient failure fails the step (tried again next round) until [`STEP_RETRY_FOR`] after
/// it was due, then the step goes on without that channel.
#[allow(clippy::too_many_arguments)]
async fn send_step(
    deliverer: &Deliverer,
    pool: &PgPool,
    envelope: &Envelope<IncidentEvent>,
    policy: Uuid,
    policy_name: &str,
    n: usize,
    step: &Step,
    subject: &Subject<'_>,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let log_kind = format!("escalation:{policy}:{n}");
    let mut said = Vec::new();
    let personal = Personal::of(pool, subject.owner, std::slice::from_ref(step)).await?;
    // The organisation's channels, then each member's own; a member without one is named.
    let mut reach: Vec<(Uuid, Option<String>)> = step.channel_ids.iter().map(|c| (*c, None)).collect();
    for &member in &step.member_ids {
        let who = store::member_name(pool, subject.owner, member)
            .await?
            .map_or_else(|| "a former member".to_owned(), |email| format!("member {email}"));
        let mut theirs = personal.of_member(member).peekable();
        if theirs.peek().is_none() {
            said.push(format!("{who} (no channel of their own)"));
        }
        reach.extend(theirs.map(|c| (c, Some(who.clone()))));
    }
    for (channel, who) in reach {
        let whose = |text: String| match &who {
            Some(who) => format!("{who}'s {text}"),
            None => text,
        };
        let Some(r) = store::unmuted_channels(pool, subject.owner, subject.target, &[channel])
            .await?
            .pop()
        else {
            said.push(match &who {
                Some(who) => format!("{who}'s channel that is disabled, muted or gone"),
                None => "a channel that is disabled, muted or gone".to_owned(),
            });
            continue;
        };
        let note = (n + 1, step.after_minutes, policy_name);
        match deliverer
            .deliver_step(envelope, &r, &log_kind, note, subject.tags)
            .await
        {
            Ok(true) => said.push(whose(describe(&r))),
            Ok(false) => said.push(format!("{} (skipped by its routing rules)", whose(describe(&r)))),
            Err(HandlerError::Transient(e)) if now - due < STEP_RETRY_FOR => return Err(e),
            Err(e) => said.push(format!("{} (failed: {e})", whose(describe(&r)))),
        }
    }
    Ok(if said.is_empty() {
        "no channel".to_owned()
    } else {
        format!("sent to {}", said.join(", "))
    })
}

/// Sends reminder `n` to the channels that have the incident (the owner's channels for the
/// target that no later step is waiting for, and those escalation reached).
async fn send_reminder(
    deliverer: &Deliverer,
    pool: &PgPool,
    envelope: &Envelope<IncidentEvent>,
    subject: &Subject<'_>,
    n: i32,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let (owner, target) = (subject.owner, subject.target);
    let all = store::recipients_for_target(pool, owner, target).await?;
    let recipients = with_plan(pool, envelope.payload.incident_id, all, owner, target).await?;
    let log_kind = format!("reminder:{n}");
    let mut reached = 0;
    for r in &recipients {
        match deliverer
            .deliver_reminder(envelope, r, &log_kind, now, subject.tags)
            .await
        {
            Ok(true) => reached += 1,
            Ok(false) => {}
            Err(HandlerError::Transient(e)) => return Err(e),
            Err(e) => debug!(channel_id = %r.channel_id, error = %e, "reminder not sent"),
        }
    }
    Ok(format!(
        "sent to {reached} channel{}",
        if reached == 1 { "" } else { "s" }
    ))
}

/// `recipients` (the owner's channels for the target) under `incident`'s escalation policies:
/// without the channels of steps still to come, with those of steps sent or due with the
/// alert (unless muted).
pub async fn with_plan(
    pool: &PgPool,
    incident: Uuid,
    mut recipients: Vec<Recipient>,
    owner: Uuid,
    target: Uuid,
) -> Result<Vec<Recipient>, sqlx::Error> {
    let plan = plan(pool, incident).await?;
    recipients.retain(|r| !plan.waiting.contains(&r.channel_id));
    let missing: Vec<Uuid> = plan
        .reached
        .iter()
        .filter(|c| recipients.iter().all(|r| r.channel_id != **c))
        .copied()
        .collect();
    if !missing.is_empty() {
        recipients.extend(store::unmuted_channels(pool, owner, target, &missing).await?);
    }
    Ok(recipients)
}

/// A channel as the timeline names it: its kind and what the dashboard shows of it.
fn describe(r: &Recipient) -> String {
    format!("{} {}", r.kind, r.address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_due_at_their_minutes_after_the_start() {
        let started = Utc::now();
        let steps = steps(&serde_json::json!([
            {"after_minutes": 0, "channel_ids": []},
            {"after_minutes": 10, "channel_ids": []},
            {"after_minutes": 30, "channel_ids": []},
        ]));
        assert_eq!(step_due(&steps, 0, started), Some(started));
        assert_eq!(
            step_due(&steps, 2, started),
            Some(started + chrono::Duration::minutes(30))
        );
        assert_eq!(step_due(&steps, 3, started), None);
        assert!(super::steps(&serde_json::json!({"not": "steps"})).is_empty());
    }
}
