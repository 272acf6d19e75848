//! The batch consumer of `results.store`, pipelined: while batches are written (up to
//! `writers` at once), the next one is collected.
//!
//! Same contract as [`common::amqp::consume_batches`], which collects a batch and writes it in
//! turn, so the broker's deliveries wait while ClickHouse works (the benchmark measured 65 %
//! of a no-op consumer's rate with it):
//! - a batch is written when it holds `max_batch` results, or `max_wait` after its first;
//! - it is acked with one multiple-ack only once [`Ingestor::store`] returned `Ok` *and* every
//!   earlier batch is settled (each writer waits for its predecessor's signal before it acks,
//!   nacks or settles anything), so a multiple-ack never covers a batch still being written;
//! - a transient error retries the same batch with backoff (the broker holds the rest: it is
//!   the spool, and prefetch bounds what this process holds: [`prefetch_batches`] batches);
//! - a permanent error (or a panic) makes each result of the batch be stored alone, so only
//!   the poison ones are dead-lettered; an undecodable message is dead-lettered at once;
//! - on shutdown it stops taking deliveries, writes and acks what it holds (a batch it cannot
//!   write is requeued), and returns; a lost channel is re-subscribed.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use common::amqp::{AmqpError, BatchOptions, Broker, HandlerError};
use common::backoff::Backoff;
use common::messages::{CheckResult, Envelope};
use futures::{FutureExt, StreamExt};
use lapin::Acker;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::ingest::Ingestor;

/// Batches written to ClickHouse at once, by default.
pub const DEFAULT_WRITERS: usize = 2;

/// Prefetch, in batches, with `writers` batches written at once: those, the one being
/// collected, and one on the way.
pub fn prefetch_batches(writers: usize) -> usize {
    writers.max(1) + 2
}

type Batch = Vec<(Envelope<CheckResult>, Acker)>;

/// Consumes `options.queue` into `ingestor`, writing up to `writers` batches at once, until
/// `shutdown`; see the module docs. Returns an error only for a topology conflict (an
/// operator must act).
pub async fn consume(
    broker: &Broker,
    options: BatchOptions,
    writers: usize,
    shutdown: CancellationToken,
    ingestor: Ingestor,
) -> Result<(), AmqpError> {
    let max_batch = options.max_batch.max(1);
    let writers = writers.max(1);
    let prefetch = u16::try_from(max_batch.saturating_mul(prefetch_batches(writers))).unwrap_or(u16::MAX);
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    while !shutdown.is_cancelled() {
        let subscribed = async {
            let conn = broker.connection().await?;
            let channel = conn.create_channel().await?;
            channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
            let tag = format!("archiver-{}", uuid::Uuid::new_v4().simple());
            let consumer = channel
                .basic_consume(
                    options.queue.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, AmqpError>((channel, consumer, tag))
        }
        .await;
        let (channel, mut consumer, tag) = match subscribed {
            Ok(sub) => sub,
            Err(AmqpError::ShuttingDown) => break,
            Err(AmqpError::Topology(e)) => return Err(AmqpError::Topology(e)),
            Err(error) => {
                let delay = backoff.next_delay();
                warn!(%error, queue = %options.queue, retry_in_ms = delay.as_millis() as u64, "could not subscribe");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
        };
        backoff.reset();

        // Writers in delivery order; each settles only after the one before it.
        let mut writing: VecDeque<JoinHandle<()>> = VecDeque::new();
        let mut settled: Option<oneshot::Receiver<()>> = None;
        let mut next: Batch = Vec::new();
        let mut deadline: Option<Instant> = None;
        let mut stopping = false;
        let mut lost = false;
        loop {
            let due = next.len() >= max_batch || stopping || deadline.is_some_and(|d| d <= Instant::now());
            if writing.len() < writers && !next.is_empty() && due && !lost {
                deadline = None;
                let batch = std::mem::take(&mut next);
                let (done, after) = oneshot::channel();
                writing.push_back(tokio::spawn(write(
                    batch,
                    ingestor.clone(),
                    Order {
                        previous: settled.replace(after),
                        done,
                    },
                    options.queue.clone(),
                    options.max_retry_delay,
                    shutdown.clone(),
                )));
            }
            if (stopping || lost) && writing.is_empty() && (next.is_empty() || lost) {
                break;
            }
            let taking = !stopping && !lost && next.len() < max_batch;
            tokio::select! {
                written = finished(writing.front_mut()) => {
                    writing.pop_front();
                    if let Err(error) = written {
                        // Its deliveries are unsettled: a new channel gets them redelivered.
                        warn!(%error, "the batch writer failed; resubscribing");
                        lost = true;
                    }
                }
                _ = shutdown.cancelled(), if !stopping => stopping = true,
                _ = sleep_until(deadline), if writing.len() < writers => {}
                delivery = consumer.next(), if taking => match delivery {
                    Some(Ok(delivery)) => match serde_json::from_slice::<Envelope<CheckResult>>(&delivery.data) {
                        Ok(envelope) => {
                            deadline.get_or_insert_with(|| Instant::now() + options.max_wait);
                            next.push((envelope, delivery.acker));
                        }
                        Err(error) => {
                            warn!(%error, queue = %options.queue, "undecodable message; dead-lettering it");
                            settle(&delivery.acker, &options.queue, Settle::Reject).await;
                        }
                    },
                    // What was collected goes back to the queue with the channel.
                    _ => lost = true,
                },
            }
        }
        if lost {
            warn!(queue = %options.queue, "batch consumer lost its channel; resubscribing");
            let _ = channel.close(200, "resubscribing".into()).await;
            continue;
        }
        let _ = channel
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await;
        let _ = channel.close(200, "shutdown".into()).await;
        break;
    }
    Ok(())
}

/// The oldest writer's end, or never when nothing is being written.
async fn finished(writing: Option<&mut JoinHandle<()>>) -> Result<(), tokio::task::JoinError> {
    match writing {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A writer's place in the order of settlement.
struct Order {
    /// Fires once the previous batch is settled (`None`: no earlier batch in flight).
    previous: Option<oneshot::Receiver<()>>,
    /// Fired once this batch is settled.
    done: oneshot::Sender<()>,
}

impl Order {
    /// Waits until every earlier batch is settled. `false` when the previous writer died
    /// without settling: its deliveries are unsettled, so this batch must not multiple-ack
    /// (the consumer resubscribes and the broker redelivers both).
    async fn wait_turn(&mut self) -> bool {
        match self.previous.take() {
            Some(previous) => previous.await.is_ok(),
            None => true,
        }
    }
}

/// Stores one batch, retrying transient errors, then (in its turn) acks it with one
/// multiple-ack.
async fn write(
    batch: Batch,
    ingestor: Ingestor,
    mut order: Order,
    queue: String,
    max_retry_delay: Duration,
    shutdown: CancellationToken,
) {
    let Some(last) = batch.last().map(|(_, acker)| acker.clone()) else {
        if order.wait_turn().await {
            let _ = order.done.send(());
        }
        return;
    };
    let (envelopes, ackers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let mut backoff = Backoff::new(Duration::from_millis(200), max_retry_delay);
    loop {
        match AssertUnwindSafe(ingestor.store(&envelopes)).catch_unwind().await {
            Ok(Ok(())) => {
                if !order.wait_turn().await {
                    return;
                }
                let acked = last.ack(BasicAckOptions { multiple: true }).await;
                metrics::counter!("pingtower_amqp_consumed_total", "queue" => queue.clone(), "result" => "ack")
                    .increment(envelopes.len() as u64);
                if let Err(error) = acked {
                    debug!(%error, "could not ack a batch; it will be redelivered");
                }
                let _ = order.done.send(());
                return;
            }
            Ok(Err(HandlerError::Transient(error))) => {
                let delay = backoff.next_delay();
                warn!(
                    error = format!("{error:#}"),
                    size = envelopes.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    "batch failed; retrying"
                );
                metrics::counter!("pingtower_amqp_handler_retries_total", "queue" => queue.clone()).increment(1);
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        if order.wait_turn().await {
                            let _ = last.nack(BasicNackOptions { multiple: true, requeue: true }).await;
                            let _ = order.done.send(());
                        }
                        return;
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Ok(Err(HandlerError::Permanent(_))) | Err(_) => {
                warn!(
                    size = envelopes.len(),
                    "batch failed permanently; storing its results one by one"
                );
                if !order.wait_turn().await {
                    return;
                }
                for (envelope, acker) in envelopes.iter().zip(&ackers) {
                    let single = AssertUnwindSafe(ingestor.store(std::slice::from_ref(envelope)))
                        .catch_unwind()
                        .await;
                    let how = match single {
                        Ok(Ok(())) => Settle::Ack,
                        Ok(Err(HandlerError::Transient(_))) => Settle::Requeue,
                        _ => {
                            warn!(message_id = %envelope.message_id, "result cannot be stored; dead-lettering it");
                            Settle::Reject
                        }
                    };
                    settle(acker, &queue, how).await;
                }
                let _ = order.done.send(());
                return;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Settle {
    Ack,
    Reject,
    Requeue,
}

async fn settle(acker: &Acker, queue: &str, how: Settle) {
    let (result, label) = match how {
        Settle::Ack => (acker.ack(BasicAckOptions::default()).await, "ack"),
        Settle::Reject => (acker.reject(BasicRejectOptions { requeue: false }).await, "dead_letter"),
        Settle::Requeue => (
            acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await,
            "requeue",
        ),
    };
    metrics::counter!("pingtower_amqp_consumed_total", "queue" => queue.to_owned(), "result" => label).increment(1);
    if let Err(error) = result {
        debug!(%error, "could not settle a delivery; it will be redelivered");
    }
}
