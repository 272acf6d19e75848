//! backend: the REST API, the scheduler and the incident engine (filled in by later issues);
//! for now it serves health and metrics and applies the migrations.
//!
//! # Layout
//! - [`Cli`], [`Config`]: command line and environment.
//! - [`migrate`]: PostgreSQL and ClickHouse migrations, safe to re-run.
//! - [`run`]: the service, startable inside a test.

use anyhow::Context;
use common::amqp::Broker;
use common::config::{AmqpConfig, ClickHouseConfig, HttpConfig, PgConfig};
use common::health::{self, Readiness};
use tokio_util::sync::CancellationToken;

/// Command line.
#[derive(Debug, clap::Parser)]
#[command(name = "backend", version, about = "PingTower's API, scheduler and incident engine")]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the PostgreSQL and ClickHouse migrations, then exit.
    Migrate,
}

/// The backend's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// RabbitMQ.
    #[command(flatten)]
    pub amqp: AmqpConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
    /// ClickHouse.
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// API server.
    #[command(flatten)]
    pub http: HttpConfig,
}

/// Applies every migration; a no-op when all are applied.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let pool = common::db::pg_pool(&config.pg)?;
    common::db::migrate_pg(&pool)
        .await
        .context("PostgreSQL migrations failed")?;
    let applied = common::db::migrate_clickhouse(&config.clickhouse)
        .await
        .context("ClickHouse migrations failed")?;
    tracing::info!(clickhouse_applied = applied.len(), "migrations are up to date");
    Ok(())
}

/// Runs until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with(config, shutdown, |_| {}).await
}

/// [`run`], reporting the bound address to `on_bound` (tests bind port 0).
pub async fn run_with(
    config: Config,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let pool = common::db::pg_pool(&config.pg)?;
    let ch = common::db::clickhouse_client(&config.clickhouse);
    let broker = Broker::new(
        config.amqp.amqp_url.clone(),
        "backend",
        config.amqp.topology(),
        shutdown.clone(),
    );
    let readiness = Readiness::new()
        .postgres(pool.clone())
        .clickhouse(ch)
        .amqp(broker.clone());
    let server = health::serve(config.http.addr, health::router(readiness), shutdown.clone()).await?;
    on_bound(server.addr);
    let connector = broker.clone();
    tokio::spawn(async move {
        let _ = connector.connection().await;
    });
    shutdown.cancelled().await;
    server.handle.await??;
    broker.close().await;
    pool.close().await;
    Ok(())
}
