//! Sealing closed days: the daily rollups of a finished day still in ClickHouse are copied, as
//! plain counts, into PostgreSQL's `result_rollups`, and the day is recorded in `sealed_days`
//! (one transaction). Long-range reads (90-day bars, 30-day uptime) then take sealed days
//! from PostgreSQL instead of merging a day of `uniqExact` states per target in ClickHouse —
//! the states are 16 bytes per result, the sealed row a few dozen per target and day.
//!
//! A seal records a fingerprint of the ClickHouse parts it was computed from, read *before*
//! the rollups: a part inserted later (a late or redelivered result) or a merge changes the
//! fingerprint, and the next pass seals the day again. A sealed day is therefore never stale
//! for longer than one pass after ClickHouse changes. Days the archive job has opened are
//! left to it (it recomputes their rollups from the archive, exactly).
//!
//! ClickHouse's SQL is text built here, not a query macro: sqlx checks PostgreSQL only, and
//! the ClickHouse client has no compile-time check. What is formatted in is typed (epoch
//! seconds, UUIDs, numbers) or one of this module's constant names, never text from a user.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use clickhouse::Client;
use serde::Deserialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::{ledger, telemetry};

/// How long after a day ends before it is sealed (results of its last seconds are still in
/// flight just after midnight; a later one only causes a second seal).
pub const GRACE: Duration = Duration::from_secs(600);

/// The table sealed from.
const DAILY_ROLLUPS: &str = "check_rollups_daily";

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Days sealed (or sealed again), oldest first.
    pub sealed: Vec<NaiveDate>,
    /// Closed days whose seal was current.
    pub current: usize,
}

/// Fingerprints of the closed days in ClickHouse's daily rollups: day → hash of the names of
/// its active parts.
async fn fingerprints(client: &Client) -> clickhouse::error::Result<BTreeMap<NaiveDate, i64>> {
    #[derive(clickhouse::Row, Deserialize)]
    struct Row {
        partition: String,
        fingerprint: u64,
    }
    let rows: Vec<Row> = client
        .query(&format!(
            "SELECT partition, cityHash64(arrayStringConcat(arraySort(groupArray(name)), ',')) AS fingerprint \
             FROM system.parts WHERE database = currentDatabase() AND table = '{DAILY_ROLLUPS}' AND active \
             GROUP BY partition"
        ))
        .fetch_all()
        .await?;
    let closed_before = (Utc::now() - GRACE).date_naive();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let day = NaiveDate::parse_from_str(r.partition.trim_matches('\''), "%Y%m%d").ok()?;
            // Same bits, signed: PostgreSQL has no unsigned 64-bit integer.
            (day < closed_before).then_some((day, r.fingerprint as i64))
        })
        .collect())
}

/// One target's day, as the daily rollups hold it.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct DayRow {
    target: String,
    checks: u64,
    failures: u64,
    degraded: u64,
    avg: f64,
    q: Vec<f64>,
    max: f64,
}

async fn day_rollups(client: &Client, day: NaiveDate) -> clickhouse::error::Result<Vec<DayRow>> {
    client
        .query(&format!(
            "SELECT toString(target_id) AS target, uniqExactMerge(checks) AS checks, \
                    uniqExactIfMerge(failures) AS failures, uniqExactIfMerge(degraded) AS degraded, \
                    toFloat64(avgIfMerge(latency_avg_ms)) AS avg, \
                    arrayMap(x -> toFloat64(x), quantilesIfMerge(0.5, 0.95, 0.99)(latency_quantiles_ms)) AS q, \
                    toFloat64(maxIfMerge(latency_max_ms)) AS max \
             FROM {DAILY_ROLLUPS} WHERE day = toDate('{day}') GROUP BY target_id"
        ))
        .fetch_all()
        .await
}

/// A day's seal, as far as its fingerprint.
struct SealRow {
    day: NaiveDate,
    fingerprint: i64,
}

/// Seals every closed day of ClickHouse whose seal is missing or out of date, oldest first;
/// stops between days on `shutdown`.
pub async fn seal_days(client: &Client, pg: &PgPool, shutdown: &CancellationToken) -> anyhow::Result<SealReport> {
    let fingerprints = fingerprints(client).await?;
    let days: Vec<NaiveDate> = fingerprints.keys().copied().collect();
    let known: BTreeMap<NaiveDate, i64> = sqlx::query_as!(
        SealRow,
        "select day, fingerprint from sealed_days where day = any($1)",
        &days
    )
    .fetch_all(pg)
    .await?
    .into_iter()
    .map(|r| (r.day, r.fingerprint))
    .collect();
    // Days the archive job has opened are its own: it recomputes their rollups exactly.
    let archiving: BTreeSet<NaiveDate> =
        sqlx::query_scalar!("select day from archive_batches where day = any($1)", &days)
            .fetch_all(pg)
            .await?
            .into_iter()
            .collect();
    let mut report = SealReport::default();
    for (day, fingerprint) in fingerprints {
        if archiving.contains(&day) || known.get(&day) == Some(&fingerprint) {
            report.current += 1;
            continue;
        }
        if shutdown.is_cancelled() {
            break;
        }
        if seal_day(client, pg, day, fingerprint).await? {
            report.sealed.push(day);
        } else {
            report.current += 1;
        }
    }
    // Seals of days the archive has finished are read from nowhere any more.
    sqlx::query!("delete from sealed_days s using archive_batches b where b.day = s.day and b.state = 'done'")
        .execute(pg)
        .await?;
    Ok(report)
}

/// Seals `day` with the rollups ClickHouse holds now; `fingerprint` was read before them.
/// Returns false when the archive job opened the day meanwhile (nothing is written).
pub async fn seal_day(client: &Client, pg: &PgPool, day: NaiveDate, fingerprint: i64) -> anyhow::Result<bool> {
    let rows = day_rollups(client, day).await?;
    let mut targets = Vec::with_capacity(rows.len());
    let (mut checks, mut failures, mut degraded) = (Vec::new(), Vec::new(), Vec::new());
    let (mut avg, mut p50, mut p95, mut p99, mut max) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let Ok(target) = r.target.parse::<Uuid>() else {
            continue;
        };
        if r.checks == 0 {
            continue;
        }
        // Latency is over results that are not down: none when every result was down.
        let latency = r.avg.is_finite() && r.q.len() == 3 && r.q.iter().all(|v| v.is_finite());
        targets.push(target);
        checks.push(i32::try_from(r.checks).unwrap_or(i32::MAX));
        failures.push(i32::try_from(r.failures).unwrap_or(i32::MAX));
        degraded.push(i32::try_from(r.degraded).unwrap_or(i32::MAX));
        avg.push(latency.then_some(r.avg));
        p50.push(latency.then(|| r.q[0]));
        p95.push(latency.then(|| r.q[1]));
        p99.push(latency.then(|| r.q[2]));
        max.push(latency.then_some(r.max));
    }
    let mut tx = pg.begin().await?;
    ledger::lock_rollups(&mut tx, day).await?;
    let archiving: bool = sqlx::query_scalar!(
        r#"select exists (select 1 from archive_batches where day = $1) as "exists!""#,
        day
    )
    .fetch_one(&mut *tx)
    .await?;
    if archiving {
        debug!(%day, "the archive job has the day; not sealing it");
        return Ok(false);
    }
    let (bucket, _) = crate::fresh::day_bounds(day);
    sqlx::query!(
        "insert into result_rollups as rr (target_id, granularity, bucket, checks, failures, degraded,
             downtime_seconds, latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms)
         select t, 'day', $2, c, f, d, 86400.0 * f / c, a, q50, q95, q99, mx
         from unnest($1::uuid[], $3::int4[], $4::int4[], $5::int4[], $6::float8[], $7::float8[], $8::float8[],
                     $9::float8[], $10::float8[]) as u(t, c, f, d, a, q50, q95, q99, mx)
         on conflict (target_id, granularity, bucket) do update set
             checks = excluded.checks, failures = excluded.failures, degraded = excluded.degraded,
             downtime_seconds = excluded.downtime_seconds, latency_avg_ms = excluded.latency_avg_ms,
             latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
             latency_p99_ms = excluded.latency_p99_ms, latency_max_ms = excluded.latency_max_ms",
        &targets,
        bucket,
        &checks,
        &failures,
        &degraded,
        &avg as &[Option<f64>],
        &p50 as &[Option<f64>],
        &p95 as &[Option<f64>],
        &p99 as &[Option<f64>],
        &max as &[Option<f64>]
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into sealed_days (day, fingerprint, targets) values ($1, $2, $3)
         on conflict (day) do update set fingerprint = excluded.fingerprint, targets = excluded.targets,
             sealed_at = now()",
        day,
        fingerprint,
        targets.len() as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    telemetry::day_sealed();
    info!(%day, targets = targets.len(), "day sealed");
    Ok(true)
}

/// One seal pass of `serve`, logged (a failed pass is retried by the next).
pub async fn seal_pass(client: &Client, pg: &PgPool, shutdown: &CancellationToken) {
    match seal_days(client, pg, shutdown).await {
        Ok(report) if !report.sealed.is_empty() => {
            info!(
                sealed = report.sealed.len(),
                current = report.current,
                "seal pass finished"
            );
        }
        Ok(_) => {}
        Err(error) => warn!(error = format!("{error:#}"), "seal pass failed; the next one retries"),
    }
}
