//! The archiver's metrics (Prometheus names; rendered on `/metrics`).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Results per stored batch.
pub const BATCH_ROWS: &str = "pingtower_archiver_batch_rows";
/// Seconds one ClickHouse INSERT took.
pub const INSERT_SECONDS: &str = "pingtower_archiver_insert_seconds";
/// Failed ClickHouse INSERTs (each is retried).
pub const INSERT_FAILURES: &str = "pingtower_archiver_insert_failures_total";
/// Results stored, by store (`clickhouse`, or `archive` for late results of archived days).
pub const ROWS_INGESTED: &str = "pingtower_archiver_rows_ingested_total";
/// Seconds between the newest stored result's publication and its storage.
pub const LAG_SECONDS: &str = "pingtower_archiver_lag_seconds";
/// Archive job runs, by result (`ok`, `failed`, `skipped`).
pub const ARCHIVE_RUNS: &str = "pingtower_archiver_archive_runs_total";
/// Days moved to PostgreSQL (not `..._days_total`: Prometheus reads `days` as a time unit).
pub const ARCHIVED_DAYS: &str = "pingtower_archiver_day_archives_total";
/// Rows copied to PostgreSQL.
pub const ARCHIVED_ROWS: &str = "pingtower_archiver_archived_rows_total";
/// Seconds to move one day.
pub const ARCHIVE_DAY_SECONDS: &str = "pingtower_archiver_archive_day_seconds";
/// When the archive job last finished without a failed day (epoch seconds).
pub const LAST_ARCHIVE_SUCCESS: &str = "pingtower_archiver_last_archive_success_timestamp_seconds";

/// Closed days sealed into PostgreSQL's rollups (again when ClickHouse changed).
pub const SEALED_DAYS: &str = "pingtower_archiver_day_seals_total";

/// Describes every metric and registers the counters at zero (once, at start, after the
/// recorder is installed): an idle archiver's `/metrics` shows them already.
pub fn describe() {
    metrics::describe_histogram!(BATCH_ROWS, "Results per stored batch");
    metrics::describe_histogram!(
        INSERT_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one ClickHouse INSERT"
    );
    metrics::describe_counter!(INSERT_FAILURES, "Failed ClickHouse INSERTs (retried)");
    metrics::describe_counter!(ROWS_INGESTED, "Results stored, by store");
    metrics::describe_gauge!(
        LAG_SECONDS,
        metrics::Unit::Seconds,
        "Age of the newest stored result's message when stored"
    );
    metrics::describe_counter!(ARCHIVE_RUNS, "Archive job runs, by result");
    metrics::describe_counter!(ARCHIVED_DAYS, "Days moved to PostgreSQL");
    metrics::describe_counter!(ARCHIVED_ROWS, "Rows copied to PostgreSQL");
    metrics::describe_histogram!(
        ARCHIVE_DAY_SECONDS,
        metrics::Unit::Seconds,
        "Duration of moving one day"
    );
    metrics::describe_counter!(SEALED_DAYS, "Closed days sealed into PostgreSQL's rollups");
    metrics::describe_gauge!(
        LAST_ARCHIVE_SUCCESS,
        "When the archive job last succeeded (epoch seconds)"
    );
    for counter in [INSERT_FAILURES, ARCHIVED_DAYS, ARCHIVED_ROWS, SEALED_DAYS] {
        metrics::counter!(counter).absolute(0);
    }
    for store in ["clickhouse", "archive"] {
        metrics::counter!(ROWS_INGESTED, "store" => store).absolute(0);
    }
    for result in ["ok", "failed", "skipped"] {
        metrics::counter!(ARCHIVE_RUNS, "result" => result).absolute(0);
    }
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
