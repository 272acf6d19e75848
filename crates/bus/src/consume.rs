//! The one consume engine. A single message is a batch of one; batch size, the wait for a
//! batch to fill, the number of handlers (writers) at once and prefetch are
//! [`ConsumerOptions`]. [`consume()`] hands each message to its handler; [`consume_batches`]
//! hands batches. Both run the same loop:
//!
//! - deliveries are collected into a batch; a batch is handled when it holds `max_batch`
//!   messages, or `max_wait` after its first one, while up to `concurrency` batches are being
//!   handled (the next batch is collected meanwhile: pipelined writers);
//! - a batch is acked only after its handler returned `Ok`, so its effect is durable first.
//!   Batches of one are acked one by one, in any order. Larger batches are acked with one
//!   multiple-ack, and only once every earlier batch is settled (each waits for its
//!   predecessor's signal), so a multiple-ack never covers a batch still being handled;
//! - a transient error retries the same batch in-process with backoff while it is held (the
//!   broker is the spool; prefetch bounds what is held); on shutdown it is requeued;
//! - a permanent error or a panic dead-letters a single message; a batch's messages are then
//!   handled one by one, so only the poison ones are dead-lettered. An undecodable body is
//!   dead-lettered at once;
//! - on shutdown it stops taking deliveries, handles and settles what it holds, and returns;
//!   a lost channel or connection is re-subscribed (what was unsettled is redelivered);
//! - a batch message (a JSON array of up to [`BATCH_LIMIT`] envelopes, see
//!   [`common::messages`]) is one delivery holding several messages: [`consume()`] hands them
//!   to the handler one after another, [`consume_batches`] puts them all in the batch, and a
//!   batch's size counts messages (by the batch's [`BATCH_SIZE_HEADER`]), not deliveries. The
//!   delivery is settled once, after all of its messages were handled. Prefetch still counts
//!   deliveries, so a consumer holds at most `prefetch × BATCH_LIMIT` messages.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use common::backoff::Backoff;
use common::messages::{BATCH_LIMIT, BATCH_SIZE_HEADER, Envelope, Message};
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span, warn};

use crate::supervisor::{AmqpError, Broker};

/// How a handler failed, which decides the message's fate.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Try again later (a dependency is down): the message is kept and retried in-process
    /// with backoff, so the broker stays the spool.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
    /// The message can never be handled: it goes to the dead-letter queue.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
}

impl HandlerError {
    /// A transient error from anything displayable.
    pub fn transient(e: impl Into<anyhow::Error>) -> Self {
        HandlerError::Transient(e.into())
    }
    /// A permanent error from anything displayable.
    pub fn permanent(e: impl Into<anyhow::Error>) -> Self {
        HandlerError::Permanent(e.into())
    }
}

/// Facts about one delivery besides the message.
#[derive(Debug, Clone)]
pub struct DeliveryInfo {
    /// The broker may have delivered this message before.
    pub redelivered: bool,
    /// Routing key it was published with.
    pub routing_key: String,
    /// Queue the publisher awaits a reply on (request/reply, e.g. "Test now"); the handler
    /// answers with [`crate::Publisher::answer`] / [`crate::Publisher::reply`].
    pub reply_to: Option<String>,
}

/// Options of a consumer; see the module docs.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Queue to consume.
    pub queue: String,
    /// Batches (of one, by default) handled at once.
    pub concurrency: usize,
    /// Largest batch handed to the handler (1: each message alone).
    pub max_batch: usize,
    /// Longest wait, from a batch's first message, before the batch is handled anyway.
    pub max_wait: Duration,
    /// Unacked deliveries the broker may hand over at once; `None`: `concurrency` for
    /// batches of one, `max_batch × (concurrency + 2)` for batches (those being handled, the
    /// one being collected, and one on the way).
    pub prefetch: Option<u16>,
    /// Longest pause between retries of a transiently failing handler.
    pub max_retry_delay: Duration,
}

impl ConsumerOptions {
    /// One message at a time from `queue`.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            concurrency: 1,
            max_batch: 1,
            max_wait: Duration::ZERO,
            prefetch: None,
            max_retry_delay: Duration::from_secs(30),
        }
    }

    /// `n` batches (or messages) handled at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Batches of up to `max_batch` messages, handled `max_wait` after their first message
    /// at the latest.
    pub fn batches(mut self, max_batch: usize, max_wait: Duration) -> Self {
        self.max_batch = max_batch.max(1);
        self.max_wait = max_wait;
        self
    }

    /// An explicit prefetch (see [`ConsumerOptions::prefetch`]).
    pub fn prefetch(mut self, n: u16) -> Self {
        self.prefetch = Some(n.max(1));
        self
    }

    /// The longest pause between retries of a transiently failing handler.
    pub fn max_retry_delay(mut self, delay: Duration) -> Self {
        self.max_retry_delay = delay;
        self
    }

    /// The prefetch asked of the broker.
    pub fn effective_prefetch(&self) -> u16 {
        let n = match (self.prefetch, self.max_batch.max(1)) {
            (Some(n), _) => return n,
            (None, 1) => self.concurrency.max(1),
            (None, batch) => batch.saturating_mul(self.concurrency.max(1) + 2),
        };
        u16::try_from(n).unwrap_or(u16::MAX)
    }
}

/// One decoded delivery (one message, or the messages of a batch message, in order) and its
/// delivery facts, as the engine hands it over.
struct Received<T> {
    envelopes: Vec<Envelope<T>>,
    info: DeliveryInfo,
}

// `consume` and `consume_batches` share their bounds on purpose: the two entry points differ only in the handler's shape.
/// Consumes `options.queue` until `shutdown`, calling `handler` for each message (the
/// options' batch size is ignored: each message is a batch of one). See the module docs.
/// Returns an error only for a topology conflict (an operator must act).
pub async fn consume<T, H, Fut>(
    broker: &Broker,
    options: ConsumerOptions,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), AmqpError>
where
    T: Message,
    H: Fn(Envelope<T>, DeliveryInfo) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let options = options.batches(1, Duration::ZERO);
    run(broker, options, shutdown, move |batch: Vec<Received<T>>| {
        let handler = handler.clone();
        async move {
            // One delivery: its messages in order (a batch message's fail together: the
            // delivery is retried or dead-lettered whole, and handlers are idempotent).
            for one in batch {
                for envelope in one.envelopes {
                    handler(envelope, one.info.clone()).await?;
                }
            }
            Ok(())
        }
    })
    .await
}

/// Consumes `options.queue` until `shutdown`, calling `handler` with batches of up to
/// `options.max_batch` messages. See the module docs. Returns an error only for a topology
/// conflict (an operator must act).
pub async fn consume_batches<T, H, Fut>(
    broker: &Broker,
    options: ConsumerOptions,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), AmqpError>
where
    T: Message,
    H: Fn(Vec<Envelope<T>>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    run(broker, options, shutdown, move |batch: Vec<Received<T>>| {
        handler(batch.into_iter().flat_map(|r| r.envelopes).collect())
    })
    .await
}

/// What every batch of one consumer shares: its handler, queue, retry limit and metric
/// handles (registered once, not looked up per message).
struct Shared<H> {
    handler: H,
    queue: String,
    /// Multiple-acks in delivery order (batches of more than one).
    ordered: bool,
    max_retry_delay: Duration,
    shutdown: CancellationToken,
    acked: metrics::Counter,
    dead_lettered: metrics::Counter,
    requeued: metrics::Counter,
    retries: metrics::Counter,
}

impl<H> Shared<H> {
    fn counter(&self, how: Settle) -> &metrics::Counter {
        match how {
            Settle::Ack => &self.acked,
            Settle::Reject => &self.dead_lettered,
            Settle::Requeue => &self.requeued,
        }
    }
}

fn consumed_counter(queue: &str, label: &'static str) -> metrics::Counter {
    metrics::counter!(crate::telemetry::CONSUMED, "queue" => queue.to_owned(), "result" => label)
}

/// The engine.
async fn run<T, H, Fut>(
    broker: &Broker,
    options: ConsumerOptions,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), AmqpError>
where
    T: Message,
    H: Fn(Vec<Received<T>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    let max_batch = options.max_batch.max(1);
    let queue = options.queue.clone();
    let shared = Arc::new(Shared {
        handler,
        ordered: max_batch > 1,
        max_retry_delay: options.max_retry_delay,
        shutdown: shutdown.clone(),
        acked: consumed_counter(&queue, "ack"),
        dead_lettered: consumed_counter(&queue, "dead_letter"),
        requeued: consumed_counter(&queue, "requeue"),
        retries: metrics::counter!(crate::telemetry::HANDLER_RETRIES, "queue" => queue.clone()),
        queue,
    });
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let tracker = TaskTracker::new();
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    while !shutdown.is_cancelled() {
        let (channel, mut consumer, tag) = match subscribe(broker, &options).await {
            Ok(sub) => {
                backoff.reset();
                sub
            }
            Err(AmqpError::ShuttingDown) => break,
            Err(AmqpError::Topology(e)) => return Err(AmqpError::Topology(e)),
            Err(e) => {
                let delay = backoff.next_delay();
                warn!(error = %e, queue = %options.queue, retry_in_ms = delay.as_millis() as u64, "could not subscribe");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
        };
        // Settlement order of this channel's batches, and the signal that it broke.
        let mut settled: Option<oneshot::Receiver<()>> = None;
        let broken = CancellationToken::new();
        let mut next: Vec<Delivery> = Vec::new();
        // The messages `next` holds (a batch message counts its own).
        let mut held = 0usize;
        let mut deadline: Option<Instant> = None;
        let mut stopping = false;
        let mut lost = false;
        let mut dispatch = |batch: Vec<Delivery>, permit: OwnedSemaphorePermit| {
            let order = shared.ordered.then(|| {
                let (done, after) = oneshot::channel();
                Order {
                    previous: settled.replace(after),
                    done: Some(done),
                }
            });
            let (shared, broken) = (shared.clone(), broken.clone());
            tracker.spawn(async move {
                handle(batch, &shared, order, &broken).await;
                drop(permit);
            });
        };
        loop {
            if !stopping && shutdown.is_cancelled() {
                stopping = true;
            }
            // Hot path of batches of one: what is ready at once is taken without a select!
            // (waiting on the shutdown token registers a waiter under a lock).
            if max_batch == 1
                && !stopping
                && next.is_empty()
                && let Ok(permit) = slots.clone().try_acquire_owned()
            {
                match consumer.next().now_or_never() {
                    Some(Some(Ok(delivery))) => {
                        dispatch(vec![delivery], permit);
                        continue;
                    }
                    Some(_) => {
                        lost = true;
                        break;
                    }
                    None => drop(permit),
                }
            }
            let due =
                !next.is_empty() && (held >= max_batch || stopping || deadline.is_some_and(|d| d <= Instant::now()));
            if due && let Ok(permit) = slots.clone().try_acquire_owned() {
                deadline = None;
                held = 0;
                dispatch(std::mem::take(&mut next), permit);
                continue;
            }
            if stopping && next.is_empty() {
                break;
            }
            let taking = !stopping && held < max_batch;
            tokio::select! {
                _ = shutdown.cancelled(), if !stopping => stopping = true,
                _ = broken.cancelled() => {
                    warn!(queue = %options.queue, "a batch could not be settled in order; resubscribing");
                    lost = true;
                    break;
                }
                permit = slots.clone().acquire_owned(), if due => {
                    deadline = None;
                    held = 0;
                    dispatch(std::mem::take(&mut next), permit.expect("the semaphore is never closed"));
                }
                _ = sleep_until(deadline), if !due && deadline.is_some() => {}
                delivery = consumer.next(), if taking => match delivery {
                    Some(Ok(delivery)) => {
                        if max_batch > 1 {
                            deadline.get_or_insert_with(|| Instant::now() + options.max_wait);
                        }
                        held += weight(&delivery);
                        next.push(delivery);
                    }
                    Some(Err(error)) => {
                        warn!(%error, queue = %options.queue, "consumer lost its channel; resubscribing");
                        lost = true;
                        break;
                    }
                    None => {
                        warn!(queue = %options.queue, "consumer was cancelled; resubscribing");
                        lost = true;
                        break;
                    }
                },
            }
        }
        if lost && !stopping {
            // What was collected goes back to the queue with the channel; batches in hand
            // finish, and their settlements fail harmlessly (redelivered).
            let _ = channel.close(200, "resubscribing".into()).await;
            continue;
        }
        let _ = channel
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await;
        tracker.close();
        tracker.wait().await;
        let _ = channel.close(200, "shutdown".into()).await;
        return Ok(());
    }
    tracker.close();
    tracker.wait().await;
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn consumer_tag(queue: &str) -> String {
    format!("{queue}-{}", uuid::Uuid::new_v4().simple())
}

async fn subscribe(
    broker: &Broker,
    options: &ConsumerOptions,
) -> Result<(Channel, lapin::Consumer, String), AmqpError> {
    let conn = broker.connection().await?;
    let channel = conn.create_channel().await?;
    channel
        .basic_qos(options.effective_prefetch(), BasicQosOptions::default())
        .await?;
    let tag = consumer_tag(&options.queue);
    let consumer = channel
        .basic_consume(
            options.queue.as_str().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    debug!(queue = %options.queue, "subscribed");
    Ok((channel, consumer, tag))
}

/// A batch's place in the order of settlement (batches of more than one).
struct Order {
    /// Fires once the previous batch is settled (`None`: no earlier batch in flight).
    previous: Option<oneshot::Receiver<()>>,
    /// Fired once this batch is settled.
    done: Option<oneshot::Sender<()>>,
}

/// Waits until every earlier batch is settled. `false` when a previous batch's task died
/// without settling: its deliveries are unsettled, so this one must not multiple-ack (the
/// consumer resubscribes and the broker redelivers both).
async fn wait_turn(order: &mut Option<Order>, broken: &CancellationToken) -> bool {
    let Some(order) = order else { return true };
    let ok = match order.previous.take() {
        Some(previous) => previous.await.is_ok(),
        None => true,
    };
    if !ok {
        broken.cancel();
    }
    ok
}

/// Signals the next batch that this one is settled.
fn turn_done(order: &mut Option<Order>) {
    if let Some(done) = order.as_mut().and_then(|o| o.done.take()) {
        let _ = done.send(());
    }
}

/// How many messages a delivery says it carries (its [`BATCH_SIZE_HEADER`]; 1 without one),
/// for sizing batches before it is decoded.
fn weight(delivery: &Delivery) -> usize {
    let Some(headers) = delivery.properties.headers() else {
        return 1;
    };
    let n = match headers.inner().get(BATCH_SIZE_HEADER) {
        Some(AMQPValue::LongUInt(n)) => *n as usize,
        Some(AMQPValue::LongInt(n)) => usize::try_from(*n).unwrap_or(1),
        Some(AMQPValue::LongLongInt(n)) => usize::try_from(*n).unwrap_or(1),
        Some(AMQPValue::ShortUInt(n)) => usize::from(*n),
        _ => 1,
    };
    n.clamp(1, BATCH_LIMIT)
}

/// The messages of a delivery: one envelope, or a batch message's array of 1 to
/// [`BATCH_LIMIT`] envelopes.
fn envelopes<T: Message>(body: &[u8]) -> Result<Vec<Envelope<T>>, serde_json::Error> {
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if !batch {
        return Ok(vec![serde_json::from_slice::<Envelope<T>>(body)?]);
    }
    let envelopes = serde_json::from_slice::<Vec<Envelope<T>>>(body)?;
    if envelopes.is_empty() || envelopes.len() > BATCH_LIMIT {
        return Err(<serde_json::Error as serde::de::Error>::custom(format!(
            "a batch message holds 1 to {BATCH_LIMIT} messages, not {}",
            envelopes.len()
        )));
    }
    Ok(envelopes)
}

fn decode<T: Message>(delivery: &Delivery) -> Result<Received<T>, serde_json::Error> {
    Ok(Received {
        envelopes: envelopes::<T>(&delivery.data)?,
        info: DeliveryInfo {
            redelivered: delivery.redelivered,
            routing_key: delivery.routing_key.to_string(),
            reply_to: delivery.properties.reply_to().as_ref().map(ShortString::to_string),
        },
    })
}

fn correlation_of(properties: &BasicProperties) -> String {
    properties
        .correlation_id()
        .as_ref()
        .map(ShortString::to_string)
        .unwrap_or_default()
}

/// Handles one batch until it is settled: see the module docs.
async fn handle<T, H, Fut>(
    deliveries: Vec<Delivery>,
    shared: &Shared<H>,
    mut order: Option<Order>,
    broken: &CancellationToken,
) where
    T: Message,
    H: Fn(Vec<Received<T>>) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let span = match deliveries.as_slice() {
        [one] => {
            info_span!("message", queue = %shared.queue, kind = T::KIND, correlation_id = %correlation_of(&one.properties))
        }
        many => info_span!("batch", queue = %shared.queue, kind = T::KIND, size = many.len()),
    };
    async {
        // Undecodable bodies are dead-lettered at once; the rest form the batch.
        let mut kept = Vec::with_capacity(deliveries.len());
        let mut received = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match decode::<T>(&delivery) {
                Ok(r) => {
                    received.push(r);
                    kept.push(delivery);
                }
                Err(error) => {
                    warn!(%error, bytes = delivery.data.len(), "undecodable message; dead-lettering it");
                    settle(&delivery, shared, Settle::Reject).await;
                }
            }
        }
        let deliveries = kept;
        let mut backoff = Backoff::new(Duration::from_millis(200), shared.max_retry_delay);
        let mut attempt = Some(received);
        loop {
            if deliveries.is_empty() {
                if wait_turn(&mut order, broken).await {
                    turn_done(&mut order);
                }
                return;
            }
            // A retry (rare) decodes again rather than every delivery paying for a copy kept
            // against one.
            let batch = attempt
                .take()
                .unwrap_or_else(|| deliveries.iter().filter_map(|d| decode::<T>(d).ok()).collect());
            let outcome = AssertUnwindSafe((shared.handler)(batch)).catch_unwind().await;
            match outcome {
                Ok(Ok(())) => {
                    if wait_turn(&mut order, broken).await {
                        settle_all(&deliveries, shared, Settle::Ack).await;
                        turn_done(&mut order);
                    }
                    return;
                }
                Ok(Err(HandlerError::Transient(error))) => {
                    let delay = backoff.next_delay();
                    warn!(
                        error = format!("{error:#}"),
                        size = deliveries.len(),
                        retry_in_ms = delay.as_millis() as u64,
                        "handler failed; retrying"
                    );
                    shared.retries.increment(1);
                    tokio::select! {
                        _ = shared.shutdown.cancelled() => {
                            if wait_turn(&mut order, broken).await {
                                settle_all(&deliveries, shared, Settle::Requeue).await;
                                turn_done(&mut order);
                            }
                            return;
                        }
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                Ok(Err(HandlerError::Permanent(error))) if deliveries.len() == 1 => {
                    warn!(
                        error = format!("{error:#}"),
                        "message cannot be handled; dead-lettering it"
                    );
                    dead_letter_alone(&deliveries[0], shared, &mut order, broken).await;
                    return;
                }
                Err(_) if deliveries.len() == 1 => {
                    warn!("handler panicked; dead-lettering the message");
                    dead_letter_alone(&deliveries[0], shared, &mut order, broken).await;
                    return;
                }
                Ok(Err(HandlerError::Permanent(_))) | Err(_) => {
                    warn!(
                        size = deliveries.len(),
                        "batch failed permanently; handling its messages one by one"
                    );
                    one_by_one(&deliveries, shared).await;
                    if wait_turn(&mut order, broken).await {
                        turn_done(&mut order);
                    }
                    return;
                }
            }
        }
    }
    .instrument(span)
    .await
}

async fn dead_letter_alone<H>(
    delivery: &Delivery,
    shared: &Shared<H>,
    order: &mut Option<Order>,
    broken: &CancellationToken,
) {
    if wait_turn(order, broken).await {
        settle(delivery, shared, Settle::Reject).await;
        turn_done(order);
    }
}

/// After a batch failed permanently: each delivery alone, so only the poison ones are
/// dead-lettered. Individual settlements cover nothing else, so they need no turn. A batch
/// message that fails so has its messages handled one by one, so its good ones take effect;
/// it is settled once, so it is dead-lettered whole when one of them is poison (the others,
/// handled already, are harmless to replay: handlers are idempotent).
async fn one_by_one<T, H, Fut>(deliveries: &[Delivery], shared: &Shared<H>)
where
    T: Message,
    H: Fn(Vec<Received<T>>) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    for delivery in deliveries {
        let Ok(received) = decode::<T>(delivery) else {
            settle(delivery, shared, Settle::Reject).await;
            continue;
        };
        let (info, envelopes) = (received.info, received.envelopes);
        let parts = if envelopes.len() == 1 {
            vec![envelopes]
        } else {
            // Whole first (one write), then, if that fails for good, each message alone.
            match alone(shared, envelopes.clone(), &info).await {
                Settle::Reject => envelopes.into_iter().map(|e| vec![e]).collect(),
                how => {
                    settle(delivery, shared, how).await;
                    continue;
                }
            }
        };
        let mut how = Settle::Ack;
        for part in parts {
            match alone(shared, part, &info).await {
                Settle::Ack => {}
                Settle::Requeue if matches!(how, Settle::Ack) => how = Settle::Requeue,
                Settle::Requeue => {}
                Settle::Reject => how = Settle::Reject,
            }
        }
        settle(delivery, shared, how).await;
    }
}

/// Handles `envelopes` of one delivery as a batch of their own: how the delivery would be
/// settled for them.
async fn alone<T, H, Fut>(shared: &Shared<H>, envelopes: Vec<Envelope<T>>, info: &DeliveryInfo) -> Settle
where
    T: Message,
    H: Fn(Vec<Received<T>>) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let message_id = envelopes.first().map(|e| e.message_id).unwrap_or_default();
    let received = Received {
        envelopes,
        info: info.clone(),
    };
    match AssertUnwindSafe((shared.handler)(vec![received])).catch_unwind().await {
        Ok(Ok(())) => Settle::Ack,
        Ok(Err(HandlerError::Transient(_))) => Settle::Requeue,
        _ => {
            warn!(%message_id, "message cannot be handled; dead-lettering it");
            Settle::Reject
        }
    }
}

#[derive(Clone, Copy)]
enum Settle {
    Ack,
    Reject,
    Requeue,
}

/// Settles a whole batch: one multiple-ack (or -nack) on its last delivery when settlement
/// is ordered, each delivery alone otherwise.
async fn settle_all<H>(deliveries: &[Delivery], shared: &Shared<H>, how: Settle) {
    let Some(last) = deliveries.last() else { return };
    if !shared.ordered || deliveries.len() == 1 {
        for delivery in deliveries {
            settle(delivery, shared, how).await;
        }
        return;
    }
    let result = match how {
        Settle::Ack => last.acker.ack(BasicAckOptions { multiple: true }).await,
        Settle::Requeue | Settle::Reject => {
            last.acker
                .nack(BasicNackOptions {
                    multiple: true,
                    requeue: matches!(how, Settle::Requeue),
                })
                .await
        }
    };
    shared.counter(how).increment(deliveries.len() as u64);
    if let Err(error) = result {
        debug!(%error, "could not settle a batch; it will be redelivered");
    }
}

async fn settle<H>(delivery: &Delivery, shared: &Shared<H>, how: Settle) {
    let result = match how {
        Settle::Ack => delivery.acker.ack(BasicAckOptions::default()).await,
        Settle::Reject => delivery.acker.reject(BasicRejectOptions { requeue: false }).await,
        Settle::Requeue => {
            delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
        }
    };
    shared.counter(how).increment(1);
    if let Err(error) = result {
        // The channel is gone; the broker will redeliver the message to the next consumer.
        debug!(%error, "could not settle a delivery; it will be redelivered");
    }
}
