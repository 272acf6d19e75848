//! `spawn_app()`: the backend in-process on port 0 against a fresh PostgreSQL database,
//! RabbitMQ vhost and ClickHouse database; HTTP helpers for the tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bus::testing::TestBroker;
use common::testing::{TestClickHouse, TestPg};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A running backend and the servers behind it (dropped with it).
pub struct TestApp {
    pub addr: SocketAddr,
    /// The ops listener (`/metrics`, `/readyz`).
    pub ops: SocketAddr,
    pub pg: TestPg,
    pub broker: TestBroker,
    pub ch: TestClickHouse,
    pub config: backend::Config,
    pub shutdown: CancellationToken,
    pub handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The password [`TestApp::user`] registers with.
pub const PASSWORD: &str = "correct horse battery";

/// The secret key of test apps (base64 of 32 bytes).
pub const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The config of a backend on the given servers: both listeners on port 0, private targets
/// allowed, no edge limits, the API's defaults.
pub fn backend_config(broker: &TestBroker, pg: &TestPg, ch: &TestClickHouse) -> backend::Config {
    backend::Config {
        amqp: broker.config.clone(),
        pg: pg.config.clone(),
        clickhouse: ch.config.clone(),
        http: common::config::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
        },
        guard: common::config::GuardConfig {
            allow_private_targets: true,
            ..Default::default()
        },
        api: Default::default(),
        edge: backend::config::EdgeConfig::unlimited(),
    }
}

/// The config a test app runs with: private targets allowed unless a test says otherwise.
pub async fn test_config() -> (backend::Config, TestPg, TestBroker, TestClickHouse) {
    let broker = TestBroker::new().await;
    let pg = TestPg::new().await;
    let ch = TestClickHouse::new().await;
    let mut config = backend_config(&broker, &pg, &ch);
    config.api.secret_key = Some(TEST_SECRET_KEY.into());
    (config, pg, broker, ch)
}

/// Starts the backend with the default test config.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the backend after `tweak` adjusted the config.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut backend::Config)) -> TestApp {
    let (mut config, pg, broker, ch) = test_config().await;
    tweak(&mut config);
    start(config, pg, broker, ch).await
}

/// Starts a backend on the given servers.
pub async fn start(config: backend::Config, pg: TestPg, broker: TestBroker, ch: TestClickHouse) -> TestApp {
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(backend::run_with_listeners(
        config.clone(),
        shutdown.clone(),
        move |bound| {
            let _ = tx.send(bound);
        },
    ));
    let bound = rx.await.expect("backend binds");
    TestApp {
        addr: bound.api,
        ops: bound.ops,
        pg,
        broker,
        ch,
        config,
        shutdown,
        handle: Some(handle),
    }
}

/// A client that keeps cookies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl TestApp {
    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Registers `email` and returns a client logged in as them.
    pub async fn user(&self, email: &str) -> reqwest::Client {
        let c = client();
        let r = self.register(&c, email, PASSWORD).await;
        assert_eq!(r.status(), 201, "register {email}: {}", r.text().await.unwrap());
        c
    }

    /// Asks to register `email` with `password` from `c`; the answer.
    pub async fn register(&self, c: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        let body = json!({"email": email, "password": password});
        send_json(c.post(self.url("/api/auth/register")), &body).await
    }

    /// Asks to log `c` in as `email` with `password`; the answer.
    pub async fn login(&self, c: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        let body = json!({"email": email, "password": password});
        send_json(c.post(self.url("/api/auth/login")), &body).await
    }

    /// Adds the email channel `address` for `c` and returns its JSON.
    pub async fn email_channel(&self, c: &reqwest::Client, address: &str) -> Value {
        let r = send_json(c.post(self.url("/api/channels/email")), &json!({"address": address})).await;
        assert_eq!(r.status(), 201, "add channel {address}");
        r.json().await.unwrap()
    }

    /// Creates an API token for the logged-in `c`.
    pub async fn token(&self, c: &reqwest::Client, scope: &str) -> String {
        let r = c
            .post(self.url("/api/tokens"))
            .json(&json!({"name": "test", "scope": scope}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// Stops the backend and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }
}

/// Asserts the response is a JSON error with `status`, `code` and (if given) `field`.
pub async fn assert_error(r: reqwest::Response, status: u16, code: &str, field: Option<&str>) -> Value {
    assert_eq!(r.status().as_u16(), status, "status");
    let body: Value = r.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "{body}");
    }
    body
}

/// A stand-in pinger: answers every job that carries a reply queue with a CheckResult for it.
/// Returns the token that stops it.
pub fn spawn_test_worker(app: &TestApp) -> CancellationToken {
    use bus::{ConsumerOptions, HandlerError, Publisher};
    use common::messages::{CheckJobs, Envelope};
    let shutdown = CancellationToken::new();
    let broker = app.broker.broker("test-worker", shutdown.clone());
    let publisher = Publisher::new(broker.clone(), Duration::from_secs(10));
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ =
            bus::consume::<CheckJobs, _, _>(&broker, ConsumerOptions::new("jobs.default"), stop, move |env, info| {
                let publisher = publisher.clone();
                async move {
                    let Some(reply_to) = info.reply_to else {
                        return Ok(());
                    };
                    for job in &env.payload.jobs {
                        let mut r = common::samples::check_result();
                        r.result_id = job.result_id();
                        r.job_id = job.job_id;
                        r.target_id = job.target_id;
                        r.region = job.region.clone();
                        r.check_kind = job.spec.kind();
                        r.pinger_id = "test-worker".into();
                        publisher
                            .reply(&reply_to, &Envelope::caused_by(env.correlation_id, r))
                            .await
                            .map_err(HandlerError::transient)?;
                    }
                    Ok(())
                }
            })
            .await;
    });
    shutdown
}

/// Sends `request` (of any method, with any headers) with `body` as JSON; the answer.
pub async fn send_json(request: reqwest::RequestBuilder, body: impl serde::Serialize) -> reqwest::Response {
    request.json(&body).send().await.unwrap()
}

/// GETs `url` with `c` and reads the JSON answer.
pub async fn get_json(c: &reqwest::Client, url: String) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// GETs `url` with `c` and reads the answer as text.
pub async fn get_text(c: &reqwest::Client, url: String) -> String {
    c.get(url).send().await.unwrap().text().await.unwrap()
}

/// The `id` of an answer's JSON object, as a UUID.
pub fn id_of(v: &Value) -> uuid::Uuid {
    v["id"].as_str().expect("an id").parse().expect("a UUID")
}

/// A temporary web directory holding a dashboard (`index.html`) and one asset (`assets/app.js`).
pub fn web_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pt-web-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<html>dashboard</html>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
    dir
}

/// Specs on private addresses, other than the installation's own services, each with the
/// field their refusal names.
pub fn private_specs() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"kind": "http", "url": "http://[::1]/"}), "spec.url"),
        (
            json!({"kind": "http", "url": "http://169.254.169.254/latest/meta-data"}),
            "spec.url",
        ),
        (json!({"kind": "http", "url": "http://localhost/"}), "spec.url"),
        (json!({"kind": "http", "url": "http://[::ffff:10.0.0.1]/"}), "spec.url"),
        (json!({"kind": "tcp", "host": "192.168.1.1", "port": 22}), "spec.host"),
        (json!({"kind": "tls", "host": "10.1.2.3"}), "spec.host"),
        (json!({"kind": "icmp", "host": "127.0.0.1"}), "spec.host"),
        (json!({"kind": "icmp", "host": "fe80::1"}), "spec.host"),
        (
            json!({"kind": "dns", "name": "example.com", "record_type": "A", "resolver": {"address": "10.0.0.53:53"}}),
            "spec.resolver.address",
        ),
    ]
}

/// A minimal valid HTTP target body.
pub fn http_target(name: &str, url: &str) -> Value {
    json!({"name": name, "spec": {"kind": "http", "url": url}})
}

/// Creates a target and returns its JSON.
pub async fn create_target(app: &TestApp, c: &reqwest::Client, body: &Value) -> Value {
    let r = send_json(c.post(app.url("/api/targets")), body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "create target: {v}");
    v
}

/// Inserts a user and `intervals.len()` HTTP targets straight into PostgreSQL; their ids.
pub async fn insert_targets(pool: &sqlx::PgPool, intervals: &[i32]) -> Vec<uuid::Uuid> {
    let owner = uuid::Uuid::now_v7();
    sqlx::query("insert into users (id, email, password_hash) values ($1, $2, 'x')")
        .bind(owner)
        .bind(format!("{owner}@example.com"))
        .execute(pool)
        .await
        .unwrap();
    let ids: Vec<uuid::Uuid> = intervals.iter().map(|_| uuid::Uuid::now_v7()).collect();
    let names: Vec<String> = (0..ids.len()).map(|i| format!("t{i:06}")).collect();
    let specs: Vec<Value> = (0..ids.len())
        .map(|i| json!({"kind": "http", "url": format!("https://t{i}.example.com/"), "timeout_ms": 5000}))
        .collect();
    for chunk in 0..ids.len().div_ceil(5000) {
        let r = chunk * 5000..((chunk + 1) * 5000).min(ids.len());
        sqlx::query(
            "insert into targets (id, owner_id, name, kind, spec, interval_seconds) \
             select id, $1, name, 'http', spec, iv from unnest($2::uuid[], $3::text[], $4::jsonb[], $5::int[]) as u(id, name, spec, iv)",
        )
        .bind(owner)
        .bind(&ids[r.clone()])
        .bind(&names[r.clone()])
        .bind(&specs[r.clone()])
        .bind(&intervals[r])
        .execute(pool)
        .await
        .unwrap();
    }
    ids
}

/// Inserts `rows` into ClickHouse's `check_results`: each a `(…)` tuple of its columns' values,
/// in the order named here.
pub async fn insert_check_rows(ch: &clickhouse::Client, rows: &[String]) {
    ch.query(&format!(
        "INSERT INTO check_results (result_id, job_id, target_id, region, pinger_id, check_kind, checked_at, \
         finished_at, duration_ms, outcome, failure_kind, failure_phase, failure_message, status_code, dns_ms, \
         connect_ms, tls_ms, ttfb_ms, transfer_ms, resolved_ip, tls_days_left, probe_degraded, detail) VALUES {}",
        rows.join(",")
    ))
    .execute()
    .await
    .unwrap();
}

/// Collects every job published to `jobs.default` of the test vhost.
pub async fn collect_jobs(
    broker: &TestBroker,
    shutdown: CancellationToken,
) -> std::sync::Arc<std::sync::Mutex<Vec<common::messages::CheckJob>>> {
    use common::messages::CheckJobs;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seen.clone();
    consume_no_ack(broker, "jobs.default", shutdown, move |jobs: CheckJobs| {
        assert!(jobs.validate().is_ok(), "a malformed jobs message");
        out.lock().unwrap().extend(jobs.jobs);
    })
    .await;
    seen
}

/// Reads `queue` of the test vhost without acknowledging (the test watches, it does not take
/// part), hands each message's payload to `on`, until `shutdown`. Returns once it consumes.
pub async fn consume_no_ack<T, F>(broker: &TestBroker, queue: &str, shutdown: CancellationToken, mut on: F)
where
    T: serde::de::DeserializeOwned + Send + 'static,
    F: FnMut(T) + Send + 'static,
{
    let tag = format!("watcher-{queue}");
    let b = broker.broker(&tag, shutdown.clone());
    let conn = b.connection().await.expect("the watcher connects");
    let ch = conn.create_channel().await.unwrap();
    let options = lapin::options::BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut consumer = ch
        .basic_consume(queue.into(), tag.as_str().into(), options, Default::default())
        .await
        .unwrap();
    tokio::spawn(async move {
        let _keep = (b, conn, ch);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                d = futures::StreamExt::next(&mut consumer) => match d {
                    Some(Ok(d)) => {
                        let env: common::messages::Envelope<T> = serde_json::from_slice(&d.data).expect("the message decodes");
                        on(env.payload);
                    }
                    _ => break,
                },
            }
        }
    });
}

/// Waits (up to `secs`) until `f` holds.
pub async fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
