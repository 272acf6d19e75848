//! The archiver's metrics (Prometheus names; rendered on `/metrics`).

use std::time::Duration;

use chrono::{DateTime, Utc};

common::declare_metrics! {
    /// Results per stored batch.
    histogram BATCH_ROWS = "pingtower_archiver_batch_rows", "Results per stored batch";
    /// Seconds one ClickHouse INSERT took.
    histogram INSERT_SECONDS = "pingtower_archiver_insert_seconds" in Seconds, "Duration of one ClickHouse INSERT";
    /// Failed ClickHouse INSERTs (each is retried).
    counter INSERT_FAILURES = "pingtower_archiver_insert_failures_total", "Failed ClickHouse INSERTs (retried)";
    /// Results stored, by store (`clickhouse`, or `archive` for late results of archived days).
    counter ROWS_INGESTED = "pingtower_archiver_rows_ingested_total", "Results stored, by store";
    /// Seconds between the newest stored result's publication and its storage.
    gauge LAG_SECONDS = "pingtower_archiver_lag_seconds" in Seconds, "Age of the newest stored result's message when stored";
    /// Archive job runs, by result (`ok`, `failed`, `skipped`).
    counter ARCHIVE_RUNS = "pingtower_archiver_archive_runs_total", "Archive job runs, by result";
    /// Days moved to PostgreSQL (not `..._days_total`: Prometheus reads `days` as a time unit).
    counter ARCHIVED_DAYS = "pingtower_archiver_day_archives_total", "Days moved to PostgreSQL";
    /// Rows copied to PostgreSQL.
    counter ARCHIVED_ROWS = "pingtower_archiver_archived_rows_total", "Rows copied to PostgreSQL";
    /// Seconds to move one day.
    histogram ARCHIVE_DAY_SECONDS = "pingtower_archiver_archive_day_seconds" in Seconds, "Duration of moving one day";
    /// When the archive job last finished without a failed day (epoch seconds).
    gauge LAST_ARCHIVE_SUCCESS = "pingtower_archiver_last_archive_success_timestamp_seconds",
        "When the archive job last succeeded (epoch seconds)";
    /// Days moved from the old archive layout to the compact one.
    counter MIGRATED_DAYS = "pingtower_archiver_day_migrations_total", "Days moved to the compact archive layout";
    /// Closed days sealed into PostgreSQL's rollups (again when ClickHouse changed).
    counter SEALED_DAYS = "pingtower_archiver_day_seals_total", "Closed days sealed into PostgreSQL's rollups";
    /// Bytes of the PostgreSQL archive: every partition of `archived_results` and
    /// `archive_days`, with indexes and TOAST (refreshed each archive pass).
    gauge ARCHIVE_BYTES = "pingtower_archiver_archive_size_bytes" in Bytes,
        "Size of the PostgreSQL archive, all partitions with indexes (refreshed each archive pass)";
    /// The oldest UTC day the archive holds a row of, as the epoch seconds of its midnight
    /// (0 when the archive is empty; refreshed each archive pass).
    gauge ARCHIVE_OLDEST_DAY = "pingtower_archiver_archive_oldest_day_timestamp_seconds",
        "Oldest archived day, epoch seconds of its UTC midnight (0 when the archive is empty)";
    /// Archived month partitions dropped by the retention (`PINGTOWER_ARCHIVE_KEEP_DAYS`).
    counter PARTITIONS_DROPPED = "pingtower_archiver_retention_dropped_partitions_total",
        "Archived month partitions dropped by the retention";
    /// Bytes freed by the retention's drops.
    counter BYTES_DROPPED = "pingtower_archiver_retention_dropped_bytes_total",
        "Bytes freed by the retention's drops of archived months";
    /// 1 while moving days to PostgreSQL is paused, by reason (`budget`: the archive would
    /// pass `PINGTOWER_ARCHIVE_MAX_BYTES`; `disk`: PostgreSQL's disk would fall below
    /// `PINGTOWER_ARCHIVE_MIN_FREE_BYTES`); the days wait in ClickHouse.
    gauge ARCHIVE_PAUSED = "pingtower_archiver_archive_paused",
        "1 while moving days to PostgreSQL is paused for space, by reason (budget, disk)";
    /// Late results of days older than `PINGTOWER_ARCHIVE_KEEP_DAYS`, left out.
    counter LATE_EXPIRED = "pingtower_archiver_late_expired_results_total",
        "Late results older than the archive's keep days, left out";
    /// Free bytes on PostgreSQL's data disk, when the archiver can see it (same host).
    gauge PG_FREE_BYTES = "pingtower_archiver_postgres_free_bytes" in Bytes,
        "Free bytes on PostgreSQL's data disk (only when it is visible from the archiver)";
}

/// Reasons the archive move pauses, as the `reason` label of [`ARCHIVE_PAUSED`].
pub const PAUSE_REASONS: [&str; 2] = ["budget", "disk"];

/// Describes every metric and registers the counters at zero (once, at start, after the
/// recorder is installed): an idle archiver's `/metrics` shows them already.
pub fn describe() {
    common::telemetry::describe(METRICS);
    common::telemetry::zero_counters(&[
        INSERT_FAILURES,
        ARCHIVED_DAYS,
        ARCHIVED_ROWS,
        SEALED_DAYS,
        PARTITIONS_DROPPED,
        BYTES_DROPPED,
        MIGRATED_DAYS,
        LATE_EXPIRED,
    ]);
    for reason in PAUSE_REASONS {
        metrics::gauge!(ARCHIVE_PAUSED, "reason" => reason).set(0.0);
    }
    common::telemetry::zero_series(ROWS_INGESTED, "store", &["clickhouse", "archive"]);
    common::telemetry::zero_series(ARCHIVE_RUNS, "result", &["ok", "failed", "skipped"]);
}

/// A batch is durable: `fresh` rows in ClickHouse, `archived` in PostgreSQL.
pub fn batch_stored(fresh: usize, archived: usize, _took: Duration, newest: Option<DateTime<Utc>>) {
    metrics::histogram!(BATCH_ROWS).record((fresh + archived) as f64);
    metrics::counter!(ROWS_INGESTED, "store" => "clickhouse").increment(fresh as u64);
    if archived > 0 {
        metrics::counter!(ROWS_INGESTED, "store" => "archive").increment(archived as u64);
    }
    if let Some(newest) = newest {
        let lag = (Utc::now() - newest).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::gauge!(LAG_SECONDS).set(lag);
    }
}

/// One INSERT succeeded.
pub fn insert_took(took: Duration) {
    metrics::histogram!(INSERT_SECONDS).record(took.as_secs_f64());
}

/// One INSERT failed.
pub fn insert_failed() {
    metrics::counter!(INSERT_FAILURES).increment(1);
}

/// One day moved.
pub fn day_archived(rows: u64, took: Duration) {
    metrics::counter!(ARCHIVED_DAYS).increment(1);
    metrics::counter!(ARCHIVED_ROWS).increment(rows);
    metrics::histogram!(ARCHIVE_DAY_SECONDS).record(took.as_secs_f64());
}

/// One run of the archive job ended.
pub fn archive_run(result: &'static str) {
    metrics::counter!(ARCHIVE_RUNS, "result" => result).increment(1);
    if result == "ok" {
        metrics::gauge!(LAST_ARCHIVE_SUCCESS).set(Utc::now().timestamp() as f64);
    }
}

/// One day sealed.
pub fn day_sealed() {
    metrics::counter!(SEALED_DAYS).increment(1);
}

/// The archive's size was read.
pub fn archive_bytes(bytes: u64) {
    metrics::gauge!(ARCHIVE_BYTES).set(bytes as f64);
}

/// The archive's oldest day was read (`None`: the archive is empty).
pub fn archive_oldest_day(day: Option<chrono::NaiveDate>) {
    let seconds = day.map_or(0, |d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
    metrics::gauge!(ARCHIVE_OLDEST_DAY).set(seconds as f64);
}

/// The retention dropped a partition of `bytes`.
pub fn partition_dropped(bytes: u64) {
    metrics::counter!(PARTITIONS_DROPPED).increment(1);
    metrics::counter!(BYTES_DROPPED).increment(bytes);
}

/// The archive move is paused for `reason` (one of [`PAUSE_REASONS`]), or not (`None`).
pub fn archive_paused(reason: Option<&'static str>) {
    for r in PAUSE_REASONS {
        metrics::gauge!(ARCHIVE_PAUSED, "reason" => r).set(if Some(r) == reason { 1.0 } else { 0.0 });
    }
}

/// PostgreSQL's data disk has `bytes` free.
pub fn pg_free_bytes(bytes: u64) {
    metrics::gauge!(PG_FREE_BYTES).set(bytes as f64);
}

/// One day moved to the compact layout.
pub fn day_migrated(_took: Duration) {
    metrics::counter!(MIGRATED_DAYS).increment(1);
}

/// `n` late results older than the keep days were left out.
pub fn late_expired(n: usize) {
    metrics::counter!(LATE_EXPIRED).increment(n as u64);
}
