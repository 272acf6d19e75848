//! The PostgreSQL side: the per-day ledger (`archive_batches`), the locks that keep ingest and
//! the archive job from racing, rows written straight into the archive, and the rollups.
//!
//! # Locks (transaction-scoped advisory locks, keyed by the day)
//! - Ingest holds the day's lock *shared* while it looks the day up in the ledger and writes
//!   rows of that day to ClickHouse; the archive job takes it *exclusively* to open the day in
//!   the ledger. So once a day has a ledger row, no new row of it reaches ClickHouse: late
//!   rows go to the archive instead, and the copy sees every row ClickHouse will ever hold.
//! - Whoever recomputes a day's rollups holds the day's rollup lock, so two writers never
//!   compute from snapshots that miss each other's rows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::fresh::{DayStats, day_bounds};
use crate::row::ResultRow;

/// Advisory lock class of a day (objid: days since the epoch).
const LOCK_DAY: i32 = 0x5054_4131;
/// Advisory lock class of a day's rollups.
const LOCK_ROLLUP: i32 = 0x5054_4132;
/// Advisory lock class of the archive job (one runs at a time).
const LOCK_JOB: i32 = 0x5054_4133;

/// Where a day is in its move to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Opened: rows are being copied.
    Copying,
    /// Copied in one transaction with the day's rollups.
    Copied,
    /// Both sides counted and checksummed equal.
    Verified,
    /// Dropped from ClickHouse.
    Dropped,
    /// Finished.
    Done,
}

impl State {
    /// The ledger's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Copying => "copying",
            State::Copied => "copied",
            State::Verified => "verified",
            State::Dropped => "dropped",
            State::Done => "done",
        }
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "copying" => State::Copying,
            "copied" => State::Copied,
            "verified" => State::Verified,
            "dropped" => State::Dropped,
            "done" => State::Done,
            other => anyhow::bail!("unknown ledger state {other:?}"),
        })
    }
}

fn day_key(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

/// Takes the day's lock, shared, until the transaction ends (ingest).
pub async fn lock_day_shared(conn: &mut PgConnection, day: NaiveDate) -> sqlx::Result<()> {
    // `select from f()`: the lock function returns `void`, a type the macros cannot read.
    sqlx::query!(
        "select from pg_advisory_xact_lock_shared($1, $2)",
        LOCK_DAY,
        day_key(day)
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Takes the day's lock, exclusively, until the transaction ends (opening or migrating a day).
pub async fn lock_day_exclusive(conn: &mut PgConnection, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!("select from pg_advisory_xact_lock($1, $2)", LOCK_DAY, day_key(day))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Takes the day's rollup lock until the transaction ends.
pub async fn lock_rollups(conn: &mut PgConnection, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!("select from pg_advisory_xact_lock($1, $2)", LOCK_ROLLUP, day_key(day))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Tries to become the one running archive job; held by the connection's session until
/// [`release_job`] or until the connection closes (a crash releases it).
pub async fn try_lock_job(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select pg_try_advisory_lock($1, 0) as "locked!""#, LOCK_JOB)
        .fetch_one(conn)
        .await
}

// The statements below stay written out: a query macro takes literal SQL only.
/// Releases the job lock.
pub async fn release_job(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("select from pg_advisory_unlock($1, 0)", LOCK_JOB)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A day's row of the ledger, as far as its state.
struct LedgerRow {
    day: NaiveDate,
    state: String,
}

/// The ledger states of `days` that have a ledger row.
pub async fn states(conn: &mut PgConnection, days: &BTreeSet<NaiveDate>) -> anyhow::Result<BTreeMap<NaiveDate, State>> {
    let days: Vec<NaiveDate> = days.iter().copied().collect();
    let rows = sqlx::query_as!(
        LedgerRow,
        "select day, state from archive_batches where day = any($1)",
        &days
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(|r| Ok((r.day, State::parse(&r.state)?))).collect()
}

/// Days whose move is unfinished.
pub async fn unfinished_days(pool: &PgPool) -> anyhow::Result<Vec<NaiveDate>> {
    Ok(
        sqlx::query_scalar!("select day from archive_batches where state <> 'done' order by day")
            .fetch_all(pool)
            .await?,
    )
}

/// Opens `day` in the ledger (state `copying`, compact layout), or reopens a `done` day that
/// ClickHouse holds rows of again; returns the state to continue from and whether the day is
/// still in the old layout (`archived_results`). Waits for ingest writers of the day.
pub async fn open_day(pool: &PgPool, day: NaiveDate) -> anyhow::Result<(State, bool)> {
    let mut tx = pool.begin().await?;
    lock_day_exclusive(&mut tx, day).await?;
    let row = sqlx::query!(
        "insert into archive_batches as b (day, state, layout) values ($1, 'copying', 'days')
         on conflict (day) do update set
             attempts = b.attempts + 1,
             state = case when b.state = 'done' then 'copying' else b.state end,
             finished_at = case when b.state = 'done' then null else b.finished_at end,
             updated_at = now()
         returning state, layout",
        day
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((State::parse(&row.state)?, row.layout == "rows"))
}

/// Moves `day` to `state`.
pub async fn set_state(executor: &mut PgConnection, day: NaiveDate, state: State) -> sqlx::Result<()> {
    sqlx::query!(
        "update archive_batches set state = $2, updated_at = now(),
             finished_at = case when $2 = 'done' then now() else finished_at end,
             last_error = case when $2 = 'done' then null else last_error end
         where day = $1",
        day,
        state.as_str()
    )
    .execute(executor)
    .await
    .map(|_| ())
}

/// Records what the verification counted on both sides.
pub async fn record_counts(pool: &PgPool, day: NaiveDate, ch: DayStats, pg: DayStats) -> sqlx::Result<()> {
    sqlx::query!(
        "update archive_batches set ch_rows = $2, ch_checksum = $3, pg_rows = $4, pg_checksum = $5,
             updated_at = now() where day = $1",
        day,
        ch.rows as i64,
        ch.checksum(),
        pg.rows as i64,
        pg.checksum()
    )
    .execute(pool)
    .await
    .map(|_| ())
}

/// Records why the last attempt on `day` failed (best effort).
pub async fn record_error(pool: &PgPool, day: NaiveDate, error: &str) {
    let _ = sqlx::query!(
        "update archive_batches set last_error = $2, updated_at = now() where day = $1",
        day,
        error
    )
    .execute(pool)
    .await;
}

/// Creates the month partition of `archived_results` holding `day`. Run outside long
/// transactions: creating a partition locks the parent table.
pub async fn ensure_partition(executor: &mut PgConnection, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!("select from ensure_archive_partition($1)", day)
        .execute(executor)
        .await
        .map(|_| ())
}

/// Count and checksum columns of a set of archived rows.
///
/// Each row's canonical text (result id, target id, epoch seconds, duration, outcome, status
/// code, failure kind, joined by `|`) is hashed with MD5, and the two halves of the hash's
/// first 64 bits are summed: the twin of ClickHouse's in [`crate::fresh`]. The queries that
/// compute it ([`day_stats`] and [`crate::days`]'s) spell the text out each, because a query
/// macro takes literal SQL only; keep them alike.
struct StatsRow {
    rows: i64,
    sum_a: i64,
    sum_b: i64,
}

impl From<StatsRow> for DayStats {
    fn from(r: StatsRow) -> Self {
        DayStats {
            rows: r.rows as u64,
            sum_a: r.sum_a as u64,
            sum_b: r.sum_b as u64,
        }
    }
}

/// Count and checksum of everything archived for `day`.
pub async fn day_stats(executor: impl sqlx::PgExecutor<'_>, day: NaiveDate) -> sqlx::Result<DayStats> {
    let (start, end) = day_bounds(day);
    sqlx::query_as!(
        StatsRow,
        r#"select count(*) as "rows!",
                coalesce(sum(('x' || substr(h, 1, 8))::bit(32)::int8), 0)::int8 as "sum_a!",
                coalesce(sum(('x' || substr(h, 9, 8))::bit(32)::int8), 0)::int8 as "sum_b!"
         from (select md5(a.result_id::text || '|' || a.target_id::text || '|' ||
                   extract(epoch from a.checked_at)::int8::text || '|' || a.duration_ms::text || '|' ||
                   a.outcome || '|' || coalesce(a.status_code, 0)::text || '|' ||
                   coalesce(a.failure_kind, '')) as h
               from archived_results a where a.checked_at >= $1 and a.checked_at < $2) t"#,
        start,
        end
    )
    .fetch_one(executor)
    .await
    .map(DayStats::from)
}

/// Inserts `rows` (of days still in the old layout) into `archived_results`, skipping results archived already; the partitions
/// must exist. Returns how many were new.
pub async fn insert_archived(conn: &mut PgConnection, rows: &[ResultRow]) -> sqlx::Result<u64> {
    fn none_if_empty(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }
    /// One column of `rows`, bound as an array (`unnest` turns the arrays back into rows).
    fn column<'a, T>(rows: &'a [ResultRow], f: impl Fn(&'a ResultRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let r = sqlx::query!(
        "insert into archived_results (result_id, target_id, job_id, region, pinger_id, check_kind,
             checked_at, finished_at, duration_ms, outcome, failure_kind, failure_phase, failure_message,
             status_code, dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, resolved_ip, tls_days_left,
             probe_degraded, detail)
         select r, t, j, reg, p, k, c, f, d, o, fk, fp, fm, s, dn, cn, tl, tt, tr, ip, td, pd, det::jsonb
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                     $7::timestamptz[], $8::timestamptz[], $9::int4[], $10::text[], $11::text[], $12::text[],
                     $13::text[], $14::int4[], $15::float4[], $16::float4[], $17::float4[], $18::float4[],
                     $19::float4[], $20::text[], $21::int4[], $22::bool[], $23::text[])
              as u(r, t, j, reg, p, k, c, f, d, o, fk, fp, fm, s, dn, cn, tl, tt, tr, ip, td, pd, det)
         on conflict do nothing",
        &column(rows, |r| r.result_id),
        &column(rows, |r| r.target_id),
        &column(rows, |r| r.job_id),
        &column(rows, |r| r.region.as_str()) as &[&str],
        &column(rows, |r| r.pinger_id.as_str()) as &[&str],
        &column(rows, |r| r.check_kind.as_str()) as &[&str],
        &column(rows, |r| r.checked_at_utc()),
        &column(rows, |r| r.finished_at_utc()),
        &column(rows, |r| r.duration_ms as i32),
        &column(rows, |r| r.outcome_str()) as &[&str],
        &column(rows, |r| none_if_empty(&r.failure_kind)) as &[Option<&str>],
        &column(rows, |r| none_if_empty(&r.failure_phase)) as &[Option<&str>],
        &column(rows, |r| none_if_empty(&r.failure_message)) as &[Option<&str>],
        &column(rows, |r| (r.status_code != 0).then_some(i32::from(r.status_code))) as &[Option<i32>],
        &column(rows, |r| r.dns_ms),
        &column(rows, |r| r.connect_ms),
        &column(rows, |r| r.tls_ms),
        &column(rows, |r| r.ttfb_ms),
        &column(rows, |r| r.transfer_ms),
        &column(rows, |r| none_if_empty(&r.resolved_ip)) as &[Option<&str>],
        &column(rows, |r| r.tls_days_left) as &[Option<i32>],
        &column(rows, |r| r.probe_degraded != 0),
        &column(rows, |r| r.detail.as_str()) as &[&str]
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Recomputes the hourly and daily rollups of `day` from `archived_results`, for every target
/// or only `targets`. Takes the day's rollup lock until the transaction ends.
///
/// Definitions match ClickHouse's rollups: failures are `down` results not taken while the
/// probe was degraded; latency is over results that are not `down`; downtime is the bucket's
/// seconds times failures / checks.
pub async fn refresh_rollups(conn: &mut PgConnection, day: NaiveDate, targets: Option<&[Uuid]>) -> sqlx::Result<()> {
    lock_rollups(conn, day).await?;
    let (start, end) = day_bounds(day);
    sqlx::query!(
        "insert into result_rollups as rr (target_id, granularity, bucket, checks, failures, degraded,
             downtime_seconds, latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms)
         select target_id, granularity, bucket, checks, failures, degraded,
                (case granularity when 'hour' then 3600.0 else 86400.0 end) * failures / checks,
                latency_avg, q[1], q[2], q[3], latency_max
         from (
             select target_id,
                    case when grouping(hour) = 0 then 'hour' else 'day' end as granularity,
                    coalesce(hour, $1) as bucket,
                    count(*)::int4 as checks,
                    (count(*) filter (where outcome = 'down' and not probe_degraded))::int4 as failures,
                    (count(*) filter (where outcome = 'degraded'))::int4 as degraded,
                    avg(duration_ms) filter (where outcome <> 'down') as latency_avg,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by duration_ms)
                        filter (where outcome <> 'down') as q,
                    (max(duration_ms) filter (where outcome <> 'down'))::float8 as latency_max
             from (select target_id, date_trunc('hour', checked_at, 'UTC') as hour, outcome, probe_degraded,
                          duration_ms
                   from archived_results
                   where checked_at >= $1 and checked_at < $2
                     and ($3::uuid[] is null or target_id = any($3))) r
             group by grouping sets ((target_id, hour), (target_id))
         ) g
         on conflict (target_id, granularity, bucket) do update set
             checks = excluded.checks, failures = excluded.failures, degraded = excluded.degraded,
             downtime_seconds = excluded.downtime_seconds, latency_avg_ms = excluded.latency_avg_ms,
             latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
             latency_p99_ms = excluded.latency_p99_ms, latency_max_ms = excluded.latency_max_ms",
        start,
        end,
        targets
    )
    .execute(conn)
    .await
    .map(|_| ())
}
