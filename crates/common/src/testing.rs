//! Integration-test helpers for every crate: a fresh RabbitMQ vhost, PostgreSQL database and
//! ClickHouse database per test, against the real local servers. Enabled by the `testing`
//! feature (dev-dependencies only).
//!
//! Leftovers of crashed runs (`test-*` vhosts, `test_*` databases) are removed by
//! `scripts/test.sh` before each run.

use std::io::{Read, Write};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::amqp::{Broker, Management, Publisher};
use crate::config::{AmqpConfig, ClickHouseConfig, PgConfig};
use crate::messages::{Envelope, Message};
use crate::topology::Topology;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// `test<sep><unix seconds><sep><uuid>`: the time lets `scripts/test.sh` remove only the
/// leftovers of old runs, never those of a run in progress.
fn unique(prefix: &str, sep: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{prefix}{sep}{secs}{sep}{}", Uuid::new_v4().simple())
}

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
    /// Creates a vhost `test-<uuid>` with full permissions for guest.
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

    /// A broker handle on the vhost with the default topology.
    pub fn broker(&self, name: &str, shutdown: CancellationToken) -> Broker {
        Broker::new(self.config.amqp_url.clone(), name, self.config.topology(), shutdown)
    }

    /// A broker handle with a given topology.
    pub fn broker_with(&self, name: &str, topology: Topology, shutdown: CancellationToken) -> Broker {
        Broker::new(self.config.amqp_url.clone(), name, topology, shutdown)
    }

    /// Publishes a message (declaring the topology first).
    pub async fn publish<T: Message>(&self, envelope: &Envelope<T>) {
        let publisher = Publisher::new(
            self.broker("test-publisher", CancellationToken::new()),
            Duration::from_secs(10),
        );
        publisher.publish(envelope).await.expect("test publish is confirmed");
        publisher.broker().close().await;
    }

    /// Publishes raw bytes to an exchange (for poison messages).
    pub async fn publish_raw(&self, exchange: &str, routing_key: &str, body: &[u8]) {
        let broker = self.broker("test-raw", CancellationToken::new());
        let conn = broker.connection().await.unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        ch.basic_publish(
            exchange.into(),
            routing_key.into(),
            lapin::options::BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            body,
            lapin::BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
        broker.close().await;
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
        let mgmt: url::Url = self.management_url();
        let path = format!("/api/vhosts/{}", self.vhost);
        let _ = blocking_http_delete(&mgmt, &path);
    }
}

impl TestBroker {
    fn management_url(&self) -> url::Url {
        self.config.management_url.clone()
    }
}

fn blocking_http_delete(base: &url::Url, path: &str) -> std::io::Result<()> {
    let host = base.host_str().unwrap_or("127.0.0.1");
    let port = base.port_or_known_default().unwrap_or(15672);
    let mut s = std::net::TcpStream::connect((host, port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    // "guest:guest" in base64.
    write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    Ok(())
}

/// A fresh PostgreSQL database with the migrations applied.
pub struct TestPg {
    /// Config pointing at the database.
    pub config: PgConfig,
    /// A pool on it.
    pub pool: PgPool,
    /// The database's name.
    pub name: String,
}

impl TestPg {
    /// Creates `test_<uuid>` and migrates it.
    pub async fn new() -> Self {
        let t = Self::empty().await;
        crate::db::migrate_pg(&t.pool).await.expect("migrations apply");
        t
    }

    /// Creates `test_<uuid>` without migrating it.
    pub async fn empty() -> Self {
        let server = env_or("PINGTOWER_TEST_PG_SERVER", "postgres://postgres@127.0.0.1:5432");
        let name = unique("test", "_");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{server}/postgres"))
            .await
            .expect("PostgreSQL answers");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&admin)
            .await
            .expect("test database is created");
        admin.close().await;
        let url: SecretString = format!("{server}/{name}").into();
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect(url.expose_secret())
            .await
            .unwrap();
        Self {
            config: PgConfig {
                database_url: url,
                max_connections: 5,
            },
            pool,
            name,
        }
    }
}

/// A fresh ClickHouse database with the migrations applied.
pub struct TestClickHouse {
    /// Config pointing at the database.
    pub config: ClickHouseConfig,
    /// A client on it.
    pub client: clickhouse::Client,
}

impl TestClickHouse {
    /// Creates `test_<uuid>` and migrates it.
    pub async fn new() -> Self {
        let config = ClickHouseConfig {
            url: env_or("PINGTOWER_TEST_CLICKHOUSE_URL", "http://127.0.0.1:8123")
                .parse()
                .unwrap(),
            database: unique("test", "_"),
            user: "default".into(),
            password: String::new().into(),
        };
        crate::db::migrate_clickhouse(&config)
            .await
            .expect("ClickHouse migrations apply");
        let client = crate::db::clickhouse_client(&config);
        Self { config, client }
    }
}

impl Drop for TestClickHouse {
    fn drop(&mut self) {
        let _ = blocking_clickhouse_query(
            &self.config.url,
            &format!("DROP DATABASE IF EXISTS {}", self.config.database),
        );
    }
}

fn blocking_clickhouse_query(base: &url::Url, sql: &str) -> std::io::Result<()> {
    let host = base.host_str().unwrap_or("127.0.0.1");
    let port = base.port_or_known_default().unwrap_or(8123);
    let mut s = std::net::TcpStream::connect((host, port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sql}",
        sql.len()
    )?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    Ok(())
}

/// Polls `url` until it answers 200, or panics after `timeout`.
pub async fn wait_http_ok(url: &str, timeout: Duration) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} did not answer 200 within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts a service's health endpoints: `/healthz` 200, `/readyz` 200 (within `timeout`),
/// `/metrics` 200 in the Prometheus text format.
pub async fn assert_health_endpoints(addr: std::net::SocketAddr, timeout: Duration) {
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let healthz = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(healthz.status(), 200);
    wait_http_ok(&format!("{base}/readyz"), timeout).await;
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics answers");
    assert_eq!(metrics.status(), 200);
    let ct = metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/plain"), "metrics content type is {ct}");
}
