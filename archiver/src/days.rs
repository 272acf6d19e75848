//! The compact archive in PostgreSQL (`archive_days`: one row per target and UTC day, see
//! [`common::archive_day`]): writing and merging rows, the day's count and checksum, the
//! rollups computed from it, and the migration of days still in the old layout
//! (`archived_results`, one row per result).
//!
//! # Which table holds a day
//! `archive_batches.layout` says it: `rows` for days archived before the compact layout,
//! `days` for every day the archive job opens now. Readers read a day from the table its
//! ledger row names. A `rows` day moves to `days` in one transaction ([`migrate_day`]) that
//! holds the day's lock exclusively (so ingest writes no late result of it meanwhile) and
//! sets `layout = 'days'` as it commits: at every commit a day is read from exactly one
//! table. Its old rows stay behind, unread, until every day of their month is migrated and
//! [`drop_migrated_partitions`] drops the month's partition.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use common::archive_day::{self, DayRow, Entry};
use sqlx::{PgConnection, PgPool};
use tracing::info;
use uuid::Uuid;

use crate::fault::{self, FaultPoint};
use crate::fresh::{DayStats, day_bounds};
use crate::ledger;
use crate::row::ResultRow;

/// Which table holds an archived day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `archived_results`, one row per result (before the compact layout).
    Rows,
    /// `archive_days`, one row per target and day.
    Days,
}

impl Layout {
    fn parse(s: &str) -> Self {
        if s == "rows" { Layout::Rows } else { Layout::Days }
    }
}

/// The entry of a ClickHouse row: exact times and the signature read from its detail.
pub fn entry_of(row: &ResultRow) -> Entry {
    let peek = archive_day::peek(&row.detail);
    let checked_ms = i64::from(row.checked_at) * 1000;
    // The detail's instant, when it falls in the row's second (it always does unless edited).
    let started_ms = peek
        .started_ms
        .filter(|ms| ms.div_euclid(1000) == i64::from(row.checked_at))
        .unwrap_or(checked_ms);
    let finished_ms = peek.finished_ms.unwrap_or(i64::from(row.finished_at) * 1000);
    Entry {
        result_id: row.result_id,
        job_id: row.job_id,
        region: row.region.clone(),
        pinger_id: row.pinger_id.clone(),
        check_kind: row.check_kind.clone(),
        started_ms,
        took_ms: (finished_ms - started_ms).clamp(0, i64::from(i32::MAX)) as i32,
        duration_ms: row.duration_ms.min(i32::MAX as u32) as i32,
        outcome: i16::from(row.outcome),
        status_code: row.status_code as i16,
        failure_kind: row.failure_kind.clone(),
        failure_phase: row.failure_phase.clone(),
        failure_message: row.failure_message.clone(),
        timings: [row.dns_ms, row.connect_ms, row.tls_ms, row.ttfb_ms, row.transfer_ms],
        resolved_ip: row.resolved_ip.clone(),
        tls_days_left: row.tls_days_left,
        probe_degraded: row.probe_degraded != 0,
        sig: peek.sig,
        detail: Some(row.detail.clone()),
    }
}

/// Creates the month partition of `archive_days` holding `day`. Run outside long
/// transactions: creating a partition locks the parent table.
pub async fn ensure_partition(executor: &mut PgConnection, day: NaiveDate) -> sqlx::Result<()> {
    sqlx::query!("select from ensure_archive_days_partition($1)", day)
        .execute(executor)
        .await
        .map(|_| ())
}

/// The row of `target` on `day`, locked until the transaction ends.
pub async fn load_row(conn: &mut PgConnection, day: NaiveDate, target: Uuid) -> sqlx::Result<Option<DayRow>> {
    sqlx::query_as!(
        DayRow,
        r#"select day, target_id, n, strs, result_ids, job_ids, at_ms, took_ms, duration_ms, outcome, status_code,
                region_i, pinger_i, kind_i, ip_i, failure_kind_i, failure_phase_i, failure_msg_i, dns_ms, connect_ms,
                tls_ms, ttfb_ms, transfer_ms, tls_days_left as "tls_days_left: Vec<Option<i32>>", probe_degraded, sig,
                detail_at, details
         from archive_days where day = $1 and target_id = $2 for update"#,
        day,
        target
    )
    .fetch_optional(conn)
    .await
}

/// Writes `row`, replacing the target's row of the day if there is one.
pub async fn upsert_row(conn: &mut PgConnection, row: &DayRow) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into archive_days (day, target_id, n, strs, result_ids, job_ids, at_ms, took_ms, duration_ms,
             outcome, status_code, region_i, pinger_i, kind_i, ip_i, failure_kind_i, failure_phase_i, failure_msg_i,
             dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, tls_days_left, probe_degraded, sig, detail_at, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                 $22, $23, $24, $25, $26, $27, $28)
         on conflict (day, target_id) do update set
             n = excluded.n, strs = excluded.strs, result_ids = excluded.result_ids, job_ids = excluded.job_ids,
             at_ms = excluded.at_ms, took_ms = excluded.took_ms, duration_ms = excluded.duration_ms,
             outcome = excluded.outcome, status_code = excluded.status_code, region_i = excluded.region_i,
             pinger_i = excluded.pinger_i, kind_i = excluded.kind_i, ip_i = excluded.ip_i,
             failure_kind_i = excluded.failure_kind_i, failure_phase_i = excluded.failure_phase_i,
             failure_msg_i = excluded.failure_msg_i, dns_ms = excluded.dns_ms, connect_ms = excluded.connect_ms,
             tls_ms = excluded.tls_ms, ttfb_ms = excluded.ttfb_ms, transfer_ms = excluded.transfer_ms,
             tls_days_left = excluded.tls_days_left, probe_degraded = excluded.probe_degraded, sig = excluded.sig,
             detail_at = excluded.detail_at, details = excluded.details, updated_at = now()",
        row.day,
        row.target_id,
        row.n,
        &row.strs,
        &row.result_ids,
        &row.job_ids,
        &row.at_ms,
        &row.took_ms,
        &row.duration_ms,
        &row.outcome,
        &row.status_code,
        &row.region_i,
        &row.pinger_i,
        &row.kind_i,
        &row.ip_i,
        &row.failure_kind_i,
        &row.failure_phase_i,
        &row.failure_msg_i,
        &row.dns_ms,
        &row.connect_ms,
        &row.tls_ms,
        &row.ttfb_ms,
        &row.transfer_ms,
        &row.tls_days_left as &[Option<i32>],
        &row.probe_degraded,
        &row.sig,
        &row.detail_at,
        &row.details
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Inserts `row`; fails with a unique violation if the target's day has a row already.
pub async fn insert_row(conn: &mut PgConnection, row: &DayRow) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into archive_days (day, target_id, n, strs, result_ids, job_ids, at_ms, took_ms, duration_ms,
             outcome, status_code, region_i, pinger_i, kind_i, ip_i, failure_kind_i, failure_phase_i, failure_msg_i,
             dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, tls_days_left, probe_degraded, sig, detail_at, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                 $22, $23, $24, $25, $26, $27, $28)",
        row.day,
        row.target_id,
        row.n,
        &row.strs,
        &row.result_ids,
        &row.job_ids,
        &row.at_ms,
        &row.took_ms,
        &row.duration_ms,
        &row.outcome,
        &row.status_code,
        &row.region_i,
        &row.pinger_i,
        &row.kind_i,
        &row.ip_i,
        &row.failure_kind_i,
        &row.failure_phase_i,
        &row.failure_msg_i,
        &row.dns_ms,
        &row.connect_ms,
        &row.tls_ms,
        &row.ttfb_ms,
        &row.transfer_ms,
        &row.tls_days_left as &[Option<i32>],
        &row.probe_degraded,
        &row.sig,
        &row.detail_at,
        &row.details
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes `entries` (all of `target` on `day`, details present) as the target's row of the
/// day. With `merge`, the row already there (if any) is read first and its results win over
/// `entries`' copies of them; the keep rules then decide the details of the new results.
/// Returns how many results are new.
pub async fn write_target_day(
    conn: &mut PgConnection,
    day: NaiveDate,
    target: Uuid,
    mut entries: Vec<Entry>,
    merge: bool,
) -> anyhow::Result<u64> {
    let mut old = 0;
    if merge && let Some(existing) = load_row(conn, day, target).await? {
        let mut all = existing.entries()?;
        old = all.len();
        all.append(&mut entries);
        entries = all;
    }
    archive_day::sort_unique(&mut entries);
    let new = (entries.len() - old) as u64;
    if new == 0 {
        return Ok(0);
    }
    archive_day::keep_details(&mut entries);
    let row = DayRow::build(day, target, &entries)?;
    upsert_row(conn, &row).await?;
    Ok(new)
}

/// Whether `archive_days` holds any row of `day`.
pub async fn has_rows(pool: &PgPool, day: NaiveDate) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from archive_days where day = $1) as "exists!""#,
        day
    )
    .fetch_one(pool)
    .await
}

/// Count and checksum of `day` in `archive_days`: the same canonical text per result as
/// [`ledger::day_stats`] and ClickHouse's (see [`crate::fresh`]).
pub async fn day_stats(executor: impl sqlx::PgExecutor<'_>, day: NaiveDate) -> sqlx::Result<DayStats> {
    let r = sqlx::query!(
        r#"select count(*) as "rows!",
                coalesce(sum(('x' || substr(h, 1, 8))::bit(32)::int8), 0)::int8 as "sum_a!",
                coalesce(sum(('x' || substr(h, 9, 8))::bit(32)::int8), 0)::int8 as "sum_b!"
         from (select md5(u.rid::text || '|' || d.target_id::text || '|' ||
                   ((d.day - date '1970-01-01')::int8 * 86400 + u.at / 1000)::text || '|' || u.dur::text || '|' ||
                   (case u.o when 2 then 'degraded' when 3 then 'down' else 'up' end) || '|' ||
                   u.s::int4::text || '|' || coalesce(d.strs[u.fk], '')) as h
               from archive_days d,
                    unnest(d.result_ids, d.at_ms, d.duration_ms, d.outcome, d.status_code, d.failure_kind_i)
                        as u(rid, at, dur, o, s, fk)
               where d.day = $1) t"#,
        day
    )
    .fetch_one(executor)
    .await?;
    Ok(DayStats {
        rows: r.rows as u64,
        sum_a: r.sum_a as u64,
        sum_b: r.sum_b as u64,
    })
}

/// Count and checksum of the results of `day` whose ids are among `ids` (results archived
/// beside them do not count).
pub async fn stats_of_ids(pool: &PgPool, day: NaiveDate, ids: &[Uuid]) -> sqlx::Result<DayStats> {
    let r = sqlx::query!(
        r#"select count(*) as "rows!",
                coalesce(sum(('x' || substr(h, 1, 8))::bit(32)::int8), 0)::int8 as "sum_a!",
                coalesce(sum(('x' || substr(h, 9, 8))::bit(32)::int8), 0)::int8 as "sum_b!"
         from (select md5(u.rid::text || '|' || d.target_id::text || '|' ||
                   ((d.day - date '1970-01-01')::int8 * 86400 + u.at / 1000)::text || '|' || u.dur::text || '|' ||
                   (case u.o when 2 then 'degraded' when 3 then 'down' else 'up' end) || '|' ||
                   u.s::int4::text || '|' || coalesce(d.strs[u.fk], '')) as h
               from archive_days d,
                    unnest(d.result_ids, d.at_ms, d.duration_ms, d.outcome, d.status_code, d.failure_kind_i)
                        as u(rid, at, dur, o, s, fk)
               where d.day = $1 and u.rid = any($2)) t"#,
        day,
        ids
    )
    .fetch_one(pool)
    .await?;
    Ok(DayStats {
        rows: r.rows as u64,
        sum_a: r.sum_a as u64,
        sum_b: r.sum_b as u64,
    })
}

/// Recomputes the hourly and daily rollups of `day` from `archive_days`, for every target or
/// only `targets`; the definitions of [`ledger::refresh_rollups`]. Takes the day's rollup lock
/// until the transaction ends.
pub async fn refresh_rollups(conn: &mut PgConnection, day: NaiveDate, targets: Option<&[Uuid]>) -> sqlx::Result<()> {
    ledger::lock_rollups(conn, day).await?;
    let (start, _) = day_bounds(day);
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
                    (count(*) filter (where outcome = 3 and not probe_degraded))::int4 as failures,
                    (count(*) filter (where outcome = 2))::int4 as degraded,
                    avg(duration_ms) filter (where outcome <> 3) as latency_avg,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by duration_ms)
                        filter (where outcome <> 3) as q,
                    (max(duration_ms) filter (where outcome <> 3))::float8 as latency_max
             from (select d.target_id, $1::timestamptz + (u.at / 3600000) * interval '1 hour' as hour, u.outcome,
                          u.probe_degraded, u.duration_ms
                   from archive_days d,
                        unnest(d.at_ms, d.outcome, d.probe_degraded, d.duration_ms)
                            as u(at, outcome, probe_degraded, duration_ms)
                   where d.day = $2 and ($3::uuid[] is null or d.target_id = any($3))) r
             group by grouping sets ((target_id, hour), (target_id))
         ) g
         on conflict (target_id, granularity, bucket) do update set
             checks = excluded.checks, failures = excluded.failures, degraded = excluded.degraded,
             downtime_seconds = excluded.downtime_seconds, latency_avg_ms = excluded.latency_avg_ms,
             latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
             latency_p99_ms = excluded.latency_p99_ms, latency_max_ms = excluded.latency_max_ms",
        start,
        day,
        targets
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes late `rows` (of days in the `days` layout) into `archive_days`, merged into their
/// targets' rows, and refreshes those targets' rollups. The partitions must exist. Returns
/// how many results were new.
pub async fn insert_late(conn: &mut PgConnection, rows: &[ResultRow]) -> anyhow::Result<u64> {
    let mut groups: BTreeMap<(NaiveDate, Uuid), Vec<Entry>> = BTreeMap::new();
    for row in rows {
        groups
            .entry((row.day(), row.target_id))
            .or_default()
            .push(entry_of(row));
    }
    let mut new = 0;
    let mut by_day: BTreeMap<NaiveDate, Vec<Uuid>> = BTreeMap::new();
    for ((day, target), entries) in groups {
        new += write_target_day(conn, day, target, entries, true).await?;
        by_day.entry(day).or_default().push(target);
    }
    for (day, targets) in by_day {
        refresh_rollups(conn, day, Some(&targets)).await?;
    }
    Ok(new)
}

// ---------------------------------------------------------------------------------------------
// The layouts and the migration
// ---------------------------------------------------------------------------------------------

/// The layouts of the days among `days` that have a ledger row.
pub async fn layouts(conn: &mut PgConnection, days: &[NaiveDate]) -> sqlx::Result<BTreeMap<NaiveDate, Layout>> {
    let rows = sqlx::query!("select day, layout from archive_batches where day = any($1)", days)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.day, Layout::parse(&r.layout))).collect())
}

/// Days still in the old layout, oldest first.
pub async fn days_to_migrate(pool: &PgPool) -> sqlx::Result<Vec<NaiveDate>> {
    sqlx::query_scalar!("select day from archive_batches where layout = 'rows' order by day")
        .fetch_all(pool)
        .await
}

/// A row of `archived_results`, as far as the compact layout keeps it.
struct OldRow {
    result_id: Uuid,
    job_id: Uuid,
    region: String,
    pinger_id: String,
    check_kind: String,
    checked_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    duration_ms: i32,
    outcome: String,
    failure_kind: Option<String>,
    failure_phase: Option<String>,
    failure_message: Option<String>,
    status_code: Option<i32>,
    dns_ms: Option<f32>,
    connect_ms: Option<f32>,
    tls_ms: Option<f32>,
    ttfb_ms: Option<f32>,
    transfer_ms: Option<f32>,
    resolved_ip: Option<String>,
    tls_days_left: Option<i32>,
    probe_degraded: bool,
    detail: String,
}

impl OldRow {
    fn entry(self) -> Entry {
        let peek = archive_day::peek(&self.detail);
        let checked = self.checked_at.timestamp();
        let started_ms = peek
            .started_ms
            .filter(|ms| ms.div_euclid(1000) == checked)
            .unwrap_or(checked * 1000);
        let finished_ms = peek.finished_ms.unwrap_or(self.finished_at.timestamp() * 1000);
        Entry {
            result_id: self.result_id,
            job_id: self.job_id,
            region: self.region,
            pinger_id: self.pinger_id,
            check_kind: self.check_kind,
            started_ms,
            took_ms: (finished_ms - started_ms).clamp(0, i64::from(i32::MAX)) as i32,
            duration_ms: self.duration_ms,
            outcome: match self.outcome.as_str() {
                "degraded" => 2,
                "down" => 3,
                _ => 1,
            },
            status_code: self.status_code.unwrap_or(0) as i16,
            failure_kind: self.failure_kind.unwrap_or_default(),
            failure_phase: self.failure_phase.unwrap_or_default(),
            failure_message: self.failure_message.unwrap_or_default(),
            timings: [
                self.dns_ms.unwrap_or(0.0),
                self.connect_ms.unwrap_or(0.0),
                self.tls_ms.unwrap_or(0.0),
                self.ttfb_ms.unwrap_or(0.0),
                self.transfer_ms.unwrap_or(0.0),
            ],
            resolved_ip: self.resolved_ip.unwrap_or_default(),
            tls_days_left: self.tls_days_left,
            probe_degraded: self.probe_degraded,
            sig: peek.sig,
            detail: Some(self.detail),
        }
    }
}

/// Moves `day` from `archived_results` to `archive_days` in one transaction (see the module
/// docs); a day already moved is left alone. Returns the results moved.
///
/// The transaction holds the day's lock exclusively, so no late result of the day is written
/// meanwhile; it checks that the day's count and checksum are the same in both layouts before
/// it sets `layout = 'days'`. A crash anywhere rolls the whole day back.
pub async fn migrate_day(pool: &PgPool, day: NaiveDate, fault: Option<FaultPoint>) -> anyhow::Result<u64> {
    ensure_partition(&mut *pool.acquire().await?, day).await?;
    let (start, end) = day_bounds(day);
    let mut tx = pool.begin().await?;
    ledger::lock_day_exclusive(&mut tx, day).await?;
    let layout = sqlx::query_scalar!("select layout from archive_batches where day = $1 for update", day)
        .fetch_optional(&mut *tx)
        .await?;
    if layout.as_deref() != Some("rows") {
        return Ok(0);
    }
    let before = day_stats(&mut *tx, day).await?;
    let targets: Vec<Uuid> = sqlx::query_scalar!(
        "select distinct target_id from archived_results where checked_at >= $1 and checked_at < $2",
        start,
        end
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut moved = 0;
    for (i, target) in targets.iter().enumerate() {
        let rows = sqlx::query_as!(
            OldRow,
            "select result_id, job_id, region, pinger_id, check_kind, checked_at, finished_at, duration_ms, outcome,
                    failure_kind, failure_phase, failure_message, status_code, dns_ms, connect_ms, tls_ms, ttfb_ms,
                    transfer_ms, resolved_ip, tls_days_left, probe_degraded, detail::text as \"detail!\"
             from archived_results where target_id = $1 and checked_at >= $2 and checked_at < $3",
            target,
            start,
            end
        )
        .fetch_all(&mut *tx)
        .await?;
        let entries: Vec<Entry> = rows.into_iter().map(OldRow::entry).collect();
        moved += write_target_day(&mut tx, day, *target, entries, before.rows > 0).await?;
        if i == 0 {
            fault::hit(fault, FaultPoint::DuringMigration);
        }
    }
    let old = ledger::day_stats(&mut *tx, day).await?;
    let new = day_stats(&mut *tx, day).await?;
    if before.rows == 0 {
        anyhow::ensure!(
            old == new,
            "migrating {day}: the compact layout differs from archived_results ({new:?} vs {old:?})"
        );
    } else {
        anyhow::ensure!(
            new.rows >= old.rows,
            "migrating {day}: the compact layout holds fewer results than archived_results ({new:?} vs {old:?})"
        );
    }
    sqlx::query!(
        "update archive_batches set layout = 'days', migrated_at = now(), updated_at = now() where day = $1",
        day
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    fault::hit(fault, FaultPoint::AfterMigration);
    info!(%day, results = old.rows, "day moved to the compact archive layout");
    Ok(moved)
}

/// Drops the month partitions of `archived_results` none of whose days is still in the old
/// layout (their rows are all in `archive_days`, or gone). Returns the partitions dropped.
pub async fn drop_migrated_partitions(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let parts: Vec<String> = sqlx::query_scalar!(
        r#"select c.relname::text as "name!" from pg_inherits i
           join pg_class c on c.oid = i.inhrelid
           join pg_class p on p.oid = i.inhparent
           where p.relname = 'archived_results' order by 1"#
    )
    .fetch_all(pool)
    .await?;
    let pending: Vec<NaiveDate> = days_to_migrate(pool).await?;
    let mut dropped = Vec::new();
    for part in parts {
        // `archived_results_YYYY_MM`, as ensure_archive_partition names them.
        let Some(month) = part
            .strip_prefix("archived_results_")
            .and_then(|m| NaiveDate::parse_from_str(&format!("{m}_01"), "%Y_%m_%d").ok())
        else {
            continue;
        };
        if pending
            .iter()
            .any(|d| d.year() == month.year() && d.month() == month.month())
        {
            continue;
        }
        let mut tx = pool.begin().await?;
        // A day of the month still `rows` (opened by an old archiver meanwhile) keeps it.
        let still: bool = sqlx::query_scalar!(
            r#"select exists (select 1 from archive_batches where layout = 'rows'
                 and day >= $1 and day < ($1::date + interval '1 month')) as "exists!""#,
            month
        )
        .fetch_one(&mut *tx)
        .await?;
        if still {
            continue;
        }
        // The name is one pg_inherits gave and matched the pattern above.
        sqlx::query(sqlx::AssertSqlSafe(format!("drop table if exists \"{part}\"")))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        info!(partition = %part, "old archive partition dropped: its month is in the compact layout");
        dropped.push(part);
    }
    Ok(dropped)
}
