//! The mass-outage digest: when an owner's incidents open (or resolve) within the digest
//! window, each channel gets **one** message listing them instead of one per incident.
//!
//! - `opened` and `resolved` events of targets wait in `notification_pending`, keyed by
//!   (incident, kind), and the broker's message is acked: PostgreSQL holds them from here, so a
//!   restart loses nothing.
//! - Once the oldest pending event of an (owner, kind) is a window old, all of that owner's
//!   pending events of the kind are taken together. A channel concerned by one of them gets
//!   its alert as usual; a channel concerned by several gets one digest (names, what failed,
//!   "and N more" past [`DIGEST_LIMIT`]).
//! - Exactly once per (incident, channel, kind) still holds: the digest is claimed in the
//!   notification log under a key derived from the channel and its incidents, and once it is
//!   sent each incident gets its own `sent` row, so a redelivered event sends nothing again
//!   and the resolution answers the digest's message.

use std::collections::BTreeMap;
use std::time::Duration;

use bus::HandlerError;
use chrono::{DateTime, Utc};
use common::messages::{Envelope, IncidentEvent, IncidentEventKind};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::deliver::Deliverer;
use crate::store::Recipient;

/// The most incidents a digest names; the rest are "and N more".
pub const DIGEST_LIMIT: usize = 25;
/// The namespace of digest keys (UUID v5 of the channel, the kind and the incidents).
const DIGEST_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0b7e_4f7a_4f0e_9a51_2f4c_8d3e_0001);

/// Whether `event` waits for the digest (opened and resolved events of targets).
pub fn digested(event: &IncidentEvent) -> bool {
    event.target.is_some() && matches!(event.kind, IncidentEventKind::Opened | IncidentEventKind::Resolved)
}

/// Puts `envelope`'s event in the digest's waiting room, unless the log shows it was
/// delivered already (a redelivery).
pub async fn hold(pool: &PgPool, envelope: &Envelope<IncidentEvent>) -> Result<(), sqlx::Error> {
    let event = &envelope.payload;
    let owner = event
        .target
        .as_ref()
        .map(|t| t.owner_id)
        .expect("digested() checked the target");
    let json = serde_json::to_value(event).expect("an event serialises");
    sqlx::query!(
        "insert into notification_pending (incident_id, kind, owner_id, event, occurred_at)
         select $1, $2, $3, $4, $5
         where not exists (select 1 from notification_log where incident_id = $1 and kind = $2)
         on conflict (incident_id, kind) do nothing",
        event.incident_id,
        event.kind.as_str(),
        owner,
        json,
        envelope.occurred_at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Flushes due windows every `tick` until `shutdown`.
pub async fn run(deliverer: Deliverer, pool: PgPool, window: Duration, shutdown: CancellationToken) {
    let tick = (window / 4).clamp(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        if let Err(error) = flush_due(&deliverer, &pool, window).await {
            warn!(error = format!("{error:#}"), "digest flush failed; trying again");
        }
    }
}

/// Delivers every (owner, kind) whose oldest pending event is `window` old.
async fn flush_due(deliverer: &Deliverer, pool: &PgPool, window: Duration) -> anyhow::Result<()> {
    let due = sqlx::query!(
        r#"select owner_id, kind from notification_pending
           group by owner_id, kind
           having min(received_at) <= now() - make_interval(secs => $1)"#,
        window.as_secs_f64()
    )
    .fetch_all(pool)
    .await?;
    for group in due {
        flush(deliverer, pool, group.owner_id, &group.kind).await?;
    }
    Ok(())
}

/// Delivers the pending events of one (owner, kind) and removes them, in one transaction:
/// another notifier flushing the same group skips the locked rows.
async fn flush(deliverer: &Deliverer, pool: &PgPool, owner: Uuid, kind: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query!(
        "select incident_id, event, occurred_at from notification_pending
         where owner_id = $1 and kind = $2 order by received_at, incident_id
         for update skip locked",
        owner,
        kind
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut envelopes = Vec::with_capacity(rows.len());
    for row in rows {
        match serde_json::from_value::<IncidentEvent>(row.event) {
            Ok(event) => {
                let mut envelope = Envelope::new(event);
                envelope.occurred_at = row.occurred_at;
                envelopes.push(envelope);
            }
            Err(error) => warn!(incident_id = %row.incident_id, %error, "unreadable pending event; dropped"),
        }
    }
    debug!(%owner, kind, events = envelopes.len(), "flushing the digest window");
    deliver(deliverer, &envelopes)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    sqlx::query!(
        "delete from notification_pending where owner_id = $1 and kind = $2 and incident_id = any($3)",
        owner,
        kind,
        &envelopes.iter().map(|e| e.payload.incident_id).collect::<Vec<_>>()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Each channel concerned gets its one event as usual, or one digest of its several (and a
/// member joining a group incident the channel heard of, one update: see
/// `Deliverer::deliver_digest`).
async fn deliver(deliverer: &Deliverer, envelopes: &[Envelope<IncidentEvent>]) -> Result<(), HandlerError> {
    let mut by_channel: BTreeMap<Uuid, (Recipient, Vec<&Envelope<IncidentEvent>>)> = BTreeMap::new();
    for envelope in envelopes {
        for r in deliverer.recipients_of(envelope).await? {
            by_channel
                .entry(r.channel_id)
                .or_insert_with(|| (r, Vec::new()))
                .1
                .push(envelope);
        }
    }
    let mut failed = None;
    for (recipient, list) in by_channel.into_values() {
        let result = deliverer.deliver_digest(&recipient, &list).await;
        if let Err(e) = result {
            failed = Some(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// The key of the digest of `incidents` (sorted) of `kind` to `channel`.
pub fn digest_key(channel: Uuid, kind: &str, incidents: &[Uuid]) -> Uuid {
    let mut bytes = channel.as_bytes().to_vec();
    bytes.extend_from_slice(kind.as_bytes());
    for id in incidents {
        bytes.extend_from_slice(id.as_bytes());
    }
    Uuid::new_v5(&DIGEST_NAMESPACE, &bytes)
}

/// When the earliest of `envelopes` was published.
pub fn earliest(envelopes: &[&Envelope<IncidentEvent>]) -> DateTime<Utc> {
    envelopes.iter().map(|e| e.occurred_at).min().unwrap_or_else(Utc::now)
}
