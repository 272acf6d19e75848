//! Heartbeat ping endpoint benchmark against the real PostgreSQL and RabbitMQ (a fresh
//! database and vhost per run), the backend running as a **separate process** (this example
//! started again with `BENCH_ROLE=server`, configured through the backend's own `PINGTOWER_*`
//! variables and defaults, the per-heartbeat rate limit included), so the load generator's CPU
//! is not counted as the server's.
//!
//! For each backend configuration in `BENCH_ENGINE` (default `off,on`: a ping-serving backend
//! without the incident engine, `PINGTOWER_INCIDENT_ENGINE=false`, then the all-in-one backend
//! that also consumes every result in its incident engine):
//!
//! 1. **Capacity**: `BENCH_CONCURRENCY` clients (default 64) ping as fast as they are answered
//!    for `BENCH_SECONDS` (default 15).
//! 2. **Goal rate**: pings due at a fixed `BENCH_RATE` (default 5,000/s) for
//!    `BENCH_GOAL_SECONDS` (default 60: the goal says *sustains*, and a p99 read off 15 s
//!    turns on whether one of the host disk's stalls fell into them), sent over up to
//!    `BENCH_CONNECTIONS` keep-alive connections (default 256), each timed from when it was
//!    due (so a slow server cannot hide its queue). Printed with the phase: the p99 of each
//!    15 s of it, and the runs of pings answered in over 50 ms (due within 50 ms of each
//!    other): how many, and the largest. A stall of the disk shows as one such run: every
//!    ping due during it waits for the stalled commit, then for the next.
//!
//! The load generator speaks HTTP/1.1 through hyper's client connections, one per client task,
//! made before a phase's clock starts and kept between phases (it shares the two cores with
//! the server, so what it spends is the server's loss).
//!
//! Then, once, **the broker alone** (the peer): the same `CheckResult`s published by this
//! process through the same confirming publisher to the same exchange and queues, one message
//! per result as every other publisher of results sends them, `BENCH_CONNECTIONS` in flight:
//! what the broker's share of a ping would cost without the endpoint's batch messages; first
//! as fast as confirmed for `BENCH_SECONDS`, then at `BENCH_RATE` due for
//! `BENCH_GOAL_SECONDS`, each timed from when it was due to its confirm (one durable write,
//! where a ping waits on two), with the p99 of each 15 s.
//!
//! Beside each phase, what the disk gave meanwhile: the p99 and the longest wait of a 4 KiB
//! `fdatasync` every 10 ms (in `BENCH_DISK_PROBE_DIR`, by default the temporary directory),
//! since every ping waits on two such durable writes (PostgreSQL's commit and the broker's),
//! and what PostgreSQL wrote to its WAL per ping and the checkpoints that began (after one,
//! each page's first change is written whole), and the ping writer's pings per transaction
//! (from the server's `/metrics`; up to `BATCH_LIMIT` of them share one broker message).
//!
//! `BENCH_TRACE=DIR` writes each goal and capacity phase's pings (due time as milliseconds
//! since the epoch, latency in ms) and disk probes (end time, wait) to `DIR` as CSV; with
//! `BENCH_SERVER_LOG=warn,pingtower::ping_batches=debug` the server logs every batch of the
//! ping writer to standard error (its pings, and the milliseconds from its start until it was
//! applied, stored and committed, and confirmed by the broker), on the same clock: which of
//! the two durable writes a slow run of pings waited for.
//!
//! CPU per ping is read from `/proc`: the server process, RabbitMQ (`beam.smp`), PostgreSQL
//! (every `postgres` process) and this load generator, plus how busy the whole machine was.
//! The broker and PostgreSQL are shared servers: other work on them is counted too.
//!
//! Every 200 means the ping was stored and its result confirmed by the broker; the benchmark
//! reads `results.store` (and, without the engine, `results.incidents`) while it runs, as the
//! archiver and the engine would, and checks that `results.store` gave exactly one distinct
//! result per answered ping. `BENCH_HEARTBEATS` heartbeats (default 5,000) share the load, so none is
//! pinged faster than the default 120 per minute. `BENCH_PG_POOL` sizes the backend's
//! PostgreSQL pool (default 10, the backend's default).
//!
//! `cargo run --release -p backend --example bench_pings`

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bus::testing::TestBroker;
use common::testing::{TestClickHouse, TestPg};
use secrecy::ExposeSecret;
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

fn main() {
    if std::env::var("BENCH_ROLE").as_deref() == Ok("server") {
        serve();
    } else {
        tokio::runtime::Runtime::new().expect("a runtime").block_on(bench());
    }
}

/// The server role: the backend as its binary runs it (configuration from the environment),
/// printing its address, until the parent closes our standard input.
fn serve() {
    use clap::Parser;
    use std::io::Read;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned()),
        ))
        .with_writer(std::io::stderr)
        .init();
    let cli = backend::Cli::try_parse_from(["backend"]).expect("the backend's configuration");
    tokio::runtime::Runtime::new().expect("a runtime").block_on(async move {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
            stop.cancel();
        });
        backend::run_with(cli.config, shutdown, |addr| println!("BOUND {addr}"))
            .await
            .expect("the backend runs");
    });
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
    sqlx::query(
        "with h as (insert into heartbeats (target_id, owner_id, token) select id, $1, token from unnest($2::uuid[], $3::text[]) as u(id, token) returning target_id) \
         insert into heartbeat_deadlines (target_id) select target_id from h",
    )
        .bind(owner)
        .bind(&ids)
        .bind(&tokens)
        .execute(pool)
        .await
        .expect("heartbeats");
    tokens
}

/// CPU seconds (user + system) of process `pid` (`None`: it is gone).
fn proc_cpu(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Some((ticks(11) + ticks(12)) / 100.0)
}

/// The CPU seconds of every process whose command is `comm`, by pid.
fn cpu_of(comm: &str) -> HashMap<u32, f64> {
    let mut out = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
            && let Some(cpu) = proc_cpu(pid)
        {
            out.insert(pid, cpu);
        }
    }
    out
}

/// The machine's busy and total CPU time (all cores) from `/proc/stat`, in ticks.
fn machine() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// Where the CPU time went, at one moment.
struct Cpu {
    server: f64,
    client: f64,
    broker: HashMap<u32, f64>,
    pg: HashMap<u32, f64>,
    machine: (f64, f64),
}

impl Cpu {
    fn now(server: u32) -> Self {
        Self {
            server: proc_cpu(server).unwrap_or(0.0),
            client: proc_cpu(std::process::id()).unwrap_or(0.0),
            broker: cpu_of("beam.smp"),
            pg: cpu_of("postgres"),
            machine: machine(),
        }
    }

    /// CPU µs per operation since `self` (server, broker, PostgreSQL, client) and the share of
    /// the machine that was busy.
    fn since(&self, later: &Cpu, ops: u64) -> Usage {
        let grown = |a: &HashMap<u32, f64>, b: &HashMap<u32, f64>| {
            b.iter()
                .map(|(pid, t)| t - a.get(pid).copied().unwrap_or(0.0))
                .sum::<f64>()
        };
        let per = |s: f64| s * 1e6 / ops.max(1) as f64;
        Usage {
            server: per(later.server - self.server),
            broker: per(grown(&self.broker, &later.broker)),
            pg: per(grown(&self.pg, &later.pg)),
            client: per(later.client - self.client),
            busy: (later.machine.0 - self.machine.0) / (later.machine.1 - self.machine.1).max(1.0),
            // Busy time of the machine that none of the four accounts for (other programs).
            other: per((later.machine.0 - self.machine.0) / 100.0
                - (later.server - self.server)
                - grown(&self.broker, &later.broker)
                - grown(&self.pg, &later.pg)
                - (later.client - self.client))
            .max(0.0),
        }
    }
}

struct Usage {
    server: f64,
    broker: f64,
    pg: f64,
    client: f64,
    other: f64,
    busy: f64,
}

/// One phase's figures.
struct Row {
    engine: String,
    phase: String,
    rate: f64,
    ok: u64,
    failed: u64,
    p50: f64,
    p99: f64,
    max: f64,
    usage: Usage,
    confirmed: u64,
    answered: u64,
    disk: Disk,
    wal: Wal,
    /// Pings per transaction of the ping writer (and so, up to `BATCH_LIMIT`, results per
    /// broker message).
    batch: f64,
    /// The p99 of each 15 s of the phase, by when the pings were due.
    windows: Vec<f64>,
    /// The runs of pings answered in over 50 ms.
    slow: Vec<Slow>,
}

/// A run of pings answered in over [`SLOW_MS`]: due within [`SLOW_GAP_MS`] of each other.
struct Slow {
    /// When the first was due, from the phase's start (s).
    at: f64,
    /// From the first's due time to the last's (ms).
    span: f64,
    pings: usize,
    max: f64,
}

const SLOW_MS: f64 = 50.0;
const SLOW_GAP_MS: f64 = 50.0;

/// The runs of slow pings in `timeline` (due time, latency), in due order.
fn slow_runs(timeline: &[(f64, f64)]) -> Vec<Slow> {
    let Some(first) = timeline.iter().map(|(at, _)| *at).min_by(f64::total_cmp) else {
        return Vec::new();
    };
    let mut slow: Vec<(f64, f64)> = timeline.iter().copied().filter(|(_, l)| *l > SLOW_MS).collect();
    slow.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut runs: Vec<(f64, f64, usize, f64)> = Vec::new();
    for (at, latency) in slow {
        match runs.last_mut() {
            Some(run) if at - run.1 <= SLOW_GAP_MS => {
                run.1 = at;
                run.2 += 1;
                run.3 = run.3.max(latency);
            }
            _ => runs.push((at, at, 1, latency)),
        }
    }
    runs.into_iter()
        .map(|(a, b, pings, max)| Slow {
            at: (a - first) / 1000.0,
            span: b - a,
            pings,
            max,
        })
        .collect()
}

/// The p99 latency of each `window` of `timeline` (due time, latency), by due time.
fn window_p99s(timeline: &[(f64, f64)], window: f64) -> Vec<f64> {
    let Some(first) = timeline.iter().map(|(at, _)| *at).min_by(f64::total_cmp) else {
        return Vec::new();
    };
    let mut by: Vec<Vec<f64>> = Vec::new();
    for (at, latency) in timeline {
        let k = ((at - first) / window) as usize;
        if by.len() <= k {
            by.resize_with(k + 1, Vec::new);
        }
        by[k].push(*latency);
    }
    by.into_iter()
        .filter(|w| !w.is_empty())
        .map(|mut w| {
            w.sort_by(f64::total_cmp);
            pct(&w, 0.99)
        })
        .collect()
}

/// A free port on loopback, for the server's ops listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The ping writer's batches so far and the pings in them, from the server's `/metrics`.
async fn batches(ops: std::net::SocketAddr) -> (f64, f64) {
    let text = match reqwest::get(format!("http://{ops}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |name| common::testing::sample(&text, name).unwrap_or(f64::NAN);
    (
        value("pingtower_heartbeat_ping_batch_size_count"),
        value("pingtower_heartbeat_ping_batch_size_sum"),
    )
}

/// What PostgreSQL wrote to its WAL meanwhile (the whole server's), and the checkpoints that
/// began: a checkpoint's first touch of each page writes the whole page to the WAL.
#[derive(Clone, Copy, Default)]
struct Wal {
    bytes: f64,
    checkpoints: i64,
}

impl Wal {
    /// The server's WAL position and checkpoint count (PostgreSQL 15 and 16 count them in
    /// `pg_stat_bgwriter`, 17 in `pg_stat_checkpointer`).
    async fn now(pool: &sqlx::PgPool) -> (f64, i64) {
        let lsn: f64 = sqlx::query_scalar("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8")
            .fetch_one(pool)
            .await
            .unwrap_or(f64::NAN);
        let mut checkpoints = -1;
        let version: i32 = sqlx::query_scalar("select current_setting('server_version_num')::int4")
            .fetch_one(pool)
            .await
            .unwrap_or(0);
        let query = if version >= 170_000 {
            "select (num_timed + num_requested)::int8 from pg_stat_checkpointer"
        } else {
            "select (checkpoints_timed + checkpoints_req)::int8 from pg_stat_bgwriter"
        };
        if let Ok(n) = sqlx::query_scalar::<_, i64>(query).fetch_one(pool).await {
            checkpoints = n;
        }
        (lsn, checkpoints)
    }

    fn since(before: (f64, i64), after: (f64, i64)) -> Self {
        Self {
            bytes: after.0 - before.0,
            checkpoints: after.1 - before.1,
        }
    }
}

/// What the disk gave meanwhile: a probe writes 4 KiB and `fdatasync`s it every 10 ms in the
/// data directory's file system, as PostgreSQL's and the broker's commits do.
#[derive(Clone, Copy, Default)]
struct Disk {
    p99: f64,
    max: f64,
}

/// The disk probe, running until dropped.
struct DiskProbe {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(f64, f64)>>>,
}

impl DiskProbe {
    fn start() -> Self {
        use std::io::Write;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let dir =
                std::env::var("BENCH_DISK_PROBE_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string());
            let path = std::path::Path::new(&dir).join(format!("bench-pings-probe-{}", std::process::id()));
            let Ok(mut file) = std::fs::File::create(&path) else {
                return Vec::new();
            };
            let mut waits = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let _ = file.write_all(&[0u8; 4096]);
                let at = Instant::now();
                let _ = file.sync_data();
                waits.push((wall_ms(), at.elapsed().as_secs_f64() * 1000.0));
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = std::fs::remove_file(&path);
            waits
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self, trace: Option<&std::path::Path>) -> Disk {
        self.stop.store(true, Ordering::Relaxed);
        let timed = self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default();
        if let Some(path) = trace {
            let text: String = timed.iter().map(|(at, w)| format!("{at:.3},{w:.3}\n")).collect();
            let _ = std::fs::write(path, text);
        }
        let mut waits: Vec<f64> = timed.into_iter().map(|(_, w)| w).collect();
        waits.sort_by(f64::total_cmp);
        Disk {
            p99: pct(&waits, 0.99),
            max: waits.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// One keep-alive HTTP/1.1 connection of the load generator, through hyper's own client
/// connection (no pool, no URL parsing per request: the generator shares the server's two
/// cores, so what it spends is taken from the server).
struct Conn {
    addr: std::net::SocketAddr,
    send: Option<hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>>,
}

impl Conn {
    fn new(addr: std::net::SocketAddr) -> Self {
        Self { addr, send: None }
    }

    /// Connects, unless connected: whether it is.
    async fn connect(&mut self) -> bool {
        if self.send.as_ref().is_some_and(|s| !s.is_closed()) {
            return true;
        }
        let Ok(stream) = tokio::net::TcpStream::connect(self.addr).await else {
            return false;
        };
        let _ = stream.set_nodelay(true);
        let Ok((send, conn)) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await else {
            return false;
        };
        tokio::spawn(conn);
        self.send = Some(send);
        true
    }

    /// GETs `path`: whether the answer was a 200 with its body read. A failed connection is
    /// made again with the next request.
    async fn get(&mut self, path: &str) -> bool {
        use http_body_util::BodyExt;
        if !self.connect().await {
            return false;
        }
        let Some(send) = self.send.as_mut() else {
            return false;
        };
        if send.ready().await.is_err() {
            self.send = None;
            return false;
        }
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, "bench")
            .body(http_body_util::Empty::new())
            .expect("a request");
        match send.send_request(request).await {
            Ok(r) => r.status() == 200 && r.into_body().collect().await.is_ok(),
            Err(_) => {
                self.send = None;
                false
            }
        }
    }
}

struct Seen {
    ok: u64,
    failed: u64,
    latencies: Vec<f64>,
    elapsed: Duration,
    /// Each ping's due time (wall clock, ms since the epoch) and latency, for `BENCH_TRACE`.
    timeline: Vec<(f64, f64)>,
}

/// Milliseconds since the epoch: the clock the server's log and the disk probe share.
fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Where the pings go: the client, the URL base, the tokens and the next token's index.
struct Aim {
    addr: std::net::SocketAddr,
    /// Connections kept between phases.
    conns: std::sync::Mutex<Vec<Conn>>,
    base: String,
    tokens: Arc<Vec<String>>,
    next: Arc<AtomicU64>,
}

/// A load's next request: when it is due (`due`: the `i`th of one every `due` from
/// `started`, waited for; `None`: now), or `None` once `total` were taken or, unpaced, `end`
/// has passed.
async fn next_slot(
    taken: &AtomicU64,
    total: u64,
    started: Instant,
    end: Instant,
    due: Option<Duration>,
) -> Option<Instant> {
    let i = taken.fetch_add(1, Ordering::Relaxed);
    if i >= total || (due.is_none() && Instant::now() >= end) {
        return None;
    }
    Some(match due {
        Some(every) => {
            let at = started + every.mul_f64(i as f64);
            tokio::time::sleep_until(at.into()).await;
            at
        }
        None => Instant::now(),
    })
}

/// `tasks` connections, each taking the next ping (`due` tells when it is due, `None`: at
/// once) until `total` were sent or `end` passed; each ping timed from when it was due.
async fn load(aim: &Aim, tasks: usize, total: u64, end: Instant, due: Option<Duration>) -> Seen {
    // The connections are made before the clock starts, one after another (hundreds of
    // connects at once overflow the listener's backlog, and a dropped SYN is retried after a
    // second: the client's delay, not the server's).
    let mut conns: Vec<Conn> = {
        let mut kept = aim.conns.lock().expect("the connections");
        let n = kept.len();
        kept.drain(n.saturating_sub(tasks)..).collect()
    };
    conns.resize_with(tasks, || Conn::new(aim.addr));
    for conn in &mut conns {
        conn.connect().await;
    }
    let started = Instant::now();
    let started_wall = wall_ms();
    let taken = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (tokens, next, taken, base) = (aim.tokens.clone(), aim.next.clone(), taken.clone(), aim.base.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0u64, 0u64, Vec::new());
                let mut url = String::with_capacity(base.len() + 36);
                while let Some(at) = next_slot(&taken, total, started, end, due).await {
                    let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                    url.clear();
                    url.push_str(&base);
                    url.push_str(&tokens[k % tokens.len()]);
                    if conn.get(&url).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                    latencies.push((
                        started_wall + at.duration_since(started).as_secs_f64() * 1000.0,
                        at.elapsed().as_secs_f64() * 1000.0,
                    ));
                }
                (ok, failed, latencies, conn)
            })
        })
        .collect();
    let mut seen = Seen {
        ok: 0,
        failed: 0,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        timeline: Vec::new(),
    };
    for h in handles {
        let (ok, failed, l, conn) = h.await.expect("a client task");
        aim.conns.lock().expect("the connections").push(conn);
        seen.ok += ok;
        seen.failed += failed;
        seen.latencies.extend(l.iter().map(|(_, l)| *l));
        seen.timeline.extend(l);
    }
    seen.elapsed = started.elapsed();
    seen.latencies.sort_by(f64::total_cmp);
    seen
}

/// Stand-ins for the results' consumers, as in production: a reader of `results.store` (the
/// archiver's queue) that keeps the distinct result ids it saw, and, when the server runs
/// without its incident engine, a reader of `results.incidents` too (an engine elsewhere).
/// They read while the phases run (a queue nobody reads grows without bound in the broker,
/// which is not what a running suite does), so their CPU is in the client's and the broker's
/// figures.
struct Readers {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<Result<(), bus::AmqpError>>>,
    stored: Arc<std::sync::Mutex<HashSet<Uuid>>>,
}

impl Readers {
    fn start(broker: &TestBroker, engine: bool) -> Self {
        let stop = CancellationToken::new();
        let stored = Arc::new(std::sync::Mutex::new(HashSet::new()));
        let mut queues = vec![(common::messages::RESULTS_STORE_QUEUE, Some(stored.clone()))];
        if !engine {
            queues.push((common::messages::RESULTS_INCIDENTS_QUEUE, None));
        }
        let tasks = queues
            .into_iter()
            .map(|(queue, keep)| {
                let bus = broker.broker("bench-reader", stop.clone());
                let stop = stop.clone();
                let options = bus::ConsumerOptions::new(queue).batches(1000, Duration::from_millis(20));
                tokio::spawn(async move {
                    bus::consume_batches(
                        &bus,
                        options,
                        stop,
                        move |batch: Vec<common::messages::Envelope<common::messages::CheckResult>>| {
                            let keep = keep.clone();
                            async move {
                                if let Some(keep) = keep {
                                    keep.lock()
                                        .expect("the set")
                                        .extend(batch.iter().map(|e| e.payload.result_id));
                                }
                                Ok(())
                            }
                        },
                    )
                    .await
                })
            })
            .collect();
        Self { stop, tasks, stored }
    }

    /// Waits (up to a minute) until `results.store` gave `expected` distinct results in all;
    /// how many it gave. Results come one per message or several per batch message, so they
    /// are counted, not the queue's messages.
    async fn confirmed(&self, expected: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        let count = || self.stored.lock().expect("the set").len() as u64;
        while count() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        count()
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The server process, stopped (its standard input closed) and reaped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the backend as a separate process on `pg` and `broker`; it and its address.
fn spawn_server(
    pg: &TestPg,
    broker: &TestBroker,
    ch: &TestClickHouse,
    engine: bool,
    ops: std::net::SocketAddr,
) -> (Server, String) {
    let exe = std::env::current_exe().expect("this program's path");
    let mut cmd = Command::new(exe);
    cmd.env("BENCH_ROLE", "server")
        .env("PINGTOWER_AMQP_URL", broker.config.amqp_url.expose_secret())
        .env("PINGTOWER_REGIONS", broker.config.regions.join(","))
        .env(
            "PINGTOWER_RABBITMQ_MANAGEMENT_URL",
            broker.config.management_url.as_str(),
        )
        .env("PINGTOWER_DATABASE_URL", pg.config.database_url.expose_secret())
        .env(
            "PINGTOWER_DATABASE_MAX_CONNECTIONS",
            env_num("BENCH_PG_POOL", 10).to_string(),
        )
        .env("PINGTOWER_CLICKHOUSE_URL", ch.config.url.as_str())
        .env("PINGTOWER_CLICKHOUSE_DATABASE", &ch.config.database)
        .env("PINGTOWER_CLICKHOUSE_USER", &ch.config.user)
        .env("PINGTOWER_CLICKHOUSE_PASSWORD", ch.config.password.expose_secret())
        .env("PINGTOWER_HTTP_ADDR", "127.0.0.1:0")
        .env("PINGTOWER_OPS_ADDR", ops.to_string())
        .env("PINGTOWER_INCIDENT_ENGINE", engine.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("the server starts");
    let stdout = child.stdout.take().expect("its output");
    let server = Server(child);
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    while !line.starts_with("BOUND ") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("the server's output") > 0,
            "the server exited before binding"
        );
    }
    let addr = line.trim_start_matches("BOUND ").trim().to_owned();
    (server, addr)
}

/// Both phases against a fresh backend process (`engine`: with the incident engine).
async fn run_config(engine: bool, tokens_n: usize, rows: &mut Vec<Row>) {
    let concurrency = env_num("BENCH_CONCURRENCY", 64);
    let connections = env_num("BENCH_CONNECTIONS", 256);
    let seconds = env_num("BENCH_SECONDS", 15) as u64;
    let goal_seconds = env_num("BENCH_GOAL_SECONDS", 60) as u64;
    let rate = env_num("BENCH_RATE", 5_000) as u64;
    let (pg, broker, ch) = (
        TestPg::new().await,
        TestBroker::new().await,
        TestClickHouse::new().await,
    );
    let tokens = Arc::new(heartbeats(&pg.pool, tokens_n).await);
    let readers = Readers::start(&broker, engine);
    let ops = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (server, addr) = spawn_server(&pg, &broker, &ch, engine, ops);
    let pid = server.0.id();
    let addr: std::net::SocketAddr = addr.parse().expect("the server's address");
    let base = "/ping/".to_owned();
    // Warm up: the broker connection, the pools.
    let mut conn = Conn::new(addr);
    for t in tokens.iter().take(50) {
        assert!(conn.get(&format!("{base}{t}")).await, "a warm-up ping is answered 200");
    }
    let engine_name = if engine { "on" } else { "off" }.to_owned();
    let aim = Aim {
        addr,
        conns: std::sync::Mutex::new(vec![conn]),
        base,
        tokens,
        next: Arc::new(AtomicU64::new(50)),
    };
    let mut answered = 50;

    // 1. Capacity: closed loop. 2. The goal's rate: open loop, each ping timed from when it
    // was due.
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let phases = [
        (format!("capacity, {concurrency} clients"), None),
        (format!("{rate}/s due, open loop"), Some(every)),
    ];
    for (n, (phase, due)) in phases.into_iter().enumerate() {
        if n > 0 {
            // Let the rate limit's buckets refill (each heartbeat was pinged a few times above).
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let cpu = Cpu::now(pid);
        let probe = DiskProbe::start();
        let wal = Wal::now(&pg.pool).await;
        let batched = batches(ops).await;
        let seen = match due {
            None => {
                load(
                    &aim,
                    concurrency,
                    u64::MAX,
                    Instant::now() + Duration::from_secs(seconds),
                    None,
                )
                .await
            }
            Some(every) => {
                let far = Instant::now() + Duration::from_secs(3600);
                load(&aim, connections, rate * goal_seconds, far, Some(every)).await
            }
        };
        let usage = cpu.since(&Cpu::now(pid), seen.ok);
        let trace = std::env::var("BENCH_TRACE").ok().map(std::path::PathBuf::from);
        let disk = probe.finish(
            trace
                .as_ref()
                .map(|d| d.join(format!("{engine_name}-{n}-probe.csv")))
                .as_deref(),
        );
        if let Some(dir) = &trace {
            let text: String = seen
                .timeline
                .iter()
                .map(|(at, l)| format!("{at:.3},{l:.3}\n"))
                .collect();
            let _ = std::fs::write(dir.join(format!("{engine_name}-{n}-pings.csv")), text);
        }
        let wal = Wal::since(wal, Wal::now(&pg.pool).await);
        let batched_now = batches(ops).await;
        let batch = (batched_now.1 - batched.1) / (batched_now.0 - batched.0);
        answered += seen.ok;
        let stored = readers.confirmed(answered).await;
        rows.push(Row {
            engine: engine_name.clone(),
            phase,
            rate: seen.ok as f64 / seen.elapsed.as_secs_f64(),
            ok: seen.ok,
            failed: seen.failed,
            p50: pct(&seen.latencies, 0.5),
            p99: pct(&seen.latencies, 0.99),
            max: seen.latencies.last().copied().unwrap_or(f64::NAN),
            usage,
            confirmed: stored,
            answered,
            disk,
            wal,
            batch,
            windows: if due.is_some() {
                window_p99s(&seen.timeline, 15_000.0)
            } else {
                Vec::new()
            },
            slow: slow_runs(&seen.timeline),
        });
    }
    drop(server);
    readers.stop().await;
    drop_database(&pg).await;
}

/// Removes the run's database (the vhost and ClickHouse database go with their guards).
async fn drop_database(pg: &TestPg) {
    pg.pool.close().await;
    let server =
        std::env::var("PINGTOWER_TEST_PG_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if let Ok(admin) = sqlx::PgPool::connect(&format!("{server}/postgres")).await {
        // Not a query macro: a database's name cannot be a bound parameter; it is ours.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {} with (force)",
            pg.name
        )))
        .execute(&admin)
        .await;
        admin.close().await;
    }
}

/// What the broker alone gave: its capacity, and its latency at the goal's rate.
struct Peer {
    /// Results/s published and confirmed, `inflight` at once.
    capacity: f64,
    /// CPU µs per result of this process (readers included) and of the broker, at capacity.
    publisher_cpu: f64,
    broker_cpu: f64,
    /// At `rate` results/s due, each timed from when it was due to its confirm: p50, p99, max.
    p50: f64,
    p99: f64,
    max: f64,
    /// The p99 of each 15 s, by due time.
    windows: Vec<f64>,
    /// The disk probe meanwhile.
    disk: Disk,
}

/// The broker alone: the pings' results published by this process, one message each, to the
/// results exchange and its two quorum queues (those the server's results go to, read as
/// they are), `inflight` at once, first as fast as confirmed for `seconds`, then at `rate`
/// due for `goal_seconds` (each timed from when it was due, as the pings are): one durable
/// write per result where a ping waits on two.
async fn broker_alone(seconds: u64, goal_seconds: u64, rate: u64, inflight: usize) -> Peer {
    let broker = TestBroker::new().await;
    let stop = CancellationToken::new();
    let bus = broker.broker("bench-publisher", stop.clone());
    let publisher = bus::Publisher::new(bus.clone(), Duration::from_secs(10));
    // Read as the server's results are (both queues), so the broker's work is the same.
    let readers = Readers::start(&broker, false);
    let sample = {
        let mut r = common::samples::check_result();
        r.check_kind = common::messages::CheckKind::Heartbeat;
        r.region = backend::heartbeats::REGION.to_owned();
        r
    };
    // The topology declared and the channel open before the clock starts.
    publisher
        .publish(&common::messages::Envelope::new(sample.clone()))
        .await
        .expect("the broker confirms");
    let run = |total: u64, end: Instant, due: Option<Duration>| {
        let taken = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..inflight)
            .map(|_| {
                let (publisher, taken, sample) = (publisher.clone(), taken.clone(), sample.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while let Some(at) = next_slot(&taken, total, started, end, due).await {
                        let mut r = sample.clone();
                        r.result_id = Uuid::now_v7();
                        if publisher.publish(&common::messages::Envelope::new(r)).await.is_ok() {
                            latencies.push((
                                at.duration_since(started).as_secs_f64() * 1000.0,
                                at.elapsed().as_secs_f64() * 1000.0,
                            ));
                        }
                    }
                    latencies
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.expect("a publisher task"));
            }
            (all, started.elapsed())
        }
    };
    let cpu = Cpu::now(std::process::id());
    let (confirmed, elapsed) = run(u64::MAX, Instant::now() + Duration::from_secs(seconds), None).await;
    let usage = cpu.since(&Cpu::now(std::process::id()), confirmed.len() as u64);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let probe = DiskProbe::start();
    let far = Instant::now() + Duration::from_secs(3600);
    let (timed, _) = run(
        rate * goal_seconds,
        far,
        Some(Duration::from_secs_f64(1.0 / rate as f64)),
    )
    .await;
    let disk = probe.finish(None);
    let windows = window_p99s(&timed, 15_000.0);
    let mut timed: Vec<f64> = timed.into_iter().map(|(_, l)| l).collect();
    timed.sort_by(f64::total_cmp);
    readers.stop().await;
    stop.cancel();
    Peer {
        capacity: confirmed.len() as f64 / elapsed.as_secs_f64(),
        publisher_cpu: usage.client,
        broker_cpu: usage.broker,
        p50: pct(&timed, 0.5),
        p99: pct(&timed, 0.99),
        max: timed.last().copied().unwrap_or(f64::NAN),
        windows,
        disk,
    }
}

async fn bench() {
    let seconds = env_num("BENCH_SECONDS", 15) as u64;
    let rate = env_num("BENCH_RATE", 5_000) as u64;
    let n = env_num("BENCH_HEARTBEATS", 5_000);
    let engines = std::env::var("BENCH_ENGINE").unwrap_or_else(|_| "off,on".to_owned());
    println!(
        "bench_pings: {n} heartbeats; the backend in its own process, this load generator in another, on {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows = Vec::new();
    for engine in engines.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        run_config(matches!(engine, "on" | "true"), n, &mut rows).await;
    }
    let inflight = env_num("BENCH_CONNECTIONS", 256);
    let goal_seconds = env_num("BENCH_GOAL_SECONDS", 60) as u64;
    let peer = broker_alone(seconds, goal_seconds, rate, inflight).await;

    println!();
    println!(
        "{:<7} {:<24} {:>8} {:>7} {:>7} {:>8} {:>7} | {:>6} {:>6} {:>6} {:>6} {:>6} {:>5} | {:>17} | {:>15} | {:>10} {:>4} | {:>11}",
        "engine",
        "phase",
        "pings/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failed",
        "server",
        "broker",
        "pg",
        "client",
        "other",
        "busy",
        "confirmed/answered",
        "fsync p99/max ms",
        "WAL B/ping",
        "ckpt",
        "pings/batch"
    );
    println!(
        "{:<7} {:<24} {:>42} | {:^41} |",
        "", "", "", "CPU µs per ping; machine busy"
    );
    for r in &rows {
        println!(
            "{:<7} {:<24} {:>8.0} {:>7.1} {:>7.1} {:>8.1} {:>7} | {:>6.0} {:>6.0} {:>6.0} {:>6.0} {:>6.0} {:>4.0}% | {:>8}/{:<8} | {:>6.1}/{:<6.1}  | {:>10.0} {:>4} | {:>11.1}",
            r.engine,
            r.phase,
            r.rate,
            r.p50,
            r.p99,
            r.max,
            r.failed,
            r.usage.server,
            r.usage.broker,
            r.usage.pg,
            r.usage.client,
            r.usage.other,
            r.usage.busy * 100.0,
            r.confirmed,
            r.answered,
            r.disk.p99,
            r.disk.max,
            r.wal.bytes / r.ok.max(1) as f64,
            r.wal.checkpoints,
            r.batch,
        );
    }
    println!(
        "the broker alone, one message per result (results exchange, two quorum queues read meanwhile, {inflight} in flight): {:.0} results/s published and confirmed; CPU µs per result: publisher {:.0}, broker {:.0}",
        peer.capacity, peer.publisher_cpu, peer.broker_cpu
    );
    println!(
        "the broker alone at {rate}/s due, open loop (one durable write per result; a ping waits on two): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; p99 of each 15 s: {} ms; fsync p99/max {:.1}/{:.1} ms",
        peer.p50,
        peer.p99,
        peer.max,
        peer.windows
            .iter()
            .map(|p| format!("{p:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        peer.disk.p99,
        peer.disk.max
    );
    for r in rows.iter().filter(|r| r.phase.contains("open loop")) {
        let met =
            rate >= 5_000 && r.rate >= 0.98 * rate as f64 && r.failed == 0 && r.p99 < 50.0 && r.confirmed == r.answered;
        let windows: Vec<String> = r.windows.iter().map(|p| format!("{p:.1}")).collect();
        println!(
            "goal (≥ 5,000 pings/s, p99 < 50 ms, every ping confirmed), incident engine {}: {} ({:.0}/s, p99 {:.1} ms, {}/{} confirmed; p99 of each 15 s: {} ms)",
            r.engine,
            if met { "MET" } else { "NOT met" },
            r.rate,
            r.p99,
            r.confirmed,
            r.answered,
            windows.join(", ")
        );
        let slow: usize = r.slow.iter().map(|s| s.pings).sum();
        let mut worst: Vec<&Slow> = r.slow.iter().collect();
        worst.sort_by_key(|s| std::cmp::Reverse(s.pings));
        let worst: Vec<String> = worst
            .iter()
            .take(5)
            .map(|s| {
                format!(
                    "{:.2} s: {} pings due in {:.0} ms, up to {:.0} ms",
                    s.at, s.pings, s.span, s.max
                )
            })
            .collect();
        println!(
            "  pings over {SLOW_MS} ms: {slow} ({:.2} %) in {} runs; the largest: {}",
            slow as f64 * 100.0 / r.ok.max(1) as f64,
            r.slow.len(),
            if worst.is_empty() {
                "none".to_owned()
            } else {
                worst.join("; ")
            }
        );
    }
}
