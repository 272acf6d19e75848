//! Messages held by quiet hours: each channel's routing rules may hold everything but "down"
//! during its quiet hours (`channels::routing`); the held messages wait in
//! `notification_held` and go out when the hours end, each once (the notification log keeps
//! exactly-once per (incident, channel, kind) as for any message).

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::deliver::Deliverer;
use crate::store;

/// How often due messages are looked for.
const TICK: Duration = Duration::from_secs(5);

/// Sends due held messages every [`TICK`] until `shutdown`.
pub async fn run(deliverer: Deliverer, pool: PgPool, shutdown: CancellationToken) {
    loop {
        if let Err(error) = send_due(&deliverer, &pool).await {
            warn!(
                error = format!("{error:#}"),
                "sending held messages failed; trying again"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Sends the held messages that are due, each in its own transaction (another notifier skips
/// the rows locked here); one that fails transiently stays for the next round.
pub async fn send_due(deliverer: &Deliverer, pool: &PgPool) -> anyhow::Result<usize> {
    let mut sent = 0;
    loop {
        let mut tx = pool.begin().await?;
        let Some(row) = sqlx::query!(
            "select incident_id, channel_id, kind, message, occurred_at from notification_held
             where due_at <= now() order by due_at limit 1 for update skip locked"
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(sent);
        };
        // A channel disabled or deleted meanwhile gets nothing.
        let recipient = store::channel_recipient(pool, row.channel_id, None, false).await?;
        if let Some(r) = recipient
            && let Err(e) = deliverer
                .deliver_held(&r, &row.kind, row.message, row.occurred_at)
                .await
        {
            if matches!(e, bus::HandlerError::Transient(_)) {
                warn!(channel_id = %row.channel_id, error = %e, "held message not sent yet");
                return Ok(sent);
            }
            warn!(channel_id = %row.channel_id, error = %e, "held message cannot be sent; dropped");
        }
        sqlx::query!(
            "delete from notification_held where incident_id = $1 and channel_id = $2 and kind = $3",
            row.incident_id,
            row.channel_id,
            row.kind
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sent += 1;
    }
}
