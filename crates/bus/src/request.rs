//! Request/reply: a request published with a private reply queue, answered through
//! [`Publisher::reply`] (or [`Publisher::answer`]) by whoever consumes it.
//!
//! The reply queue lives on the broker's consuming connection (it is exclusive to the
//! connection that declared it); the request goes out on the publishing connection like
//! every publication.

use std::time::Duration;

use common::messages::{Envelope, Message};
use futures::StreamExt;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;

use crate::publish::{PublishError, Publisher};
use crate::supervisor::AmqpError;

/// Request/reply: publishes `request` with a private, exclusive reply queue and waits up to
/// `timeout` for the first answer of type `R` on it (used by "Test now": the backend sends a
/// CheckJobs message of one job and a pinger answers with its CheckResult through
/// [`Publisher::reply`]).
pub async fn request<T: Message, R: Message>(
    publisher: &Publisher,
    request: &Envelope<T>,
    timeout: Duration,
) -> Result<Envelope<R>, RequestError> {
    let conn = publisher.broker().try_connection().await?;
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
