//! Integration-test helpers: a fresh RabbitMQ vhost per test against the real local broker.
//! Enabled by the `testing` feature (dev-dependencies only).
//!
//! Leftovers of crashed runs (`test-*` vhosts) are removed by `scripts/test.sh` before each
//! run.

use std::time::Duration;

use common::config::AmqpConfig;
use common::messages::{Envelope, Message};
use common::testing::{blocking_http_delete, env_or, unique};
use tokio_util::sync::CancellationToken;

use crate::management::Management;
use crate::publish::Publisher;
use crate::supervisor::Broker;
use crate::topology::Topology;

/// A fresh RabbitMQ vhost, deleted when dropped.
pub struct TestBroker {
    /// Config pointing at the vhost.
    pub config: AmqpConfig,
    /// Management client for the vhost.
    pub management: Management,
    /// The vhost's name.
    pub vhost: String,
}

impl TestBroker {
    /// Creates a vhost `test-<time>-<uuid>` with full permissions for guest.
    pub async fn new() -> Self {
        let host = env_or("PINGTOWER_TEST_AMQP_HOST", "127.0.0.1:5672");
        let mgmt = env_or("PINGTOWER_TEST_RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672");
        let vhost = unique("test", "-");
        let management = Management::new(mgmt.parse().unwrap(), "guest", "guest".to_owned().into(), vhost.clone());
        management
            .create_vhost()
            .await
            .expect("RabbitMQ management API answers (is the plugin enabled?)");
        let config = AmqpConfig {
            amqp_url: format!("amqp://guest:guest@{host}/{vhost}").into(),
            regions: vec!["default".into()],
            management_url: mgmt.parse().unwrap(),
        };
        Self {
            config,
            management,
            vhost,
        }
    }

    /// The topology of the vhost's configured regions.
    pub fn topology(&self) -> Topology {
        Topology::new(&self.config.regions)
    }

    /// A broker handle on the vhost with the default topology.
    pub fn broker(&self, name: &str, shutdown: CancellationToken) -> Broker {
        Broker::new(self.config.amqp_url.clone(), name, self.topology(), shutdown)
    }

    /// A broker handle with a given topology.
    pub fn broker_with(&self, name: &str, topology: Topology, shutdown: CancellationToken) -> Broker {
        Broker::new(self.config.amqp_url.clone(), name, topology, shutdown)
    }

    /// Publishes a message (declaring the topology first).
    pub async fn publish<T: Message>(&self, envelope: &Envelope<T>) {
        self.publish_all(std::slice::from_ref(envelope)).await;
    }

    /// Publishes messages (declaring the topology first) through one connection, all in flight at once, and waits for every
    /// confirm: they reach the broker within milliseconds of each other, where one `publish`
    /// after another opens a connection and declares the topology for each.
    pub async fn publish_all<T: Message>(&self, envelopes: &[Envelope<T>]) {
        let publisher = Publisher::new(
            self.broker("test-publisher", CancellationToken::new()),
            Duration::from_secs(10),
        );
        let confirms = envelopes.iter().map(|e| publisher.publish(e));
        for confirmed in futures::future::join_all(confirms).await {
            confirmed.expect("test publish is confirmed");
        }
        publisher.broker().close().await;
    }

    /// Publishes raw bytes to an exchange (for poison messages).
    pub async fn publish_raw(&self, exchange: &str, routing_key: &str, body: &[u8]) {
        let publisher = Publisher::new(
            self.broker("test-raw", CancellationToken::new()),
            Duration::from_secs(10),
        );
        publisher
            .publish_raw(
                exchange,
                routing_key,
                body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("test publish is confirmed");
        publisher.broker().close().await;
    }

    /// Waits for the next message on `queue` (acking it), decoded as `T`.
    pub async fn next_message<T: Message>(&self, queue: &str, timeout: Duration) -> Option<Envelope<T>> {
        let raw = self.next_raw(queue, timeout).await?;
        Some(serde_json::from_slice(&raw).expect("message decodes"))
    }

    /// Waits for the next message body on `queue` (acking it).
    pub async fn next_raw(&self, queue: &str, timeout: Duration) -> Option<Vec<u8>> {
        let broker = self.broker("test-reader", CancellationToken::new());
        let conn = broker.connection().await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.basic_qos(1, Default::default()).await.unwrap();
        // A consumer, not basic.get: quorum queues with a single active consumer refuse gets.
        let mut consumer = ch
            .basic_consume(
                queue.into(),
                "test-reader".into(),
                Default::default(),
                Default::default(),
            )
            .await
            .unwrap();
        let got = match tokio::time::timeout(timeout, futures::StreamExt::next(&mut consumer)).await {
            Ok(Some(Ok(d))) => {
                d.acker.ack(Default::default()).await.unwrap();
                Some(d.data)
            }
            _ => None,
        };
        broker.close().await;
        got
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        // Quorum queues cost the broker memory: delete the vhost synchronously.
        let path = format!("/api/vhosts/{}", self.vhost);
        let _ = blocking_http_delete(&self.config.management_url, &path);
    }
}
