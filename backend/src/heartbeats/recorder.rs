//! The ping endpoint's writer: applies pings to their heartbeats in batches.
//!
//! Each ping handler hands its ping to [`Recorder::record`] and waits. Writer tasks take every
//! ping waiting (up to [`MAX_BATCH`]; when only a few wait, those that arrive within
//! `LINGER`) and apply them in one transaction: the heartbeats' rows
//! are found (by target id, or by ping token: a token is resolved here, in the transaction
//! that stores its ping, so a rotated token is refused at once and a ping costs no lookup
//! query of its own) and locked in id order, each ping moves its heartbeat's schedule
//! ([`Beat::ping`]) in arrival order, and the rows, their deadlines and the ping log are
//! written back. While they are written and the transaction commits, the batch's results are
//! published (together: as batch messages of up to [`BATCH_LIMIT`] results, pipelined on the
//! writer's own broker channel, their confirms awaited together), and only once both are done
//! are the handlers answered; so a ping answered 200 is stored and its result confirmed, and
//! the deadline watch never reports a silence that a stored ping broke.

use std::collections::HashMap;
use std::sync::Arc;

use bus::Publisher;
use chrono::{DateTime, Utc};
use common::messages::{BATCH_LIMIT, CheckResult, Envelope};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use super::{Beat, KEEP_PINGS, PRUNE_EVERY, Ping, Schedule, result};

/// Most pings in one transaction.
pub const MAX_BATCH: usize = 512;
/// Pings that may wait for a writer; beyond it a ping is refused at once (503).
const QUEUE: usize = 16_384;
/// Writer tasks (each holds one connection while it writes). One: pings gather while it
/// writes, so a busy endpoint commits a few large transactions. With two, each took a batch
/// as soon as it was free, so batches were half as large and commits twice as many
/// (`bench_pings` at 5,000 pings/s with the incident engine: the machine 94 % busy and p99
/// 50 ms with two writers, 77 % and 21 ms with one).
const WRITERS: usize = 1;
/// How long a writer waits for more pings when fewer than [`GATHER`] are waiting. Without it
/// a batch held what arrived while the last one was written: the faster PostgreSQL answered,
/// the smaller the batches, and each costs a transaction and a broker message whatever its
/// size (`bench_pings` at 5,000 pings/s: 17 pings per transaction without it, 33 with it,
/// and the machine 76 % busy instead of 65 %). A ping waits at most this much longer; a
/// heartbeat's client (a cron job's `curl`) does not notice.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
/// Pings a writer writes at once without lingering: three broker messages' worth.
const GATHER: usize = 3 * BATCH_LIMIT;

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

/// Whose ping it is, as far as the ping endpoint knows before it is stored.
#[derive(Debug, Clone)]
pub enum Whose {
    /// A well-formed ping token (`/ping/{token}…`), resolved by the writer.
    Token(String),
    /// A heartbeat found already (slug URLs, through the ping endpoint's lookup cache).
    Target(Uuid),
}

/// One ping as received.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Whose.
    pub whose: Whose,
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
    /// Over the rate limit of its URL (by this much time): it is refused with
    /// [`RecordError::RateLimited`] if its token is known (an unknown token stays unknown, so
    /// a rotated token answers 404 whatever its rate), and stored nowhere.
    pub over_limit: Option<std::time::Duration>,
}

/// Why a ping was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Too many pings wait for a writer.
    #[error("too many pings are waiting to be stored")]
    Busy,
    /// No heartbeat has this token (unknown, or rotated away), or it was deleted meanwhile.
    #[error("no heartbeat has this ping URL")]
    Unknown,
    /// PostgreSQL failed (logged by the writer; the client is told no more than that).
    #[error("the ping could not be stored; retry")]
    Database(Arc<sqlx::Error>),
    /// The ping's URL is over its rate limit: retry after this long. Nothing was stored.
    #[error("too many pings; retry later")]
    RateLimited(std::time::Duration),
    /// The ping is stored, but the broker did not confirm its result.
    #[error("the ping was stored but the broker did not take its result; retry")]
    Unpublished,
}

type Reply = oneshot::Sender<Result<(), RecordError>>;

/// A ping waiting for a writer: the ping, the publisher its result goes out on, its answer.
type Job = (Incoming, Publisher, Reply);

/// The handle of the writers; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Job>,
}

impl Recorder {
    /// Starts the writers over `pool`; they stop when every handle is dropped.
    pub fn start(pool: sqlx::PgPool) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            let (rx, pool) = (rx.clone(), pool.clone());
            tokio::spawn(async move {
                // This writer's own channel to the broker, made with its first batch, and its
                // own PostgreSQL connection, kept while it works (a batch checks none out of
                // the pool: that cost a round trip to test the connection).
                let mut own: Option<Publisher> = None;
                let mut conn: Option<PoolConnection<Postgres>> = None;
                loop {
                    let mut batch: Vec<Job> = Vec::new();
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
                        // Fewer than a few messages' worth: wait a moment for more.
                        let until = tokio::time::Instant::now() + LINGER;
                        while batch.len() < GATHER {
                            match tokio::time::timeout_at(until, rx.recv()).await {
                                Ok(Some(next)) => batch.push(next),
                                _ => break,
                            }
                        }
                    }
                    metrics::histogram!("pingtower_heartbeat_ping_batch_size").record(batch.len() as f64);
                    let publisher = own.get_or_insert_with(|| {
                        let p = &batch[0].1;
                        Publisher::new(p.broker().clone(), p.timeout())
                    });
                    write(&pool, &mut conn, publisher, batch).await;
                }
            });
        }
        Self { tx }
    }

    /// Stores `ping` and publishes the result it became through `publisher` (start and log
    /// pings, and a paused target's pings, have none); returns once both are done.
    pub async fn record(&self, ping: Incoming, publisher: &Publisher) -> Result<(), RecordError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send((ping, publisher.clone(), reply))
            .map_err(|_| RecordError::Busy)?;
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

async fn write(
    pool: &sqlx::PgPool,
    conn: &mut Option<PoolConnection<Postgres>>,
    publisher: &Publisher,
    batch: Vec<Job>,
) {
    if conn.is_none() {
        match pool.acquire().await {
            Ok(c) => *conn = Some(c),
            Err(error) => return unstored(batch, error),
        }
    }
    if let Some(c) = conn.as_mut()
        && !write_on(c, publisher, batch).await
    {
        // The connection may be broken: the next batch takes another.
        *conn = None;
    }
}

/// Answers every ping of `batch`, which PostgreSQL failed to store, with 503 (clients retry).
fn unstored(batch: Vec<Job>, error: sqlx::Error) {
    tracing::warn!(%error, pings = batch.len(), "pings not stored");
    let error = Arc::new(error);
    for (_, _, reply) in batch {
        let _ = reply.send(Err(RecordError::Database(error.clone())));
    }
}

/// Stores `batch` over `conn` and answers its pings; `false` when PostgreSQL failed.
async fn write_on(conn: &mut PgConnection, publisher: &Publisher, batch: Vec<Job>) -> bool {
    let began = std::time::Instant::now();
    let (pending, outcomes) = match apply(conn, &batch).await {
        Ok(applied) => applied,
        Err(error) => {
            unstored(batch, error);
            return false;
        }
    };
    // The batch's results are published while its rows are written and the transaction
    // commits (the rows are locked: only a failure of PostgreSQL can keep them from being
    // stored now): the two durable writes, PostgreSQL's and the broker's, wait on their disks
    // at once, not one after the other. They go out as batch messages of up to BATCH_LIMIT results each (the broker
    // stores and confirms each once: most of a small message's cost on quorum queues),
    // pipelined on this writer's channel with their confirms awaited together. A ping is
    // answered once both are done: 200 only when it is stored and its result confirmed. In a
    // task of its own, so that the writer stores the next batch as soon as this one committed.
    let (committed_tx, committed) = oneshot::channel::<(Result<(), Arc<sqlx::Error>>, std::time::Duration)>();
    let publisher = publisher.clone();
    let applied = began.elapsed();
    tokio::spawn(async move {
        let mut answers: Vec<Result<(), RecordError>> = Vec::with_capacity(outcomes.len());
        // The results, and which ping each is of (the same order).
        let (mut results, mut of) = (Vec::new(), Vec::new());
        for (k, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(Some(r)) => {
                    let id = r.result_id;
                    results.push(Envelope::new(r).with_message_id(id));
                    of.push(k);
                    answers.push(Ok(()));
                }
                Ok(None) => answers.push(Ok(())),
                Err(e) => answers.push(Err(e)),
            }
        }
        let published =
            futures::future::join_all(results.chunks(BATCH_LIMIT).map(|chunk| publisher.publish_batch(chunk))).await;
        let confirmed = began.elapsed();
        for (pings, outcome) in of.chunks(BATCH_LIMIT).zip(published) {
            if let Err(error) = outcome {
                tracing::warn!(%error, results = pings.len(), "stored heartbeat pings' results were not published");
                for k in pings {
                    answers[*k] = Err(RecordError::Unpublished);
                }
            }
        }
        let (committed, stored) = committed
            .await
            .unwrap_or_else(|_| (Err(Arc::new(sqlx::Error::PoolClosed)), began.elapsed()));
        // Where a batch's time went (`pingtower::ping_batches=debug`): a run of slow pings
        // shows which durable write it waited on, PostgreSQL's commit or the broker's confirm.
        tracing::debug!(
            target: "pingtower::ping_batches",
            pings = answers.len(),
            applied_us = applied.as_micros() as u64,
            stored_us = stored.as_micros() as u64,
            confirmed_us = confirmed.as_micros() as u64,
            "ping batch"
        );
        if let Err(error) = committed {
            // Nothing of the batch is stored (its write or its commit failed): every ping that
            // was to be is answered 503 and retried by its client. A result that went out meanwhile tells of a ping that did
            // arrive; the retry's result is another.
            tracing::warn!(%error, published = results.len(), "pings not stored: their write or commit failed");
            for answer in answers
                .iter_mut()
                .filter(|a| !matches!(a, Err(RecordError::Unknown | RecordError::RateLimited(_))))
            {
                *answer = Err(RecordError::Database(error.clone()));
            }
        }
        for ((_, _, reply), answer) in batch.into_iter().zip(answers) {
            let _ = reply.send(answer);
        }
    });
    // Committed durably (`synchronous_commit` as the server has it): the ping is answered 200
    // after this, and the deadline watch reads these rows (it waits on their locks until
    // then). Were the commit asynchronous, a crash of PostgreSQL could roll back a ping that
    // was answered and whose result the broker holds, and the next leader would report a
    // silence the job never had.
    let outcome = match pending {
        Some((mut tx, writes)) => async move {
            writes.store(&mut tx).await?;
            tx.commit().await
        }
        .await
        .map_err(Arc::new),
        None => Ok(()),
    };
    let stored = outcome.is_ok();
    let _ = committed_tx.send((outcome, began.elapsed()));
    stored
}

type Outcome = Result<Option<CheckResult>, RecordError>;

/// The batch applied: its transaction, left open with the heartbeats' rows locked, and what
/// it is to write (`None`: nothing to write, rolled back), and each ping's outcome.
async fn apply<'c>(
    conn: &'c mut PgConnection,
    batch: &[Job],
) -> Result<(Option<(sqlx::Transaction<'c, Postgres>, Writes)>, Vec<Outcome>), sqlx::Error> {
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for (p, _, _) in batch {
        match &p.whose {
            Whose::Target(id) => ids.push(*id),
            Whose::Token(token) => tokens.push(token.clone()),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    tokens.sort_unstable();
    tokens.dedup();
    let mut tx = sqlx::Connection::begin(conn).await?;
    // Locked in id order: writers never wait on each other in a cycle. The spec and the
    // pause are read as stored now, whatever the slug lookup's cache holds. The deadline's row
    // is locked too: a row read after waiting for another writer's lock is read as that
    // writer left it only when it is locked (a joined row that is not is read as it was when
    // this statement began, and a `log` ping, which keeps the deadline, would write the old
    // one back). The deadlines are looked up by the ids of the heartbeats found, in a step of
    // their own: joined, the planner hashed the whole deadline table on every batch (a
    // sequential scan per batch of a table every ping updates; `bench_pings` counted 70 M
    // rows read in 14 k batches), where this is one index probe per heartbeat whatever the
    // table's size or statistics. Every writer of a deadline holds its heartbeat's row first.
    let rows = sqlx::query!(
        r#"with h as materialized (
               select h.target_id, h.token, t.owner_id, t.paused, t.spec, h.last_ping_at, h.last_success_at,
                      h.started_at, h.last_duration_ms, h.expected_at, h.pings
               from heartbeats h join targets t on t.id = h.target_id
               where h.target_id = any($1) or h.token = any($2) order by h.target_id for update of h
           ), d as materialized (
               select d.target_id, d.alert_at from heartbeat_deadlines d
               where d.target_id = any(array(select target_id from h)) order by d.target_id for update
           )
           select h.target_id as "target_id!", h.token as "token!", h.owner_id as "owner_id!",
                  h.paused as "paused!", h.spec as "spec!", h.last_ping_at, h.last_success_at, h.started_at,
                  h.last_duration_ms, h.expected_at, d.alert_at, h.pings as "pings!"
           from h join d on d.target_id = h.target_id order by h.target_id"#,
        &ids,
        &tokens
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut by_token: HashMap<String, Uuid> = HashMap::with_capacity(tokens.len());
    let mut beats: HashMap<Uuid, (Heartbeat, Beat, i64)> = HashMap::with_capacity(rows.len());
    for r in rows {
        // A stored spec that is not a heartbeat's: its pings are refused, as its URL is unknown.
        let Some(hb) = Heartbeat::of(r.target_id, r.owner_id, r.paused, r.spec) else {
            continue;
        };
        by_token.insert(r.token, r.target_id);
        let beat = Beat {
            last_ping_at: r.last_ping_at,
            last_success_at: r.last_success_at,
            started_at: r.started_at,
            last_duration_ms: r.last_duration_ms,
            expected_at: r.expected_at,
            alert_at: r.alert_at,
        };
        beats.insert(r.target_id, (hb, beat, r.pings));
    }
    let before: HashMap<Uuid, i64> = beats.iter().map(|(id, (_, _, n))| (*id, *n)).collect();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut log = Vec::with_capacity(batch.len());
    for (p, _, _) in batch {
        let id = match &p.whose {
            Whose::Target(id) => Some(*id),
            Whose::Token(token) => by_token.get(token).copied(),
        };
        let Some((hb, beat, pings)) = id.and_then(|id| beats.get_mut(&id)) else {
            outcomes.push(Err(RecordError::Unknown));
            continue;
        };
        if let Some(wait) = p.over_limit {
            outcomes.push(Err(RecordError::RateLimited(wait)));
            continue;
        }
        *pings += 1;
        // A paused target keeps the ping in its log, and nothing else changes.
        let verdict = if hb.paused {
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
    let mut w = Writes {
        log,
        ..Writes::default()
    };
    for (id, (_, b, n)) in &beats {
        let old = before.get(id).copied().unwrap_or(*n);
        if old == *n {
            continue;
        }
        if old / PRUNE_EVERY != *n / PRUNE_EVERY {
            w.prune.push(*id);
        }
        w.targets.push(*id);
        w.last_ping.push(b.last_ping_at);
        w.last_success.push(b.last_success_at);
        w.started.push(b.started_at);
        w.duration.push(b.last_duration_ms);
        w.expected.push(b.expected_at);
        w.alert.push(b.alert_at);
        w.counts.push(*n);
    }
    if w.log.is_empty() {
        // Only unknown tokens: nothing to write.
        tx.rollback().await?;
        return Ok((None, outcomes));
    }
    Ok((Some((tx, w)), outcomes))
}

/// What an applied batch writes, in its transaction: the heartbeats that moved (by target,
/// with their new state), the ping log, and the heartbeats whose log is to be pruned.
#[derive(Default)]
struct Writes {
    targets: Vec<Uuid>,
    last_ping: Vec<Option<DateTime<Utc>>>,
    last_success: Vec<Option<DateTime<Utc>>>,
    started: Vec<Option<DateTime<Utc>>>,
    duration: Vec<Option<i64>>,
    expected: Vec<Option<DateTime<Utc>>>,
    alert: Vec<Option<DateTime<Utc>>>,
    counts: Vec<i64>,
    log: Vec<Logged>,
    prune: Vec<Uuid>,
}

impl Writes {
    async fn store(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let log = &self.log;
        // The heartbeats' rows (updated in place: no indexed column changes), their deadlines
        // (those that moved) and the ping log in one statement (one round trip).
        sqlx::query!(
            "with u as (
                 select * from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::int8[],
                                      $6::timestamptz[], $7::timestamptz[], $8::int8[])
                     as u(target_id, last_ping_at, last_success_at, started_at, last_duration_ms, expected_at, alert_at, pings)
             ), moved as (
                 update heartbeats h set last_ping_at = u.last_ping_at, last_success_at = u.last_success_at,
                        started_at = u.started_at, last_duration_ms = u.last_duration_ms, expected_at = u.expected_at,
                        pings = u.pings
                 from u where h.target_id = u.target_id
             ), deadlines as (
                 update heartbeat_deadlines d set alert_at = u.alert_at
                 from u where d.target_id = u.target_id and d.alert_at is distinct from u.alert_at
             )
             insert into heartbeat_pings (target_id, received_at, event, exit_status, method, client_ip, user_agent,
                                          body, duration_ms, result_id)
             select * from unnest($9::uuid[], $10::timestamptz[], $11::text[], $12::int2[], $13::text[], $14::text[],
                                  $15::text[], $16::text[], $17::int8[], $18::uuid[])",
            &self.targets,
            &self.last_ping as &[Option<DateTime<Utc>>],
            &self.last_success as &[Option<DateTime<Utc>>],
            &self.started as &[Option<DateTime<Utc>>],
            &self.duration as &[Option<i64>],
            &self.expected as &[Option<DateTime<Utc>>],
            &self.alert as &[Option<DateTime<Utc>>],
            &self.counts,
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
        if !self.prune.is_empty() {
            // Every heartbeat that crossed a multiple of PRUNE_EVERY keeps its last KEEP_PINGS:
            // per heartbeat, the newest ping beyond them is found in the (target, id) index and
            // those up to it are deleted through the same index (ranking every ping of the
            // batch's heartbeats read them all, by a scan of the whole table when many
            // heartbeats crossed at once).
            sqlx::query!(
                "delete from heartbeat_pings p
                 using unnest($1::uuid[]) as u(target_id),
                 lateral (select k.id from heartbeat_pings k where k.target_id = u.target_id
                          order by k.id desc offset $2 limit 1) as cut
                 where p.target_id = u.target_id and p.id <= cut.id",
                &self.prune,
                KEEP_PINGS
            )
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}
