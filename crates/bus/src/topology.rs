//! The RabbitMQ topology: exchanges, quorum queues, bindings and the dead-letter path.
//!
//! [`Topology::declare`] is idempotent and is what `broker-init` runs and what every
//! connection supervisor re-runs after a reconnect; [`Topology::verify`] reports what is
//! missing or declared differently without changing anything that exists.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ExchangeKind};

use common::messages::{
    CHANNELS_EXCHANGE, CHANNELS_TEST_QUEUE, DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, INCIDENTS_EXCHANGE,
    INCIDENTS_LLM_QUEUE, INCIDENTS_NOTIFY_QUEUE, JOBS_EXCHANGE, REPORTS_EXCHANGE, REPORTS_NOTIFY_QUEUE,
    RESULTS_EXCHANGE, RESULTS_INCIDENTS_QUEUE, RESULTS_STORE_QUEUE, jobs_queue,
};

/// Deliveries of one message before it is dead-lettered. Transient failures are retried
/// in-process while the message is held, so redeliveries come only from crashes and
/// channel losses; five of those in a row mark a poison message.
pub const DEFAULT_DELIVERY_LIMIT: i64 = 5;

/// One exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeSpec {
    /// Name.
    pub name: &'static str,
    /// `topic` or `fanout`.
    pub kind: ExchangeKind,
}

/// One queue and the binding that feeds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Name.
    pub name: String,
    /// Exchange it is bound to.
    pub exchange: &'static str,
    /// Binding key.
    pub binding_key: String,
    /// `x-delivery-limit`; `None` for the dead-letter queue, which keeps everything.
    pub delivery_limit: Option<i64>,
    /// `x-single-active-consumer`.
    pub single_active_consumer: bool,
    /// Whether rejected messages go to [`DEAD_LETTER_EXCHANGE`].
    pub dead_letter: bool,
}

impl QueueSpec {
    fn work(name: impl Into<String>, exchange: &'static str, binding_key: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            exchange,
            binding_key: binding_key.into(),
            delivery_limit: Some(DEFAULT_DELIVERY_LIMIT),
            single_active_consumer: false,
            dead_letter: true,
        }
    }

    /// The queue's declare arguments.
    pub fn arguments(&self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        if let Some(limit) = self.delivery_limit {
            args.insert(ShortString::from("x-delivery-limit"), AMQPValue::LongLongInt(limit));
        }
        if self.dead_letter {
            args.insert(
                ShortString::from("x-dead-letter-exchange"),
                AMQPValue::LongString(LongString::from(DEAD_LETTER_EXCHANGE)),
            );
        }
        if self.single_active_consumer {
            args.insert(ShortString::from("x-single-active-consumer"), AMQPValue::Boolean(true));
        }
        args
    }
}

/// The whole topology for a set of pinger regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Exchanges, the dead-letter exchange included.
    pub exchanges: Vec<ExchangeSpec>,
    /// Queues with their bindings.
    pub queues: Vec<QueueSpec>,
}

/// Something [`Topology::verify`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyProblem {
    /// The exchange does not exist.
    #[error("exchange {0} is missing")]
    MissingExchange(String),
    /// The exchange exists with another type or flags.
    #[error("exchange {name} differs from the expected declaration: {detail}")]
    ExchangeDiffers {
        /// Exchange name.
        name: String,
        /// What the broker said.
        detail: String,
    },
    /// The queue does not exist.
    #[error("queue {0} is missing")]
    MissingQueue(String),
    /// The queue exists with other arguments.
    #[error("queue {name} exists with other arguments than expected: {detail}")]
    QueueDiffers {
        /// Queue name.
        name: String,
        /// What the broker said (it names the argument).
        detail: String,
    },
    /// A binding is missing (checked through the management API).
    #[error("binding {exchange} -> {queue} ({key}) is missing")]
    MissingBinding {
        /// Source exchange.
        exchange: String,
        /// Destination queue.
        queue: String,
        /// Binding key.
        key: String,
    },
}

/// Errors while declaring.
#[derive(Debug, thiserror::Error)]
pub enum DeclareError {
    /// A queue or exchange exists with another shape; redeclaring cannot fix it.
    #[error("{0}; delete it (after draining) or align the configuration, then run broker-init again")]
    Conflict(TopologyProblem),
    /// Talking to the broker failed.
    #[error("declaring the topology failed: {0}")]
    Amqp(#[from] lapin::Error),
}

impl Topology {
    /// The topology with one job queue per region (always including at least one).
    pub fn new<S: AsRef<str>>(regions: &[S]) -> Self {
        let exchanges = vec![
            ExchangeSpec {
                name: JOBS_EXCHANGE,
                kind: ExchangeKind::Direct,
            },
            ExchangeSpec {
                name: RESULTS_EXCHANGE,
                kind: ExchangeKind::Topic,
            },
            ExchangeSpec {
                name: INCIDENTS_EXCHANGE,
                kind: ExchangeKind::Topic,
            },
            ExchangeSpec {
                name: REPORTS_EXCHANGE,
                kind: ExchangeKind::Topic,
            },
            ExchangeSpec {
                name: CHANNELS_EXCHANGE,
                kind: ExchangeKind::Direct,
            },
            ExchangeSpec {
                name: DEAD_LETTER_EXCHANGE,
                kind: ExchangeKind::Fanout,
            },
        ];
        let mut queues: Vec<QueueSpec> = regions
            .iter()
            .map(|r| {
                let q = jobs_queue(r.as_ref());
                QueueSpec::work(q.clone(), JOBS_EXCHANGE, q)
            })
            .collect();
        queues.push(QueueSpec::work(RESULTS_STORE_QUEUE, RESULTS_EXCHANGE, "results.#"));
        queues.push(QueueSpec {
            single_active_consumer: true,
            ..QueueSpec::work(RESULTS_INCIDENTS_QUEUE, RESULTS_EXCHANGE, "results.#")
        });
        queues.push(QueueSpec::work(
            INCIDENTS_NOTIFY_QUEUE,
            INCIDENTS_EXCHANGE,
            "incidents.#",
        ));
        queues.push(QueueSpec::work(INCIDENTS_LLM_QUEUE, INCIDENTS_EXCHANGE, "incidents.#"));
        queues.push(QueueSpec::work(REPORTS_NOTIFY_QUEUE, REPORTS_EXCHANGE, "reports.#"));
        queues.push(QueueSpec::work(
            CHANNELS_TEST_QUEUE,
            CHANNELS_EXCHANGE,
            CHANNELS_TEST_QUEUE,
        ));
        queues.push(QueueSpec {
            name: DEAD_LETTER_QUEUE.to_owned(),
            exchange: DEAD_LETTER_EXCHANGE,
            binding_key: String::new(),
            delivery_limit: None,
            single_active_consumer: false,
            dead_letter: false,
        });
        Self { exchanges, queues }
    }

    /// Declares everything; safe to run any number of times.
    ///
    /// Each queue is declared on a channel of its own, so that a queue that exists with
    /// other arguments is reported by name (the broker closes the channel on a mismatch).
    pub async fn declare(&self, conn: &Connection) -> Result<(), DeclareError> {
        let channel = conn.create_channel().await?;
        for ex in &self.exchanges {
            if let Err(e) = declare_exchange(&channel, ex, false).await {
                return Err(classify(e, |detail| TopologyProblem::ExchangeDiffers {
                    name: ex.name.to_owned(),
                    detail,
                }));
            }
        }
        let _ = channel.close(200, "exchanges declared".into()).await;
        // Queues are checked like exchanges (passive, then comparing), through lapin's own call for each.
        for q in &self.queues {
            let channel = conn.create_channel().await?;
            if let Err(e) = declare_queue(&channel, q, false).await {
                return Err(classify(e, |detail| TopologyProblem::QueueDiffers {
                    name: q.name.clone(),
                    detail,
                }));
            }
            channel
                .queue_bind(
                    q.name.as_str().into(),
                    q.exchange.into(),
                    q.binding_key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let _ = channel.close(200, "queue declared".into()).await;
        }
        Ok(())
    }

    /// Checks, without creating anything, that every exchange and queue exists with the
    /// expected shape. Returns every problem found; an empty list means all is well.
    ///
    /// Existence is checked with passive declares; shape with an equivalent declare of an
    /// existing object, which the broker refuses (naming the argument) when it differs.
    /// Bindings are checked through the management API when `management` is given.
    pub async fn verify(
        &self,
        conn: &Connection,
        management: Option<&crate::management::Management>,
    ) -> Result<Vec<TopologyProblem>, lapin::Error> {
        let mut problems = Vec::new();
        for ex in &self.exchanges {
            let channel = conn.create_channel().await?;
            if declare_exchange(&channel, ex, true).await.is_err() {
                problems.push(TopologyProblem::MissingExchange(ex.name.to_owned()));
                continue;
            }
            if let Err(e) = declare_exchange(&channel, ex, false).await {
                problems.push(TopologyProblem::ExchangeDiffers {
                    name: ex.name.to_owned(),
                    detail: e.to_string(),
                });
                continue;
            }
            let _ = channel.close(200, "verified".into()).await;
        }
        for q in &self.queues {
            let channel = conn.create_channel().await?;
            if declare_queue(&channel, q, true).await.is_err() {
                problems.push(TopologyProblem::MissingQueue(q.name.clone()));
                continue;
            }
            let channel = conn.create_channel().await?;
            if let Err(e) = declare_queue(&channel, q, false).await {
                problems.push(TopologyProblem::QueueDiffers {
                    name: q.name.clone(),
                    detail: e.to_string(),
                });
                continue;
            }
            let _ = channel.close(200, "verified".into()).await;
        }
        if let Some(api) = management {
            for q in &self.queues {
                match api.has_binding(q.exchange, &q.name, &q.binding_key).await {
                    Ok(true) => {}
                    Ok(false) => problems.push(TopologyProblem::MissingBinding {
                        exchange: q.exchange.to_owned(),
                        queue: q.name.clone(),
                        key: q.binding_key.clone(),
                    }),
                    Err(e) => tracing::warn!(error = %e, "management API unavailable; bindings not verified"),
                }
            }
        }
        Ok(problems)
    }
}

fn classify(e: lapin::Error, conflict: impl FnOnce(String) -> TopologyProblem) -> DeclareError {
    let text = e.to_string();
    if text.contains("PRECONDITION_FAILED") || text.contains("inequivalent") {
        DeclareError::Conflict(conflict(text))
    } else {
        DeclareError::Amqp(e)
    }
}

async fn declare_exchange(channel: &Channel, ex: &ExchangeSpec, passive: bool) -> lapin::Result<()> {
    channel
        .exchange_declare(
            ex.name.into(),
            ex.kind.clone(),
            ExchangeDeclareOptions {
                durable: true,
                passive,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

async fn declare_queue(channel: &Channel, q: &QueueSpec, passive: bool) -> lapin::Result<()> {
    channel
        .queue_declare(
            q.name.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                passive,
                ..Default::default()
            },
            if passive { FieldTable::default() } else { q.arguments() },
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_work_queue_is_quorum_with_a_delivery_limit_and_dead_letters() {
        let t = Topology::new(&["default", "eu"]);
        for q in t.queues.iter().filter(|q| q.name != DEAD_LETTER_QUEUE) {
            let args = q.arguments();
            let inner = args.inner();
            assert!(
                inner.contains_key("x-delivery-limit"),
                "{} has no delivery limit",
                q.name
            );
            assert!(inner.contains_key("x-dead-letter-exchange"), "{} has no DLX", q.name);
            assert_eq!(
                inner.get("x-queue-type"),
                Some(&AMQPValue::LongString("quorum".into())),
                "{} is not quorum",
                q.name
            );
        }
        assert!(t.queues.iter().any(|q| q.name == "jobs.eu"));
        assert!(
            t.queues
                .iter()
                .any(|q| q.name == CHANNELS_TEST_QUEUE && q.exchange == CHANNELS_EXCHANGE)
        );
        let incidents = t.queues.iter().find(|q| q.name == RESULTS_INCIDENTS_QUEUE).unwrap();
        assert!(incidents.single_active_consumer);
    }
}
