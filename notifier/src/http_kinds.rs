//! Sending to the HTTP kinds of channel (webhook, Slack, Discord, PagerDuty…; see
//! `crates/channels`): the channel's secrets are opened, the kind renders the message, each
//! channel is paced and its service's `Retry-After` honoured, and the answer is sorted into
//! delivered, retry, give up, or channel gone.

use std::sync::Arc;
use std::time::Duration;

use channels::send::HttpSender;
use channels::{Disposition, Request, Secrets};
use common::sealed::SecretKey;
use uuid::Uuid;

use crate::pacer::Pacer;
use crate::store::Recipient;
use crate::telegram::SendError;
use crate::telemetry;

/// The longest a send waits for its channel's slot; a longer hold (a long `Retry-After`) is a
/// transient failure, and the consumer tries again later.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// How long a channel rests after a 429 without `Retry-After`.
const DEFAULT_HOLD: Duration = Duration::from_secs(5);

/// The HTTP kinds' sender. Cheap to clone.
#[derive(Clone)]
pub struct HttpKinds {
    sender: HttpSender,
    key: Option<SecretKey>,
    pacer: Arc<Pacer<Uuid>>,
}

impl HttpKinds {
    /// Sends with `sender`, opening secrets with `key`, at most one message per `interval`
    /// per channel.
    pub fn new(sender: HttpSender, key: Option<SecretKey>, interval: Duration) -> Self {
        Self {
            sender,
            key,
            pacer: Arc::new(Pacer::new(interval, 0)),
        }
    }

    /// The channel's secrets, opened.
    pub(crate) fn secrets(&self, r: &Recipient) -> Result<Secrets, SendError> {
        let Some(sealed) = r.sealed.as_deref() else {
            return Ok(Secrets::default());
        };
        let Some(key) = &self.key else {
            return Err(SendError::Permanent(
                "the channel has secrets and the notifier has no PINGTOWER_SECRET_KEY".into(),
            ));
        };
        key.open(sealed).map_err(|e| SendError::Permanent(format!("{e:#}")))
    }

    /// Sends a rendered request on `r`'s channel, paced; answers the service's id of the
    /// message (or "").
    pub(crate) async fn send_request(&self, r: &Recipient, request: &Request) -> Result<String, SendError> {
        if let Err(held) = self.pacer.wait_at_most(r.channel_id, MAX_WAIT).await {
            metrics::counter!(telemetry::RETRIED, "channel" => r.kind.as_str(), "reason" => "rate_limited")
                .increment(1);
            return Err(SendError::Transient(format!(
                "the channel rests for another {} s (its service asked to wait)",
                held.as_secs()
            )));
        }
        let disposition = match self.sender.send(request, r.may_private).await {
            Ok(response) => channels::classify(r.kind, &response),
            Err(failure) => failure,
        };
        match disposition {
            Disposition::Delivered { external_id } => Ok(external_id.unwrap_or_default()),
            Disposition::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(DEFAULT_HOLD);
                self.pacer.hold(r.channel_id, wait);
                metrics::counter!(telemetry::RETRIED, "channel" => r.kind.as_str(), "reason" => "rate_limited")
                    .increment(1);
                Err(SendError::Transient(format!(
                    "rate limited by the service; retrying after {:.1} s",
                    wait.as_secs_f64()
                )))
            }
            Disposition::Transient(e) => Err(SendError::Transient(e)),
            Disposition::Permanent(e) => Err(SendError::Permanent(e)),
            Disposition::Unreachable(e) => Err(SendError::Unreachable(e)),
        }
    }
}
