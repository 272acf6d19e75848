//! The typed publisher: persistent, `mandatory`, with publisher confirms, on the broker's
//! publishing connection (see the crate docs for why it has its own).
//!
//! - A publication returns once the broker confirmed it. A message the broker returns
//!   (`mandatory`: no queue is bound) is an error, [`PublishError::Unroutable`], whatever its
//!   properties: lapin pairs a `basic.return` with the next confirm it resolves (the broker
//!   sends the return first), not with a message id. When the broker confirms several
//!   publications at once (`multiple`), lapin 4.12 may hand the return to another publication
//!   of that confirm (it walks them in hash order): the number of errors is right, the caller
//!   may not be. Publications here go to exchanges whose routing keys are all bound (the
//!   topology declares them), so a return means a broken topology, not a lost message.
//! - While the broker blocks the connection (`connection.blocked`, a memory or disk alarm),
//!   publishers wait for `connection.unblocked`; past their timeout they fail with
//!   [`PublishError::Unavailable`], which is transient: the caller keeps its input (a
//!   consumer holds its delivery, the scheduler retries) and nothing is lost.
//! - A message whose connection breaks before its confirm arrives is sent again on the next
//!   connection, so it may arrive twice (consumers are idempotent) but is never lost.

use std::sync::Arc;
use std::time::Duration;

use common::backoff::Backoff;
use common::messages::{BATCH_LIMIT, BATCH_SIZE_HEADER, Envelope, Message};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::debug;

use crate::consume::DeliveryInfo;
use crate::supervisor::{AmqpError, Blocked, Broker, Role};

/// Why a publish failed. The message is not known to be in the broker in any of these cases.
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
    /// The broker could not be reached, blocked publishing, or did not confirm within the
    /// publish timeout. Transient: publishing again later is right.
    #[error("broker unavailable for {0:?}: {1}")]
    Unavailable(Duration, String),
    /// The message could not be serialised.
    #[error("could not serialise the message: {0}")]
    Encode(#[from] serde_json::Error),
    /// A batch that cannot be one batch message (empty, too long, or mixed routing keys).
    #[error("not a batch message: {0}")]
    Batch(&'static str),
}

impl PublishError {
    /// Whether publishing again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PublishError::Unavailable(..) | PublishError::Nacked { .. })
    }
}

/// Publishes typed messages: persistent, `mandatory`, with publisher confirms.
#[derive(Clone)]
pub struct Publisher {
    broker: Broker,
    channel: Arc<Mutex<Option<(Channel, Blocked)>>>,
    timeout: Duration,
}

/// What one attempt came to.
enum Attempt {
    Answer(Result<(), PublishError>),
    /// The connection or channel failed: publish again on a new one.
    Retry(String),
    /// The deadline passed (blocked, or no confirm).
    TimedOut(String),
}

impl Publisher {
    /// A publisher over `broker`'s publishing connection. `timeout` bounds how long one
    /// publish waits for an unreachable or blocking broker, confirm included.
    pub fn new(broker: Broker, timeout: Duration) -> Self {
        Self {
            broker,
            channel: Arc::new(Mutex::new(None)),
            timeout,
        }
    }

    /// This publisher with another timeout, sharing its channel.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// The broker this publisher uses.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The publish timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Publishes one message and waits for the broker's confirm.
    pub async fn publish<T: Message>(&self, envelope: &Envelope<T>) -> Result<(), PublishError> {
        self.publish_to_exchange(envelope, None).await
    }

    /// Publishes one message to its exchange (with a reply queue for requests).
    async fn publish_to_exchange<T: Message>(
        &self,
        envelope: &Envelope<T>,
        reply_to: Option<&str>,
    ) -> Result<(), PublishError> {
        let (body, properties) = encode(envelope, reply_to)?;
        self.publish_raw_counted(
            (T::KIND, 1),
            T::EXCHANGE,
            &envelope.payload.routing_key(),
            &body,
            properties,
        )
        .await
    }

    /// Publishes `envelopes` (1 to [`BATCH_LIMIT`], one routing key) as one batch message (see
    /// [`common::messages`]) and waits for the broker's one confirm, which covers them all. A
    /// single envelope goes out as a plain message.
    pub async fn publish_batch<T: Message>(&self, envelopes: &[Envelope<T>]) -> Result<(), PublishError> {
        let [first, rest @ ..] = envelopes else {
            return Err(PublishError::Batch("a batch holds at least one message"));
        };
        if rest.is_empty() {
            return self.publish(first).await;
        }
        if envelopes.len() > BATCH_LIMIT {
            return Err(PublishError::Batch("a batch holds too many messages"));
        }
        let routing_key = first.payload.routing_key();
        if rest.iter().any(|e| e.payload.routing_key() != routing_key) {
            return Err(PublishError::Batch("a batch's messages share one routing key"));
        }
        let mut body = Vec::with_capacity(1024 * envelopes.len());
        serde_json::to_writer(&mut body, envelopes)?;
        let mut headers = FieldTable::default();
        headers.insert(BATCH_SIZE_HEADER.into(), AMQPValue::LongUInt(envelopes.len() as u32));
        let properties = properties::<T>(uuid::Uuid::now_v7(), first).with_headers(headers);
        self.publish_raw_counted(
            (T::KIND, envelopes.len() as u64),
            T::EXCHANGE,
            &routing_key,
            &body,
            properties,
        )
        .await
    }

    /// Answers a request: publishes `envelope` straight to the requester's reply queue
    /// (through the default exchange), confirmed like any other publication.
    pub async fn reply<T: Message>(&self, reply_to: &str, envelope: &Envelope<T>) -> Result<(), PublishError> {
        let (body, properties) = encode(envelope, None)?;
        self.publish_raw_counted((T::KIND, 1), "", reply_to, &body, properties)
            .await
    }

    /// Answers a consumed message: to its reply queue when it names one, else published as
    /// usual.
    pub async fn answer<T: Message>(&self, info: &DeliveryInfo, envelope: &Envelope<T>) -> Result<(), PublishError> {
        match &info.reply_to {
            Some(queue) => self.reply(queue, envelope).await,
            None => self.publish(envelope).await,
        }
    }

    /// Publishes a request whose answer goes to `reply_to` (see [`crate::request()`]).
    pub async fn publish_request<T: Message>(
        &self,
        envelope: &Envelope<T>,
        reply_to: &str,
    ) -> Result<(), PublishError> {
        self.publish_to_exchange(envelope, Some(reply_to)).await
    }

    /// Publishes raw bytes with the given properties (`mandatory`, confirmed), for messages
    /// that are not typed contracts: poison messages in tests, foreign publishers' shapes.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        self.publish_raw_counted(("raw", 1), exchange, routing_key, body, properties)
            .await
    }

    /// Publishes with retries; counts `messages` publications (or failures) of `kind`.
    async fn publish_raw_counted(
        &self,
        (kind, messages): (&'static str, u64),
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let deadline = Instant::now() + self.timeout;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let result = loop {
            match self.attempt(exchange, routing_key, body, &properties, deadline).await {
                Attempt::Answer(answer) => break answer,
                Attempt::TimedOut(why) => break Err(PublishError::Unavailable(self.timeout, why)),
                Attempt::Retry(error) => {
                    *self.channel.lock().await = None;
                    let delay = backoff.next_delay();
                    if Instant::now() + delay >= deadline || self.broker.inner.shutdown.is_cancelled() {
                        break Err(PublishError::Unavailable(self.timeout, error));
                    }
                    debug!(%error, retry_in_ms = delay.as_millis() as u64, "publish failed; resending");
                    tokio::time::sleep(delay).await;
                }
            }
        };
        let reason = match &result {
            Ok(()) => {
                metrics::counter!(crate::telemetry::PUBLISHED, "kind" => kind).increment(messages);
                return result;
            }
            Err(PublishError::Unroutable { .. }) => "unroutable",
            Err(PublishError::Nacked { .. }) => "nacked",
            Err(_) => "unavailable",
        };
        metrics::counter!(crate::telemetry::PUBLISH_FAILURES, "kind" => kind, "reason" => reason).increment(messages);
        result
    }

    /// One publication on the current channel, waiting (up to `deadline`) while the
    /// connection is blocked and for the confirm.
    async fn attempt(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: &BasicProperties,
        deadline: Instant,
    ) -> Attempt {
        let (channel, mut blocked) = match tokio::time::timeout_at(deadline, self.confirm_channel()).await {
            Ok(Ok(ch)) => ch,
            Ok(Err(e)) => return Attempt::Retry(e.to_string()),
            Err(_) => return Attempt::TimedOut("could not open a channel in time".to_owned()),
        };
        // A blocked lapin connection writes nothing: wait for the broker to lift its alarm
        // rather than queue a publication that cannot be confirmed.
        if blocked.borrow().is_some() {
            let unblocked = tokio::time::timeout_at(deadline, blocked.wait_for(Option::is_none))
                .await
                .map(|r| r.map(drop));
            match unblocked {
                Ok(Ok(())) => {}
                // The connection's event stream ended: the connection is gone.
                Ok(Err(_)) => return Attempt::Retry("the connection closed while blocked".to_owned()),
                Err(_) => {
                    let reason = blocked.borrow().clone().unwrap_or_default();
                    return Attempt::TimedOut(format!("the broker blocks publishing ({reason})"));
                }
            }
        }
        let published = channel
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
            .await;
        let confirm = match published {
            Ok(confirm) => confirm,
            Err(e) => return Attempt::Retry(e.to_string()),
        };
        let confirmation = match tokio::time::timeout_at(deadline, confirm).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Attempt::Retry(e.to_string()),
            Err(_) => {
                let why = match blocked.borrow().clone() {
                    Some(reason) => format!("the broker blocks publishing ({reason})"),
                    None => "the broker did not confirm the publication".to_owned(),
                };
                return Attempt::TimedOut(why);
            }
        };
        Attempt::Answer(match confirmation {
            Confirmation::Ack(None) => Ok(()),
            // Returned (mandatory, unroutable), then acked: matched by lapin to this very
            // publication, message id or not.
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(PublishError::Unroutable {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
                reply: returned.reply_text.to_string(),
            }),
            Confirmation::Nack(None) => Err(PublishError::Nacked {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
            }),
            // Our channels are always in confirm mode; one that is not is replaced.
            Confirmation::NotRequested => {
                *self.channel.lock().await = None;
                return Attempt::Retry("the channel was not in confirm mode".to_owned());
            }
        })
    }

    async fn confirm_channel(&self) -> Result<(Channel, Blocked), AmqpError> {
        let mut slot = self.channel.lock().await;
        if let Some((ch, blocked)) = slot.as_ref()
            && ch.status().connected()
        {
            return Ok((ch.clone(), blocked.clone()));
        }
        *slot = None;
        let live = self.broker.live(Role::Publish).await?;
        let ch = live.connection.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *slot = Some((ch.clone(), live.blocked.clone()));
        Ok((ch, live.blocked))
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
    let mut properties = properties::<T>(envelope.message_id, envelope);
    if let Some(queue) = reply_to {
        properties = properties.with_reply_to(queue.into());
    }
    Ok((body, properties))
}

/// A message's properties: JSON, persistent, typed, with `message_id` and the correlation id
/// and time of `envelope` (a batch message's first).
fn properties<T: Message>(message_id: uuid::Uuid, envelope: &Envelope<T>) -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(message_id.to_string().into())
        .with_correlation_id(envelope.correlation_id.to_string().into())
        .with_type(T::KIND.into())
        .with_timestamp(envelope.occurred_at.timestamp().max(0) as u64)
}
