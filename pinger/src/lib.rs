//! pinger: stateless check workers. Consumes [`CheckJobs`] messages (several jobs of one
//! region and scheduler tick) from `jobs.<region>`, runs each check (HTTP(S) with every
//! redirect hop and phase, TLS, DNS, TCP), publishes each [`CheckResult`] with confirms and
//! only then acks the message. Any number may run.
//!
//! # Layout
//! - [`config`]: command line and environment ([`Config`]).
//! - [`engine`]: the check engine (address policy, source address, shared TLS client).
//! - [`net`]: resolution, the address guard and timed connects.
//! - [`checks`]: one module per check ([`checks::http`], [`checks::tls`], [`checks::dns`],
//!   [`checks::tcp`]) plus the response [`checks::assertions`].
//! - [`report`]: a check's findings and how they become a result.
//! - [`share`]: the check slots and each owner's fair share of them.
//! - [`worker`]: the job handler; [`canary`]: egress canaries (`probe_degraded`).
//! - [`cli`]: `pinger check`; [`telemetry`]: metric names.
//!
//! [`CheckJobs`]: common::messages::CheckJobs
//! [`CheckResult`]: common::messages::CheckResult

pub mod canary;
pub mod checks;
pub mod cli;
pub mod config;
pub mod engine;
pub mod net;
pub mod report;
pub mod share;
pub mod telemetry;
pub mod worker;

use anyhow::Context;
use bus::{Broker, ConsumerOptions, Publisher, ReadinessExt, consume};
use common::health::Readiness;
use common::messages::jobs_queue;
use common::netguard::Guard;
use common::service::{OnBound, Service};
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use config::{Config, PingerConfig};
pub use engine::Engine;

/// Runs until `shutdown` is cancelled, reporting the bound health address to `on_bound`
/// (tests bind port 0). On shutdown the consumer stops taking jobs and the checks in hand
/// finish (each is bounded by its timeout), publish and ack.
pub async fn run_with(config: Config, shutdown: CancellationToken, on_bound: impl OnBound) -> anyhow::Result<()> {
    let p = &config.pinger;
    let mut topology_config = config.amqp.clone();
    if !topology_config.regions.contains(&p.region) {
        topology_config.regions.push(p.region.clone());
    }
    // Consumption and publication get a connection each from the broker (see `bus`).
    let broker = Broker::from_config(&topology_config, "pinger", shutdown.clone());
    let describe = [telemetry::describe, bus::telemetry::describe];
    let service = Service::start(
        config.http.addr,
        Readiness::new().amqp(broker.clone()),
        &describe,
        &shutdown,
    )
    .await?;
    on_bound(service.ops_addr());
    // The guard knows the suite's own endpoints, this pinger's health listener included.
    let guard = Guard::new(&config.guard, &config.suite_endpoints(Some(service.ops_addr()))).await;
    let engine = Engine::new(guard, p.source_addr, p.extra_ca_file.as_deref())
        .context("building the check engine")?
        .with_public_resolver(p.public_resolver())
        .with_icmp_sockets(p.icmp_socket);

    let canaries = canary::spawn(
        &engine,
        &config.guard,
        &p.canaries,
        p.canary_interval,
        p.canary_timeout,
        shutdown.clone(),
    )?;
    let worker = std::sync::Arc::new(worker::Worker {
        engine,
        publisher: Publisher::new(broker.clone(), p.publish_timeout),
        identity: report::Identity {
            region: p.region.clone(),
            pinger_id: p.pinger_id(),
        },
        canaries,
        metrics: telemetry::Handles::register(),
        slots: share::Slots::new(p.concurrency, p.owner_share),
        shutdown: shutdown.clone(),
    });
    info!(
        region = %p.region,
        pinger_id = %worker.identity.pinger_id,
        concurrency = p.concurrency,
        owner_share = p.owner_share,
        source = ?p.source_addr,
        allow_private_targets = config.guard.allow_private_targets,
        public_resolver = ?p.public_resolver,
        "pinger starting"
    );
    // Jobs arrive on the broker's consuming connection and results leave on its publishing
    // connection. The consumer holds more jobs than there are check slots: jobs waiting for
    // their owner's share must not hold the whole prefetch (the worker owns the check slots).
    // A message carries several jobs and is held until its last one ends; an owner holds at
    // most its share of the jobs in hand, so at most that many messages, and counting the
    // deliveries in hand like jobs leaves the rest free for everyone else.
    let options = ConsumerOptions::new(jobs_queue(&p.region)).concurrency(share::Slots::in_hand_for(p.concurrency));
    // The consume loop runs on a runtime worker, not on the thread that called `run_with` (with
    // `#[tokio::main]` the main thread, outside the pool): each delivery's task is then
    // spawned locally instead of being handed over, and woken, across threads.
    let consumer = {
        let (broker, shutdown) = (broker.clone(), shutdown.clone());
        tokio::spawn(async move {
            consume(&broker, options, shutdown, move |envelope, info| {
                let worker = worker.clone();
                // Boxed: the handler's state machine (publish and confirm included) is
                // large; inline, every delivery's task would be a large, aligned allocation
                // copied on spawn and on completion.
                Box::pin(async move { worker.handle(envelope, info).await })
            })
            .await
        })
    };
    let consumed = match consumer.await {
        Ok(r) => r.context("consuming jobs"),
        Err(e) => Err(anyhow::anyhow!("the consumer task failed: {e}")),
    };
    if consumed.is_err() {
        shutdown.cancel();
    }
    broker.close().await;
    service.stop(consumed).await
}
