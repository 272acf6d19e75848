//! Benchmark of the archiver against the real RabbitMQ, PostgreSQL and ClickHouse, on
//! throwaway vhosts and databases (removed at the end).
//!
//! 1. **Ingest**: `BENCH_RESULTS` results (default 100,000) are queued on `results.store`,
//!    then drained by a no-op batch consumer (same batch size and prefetch, acks only); the
//!    same number is queued again and drained by the real archiver ingest into ClickHouse.
//!    Both rates and their ratio are printed (goal: ≥ 20,000 results/s and ≥ 80 %).
//! 2. **Archive**: one old day of `BENCH_TARGETS` targets (default 1,000) checked every 60 s
//!    (1.44 million rows) is inserted straight into ClickHouse, then one archive run moves it
//!    to PostgreSQL. Seconds and rows/s are printed (goal: < 60 s).
//! 3. **Size**: the same day is also `COPY`ed into the old layout (`archived_results`, one row
//!    per result) before the run; `pg_total_relation_size` per archived result of both
//!    layouts is printed side by side (goal: ≤ 150 bytes and ≥ 9× smaller). Before the run,
//!    that old-layout copy is also moved to the compact layout the way the archiver moves days
//!    archived before it, and timed (`BENCH_MIGRATE=off` skips it).
//!
//! Peak RSS of this process (the archiver runs in it) is printed per phase.
//!
//! ```text
//! cargo run --release -p archiver --example bench_archiver
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use archiver::config::ClickHouseCompression;
use archiver::row::ResultRow;
use archiver::{ArchiveJob, Config};
use bus::testing::TestBroker;
use bus::{ConsumerOptions, HandlerError, Publisher, consume_batches};
use chrono::{DateTime, NaiveDate, Utc};
use common::messages::{CheckResult, Envelope, Outcome, RESULTS_STORE_QUEUE};
use common::testing::{TestClickHouse, TestPg};
use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// `BENCH_CH_COMPRESSION=none` (default `lz4`, the archiver's default).
fn compression() -> ClickHouseCompression {
    match std::env::var("BENCH_CH_COMPRESSION").as_deref() {
        Ok("none") => ClickHouseCompression::None,
        _ => ClickHouseCompression::Lz4,
    }
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs only when asked for (`RUST_LOG=archiver=info` shows each archive step).
    if std::env::var_os("RUST_LOG").is_some() {
        common::telemetry::init("bench_archiver");
    }
    let results = env_usize("BENCH_RESULTS", 100_000);
    let targets = env_usize("BENCH_TARGETS", 1000);
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "ingest,archive".into());
    println!(
        "bench_archiver: {} cores, ClickHouse compression {:?}",
        std::thread::available_parallelism()?.get(),
        compression()
    );
    if phases.contains("ingest") {
        ingest(results).await?;
    }
    if phases.contains("archive") {
        archive(targets).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------------

async fn ingest(n: usize) -> anyhow::Result<()> {
    println!("\n== ingest: {n} results from results.store ==");
    let (broker, pg, ch) = tokio::join!(TestBroker::new(), TestPg::new(), TestClickHouse::new());
    let mut config = Config::new(broker.config.clone(), pg.config.clone(), ch.config.clone());
    config.archive.disabled = true;
    config.clickhouse_compression = compression();
    config.ingest.batch_size = env_usize("BENCH_BATCH_SIZE", config.ingest.batch_size);
    config.ingest.writers = env_usize("BENCH_WRITERS", config.ingest.writers);
    let batch = config.ingest.batch_size;
    let publisher = Publisher::new(
        broker.broker("bench-publisher", CancellationToken::new()),
        Duration::from_secs(60),
    );

    // No-op consumer: same queue, batch size, prefetch and multiple-ack; stores nothing.
    enqueue(&publisher, &broker, &fresh_results(n, 1000)).await?;
    reset_peak_rss();
    let noop_took = {
        let shutdown = CancellationToken::new();
        let consumer_broker = broker.broker("bench-noop", shutdown.clone());
        let seen = Arc::new(AtomicUsize::new(0));
        let options = ConsumerOptions::new(RESULTS_STORE_QUEUE)
            .batches(batch, config.ingest.batch_wait)
            .concurrency(config.ingest.writers)
            .max_retry_delay(config.ingest.max_retry_delay);
        let cpu = CpuMeter::start();
        let started = Instant::now();
        let (stop, seen2) = (shutdown.clone(), seen.clone());
        consume_batches(
            &consumer_broker,
            options,
            shutdown.clone(),
            move |b: Vec<Envelope<CheckResult>>| {
                if seen2.fetch_add(b.len(), Ordering::SeqCst) + b.len() >= n {
                    stop.cancel();
                }
                async { Ok::<(), HandlerError>(()) }
            },
        )
        .await?;
        let took = started.elapsed();
        let cpu = cpu.report();
        consumer_broker.close().await;
        anyhow::ensure!(seen.load(Ordering::SeqCst) >= n, "the no-op consumer saw every message");
        (took, cpu)
    };
    let (noop_took, noop_cpu) = noop_took;
    let noop_rss = peak_rss_kib();
    wait_depth(&broker, 0).await?;

    // The real archiver ingest, in this process, into ClickHouse.
    let archived = fresh_results(n, 1000);
    enqueue(&publisher, &broker, &archived).await?;
    publisher.broker().close().await;
    reset_peak_rss();
    let shutdown = CancellationToken::new();
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let app = tokio::spawn(archiver::run_with(config, shutdown.clone(), |_| {}));
    loop {
        let stored: u64 = ch.client.query("SELECT count() FROM check_results").fetch_one().await?;
        if stored >= n as u64 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "ingest took over 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ingest_took = started.elapsed();
    let ingest_cpu = cpu.report();
    let ingest_rss = peak_rss_kib();
    shutdown.cancel();
    app.await??;
    let (distinct, after_final): (u64, u64) = ch
        .client
        .query("SELECT (SELECT uniqExact(result_id) FROM check_results), (SELECT count() FROM check_results FINAL)")
        .fetch_one()
        .await?;
    anyhow::ensure!(
        distinct == n as u64 && after_final == n as u64,
        "every result stored once: {distinct} distinct, {after_final} after FINAL"
    );

    let noop_rate = n as f64 / noop_took.as_secs_f64();
    let ingest_rate = n as f64 / ingest_took.as_secs_f64();
    println!(
        "no-op consumer : {n} results in {:.2} s = {:.0} results/s (peak RSS {} MiB)",
        noop_took.as_secs_f64(),
        noop_rate,
        noop_rss / 1024
    );
    println!(
        "archiver ingest: {n} results in {:.2} s = {:.0} results/s (peak RSS {} MiB)",
        ingest_took.as_secs_f64(),
        ingest_rate,
        ingest_rss / 1024
    );
    println!("CPU used: no-op phase: {noop_cpu}; archiver phase: {ingest_cpu}");
    println!(
        "ratio archiver/no-op: {:.0} % (goal ≥ 80 %); rate goal ≥ 20,000/s: {}",
        100.0 * ingest_rate / noop_rate,
        if ingest_rate >= 20_000.0 { "met" } else { "missed" }
    );
    drop_pg(pg).await;
    Ok(())
}

/// Queues `results` on `results.store` only (through the default exchange, confirmed), and
/// waits until the broker counts them all.
async fn enqueue(publisher: &Publisher, broker: &TestBroker, results: &[CheckResult]) -> anyhow::Result<()> {
    let started = Instant::now();
    let published = futures::stream::iter(results.iter().cloned())
        .map(|r| {
            let publisher = publisher.clone();
            async move { publisher.reply(RESULTS_STORE_QUEUE, &Envelope::new(r)).await }
        })
        .buffer_unordered(1024)
        .filter_map(|r| async move { r.err() })
        .collect::<Vec<_>>()
        .await;
    anyhow::ensure!(published.is_empty(), "publishing failed: {:?}", published.first());
    wait_depth(broker, results.len() as u64).await?;
    println!(
        "queued {} results in {:.1} s (not measured)",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits until the management API counts `depth` messages in `results.store`.
async fn wait_depth(broker: &TestBroker, depth: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if broker.management.queue_depth(RESULTS_STORE_QUEUE).await? == depth {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "results.store never held {depth} messages");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A result as pingers send most of them: an HTTPS check that is up (a tenth are down).
fn result_at(target: Uuid, at: DateTime<Utc>, i: usize) -> CheckResult {
    let mut r = common::samples::check_result();
    r.result_id = Uuid::new_v4();
    r.job_id = Uuid::new_v4();
    r.target_id = target;
    r.started_at = at;
    r.duration_ms = 40 + (i % 700) as u32;
    r.finished_at = at + chrono::Duration::milliseconds(i64::from(r.duration_ms));
    if !i.is_multiple_of(10) {
        r.outcome = Outcome::Up;
        r.failure = None;
        r.status_code = Some(200);
        r.body_excerpt = None;
    }
    r
}

fn fresh_results(n: usize, targets: usize) -> Vec<CheckResult> {
    let ids: Vec<Uuid> = (0..targets).map(|_| Uuid::new_v4()).collect();
    let now = Utc::now();
    (0..n)
        .map(|i| result_at(ids[i % targets], now - chrono::Duration::milliseconds(i as i64), i))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Archive
// ---------------------------------------------------------------------------------------------

async fn archive(targets: usize) -> anyhow::Result<()> {
    let per_target = 1440; // every 60 s
    let total = targets * per_target;
    println!("\n== archive: one day of {targets} targets at 60 s = {total} rows ==");
    let (pg, ch) = tokio::join!(TestPg::new(), TestClickHouse::new());
    let day: NaiveDate = Utc::now().date_naive() - chrono::Duration::days(40);
    let start = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let ids: Vec<Uuid> = (0..targets).map(|_| Uuid::new_v4()).collect();

    // Minute by minute, 100 minutes per INSERT, so memory stays small.
    let started = Instant::now();
    let mut minute = 0;
    while minute < per_target {
        let rows: Vec<ResultRow> = (minute..(minute + 100).min(per_target))
            .flat_map(|m| {
                ids.iter().enumerate().map(move |(t, id)| {
                    let at = start + chrono::Duration::seconds(m as i64 * 60 + (t % 60) as i64);
                    ResultRow::from_result(&result_at(*id, at, m * 7 + t)).expect("in range")
                })
            })
            .collect();
        archiver::fresh::insert_rows(&ch.client, &rows, Duration::from_secs(300)).await?;
        minute += 100;
    }
    let ch_rows = archiver::fresh::day_stats(&ch.client, day).await?.rows;
    anyhow::ensure!(ch_rows == total as u64, "ClickHouse holds {ch_rows} rows, not {total}");
    println!(
        "inserted {total} rows into ClickHouse in {:.1} s (not measured)",
        started.elapsed().as_secs_f64()
    );

    if std::env::var_os("BENCH_PROFILE").is_some() {
        profile_export(&ch.client, day).await?;
    }

    let old_layout = old_layout_bytes(&ch.client, &pg.pool, day).await?;
    if std::env::var("BENCH_MIGRATE").as_deref() != Ok("off") {
        migrate(&pg.pool, day, total).await?;
    }

    reset_peak_rss();
    let parallelism = env_usize("BENCH_COPY_PARALLELISM", archiver::archive::DEFAULT_COPY_PARALLELISM);
    let client = ch.client.clone().with_compression(match compression() {
        ClickHouseCompression::Lz4 => clickhouse::Compression::Lz4,
        ClickHouseCompression::None => clickhouse::Compression::None,
    });
    let job = ArchiveJob::new(client, pg.pool.clone(), 30, None).with_copy_parallelism(parallelism);
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let report = job.run(&CancellationToken::new()).await?;
    let took = started.elapsed();
    let cpu = cpu.report();
    let rss = peak_rss_kib();
    anyhow::ensure!(report.failed() == 0, "the archive run failed: {report:?}");
    let archived: i64 = sqlx::query_scalar("select coalesce(sum(n), 0)::int8 from archive_days")
        .fetch_one(&pg.pool)
        .await?;
    anyhow::ensure!(
        archived == total as i64,
        "PostgreSQL holds {archived} rows, not {total}"
    );
    let left = archiver::fresh::day_stats(&ch.client, day).await?.rows;
    anyhow::ensure!(left == 0, "the day is still in ClickHouse ({left} rows)");
    println!(
        "archive run ({parallelism} slices at once): {total} rows in {:.1} s = {:.0} rows/s (goal < 60 s: {}); peak RSS {} MiB",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        if took < Duration::from_secs(60) {
            "met"
        } else {
            "missed"
        },
        rss / 1024
    );
    println!("CPU used by the archive run: {cpu}");
    let (new_layout, kept): (i64, i64) = sqlx::query_as(
        "select (select pg_total_relation_size(format('archive_days_%s', to_char($1::date, 'YYYY_MM'))::regclass)),
                (select coalesce(sum(cardinality(detail_at)), 0)::int8 from archive_days)",
    )
    .bind(day)
    .fetch_one(&pg.pool)
    .await?;
    let (old_per, new_per) = (old_layout as f64 / total as f64, new_layout as f64 / total as f64);
    println!(
        "size per archived result (pg_total_relation_size): old layout {old_per:.0} bytes ({} MiB), \
         compact layout {new_per:.1} bytes ({} MiB), {:.1}x smaller; details kept for {kept} results ({:.1} %)",
        old_layout >> 20,
        new_layout >> 20,
        old_per / new_per,
        100.0 * kept as f64 / total as f64
    );
    println!(
        "size goals: <= 150 bytes a result: {}; >= 9x smaller: {}",
        if new_per <= 150.0 { "met" } else { "missed" },
        if old_per / new_per >= 9.0 { "met" } else { "missed" }
    );
    drop_pg(pg).await;
    drop(ch);
    Ok(())
}

/// Copies `day` from ClickHouse into the old layout (`archived_results`, one row per result,
/// as the archiver wrote it before the compact layout) and returns its
/// `pg_total_relation_size`. The ledger does not name the day, so the archive run leaves those
/// rows alone (and drops their partition after: no day of the month is in the old layout).
async fn old_layout_bytes(client: &clickhouse::Client, pool: &sqlx::PgPool, day: NaiveDate) -> anyhow::Result<i64> {
    let started = Instant::now();
    let part: String = sqlx::query_scalar("select ensure_archive_partition($1)")
        .bind(day)
        .fetch_one(pool)
        .await?;
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(&format!(
            "copy archived_results ({}) from stdin",
            archiver::fresh::ARCHIVE_COLUMNS
        ))
        .await?;
    let mut cursor = archiver::fresh::day_as_copy_text(client, day)?;
    while let Some(chunk) = cursor.next().await? {
        copy.send(chunk).await?;
    }
    let rows = copy.finish().await?;
    drop(conn);
    let bytes: i64 = sqlx::query_scalar("select pg_total_relation_size($1::regclass)")
        .bind(&part)
        .fetch_one(pool)
        .await?;
    println!(
        "old layout: {rows} rows copied into {part} in {:.1} s (not measured), {} MiB",
        started.elapsed().as_secs_f64(),
        bytes >> 20
    );
    Ok(bytes)
}

/// Times moving the old-layout copy of `day` to the compact layout, as the archiver does for
/// days archived before it (`BENCH_MIGRATE=off` skips it), then undoes it so that the archive
/// run starts from an empty archive.
async fn migrate(pool: &sqlx::PgPool, day: NaiveDate, total: usize) -> anyhow::Result<()> {
    sqlx::query("insert into archive_batches (day, state, layout) values ($1, 'done', 'rows')")
        .bind(day)
        .execute(pool)
        .await?;
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let moved = archiver::days::migrate_day(pool, day, None).await?;
    let took = started.elapsed();
    anyhow::ensure!(moved == total as u64, "moved {moved} results, not {total}");
    println!(
        "migration of the old-layout day to the compact layout: {moved} results in {:.1} s = {:.0} results/s (one transaction, checked equal); CPU: {}",
        took.as_secs_f64(),
        moved as f64 / took.as_secs_f64(),
        cpu.report()
    );
    sqlx::query("delete from archive_batches where day = $1")
        .bind(day)
        .execute(pool)
        .await?;
    sqlx::query("truncate archive_days").execute(pool).await?;
    Ok(())
}

/// Where the copy's time goes: reading the day out of ClickHouse alone (`BENCH_PROFILE=1`).
async fn profile_export(client: &clickhouse::Client, day: NaiveDate) -> anyhow::Result<()> {
    let (avg_detail, avg_row): (f64, f64) = client
        .query("SELECT avg(length(detail)), avg(length(detail) + 200) FROM check_results")
        .fetch_one()
        .await?;
    println!("profile: detail is {avg_detail:.0} bytes on average (~{avg_row:.0} bytes of COPY text a row)");
    let started = Instant::now();
    let mut cursor = archiver::fresh::day_as_copy_text(client, day)?;
    let mut bytes = 0;
    while let Some(chunk) = cursor.next().await? {
        bytes += chunk.len();
    }
    println!(
        "profile: ClickHouse alone exports the day as COPY text in {:.1} s ({} MiB)",
        started.elapsed().as_secs_f64(),
        bytes >> 20
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Process and cleanup
// ---------------------------------------------------------------------------------------------

/// CPU seconds (user + system) used so far by each process whose command name is one of
/// `names` (`self` is this process), keyed by pid.
fn cpu_by_pid(names: &[&str]) -> std::collections::HashMap<u32, f64> {
    let mut out = std::collections::HashMap::new();
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: utime and stime are fields 14 and 15.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        let wanted = if pid == me {
            names.contains(&"self")
        } else {
            names.iter().any(|n| comm.starts_with(n))
        };
        if !wanted {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        out.insert(pid, ticks / 100.0);
    }
    out
}

/// CPU seconds used per program between two [`CpuMeter::start`] readings.
struct CpuMeter {
    before: Vec<std::collections::HashMap<u32, f64>>,
}

/// The programs measured: this process, ClickHouse, RabbitMQ (the Erlang VM), PostgreSQL.
const PROGRAMS: [(&str, &str); 4] = [
    ("self", "bench (archiver)"),
    ("clickhouse", "ClickHouse"),
    ("beam.smp", "RabbitMQ"),
    ("postgres", "PostgreSQL"),
];

impl CpuMeter {
    fn start() -> Self {
        Self {
            before: PROGRAMS.iter().map(|(n, _)| cpu_by_pid(&[n])).collect(),
        }
    }

    /// `program 12.3 s, ...` for the time since [`Self::start`] (processes that exited in
    /// between are missed: PostgreSQL's figure counts the connections still open).
    fn report(&self) -> String {
        PROGRAMS
            .iter()
            .zip(&self.before)
            .map(|((n, label), before)| {
                let used: f64 = cpu_by_pid(&[n])
                    .iter()
                    .map(|(pid, now)| now - before.get(pid).copied().unwrap_or(0.0))
                    .sum();
                format!("{label} {used:.1} s")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Resets this process's peak RSS (`VmHWM`), so that each phase reports its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak RSS since the last reset, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Drops a throwaway database (`TestPg` leaves it for `scripts/test.sh` otherwise).
async fn drop_pg(pg: TestPg) {
    pg.pool.close().await;
    let url = pg.config.database_url.expose_secret().to_owned();
    let server = url.rsplit_once('/').map(|(s, _)| s.to_owned()).unwrap_or(url);
    let dropped = async {
        let admin = sqlx::PgPool::connect(&format!("{server}/postgres")).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            pg.name
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        anyhow::Ok(())
    }
    .await
    .context("dropping the benchmark database");
    if let Err(error) = dropped {
        eprintln!("{error:#}");
    }
}
