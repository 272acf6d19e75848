//! The ping endpoint's writer: applies pings to their heartbeats in batches.
//!
//! Each ping handler hands its ping to [`Recorder::record`] and waits. Writer tasks take every
//! ping waiting (up to [`MAX_BATCH`]) and apply them in one transaction: the heartbeats' rows
//! are locked in id order, each ping moves its heartbeat's schedule ([`Beat::ping`]) in
//! arrival order, and the rows and the ping log are written back. Only after the commit does
//! a handler learn its result, which it then publishes; so a ping answered 200 is stored, and
//! the deadline watch never reports a silence that a stored ping broke.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::messages::CheckResult;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use super::{Beat, KEEP_PINGS, PRUNE_EVERY, Ping, Schedule, result};

/// Most pings in one transaction.
pub const MAX_BATCH: usize = 512;
/// Pings that may wait for a writer; beyond it a ping is refused at once (503).
const QUEUE: usize = 16_384;
/// Writer tasks (each holds one connection while it writes).
const WRITERS: usize = 2;

/// A heartbeat as the ping endpoint finds it by token or slug.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// The target.
    pub target_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// Paused targets keep their pings but nothing else.
    pub paused: bool,
    /// The schedule.
    pub schedule: Schedule,
    /// The grace time.
    pub grace: chrono::Duration,
}

impl Heartbeat {
    /// The heartbeat of a stored target's spec JSON (`None`: not a valid heartbeat spec).
    pub fn of(target_id: Uuid, owner_id: Uuid, paused: bool, spec: serde_json::Value) -> Option<Self> {
        let common::messages::CheckSpec::Heartbeat(h) = serde_json::from_value(spec).ok()? else {
            return None;
        };
        Some(Heartbeat {
            target_id,
            owner_id,
            paused,
            schedule: Schedule::of(&h).ok()?,
            grace: chrono::Duration::seconds(i64::from(h.grace_seconds)),
        })
    }
}

/// One ping as received.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Whose.
    pub heartbeat: Arc<Heartbeat>,
    /// What it says.
    pub ping: Ping,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// `GET`, `HEAD` or `POST`.
    pub method: &'static str,
    /// The client's address.
    pub client_ip: String,
    /// The client's `User-Agent`, cut to 200 characters.
    pub user_agent: Option<String>,
    /// A POST's body, cut to 10 KiB.
    pub body: Option<String>,
}

/// Why a ping was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Too many pings wait for a writer.
    #[error("too many pings are waiting to be stored")]
    Busy,
    /// The heartbeat was deleted meanwhile.
    #[error("the heartbeat no longer exists")]
    Gone,
    /// PostgreSQL failed.
    #[error("storing the ping failed: {0}")]
    Database(Arc<sqlx::Error>),
}

type Reply = oneshot::Sender<Result<Option<CheckResult>, RecordError>>;

/// The handle of the writers; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<(Incoming, Reply)>,
}

impl Recorder {
    /// Starts the writers over `pool`; they stop when every handle is dropped.
    pub fn start(pool: sqlx::PgPool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                loop {
                    let mut batch = Vec::new();
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(first) => batch.push(first),
                            None => return,
                        }
                        while batch.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(next) => batch.push(next),
                                Err(_) => break,
                            }
                        }
                    }
                    metrics::histogram!("pingtower_heartbeat_ping_batch_size").record(batch.len() as f64);
                    write(&pool, batch).await;
                }
            });
        }
        Self { tx }
    }

    /// Stores `ping` and returns the result it became (`None`: a start or log ping, or a
    /// paused target's ping).
    pub async fn record(&self, ping: Incoming) -> Result<Option<CheckResult>, RecordError> {
        let (reply, answer) = oneshot::channel();
        self.tx.try_send((ping, reply)).map_err(|_| RecordError::Busy)?;
        answer.await.unwrap_or(Err(RecordError::Busy))
    }
}

/// A row of the ping log.
struct Logged {
    target_id: Uuid,
    at: DateTime<Utc>,
    event: &'static str,
    exit_status: Option<i16>,
    method: &'static str,
    client_ip: String,
    user_agent: Option<String>,
    body: Option<String>,
    duration_ms: Option<i64>,
    result_id: Option<Uuid>,
}

async fn write(pool: &sqlx::PgPool, batch: Vec<(Incoming, Reply)>) {
    match apply(pool, &batch).await {
        Ok(outcomes) => {
            for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            tracing::warn!(%error, pings = batch.len(), "pings not stored");
            let error = Arc::new(error);
            for (_, reply) in batch {
                let _ = reply.send(Err(RecordError::Database(error.clone())));
            }
        }
    }
}

type Outcome = Result<Option<CheckResult>, RecordError>;

async fn apply(pool: &sqlx::PgPool, batch: &[(Incoming, Reply)]) -> Result<Vec<Outcome>, sqlx::Error> {
    let mut ids: Vec<Uuid> = batch.iter().map(|(p, _)| p.heartbeat.target_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = pool.begin().await?;
    // Locked in id order: two writers never wait on each other in a cycle.
    let rows = sqlx::query!(
        "select h.target_id, h.last_ping_at, h.last_success_at, h.started_at, h.last_duration_ms, h.expected_at,
                h.alert_at, h.pings, t.paused
         from heartbeats h join targets t on t.id = h.target_id
         where h.target_id = any($1) order by h.target_id for update of h",
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    // The pause as stored now (the lookup cache may be a few seconds old).
    let paused: HashMap<Uuid, bool> = rows.iter().map(|r| (r.target_id, r.paused)).collect();
    let mut beats: HashMap<Uuid, (Beat, i64)> = rows
        .into_iter()
        .map(|r| {
            (
                r.target_id,
                (
                    Beat {
                        last_ping_at: r.last_ping_at,
                        last_success_at: r.last_success_at,
                        started_at: r.started_at,
                        last_duration_ms: r.last_duration_ms,
                        expected_at: r.expected_at,
                        alert_at: r.alert_at,
                    },
                    r.pings,
                ),
            )
        })
        .collect();
    let before: HashMap<Uuid, i64> = beats.iter().map(|(id, (_, n))| (*id, *n)).collect();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut log = Vec::with_capacity(batch.len());
    for (p, _) in batch {
        let hb = &p.heartbeat;
        let Some((beat, pings)) = beats.get_mut(&hb.target_id) else {
            outcomes.push(Err(RecordError::Gone));
            continue;
        };
        *pings += 1;
        // A paused target keeps the ping in its log, and nothing else changes.
        let verdict = if paused.get(&hb.target_id).copied().unwrap_or(hb.paused) {
            None
        } else {
            beat.ping(&hb.schedule, hb.grace, p.ping, p.at, p.body.as_deref())
        };
        let result = verdict.map(|v| {
            let duration = v.info.run_duration_ms.map(|d| d as i64);
            (result(hb.target_id, Uuid::now_v7(), v, p.at), duration)
        });
        log.push(Logged {
            target_id: hb.target_id,
            at: p.at,
            event: p.ping.event().as_str(),
            exit_status: p.ping.exit_status().map(i16::from),
            method: p.method,
            client_ip: p.client_ip.clone(),
            user_agent: p.user_agent.clone(),
            body: p.body.clone(),
            duration_ms: result.as_ref().and_then(|(_, d)| *d),
            result_id: result.as_ref().map(|(r, _)| r.result_id),
        });
        outcomes.push(Ok(result.map(|(r, _)| r)));
    }
    let mut t = Vec::new();
    let (mut last_ping, mut last_success, mut started, mut duration, mut expected, mut alert, mut counts) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut prune = Vec::new();
    for (id, (b, n)) in &beats {
        let old = before.get(id).copied().unwrap_or(*n);
        if old == *n {
            continue;
        }
        if old / PRUNE_EVERY != *n / PRUNE_EVERY {
            prune.push(*id);
        }
        t.push(*id);
        last_ping.push(b.last_ping_at);
        last_success.push(b.last_success_at);
        started.push(b.started_at);
        duration.push(b.last_duration_ms);
        expected.push(b.expected_at);
        alert.push(b.alert_at);
        counts.push(*n);
    }
    sqlx::query!(
        "update heartbeats h set last_ping_at = u.last_ping_at, last_success_at = u.last_success_at,
                started_at = u.started_at, last_duration_ms = u.last_duration_ms, expected_at = u.expected_at,
                alert_at = u.alert_at, pings = u.pings
         from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::int8[],
                     $6::timestamptz[], $7::timestamptz[], $8::int8[])
              as u(target_id, last_ping_at, last_success_at, started_at, last_duration_ms, expected_at, alert_at, pings)
         where h.target_id = u.target_id",
        &t,
        &last_ping as &[Option<DateTime<Utc>>],
        &last_success as &[Option<DateTime<Utc>>],
        &started as &[Option<DateTime<Utc>>],
        &duration as &[Option<i64>],
        &expected as &[Option<DateTime<Utc>>],
        &alert as &[Option<DateTime<Utc>>],
        &counts,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into heartbeat_pings (target_id, received_at, event, exit_status, method, client_ip, user_agent,
                                      body, duration_ms, result_id)
         select * from unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::int2[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::int8[], $10::uuid[])",
        &log.iter().map(|l| l.target_id).collect::<Vec<_>>(),
        &log.iter().map(|l| l.at).collect::<Vec<_>>(),
        &log.iter().map(|l| l.event.to_owned()).collect::<Vec<_>>(),
        &log.iter().map(|l| l.exit_status).collect::<Vec<_>>() as &[Option<i16>],
        &log.iter().map(|l| l.method.to_owned()).collect::<Vec<_>>(),
        &log.iter().map(|l| l.client_ip.clone()).collect::<Vec<_>>(),
        &log.iter().map(|l| l.user_agent.clone()).collect::<Vec<_>>() as &[Option<String>],
        &log.iter().map(|l| l.body.clone()).collect::<Vec<_>>() as &[Option<String>],
        &log.iter().map(|l| l.duration_ms).collect::<Vec<_>>() as &[Option<i64>],
        &log.iter().map(|l| l.result_id).collect::<Vec<_>>() as &[Option<Uuid>],
    )
    .execute(&mut *tx)
    .await?;
    if !prune.is_empty() {
        // Every heartbeat that crossed a multiple of PRUNE_EVERY keeps its last KEEP_PINGS.
        sqlx::query!(
            "delete from heartbeat_pings p using (
                 select id from (
                     select id, row_number() over (partition by target_id order by id desc) as n
                     from heartbeat_pings where target_id = any($1)
                 ) ranked where n > $2
             ) old where p.id = old.id",
            &prune,
            KEEP_PINGS
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}
