//! Applies batches of check results: the machine per target, incidents, the timeline,
//! certificate warnings and probe health, all in one PostgreSQL transaction together with the
//! idempotency ledger (`processed_results`) and the events to publish (`incident_outbox`).
//! A result delivered twice finds its id in the ledger and changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use bus::{HandlerError, Publisher};
use chrono::{DateTime, Utc};
use common::messages::{
    CheckKind, CheckResult, CheckSpec, Envelope, Evidence, FailureKind, IncidentEvent, IncidentEventKind, Outcome,
    TargetRef, TargetStatus,
};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::dependencies;
use super::machine::{Context, Effect, MachineState, Observation, Thresholds};
use super::maintenance::Window;
use super::settings::EngineSettings;
use crate::clock::Clock;

/// Failing results kept per region for an incident's evidence.
const EVIDENCE_PER_REGION: usize = 5;

/// The incident engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pool: PgPool,
    clickhouse: clickhouse::Client,
    settings: EngineSettings,
    clock: Clock,
    flush: std::sync::Arc<tokio::sync::Mutex<()>>,
    baselines: crate::baselines::Cache,
}

/// Why a batch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Someone else changed a target's state meanwhile (a second engine): retry.
    #[error("target state of {0} changed concurrently")]
    Conflict(Uuid),
}

impl EngineError {
    /// Data and integrity errors cannot succeed on retry; everything else may.
    pub fn into_handler_error(self) -> HandlerError {
        let permanent = match &self {
            EngineError::Db(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23"))
            }
            _ => false,
        };
        if permanent {
            HandlerError::permanent(self)
        } else {
            HandlerError::transient(self)
        }
    }
}

/// A target and its stored state, as loaded for a batch.
#[derive(Debug)]
struct TargetRow {
    id: Uuid,
    owner_id: Uuid,
    name: String,
    kind: String,
    spec: Json<serde_json::Value>,
    regions: Vec<String>,
    tags: Vec<String>,
    failure_threshold: i32,
    success_threshold: i32,
    status: Option<String>,
    since: Option<DateTime<Utc>>,
    machine: Option<Json<MachineState>>,
    recent_results: Option<Json<Vec<CheckResult>>>,
    last_good: Option<Json<CheckResult>>,
    version: Option<i64>,
}

/// A target while the batch is applied.
struct Working {
    target: TargetRef,
    regions: Vec<String>,
    tags: Vec<String>,
    thresholds: Thresholds,
    machine: MachineState,
    status: TargetStatus,
    since: DateTime<Utc>,
    recent: Vec<CheckResult>,
    last_good: Option<CheckResult>,
    last: Option<CheckResult>,
    version: Option<i64>,
    touched: bool,
}

/// What the outbox holds: an event and the result it was caused by.
#[derive(Debug, Serialize, Deserialize)]
struct Outgoing {
    event: Envelope<IncidentEvent>,
}

impl Engine {
    /// An engine over these stores, on the real clock.
    pub fn new(pool: PgPool, clickhouse: clickhouse::Client, settings: EngineSettings) -> Self {
        Self {
            pool,
            clickhouse,
            settings,
            clock: Clock::real(),
            flush: Default::default(),
            baselines: Default::default(),
        }
    }

    /// The same engine reading time from `clock` (the ledger's retention and the start of a
    /// state first seen are measured on it).
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// The settings in use.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Results that started before this are ignored, and ledger entries older than it removed.
    fn ledger_cutoff(&self) -> DateTime<Utc> {
        self.clock.now() - chrono::Duration::from_std(self.settings.ledger_retention).unwrap_or(chrono::Duration::MAX)
    }

    /// Forgets ledger entries older than the retention, in bounded batches (no long locks);
    /// returns how many were removed.
    pub async fn prune_ledger(&self) -> Result<u64, EngineError> {
        const CHUNK: i64 = 10_000;
        let cutoff = self.ledger_cutoff();
        let mut removed = 0;
        loop {
            let done = sqlx::query!(
                "delete from processed_results where result_id in
                   (select result_id from processed_results where processed_at < $1 limit $2)",
                cutoff,
                CHUNK
            )
            .execute(&self.pool)
            .await?
            .rows_affected();
            removed += done;
            if done < CHUNK as u64 {
                return Ok(removed);
            }
        }
    }

    /// Applies `batch` in one transaction; returns how many results were new.
    #[tracing::instrument(skip_all, fields(results = batch.len()))]
    pub async fn apply(&self, batch: &[CheckResult]) -> Result<usize, EngineError> {
        // Older than the ledger remembers: possibly applied already, and stale news anyway.
        let cutoff = self.ledger_cutoff();
        let all = batch.len();
        let batch: Vec<&CheckResult> = batch.iter().filter(|r| r.started_at >= cutoff).collect();
        let stale = all - batch.len();
        if stale > 0 {
            metrics::counter!("pingtower_incident_stale_results_total").increment(stale as u64);
            tracing::debug!(stale, "results older than the ledger retention ignored");
        }
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = batch.iter().map(|r| r.result_id).collect();
        let fresh: HashSet<Uuid> = sqlx::query_scalar!(
            "insert into processed_results (result_id) select unnest($1::uuid[])
             on conflict do nothing returning result_id",
            &ids
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut seen = HashSet::new();
        let new: Vec<&CheckResult> = batch
            .iter()
            .copied()
            .filter(|r| fresh.contains(&r.result_id) && seen.insert(r.result_id))
            .collect();
        if new.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }

        self.apply_probe_health(&mut tx, &new).await?;

        let target_ids: Vec<Uuid> = new
            .iter()
            .map(|r| r.target_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let rows = sqlx::query_as!(
            TargetRow,
            // `!`: the macros take every column of a left join for nullable.
            r#"select t.id as "id!", t.owner_id as "owner_id!", t.name as "name!", t.kind as "kind!",
                    t.spec as "spec!: Json<serde_json::Value>", t.regions as "regions!", t.tags as "tags!",
                    t.failure_threshold as "failure_threshold!", t.success_threshold as "success_threshold!",
                    s.status as "status?", s.since as "since?",
                    s.machine as "machine?: Json<MachineState>",
                    s.recent_results as "recent_results?: Json<Vec<CheckResult>>",
                    s.last_good as "last_good?: Json<CheckResult>", s.version as "version?"
             from targets t left join target_state s on s.target_id = t.id
             where t.id = any($1)"#,
            &target_ids
        )
        .fetch_all(&mut *tx)
        .await?;
        let owners: Vec<Uuid> = rows.iter().map(|r| r.owner_id).collect();
        let windows = Window::load_for_owners(&mut tx, &owners).await?;
        // Certificate warnings given already: most results of a certificate past a threshold
        // then need no statement of their own.
        let mut warned: HashSet<(Uuid, String, i32)> = sqlx::query!(
            "select target_id, fingerprint, threshold_days from cert_warnings where target_id = any($1)",
            &target_ids
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.target_id, r.fingerprint, r.threshold_days))
        .collect();
        let mut targets: HashMap<Uuid, Working> = rows.into_iter().map(|row| (row.id, self.working(row))).collect();
        // Latency baselines of the batch's targets, from memory unless they changed.
        let baselines = self.baselines.load(&mut tx, &target_ids, self.clock.now()).await?;

        for result in &new {
            let Some(w) = targets.get_mut(&result.target_id) else {
                // A deleted target: nothing to do, the result stays in the ledger.
                continue;
            };
            let baseline = baselines.get(&result.target_id);
            self.apply_one(&mut tx, w, &windows, &mut warned, baseline, result)
                .await?;
        }
        let touched: Vec<&Working> = targets.values().filter(|w| w.touched).collect();
        save_states(&mut tx, &touched).await?;
        tx.commit().await?;
        Ok(new.len())
    }

    fn working(&self, row: TargetRow) -> Working {
        let address = address_of(&row.spec.0).unwrap_or_default();
        let check_kind = serde_json::from_value(serde_json::Value::String(row.kind.clone())).unwrap_or(CheckKind::Http);
        Working {
            target: TargetRef {
                id: row.id,
                owner_id: row.owner_id,
                name: row.name,
                check_kind,
                address,
            },
            regions: row.regions,
            tags: row.tags,
            thresholds: Thresholds {
                failures: u32::try_from(row.failure_threshold).unwrap_or(3).max(1),
                successes: u32::try_from(row.success_threshold).unwrap_or(2).max(1),
                flap_transitions: self.settings.flap_transitions,
                flap_window: chrono::Duration::from_std(self.settings.flap_window)
                    .unwrap_or_else(|_| chrono::Duration::minutes(30)),
                quorum: self.settings.quorum,
            },
            machine: row.machine.map(|j| j.0).unwrap_or_default(),
            status: row
                .status
                .as_deref()
                .and_then(|s| serde_json::from_value(serde_json::Value::String(s.to_owned())).ok())
                .unwrap_or(TargetStatus::Unknown),
            since: row.since.unwrap_or_else(|| self.clock.now()),
            recent: row.recent_results.map(|j| j.0).unwrap_or_default(),
            last_good: row.last_good.map(|j| j.0),
            last: None,
            version: row.version,
            touched: false,
        }
    }

    async fn apply_one(
        &self,
        tx: &mut PgConnection,
        w: &mut Working,
        windows: &[Window],
        warned: &mut HashSet<(Uuid, String, i32)>,
        baseline: Option<&crate::baselines::Active>,
        result: &CheckResult,
    ) -> Result<(), EngineError> {
        let at = result.started_at;
        let in_maintenance = windows
            .iter()
            .any(|win| win.covers(w.target.owner_id, w.target.id, &w.tags, at));
        let step = w.machine.step(
            &w.thresholds,
            Context {
                regions: &w.regions,
                in_maintenance,
            },
            &Observation {
                region: result.region.clone(),
                at,
                outcome: result.outcome,
                probe_degraded: result.probe_degraded,
            },
        );
        if !step.counted {
            return Ok(());
        }
        // Latency against the baseline (crate::baselines): slow streaks make the target degraded.
        let slow = w.machine.slow.step(
            &w.thresholds,
            crate::baselines::judge::Ground {
                regions: &w.regions,
                may_open: !in_maintenance && !w.machine.flapping && !w.machine.incident_open,
            },
            &result.region,
            &crate::baselines::judge::verdict(baseline, result, &w.regions),
        );
        w.touched = true;
        w.last = Some(result.clone());
        // Evidence: failing results of regions that are still failing; the last good one.
        if result.outcome == Outcome::Down {
            w.recent.push(strip(result));
            let region_count = w.recent.iter().filter(|r| r.region == result.region).count();
            if region_count > EVIDENCE_PER_REGION
                && let Some(pos) = w.recent.iter().position(|r| r.region == result.region)
            {
                w.recent.remove(pos);
            }
        } else {
            w.recent.retain(|r| r.region != result.region);
            if result.outcome == Outcome::Up {
                w.last_good = Some(strip(result));
            }
        }
        let status = crate::baselines::judge::status(w.machine.status(), &w.machine.slow);
        if status != w.status {
            w.status = status;
            w.since = at;
        }

        for effect in step.effects {
            match effect {
                Effect::Open { regions } => self.open(tx, w, result, regions).await?,
                Effect::Resolve => resolve(tx, w, result).await?,
                Effect::FlappingStarted => flapping(tx, w, result).await?,
                Effect::FlappingEnded => {
                    if let Some(id) = open_incident(tx, w.target.id).await? {
                        timeline(tx, id, at, "stable", "The target is stable again; alerts resume.").await?;
                    }
                }
            }
        }
        if let Some(effect) = slow {
            let subject = crate::baselines::incident::Subject {
                target: &w.target,
                status: w.status,
                last_good: w.last_good.as_ref(),
                active: baseline,
            };
            crate::baselines::incident::apply(tx, subject, effect, result).await?;
        }
        self.cert_expiry(tx, w, warned, result).await?;
        Ok(())
    }

    async fn open(
        &self,
        tx: &mut PgConnection,
        w: &mut Working,
        result: &CheckResult,
        regions: Vec<String>,
    ) -> Result<(), EngineError> {
        let at = result.started_at;
        let evidence_results: Vec<CheckResult> = w
            .recent
            .iter()
            .filter(|r| regions.contains(&r.region))
            .cloned()
            .collect();
        let mut by_region: BTreeMap<String, Vec<FailureKind>> = BTreeMap::new();
        for r in &w.recent {
            if let Some(f) = &r.failure {
                let kinds = by_region.entry(r.region.clone()).or_default();
                if !kinds.contains(&f.kind) {
                    kinds.push(f.kind);
                }
            }
        }
        let failure_kind = most_common_failure(&evidence_results);
        let evidence = Evidence {
            results: evidence_results,
            last_good: w.last_good.clone(),
            baseline_latency_ms: self.baseline_latency(w.target.id, at).await,
            failure_kinds_by_region: by_region,
            certificate: None,
            threshold_days: None,
            latency_baseline: None,
        };
        // A slow-response incident gives way to the outage (closed without a "resolved" alert).
        crate::baselines::incident::supersede(tx, &mut w.machine.slow, w.target.id, at).await?;
        let id = Uuid::now_v7();
        // A dependency down: the incident is linked to its incident and held (not notified).
        let cause = dependencies::cause_of(tx, &w.target, &w.tags, None).await?;
        let inserted = sqlx::query!(
            "insert into incidents (id, target_id, owner_id, severity, opened_at, regions, failure_kind, evidence,
                 caused_by, notify_state)
             values ($1, $2, $3, 'down', $4, $5, $6, $7, $8, $9)
             on conflict (target_id) where resolved_at is null do nothing",
            id,
            w.target.id,
            w.target.owner_id,
            at,
            &regions,
            failure_kind.map(FailureKind::as_str),
            Json(&evidence) as _,
            cause.as_ref().map(|c| c.incident_id),
            if cause.is_some() { "held" } else { "notified" }
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // An incident is open already (the machine's state was lost): keep that one.
            return Ok(());
        }
        let what = failure_kind.map(FailureKind::as_str).unwrap_or("failure");
        timeline(
            tx,
            id,
            at,
            "opened",
            &format!("Down in {}: {what}.", regions.join(", ")),
        )
        .await?;
        if let Some(cause) = &cause {
            dependencies::hold(tx, id, at, cause).await?;
        }
        dependencies::link_dependants(tx, &w.target, id, at).await?;
        let mut group = None;
        if !self.settings.correlation_window.is_zero() {
            let signals = super::correlate::signals(result, &w.target.address, &w.regions, &regions);
            let window = chrono::Duration::from_std(self.settings.correlation_window).unwrap_or(chrono::Duration::MAX);
            if super::correlate::attach(tx, w.target.owner_id, id, at, &signals, window).await?
                != super::correlate::Attached::Alone
            {
                group = super::correlate::group_ref(tx, id).await?;
            }
        }
        let event = IncidentEvent {
            incident_id: id,
            kind: IncidentEventKind::Opened,
            target: Some(w.target.clone()),
            state: TargetStatus::Down,
            regions,
            started_at: at,
            resolved_at: None,
            pinger_id: None,
            evidence,
            caused_by: cause.map(|c| c.as_message(true)),
            group,
        };
        outbox(tx, result, event).await
    }

    /// The median latency of the target over the 24 hours before `at`, from ClickHouse;
    /// `None` when there is none or ClickHouse does not answer in time.
    async fn baseline_latency(&self, target: Uuid, at: DateTime<Utc>) -> Option<f64> {
        #[derive(clickhouse::Row, Deserialize)]
        struct Baseline {
            n: u64,
            p50: f64,
        }
        let to = at.timestamp().max(0);
        // ClickHouse: text, not a query macro (sqlx checks PostgreSQL only); a UUID and epoch
        // seconds are formatted in.
        let sql = format!(
            "SELECT count() AS n, toFloat64(quantile(0.5)(duration_ms)) AS p50 FROM check_results \
             WHERE target_id = toUUID('{target}') AND checked_at >= toDateTime({from}) \
             AND checked_at < toDateTime({to}) AND outcome != 'down' AND probe_degraded = 0",
            from = to - 86_400
        );
        let query = self.clickhouse.query(&sql).fetch_one::<Baseline>();
        match tokio::time::timeout(std::time::Duration::from_secs(3), query).await {
            Ok(Ok(b)) if b.n > 0 && b.p50.is_finite() => Some(b.p50),
            Ok(Ok(_)) => None,
            Ok(Err(error)) => {
                tracing::warn!(%error, "baseline latency unavailable");
                None
            }
            Err(_) => None,
        }
    }

    /// Warns once per certificate and threshold crossed; `warned` holds the warnings given
    /// (loaded for the batch, and added to here).
    async fn cert_expiry(
        &self,
        tx: &mut PgConnection,
        w: &Working,
        warned: &mut HashSet<(Uuid, String, i32)>,
        result: &CheckResult,
    ) -> Result<(), EngineError> {
        let Some(tls) = &result.tls else { return Ok(()) };
        if result.probe_degraded || tls.fingerprint_sha256.is_empty() {
            return Ok(());
        }
        let crossed: Vec<i32> = self
            .settings
            .cert_warn_days
            .iter()
            .filter(|d| tls.days_left <= i64::from(**d))
            .map(|d| i32::try_from(*d).unwrap_or(i32::MAX))
            .filter(|d| !warned.contains(&(w.target.id, tls.fingerprint_sha256.clone(), *d)))
            .collect();
        if crossed.is_empty() {
            return Ok(());
        }
        warned.extend(
            crossed
                .iter()
                .map(|d| (w.target.id, tls.fingerprint_sha256.clone(), *d)),
        );
        let new: Vec<i32> = sqlx::query_scalar!(
            "insert into cert_warnings (target_id, fingerprint, threshold_days)
             select $1, $2, unnest($3::int4[]) on conflict do nothing returning threshold_days",
            w.target.id,
            &tls.fingerprint_sha256,
            &crossed
        )
        .fetch_all(&mut *tx)
        .await?;
        let Some(threshold) = new.iter().min() else {
            return Ok(());
        };
        let event = IncidentEvent {
            incident_id: Uuid::now_v7(),
            kind: IncidentEventKind::CertExpiring,
            target: Some(w.target.clone()),
            state: w.status,
            regions: vec![result.region.clone()],
            started_at: result.started_at,
            resolved_at: None,
            pinger_id: None,
            evidence: Evidence {
                results: vec![strip(result)],
                certificate: Some(tls.clone()),
                threshold_days: u32::try_from(*threshold).ok(),
                ..Evidence::default()
            },
            caused_by: None,
            group: None,
        };
        outbox(tx, result, event).await
    }

    /// A pinger reporting its own connectivity degraded raises one `probe_degraded` event per
    /// episode; its first healthy result ends the episode.
    async fn apply_probe_health(&self, tx: &mut PgConnection, new: &[&CheckResult]) -> Result<(), EngineError> {
        let pingers: Vec<String> = new
            .iter()
            .map(|r| r.pinger_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut degraded: HashMap<String, bool> = sqlx::query!(
            "select pinger_id, degraded from probe_health where pinger_id = any($1)",
            &pingers
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.pinger_id, r.degraded))
        .collect();
        for r in new {
            let was = degraded.get(&r.pinger_id).copied().unwrap_or(false);
            if r.probe_degraded == was {
                continue;
            }
            degraded.insert(r.pinger_id.clone(), r.probe_degraded);
            let incident_id = r.probe_degraded.then(Uuid::now_v7);
            sqlx::query!(
                "insert into probe_health (pinger_id, region, degraded, incident_id, since)
                 values ($1, $2, $3, $4, $5)
                 on conflict (pinger_id) do update set region = excluded.region, degraded = excluded.degraded,
                     incident_id = coalesce(excluded.incident_id, probe_health.incident_id),
                     since = excluded.since, updated_at = now()",
                &r.pinger_id,
                &r.region,
                r.probe_degraded,
                incident_id,
                r.started_at
            )
            .execute(&mut *tx)
            .await?;
            if let Some(incident_id) = incident_id {
                let event = IncidentEvent {
                    incident_id,
                    kind: IncidentEventKind::ProbeDegraded,
                    target: None,
                    state: TargetStatus::Unknown,
                    regions: vec![r.region.clone()],
                    started_at: r.started_at,
                    resolved_at: None,
                    pinger_id: Some(r.pinger_id.clone()),
                    evidence: Evidence {
                        results: vec![strip(r)],
                        ..Evidence::default()
                    },
                    caused_by: None,
                    group: None,
                };
                outbox(tx, r, event).await?;
            }
        }
        Ok(())
    }

    /// Publishes the events waiting in the outbox, oldest first, deleting each once the broker
    /// confirmed it. Safe to run from several places (rows are locked while published).
    pub async fn flush_outbox(&self, publisher: &Publisher) -> anyhow::Result<usize> {
        let _guard = self.flush.lock().await;
        let mut sent = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let rows: Vec<(Uuid, Json<Outgoing>)> = sqlx::query!(
                r#"select id, envelope as "envelope: Json<Outgoing>" from incident_outbox
                   order by seq limit 100 for update skip locked"#
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (r.id, r.envelope))
            .collect();
            if rows.is_empty() {
                return Ok(sent);
            }
            let mut done = Vec::with_capacity(rows.len());
            let mut failed = None;
            for (id, out) in &rows {
                match publisher.publish(&out.0.event).await {
                    Ok(()) => done.push(*id),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            sqlx::query!("delete from incident_outbox where id = any($1)", &done)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            sent += done.len();
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
    }
}

/// Writes the state of every touched target in one statement. Each row is written only if
/// its version is still the one read (another engine did not change it meanwhile): the row
/// proposes the version it read plus one, which an update accepts only over the version read.
async fn save_states(tx: &mut PgConnection, touched: &[&Working]) -> Result<(), EngineError> {
    if touched.is_empty() {
        return Ok(());
    }
    let n = touched.len();
    let mut ids = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut sinces = Vec::with_capacity(n);
    let mut checked = Vec::with_capacity(n);
    let mut result_ids = Vec::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    let mut failures = Vec::with_capacity(n);
    let mut consecutive_failures = Vec::with_capacity(n);
    let mut consecutive_successes = Vec::with_capacity(n);
    let mut region_states = Vec::with_capacity(n);
    let mut transitions = Vec::with_capacity(n);
    let mut machines = Vec::with_capacity(n);
    let mut recents = Vec::with_capacity(n);
    let mut last_goods = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    for w in touched {
        let last = w.last.as_ref();
        let regions = w.machine.regions.values();
        ids.push(w.target.id);
        statuses.push(w.status.as_str());
        sinces.push(w.since);
        checked.push(last.map(|r| r.started_at));
        result_ids.push(last.map(|r| r.result_id));
        latencies.push(
            last.filter(|r| r.outcome != Outcome::Down)
                .map(|r| i32::try_from(r.duration_ms).unwrap_or(i32::MAX)),
        );
        failures.push(last.and_then(|r| r.failure.as_ref()).map(Json));
        consecutive_failures.push(
            regions
                .clone()
                .map(|r| r.consecutive_failures)
                .max()
                .map_or(0, |v| v as i32),
        );
        consecutive_successes.push(regions.map(|r| r.consecutive_successes).min().map_or(0, |v| v as i32));
        region_states.push(Json(&w.machine.regions));
        transitions.push(Json(&w.machine.transitions));
        machines.push(Json(&w.machine));
        recents.push(Json(&w.recent));
        last_goods.push(w.last_good.as_ref().map(Json));
        versions.push(w.version.unwrap_or(0));
    }
    let written: Vec<Uuid> = sqlx::query_scalar!(
        "insert into target_state as s (target_id, status, since, last_checked_at, last_result_id, last_latency_ms,
             last_failure, consecutive_failures, consecutive_successes, region_states, transitions, machine,
             recent_results, last_good, version, updated_at)
         select target_id, status, since, last_checked_at, last_result_id, last_latency_ms, last_failure,
             consecutive_failures, consecutive_successes, region_states, transitions, machine, recent_results,
             last_good, expected_version + 1, now()
         from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::uuid[], $6::int4[],
             $7::jsonb[], $8::int4[], $9::int4[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::jsonb[],
             $14::jsonb[], $15::int8[])
             as v(target_id, status, since, last_checked_at, last_result_id, last_latency_ms, last_failure,
                  consecutive_failures, consecutive_successes, region_states, transitions, machine,
                  recent_results, last_good, expected_version)
         order by target_id
         on conflict (target_id) do update set status = excluded.status, since = excluded.since,
             last_checked_at = excluded.last_checked_at, last_result_id = excluded.last_result_id,
             last_latency_ms = coalesce(excluded.last_latency_ms, s.last_latency_ms),
             last_failure = excluded.last_failure,
             consecutive_failures = excluded.consecutive_failures,
             consecutive_successes = excluded.consecutive_successes,
             region_states = excluded.region_states, transitions = excluded.transitions,
             machine = excluded.machine, recent_results = excluded.recent_results, last_good = excluded.last_good,
             version = excluded.version, updated_at = now()
         where s.version = excluded.version - 1
         returning target_id",
        &ids,
        &statuses as &[&str],
        &sinces,
        &checked as &[Option<DateTime<Utc>>],
        &result_ids as &[Option<Uuid>],
        &latencies as &[Option<i32>],
        // The JSON columns: typed by serde, bound as jsonb.
        &failures as _,
        &consecutive_failures,
        &consecutive_successes,
        &region_states as _,
        &transitions as _,
        &machines as _,
        &recents as _,
        &last_goods as _,
        &versions
    )
    .fetch_all(&mut *tx)
    .await?;
    if written.len() == n {
        return Ok(());
    }
    let written: HashSet<Uuid> = written.into_iter().collect();
    let lost = ids.into_iter().find(|id| !written.contains(id)).unwrap_or_default();
    Err(EngineError::Conflict(lost))
}

async fn open_incident(tx: &mut PgConnection, target: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select id from incidents where target_id = $1 and resolved_at is null",
        target
    )
    .fetch_optional(&mut *tx)
    .await
}

async fn resolve(tx: &mut PgConnection, w: &Working, result: &CheckResult) -> Result<(), EngineError> {
    let at = result.started_at;
    let row = sqlx::query!(
        r#"update incidents set resolved_at = greatest($2, opened_at), updated_at = now()
         where target_id = $1 and resolved_at is null
         returning id, opened_at, regions, evidence as "evidence: Json<Evidence>""#,
        w.target.id,
        at
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| (r.id, r.opened_at, r.regions, r.evidence));
    let Some((id, opened_at, regions, evidence)) = row else {
        return Ok(());
    };
    timeline(tx, id, at, "resolved", "Recovered in every region.").await?;
    super::correlate::member_resolved(tx, id, at).await?;
    let group = super::correlate::group_ref(tx, id).await?;
    // A held incident becomes silent: its resolution is held too.
    dependencies::on_resolved(tx, id, at).await?;
    let caused_by = dependencies::event_cause(tx, id).await?;
    let event = IncidentEvent {
        incident_id: id,
        kind: IncidentEventKind::Resolved,
        target: Some(w.target.clone()),
        state: w.status,
        regions,
        started_at: opened_at,
        resolved_at: Some(at.max(opened_at)),
        pinger_id: None,
        evidence: Evidence {
            results: vec![strip(result)],
            last_good: Some(strip(result)),
            baseline_latency_ms: evidence.0.baseline_latency_ms,
            ..Evidence::default()
        },
        caused_by,
        group,
    };
    outbox(tx, result, event).await?;
    // The incidents this one held, still open, are released (or keep waiting for another).
    dependencies::release_held_by(tx, id, at, result).await
}

async fn flapping(tx: &mut PgConnection, w: &Working, result: &CheckResult) -> Result<(), EngineError> {
    let at = result.started_at;
    let open = open_incident(tx, w.target.id).await?;
    if let Some(id) = open {
        timeline(
            tx,
            id,
            at,
            "flapping",
            "The target is flapping; alerts are held until it is stable.",
        )
        .await?;
    }
    let caused_by = match open {
        Some(id) => dependencies::event_cause(tx, id).await?,
        None => None,
    };
    let event = IncidentEvent {
        incident_id: open.unwrap_or_else(Uuid::now_v7),
        kind: IncidentEventKind::Flapping,
        target: Some(w.target.clone()),
        state: TargetStatus::Flapping,
        regions: w.machine.failing_regions(),
        started_at: at,
        resolved_at: None,
        pinger_id: None,
        evidence: Evidence {
            results: w.recent.clone(),
            last_good: w.last_good.clone(),
            ..Evidence::default()
        },
        caused_by,
        group: None,
    };
    outbox(tx, result, event).await
}

pub use common::db::timeline;

/// Queues `event` (caused by `cause`) in the outbox, inside the batch's transaction.
pub(crate) async fn outbox(
    tx: &mut PgConnection,
    cause: &CheckResult,
    event: IncidentEvent,
) -> Result<(), EngineError> {
    let id = Uuid::now_v7();
    let envelope = Envelope::caused_by(cause.job_id, event).with_message_id(id);
    sqlx::query!(
        "insert into incident_outbox (id, envelope) values ($1, $2)",
        id,
        Json(Outgoing { event: envelope }) as _
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The copy of a result kept in state and events (whole: the report writer reads the body excerpt).
fn strip(result: &CheckResult) -> CheckResult {
    result.clone()
}

fn most_common_failure(results: &[CheckResult]) -> Option<FailureKind> {
    let mut counts: BTreeMap<FailureKind, usize> = BTreeMap::new();
    for r in results {
        if let Some(f) = &r.failure {
            *counts.entry(f.kind).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(k, _)| k)
}

/// What a target checks, for display: the URL, `host:port`, the DNS name or the ICMP host.
pub fn address_of(spec: &serde_json::Value) -> Option<String> {
    let spec: CheckSpec = serde_json::from_value(spec.clone()).ok()?;
    Some(match spec {
        CheckSpec::Http(h) => h.url,
        CheckSpec::Tcp(t) => format!("{}:{}", t.host, t.port),
        CheckSpec::Dns(d) => d.name,
        CheckSpec::Tls(t) => format!("{}:{}", t.host, t.port),
        CheckSpec::Icmp(i) => i.host,
        CheckSpec::Heartbeat(h) => match crate::heartbeats::Schedule::of(&h) {
            Ok(s) => format!("heartbeat {}", s.describe()),
            Err(_) => "heartbeat".to_owned(),
        },
    })
}
