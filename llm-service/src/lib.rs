//! llm-service: turns an incident event and its evidence into a report a person understands
//! at a glance — what is wrong, the probable cause, who is affected, what to do — in the
//! owner's language, written by an OpenAI-compatible LLM or, by default and as the fallback,
//! by the built-in rules. The report is stored on the incident and published to
//! `pingtower.reports`; alerts never wait for it (the notifier sends them from the event).
//!
//! # Layout
//! - [`config`]: command line and environment ([`Config`]).
//! - [`facts`]: what an event says, read once for the rules, the prompt and the validator.
//! - [`language`]: the owner's choice of language from PostgreSQL (`common::i18n::Language`).
//! - [`rules`]: the rule-based writer, one explanation per failure and event kind: it picks
//!   the messages and their facts; the words are in `crates/common/locales/*/report.ftl`.
//! - [`prompt`]: the facts as JSON, every string the monitored site controls fenced as data.
//! - [`redact`]: credentials in URLs (query, fragment, user info) masked before text leaves.
//! - [`provider`]: the async-openai client (JSON output, retries, timeout).
//! - [`validate`]: schema, grounding, links and contradictions of the model's answer.
//! - [`writer`]: LLM first, rules on any failure.
//! - [`store`]: one report per incident and event kind in PostgreSQL; deterministic ids.
//! - [`service`]: the `incidents.llm` handler (idempotent, publish at least once).
//! - [`telemetry`]: metric names.
//! - [`run_with`]: the service, startable inside a test.

pub mod config;
pub mod facts;
pub mod language;
pub mod prompt;
pub mod provider;
pub mod redact;
pub mod rules;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod validate;
pub mod writer;

#[cfg(test)]
mod golden;

use std::time::Duration;

use anyhow::Context;
use bus::{Broker, ConsumerOptions, Publisher, ReadinessExt, consume};
use common::health::Readiness;
use common::messages::{INCIDENTS_LLM_QUEUE, IncidentEvent};
use common::service::{OnBound, Service};
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use config::{Config, LlmConfig};
pub use service::Reporter;
pub use writer::Writer;

/// How long one publication may wait for an unreachable broker before it is retried.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs until `shutdown` is cancelled, reporting the bound health address to `on_bound`
/// (tests bind port 0). On shutdown the consumer stops taking deliveries and finishes the
/// events in hand.
pub async fn run_with(config: Config, shutdown: CancellationToken, on_bound: impl OnBound) -> anyhow::Result<()> {
    let broker = Broker::from_config(&config.service.amqp, "llm-service", shutdown.clone());
    // Publishes on the broker's publishing connection, apart from consumption (see `bus`).
    let publisher = Publisher::new(broker.clone(), PUBLISH_TIMEOUT);
    let pg = common::db::pg_pool(&config.service.pg).context("PostgreSQL URL")?;
    let readiness = Readiness::new().amqp(broker.clone()).postgres(pg.clone());
    let describe = [telemetry::describe, bus::telemetry::describe];
    let service = Service::start(config.service.http.addr, readiness, &describe, &shutdown).await?;
    on_bound(service.ops_addr());

    let provider = provider::Provider::from_config(&config.llm).context("LLM provider")?;
    match &provider {
        Some(p) => info!(
            model = p.model(),
            "reports are written by the LLM, the rules as fallback"
        ),
        None => info!("no LLM configured (PINGTOWER_LLM_BASE_URL); reports are written by the rules"),
    }
    let reporter = Reporter::new(
        pg.clone(),
        publisher.clone(),
        Writer::new(provider),
        config.consumer.missing_incident_retries,
    );
    let mut options = ConsumerOptions::new(INCIDENTS_LLM_QUEUE).concurrency(config.consumer.concurrency);
    options.max_retry_delay = config.consumer.max_retry_delay;
    let consumed = consume(
        &broker,
        options,
        shutdown.clone(),
        move |envelope: common::messages::Envelope<IncidentEvent>, _info| {
            let reporter = reporter.clone();
            async move { reporter.handle(envelope).await }
        },
    )
    .await
    .context("consuming incidents.llm");
    if consumed.is_err() {
        // A topology conflict: nothing works until an operator fixes the broker.
        shutdown.cancel();
    }
    broker.close().await;
    pg.close().await;
    service.stop(consumed).await
}
