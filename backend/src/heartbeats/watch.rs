//! The deadline watch, run by the scheduler's leader: heartbeats whose silence outlasted the
//! grace time become down results.
//!
//! Each round reads the heartbeats whose `alert_at` has passed (not paused), publishes one
//! result per passed deadline, and then stores the next deadline over the leader's lock
//! connection, on the condition that the row did not change meanwhile (a ping that arrived
//! wins). A leader that loses its lock cannot store; its successor finds the same deadline and
//! publishes the same result id again, which the result ledger drops. Pings are stored before
//! they are answered, so a new leader reads every ping its predecessor's clients were told
//! about, and no restart turns an answered ping into a "missed".

use chrono::{DateTime, Utc};
use common::messages::Envelope;
use sqlx::PgConnection;
use uuid::Uuid;

use super::recorder::Heartbeat;
use super::{Beat, due_result_id, result};

/// Most heartbeats handled in one round.
const ROUND: i64 = 500;

/// How one round went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Deadlines reported (results published and next deadlines stored).
    pub reported: usize,
    /// Results whose publish failed (tried again next round).
    pub unpublished: usize,
}

/// One round at `now`: deadlines that passed at least `settle` ago (a ping being stored at
/// the deadline is given that long to commit).
pub async fn round(
    conn: &mut PgConnection,
    publisher: &bus::Publisher,
    now: DateTime<Utc>,
    settle: chrono::Duration,
) -> Result<Round, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select h.target_id, t.owner_id, t.spec, h.last_ping_at, h.last_success_at, h.started_at,
                  h.last_duration_ms, h.expected_at, d.alert_at as "alert_at!"
           from heartbeat_deadlines d join heartbeats h on h.target_id = d.target_id join targets t on t.id = h.target_id
           where d.alert_at <= $1 and not t.paused and t.kind = 'heartbeat'
           order by d.alert_at limit $2"#,
        now - settle,
        ROUND
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Round::default();
    for row in rows {
        let Some(hb) = Heartbeat::of(row.target_id, row.owner_id, false, row.spec) else {
            tracing::warn!(target_id = %row.target_id, "heartbeat spec does not decode; its deadline is cleared");
            store(conn, row.target_id, row.alert_at, &Beat::default()).await?;
            continue;
        };
        let mut beat = Beat {
            last_ping_at: row.last_ping_at,
            last_success_at: row.last_success_at,
            started_at: row.started_at,
            last_duration_ms: row.last_duration_ms,
            expected_at: row.expected_at,
            alert_at: Some(row.alert_at),
        };
        let Some(due) = beat.due(hb.grace, now) else {
            // The schedule changed under the stored deadline: re-arm it.
            beat.reschedule(&hb.schedule, hb.grace, false);
            store(conn, row.target_id, row.alert_at, &beat).await?;
            continue;
        };
        let verdict = beat.passed(&hb.schedule, hb.grace, due, now);
        let result_id = due_result_id(row.target_id, due);
        let r = result(row.target_id, result_id, verdict, now);
        match publisher.publish(&Envelope::new(r).with_message_id(result_id)).await {
            Ok(()) => {
                store(conn, row.target_id, row.alert_at, &beat).await?;
                out.reported += 1;
                metrics::counter!("pingtower_heartbeat_deadlines_passed_total").increment(1);
            }
            Err(error) => {
                tracing::warn!(%error, target_id = %row.target_id, "a passed heartbeat deadline waits for the broker");
                out.unpublished += 1;
                break;
            }
        }
    }
    Ok(out)
}

/// Stores `beat`'s deadlines for `target`, if its `alert_at` is still `seen`. The heartbeat's
/// row is locked before its deadline's, as the ping writer locks them; a ping that committed
/// meanwhile moved the deadline, and the locks' recheck of `alert_at = seen` then finds no row.
async fn store(conn: &mut PgConnection, target: Uuid, seen: DateTime<Utc>, beat: &Beat) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with seen as (
             select h.target_id from heartbeats h join heartbeat_deadlines d on d.target_id = h.target_id
             where h.target_id = $1 and d.alert_at = $2 for update of h, d
         ), deadline as (
             update heartbeat_deadlines d set alert_at = $5 from seen where d.target_id = seen.target_id
         )
         update heartbeats h set started_at = $3, expected_at = $4 from seen where h.target_id = seen.target_id",
        target,
        seen,
        beat.started_at,
        beat.expected_at,
        beat.alert_at
    )
    .execute(conn)
    .await?;
    Ok(())
}
