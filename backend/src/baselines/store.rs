//! `latency_baselines` in PostgreSQL: the hourly refresh from the rollups, the engine's cache,
//! and the settings and bands the API reads and writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use super::band::{Baseline, HOURS_PER_WEEK, HourSample, Level, MIN_ALL_SAMPLES};
use super::judge::Active;
use super::settings::BaselineSettings;
use crate::history::{Fields, Granularity, Seam, Store};

/// The window a baseline is computed over: four weeks, so each hour of the week has four
/// samples of itself.
pub const WINDOW_DAYS: i64 = 28;
/// Targets whose rollups are read at once.
const REFRESH_CHUNK: usize = 200;
/// Baselines the engine keeps in memory at most (beyond, the cache starts afresh).
const CACHE_MAX: usize = 200_000;

/// One stored row, whole.
struct Row {
    target_id: Uuid,
    enabled: Option<bool>,
    factor: f64,
    min_increase_ms: i32,
    computed_at: Option<DateTime<Utc>>,
    history_from: Option<DateTime<Utc>>,
    p50_ms: Option<Vec<Option<f32>>>,
    p95_ms: Option<Vec<Option<f32>>>,
    samples: Option<Vec<Option<i32>>>,
    all_p50_ms: Option<f32>,
    all_p95_ms: Option<f32>,
    all_samples: i32,
}

impl Row {
    fn settings(&self) -> BaselineSettings {
        BaselineSettings {
            enabled: self.enabled,
            factor: self.factor,
            min_increase_ms: u32::try_from(self.min_increase_ms).unwrap_or(0),
        }
    }

    fn baseline(&self) -> Baseline {
        let (p50, p95, n) = (
            self.p50_ms.as_deref().unwrap_or_default(),
            self.p95_ms.as_deref().unwrap_or_default(),
            self.samples.as_deref().unwrap_or_default(),
        );
        let level = |p50: Option<f32>, p95: Option<f32>, n: Option<i32>| match (p50, p95, n) {
            (Some(a), Some(b), Some(n)) if n > 0 => Some(Level {
                p50_ms: f64::from(a),
                p95_ms: f64::from(b),
                samples: u64::try_from(n).unwrap_or(0),
            }),
            _ => None,
        };
        Baseline {
            hours: (0..HOURS_PER_WEEK)
                .map(|h| {
                    level(
                        p50.get(h).copied().flatten(),
                        p95.get(h).copied().flatten(),
                        n.get(h).copied().flatten(),
                    )
                })
                .collect(),
            all: level(self.all_p50_ms, self.all_p95_ms, Some(self.all_samples)),
            history_from: self.history_from,
        }
    }
}

/// A target's stored baseline and settings, as the API shows them.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The settings.
    pub settings: BaselineSettings,
    /// When the baseline was computed (`None`: not yet).
    pub computed_at: Option<DateTime<Utc>>,
    /// The baseline (empty when not computed).
    pub baseline: Baseline,
}

impl Stored {
    /// Whether the engine judges the target's latency at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.computed_at.is_some()
            && self.baseline.all.is_some_and(|l| l.samples >= MIN_ALL_SAMPLES)
            && self.settings.is_on(self.baseline.history_from, now)
    }
}

/// The stored baseline of `target` (defaults when it has no row).
pub async fn load(db: impl PgExecutor<'_>, target: Uuid) -> Result<Stored, sqlx::Error> {
    let rows = load_many(db, &[target]).await?;
    Ok(rows.into_values().next().unwrap_or_else(|| Stored {
        settings: BaselineSettings::default(),
        computed_at: None,
        baseline: Baseline::compute(&[]),
    }))
}

/// The stored baselines of `targets` that have a row.
pub async fn load_many(db: impl PgExecutor<'_>, targets: &[Uuid]) -> Result<HashMap<Uuid, Stored>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"select target_id, enabled, factor, min_increase_ms, computed_at, history_from,
                  p50_ms as "p50_ms: Vec<Option<f32>>", p95_ms as "p95_ms: Vec<Option<f32>>",
                  samples as "samples: Vec<Option<i32>>", all_p50_ms, all_p95_ms, all_samples
           from latency_baselines where target_id = any($1)"#,
        targets
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.target_id,
                Stored {
                    settings: r.settings(),
                    computed_at: r.computed_at,
                    baseline: r.baseline(),
                },
            )
        })
        .collect())
}

/// The settings of `targets` that have a row, and whether each judges at `now` (what a
/// target shows; the buckets are not read).
pub async fn settings_many(
    db: impl PgExecutor<'_>,
    targets: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, (BaselineSettings, bool)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select target_id, enabled, factor, min_increase_ms, computed_at, history_from, all_samples
         from latency_baselines where target_id = any($1)",
        targets
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let settings = BaselineSettings {
                enabled: r.enabled,
                factor: r.factor,
                min_increase_ms: u32::try_from(r.min_increase_ms).unwrap_or(0),
            };
            let active = r.computed_at.is_some()
                && i64::from(r.all_samples) >= MIN_ALL_SAMPLES as i64
                && settings.is_on(r.history_from, now);
            (r.target_id, (settings, active))
        })
        .collect())
}

/// Stores the settings of `target`, leaving its baseline as computed.
pub async fn save_settings(
    conn: &mut PgConnection,
    target: Uuid,
    settings: &BaselineSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into latency_baselines (target_id, enabled, factor, min_increase_ms) values ($1, $2, $3, $4)
         on conflict (target_id) do update set enabled = excluded.enabled, factor = excluded.factor,
             min_increase_ms = excluded.min_increase_ms, updated_at = now()",
        target,
        settings.enabled,
        settings.factor,
        i32::try_from(settings.min_increase_ms).unwrap_or(i32::MAX)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Targets whose baseline was written.
    pub targets: usize,
    /// Of them, with some history in the window.
    pub with_history: usize,
}

/// Recomputes the baseline of every target (heartbeats aside) from the hourly rollups of the
/// [`WINDOW_DAYS`] before the hour of `now`, across the archive seam, [`REFRESH_CHUNK`]
/// targets at a time. Rollups are read from `store`, rows written to `pool`.
#[tracing::instrument(skip_all)]
pub async fn refresh(pool: &PgPool, store: &Store, now: DateTime<Utc>) -> anyhow::Result<Refreshed> {
    let to = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let from = to - Duration::days(WINDOW_DAYS);
    let ids: Vec<Uuid> = sqlx::query_scalar!("select id from targets where kind <> 'heartbeat' order by id")
        .fetch_all(pool)
        .await?;
    let seam = Seam::load(pool).await?;
    let mut done = Refreshed::default();
    for chunk in ids.chunks(REFRESH_CHUNK) {
        let buckets = store
            .buckets(&seam, chunk, Granularity::Hour, Fields::All, from, to)
            .await?;
        let mut hours: HashMap<Uuid, Vec<HourSample>> = HashMap::new();
        for (target, b) in buckets {
            let Some([p50, p95, _]) = b.latency else { continue };
            hours.entry(target).or_default().push(HourSample {
                start: b.start,
                samples: b.checks.saturating_sub(b.failures),
                p50_ms: p50,
                p95_ms: p95,
            });
        }
        let baselines: Vec<(Uuid, Baseline)> = chunk
            .iter()
            .map(|id| {
                (
                    *id,
                    Baseline::compute(hours.get(id).map(Vec::as_slice).unwrap_or_default()),
                )
            })
            .collect();
        done.with_history += baselines.iter().filter(|(_, b)| b.all.is_some()).count();
        write(pool, &baselines, now).await?;
        done.targets += baselines.len();
    }
    Ok(done)
}

/// Writes computed baselines in one statement: the per-hour arrays travel flat (168 values a
/// target) and are cut back per row.
async fn write(pool: &PgPool, baselines: &[(Uuid, Baseline)], now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let n = baselines.len();
    let mut ids = Vec::with_capacity(n);
    let mut from = Vec::with_capacity(n);
    let mut p50 = Vec::with_capacity(n * HOURS_PER_WEEK);
    let mut p95 = Vec::with_capacity(n * HOURS_PER_WEEK);
    let mut samples = Vec::with_capacity(n * HOURS_PER_WEEK);
    let (mut all_p50, mut all_p95, mut all_samples) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let count = |s: u64| i32::try_from(s).unwrap_or(i32::MAX);
    for (id, b) in baselines {
        ids.push(*id);
        from.push(b.history_from);
        for h in &b.hours {
            p50.push(h.map(|l| l.p50_ms as f32));
            p95.push(h.map(|l| l.p95_ms as f32));
            samples.push(h.map(|l| count(l.samples)));
        }
        all_p50.push(b.all.map(|l| l.p50_ms as f32));
        all_p95.push(b.all.map(|l| l.p95_ms as f32));
        all_samples.push(b.all.map_or(0, |l| count(l.samples)));
    }
    sqlx::query!(
        "insert into latency_baselines as b (target_id, computed_at, history_from, p50_ms, p95_ms, samples,
             all_p50_ms, all_p95_ms, all_samples)
         select v.id, $2, v.history_from,
                ($3::real[])[(v.i - 1) * 168 + 1 : v.i * 168], ($4::real[])[(v.i - 1) * 168 + 1 : v.i * 168],
                ($5::int4[])[(v.i - 1) * 168 + 1 : v.i * 168], v.all_p50, v.all_p95, v.all_samples
         from unnest($1::uuid[], $6::timestamptz[], $7::real[], $8::real[], $9::int4[])
              with ordinality as v(id, history_from, all_p50, all_p95, all_samples, i)
         where exists (select 1 from targets t where t.id = v.id)
         order by v.id
         on conflict (target_id) do update set computed_at = excluded.computed_at,
             history_from = excluded.history_from, p50_ms = excluded.p50_ms, p95_ms = excluded.p95_ms,
             samples = excluded.samples, all_p50_ms = excluded.all_p50_ms, all_p95_ms = excluded.all_p95_ms,
             all_samples = excluded.all_samples, updated_at = now()",
        &ids,
        now,
        &p50 as &[Option<f32>],
        &p95 as &[Option<f32>],
        &samples as &[Option<i32>],
        &from as &[Option<DateTime<Utc>>],
        &all_p50 as &[Option<f32>],
        &all_p95 as &[Option<f32>],
        &all_samples
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// When the last refresh ran (the newest `computed_at`).
pub async fn last_refresh(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!("select max(computed_at) from latency_baselines")
        .fetch_one(pool)
        .await
}

/// The engine's baselines in memory, by target, tagged with their `computed_at`: a batch reads
/// the settings and `computed_at` of its targets (one small query) and the baselines
/// themselves only when they changed, hourly at most. Cheap to clone.
#[derive(Clone, Default)]
pub struct Cache {
    baselines: Arc<Mutex<HashMap<Uuid, Cached>>>,
}

/// A baseline in memory and the `computed_at` it was read at.
type Cached = (DateTime<Utc>, Arc<Baseline>);

impl Cache {
    /// The active baselines of `targets` at `now`, for one batch.
    pub async fn load(
        &self,
        conn: &mut PgConnection,
        targets: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, Active>, sqlx::Error> {
        let rows = sqlx::query!(
            r#"select b.target_id, b.enabled, b.factor, b.min_increase_ms, b.computed_at as "computed_at!",
                      b.history_from
               from latency_baselines b join targets t on t.id = b.target_id
               where b.target_id = any($1) and b.computed_at is not null and b.all_samples >= $2
                 and b.enabled is not false and t.kind <> 'heartbeat'"#,
            targets,
            MIN_ALL_SAMPLES as i32
        )
        .fetch_all(&mut *conn)
        .await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| {
                let settings = BaselineSettings {
                    enabled: r.enabled,
                    factor: r.factor,
                    min_increase_ms: 0,
                };
                settings.is_on(r.history_from, now)
            })
            .collect();
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let stale: Vec<Uuid> = {
            let cached = self.baselines.lock().unwrap_or_else(|e| e.into_inner());
            rows.iter()
                .filter(|r| cached.get(&r.target_id).is_none_or(|(at, _)| *at != r.computed_at))
                .map(|r| r.target_id)
                .collect()
        };
        if !stale.is_empty() {
            let fresh = load_many(&mut *conn, &stale).await?;
            let mut cached = self.baselines.lock().unwrap_or_else(|e| e.into_inner());
            if cached.len() + fresh.len() > CACHE_MAX {
                cached.clear();
            }
            for (id, s) in fresh {
                if let Some(at) = s.computed_at {
                    cached.insert(id, (at, Arc::new(s.baseline)));
                }
            }
        }
        let cached = self.baselines.lock().unwrap_or_else(|e| e.into_inner());
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let (_, baseline) = cached.get(&r.target_id)?;
                Some((
                    r.target_id,
                    Active {
                        baseline: baseline.clone(),
                        factor: r.factor,
                        min_increase_ms: f64::from(r.min_increase_ms.max(0)),
                    },
                ))
            })
            .collect())
    }
}
