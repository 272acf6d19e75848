//! Integration-test helpers for every crate: a fresh PostgreSQL database and ClickHouse
//! database per test, against the real local servers (a fresh RabbitMQ vhost is
//! `bus::testing::TestBroker`). Enabled by the `testing` feature (dev-dependencies only).
//!
//! Leftovers of crashed runs (`test-*` vhosts, `test_*` databases) are removed by
//! `scripts/test.sh` before each run.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::config::{ClickHouseConfig, PgConfig};

/// The environment variable `key`, or `default`.
pub fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// `test<sep><unix seconds><sep><uuid>`: the time lets `scripts/test.sh` remove only the
/// leftovers of old runs, never those of a run in progress.
pub fn unique(prefix: &str, sep: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{prefix}{sep}{secs}{sep}{}", Uuid::new_v4().simple())
}

/// Runs `request` to completion from a `Drop` impl, which cannot await: on a thread of its
/// own with a runtime of its own, so it works inside and outside a runtime alike.
fn blocking_send(request: reqwest::RequestBuilder) -> Result<(), String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            request
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "the request thread panicked".to_owned())?
}

/// Sends `DELETE path` to the RabbitMQ management API at `base` as guest, blocking (for `Drop`
/// impls, which cannot await).
pub fn blocking_http_delete(base: &url::Url, path: &str) -> Result<(), String> {
    let mut url = base.clone();
    url.set_path(path);
    blocking_send(reqwest::Client::new().delete(url).basic_auth("guest", Some("guest")))
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
        // Not a query macro: DDL naming a database made up per test (an identifier cannot be
        // a bound parameter). `name` is ours: letters, digits and underscores.
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

fn blocking_clickhouse_query(base: &url::Url, sql: &str) -> Result<(), String> {
    blocking_send(reqwest::Client::new().post(base.clone()).body(sql.to_owned()))
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
