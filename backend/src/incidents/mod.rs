//! The incident engine: turns the stream of check results into incidents and events (the
//! incidents API is [`crate::http::incidents`]).
//!
//! - [`machine`]: the pure per-target, per-region state machine.
//! - [`engine`]: applies batches of results in one transaction (ledger, state, incidents,
//!   timeline, outbox) and publishes the outbox.
//! - [`correlate`]: incidents sharing a cause signal grouped into one group incident.
//! - [`dependencies`]: incidents held while a dependency is down, released when it recovers.
//! - [`maintenance`]: maintenance windows.
//! - [`settings`]: the engine's environment settings.

pub mod correlate;
pub mod dependencies;
pub mod engine;
pub mod machine;
pub mod maintenance;
pub mod settings;

use std::time::Duration;

use bus::{Broker, ConsumerOptions, Publisher, consume_batches};
use common::messages::{CheckResult, Envelope, RESULTS_INCIDENTS_QUEUE};
use tokio_util::sync::CancellationToken;

pub use engine::{Engine, EngineError};
pub use settings::EngineSettings;

use crate::state::AppState;

/// How often events left in the outbox (broker down at commit time) are retried.
const OUTBOX_RETRY: Duration = Duration::from_secs(2);
/// How often the result-id ledger forgets entries older than its retention.
const LEDGER_PRUNE_EVERY: Duration = Duration::from_secs(300);

/// Starts the incident engine on `results.incidents`; the task ends after `shutdown`.
pub fn spawn(state: AppState, settings: EngineSettings, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let engine = Engine::new(
            state.pool.clone(),
            clickhouse::Client::clone(&state.clickhouse),
            settings,
        )
        .with_clock(state.config.api.clock);
        if let Err(error) = run(engine, state.broker.clone(), state.publisher.clone(), shutdown).await {
            tracing::error!(error = %format!("{error:#}"), "the incident engine stopped");
        }
    })
}

/// Consumes results in batches until `shutdown`, publishing the outbox after each batch and
/// every few seconds.
pub async fn run(
    engine: Engine,
    broker: Broker,
    publisher: Publisher,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let flusher = {
        let (engine, publisher, shutdown) = (engine.clone(), publisher.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut last_prune: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(OUTBOX_RETRY) => {}
                }
                if let Err(error) = engine.flush_outbox(&publisher).await {
                    tracing::debug!(error = %format!("{error:#}"), "incident outbox not flushed yet");
                }
                if last_prune.is_none_or(|at| at.elapsed() >= LEDGER_PRUNE_EVERY) {
                    last_prune = Some(tokio::time::Instant::now());
                    match engine.prune_ledger().await {
                        Ok(0) => {}
                        Ok(removed) => tracing::info!(removed, "old result ids forgotten by the ledger"),
                        Err(error) => tracing::warn!(error = %format!("{error:#}"), "ledger not pruned"),
                    }
                }
            }
        })
    };
    let options = ConsumerOptions::new(RESULTS_INCIDENTS_QUEUE)
        .batches(engine.settings().batch, Duration::from_millis(50))
        .max_retry_delay(Duration::from_secs(10));
    let handler = move |batch: Vec<Envelope<CheckResult>>| {
        let (engine, publisher) = (engine.clone(), publisher.clone());
        async move {
            let results: Vec<CheckResult> = batch.into_iter().map(|e| e.payload).collect();
            engine
                .apply(&results)
                .await
                .map_err(engine::EngineError::into_handler_error)?;
            if let Err(error) = engine.flush_outbox(&publisher).await {
                tracing::warn!(error = %format!("{error:#}"), "incident events wait in the outbox");
            }
            Ok(())
        }
    };
    let consumed = consume_batches(&broker, options, shutdown, handler).await;
    let _ = flusher.await;
    consumed.map_err(Into::into)
}
