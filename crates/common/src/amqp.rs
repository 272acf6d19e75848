//! AMQP: a connection supervisor, a typed confirming publisher and typed consumers.
//!
//! lapin does not recover connections on its own reliably (lapin#288, #450), so
//! [`Broker`] supervises one connection: when it is found dead, the next caller reconnects
//! with backoff and jitter and re-declares the topology. Publishers resend what was not
//! confirmed; consumers re-subscribe. Nothing here restarts the process.
//!
//! Delivery semantics: the publisher returns only after the broker confirmed the message
//! (an unroutable or nacked message is an error); consumers ack only after their handler
//! succeeded, so every effect happens at least once and handlers must be idempotent.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

pub mod direct;

use crate::backoff::Backoff;
use crate::messages::{Envelope, Message};
use crate::topology::{DeclareError, Topology};

/// How long one connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the supervisor.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// Shutdown was requested while waiting for the broker.
    #[error("shutting down")]
    ShuttingDown,
    /// The topology conflicts with what the broker has; retrying will not help.
    #[error(transparent)]
    Topology(DeclareError),
    /// The broker could not be reached or refused.
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    /// A connection attempt took too long.
    #[error("connecting to the broker timed out")]
    Timeout,
    /// A [`direct::Link`] could not be opened.
    #[error(transparent)]
    Link(#[from] direct::LinkError),
}

/// A supervised connection to RabbitMQ. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<BrokerInner>,
}

struct BrokerInner {
    uri: SecretString,
    name: String,
    topology: Topology,
    connection: Mutex<Option<Arc<Connection>>>,
    shutdown: CancellationToken,
}

impl Broker {
    /// A broker handle; nothing connects until first use.
    ///
    /// `name` shows in the management UI; `topology` is declared on every (re)connect.
    /// `shutdown` ends waits for the broker.
    pub fn new(uri: SecretString, name: impl Into<String>, topology: Topology, shutdown: CancellationToken) -> Self {
        Self {
            inner: Arc::new(BrokerInner {
                uri: with_default_heartbeat(uri.expose_secret()).into(),
                name: name.into(),
                topology,
                connection: Mutex::new(None),
                shutdown,
            }),
        }
    }

    /// The topology this broker declares.
    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// A live connection, reconnecting with backoff and jitter until one is up or shutdown
    /// is requested. A topology conflict is returned at once (it needs an operator).
    pub async fn connection(&self) -> Result<Arc<Connection>, AmqpError> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match self.try_connection().await {
                Ok(conn) => return Ok(conn),
                Err(AmqpError::Topology(e)) => return Err(AmqpError::Topology(e)),
                Err(e) => {
                    let delay = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, broker = %self.inner.name, "broker unavailable");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => return Err(AmqpError::ShuttingDown),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// The live connection, or one connection attempt (declaring the topology).
    pub async fn try_connection(&self) -> Result<Arc<Connection>, AmqpError> {
        let mut slot = self.inner.connection.lock().await;
        if let Some(conn) = slot.as_ref() {
            if conn.status().connected() {
                return Ok(conn.clone());
            }
            metrics::counter!("pingtower_amqp_reconnects_total", "connection" => self.inner.name.clone()).increment(1);
        }
        *slot = None;
        let props = ConnectionProperties::default().with_connection_name(self.inner.name.clone().into());
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            Connection::connect(self.inner.uri.expose_secret(), props),
        )
        .await
        .map_err(|_| AmqpError::Timeout)??;
        self.inner.topology.declare(&conn).await.map_err(|e| match e {
            DeclareError::Amqp(e) => AmqpError::Amqp(e),
            conflict => AmqpError::Topology(conflict),
        })?;
        info!(broker = %self.inner.name, "connected to the broker");
        let conn = Arc::new(conn);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Whether the connection is up right now (for readiness).
    pub async fn is_connected(&self) -> bool {
        match self.inner.connection.try_lock() {
            Ok(slot) => slot.as_ref().is_some_and(|c| c.status().connected()),
            // Someone is connecting right now.
            Err(_) => false,
        }
    }

    /// Closes the connection, if any.
    pub async fn close(&self) {
        if let Some(conn) = self.inner.connection.lock().await.take() {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Publisher
// ---------------------------------------------------------------------------------------------

/// Why a publish failed. The message is not in the broker in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No queue is bound for the routing key (the broker returned the mandatory message).
    #[error("message is unroutable: exchange {exchange}, routing key {routing_key} ({reply})")]
    Unroutable {
        /// Exchange published to.
        exchange: String,
        /// Routing key used.
        routing_key: String,
        /// The broker's reply text.
        reply: String,
    },
    /// The broker refused responsibility for the message.
    #[error("the broker nacked the message (exchange {exchange}, routing key {routing_key})")]
    Nacked {
        /// Exchange published to.
        exchange: String,
        /// Routing key used.
        routing_key: String,
    },
    /// The broker could not be reached within the publish timeout.
    #[error("broker unavailable for {0:?}: {1}")]
    Unavailable(Duration, String),
    /// The message could not be serialised.
    #[error("could not serialise the message: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Publishes typed messages: persistent, `mandatory`, with publisher confirms.
///
/// A message whose connection breaks before its confirm arrives is sent again on the next
/// connection, so it may arrive twice (consumers are idempotent) but is never lost.
#[derive(Clone)]
pub struct Publisher {
    broker: Broker,
    channel: Arc<Mutex<Option<Channel>>>,
    timeout: Duration,
}

/// The broker's answer to one publication, whichever transport carried it.
enum Answer {
    Ack,
    Returned(String),
    Nack,
    /// The channel is not in confirm mode (cannot happen on our channels).
    NotRequested,
}

impl Publisher {
    /// A publisher over `broker` (best a broker of its own: flow control blocks publishing
    /// connections). `timeout` bounds how long one publish waits for an unreachable broker.
    pub fn new(broker: Broker, timeout: Duration) -> Self {
        Self {
            broker,
            channel: Arc::new(Mutex::new(None)),
            timeout,
        }
    }

    /// The broker this publisher uses.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Answers a consumed message: to its reply queue when it names one, else published as
    /// usual; over the direct link it came on when it did ([`Publisher::publish_on`]), with
    /// this publisher's retries otherwise.
    pub async fn answer<T: Message>(&self, info: &DeliveryInfo, envelope: &Envelope<T>) -> Result<(), PublishError> {
        let (exchange, routing_key) = match &info.reply_to {
            Some(queue) => ("", queue.clone()),
            None => (T::EXCHANGE, envelope.payload.routing_key()),
        };
        match &info.link {
            Some(link) => self.publish_on_to(link, exchange, routing_key, envelope).await,
            None => self.publish_to(exchange, routing_key, envelope, None).await,
        }
    }

    /// Publishes `envelope` once over `link` (the link a delivery came over, see
    /// [`DeliveryInfo::link`]) and waits for the broker's confirm, up to the publish timeout.
    /// No retry: if the link is gone, so is the delivery being answered, which the broker
    /// hands out again.
    pub async fn publish_on<T: Message>(
        &self,
        link: &direct::Link,
        envelope: &Envelope<T>,
    ) -> Result<(), PublishError> {
        self.publish_on_to(link, T::EXCHANGE, envelope.payload.routing_key(), envelope)
            .await
    }

    /// [`Publisher::reply`] over `link` (see [`Publisher::publish_on`]).
    pub async fn reply_on<T: Message>(
        &self,
        link: &direct::Link,
        reply_to: &str,
        envelope: &Envelope<T>,
    ) -> Result<(), PublishError> {
        self.publish_on_to(link, "", reply_to.to_owned(), envelope).await
    }

    async fn publish_on_to<T: Message>(
        &self,
        link: &direct::Link,
        exchange: &str,
        routing_key: String,
        envelope: &Envelope<T>,
    ) -> Result<(), PublishError> {
        let (body, properties) = encode(envelope, None)?;
        // A broker that blocks publishers (memory or disk alarm) never confirms: the caller
        // gets an error after the publish timeout instead of waiting for ever.
        let confirm =
            match tokio::time::timeout(self.timeout, link.publish(exchange, &routing_key, properties, body)).await {
                Ok(confirm) => confirm.map_err(|e| (Duration::ZERO, e.to_string())),
                Err(_) => Err((self.timeout, "the broker did not confirm the publication".to_owned())),
            };
        let answer = match confirm {
            Ok(direct::Confirm::Ack) => Answer::Ack,
            Ok(direct::Confirm::Returned(reply)) => Answer::Returned(reply),
            Ok(direct::Confirm::Nack) => Answer::Nack,
            Err((waited, why)) => {
                metrics::counter!("pingtower_amqp_publish_failures_total", "kind" => T::KIND, "reason" => "unavailable").increment(1);
                return Err(PublishError::Unavailable(waited, why));
            }
        };
        answered::<T>(answer, exchange, routing_key).unwrap_or(Ok(()))
    }

    /// Publishes once over lapin.
    async fn publish_once(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: &BasicProperties,
    ) -> Result<Answer, String> {
        let ch = self.confirm_channel().await.map_err(|e| e.to_string())?;
        let confirm = ch
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                properties.clone(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(match confirm.await.map_err(|e| e.to_string())? {
            Confirmation::Ack(None) => Answer::Ack,
            Confirmation::Ack(Some(returned)) => Answer::Returned(returned.reply_text.to_string()),
            Confirmation::Nack(_) => Answer::Nack,
            Confirmation::NotRequested => Answer::NotRequested,
        })
    }

    async fn confirm_channel(&self) -> Result<Channel, AmqpError> {
        let mut slot = self.channel.lock().await;
        if let Some(ch) = slot.as_ref()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        *slot = None;
        let conn = self.broker.try_connection().await?;
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *slot = Some(ch.clone());
        Ok(ch)
    }

    /// Publishes one message and waits for the broker's confirm.
    pub async fn publish<T: Message>(&self, envelope: &Envelope<T>) -> Result<(), PublishError> {
        self.publish_to(T::EXCHANGE, envelope.payload.routing_key(), envelope, None)
            .await
    }

    /// Answers a request: publishes `envelope` straight to the requester's reply queue
    /// (through the default exchange), confirmed like any other publication.
    pub async fn reply<T: Message>(&self, reply_to: &str, envelope: &Envelope<T>) -> Result<(), PublishError> {
        self.publish_to("", reply_to.to_owned(), envelope, None).await
    }

    /// Publishes a request whose answer goes to `reply_to` (see [`request`]).
    pub async fn publish_request<T: Message>(
        &self,
        envelope: &Envelope<T>,
        reply_to: &str,
    ) -> Result<(), PublishError> {
        self.publish_to(T::EXCHANGE, envelope.payload.routing_key(), envelope, Some(reply_to))
            .await
    }

    async fn publish_to<T: Message>(
        &self,
        exchange: &str,
        routing_key: String,
        envelope: &Envelope<T>,
        reply_to: Option<&str>,
    ) -> Result<(), PublishError> {
        let (body, properties) = encode(envelope, reply_to)?;
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            match self.publish_once(exchange, &routing_key, &body, &properties).await {
                Ok(answer) => match answered::<T>(answer, exchange, routing_key.clone()) {
                    Some(done) => return done,
                    // The channel lost confirm mode (cannot happen on our channels); start over.
                    None => *self.channel.lock().await = None,
                },
                Err(error) => {
                    *self.channel.lock().await = None;
                    if started.elapsed() >= self.timeout || self.broker.inner.shutdown.is_cancelled() {
                        metrics::counter!("pingtower_amqp_publish_failures_total", "kind" => T::KIND, "reason" => "unavailable").increment(1);
                        return Err(PublishError::Unavailable(self.timeout, error));
                    }
                    let delay = backoff.next_delay();
                    debug!(%error, retry_in_ms = delay.as_millis() as u64, "publish failed; resending");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// A message's body and properties: JSON, persistent, typed, with its ids.
fn encode<T: Message>(
    envelope: &Envelope<T>,
    reply_to: Option<&str>,
) -> Result<(Vec<u8>, BasicProperties), PublishError> {
    // Sized for a typical message up front: grown from empty, the buffer is reallocated
    // seven times on the way to a kilobyte.
    let mut body = Vec::with_capacity(1024);
    serde_json::to_writer(&mut body, envelope)?;
    let mut properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.message_id.to_string().into())
        .with_correlation_id(envelope.correlation_id.to_string().into())
        .with_type(T::KIND.into())
        .with_timestamp(envelope.occurred_at.timestamp().max(0) as u64);
    if let Some(queue) = reply_to {
        properties = properties.with_reply_to(queue.into());
    }
    Ok((body, properties))
}

/// What the broker's answer means for the publisher (counted); `None`: publish again.
fn answered<T: Message>(answer: Answer, exchange: &str, routing_key: String) -> Option<Result<(), PublishError>> {
    match answer {
        Answer::Ack => {
            metrics::counter!("pingtower_amqp_published_total", "kind" => T::KIND).increment(1);
            Some(Ok(()))
        }
        Answer::Returned(reply) => {
            metrics::counter!("pingtower_amqp_publish_failures_total", "kind" => T::KIND, "reason" => "unroutable")
                .increment(1);
            Some(Err(PublishError::Unroutable {
                exchange: exchange.to_owned(),
                routing_key,
                reply,
            }))
        }
        Answer::Nack => {
            metrics::counter!("pingtower_amqp_publish_failures_total", "kind" => T::KIND, "reason" => "nacked")
                .increment(1);
            Some(Err(PublishError::Nacked {
                exchange: exchange.to_owned(),
                routing_key,
            }))
        }
        Answer::NotRequested => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Consumers
// ---------------------------------------------------------------------------------------------

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
    /// answers with [`Publisher::reply`] instead of the usual publication.
    pub reply_to: Option<String>,
    /// The direct link the message came over ([`ConsumerOptions::direct`]); answers go out
    /// on it with [`Publisher::publish_on`] / [`Publisher::reply_on`].
    pub link: Option<direct::Link>,
}

/// Options of a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Queue to consume.
    pub queue: String,
    /// Unacked deliveries the broker may hand over at once.
    pub prefetch: u16,
    /// Handlers run at once (≤ prefetch).
    pub concurrency: usize,
    /// Longest pause between retries of a transiently failing handler.
    pub max_retry_delay: Duration,
    /// Consume over a [`direct::Link`] (plain `amqp://` only; lapin otherwise).
    pub direct: bool,
}

impl ConsumerOptions {
    /// One message at a time from `queue`.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            prefetch: 1,
            concurrency: 1,
            max_retry_delay: Duration::from_secs(30),
            direct: false,
        }
    }

    /// Deliveries arrive over a [`direct::Link`] driven on this runtime instead of lapin's I/O
    /// thread (when the URI is plain `amqp://`): fewer context switches per message, for
    /// consumers whose messages are many and cheap (the pinger's jobs).
    pub fn direct(mut self) -> Self {
        self.direct = true;
        self
    }

    /// `n` messages at once, prefetch `n`.
    pub fn concurrency(mut self, n: usize) -> Self {
        let n = n.max(1);
        self.concurrency = n;
        self.prefetch = u16::try_from(n).unwrap_or(u16::MAX);
        self
    }
}

/// Consumes `options.queue` until `shutdown`, calling `handler` for each message.
///
/// Ok → ack. Permanent error, undecodable body or a panic → reject to the dead-letter
/// queue. Transient error → retried with backoff while the delivery is held (on shutdown it
/// is requeued). A lost connection is re-established and consumption resumes. On shutdown
/// it stops taking deliveries, lets the handlers in hand finish, and returns.
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
    let tracker = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let queue = Arc::new(QueueHandling::new(&options));
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    while !shutdown.is_cancelled() {
        let mut subscription = match Subscription::open(broker, &options).await {
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
        loop {
            // What is ready at once is taken without the select!: waiting on the shutdown
            // token registers a waiter under a lock, twice per delivery otherwise.
            if shutdown.is_cancelled() {
                break;
            }
            let permit = match permits.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => tokio::select! {
                    _ = shutdown.cancelled() => break,
                    p = permits.clone().acquire_owned() => p.expect("semaphore is never closed"),
                },
            };
            match &mut subscription {
                Subscription::Lapin { consumer, .. } => {
                    let next = tokio::select! {
                        _ = shutdown.cancelled() => break,
                        n = consumer.next() => n,
                    };
                    match next {
                        Some(Ok(d)) => spawn_handler(&tracker, d, permit, &queue, &handler, &shutdown),
                        Some(Err(e)) => {
                            warn!(error = %e, queue = %options.queue, "consumer lost its channel; resubscribing");
                            break;
                        }
                        None => {
                            warn!(queue = %options.queue, "consumer was cancelled; resubscribing");
                            break;
                        }
                    }
                }
                Subscription::Direct { deliveries, .. } => {
                    let next = match deliveries.try_recv() {
                        Ok(d) => Some(d),
                        Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
                        Err(tokio::sync::mpsc::error::TryRecvError::Empty) => tokio::select! {
                            _ = shutdown.cancelled() => break,
                            n = deliveries.recv() => n,
                        },
                    };
                    match next {
                        Some(d) => spawn_handler(&tracker, d, permit, &queue, &handler, &shutdown),
                        None => {
                            warn!(queue = %options.queue, "consumer lost its connection; resubscribing");
                            break;
                        }
                    }
                }
            }
        }
        if shutdown.is_cancelled() {
            subscription.close(&tracker).await;
            return Ok(());
        }
    }
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// Hands `delivery` to a handler task holding `permit`.
fn spawn_handler<T, H, Fut, D>(
    tracker: &TaskTracker,
    delivery: D,
    permit: tokio::sync::OwnedSemaphorePermit,
    queue: &Arc<QueueHandling>,
    handler: &H,
    shutdown: &CancellationToken,
) where
    T: Message,
    H: Fn(Envelope<T>, DeliveryInfo) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    D: Inbound,
{
    let handler = handler.clone();
    let queue = queue.clone();
    let shutdown = shutdown.clone();
    tracker.spawn(async move {
        handle_delivery::<T, H, Fut, D>(delivery, &queue, &handler, &shutdown).await;
        drop(permit);
    });
}

/// What every delivery of one consumer shares: its queue, retry limit and metric handles
/// (registered once, not looked up per message).
struct QueueHandling {
    queue: String,
    max_retry_delay: Duration,
    acked: metrics::Counter,
    dead_lettered: metrics::Counter,
    requeued: metrics::Counter,
    retries: metrics::Counter,
}

impl QueueHandling {
    fn new(options: &ConsumerOptions) -> Self {
        let queue = options.queue.clone();
        Self {
            acked: consumed_counter(&queue, Settle::Ack),
            dead_lettered: consumed_counter(&queue, Settle::Reject),
            requeued: consumed_counter(&queue, Settle::Requeue),
            retries: metrics::counter!("pingtower_amqp_handler_retries_total", "queue" => queue.clone()),
            max_retry_delay: options.max_retry_delay,
            queue,
        }
    }

    fn counter(&self, how: Settle) -> &metrics::Counter {
        match how {
            Settle::Ack => &self.acked,
            Settle::Reject => &self.dead_lettered,
            Settle::Requeue => &self.requeued,
        }
    }
}

fn consumed_counter(queue: &str, how: Settle) -> metrics::Counter {
    let label = match how {
        Settle::Ack => "ack",
        Settle::Reject => "dead_letter",
        Settle::Requeue => "requeue",
    };
    metrics::counter!("pingtower_amqp_consumed_total", "queue" => queue.to_owned(), "result" => label)
}

/// A consumer's subscription: a lapin channel, or a [`direct::Link`].
enum Subscription {
    Lapin {
        channel: Channel,
        consumer: lapin::Consumer,
        tag: String,
    },
    Direct {
        // Held: the link closes once it and every delivery handed out are dropped.
        _link: direct::Link,
        deliveries: tokio::sync::mpsc::UnboundedReceiver<direct::Delivery>,
    },
}

impl Subscription {
    async fn open(broker: &Broker, options: &ConsumerOptions) -> Result<Self, AmqpError> {
        if !(options.direct && direct::supports(broker.inner.uri.expose_secret())) {
            let (channel, consumer, tag) = subscribe(broker, options).await?;
            return Ok(Subscription::Lapin { channel, consumer, tag });
        }
        // lapin declares the topology (on its first connection), the link consumes.
        broker.connection().await?;
        let role = direct::Role::Consume {
            queue: options.queue.clone(),
            prefetch: options.prefetch,
            tag: consumer_tag(&options.queue),
        };
        let name = format!("{} (direct)", broker.inner.name);
        match direct::Link::open(broker.inner.uri.expose_secret(), &name, role).await? {
            (link, Some(deliveries)) => {
                debug!(queue = %options.queue, "subscribed (direct)");
                Ok(Subscription::Direct {
                    _link: link,
                    deliveries,
                })
            }
            (_, None) => unreachable!("a consuming link has deliveries"),
        }
    }

    /// On shutdown: stops the deliveries, lets the handlers in hand finish, closes.
    async fn close(self, tracker: &TaskTracker) {
        match self {
            Subscription::Lapin { channel, tag, .. } => {
                let _ = channel.basic_cancel(tag.into(), BasicCancelOptions::default()).await;
                tracker.close();
                tracker.wait().await;
                let _ = channel.close(200, "shutdown".into()).await;
            }
            // Deliveries not yet handed to a handler go back to the queue when the link
            // closes, which it does once the handlers in hand have settled theirs.
            Subscription::Direct { .. } => {
                tracker.close();
                tracker.wait().await;
            }
        }
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
    channel.basic_qos(options.prefetch, BasicQosOptions::default()).await?;
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

/// A consumed message, from lapin or from a [`direct::Link`].
trait Inbound: Send + Sync + 'static {
    fn body(&self) -> &[u8];
    fn properties(&self) -> &BasicProperties;
    fn info(&self) -> DeliveryInfo;
    /// Acks, dead-letters or requeues it; an error means the channel is gone.
    fn settle(&self, how: Settle) -> impl Future<Output = Result<(), String>> + Send;
}

impl Inbound for lapin::message::Delivery {
    fn body(&self) -> &[u8] {
        &self.data
    }
    fn properties(&self) -> &BasicProperties {
        &self.properties
    }
    fn info(&self) -> DeliveryInfo {
        DeliveryInfo {
            redelivered: self.redelivered,
            routing_key: self.routing_key.to_string(),
            reply_to: reply_to_of(&self.properties),
            link: None,
        }
    }
    async fn settle(&self, how: Settle) -> Result<(), String> {
        let result = match how {
            Settle::Ack => self.acker.ack(BasicAckOptions::default()).await,
            Settle::Reject => self.acker.reject(BasicRejectOptions { requeue: false }).await,
            Settle::Requeue => {
                self.acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        multiple: false,
                    })
                    .await
            }
        };
        result.map(drop).map_err(|e| e.to_string())
    }
}

impl Inbound for direct::Delivery {
    fn body(&self) -> &[u8] {
        &self.body
    }
    fn properties(&self) -> &BasicProperties {
        &self.properties
    }
    fn info(&self) -> DeliveryInfo {
        DeliveryInfo {
            redelivered: self.redelivered,
            routing_key: self.routing_key.clone(),
            reply_to: reply_to_of(&self.properties),
            link: Some(self.link().clone()),
        }
    }
    async fn settle(&self, how: Settle) -> Result<(), String> {
        let how = match how {
            Settle::Ack => direct::Settlement::Ack,
            Settle::Reject => direct::Settlement::Reject,
            Settle::Requeue => direct::Settlement::Requeue,
        };
        direct::Delivery::settle(self, how).map_err(|e| e.to_string())
    }
}

fn reply_to_of(properties: &BasicProperties) -> Option<String> {
    properties.reply_to().as_ref().map(ShortString::to_string)
}

fn decode<T: Message>(delivery: &impl Inbound) -> Result<Envelope<T>, serde_json::Error> {
    serde_json::from_slice::<Envelope<T>>(delivery.body())
}

fn correlation_of(delivery: &impl Inbound) -> String {
    delivery
        .properties()
        .correlation_id()
        .as_ref()
        .map(ShortString::to_string)
        .unwrap_or_default()
}

async fn handle_delivery<T, H, Fut, D>(delivery: D, handling: &QueueHandling, handler: &H, shutdown: &CancellationToken)
where
    T: Message,
    H: Fn(Envelope<T>, DeliveryInfo) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
    D: Inbound,
{
    let queue = handling.queue.as_str();
    let settle = |how| settle(&delivery, handling.counter(how), how);
    let span = info_span!("message", queue, kind = T::KIND, correlation_id = %correlation_of(&delivery));
    async {
        let mut backoff = Backoff::new(Duration::from_millis(200), handling.max_retry_delay);
        loop {
            // Decoded for every attempt: a retry (rare) decodes again rather than every
            // delivery paying for a copy kept against one.
            let envelope = match decode::<T>(&delivery) {
                Ok(e) => e,
                Err(error) => {
                    warn!(%error, bytes = delivery.body().len(), "undecodable message; dead-lettering it");
                    return settle(Settle::Reject).await;
                }
            };
            let message_id = envelope.message_id;
            let outcome = AssertUnwindSafe(handler(envelope, delivery.info()))
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(())) => return settle(Settle::Ack).await,
                Ok(Err(HandlerError::Permanent(error))) => {
                    warn!(error = format!("{error:#}"), %message_id, "message cannot be handled; dead-lettering it");
                    return settle(Settle::Reject).await;
                }
                Err(_) => {
                    warn!(%message_id, "handler panicked; dead-lettering the message");
                    return settle(Settle::Reject).await;
                }
                Ok(Err(HandlerError::Transient(error))) if delivery.info().link.is_some_and(|l| !l.is_alive()) => {
                    // Its connection is gone, and with it the delivery: the broker hands the
                    // message out again.
                    debug!(
                        error = format!("{error:#}"),
                        "handler failed and the link is gone; the message will be redelivered"
                    );
                    return;
                }
                Ok(Err(HandlerError::Transient(error))) => {
                    let delay = backoff.next_delay();
                    warn!(
                        error = format!("{error:#}"),
                        retry_in_ms = delay.as_millis() as u64,
                        "handler failed; retrying"
                    );
                    handling.retries.increment(1);
                    tokio::select! {
                        _ = shutdown.cancelled() => return settle(Settle::Requeue).await,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}

#[derive(Clone, Copy)]
enum Settle {
    Ack,
    Reject,
    Requeue,
}

async fn settle(delivery: &impl Inbound, counted: &metrics::Counter, how: Settle) {
    let result = delivery.settle(how).await;
    counted.increment(1);
    if let Err(error) = result {
        // The channel is gone; the broker will redeliver the message to the next consumer.
        debug!(%error, "could not settle a delivery; it will be redelivered");
    }
}

/// Options of a batch consumer.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Queue to consume.
    pub queue: String,
    /// Largest batch handed to the handler.
    pub max_batch: usize,
    /// Longest wait, from a batch's first message, before the batch is handled anyway.
    pub max_wait: Duration,
    /// Longest pause between retries of a transiently failing batch.
    pub max_retry_delay: Duration,
}

/// Consumes `options.queue` in batches: the handler gets up to `max_batch` messages and the
/// whole batch is acked with one multiple-ack only after it succeeded.
///
/// Transient errors retry the same batch with backoff (the broker keeps the rest); a
/// permanent error makes each message of the batch be handled alone, so that only the poison
/// ones go to the dead-letter queue. Prefetch is twice the batch size so the next batch
/// arrives while one is written.
pub async fn consume_batches<T, H, Fut>(
    broker: &Broker,
    options: BatchOptions,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), AmqpError>
where
    T: Message,
    H: Fn(Vec<Envelope<T>>) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let prefetch = u16::try_from(options.max_batch.saturating_mul(2)).unwrap_or(u16::MAX);
    let sub_options = ConsumerOptions {
        queue: options.queue.clone(),
        prefetch,
        concurrency: 1,
        max_retry_delay: options.max_retry_delay,
        direct: false,
    };
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    'connection: while !shutdown.is_cancelled() {
        let (channel, mut consumer, tag) = match subscribe(broker, &sub_options).await {
            Ok(sub) => sub,
            Err(AmqpError::ShuttingDown) => break,
            Err(AmqpError::Topology(e)) => return Err(AmqpError::Topology(e)),
            Err(e) => {
                let delay = backoff.next_delay();
                warn!(error = %e, queue = %options.queue, "could not subscribe");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => continue,
                }
            }
        };
        backoff.reset();
        loop {
            // Collect a batch.
            let mut batch: Vec<(Envelope<T>, lapin::message::Delivery)> = Vec::new();
            let mut deadline: Option<tokio::time::Instant> = None;
            let mut lost = false;
            while batch.len() < options.max_batch {
                let wait = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let next = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = wait => break,
                    n = consumer.next() => n,
                };
                match next {
                    Some(Ok(delivery)) => match decode::<T>(&delivery) {
                        Ok(env) => {
                            deadline.get_or_insert_with(|| tokio::time::Instant::now() + options.max_wait);
                            batch.push((env, delivery));
                        }
                        Err(error) => {
                            warn!(%error, queue = %options.queue, "undecodable message; dead-lettering it");
                            settle(
                                &delivery,
                                &consumed_counter(&options.queue, Settle::Reject),
                                Settle::Reject,
                            )
                            .await;
                        }
                    },
                    _ => {
                        lost = true;
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                handle_batch(&batch, &options, &handler, &shutdown).await;
            }
            if lost {
                warn!(queue = %options.queue, "batch consumer lost its channel; resubscribing");
                continue 'connection;
            }
            if shutdown.is_cancelled() {
                let _ = channel
                    .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
                    .await;
                let _ = channel.close(200, "shutdown".into()).await;
                break 'connection;
            }
        }
    }
    Ok(())
}

async fn handle_batch<T, H, Fut>(
    batch: &[(Envelope<T>, lapin::message::Delivery)],
    options: &BatchOptions,
    handler: &H,
    shutdown: &CancellationToken,
) where
    T: Message,
    H: Fn(Vec<Envelope<T>>) -> Fut,
    Fut: Future<Output = Result<(), HandlerError>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(200), options.max_retry_delay);
    let last = &batch.last().expect("batch is not empty").1;
    loop {
        let envelopes: Vec<Envelope<T>> = batch.iter().map(|(e, _)| e.clone()).collect();
        match AssertUnwindSafe(handler(envelopes)).catch_unwind().await {
            Ok(Ok(())) => {
                let r = last.acker.ack(BasicAckOptions { multiple: true }).await;
                metrics::counter!("pingtower_amqp_consumed_total", "queue" => options.queue.clone(), "result" => "ack")
                    .increment(batch.len() as u64);
                if let Err(error) = r {
                    debug!(%error, "could not ack a batch; it will be redelivered");
                }
                return;
            }
            Ok(Err(HandlerError::Transient(error))) => {
                let delay = backoff.next_delay();
                warn!(
                    error = format!("{error:#}"),
                    size = batch.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    "batch failed; retrying"
                );
                metrics::counter!("pingtower_amqp_handler_retries_total", "queue" => options.queue.clone())
                    .increment(1);
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        let _ = last.acker.nack(BasicNackOptions { multiple: true, requeue: true }).await;
                        return;
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Ok(Err(HandlerError::Permanent(_))) | Err(_) => {
                warn!(
                    size = batch.len(),
                    "batch failed permanently; handling its messages one by one"
                );
                for (env, delivery) in batch {
                    let single = AssertUnwindSafe(handler(vec![env.clone()])).catch_unwind().await;
                    let how = match single {
                        Ok(Ok(())) => Settle::Ack,
                        Ok(Err(HandlerError::Transient(_))) => Settle::Requeue,
                        _ => {
                            warn!(message_id = %env.message_id, "message cannot be handled; dead-lettering it");
                            Settle::Reject
                        }
                    };
                    settle(delivery, &consumed_counter(&options.queue, how), how).await;
                }
                return;
            }
        }
    }
}

/// Request/reply: publishes `request` with a private, exclusive reply queue and waits up to
/// `timeout` for the first answer of type `R` on it (used by "Test now": the backend sends a
/// CheckJob and a pinger answers with its CheckResult through [`Publisher::reply`]).
pub async fn request<T: Message, R: Message>(
    publisher: &Publisher,
    request: &Envelope<T>,
    timeout: Duration,
) -> Result<Envelope<R>, RequestError> {
    let conn = publisher.broker.try_connection().await?;
    let channel = conn.create_channel().await?;
    // Exclusive, server-named, auto-deleted with the channel: classic by necessity.
    let queue = channel
        .queue_declare(
            "".into(),
            lapin::options::QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let reply_queue = queue.name().to_string();
    let mut consumer = channel
        .basic_consume(
            reply_queue.as_str().into(),
            "reply".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    publisher.publish_request(request, &reply_queue).await?;
    let answer = tokio::time::timeout(timeout, consumer.next()).await;
    let _ = channel.close(200, "reply received".into()).await;
    match answer {
        Ok(Some(Ok(delivery))) => Ok(serde_json::from_slice(&delivery.data)?),
        Ok(_) => Err(RequestError::Amqp(lapin::Error::from(std::io::Error::other(
            "reply channel closed",
        )))),
        Err(_) => Err(RequestError::Timeout(timeout)),
    }
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Nobody answered in time.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The request could not be published.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The answer could not be decoded.
    #[error("the reply could not be decoded: {0}")]
    Decode(#[from] serde_json::Error),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] AmqpError),
    /// AMQP failed.
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
}

// ---------------------------------------------------------------------------------------------
// Management API
// ---------------------------------------------------------------------------------------------

/// A small client of RabbitMQ's management HTTP API (vhosts for tests, binding checks).
#[derive(Clone)]
pub struct Management {
    base: url::Url,
    user: String,
    password: SecretString,
    vhost: String,
    http: reqwest::Client,
}

impl Management {
    /// A client for `base` (e.g. `http://127.0.0.1:15672`) acting on `vhost`.
    pub fn new(base: url::Url, user: impl Into<String>, password: SecretString, vhost: impl Into<String>) -> Self {
        Self {
            base,
            user: user.into(),
            password,
            vhost: vhost.into(),
            http: reqwest::Client::new(),
        }
    }

    /// The management client matching an AMQP URI (same credentials and vhost, port 15672).
    pub fn for_amqp_uri(amqp: &SecretString, base: url::Url) -> Result<Self, url::ParseError> {
        let uri = url::Url::parse(amqp.expose_secret())?;
        let user = if uri.username().is_empty() {
            "guest".to_owned()
        } else {
            percent_decode(uri.username())
        };
        let password = uri.password().map(percent_decode).unwrap_or_else(|| "guest".to_owned());
        Ok(Self::new(base, user, password.into(), vhost_of(&uri)))
    }

    fn url(&self, path: &str) -> url::Url {
        let mut u = self.base.clone();
        u.set_path(path);
        u
    }

    fn enc(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        req.basic_auth(&self.user, Some(self.password.expose_secret()))
            .send()
            .await?
            .error_for_status()
    }

    /// Whether `exchange` routes `key` to `queue`.
    pub async fn has_binding(&self, exchange: &str, queue: &str, key: &str) -> Result<bool, reqwest::Error> {
        let path = format!(
            "/api/bindings/{}/e/{}/q/{}",
            Self::enc(&self.vhost),
            Self::enc(exchange),
            Self::enc(queue)
        );
        let rows: Vec<serde_json::Value> = self.send(self.http.get(self.url(&path))).await?.json().await?;
        Ok(rows
            .iter()
            .any(|r| r.get("routing_key").and_then(|k| k.as_str()) == Some(key)))
    }

    /// Creates the vhost and gives this client's user full permissions on it.
    pub async fn create_vhost(&self) -> Result<(), reqwest::Error> {
        let v = Self::enc(&self.vhost);
        self.send(
            self.http
                .put(self.url(&format!("/api/vhosts/{v}")))
                .json(&serde_json::json!({})),
        )
        .await?;
        self.send(
            self.http
                .put(self.url(&format!("/api/permissions/{v}/{}", Self::enc(&self.user))))
                .json(&serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await?;
        Ok(())
    }

    /// Deletes the vhost and everything in it.
    pub async fn delete_vhost(&self) -> Result<(), reqwest::Error> {
        self.send(
            self.http
                .delete(self.url(&format!("/api/vhosts/{}", Self::enc(&self.vhost)))),
        )
        .await
        .map(|_| ())
    }

    /// Messages ready in a queue of this vhost.
    pub async fn queue_depth(&self, queue: &str) -> Result<u64, reqwest::Error> {
        let path = format!("/api/queues/{}/{}", Self::enc(&self.vhost), Self::enc(queue));
        let v: serde_json::Value = self.send(self.http.get(self.url(&path))).await?.json().await?;
        Ok(v.get("messages").and_then(|m| m.as_u64()).unwrap_or(0))
    }

    /// Closes every client connection to this vhost (a broker-side fault for tests).
    pub async fn close_vhost_connections(&self) -> Result<usize, reqwest::Error> {
        let path = format!("/api/vhosts/{}/connections", Self::enc(&self.vhost));
        let conns: Vec<serde_json::Value> = self.send(self.http.get(self.url(&path))).await?.json().await?;
        let mut closed = 0;
        for c in conns {
            if let Some(name) = c.get("name").and_then(|n| n.as_str()) {
                let path = format!("/api/connections/{}", Self::enc(name));
                if self.send(self.http.delete(self.url(&path))).await.is_ok() {
                    closed += 1;
                }
            }
        }
        Ok(closed)
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The AMQP heartbeat (seconds) asked for when the URI names none. RabbitMQ closes a
/// connection after two missed heartbeats, so a consumer whose host vanished loses its
/// messages — and a single active consumer its place to a standby — within about 30 s
/// (the broker's default of 60 s would take two minutes or more).
pub const DEFAULT_HEARTBEAT_SECS: u16 = 15;

/// `uri` with `heartbeat=`[`DEFAULT_HEARTBEAT_SECS`] unless its query names a heartbeat.
pub fn with_default_heartbeat(uri: &str) -> String {
    let named = uri
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p.split('=').next() == Some("heartbeat")));
    if named {
        uri.to_owned()
    } else if uri.contains('?') {
        format!("{uri}&heartbeat={DEFAULT_HEARTBEAT_SECS}")
    } else {
        format!("{uri}?heartbeat={DEFAULT_HEARTBEAT_SECS}")
    }
}

/// The vhost named by an AMQP URI (`/` when the path is empty).
pub fn vhost_of(uri: &url::Url) -> String {
    let path = uri.path().trim_start_matches('/');
    if path.is_empty() {
        "/".to_owned()
    } else {
        percent_decode(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_asked_for_unless_the_uri_names_one() {
        assert_eq!(
            with_default_heartbeat("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=15"
        );
        assert_eq!(
            with_default_heartbeat("amqp://h/v?frame_max=8192"),
            "amqp://h/v?frame_max=8192&heartbeat=15"
        );
        assert_eq!(
            with_default_heartbeat("amqp://h/v?heartbeat=5"),
            "amqp://h/v?heartbeat=5"
        );
        assert_eq!(
            with_default_heartbeat("amqp://h/v?channel_max=9&heartbeat=0"),
            "amqp://h/v?channel_max=9&heartbeat=0"
        );
    }

    #[test]
    fn vhost_is_read_from_the_uri_path() {
        let u = url::Url::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(vhost_of(&u), "/");
        let u = url::Url::parse("amqp://guest:guest@127.0.0.1:5672/test-1").unwrap();
        assert_eq!(vhost_of(&u), "test-1");
        let u = url::Url::parse("amqp://guest:guest@127.0.0.1:5672").unwrap();
        assert_eq!(vhost_of(&u), "/");
    }
}
