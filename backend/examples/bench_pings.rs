//! Heartbeat ping endpoint benchmark against the real PostgreSQL and RabbitMQ (a fresh
//! database and vhost), the whole backend running in this process with its defaults (the
//! per-heartbeat rate limit included):
//!
//! 1. **Capacity**: `BENCH_CONCURRENCY` clients (default 64) ping as fast as they are answered
//!    for `BENCH_SECONDS` (default 15); prints pings/s and latency percentiles.
//! 2. **Goal rate**: pings sent at a fixed `BENCH_RATE` (default 5,000/s) for `BENCH_SECONDS`,
//!    each timed from when it was due to be sent (so a slow server cannot hide its queue);
//!    prints the rate reached and the p50/p99/max latency against the goal (p99 < 50 ms).
//!
//! 3. **The broker alone**: the same `CheckResult`s published through the same confirming
//!    publisher to a queue of their own, 64 in flight, for `BENCH_SECONDS`: what one
//!    confirmed publication costs this process (the share of a ping that is the broker's).
//!
//! Each phase prints this process's CPU time per operation (user + system, from
//! `/proc/self/stat`): the backend and the load generator share it.
//!
//! Every 200 means the ping was stored and its result confirmed by the broker; the benchmark
//! checks that `results.store` holds exactly one result per answered ping.
//! `BENCH_HEARTBEATS` heartbeats (default 5,000) share the load, so none is pinged faster
//! than the default 120 per minute.
//!
//! `BENCH_PG_POOL` sizes the backend's PostgreSQL pool (default 10, the backend's default).
//!
//! `cargo run --release -p backend --example bench_pings`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bus::testing::TestBroker;
use common::testing::{TestClickHouse, TestPg};
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

/// `n` heartbeat targets (every hour, 5 min grace) of one owner; their ping tokens.
async fn heartbeats(pool: &sqlx::PgPool, n: usize) -> Vec<String> {
    let owner = Uuid::now_v7();
    sqlx::query("insert into users (id, email, password_hash) values ($1, 'bench@example.com', 'x')")
        .bind(owner)
        .execute(pool)
        .await
        .expect("user");
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let names: Vec<String> = (0..n).map(|k| format!("job-{k:05}")).collect();
    let tokens: Vec<String> = (0..n).map(|_| backend::heartbeats::new_token()).collect();
    let spec = serde_json::json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 300});
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, failure_threshold, success_threshold) \
         select id, $1, name, 'heartbeat', $4, 3600, '{heartbeat}', 1, 1 from unnest($2::uuid[], $3::text[]) as u(id, name)",
    )
    .bind(owner)
    .bind(&ids)
    .bind(&names)
    .bind(&spec)
    .execute(pool)
    .await
    .expect("targets");
    sqlx::query("insert into heartbeats (target_id, owner_id, token) select id, $1, token from unnest($2::uuid[], $3::text[]) as u(id, token)")
        .bind(owner)
        .bind(&ids)
        .bind(&tokens)
        .execute(pool)
        .await
        .expect("heartbeats");
    tokens
}

struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    latencies: std::sync::Mutex<Vec<f64>>,
}

impl Tally {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latencies: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn record(&self, ok: bool, latency: Duration) {
        if ok {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.latencies.lock().unwrap().push(latency.as_secs_f64() * 1000.0);
    }

    fn report(&self, what: &str, elapsed: Duration) -> (f64, f64) {
        let mut l = self.latencies.lock().unwrap().clone();
        l.sort_by(f64::total_cmp);
        let ok = self.ok.load(Ordering::Relaxed);
        let rate = ok as f64 / elapsed.as_secs_f64();
        let p99 = pct(&l, 0.99);
        println!(
            "{what:<28} {rate:>8.0} pings/s answered 200 ({ok} ok, {} failed); latency ms p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
            self.failed.load(Ordering::Relaxed),
            pct(&l, 0.5),
            pct(&l, 0.95),
            p99,
            l.last().copied().unwrap_or(f64::NAN),
        );
        (rate, p99)
    }
}

/// This process's CPU time (user + system) so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn cpu_per_op(cpu: f64, ops: u64) -> String {
    format!("{:.0} µs CPU per operation", cpu * 1e6 / ops.max(1) as f64)
}

async fn one(client: &reqwest::Client, url: &str) -> bool {
    matches!(client.get(url).send().await, Ok(r) if r.status() == 200)
}

#[tokio::main]
async fn main() {
    let concurrency = env_num("BENCH_CONCURRENCY", 64);
    let seconds = env_num("BENCH_SECONDS", 15) as u64;
    let rate = env_num("BENCH_RATE", 5_000) as u64;
    let n = env_num("BENCH_HEARTBEATS", 5_000);

    let (pg, broker, ch) = (
        TestPg::new().await,
        TestBroker::new().await,
        TestClickHouse::new().await,
    );
    let mut config = backend::Config {
        amqp: broker.config.clone(),
        pg: pg.config.clone(),
        clickhouse: ch.config.clone(),
        http: common::config::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
        },
        guard: Default::default(),
        api: Default::default(),
        edge: backend::config::EdgeConfig {
            ops_addr: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        },
    };
    // The backend's PostgreSQL pool (its default is 10): the ping writers, the lookups and the
    // incident engine share it.
    config.pg.max_connections = env_num("BENCH_PG_POOL", 10) as u32;
    common::db::migrate_pg(&pg.pool).await.expect("migrations");
    let tokens = Arc::new(heartbeats(&pg.pool, n).await);
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(backend::run_with(config, shutdown.clone(), move |addr| {
        let _ = tx.send(addr);
    }));
    let addr = rx.await.expect("the backend binds");
    let base = format!("http://{addr}/ping/");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(256))
        .build()
        .unwrap();
    // Warm up: the broker connection, the pools, the lookup cache of a few heartbeats.
    for t in tokens.iter().take(50) {
        assert!(
            one(&client, &format!("{base}{t}")).await,
            "a warm-up ping is answered 200"
        );
    }
    println!("bench_pings: {n} heartbeats, the backend and this load generator on one machine");

    // 1. Capacity: closed loop.
    let tally = Tally::new();
    let next = Arc::new(AtomicU64::new(0));
    let cpu = cpu_seconds();
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, tally, tokens, next, base) = (
                client.clone(),
                tally.clone(),
                tokens.clone(),
                next.clone(),
                base.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < end {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let url = format!("{base}{}", tokens[i % tokens.len()]);
                    let sent = Instant::now();
                    let ok = one(&client, &url).await;
                    tally.record(ok, sent.elapsed());
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let (capacity, _) = tally.report(&format!("capacity ({concurrency} clients)"), started.elapsed());
    let mut answered = tally.ok.load(Ordering::Relaxed);
    println!("{:<28} {}", "", cpu_per_op(cpu_seconds() - cpu, answered));

    // Let the rate limit's buckets refill (each heartbeat was pinged a few times above).
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 2. The goal's rate: open loop, each ping timed from when it was due.
    let tally = Tally::new();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let cpu = cpu_seconds();
    let started = Instant::now();
    let total = rate * seconds;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let (client, tally) = (client.clone(), tally.clone());
        let url = format!(
            "{base}{}",
            tokens[(next.fetch_add(1, Ordering::Relaxed) as usize) % tokens.len()]
        );
        tasks.push(tokio::spawn(async move {
            let ok = one(&client, &url).await;
            tally.record(ok, due.elapsed());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (reached, p99) = tally.report(&format!("at {rate}/s (open loop)"), started.elapsed());
    let open_ok = tally.ok.load(Ordering::Relaxed);
    println!("{:<28} {}", "", cpu_per_op(cpu_seconds() - cpu, open_ok));
    answered += open_ok;

    // 3. The broker alone: the pings' results, published to a queue nobody reads.
    let stop = CancellationToken::new();
    let bus = broker.broker("bench-publisher", stop.clone());
    let channel = bus
        .connection()
        .await
        .expect("the broker")
        .create_channel()
        .await
        .expect("a channel");
    channel
        .queue_declare("bench.publish".into(), Default::default(), Default::default())
        .await
        .expect("the bench queue");
    let publisher = bus::Publisher::new(bus.clone(), Duration::from_secs(10));
    let published = Arc::new(AtomicU64::new(0));
    let cpu = cpu_seconds();
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let sample = {
        let mut r = common::samples::check_result();
        r.check_kind = common::messages::CheckKind::Heartbeat;
        r
    };
    let publishers: Vec<_> = (0..64)
        .map(|_| {
            let (publisher, published, sample) = (publisher.clone(), published.clone(), sample.clone());
            tokio::spawn(async move {
                while Instant::now() < end {
                    let mut r = sample.clone();
                    r.result_id = Uuid::now_v7();
                    if publisher
                        .reply("bench.publish", &common::messages::Envelope::new(r))
                        .await
                        .is_ok()
                    {
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let n = published.load(Ordering::Relaxed);
    println!(
        "{:<28} {:>8.0} results/s published and confirmed (64 in flight); {}",
        "the broker alone",
        n as f64 / started.elapsed().as_secs_f64(),
        cpu_per_op(cpu_seconds() - cpu, n)
    );
    stop.cancel();

    // Every answered ping's result is in the broker (warm-up pings included).
    let expected = answered + 50;
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let depth = broker
            .management
            .queue_depth(common::messages::RESULTS_STORE_QUEUE)
            .await
            .unwrap_or(0);
        if depth >= expected || Instant::now() > deadline {
            break depth;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("results in results.store: {stored} for {expected} answered pings");
    let goal = reached >= 0.98 * rate as f64 && rate >= 5_000 && p99 < 50.0 && stored == expected;
    println!(
        "goal (≥ 5,000 pings/s, p99 < 50 ms, every ping confirmed): {} (capacity {capacity:.0}/s)",
        if goal { "met" } else { "NOT met" }
    );
    shutdown.cancel();
    let _ = server.await;
}
