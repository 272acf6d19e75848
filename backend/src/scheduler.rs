//! The scheduler: turns targets into [`CheckJob`]s at a fixed rate.
//!
//! - **One leader**: a PostgreSQL session-level advisory lock on a dedicated connection. Other
//!   backends stand by and try again every second; a dead leader's connection closes, its lock
//!   goes with it, and a standby takes over.
//! - **Fixed rate, no herd**: target `t` with interval `I` runs at `k·I + offset(t)` (epoch
//!   milliseconds), `offset` a stable hash of the id modulo `I`; check duration never shifts the
//!   grid.
//! - **No slot twice**: before publishing a batch, the leader stores each target's next slot in
//!   `targets.next_run_at` *over the lock's own connection*. If that connection is gone the write
//!   fails and nothing is published; a successor starts from the stored slots. Job ids are
//!   deterministic (UUID v5 of target, region and slot), so any duplicate is recognisable.
//! - **Changes within moments**: a trigger notifies `pingtower_targets`; the leader reloads
//!   that target. A lost listener triggers a full reload.
//! - **Broker down**: publishing fails fast, the slot is counted missed, and a target that fell
//!   behind by whole intervals skips to its latest slot — nothing piles up.
//! - **Ticks**: the leader publishes at most once per tick ([`Deps::tick`]); the jobs that fell
//!   due in a tick travel to each region in [`CheckJobs`] messages of up to
//!   [`MAX_JOBS_PER_MESSAGE`](common::messages::MAX_JOBS_PER_MESSAGE), since the broker's cost
//!   is per message. A job waits for at most one tick.
//! - **Clock**: injectable ([`Clock`]), so tests can run minutes of schedule in seconds.
//! - **Heartbeats** are not scheduled: the leader watches their deadlines instead, every
//!   [`Deps::heartbeat_poll`], over the same lock connection ([`crate::heartbeats::watch`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bus::Publisher;
use chrono::{DateTime, TimeZone, Utc};
use common::messages::{CheckJob, CheckJobs, CheckSpec, Envelope};
use futures::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::clock::Clock;

/// The advisory lock key of the scheduler ("PTSCHED").
pub const LOCK_KEY: i64 = 0x0050_5453_4348_4544;
/// The channel the change trigger notifies.
pub const CHANNEL: &str = "pingtower_targets";
/// Most slots handled in one batch.
const BATCH: usize = 5_000;
/// Job messages being published at once.
const IN_FLIGHT: usize = 64;

/// Counters of one scheduler (also exported as Prometheus metrics).
#[derive(Debug, Default)]
pub struct Stats {
    /// Jobs published and confirmed.
    pub published: AtomicU64,
    /// Jobs whose publish failed.
    pub publish_failures: AtomicU64,
    /// Slots skipped (behind schedule, or broker down).
    pub missed: AtomicU64,
    /// Whether this scheduler leads now.
    pub leading: AtomicBool,
    /// Leading, with every target loaded and planned.
    pub ready: AtomicBool,
    /// Times this scheduler became leader.
    pub terms: AtomicU64,
    /// When set, lag samples (seconds) are kept here (benchmarks).
    pub lags: Option<Mutex<Vec<f64>>>,
}

/// What the scheduler needs.
#[derive(Clone)]
pub struct Deps {
    /// The pool (loads, listener).
    pub pool: PgPool,
    /// How to open the dedicated lock connection.
    pub lock_options: PgConnectOptions,
    /// Publisher of jobs (short timeout: a missed slot beats a late one).
    pub publisher: Publisher,
    /// The clock.
    pub clock: Clock,
    /// How often a standby tries for the lock.
    pub standby_poll: Duration,
    /// The shortest real time between two publishing rounds: the due jobs of a tick share
    /// messages. Zero publishes each slot as soon as it is due.
    pub tick: Duration,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Opens targets' sealed secrets into their jobs (none: targets with secrets are not scheduled).
    pub secret_key: Option<crate::secrets::SecretKey>,
    /// Whether the installation allows private targets at all (a job's `allow_private` is this
    /// and its owner's permission).
    pub allow_private_targets: bool,
    /// How often the leader looks for heartbeat deadlines that passed
    /// ([`crate::heartbeats::watch`]).
    pub heartbeat_poll: Duration,
    /// How long (real time) a heartbeat deadline must have passed before the watch reports
    /// it: a ping received just before it is given this long to be stored
    /// ([`HEARTBEAT_SETTLE`]).
    pub heartbeat_settle: Duration,
}

/// The default of [`Deps::heartbeat_settle`].
pub const HEARTBEAT_SETTLE: Duration = Duration::from_secs(1);

/// Runs the scheduler until `shutdown`: standing by, leading when it holds the lock.
pub async fn run(deps: Deps, shutdown: CancellationToken) {
    let mut standby: Option<PgConnection> = None;
    while !shutdown.is_cancelled() {
        let conn = match standby.take() {
            Some(c) => Ok(c),
            None => PgConnection::connect_with(&deps.lock_options).await,
        };
        let mut conn = match conn {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, "scheduler cannot reach PostgreSQL");
                sleep_or_cancel(deps.standby_poll, &shutdown).await;
                continue;
            }
        };
        let locked: Result<bool, _> = sqlx::query_scalar!(r#"select pg_try_advisory_lock($1) as "locked!""#, LOCK_KEY)
            .fetch_one(&mut conn)
            .await;
        match locked {
            Ok(true) => {
                deps.stats.leading.store(true, Ordering::SeqCst);
                deps.stats.terms.fetch_add(1, Ordering::SeqCst);
                metrics::gauge!("pingtower_scheduler_leader").set(1.0);
                tracing::info!("scheduler is the leader");
                let outcome = lead(&deps, conn, &shutdown).await;
                deps.stats.leading.store(false, Ordering::SeqCst);
                deps.stats.ready.store(false, Ordering::SeqCst);
                metrics::gauge!("pingtower_scheduler_leader").set(0.0);
                if let Err(error) = outcome {
                    tracing::warn!(error = format!("{error:#}"), "scheduler stepped down");
                    sleep_or_cancel(deps.standby_poll, &shutdown).await;
                }
            }
            Ok(false) => {
                standby = Some(conn);
                sleep_or_cancel(deps.standby_poll, &shutdown).await;
            }
            Err(error) => {
                tracing::warn!(%error, "scheduler lock attempt failed");
                sleep_or_cancel(deps.standby_poll, &shutdown).await;
            }
        }
    }
    if let Some(c) = standby {
        let _ = c.close().await;
    }
}

async fn sleep_or_cancel(d: Duration, shutdown: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.cancelled() => {}
    }
}

/// A stable offset in `[0, interval_ms)` for a target.
pub fn offset_ms(id: Uuid, interval_ms: i64) -> i64 {
    let v = id.as_u128();
    let mut x = (v as u64) ^ ((v >> 64) as u64);
    // splitmix64 finaliser: ids that share bits (UUID v7 timestamps) still spread evenly.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x % interval_ms.max(1) as u64) as i64
}

/// The first slot of `id`'s grid strictly after `t_ms`.
pub fn slot_after(id: Uuid, interval_ms: i64, t_ms: i64) -> i64 {
    let off = offset_ms(id, interval_ms);
    (t_ms - off).div_euclid(interval_ms) * interval_ms + off + interval_ms
}

/// Whether `t_ms` is on `id`'s grid.
pub fn on_grid(id: Uuid, interval_ms: i64, t_ms: i64) -> bool {
    (t_ms - offset_ms(id, interval_ms)).rem_euclid(interval_ms) == 0
}

/// The deterministic id of a job.
pub fn job_id(target: Uuid, region: &str, slot_ms: i64) -> Uuid {
    Uuid::new_v5(&target, format!("{region}/{slot_ms}").as_bytes())
}

struct Entry {
    spec: Arc<CheckSpec>,
    owner_id: Uuid,
    allow_private: bool,
    interval_ms: i64,
    regions: Arc<Vec<String>>,
    next_ms: i64,
    generation: u64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    owner_id: Uuid,
    may_private: bool,
    spec: serde_json::Value,
    secrets: Option<Vec<u8>>,
    interval_seconds: i32,
    regions: Vec<String>,
    next_run_at: DateTime<Utc>,
}

struct Plan {
    entries: HashMap<Uuid, Entry>,
    heap: BinaryHeap<Reverse<(i64, Uuid, u64)>>,
    generation: u64,
}

impl Plan {
    fn new() -> Self {
        Self {
            entries: HashMap::new(),
            heap: BinaryHeap::new(),
            generation: 0,
        }
    }

    /// Adds or replaces a target. `stored_next` is its `next_run_at`; its sealed secrets are
    /// opened with the secret key of `deps` into the spec its jobs carry, and the
    /// installation's `allow_private_targets` switch of `deps` applies.
    fn upsert(&mut self, row: Row, now_ms: i64, deps: &Deps) {
        let (key, allow_private_targets) = (deps.secret_key.as_ref(), deps.allow_private_targets);
        let mut spec: CheckSpec = match serde_json::from_value(row.spec) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(target_id = %row.id, %error, "target spec does not decode; not scheduled");
                self.remove(row.id);
                return;
            }
        };
        if let Some(sealed) = &row.secrets {
            match key.map(|k| k.open(sealed)) {
                Some(Ok(secrets)) => crate::secrets::fill(&mut spec, &secrets),
                // Checked without its credentials the target would only fail; leave it out.
                Some(Err(error)) => {
                    tracing::warn!(target_id = %row.id, error = %error, "target secrets do not open; not scheduled");
                    self.remove(row.id);
                    return;
                }
                None => {
                    tracing::warn!(target_id = %row.id, "target has secrets but PINGTOWER_SECRET_KEY is not set; not scheduled");
                    self.remove(row.id);
                    return;
                }
            }
        }
        let interval_ms = i64::from(row.interval_seconds.max(1)) * 1000;
        let stored = row.next_run_at.timestamp_millis();
        let next_ms = match self.entries.get(&row.id) {
            // Unchanged interval: keep the running grid position.
            Some(e) if e.interval_ms == interval_ms => e.next_ms,
            // Stored next slot on the current grid: continue from it (takeover).
            None if on_grid(row.id, interval_ms, stored) => stored,
            // New target or changed interval: next slot of the new grid.
            _ => slot_after(row.id, interval_ms, now_ms),
        };
        self.generation += 1;
        let generation = self.generation;
        self.heap.push(Reverse((next_ms, row.id, generation)));
        self.entries.insert(
            row.id,
            Entry {
                spec: Arc::new(spec),
                owner_id: row.owner_id,
                allow_private: allow_private_targets && row.may_private,
                interval_ms,
                regions: Arc::new(if row.regions.is_empty() {
                    vec![common::messages::DEFAULT_REGION.to_owned()]
                } else {
                    row.regions
                }),
                next_ms,
                generation,
            },
        );
    }

    fn remove(&mut self, id: Uuid) {
        self.entries.remove(&id);
    }

    fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse((due, id, generation))) = self.heap.peek().copied() {
            match self.entries.get(&id) {
                Some(e) if e.generation == generation => return Some(due),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }
}

/// The scheduled targets (not paused) as [`Row`]s, narrowed by a further `and …` condition
/// when one is given. A macro, because a query macro takes literal SQL only: the three loads
/// share the statement's text this way, and each keeps a plan of its own.
macro_rules! select_targets {
    ($($filter:tt $(, $arg:expr)*)?) => {
        sqlx::query_as!(
            Row,
            r#"select t.id, t.owner_id, pingtower_may_private(t.owner_id) as "may_private!", t.spec,
                   t.secrets, t.interval_seconds, t.regions, t.next_run_at
               from targets t where not t.paused and t.kind <> 'heartbeat' "#
            $(+ $filter $(, $arg)*)?
        )
    };
}

async fn lead(deps: &Deps, mut conn: PgConnection, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(&deps.pool)
        .await
        .context("listener connects")?;
    listener.listen(CHANNEL).await.context("LISTEN")?;
    let mut plan = Plan::new();
    full_load(deps, &mut plan).await?;
    deps.stats.ready.store(true, Ordering::SeqCst);
    let mut last_contact = Instant::now();
    let mut broker_down_until: Option<Instant> = None;
    let mut last_round: Option<Instant> = None;
    let mut last_watch: Option<Instant> = None;
    loop {
        if last_watch.is_none_or(|t| t.elapsed() >= deps.heartbeat_poll) {
            last_watch = Some(Instant::now());
            let now = deps.clock.now();
            let settle = deps.clock.span(deps.heartbeat_settle);
            let round = crate::heartbeats::watch::round(&mut conn, &deps.publisher, now, settle)
                .await
                .context("watching heartbeat deadlines over the lock connection")?;
            if round.reported > 0 {
                tracing::info!(reported = round.reported, "heartbeat deadlines passed");
            }
            last_contact = Instant::now();
        }
        let now_ms = deps.clock.now().timestamp_millis();
        let due = plan.next_due();
        // Until a tick has passed since the last round, due jobs wait to share its messages.
        let tick_left = last_round.map_or(Duration::ZERO, |t| deps.tick.saturating_sub(t.elapsed()));
        if due.is_some_and(|d| d <= now_ms) && tick_left.is_zero() {
            last_round = Some(Instant::now());
            run_due(deps, &mut conn, &mut plan, now_ms, &mut broker_down_until).await?;
            last_contact = Instant::now();
            continue;
        }
        let wait = match due {
            Some(d) => deps.clock.real_delay(chrono::Duration::milliseconds(d - now_ms)),
            None => Duration::from_secs(1),
        }
        .max(tick_left)
        .min(Duration::from_secs(1))
        .min(deps.heartbeat_poll);
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = conn.close().await;
                return Ok(());
            }
            n = listener.try_recv() => match n {
                Ok(Some(n)) => {
                    let payload = n.payload();
                    if let Some(owner) = payload.strip_prefix("owner:").and_then(|o| o.parse::<Uuid>().ok()) {
                        reload_owner(deps, &mut plan, owner).await?;
                    } else {
                        match payload.parse::<Uuid>() {
                            Ok(id) => reload(deps, &mut plan, id).await?,
                            Err(_) => full_load(deps, &mut plan).await?,
                        }
                    }
                }
                // The listener lost its connection (notifications may be lost): reload all.
                Ok(None) | Err(_) => full_load(deps, &mut plan).await?,
            },
            _ = tokio::time::sleep(wait) => {}
        }
        if last_contact.elapsed() >= Duration::from_secs(2) {
            // Still holding the lock? A dead connection means it is gone.
            sqlx::query!("select")
                .execute(&mut conn)
                .await
                .context("lock connection lost")?;
            last_contact = Instant::now();
        }
    }
}

async fn full_load(deps: &Deps, plan: &mut Plan) -> anyhow::Result<()> {
    let now_ms = deps.clock.now().timestamp_millis();
    let mut rows = select_targets!().fetch(&deps.pool);
    let mut seen = std::collections::HashSet::new();
    while let Some(row) = rows.next().await {
        let row = row.context("loading targets")?;
        seen.insert(row.id);
        plan.upsert(row, now_ms, deps);
    }
    plan.entries.retain(|id, _| seen.contains(id));
    metrics::gauge!("pingtower_scheduler_targets").set(plan.entries.len() as f64);
    tracing::info!(targets = plan.entries.len(), "scheduler loaded targets");
    Ok(())
}

async fn reload(deps: &Deps, plan: &mut Plan, id: Uuid) -> anyhow::Result<()> {
    let row = select_targets!("and t.id = $1", id)
        .fetch_optional(&deps.pool)
        .await
        .context("reloading a target")?;
    match row {
        Some(row) => plan.upsert(row, deps.clock.now().timestamp_millis(), deps),
        None => plan.remove(id),
    }
    metrics::gauge!("pingtower_scheduler_targets").set(plan.entries.len() as f64);
    Ok(())
}

/// Reloads every scheduled target of `owner` (their permission changed: jobs carry it).
async fn reload_owner(deps: &Deps, plan: &mut Plan, owner: Uuid) -> anyhow::Result<()> {
    let rows = select_targets!("and t.owner_id = $1", owner)
        .fetch_all(&deps.pool)
        .await
        .context("reloading an owner's targets")?;
    let now_ms = deps.clock.now().timestamp_millis();
    for row in rows {
        plan.upsert(row, now_ms, deps);
    }
    Ok(())
}

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_else(Utc::now)
}

/// Takes every due slot (up to a batch), stores the next slots over the lock connection, then
/// publishes.
async fn run_due(
    deps: &Deps,
    conn: &mut PgConnection,
    plan: &mut Plan,
    now_ms: i64,
    broker_down_until: &mut Option<Instant>,
) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    let mut nexts = Vec::new();
    let mut by_region: BTreeMap<String, Vec<CheckJob>> = BTreeMap::new();
    let mut missed = 0u64;
    while ids.len() < BATCH {
        let Some(due) = plan.next_due() else { break };
        if due > now_ms {
            break;
        }
        let Some(Reverse((_, id, _))) = plan.heap.pop() else {
            break;
        };
        let entry = plan.entries.get_mut(&id).expect("live heap entry");
        // Behind by whole intervals (leader change, broker or database outage): skip to the
        // latest slot that is due, counting the skipped ones.
        let behind = (now_ms - entry.next_ms) / entry.interval_ms;
        missed += behind as u64;
        let slot = entry.next_ms + behind * entry.interval_ms;
        entry.next_ms = slot + entry.interval_ms;
        plan.generation += 1;
        entry.generation = plan.generation;
        plan.heap.push(Reverse((entry.next_ms, id, entry.generation)));
        ids.push(id);
        nexts.push(ms_to_time(entry.next_ms));
        // The tick's jobs, by region (each region's pingers get their own messages).
        for region in entry.regions.iter() {
            by_region.entry(region.clone()).or_default().push(CheckJob {
                job_id: job_id(id, region, slot),
                target_id: id,
                owner_id: Some(entry.owner_id),
                allow_private: entry.allow_private,
                region: region.clone(),
                scheduled_for: ms_to_time(slot),
                deadline: ms_to_time(slot + entry.interval_ms),
                spec: (*entry.spec).clone(),
            });
        }
    }
    if missed > 0 {
        deps.stats.missed.fetch_add(missed, Ordering::Relaxed);
        metrics::counter!("pingtower_scheduler_missed_slots_total").increment(missed);
    }
    // The fence: if this fails we no longer hold the lock (or cannot prove it); publish nothing.
    sqlx::query!(
        "update targets set next_run_at = u.next from unnest($1::uuid[], $2::timestamptz[]) as u(id, next) \
         where targets.id = u.id",
        &ids,
        &nexts
    )
    .execute(&mut *conn)
    .await
    .context("storing next slots over the lock connection")?;

    // In messages of up to MAX_JOBS_PER_MESSAGE.
    let messages: Vec<CheckJobs> = by_region
        .into_iter()
        .flat_map(|(region, jobs)| CheckJobs::chunked(&region, jobs))
        .collect();

    // After the broker proved unreachable, skip publishing for a moment instead of waiting
    // out the publish timeout on every batch.
    let connected = broker_down_until.is_none_or(|t| Instant::now() >= t);
    let unavailable = Arc::new(AtomicBool::new(false));
    let clock = deps.clock;
    let stats = deps.stats.clone();
    let publisher = deps.publisher.clone();
    futures::stream::iter(messages)
        .for_each_concurrent(IN_FLIGHT, |message| {
            let publisher = publisher.clone();
            let stats = stats.clone();
            let unavailable = unavailable.clone();
            async move {
                let n = message.jobs.len() as u64;
                let missed = |stats: &Stats| {
                    stats.publish_failures.fetch_add(n, Ordering::Relaxed);
                    stats.missed.fetch_add(n, Ordering::Relaxed);
                    metrics::counter!("pingtower_scheduler_publish_failures_total").increment(n);
                    metrics::counter!("pingtower_scheduler_missed_slots_total").increment(n);
                };
                if !connected {
                    missed(&stats);
                    return;
                }
                let slots: Vec<DateTime<Utc>> = message.jobs.iter().map(|j| j.scheduled_for).collect();
                // The first job's id names the message, so a retried publish of the same
                // tick carries the same id.
                let id = message.jobs[0].job_id;
                match publisher.publish(&Envelope::new(message).with_message_id(id)).await {
                    Ok(()) => {
                        let now = clock.now();
                        stats.published.fetch_add(n, Ordering::Relaxed);
                        metrics::counter!("pingtower_scheduler_jobs_published_total").increment(n);
                        metrics::counter!("pingtower_scheduler_messages_published_total").increment(1);
                        for slot in slots {
                            let lag = (now - slot).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
                            metrics::histogram!("pingtower_scheduler_lag_seconds").record(lag);
                            if let Some(lags) = &stats.lags {
                                lags.lock().expect("lags").push(lag);
                            }
                        }
                    }
                    Err(error) => {
                        if matches!(error, bus::PublishError::Unavailable(..)) {
                            unavailable.store(true, Ordering::Relaxed);
                        }
                        tracing::debug!(%error, jobs = n, "jobs publish failed; slots missed");
                        missed(&stats);
                    }
                }
            }
        })
        .await;
    if unavailable.load(Ordering::Relaxed) {
        tracing::warn!("the broker is unreachable; slots are skipped until it is back");
        *broker_down_until = Some(Instant::now() + Duration::from_secs(1));
    } else if connected {
        *broker_down_until = None;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_lie_on_a_stable_grid_strictly_after_the_given_time() {
        let id = Uuid::now_v7();
        let i = 60_000;
        let t = 1_700_000_000_123;
        let s = slot_after(id, i, t);
        assert!(s > t && s <= t + i);
        assert!(on_grid(id, i, s));
        assert_eq!(slot_after(id, i, s), s + i);
        assert_eq!(slot_after(id, i, s - 1), s);
    }

    #[test]
    fn offsets_spread_evenly_even_for_time_ordered_ids() {
        let buckets = 10;
        let mut counts = vec![0u32; buckets];
        for _ in 0..10_000 {
            let off = offset_ms(Uuid::now_v7(), 60_000);
            counts[(off / 6_000) as usize] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "bucket holds {c} of 10000");
        }
    }

    #[test]
    fn job_ids_are_deterministic_per_target_region_and_slot() {
        let t = Uuid::now_v7();
        assert_eq!(job_id(t, "eu", 1), job_id(t, "eu", 1));
        assert_ne!(job_id(t, "eu", 1), job_id(t, "us", 1));
        assert_ne!(job_id(t, "eu", 1), job_id(t, "eu", 2));
    }
}
