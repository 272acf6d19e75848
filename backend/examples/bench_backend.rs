//! Backend benchmark against the real PostgreSQL and RabbitMQ (fresh database and vhost):
//!
//! 1. Scheduler capacity: `BENCH_TARGETS` targets (default 100,000) every `BENCH_INTERVAL`
//!    seconds (default 60) scheduled for `BENCH_SECONDS` (default 40) on the real clock; prints
//!    jobs/s and the schedule lag (publish confirmed − slot) percentiles.
//! 2. API latency: `GET /api/targets` for a user with `BENCH_LIST_TARGETS` targets (default
//!    10,000): first page, sorted by status, text search, a deep cursor page.
//!
//! 3. Secrets (`BENCH_ONLY=secrets`): `GET /api/targets` and `GET /api/targets/{id}` p95 for a
//!    user whose `BENCH_SECRET_TARGETS` targets (default 2,000) carry encrypted secrets and
//!    for one whose as many targets carry none, requests interleaved in the same run; prints
//!    both ("before" = without secrets, "after" = with them).
//!
//! `cargo run --release -p backend --example bench_backend`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backend::scheduler::{self, Clock, Stats};
use bus::testing::TestBroker;
use common::testing::{TestClickHouse, TestPg};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn insert_targets(pool: &sqlx::PgPool, owner: Uuid, n: usize, interval: i32) {
    let mut i = 0;
    while i < n {
        let end = (i + 5000).min(n);
        let ids: Vec<Uuid> = (i..end).map(|_| Uuid::now_v7()).collect();
        let names: Vec<String> = (i..end).map(|k| format!("service-{k:06}")).collect();
        let specs: Vec<Value> = (i..end)
            .map(|k| json!({"kind": "http", "url": format!("https://svc{k}.example.com/health"), "timeout_ms": 5000}))
            .collect();
        let tags: Vec<String> = (i..end)
            .map(|k| if k % 2 == 0 { "even" } else { "odd" }.to_owned())
            .collect();
        sqlx::query(
            "insert into targets (id, owner_id, name, kind, spec, interval_seconds, tags) \
             select id, $1, name, 'http', spec, $5, array[tag] from unnest($2::uuid[], $3::text[], $4::jsonb[], $6::text[]) \
             as u(id, name, spec, tag)",
        )
        .bind(owner)
        .bind(&ids)
        .bind(&names)
        .bind(&specs)
        .bind(interval)
        .bind(&tags)
        .execute(pool)
        .await
        .expect("targets insert");
        i = end;
    }
}

fn config(pg: &TestPg, broker: &TestBroker, ch: &TestClickHouse) -> backend::Config {
    backend::Config {
        amqp: broker.config.clone(),
        pg: common::config::PgConfig {
            database_url: pg.config.database_url.clone(),
            max_connections: 10,
        },
        clickhouse: ch.config.clone(),
        http: common::config::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
        },
        guard: Default::default(),
        api: backend::config::ApiConfig {
            scheduler: false,
            ..Default::default()
        },
        edge: backend::config::EdgeConfig::unlimited(),
    }
}

async fn bench_scheduler() {
    let n = env_num("BENCH_TARGETS", 100_000);
    let interval = env_num("BENCH_INTERVAL", 60) as i32;
    let seconds = env_num("BENCH_SECONDS", 40) as u64;
    let (pg, broker, ch) = (
        TestPg::new().await,
        TestBroker::new().await,
        TestClickHouse::new().await,
    );
    let owner = Uuid::now_v7();
    sqlx::query("insert into users (id, email, password_hash) values ($1, 'bench@example.com', 'x')")
        .bind(owner)
        .execute(&pg.pool)
        .await
        .unwrap();
    insert_targets(&pg.pool, owner, n, interval).await;

    let shutdown = CancellationToken::new();
    // Drain the job queue as pingers would.
    let drain = broker.broker("bench-drain", shutdown.clone());
    let conn = drain.connection().await.unwrap();
    let chan = conn.create_channel().await.unwrap();
    let mut consumer = chan
        .basic_consume(
            "jobs.default".into(),
            "drain".into(),
            lapin::options::BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let messages = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (r, m) = (received.clone(), messages.clone());
    tokio::spawn(async move {
        while let Some(Ok(d)) = consumer.next().await {
            let jobs = serde_json::from_slice::<common::messages::Envelope<common::messages::CheckJobs>>(&d.data)
                .map_or(0, |e| e.payload.jobs.len() as u64);
            r.fetch_add(jobs, std::sync::atomic::Ordering::Relaxed);
            m.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });

    let state = backend::AppState::new(config(&pg, &broker, &ch), shutdown.clone()).unwrap();
    let mut deps = backend::scheduler_deps(&state, Clock::real()).unwrap();
    deps.stats = Arc::new(Stats {
        lags: Some(Mutex::new(Vec::new())),
        ..Default::default()
    });
    let stats = deps.stats.clone();
    let started = Instant::now();
    let task = tokio::spawn(scheduler::run(deps, shutdown.clone()));
    while !stats.leading.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the initial load finish and discard its lags (first slots come after it).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let warm = started.elapsed();
    stats.lags.as_ref().unwrap().lock().unwrap().clear();
    let published_before = stats.published.load(std::sync::atomic::Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = t.elapsed().as_secs_f64();
    let published = stats.published.load(std::sync::atomic::Ordering::Relaxed) - published_before;
    let mut lags = stats.lags.as_ref().unwrap().lock().unwrap().clone();
    shutdown.cancel();
    let _ = task.await;
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let expected_rate = n as f64 / f64::from(interval);
    println!(
        "scheduler: {n} targets every {interval}s (expected {expected_rate:.0} jobs/s), measured {elapsed:.0}s after {:.1}s start-up",
        warm.as_secs_f64()
    );
    println!(
        "scheduler: published {published} jobs = {:.0} jobs/s; lag p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; missed {}, publish failures {}; drained {} jobs in {} messages",
        published as f64 / elapsed,
        pct(&lags, 0.50) * 1e3,
        pct(&lags, 0.95) * 1e3,
        pct(&lags, 0.99) * 1e3,
        lags.last().copied().unwrap_or(f64::NAN) * 1e3,
        stats.missed.load(std::sync::atomic::Ordering::Relaxed),
        stats.publish_failures.load(std::sync::atomic::Ordering::Relaxed),
        received.load(std::sync::atomic::Ordering::Relaxed),
        messages.load(std::sync::atomic::Ordering::Relaxed),
    );
    let ok = pct(&lags, 0.99) < 0.1 && (published as f64 / elapsed) >= expected_rate * 0.95;
    println!(
        "scheduler: capacity {} {:.0} targets/s with p99 lag < 100 ms (goal: 100,000 targets at 60 s = 1,667/s)",
        if ok { "≥" } else { "NOT reached at" },
        expected_rate
    );
    drain.close().await;
}

async fn bench_list() {
    let n = env_num("BENCH_LIST_TARGETS", 10_000);
    let requests = env_num("BENCH_REQUESTS", 200);
    let (pg, broker, ch) = (
        TestPg::new().await,
        TestBroker::new().await,
        TestClickHouse::new().await,
    );
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let app = tokio::spawn(backend::run_with(
        config(&pg, &broker, &ch),
        shutdown.clone(),
        move |a| {
            let _ = tx.send(a);
        },
    ));
    let addr = rx.await.unwrap();
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let me: Value = client
        .post(format!("http://{addr}/api/auth/register"))
        .json(&json!({"email": "bench@example.com", "password": "benchmark password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner: Uuid = me["id"].as_str().unwrap().parse().unwrap();
    insert_targets(&pg.pool, owner, n, 60).await;
    sqlx::query("analyze").execute(&pg.pool).await.unwrap();
    let deep: Value = client
        .get(format!("http://{addr}/api/targets?limit=50&cursor=bzo1MDAw"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deep["total"], n as u64);
    for (label, query) in [
        ("first page (limit 50, by name)", "limit=50"),
        ("sorted by status", "limit=50&sort=status"),
        ("text search", "limit=50&q=svc12"),
        ("tag filter", "limit=50&tag=odd"),
        ("page at offset 5000", "limit=50&cursor=bzo1MDAw"),
    ] {
        let url = format!("http://{addr}/api/targets?{query}");
        for _ in 0..10 {
            client.get(&url).send().await.unwrap().bytes().await.unwrap();
        }
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "api: GET /api/targets {label} with {n} targets: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({requests} sequential requests; goal p95 < 50 ms)",
            pct(&times, 0.5),
            pct(&times, 0.95),
            pct(&times, 0.99)
        );
    }
    shutdown.cancel();
    let _ = app.await;
}

/// Inserts `n` targets of `owner`; with `key`, each carries basic auth and an API key header,
/// sealed as the API stores them.
async fn insert_secret_targets(pool: &sqlx::PgPool, owner: Uuid, n: usize, key: Option<&backend::secrets::SecretKey>) {
    use common::messages::{CheckSpec, HttpAuth, HttpHeader, HttpSpec};
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        let mut specs = Vec::new();
        let mut sealed: Vec<Option<Vec<u8>>> = Vec::new();
        for k in chunk {
            let mut h = HttpSpec::get(format!("https://svc{k}.example.com/health"));
            h.timeout_ms = 5000;
            if key.is_some() {
                h.headers = vec![
                    HttpHeader::new("Accept", "application/json"),
                    HttpHeader::new("X-Api-Key", format!("key-{k}-0123456789abcdef")),
                ];
                h.auth = Some(HttpAuth::Basic {
                    username: "robot".into(),
                    password: format!("password-{k}-0123456789"),
                });
            } else {
                h.headers = vec![
                    HttpHeader::new("Accept", "application/json"),
                    HttpHeader::new("X-Trace", format!("trace-{k}-0123456789abcdef")),
                ];
            }
            let (spec, s) = backend::secrets::seal_spec(key, "spec", &CheckSpec::Http(h)).expect("sealed");
            ids.push(Uuid::now_v7());
            names.push(format!("service-{k:06}"));
            specs.push(serde_json::to_value(spec).unwrap());
            sealed.push(s);
        }
        for (((id, name), spec), s) in ids.iter().zip(&names).zip(&specs).zip(&sealed) {
            sqlx::query(
                "insert into targets (id, owner_id, name, kind, spec, interval_seconds, secrets) \
                 values ($1, $2, $3, 'http', $4, 60, $5)",
            )
            .bind(id)
            .bind(owner)
            .bind(name)
            .bind(spec)
            .bind(s)
            .execute(pool)
            .await
            .expect("target insert");
        }
    }
}

async fn bench_secrets() {
    let n = env_num("BENCH_SECRET_TARGETS", 2_000);
    let requests = env_num("BENCH_REQUESTS", 300);
    let (pg, broker, ch) = (
        TestPg::new().await,
        TestBroker::new().await,
        TestClickHouse::new().await,
    );
    let mut cfg = config(&pg, &broker, &ch);
    cfg.api.secret_key = Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    let key = backend::secrets::SecretKey::from_config(cfg.api.secret_key.as_ref())
        .unwrap()
        .unwrap();
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let app = tokio::spawn(backend::run_with(cfg, shutdown.clone(), move |a| {
        let _ = tx.send(a);
    }));
    let addr = rx.await.unwrap();
    let mut users = Vec::new();
    for (email, key) in [("plain@example.com", None), ("secret@example.com", Some(&key))] {
        let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let me: Value = client
            .post(format!("http://{addr}/api/auth/register"))
            .json(&json!({"email": email, "password": "benchmark password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let owner: Uuid = me["id"].as_str().unwrap().parse().unwrap();
        insert_secret_targets(&pg.pool, owner, n, key).await;
        let ids: Vec<Uuid> = sqlx::query_scalar("select id from targets where owner_id = $1")
            .bind(owner)
            .fetch_all(&pg.pool)
            .await
            .unwrap();
        users.push((client, ids));
    }
    sqlx::query("analyze").execute(&pg.pool).await.unwrap();
    // [list, one] × [plain, secret], requests interleaved so drift of the shared machine hits both.
    let mut times: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); 2]; 2];
    for round in 0..requests + 10 {
        for (u, (client, ids)) in users.iter().enumerate() {
            let urls = [
                format!("http://{addr}/api/targets?limit=50"),
                format!("http://{addr}/api/targets/{}", ids[round * 7919 % ids.len()]),
            ];
            for (kind, url) in urls.iter().enumerate() {
                let t = Instant::now();
                let r = client.get(url).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let body = r.bytes().await.unwrap();
                if u == 1 {
                    assert!(!String::from_utf8_lossy(&body).contains("password-"), "a secret leaked");
                }
                if round >= 10 {
                    times[kind][u].push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
    }
    for (kind, label) in [(0, "GET /api/targets?limit=50"), (1, "GET /api/targets/{id}")] {
        let mut p95 = [0.0; 2];
        for (u, who) in [(0, "before: no secrets  "), (1, "after: with secrets")]
            .iter()
            .copied()
        {
            let t = &mut times[kind][u];
            t.sort_by(|a, b| a.partial_cmp(b).unwrap());
            p95[u] = pct(t, 0.95);
            println!(
                "secrets: {label} {who} ({n} targets): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
                pct(t, 0.5),
                pct(t, 0.95),
                pct(t, 0.99)
            );
        }
        println!("secrets: {label} p95 after/before = {:.2}", p95[1] / p95[0]);
    }
    shutdown.cancel();
    let _ = app.await;
}

#[tokio::main]
async fn main() {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "list" {
        bench_list().await;
    }
    if only.is_empty() || only == "scheduler" {
        bench_scheduler().await;
    }
    if only.is_empty() || only == "secrets" {
        bench_secrets().await;
    }
}
