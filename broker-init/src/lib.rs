//! broker-init: declares the RabbitMQ topology of [`bus::topology`] and exits, or with
//! `--verify` reports what is missing or declared differently.
//!
//! # Layout
//! - [`Config`]: command line and environment.
//! - [`run`]: connect (waiting for the broker), then declare or verify.

use std::time::{Duration, Instant};

use anyhow::Context;
use bus::Management;
use bus::topology::{DeclareError, TopologyProblem};
use common::config::AmqpConfig;
use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret;

/// broker-init's configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "broker-init", version, about)]
pub struct Config {
    /// RabbitMQ connection and regions.
    #[command(flatten)]
    pub amqp: AmqpConfig,
    /// Only check the topology; exit non-zero naming anything missing or different.
    #[arg(long)]
    pub verify: bool,
    /// How long to wait for the broker to accept connections.
    #[arg(long, env = "PINGTOWER_BROKER_WAIT", default_value = "60s", value_parser = humantime_secs)]
    pub wait: Duration,
}

fn humantime_secs(s: &str) -> Result<Duration, String> {
    let digits = s.trim_end_matches('s');
    digits
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{s:?} is not a number of seconds like 60s"))
}

/// What a run found.
#[derive(Debug)]
pub enum Outcome {
    /// Everything was declared (or already there).
    Declared,
    /// Verification found these problems (empty: all well).
    Verified(Vec<TopologyProblem>),
}

async fn connect(config: &Config) -> anyhow::Result<Connection> {
    let started = Instant::now();
    let mut backoff = common::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        match Connection::connect(config.amqp.amqp_url.expose_secret(), ConnectionProperties::default()).await {
            Ok(c) => return Ok(c),
            Err(e) if started.elapsed() < config.wait => {
                tracing::warn!(error = %e, "broker not reachable yet; retrying");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            Err(e) => return Err(e).context("RabbitMQ did not accept a connection in time"),
        }
    }
}

/// Declares (or verifies) the topology.
pub async fn run(config: &Config) -> anyhow::Result<Outcome> {
    let topology = bus::Topology::new(&config.amqp.regions);
    let conn = connect(config).await?;
    let outcome = if config.verify {
        let management = Management::for_amqp_uri(&config.amqp.amqp_url, config.amqp.management_url.clone())
            .context("the AMQP URL is not a valid URL")?;
        Outcome::Verified(topology.verify(&conn, Some(&management)).await?)
    } else {
        match topology.declare(&conn).await {
            Ok(()) => Outcome::Declared,
            Err(DeclareError::Conflict(problem)) => {
                anyhow::bail!(
                    "{problem}. broker-init will not change an existing queue or exchange: delete it (after draining it) or align the configuration, then run broker-init again"
                )
            }
            Err(e) => return Err(e.into()),
        }
    };
    let _ = conn.close(200, "done".into()).await;
    Ok(outcome)
}
