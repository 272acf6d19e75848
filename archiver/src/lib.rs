//! archiver (skeleton): connects to the broker and serves health and metrics until shutdown.
//!
//! # Layout
//! - [`Config`]: command line and environment.
//! - [`run`]: the service, startable inside a test.

use common::amqp::Broker;
use common::config::{AmqpConfig, HttpConfig};
use common::health::{self, Readiness};
use tokio_util::sync::CancellationToken;

/// archiver's configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "archiver", version, about)]
pub struct Config {
    /// RabbitMQ.
    #[command(flatten)]
    pub amqp: AmqpConfig,
    /// Health and metrics server.
    #[command(flatten)]
    pub http: HttpConfig,
}

/// Runs until `shutdown` is cancelled; `ready` receives the health server's address.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with(config, shutdown, |_| {}).await
}

/// [`run`], reporting the bound health address to `on_bound` (tests bind port 0).
pub async fn run_with(
    config: Config,
    shutdown: CancellationToken,
    on_bound: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let broker = Broker::new(
        config.amqp.amqp_url.clone(),
        "archiver",
        config.amqp.topology(),
        shutdown.clone(),
    );
    let readiness = Readiness::new().amqp(broker.clone());
    let server = health::serve(config.http.addr, health::router(readiness), shutdown.clone()).await?;
    on_bound(server.addr);
    let connector = broker.clone();
    tokio::spawn(async move {
        let _ = connector.connection().await;
    });
    shutdown.cancelled().await;
    server.handle.await??;
    broker.close().await;
    Ok(())
}
