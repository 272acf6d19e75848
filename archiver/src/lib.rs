//! archiver: owns ClickHouse. Ingests every check result from `results.store` in batches, and
//! moves days older than the retention to PostgreSQL's archive — nothing lost, nothing twice.
//!
//! # Layout
//! - [`config`]: command line and environment ([`Config`]).
//! - [`row`]: a `CheckResult` as a row of `check_results`.
//! - [`consumer`]: `results.store` through the bus's consume engine (batches, pipelined writers).
//! - [`ingest`]: batches into ClickHouse, acked only once stored; late rows to the archive.
//! - [`fresh`]: ClickHouse operations (insert, day stats and keys, copy text, drop).
//! - [`ledger`]: PostgreSQL operations (the per-day ledger, locks, old-layout rows, rollups).
//! - [`days`]: the compact archive (`archive_days`) and the migration of old-layout days.
//! - [`archive`]: the crash-safe archive job (open → copy → verify → drop → done).
//! - [`seal`]: closed days' daily rollups copied to PostgreSQL for fast long-range reads.
//! - [`retention`]: the archive's partitions, size and oldest day; drops months past the keep days.
//! - [`space`]: holds days back in ClickHouse while PostgreSQL lacks the space for them.
//! - [`fault`]: fault points for crash tests.
//! - [`telemetry`]: metric names.
//! - [`run_with`]: the service; [`run_once`]: one archive run (`archiver run-once`).

pub mod archive;
pub mod config;
pub mod consumer;
pub mod days;
pub mod fault;
pub mod fresh;
pub mod ingest;
pub mod ledger;
pub mod retention;
pub mod row;
pub mod seal;
pub mod space;
pub mod telemetry;

use std::time::Duration;

use anyhow::Context;
use bus::{Broker, ConsumerOptions, ReadinessExt};
use common::health::Readiness;
use common::messages::RESULTS_STORE_QUEUE;
use common::service::{OnBound, Service};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use archive::{ArchiveJob, ArchiveReport};
pub use config::{Command, Config};
pub use ingest::Ingestor;
pub use retention::Retention;
pub use space::SpaceGate;

/// How long after start `serve` runs the archive job for the first time.
const FIRST_ARCHIVE_DELAY: Duration = Duration::from_secs(10);
/// How long after start `serve` seals closed days for the first time.
const FIRST_SEAL_DELAY: Duration = Duration::from_secs(5);

/// Runs the service until `shutdown` is cancelled, reporting the bound health address to
/// `on_bound` (tests bind port 0). On shutdown the consumer stops taking deliveries, stores
/// and acks the batch in hand, and the archive job stops between days (a day in progress
/// finishes its current step).
pub async fn run_with(config: Config, shutdown: CancellationToken, on_bound: impl OnBound) -> anyhow::Result<()> {
    config.archive.keep_days.check(config.archive.retention_days)?;
    let broker = Broker::from_config(&config.service.amqp, "archiver", shutdown.clone());
    let clickhouse = config.clickhouse_client();
    let pg = common::db::pg_pool(&config.service.pg).context("PostgreSQL URL")?;
    let space = space_gate(&config, &clickhouse, &pg);
    let note = space.clone();
    let readiness = Readiness::new()
        .amqp(broker.clone())
        .clickhouse(clickhouse.clone())
        .postgres(pg.clone())
        .note("archive", move || note.note());
    let describe = [telemetry::describe, bus::telemetry::describe];
    let service = Service::start(config.service.http.addr, readiness, &describe, &shutdown).await?;
    on_bound(service.ops_addr());

    let archive = (!config.archive.disabled).then(|| {
        let pass = Pass {
            job: archive_job(&config, &clickhouse, &pg).with_space_gate(space.clone()),
            space: space.clone(),
            retention: Retention::new(pg.clone(), config.archive.keep_days.0),
            pg: pg.clone(),
        };
        let (client, pool, stop) = (clickhouse.clone(), pg.clone(), shutdown.clone());
        let seal = tokio::spawn(every(
            FIRST_SEAL_DELAY,
            config.archive.seal_interval,
            shutdown.clone(),
            move || {
                let (client, pool, stop) = (client.clone(), pool.clone(), stop.clone());
                async move { seal::seal_pass(&client, &pool, &stop).await }
            },
        ));
        let stop = shutdown.clone();
        let archive = tokio::spawn(every(
            FIRST_ARCHIVE_DELAY,
            config.archive.interval,
            shutdown.clone(),
            move || {
                let (pass, stop) = (pass.clone(), stop.clone());
                async move {
                    let _ = pass.run(&stop).await;
                }
            },
        ));
        (archive, seal)
    });

    let ingestor = Ingestor::new(
        clickhouse,
        pg.clone(),
        config.archive.retention_days,
        config.ingest.insert_timeout,
        config.archive.fault,
    )
    .with_keep_days(config.archive.keep_days.0);
    let options = ConsumerOptions::new(RESULTS_STORE_QUEUE)
        .batches(config.ingest.batch_size, config.ingest.batch_wait)
        .concurrency(config.ingest.writers)
        .max_retry_delay(config.ingest.max_retry_delay);
    let consumed = consumer::consume(&broker, options, shutdown.clone(), ingestor)
        .await
        .context("consuming results.store");
    if consumed.is_err() {
        // A topology conflict: nothing will work until an operator fixes the broker.
        shutdown.cancel();
    }

    if let Some((archive, seal)) = archive {
        archive.await?;
        seal.await?;
    }
    broker.close().await;
    pg.close().await;
    service.stop(consumed).await
}

/// Runs `pass` after `first` (at most `interval`), then every `interval`, until shutdown.
async fn every<F, Fut>(first: Duration, interval: Duration, shutdown: CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut wait = first.min(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        pass().await;
        wait = interval;
    }
}

/// One pass of the archive loop: the archive job (days held back while space is short), then
/// the retention's drops, then the archive's size and oldest day into their gauges.
#[derive(Clone)]
struct Pass {
    job: ArchiveJob,
    space: SpaceGate,
    retention: Retention,
    pg: sqlx::PgPool,
}

impl Pass {
    /// Runs the pass, logged (failed days are continued by the next pass); the archive
    /// job's result.
    async fn run(&self, shutdown: &CancellationToken) -> anyhow::Result<ArchiveReport> {
        self.space.begin_pass();
        let report = self.job.run(shutdown).await;
        match &report {
            Ok(report) if report.failed() > 0 => {
                warn!(failed = report.failed(), "archive run finished with failed days");
            }
            Ok(report) => info!(
                days = report.days.len(),
                skipped = report.skipped,
                paused = self.space.paused().is_some(),
                "archive run finished"
            ),
            Err(error) => warn!(error = format!("{error:#}"), "archive run failed"),
        }
        // A skipped or failed run checked nothing: the pause stands as it was.
        if report.as_ref().is_ok_and(|r| !r.skipped) {
            self.space.end_pass();
        }
        if !shutdown.is_cancelled() {
            match self.retention.run(chrono::Utc::now()).await {
                Ok(r) if !r.dropped.is_empty() || !r.failed.is_empty() => info!(
                    dropped = r.dropped.len(),
                    failed = r.failed.len(),
                    bytes = r.dropped.iter().map(|p| p.bytes).sum::<u64>(),
                    "retention pass finished"
                ),
                Ok(_) => {}
                Err(error) => warn!(error = format!("{error:#}"), "retention pass failed"),
            }
            retention::refresh_metrics(&self.pg).await;
            // Sets its gauge when PostgreSQL's disk is visible from here.
            self.space.pg_free_bytes().await;
        }
        report
    }
}

/// `archiver run-once`: archives every day older than the retention (holding days back while
/// space is short), drops archived months past the keep days, then seals the closed days left
/// in ClickHouse, once.
pub async fn run_once(config: Config, shutdown: CancellationToken) -> anyhow::Result<ArchiveReport> {
    config.archive.keep_days.check(config.archive.retention_days)?;
    common::service::describe_metrics(&[telemetry::describe]);
    let clickhouse = config.clickhouse_client();
    let pg = common::db::pg_pool(&config.service.pg).context("PostgreSQL URL")?;
    let space = space_gate(&config, &clickhouse, &pg);
    let pass = Pass {
        job: archive_job(&config, &clickhouse, &pg).with_space_gate(space.clone()),
        space,
        retention: Retention::new(pg.clone(), config.archive.keep_days.0),
        pg: pg.clone(),
    };
    let report = pass.run(&shutdown).await;
    if report.is_ok() {
        match seal::seal_days(&clickhouse, &pg, &shutdown).await {
            Ok(sealed) => info!(sealed = sealed.sealed.len(), "closed days sealed"),
            Err(error) => warn!(error = format!("{error:#}"), "sealing closed days failed"),
        }
    }
    pg.close().await;
    report
}

/// The space gate as `config` sets it up.
fn space_gate(config: &Config, clickhouse: &clickhouse::Client, pg: &sqlx::PgPool) -> SpaceGate {
    SpaceGate::new(
        pg.clone(),
        clickhouse.clone(),
        config.archive.min_free_bytes,
        config.archive.max_bytes,
    )
}

/// The archive job as `config` sets it up (without the space gate).
fn archive_job(config: &Config, clickhouse: &clickhouse::Client, pg: &sqlx::PgPool) -> ArchiveJob {
    ArchiveJob::new(
        clickhouse.clone(),
        pg.clone(),
        config.archive.retention_days,
        config.archive.fault,
    )
    .with_copy_parallelism(config.archive.copy_parallelism)
}
