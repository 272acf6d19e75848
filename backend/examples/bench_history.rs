//! History benchmark against the real PostgreSQL, ClickHouse and RabbitMQ (fresh databases and
//! vhost, removed at the end):
//!
//! 1. **Data**: `BENCH_TARGETS` targets (default 1,000) with `BENCH_DAYS` days (default 30) of
//!    results every 60 s in ClickHouse (≈ 43 million rows; the rollups fill themselves through
//!    their materialized views), generated inside ClickHouse (`INSERT … SELECT … FROM
//!    numbers()`), and `BENCH_ARCHIVED_DAYS` older days (default 60) as the archiver leaves
//!    them in PostgreSQL (hourly and daily rollups, the days marked done in `archive_batches`).
//!    Every target has an outage of an hour every 97 hours, at its own offset. The newest
//!    `BENCH_COMPACT_DAYS` archived days (default 7) also hold every result, in the compact
//!    archive layout (`archive_days`, as the archiver writes it: details kept for failures and
//!    the first result after each change). Then the
//!    archiver's seal pass copies the closed fresh days' daily rollups to PostgreSQL, as
//!    `serve` does every few minutes.
//! 2. **Reads** through the real HTTP API (sequential requests, random targets): target overview
//!    (goal p95 < 100 ms), a 30-day latency series at a 1 h step (goal p95 < 150 ms), a 90-day
//!    status page of 20 targets (goal p95 < 200 ms), a 7-day result listing (100 a page, with
//!    the total) ending an hour after the seam, so it reads mostly the archive (goal p95 < 150 ms).
//! 3. **Incident engine**: `BENCH_RESULTS` results (default 100,000) over the same targets queued
//!    on `results.incidents`, then drained by the engine; results/s (goal ≥ 5,000). Each target
//!    fails 5 checks in a row once every `BENCH_OUTAGE_EVERY` checks (default 400), so incidents
//!    open and resolve throughout; half-way between outages it is ten times slower than usual for
//!    5 checks, which its latency baseline (computed from the generated history before the
//!    engine starts, and timed) turns into a degraded incident. `BENCH_ONLY=engine` skips the
//!    data, the reads and the baselines; `BENCH_BASELINES=off` skips the baselines (no latency
//!    is judged) and `BENCH_SLOW=off` the slow stretches; `BENCH_ENGINE_BATCH` sets the engine's
//!    batch size (default 1000, as in production). Cause correlation is on (every result shares
//!    the sample's address and failure, so outages a minute apart across targets group: its
//!    worst case); `BENCH_CORRELATION=off` turns it off, for the comparison.
//!
//! `cargo run --release -p backend --example bench_history`
//! (quick: `BENCH_TARGETS=100 BENCH_DAYS=3 BENCH_ARCHIVED_DAYS=5 BENCH_RESULTS=10000`)

use std::time::{Duration, Instant};

use bus::Publisher;
use bus::testing::TestBroker;
use chrono::{DateTime, Duration as Days, DurationRound, TimeDelta, Utc};
use common::messages::{CheckResult, Envelope, Outcome};
use common::testing::{TestClickHouse, TestPg};
use futures::StreamExt;
use rand::Rng;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Whether the switch `name` is `off`.
fn off(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "off")
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
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
            engine: backend::incidents::EngineSettings {
                batch: env_num("BENCH_ENGINE_BATCH", 1000),
                correlation_window: if off("BENCH_CORRELATION") {
                    Duration::ZERO
                } else {
                    backend::incidents::EngineSettings::default().correlation_window
                },
                ..Default::default()
            },
            ..Default::default()
        },
        edge: backend::config::EdgeConfig::unlimited(),
    }
}

struct App {
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl App {
    async fn start(pg: &TestPg, broker: &TestBroker, ch: &TestClickHouse) -> Self {
        let shutdown = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(backend::run_with(config(pg, broker, ch), shutdown.clone(), move |a| {
            let _ = tx.send(a);
        }));
        Self {
            addr: rx.await.expect("the backend binds"),
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Inserts `n` HTTP targets of `owner`; returns their ids.
async fn insert_targets(pool: &sqlx::PgPool, owner: Uuid, n: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let names: Vec<String> = (0..n).map(|k| format!("service-{k:05}")).collect();
    let specs: Vec<Value> = (0..n)
        .map(|k| json!({"kind": "http", "url": format!("https://svc{k}.example.com/health"), "timeout_ms": 5000}))
        .collect();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds)
         select id, $2, name, 'http', spec, 60 from unnest($1::uuid[], $3::text[], $4::jsonb[]) as t(id, name, spec)",
    )
    .bind(&ids)
    .bind(owner)
    .bind(&names)
    .bind(&specs)
    .execute(pool)
    .await
    .expect("targets insert");
    ids
}

/// One UTC day of results for every target, every 60 s, generated inside ClickHouse.
fn day_insert(targets: &[Uuid], day_start: DateTime<Utc>) -> String {
    let ids = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(",");
    let n = targets.len();
    // minute of the day = number / n, target index = number % n; an hour-long outage every
    // 97 hours at an offset of its own per target.
    format!(
        "INSERT INTO check_results (result_id, job_id, target_id, region, pinger_id, check_kind, checked_at,
             finished_at, duration_ms, outcome, failure_kind, failure_phase, failure_message, status_code,
             dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, resolved_ip, tls_days_left, probe_degraded, detail)
         SELECT generateUUIDv4(), generateUUIDv4(), toUUID(arrayElement([{ids}], (number % {n}) + 1)),
             'default', 'bench-pinger', 'http', toDateTime({start}) + intDiv(number, {n}) * 60 AS at,
             at + 1, toUInt32(40 + cityHash64(number, 1) % 160) AS ms,
             CAST(if(intDiv(toUInt32(at) + (number % {n}) * 3600, 3600) % 97 = 13, 'down', 'up')
                  AS Enum8('up' = 1, 'degraded' = 2, 'down' = 3)) AS outcome,
             if(outcome = 'down', 'http_status', ''), if(outcome = 'down', 'validation', ''),
             if(outcome = 'down', 'HTTP 503 Service Unavailable; expected 200-399', ''),
             toUInt16(if(outcome = 'down', 503, 200)),
             ms * 0.05, ms * 0.15, ms * 0.2, ms * 0.5, ms * 0.1, '93.184.216.34', CAST(NULL AS Nullable(Int32)),
             0, '{{\"hops\":[]}}'
         FROM numbers({rows})",
        start = day_start.timestamp(),
        rows = n * 1440,
    )
}

/// Old days as the archiver leaves them in PostgreSQL: rollups, and the day marked done.
async fn archive_days(pool: &sqlx::PgPool, targets: &[Uuid], first: DateTime<Utc>, days: usize) {
    if days == 0 {
        return;
    }
    let last = first + Days::days(days as i64);
    sqlx::query(
        "insert into result_rollups (target_id, granularity, bucket, checks, failures, degraded, downtime_seconds,
                                     latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms)
         select t, 'hour', h, 60, f, 0, f * 60.0, 110, 100, 180, 195, 199
         from unnest($1::uuid[]) with ordinality as u(t, k),
              generate_series($2::timestamptz, $3::timestamptz - interval '1 hour', interval '1 hour') as h,
              lateral (select case when ((extract(epoch from h)::bigint / 3600 + k * 1) % 97) = 13 then 60 else 0 end as f) x",
    )
    .bind(targets)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await
    .expect("hourly rollups");
    sqlx::query(
        "insert into result_rollups (target_id, granularity, bucket, checks, failures, degraded, downtime_seconds,
                                     latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms)
         select target_id, 'day', date_trunc('day', bucket at time zone 'UTC') at time zone 'UTC', sum(checks),
                sum(failures), 0, sum(downtime_seconds), 110, 100, 180, 195, 199
         from result_rollups where granularity = 'hour' group by 1, 3",
    )
    .execute(pool)
    .await
    .expect("daily rollups");
    sqlx::query(
        "insert into archive_batches (day, state, layout, finished_at)
         select d::date, 'done', 'days', now() from generate_series($1::timestamptz, $2::timestamptz - interval '1 day', interval '1 day') d",
    )
    .bind(first)
    .bind(last)
    .execute(pool)
    .await
    .expect("archive ledger");
}

/// Every result of the `days` days from `first` in the compact layout, one row per target
/// and day, written the archiver's way ([`archiver::days::upsert_row`]). The same outages as
/// the rollups; details kept for each target's first result of the day, every failure and the
/// first result after one (the sample result as detail).
async fn compact_days(pool: &sqlx::PgPool, targets: &[Uuid], first: DateTime<Utc>, days: usize) -> u64 {
    use common::archive_day::{DayRow, Entry};
    let mut rng = rand::rng();
    let mut written = 0u64;
    for d in 0..days {
        let day_start = first + Days::days(d as i64);
        let day = day_start.date_naive();
        archiver::days::ensure_partition(&mut pool.acquire().await.unwrap(), day)
            .await
            .unwrap();
        let mut rows = Vec::with_capacity(targets.len());
        for (k, target) in targets.iter().enumerate() {
            let mut prev_down = false;
            let entries: Vec<Entry> = (0..1440)
                .map(|m| {
                    let at = day_start + Days::minutes(m);
                    let down = ((at.timestamp() / 3600 + k as i64 + 1) % 97) == 13;
                    let ms: i32 = 40 + rng.random_range(0..160);
                    let keep = m == 0 || down || prev_down;
                    prev_down = down;
                    let (result_id, job_id) = (Uuid::new_v4(), Uuid::new_v4());
                    let detail = keep.then(|| {
                        let mut r = common::samples::check_result();
                        (r.result_id, r.job_id, r.target_id) = (result_id, job_id, *target);
                        r.started_at = at;
                        r.finished_at = at + Days::milliseconds(i64::from(ms));
                        r.duration_ms = ms as u32;
                        if !down {
                            (r.outcome, r.failure, r.status_code, r.body_excerpt) =
                                (Outcome::Up, None, Some(200), None);
                        }
                        serde_json::to_string(&r).unwrap()
                    });
                    let f = ms as f32;
                    Entry {
                        result_id,
                        job_id,
                        region: "default".into(),
                        pinger_id: "bench-pinger".into(),
                        check_kind: "http".into(),
                        started_ms: at.timestamp_millis(),
                        took_ms: ms,
                        duration_ms: ms,
                        outcome: if down { 3 } else { 1 },
                        status_code: if down { 503 } else { 200 },
                        failure_kind: if down { "http_status" } else { "" }.into(),
                        failure_phase: if down { "validation" } else { "" }.into(),
                        failure_message: String::new(),
                        timings: [f * 0.05, f * 0.15, f * 0.2, f * 0.5, f * 0.1],
                        resolved_ip: "93.184.216.34".into(),
                        tls_days_left: Some(30),
                        probe_degraded: false,
                        sig: 1,
                        detail,
                    }
                })
                .collect();
            rows.push(DayRow::build(day, *target, &entries).unwrap());
        }
        written += rows.len() as u64 * 1440;
        let writes = rows.chunks(100).map(|chunk| async move {
            let mut tx = pool.begin().await.unwrap();
            for row in chunk {
                archiver::days::upsert_row(&mut tx, row).await.unwrap();
            }
            tx.commit().await.unwrap();
        });
        futures::stream::iter(writes)
            .buffer_unordered(2)
            .collect::<Vec<_>>()
            .await;
    }
    written
}

/// Times `requests` sequential GETs of the URLs `url_of` makes; prints p50/p95/p99.
async fn measure(
    client: &reqwest::Client,
    label: &str,
    goal_ms: f64,
    requests: usize,
    url_of: impl Fn(usize) -> String,
) {
    for i in 0..5 {
        client.get(url_of(i)).send().await.unwrap().bytes().await.unwrap();
    }
    let mut times = Vec::with_capacity(requests);
    for i in 0..requests {
        let t = Instant::now();
        let r = client.get(url_of(i)).send().await.unwrap();
        let status = r.status();
        let body = r.bytes().await.unwrap();
        assert!(
            status.is_success(),
            "{label}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p95 = pct(&times, 0.95);
    println!(
        "{label}: p50 {:.1} ms, p95 {p95:.1} ms, p99 {:.1} ms ({requests} sequential requests; goal p95 < {goal_ms} ms: {})",
        pct(&times, 0.5),
        pct(&times, 0.99),
        if p95 < goal_ms { "met" } else { "NOT met" }
    );
}

/// `n` results over `targets` in time order: mostly up, some outages long enough to open and
/// resolve incidents.
fn engine_results(targets: &[Uuid], n: usize, outage_every: usize, slow_stretches: bool) -> Vec<CheckResult> {
    let per_target = n.div_ceil(targets.len());
    let start = Utc::now() - TimeDelta::seconds(per_target as i64 * 60);
    let mut rng = rand::rng();
    let mut out = Vec::with_capacity(n);
    for step in 0..per_target {
        for (k, target) in targets.iter().enumerate() {
            if out.len() == n {
                break;
            }
            let mut r = common::samples::check_result();
            r.result_id = Uuid::now_v7();
            r.job_id = Uuid::now_v7();
            r.target_id = *target;
            r.started_at = start + TimeDelta::seconds(step as i64 * 60);
            // The generated history's latency (40–200 ms); ten times that for 5 checks half-way
            // between outages (slow against the baseline).
            let phase = (step + k) % outage_every;
            let slow = slow_stretches && (outage_every / 2..outage_every / 2 + 5).contains(&phase);
            let ms = rng.random_range(40..200) * if slow { 10 } else { 1 };
            r.duration_ms = ms;
            r.finished_at = r.started_at + TimeDelta::milliseconds(i64::from(ms));
            // Down for 5 checks in a row once every `outage_every`, at an offset per target.
            if phase < 5 {
                r.outcome = Outcome::Down;
            } else {
                r.outcome = Outcome::Up;
                r.failure = None;
                r.status_code = Some(200);
            }
            out.push(r);
        }
    }
    out
}

/// The data, then the reads through the API.
#[allow(clippy::too_many_arguments)]
async fn reads(
    pg: &TestPg,
    broker: &TestBroker,
    ch: &TestClickHouse,
    client: &reqwest::Client,
    targets: &[Uuid],
    days: usize,
    archived_days: usize,
    requests: usize,
) {
    let n_targets = targets.len();
    // Data: the fresh days in ClickHouse (two days at a time), the older ones archived.
    let today = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap();
    let first_fresh = today - Days::days(days as i64 - 1);
    let t = Instant::now();
    let inserts = (0..days).map(|d| {
        let sql = day_insert(targets, first_fresh + Days::days(d as i64));
        let client = ch.client.clone();
        async move { client.query(&sql).execute().await.expect("generated day") }
    });
    futures::stream::iter(inserts)
        .buffer_unordered(2)
        .collect::<Vec<_>>()
        .await;
    let rows = (days * 1440 * n_targets) as f64;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "generated {rows:.0} rows in ClickHouse in {secs:.1} s ({:.0} rows/s, rollups included)",
        rows / secs
    );
    let t = Instant::now();
    archive_days(
        &pg.pool,
        targets,
        first_fresh - Days::days(archived_days as i64),
        archived_days,
    )
    .await;
    println!(
        "archived {archived_days} days of rollups into PostgreSQL in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let compact = env_num("BENCH_COMPACT_DAYS", 7).min(archived_days);
    let results = compact_days(&pg.pool, targets, first_fresh - Days::days(compact as i64), compact).await;
    let bytes: i64 = sqlx::query_scalar(
        "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 from pg_inherits i
         join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname = 'archive_days'",
    )
    .fetch_one(&pg.pool)
    .await
    .unwrap();
    println!(
        "wrote {results} results of the newest {compact} archived days in the compact layout in {:.1} s ({:.0} bytes a result)",
        t.elapsed().as_secs_f64(),
        bytes as f64 / results.max(1) as f64
    );
    sqlx::query("analyze").execute(&pg.pool).await.unwrap();
    // The archiver's seal pass: closed fresh days' daily rollups into PostgreSQL.
    let t = Instant::now();
    let sealed = archiver::seal::seal_days(&ch.client, &pg.pool, &CancellationToken::new())
        .await
        .expect("seal pass");
    sqlx::query("analyze result_rollups").execute(&pg.pool).await.unwrap();
    println!(
        "sealed {} closed days still in ClickHouse in {:.1} s ({:.0} ms per day of {n_targets} targets)",
        sealed.sealed.len(),
        t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64() * 1e3 / sealed.sealed.len().max(1) as f64
    );
    // A second app, started after the archive, sees its ledger as a fresh process would.
    let app = App::start(pg, broker, ch).await;
    let base = format!("http://{}", app.addr);
    client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "bench@example.com", "password": "benchmark password"}))
        .send()
        .await
        .unwrap();

    let page_targets: Vec<Value> = targets
        .iter()
        .take(20)
        .enumerate()
        .map(|(i, t)| json!({"target_id": t, "display_name": format!("Service {i}"), "position": i}))
        .collect();
    let page = client
        .post(format!("{base}/api/status-pages"))
        .json(&json!({"slug": "bench", "title": "Bench status", "description": "", "targets": page_targets}))
        .send()
        .await
        .unwrap();
    assert!(
        page.status().is_success(),
        "status page: {}",
        page.text().await.unwrap()
    );

    let pick: Vec<Uuid> = (0..requests + 5)
        .map(|_| targets[rand::rng().random_range(0..targets.len())])
        .collect();
    measure(
        client,
        "target overview (24 h / 7 d / 30 d / 90 d uptime)",
        100.0,
        requests,
        |i| format!("{base}/api/targets/{}/overview", pick[i]),
    )
    .await;
    let to = Utc::now();
    let from = to - Days::days(30);
    measure(
        client,
        "30-day latency series, 1 h step, p50/p95/p99 by phase",
        150.0,
        requests,
        |i| {
            format!(
                "{base}/api/targets/{}/latency?from={}&to={}&step=1h",
                pick[i],
                from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        },
    )
    .await;
    let anonymous = reqwest::Client::new();
    measure(&anonymous, "90-day status page of 20 targets", 200.0, requests, |_| {
        format!("{base}/status/bench")
    })
    .await;
    let to = first_fresh + Days::hours(1);
    let from = to - Days::days(7);
    let listing = |target: Uuid| {
        format!(
            "{base}/api/targets/{target}/results?from={}&to={}&limit=100",
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    };
    let page: Value = client
        .get(listing(targets[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let dropped = items.iter().filter(|i| i["detail_dropped"] == true).count();
    println!(
        "7-day listing: {} items on the first page ({dropped} from the archive without detail), total {}",
        items.len(),
        page["total"]
    );
    measure(
        client,
        "7-day result listing into the archive, 100 a page with the total",
        150.0,
        requests,
        |i| listing(pick[i]),
    )
    .await;
    app.stop().await;
}

#[tokio::main]
async fn main() {
    let n_targets = env_num("BENCH_TARGETS", 1000);
    let days = env_num("BENCH_DAYS", 30);
    let archived_days = env_num("BENCH_ARCHIVED_DAYS", 60);
    let n_results = env_num("BENCH_RESULTS", 100_000);
    let requests = env_num("BENCH_REQUESTS", 200);
    let outage_every = env_num("BENCH_OUTAGE_EVERY", 400).max(6);
    let engine_only = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "engine");
    let (pg, broker, ch) = tokio::join!(TestPg::new(), TestBroker::new(), TestClickHouse::new());
    println!(
        "bench_history: {n_targets} targets, {days} days in ClickHouse, {archived_days} archived days, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // An owner (through the API, for a session) and the targets.
    let app = App::start(&pg, &broker, &ch).await;
    let base = format!("http://{}", app.addr);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let me: Value = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"email": "bench@example.com", "password": "benchmark password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner: Uuid = me["id"].as_str().unwrap().parse().unwrap();
    let targets = insert_targets(&pg.pool, owner, n_targets).await;

    if !engine_only {
        reads(&pg, &broker, &ch, &client, &targets, days, archived_days, requests).await;
    }
    if !engine_only && !off("BENCH_BASELINES") {
        // The latency baselines, as the scheduler's leader computes them every hour.
        let t = Instant::now();
        let store = backend::history::Store {
            pg: pg.pool.clone(),
            ch: std::sync::Arc::new(ch.client.clone()),
        };
        let done = backend::baselines::refresh(&pg.pool, &store, Utc::now())
            .await
            .expect("baselines refresh");
        println!(
            "latency baselines of {} targets ({} with history) refreshed in {:.1} s",
            done.targets,
            done.with_history,
            t.elapsed().as_secs_f64()
        );
    }
    app.stop().await;

    // The incident engine: results queued first, then drained.
    let results = engine_results(&targets, n_results, outage_every, !off("BENCH_SLOW"));
    let publisher = Publisher::new(
        broker.broker("bench-publisher", CancellationToken::new()),
        Duration::from_secs(30),
    );
    let t = Instant::now();
    futures::stream::iter(results.into_iter().map(|r| {
        let publisher = publisher.clone();
        async move { publisher.publish(&Envelope::new(r)).await.expect("publish") }
    }))
    .buffer_unordered(256)
    .collect::<Vec<_>>()
    .await;
    println!(
        "queued {n_results} results in {:.1} s (not measured)",
        t.elapsed().as_secs_f64()
    );
    let app = App::start(&pg, &broker, &ch).await;
    let t = Instant::now();
    loop {
        let done: i64 = sqlx::query_scalar("select count(*) from processed_results")
            .fetch_one(&pg.pool)
            .await
            .unwrap();
        if done as usize >= n_results {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "the engine applied {done} of {n_results} in 10 min"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    let (incidents, degraded, grouped): (i64, i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where severity = 'degraded'), count(*) filter (where group_id is not null)
         from incidents",
    )
    .fetch_one(&pg.pool)
    .await
    .unwrap();
    let groups: i64 = sqlx::query_scalar("select count(*) from incident_groups")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    let rate = n_results as f64 / secs;
    println!(
        "incident engine (correlation {}): {n_results} results over {n_targets} targets in {secs:.1} s = {rate:.0} results/s, {incidents} incidents opened ({degraded} of them slow responses; {grouped} in {groups} group incidents) (goal ≥ 5,000/s: {})",
        if off("BENCH_CORRELATION") { "off" } else { "on" },
        if rate >= 5000.0 { "met" } else { "NOT met" }
    );
    app.stop().await;
}
