//! Integration-test helpers for every crate: a fresh PostgreSQL database and ClickHouse
//! database per test, against the real local servers (a fresh RabbitMQ vhost is
//! `bus::testing::TestBroker`); a service run in-process ([`RunningService`]) and the check of
//! its health endpoints; and fakes of what is outside the machine: Telegram's Bot API
//! ([`FakeTelegram`]), a real SMTP server ([`SmtpSink`], aiosmtpd) and an OpenAI-compatible
//! provider ([`OpenAiStub`]). Each fake binds its own port and holds it while it runs.
//! Enabled by the `testing` feature (dev-dependencies only).
//!
//! Leftovers of crashed runs (`test-*` vhosts, `test_*` databases) are removed by
//! `scripts/test.sh` before each run.

mod openai;
mod smtp;
mod telegram;

pub use openai::{OpenAiStub, completion};
pub use smtp::{Mail, SmtpSink};
pub use telegram::{BOT_USER_ID, BOT_USERNAME, Call, FakeTelegram};

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

/// `GET path` on the RabbitMQ management API at `base` as guest: the JSON it answers.
pub async fn management_get(base: &url::Url, path: &str) -> serde_json::Value {
    let mut url = base.clone();
    url.set_path(path);
    reqwest::Client::new()
        .get(url)
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .expect("the management API answers")
        .json()
        .await
        .expect("the management API answers JSON")
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

/// A loopback port that refuses connections, held for as long as this value lives: a TCP
/// socket bound to it that never listens. A port bound and then released could be taken by
/// anything else on the machine before the test connects to it; this one cannot.
pub struct ClosedPort {
    /// The port, on 127.0.0.1.
    pub port: u16,
    _socket: tokio::net::TcpSocket,
}

impl ClosedPort {
    /// Binds a fresh loopback port without listening on it.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket is created");
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("a loopback port is bound");
        let port = socket.local_addr().expect("the bound address").port();
        Self { port, _socket: socket }
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// `n` distinct loopback ports, free now, for servers that other processes bind on fixed
/// addresses (a test cannot hold a port for another process). They are chosen outside the
/// kernel's ephemeral range, so no port-0 bind or outgoing connection elsewhere on the machine
/// is handed one of them before the server binds it, or while it restarts on the same address.
pub fn ports_for_other_processes(n: usize) -> Vec<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let ephemeral_low = range
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(32768);
    // Above the ports most machines' own services take (databases, brokers, this suite's defaults).
    let (low, high) = (20000u16, ephemeral_low.max(20001));
    let mut ports = Vec::with_capacity(n);
    while ports.len() < n {
        let random = *Uuid::new_v4().as_bytes();
        let random = u16::from_le_bytes([random[0], random[1]]);
        let port = low + random % (high - low);
        // Free now: a listener there would make the server's own bind fail.
        if !ports.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
    }
    ports
}

/// A service run in this process by its `run_with(config, shutdown, on_bound)`.
pub struct RunningService {
    /// Where its ops server (or the address `on_bound` reports) listens.
    pub addr: std::net::SocketAddr,
    /// Cancels it.
    pub shutdown: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Reports the bound address from inside a service's `run_with`.
pub type OnBound = Box<dyn FnOnce(std::net::SocketAddr) + Send>;

impl RunningService {
    /// Spawns `run(shutdown, on_bound)` and waits until it reports its bound address, e.g.
    /// `RunningService::spawn(|s, b| notifier::run_with(config, s, b))`.
    pub async fn spawn<F, Fut>(run: F) -> Self
    where
        F: FnOnce(tokio_util::sync::CancellationToken, OnBound) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run(
            shutdown.clone(),
            Box::new(move |addr| {
                let _ = tx.send(addr);
            }),
        ));
        let addr = match rx.await {
            Ok(addr) => addr,
            Err(_) => panic!("the service stopped before it was bound: {:?}", task.await),
        };
        Self { addr, shutdown, task }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("http://{}/metrics", self.addr))
            .await
            .expect("metrics answers");
        response.text().await.expect("metrics body reads")
    }

    /// Stops it and asserts it stopped cleanly within 30 s.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "service stops cleanly: {stopped:?}");
    }
}

/// Asserts a service's health endpoints: `/healthz` 200, `/readyz` 200 (within `timeout`),
/// `/metrics` 200 in the Prometheus text format, clean by `promtool check metrics`.
pub async fn assert_health_endpoints(addr: std::net::SocketAddr, timeout: Duration) {
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let request = client.get(format!("{base}{path}")).send();
        async move { request.await.unwrap_or_else(|e| panic!("{path} answers: {e}")) }
    };
    let healthz = get("/healthz").await;
    assert_eq!(healthz.status(), 200);
    wait_http_ok(&format!("{base}/readyz"), timeout).await;
    let metrics = get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let ct = metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/plain"), "metrics content type is {ct}");
    let text = metrics.text().await.expect("metrics body reads");
    assert_promtool_accepts(&text).await;
}

/// Asserts that `promtool check metrics` (Prometheus's own linter) finds nothing wrong in
/// `exposition`, a `/metrics` text: every metric described, names and units as Prometheus
/// wants them. Installs promtool (Debian's `prometheus` package) when it is missing.
pub async fn assert_promtool_accepts(exposition: &str) {
    use tokio::io::AsyncWriteExt;
    let promtool = promtool().await;
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("promtool runs");
    let mut stdin = child.stdin.take().expect("promtool's stdin is piped");
    stdin
        .write_all(exposition.as_bytes())
        .await
        .expect("promtool reads the metrics");
    drop(stdin);
    let out = child.wait_with_output().await.expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics fails:\n{}{}\n--- the metrics:\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The path of `promtool`, installing Debian's `prometheus` package first when it is missing
/// (as root, or through sudo; apt waits for a concurrent install's lock).
async fn promtool() -> &'static str {
    const PROMTOOL: &str = "promtool";
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let runs = |program: &str, args: &[&str]| {
                std::process::Command::new(program)
                    .args(args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if runs(PROMTOOL, &["--version"]) {
                return;
            }
            let root = runs("sh", &["-c", "test \"$(id -u)\" = 0"]);
            let apt = move |args: &[&str]| {
                let lock = ["-o", "DPkg::Lock::Timeout=300", "-qq"];
                let mut all: Vec<&str> = Vec::new();
                if !root {
                    all.extend(["-n", "apt-get"]);
                }
                all.extend(lock);
                all.extend(args);
                let program = if root { "apt-get" } else { "sudo" };
                let status = std::process::Command::new(program)
                    .args(&all)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status();
                assert!(
                    status.as_ref().is_ok_and(|s| s.success()),
                    "apt-get {args:?} (to install promtool) failed: {status:?}"
                );
            };
            let installed = tokio::task::spawn_blocking(move || {
                apt(&["update"]);
                apt(&["install", "-y", "--no-install-recommends", "prometheus"]);
            })
            .await;
            if let Err(panic) = installed {
                std::panic::resume_unwind(panic.into_panic());
            }
            assert!(
                runs(PROMTOOL, &["--version"]),
                "promtool is on PATH after installing prometheus"
            );
        })
        .await;
    PROMTOOL
}

/// A sample's value in a `/metrics` page, by its name as rendered (with its labels, if any:
/// `name{label="value"}`); `None` when the page does not have it.
pub fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
