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

/// The secret key of test apps (base64 of 32 bytes).
pub const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The config a test app runs with: private targets allowed unless a test says otherwise.
pub async fn test_config() -> (backend::Config, TestPg, TestBroker, TestClickHouse) {
    let broker = TestBroker::new().await;
    let pg = TestPg::new().await;
    let ch = TestClickHouse::new().await;
    let config = backend::Config {
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
        api: backend::config::ApiConfig {
            secret_key: Some(TEST_SECRET_KEY.into()),
            ..Default::default()
        },
        edge: backend::config::EdgeConfig::unlimited(),
    };
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
        let r = c
            .post(self.url("/api/auth/register"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "register {email}: {}", r.text().await.unwrap());
        c
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

/// A minimal valid HTTP target body.
/// GETs `url` with `c` and reads the JSON answer.
pub async fn get_json(c: &reqwest::Client, url: String) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

pub fn http_target(name: &str, url: &str) -> Value {
    json!({"name": name, "spec": {"kind": "http", "url": url}})
}

/// Creates a target and returns its JSON.
pub async fn create_target(app: &TestApp, c: &reqwest::Client, body: &Value) -> Value {
    let r = c.post(app.url("/api/targets")).json(body).send().await.unwrap();
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

/// Collects every job published to `jobs.default` of the test vhost.
pub async fn collect_jobs(
    broker: &TestBroker,
    shutdown: CancellationToken,
) -> std::sync::Arc<std::sync::Mutex<Vec<common::messages::CheckJob>>> {
    use common::messages::{CheckJobs, Envelope};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let b = broker.broker("full-collector", shutdown.clone());
    let conn = b.connection().await.expect("collector connects");
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "jobs.default".into(),
            "full-collector".into(),
            lapin::options::BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let out = seen.clone();
    tokio::spawn(async move {
        let _keep = (b, conn, ch);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                d = futures::StreamExt::next(&mut consumer) => match d {
                    Some(Ok(d)) => {
                        let env: Envelope<CheckJobs> = serde_json::from_slice(&d.data).expect("jobs decode");
                        assert!(env.payload.validate().is_ok(), "a malformed jobs message");
                        out.lock().unwrap().extend(env.payload.jobs);
                    }
                    _ => break,
                },
            }
        }
    });
    seen
}

/// Waits (up to `secs`) until `f` holds.
pub async fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
