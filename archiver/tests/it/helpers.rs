//! Shared helpers: fresh servers per test, the service in-process or as a child process,
//! publishing many results, counting what ClickHouse and PostgreSQL hold, a TCP proxy that
//! can cut ClickHouse off.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use archiver::Config;
use archiver::fault::FaultPoint;
use archiver::row::ResultRow;
use bus::Publisher;
use bus::testing::TestBroker;
use chrono::{DateTime, NaiveDate, Utc};
use common::messages::{CheckResult, Envelope, Outcome};
use common::testing::{RunningService, TestClickHouse, TestPg};
use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Fresh RabbitMQ vhost, PostgreSQL database and ClickHouse database.
pub struct TestEnv {
    pub broker: TestBroker,
    pub pg: TestPg,
    pub ch: TestClickHouse,
}

impl TestEnv {
    pub async fn new() -> Self {
        let (broker, pg, ch) = tokio::join!(TestBroker::new(), TestPg::new(), TestClickHouse::new());
        Self { broker, pg, ch }
    }

    /// The service's config for these servers.
    pub fn config(&self) -> Config {
        Config::new(
            self.broker.config.clone(),
            self.pg.config.clone(),
            self.ch.config.clone(),
        )
    }

    /// A publisher on the vhost.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(
            self.broker.broker("test-publisher", CancellationToken::new()),
            Duration::from_secs(30),
        )
    }

    /// Publishes every result, many at once, each confirmed.
    pub async fn publish_all(&self, results: &[CheckResult]) {
        let publisher = self.publisher();
        publish_with(&publisher, results).await;
        publisher.broker().close().await;
    }

    /// The environment a child `archiver` process needs for these servers.
    pub fn child_env(&self, clickhouse_url: &str, http_addr: SocketAddr) -> Vec<(String, String)> {
        vec![
            (
                "PINGTOWER_AMQP_URL".into(),
                self.broker.config.amqp_url.expose_secret().to_owned(),
            ),
            (
                "PINGTOWER_DATABASE_URL".into(),
                self.pg.config.database_url.expose_secret().to_owned(),
            ),
            ("PINGTOWER_DATABASE_MAX_CONNECTIONS".into(), "4".into()),
            ("PINGTOWER_CLICKHOUSE_URL".into(), clickhouse_url.to_owned()),
            ("PINGTOWER_CLICKHOUSE_DATABASE".into(), self.ch.config.database.clone()),
            ("PINGTOWER_HTTP_ADDR".into(), http_addr.to_string()),
            ("PINGTOWER_LOG_FORMAT".into(), "json".into()),
            ("RUST_LOG".into(), "warn".into()),
        ]
    }

    /// The ClickHouse URL the servers answer on.
    pub fn clickhouse_url(&self) -> String {
        self.ch.config.url.as_str().trim_end_matches('/').to_owned()
    }
}

/// Publishes every result through `publisher`, 256 at once.
pub async fn publish_with(publisher: &Publisher, results: &[CheckResult]) {
    futures::stream::iter(results.iter().cloned())
        .map(|r| {
            let publisher = publisher.clone();
            async move {
                publisher
                    .publish(&Envelope::new(r))
                    .await
                    .expect("publish is confirmed")
            }
        })
        .buffer_unordered(256)
        .collect::<Vec<()>>()
        .await;
}

/// A result of `target` started at `at`.
pub fn result_at(target: Uuid, at: DateTime<Utc>, outcome: Outcome, duration_ms: u32) -> CheckResult {
    let mut r = common::samples::check_result();
    r.result_id = Uuid::new_v4();
    r.job_id = Uuid::new_v4();
    r.target_id = target;
    r.started_at = at;
    r.finished_at = at + chrono::Duration::milliseconds(i64::from(duration_ms));
    r.duration_ms = duration_ms;
    r.outcome = outcome;
    if outcome == Outcome::Up {
        r.failure = None;
        r.status_code = Some(200);
    }
    r
}

/// `n` results now-ish over `targets` targets, a tenth of them down.
pub fn fresh_results(n: usize, targets: usize) -> Vec<CheckResult> {
    let ids: Vec<Uuid> = (0..targets.max(1)).map(|_| Uuid::new_v4()).collect();
    let now = Utc::now();
    (0..n)
        .map(|i| {
            let outcome = if i % 10 == 0 { Outcome::Down } else { Outcome::Up };
            result_at(
                ids[i % ids.len()],
                now - chrono::Duration::milliseconds(i as i64),
                outcome,
                50 + (i % 500) as u32,
            )
        })
        .collect()
}

/// Results of `day`: `per_target` per target, spread over the day, with every outcome.
pub fn day_results(day: NaiveDate, targets: &[Uuid], per_target: usize) -> Vec<CheckResult> {
    let start = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let step = 86_400 / per_target.max(1) as i64;
    let mut out = Vec::with_capacity(targets.len() * per_target);
    for (t, target) in targets.iter().enumerate() {
        for i in 0..per_target {
            let outcome = match (i + t) % 20 {
                0 => Outcome::Down,
                1 => Outcome::Degraded,
                _ => Outcome::Up,
            };
            let at = start + chrono::Duration::seconds(i as i64 * step + t as i64 % step.max(1));
            let mut r = result_at(*target, at, outcome, 20 + ((i * 7 + t * 13) % 900) as u32);
            if i % 50 == 3 {
                r.probe_degraded = true;
            }
            out.push(r);
        }
    }
    out
}

/// Writes results straight into ClickHouse (as ingest would), in chunks.
pub async fn insert_into_clickhouse(client: &clickhouse::Client, results: &[CheckResult]) {
    for chunk in results.chunks(10_000) {
        let rows: Vec<ResultRow> = chunk.iter().map(|r| ResultRow::from_result(r).unwrap()).collect();
        archiver::fresh::insert_rows(client, &rows, Duration::from_secs(60))
            .await
            .expect("ClickHouse accepts the rows");
    }
}

/// (raw rows, rows after FINAL, distinct result ids) in `check_results`.
pub async fn clickhouse_counts(client: &clickhouse::Client) -> (u64, u64, u64) {
    client
        .query(
            "SELECT (SELECT count() FROM check_results), (SELECT count() FROM check_results FINAL), \
                    (SELECT uniqExact(result_id) FROM check_results)",
        )
        .fetch_one()
        .await
        .expect("ClickHouse answers")
}

/// Every distinct result id in `check_results`.
pub async fn clickhouse_ids(client: &clickhouse::Client) -> HashSet<Uuid> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Id {
        #[serde(with = "clickhouse::serde::uuid")]
        id: Uuid,
    }
    client
        .query("SELECT DISTINCT result_id AS id FROM check_results")
        .fetch_all::<Id>()
        .await
        .expect("ClickHouse answers")
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// Rows of `day` in ClickHouse (after FINAL).
pub async fn clickhouse_day_rows(client: &clickhouse::Client, day: NaiveDate) -> u64 {
    archiver::fresh::day_stats(client, day).await.unwrap().rows
}

/// (results, distinct result ids) archived for `day` (compact layout).
pub async fn archived_counts(pool: &sqlx::PgPool, day: NaiveDate) -> (i64, i64) {
    sqlx::query_as(
        "select count(*), count(distinct rid) from archive_days d, unnest(d.result_ids) as rid where d.day = $1",
    )
    .bind(day)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The ledger row of `day`: (state, ch_rows, pg_rows, ch_checksum, pg_checksum, attempts).
pub type LedgerRow = (String, Option<i64>, Option<i64>, Option<String>, Option<String>, i32);

/// The ledger row of `day`, if any.
pub async fn ledger_row(pool: &sqlx::PgPool, day: NaiveDate) -> Option<LedgerRow> {
    sqlx::query_as(
        "select state, ch_rows, pg_rows, ch_checksum, pg_checksum, attempts from archive_batches where day = $1",
    )
    .bind(day)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// Polls `check` every 200 ms until it holds, or panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The service running in this process.
pub struct App;

impl App {
    pub async fn spawn(config: Config) -> RunningService {
        RunningService::spawn(|shutdown, on_bound| archiver::run_with(config, shutdown, on_bound)).await
    }
}

/// Loopback, port 0: a child process's health server binds a port of its own choosing (a port
/// picked here and released would be racy: another test may take it first).
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Starts the `archiver` binary with `env` (and no other `PINGTOWER_*` variable) and `args`.
pub fn spawn_child(env: &[(String, String)], args: &[&str]) -> tokio::process::Child {
    child_command(env, args).spawn().expect("the archiver binary starts")
}

/// Starts the `archiver` binary like [`spawn_child`], its health server on [`any_port`]; returns
/// it and the address it reports listening on (read from its JSON log).
pub async fn spawn_child_listening(env: &[(String, String)], args: &[&str]) -> (tokio::process::Child, SocketAddr) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut env = env.to_vec();
    env.retain(|(k, _)| k != "PINGTOWER_HTTP_ADDR" && k != "RUST_LOG" && k != "PINGTOWER_LOG_FORMAT");
    env.push(("PINGTOWER_HTTP_ADDR".into(), any_port().to_string()));
    env.push(("PINGTOWER_LOG_FORMAT".into(), "json".into()));
    env.push(("RUST_LOG".into(), "warn,common::health=info".into()));
    let mut cmd = child_command(&env, args);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("the archiver binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("the child's log is readable") {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "listening"
                && let Some(addr) = entry["addr"].as_str().and_then(|a| a.parse().ok())
            {
                return addr;
            }
        }
        panic!("the archiver exited without listening");
    })
    .await
    .expect("the archiver reports its address within 30 s");
    // Keep reading, so that a full pipe never blocks the child.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

fn child_command(env: &[(String, String)], args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_archiver"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PINGTOWER_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

/// Runs `archiver run-once` to its end, optionally crashing at `fault`.
pub async fn run_once_child(env: &TestEnv, fault: Option<FaultPoint>) -> ExitStatus {
    let mut vars = env.child_env(&env.clickhouse_url(), any_port());
    if let Some(point) = fault {
        vars.push(("PINGTOWER_ARCHIVER_FAULT".into(), point.name()));
    }
    let mut child = spawn_child(&vars, &["run-once"]);
    tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .expect("run-once ends")
        .unwrap()
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A metric's value from a `/metrics` page.
pub async fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// A TCP proxy in front of a server that a test can cut off (connections refused and the
/// open ones dropped), as an outage looks to a client.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<std::sync::Mutex<CancellationToken>>,
    stop: CancellationToken,
    /// The local port of every connection it opened to the server, and whether it is open.
    links: Arc<std::sync::Mutex<std::collections::HashMap<u16, bool>>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(std::sync::Mutex::new(CancellationToken::new()));
        let stop = CancellationToken::new();
        let links = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
        let (up2, cut2, stop2, links2) = (up.clone(), cut.clone(), stop.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop2.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((mut client, _)) = accepted else { continue };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let token = cut2.lock().unwrap().clone();
                let links = links2.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let port = server.local_addr().unwrap().port();
                    links.lock().unwrap().insert(port, true);
                    // Biased: a connection accepted just before a cut forwards nothing after it.
                    tokio::select! {
                        biased;
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                    drop(server);
                    links.lock().unwrap().insert(port, false);
                });
            }
        });
        Self {
            addr,
            up,
            cut,
            stop,
            links,
        }
    }

    /// The local ports of every connection it opened to the server, and whether one is open.
    pub fn upstream(&self) -> (Vec<u16>, bool) {
        let links = self.links.lock().unwrap();
        (links.keys().copied().collect(), links.values().any(|open| *open))
    }

    /// Cuts the server off (`false`) or lets clients through again (`true`).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            let mut cut = self.cut.lock().unwrap();
            cut.cancel();
            *cut = CancellationToken::new();
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The UTC day `days` days ago.
pub fn days_ago(days: i64) -> NaiveDate {
    Utc::now().date_naive() - chrono::Duration::days(days)
}

/// Seconds between now and the newest `checked_at` in ClickHouse: with results stamped when
/// published ([`SteadyStream`]), how far ingest lags behind the stream (ClickHouse's clock).
pub async fn clickhouse_lag_secs(client: &clickhouse::Client) -> i64 {
    client
        .query("SELECT toInt64(now()) - toInt64(max(checked_at)) FROM check_results")
        .fetch_one()
        .await
        .expect("ClickHouse answers")
}

/// (ready, unacknowledged) messages of `queue`, from the management API (refreshed every
/// few seconds by the broker).
pub async fn queue_counts(env: &TestEnv, queue: &str) -> (u64, u64) {
    let v = common::testing::management_get(
        &env.broker.config.management_url,
        &format!("api/queues/{}/{queue}", env.broker.vhost),
    )
    .await;
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    (n("messages_ready"), n("messages_unacknowledged"))
}

/// Publishes `per_second` results a second, each stamped with its publication time, until
/// stopped.
pub struct SteadyStream {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<Vec<CheckResult>>,
}

impl SteadyStream {
    pub fn start(publisher: Publisher, per_second: usize) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let handle = tokio::spawn(async move {
            let targets: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
            let mut published = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !stopped.is_cancelled() {
                tick.tick().await;
                let now = Utc::now();
                let chunk: Vec<CheckResult> = (0..per_second / 10)
                    .map(|_| {
                        let i = published.len();
                        let outcome = if i % 10 == 0 { Outcome::Down } else { Outcome::Up };
                        let r = result_at(targets[i % targets.len()], now, outcome, 50 + (i % 500) as u32);
                        published.push(r.clone());
                        r
                    })
                    .collect();
                publish_with(&publisher, &chunk).await;
            }
            publisher.broker().close().await;
            published
        });
        Self { stop, handle }
    }

    /// Stops publishing; returns every result published (each confirmed).
    pub async fn stop(self) -> Vec<CheckResult> {
        self.stop.cancel();
        self.handle.await.unwrap()
    }
}
