//! The consumer of `results.store`: the bus's one consume engine ([`bus::consume_batches`]),
//! with batches and pipelined writers.
//!
//! While up to `writers` batches are written to ClickHouse, the next one is collected; a
//! batch is acked with one multiple-ack only once [`Ingestor::store`] returned `Ok` and every
//! earlier batch is settled. A transient error retries the same batch (the broker holds the
//! rest: it is the spool); a permanent one stores the batch's results one by one so only the
//! poison ones are dead-lettered. See [`bus::consume`] for the whole contract.

use bus::{AmqpError, Broker, ConsumerOptions};
use common::messages::{CheckResult, Envelope};
use tokio_util::sync::CancellationToken;

use crate::ingest::Ingestor;

/// Batches written to ClickHouse at once, by default.
pub const DEFAULT_WRITERS: usize = 2;

/// Prefetch, in batches, with `writers` batches written at once: those, the one being
/// collected, and one on the way (the engine's default for batches).
pub fn prefetch_batches(writers: usize) -> usize {
    writers.max(1) + 2
}

/// Consumes `options.queue` into `ingestor` until `shutdown`. Returns an error only for a
/// topology conflict (an operator must act).
pub async fn consume(
    broker: &Broker,
    options: ConsumerOptions,
    shutdown: CancellationToken,
    ingestor: Ingestor,
) -> Result<(), AmqpError> {
    bus::consume_batches(broker, options, shutdown, move |batch: Vec<Envelope<CheckResult>>| {
        let ingestor = ingestor.clone();
        async move { ingestor.store(&batch).await }
    })
    .await
}
