//! The fresh store, ClickHouse: inserting batches, and what the archive job asks of a day
//! (its count and checksum, its keys, its rows as PostgreSQL `COPY` text, dropping it).
//!
//! Days are ClickHouse partitions (`toYYYYMMDD(checked_at)`), which are UTC days only when
//! the server runs in UTC: [`ensure_utc`] refuses to archive otherwise.
//!
//! ClickHouse's SQL is text built here, not a query macro: sqlx checks PostgreSQL only, and
//! the ClickHouse client has no compile-time check. What is formatted in is typed (epoch
//! seconds, UUIDs, numbers) or one of this module's constant names, never text from a user.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::Client;
use serde::Deserialize;
use uuid::Uuid;

use crate::row::ResultRow;

/// The table of fresh results.
pub const RESULTS_TABLE: &str = "check_results";
/// Tables partitioned by day that lose a day once it is archived.
pub const DAY_PARTITIONED_TABLES: [&str; 3] = [RESULTS_TABLE, "check_rollups_hourly", "check_rollups_daily"];

/// The canonical text of a row that both stores hash (MD5) for the day checksum; PostgreSQL's
/// twin is in [`crate::ledger`].
const CH_ROW_TEXT: &str = "concat(toString(result_id), '|', toString(target_id), '|', \
     toString(toUnixTimestamp(checked_at)), '|', toString(duration_ms), '|', toString(outcome), '|', \
     toString(status_code), '|', failure_kind)";

/// Writes `rows` in one INSERT. Either ClickHouse accepted all of them or the call fails and
/// the caller still holds the batch (the crate's inserter would drop it: clickhouse-rs#212).
pub async fn insert_rows(client: &Client, rows: &[ResultRow], timeout: Duration) -> clickhouse::error::Result<()> {
    let mut insert = client
        .insert::<ResultRow>(RESULTS_TABLE)
        .await?
        .with_timeouts(Some(timeout), Some(timeout));
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// The count and checksum of a day's rows, duplicates collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clickhouse::Row, Deserialize)]
pub struct DayStats {
    /// Distinct rows.
    pub rows: u64,
    /// Sum over rows of the first 32 bits of the row's MD5.
    pub sum_a: u64,
    /// Sum over rows of the next 32 bits.
    pub sum_b: u64,
}

impl DayStats {
    /// The checksum as the ledger stores it.
    pub fn checksum(&self) -> String {
        format!("{}:{}", self.sum_a, self.sum_b)
    }
}

/// The instants bounding a UTC day: `[start, end)`.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (start, start + chrono::Duration::days(1))
}

fn day_bounds_secs(day: NaiveDate) -> (i64, i64) {
    let (s, e) = day_bounds(day);
    (s.timestamp(), e.timestamp())
}

/// Count and checksum of `day` in ClickHouse (`FINAL`: each result once).
pub async fn day_stats(client: &Client, day: NaiveDate) -> clickhouse::error::Result<DayStats> {
    let (start, end) = day_bounds_secs(day);
    let sql = format!(
        "SELECT count() AS rows, \
                sum(reinterpretAsUInt32(reverse(unhex(substring(h, 1, 8))))) AS sum_a, \
                sum(reinterpretAsUInt32(reverse(unhex(substring(h, 9, 8))))) AS sum_b \
         FROM (SELECT hex(MD5({CH_ROW_TEXT})) AS h FROM {RESULTS_TABLE} FINAL \
               WHERE checked_at >= toDateTime({start}) AND checked_at < toDateTime({end}))"
    );
    client.query(&sql).fetch_one::<DayStats>().await
}

/// The primary key of one archived row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clickhouse::Row, Deserialize)]
pub struct RowKey {
    /// `checked_at` in epoch seconds.
    pub checked_at: u32,
    /// The result's id.
    #[serde(with = "clickhouse::serde::uuid")]
    pub result_id: Uuid,
}

/// The keys of `day`'s rows, streamed.
pub fn day_keys(client: &Client, day: NaiveDate) -> clickhouse::error::Result<clickhouse::query::RowCursor<RowKey>> {
    let (start, end) = day_bounds_secs(day);
    client
        .query(&format!(
            "SELECT toUInt32(checked_at) AS checked_at, result_id FROM {RESULTS_TABLE} FINAL \
             WHERE checked_at >= toDateTime({start}) AND checked_at < toDateTime({end})"
        ))
        .fetch::<RowKey>()
}

/// The columns of PostgreSQL's `archived_results`, in the order [`day_as_copy_text`] emits them.
pub const ARCHIVE_COLUMNS: &str = "result_id, target_id, job_id, region, pinger_id, check_kind, checked_at, \
     finished_at, duration_ms, outcome, failure_kind, failure_phase, failure_message, status_code, dns_ms, \
     connect_ms, tls_ms, ttfb_ms, transfer_ms, resolved_ip, tls_days_left, probe_degraded, detail";

/// `day`'s rows, duplicates collapsed, as PostgreSQL `COPY` text (ClickHouse's TabSeparated
/// escapes the same way; empty values become `\N`), streamed in chunks.
pub fn day_as_copy_text(client: &Client, day: NaiveDate) -> clickhouse::error::Result<clickhouse::query::BytesCursor> {
    let (start, end) = day_bounds_secs(day);
    range_as_copy_text(client, start, end)
}

/// [`day_as_copy_text`] for the rows with `checked_at` in `[start, end)` (epoch seconds).
pub fn range_as_copy_text(
    client: &Client,
    start: i64,
    end: i64,
) -> clickhouse::error::Result<clickhouse::query::BytesCursor> {
    let sql = format!(
        "SELECT result_id, target_id, job_id, region, pinger_id, check_kind, \
                concat(toString(checked_at), 'Z'), concat(toString(finished_at), 'Z'), duration_ms, \
                toString(outcome), nullIf(failure_kind, ''), nullIf(failure_phase, ''), \
                nullIf(failure_message, ''), nullIf(status_code, 0), dns_ms, connect_ms, tls_ms, ttfb_ms, \
                transfer_ms, nullIf(resolved_ip, ''), tls_days_left, probe_degraded, detail \
         FROM {RESULTS_TABLE} FINAL \
         WHERE checked_at >= toDateTime({start}) AND checked_at < toDateTime({end})"
    );
    client.query(&sql).fetch_bytes("TabSeparated")
}

/// The rows of `day` (each result once) of the targets in slice `slice` of `slices` (by a
/// hash of the target id), ordered by target then time: each target's rows arrive together.
pub fn day_rows_by_target(
    client: &Client,
    day: NaiveDate,
    slice: u64,
    slices: u64,
) -> clickhouse::error::Result<clickhouse::query::RowCursor<ResultRow>> {
    let (start, end) = day_bounds_secs(day);
    client
        .query(&format!(
            "SELECT result_id, job_id, target_id, region, pinger_id, check_kind, checked_at, finished_at, \
                    duration_ms, outcome, failure_kind, failure_phase, failure_message, status_code, dns_ms, \
                    connect_ms, tls_ms, ttfb_ms, transfer_ms, resolved_ip, tls_days_left, probe_degraded, detail \
             FROM {RESULTS_TABLE} FINAL \
             WHERE checked_at >= toDateTime({start}) AND checked_at < toDateTime({end}) \
               AND cityHash64(toString(target_id)) % {slices} = {slice} \
             ORDER BY target_id, checked_at, result_id"
        ))
        .fetch::<ResultRow>()
}

/// The days (partitions) `check_results` holds data for.
pub async fn days(client: &Client) -> clickhouse::error::Result<Vec<NaiveDate>> {
    let partitions: Vec<String> = client
        .query(&format!(
            "SELECT DISTINCT partition FROM system.parts \
             WHERE database = currentDatabase() AND table = '{RESULTS_TABLE}' AND active"
        ))
        .fetch_all()
        .await?;
    let mut days: Vec<NaiveDate> = partitions
        .iter()
        .filter_map(|p| NaiveDate::parse_from_str(p.trim_matches('\''), "%Y%m%d").ok())
        .collect();
    days.sort();
    Ok(days)
}

/// Drops `day` from `check_results` and from the rollups (a no-op when already gone).
pub async fn drop_day(client: &Client, day: NaiveDate) -> clickhouse::error::Result<()> {
    let partition = day.format("%Y%m%d");
    for table in DAY_PARTITIONED_TABLES {
        client
            .query(&format!("ALTER TABLE {table} DROP PARTITION {partition}"))
            .execute()
            .await?;
    }
    Ok(())
}

/// Fails unless the server's time zone is UTC (partitions would not be UTC days otherwise).
/// Checked in winter and summer, so that a zone at UTC+0 only in winter is refused too.
pub async fn ensure_utc(client: &Client) -> anyhow::Result<()> {
    let (winter, summer): (u32, u32) = client
        .query(
            "SELECT toUnixTimestamp(toDateTime('2000-01-01 00:00:00')), \
                    toUnixTimestamp(toDateTime('2000-07-01 00:00:00'))",
        )
        .fetch_one()
        .await?;
    anyhow::ensure!(
        (winter, summer) == (946_684_800, 962_409_600),
        "ClickHouse's server time zone is not UTC; its day partitions would not be UTC days, so archiving is off"
    );
    Ok(())
}
