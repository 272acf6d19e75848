//! Benchmark of the pinger: loopback targets with known answers, the real pinger binary
//! driven through RabbitMQ at fixed rates, and (when Debian's `prometheus-blackbox-exporter`
//! is installed) the blackbox exporter's `/probe` at the same rate on the same targets, in
//! alternating segments of one run.
//!
//! ```sh
//! [PINGTOWER_BENCH_NO_BUILD=1] cargo run --release -p pinger --example bench_pinger -- [--https-targets 10000 --https-interval 30]
//!     [--http-targets 100000 --http-interval 60] [--segment 20] [--concurrency 512]
//!     [--no-blackbox] [--no-baseline] [--rounds 4]
//! ```
//!
//! A first "baseline" segment sends stale jobs (answered as skipped, never run): the AMQP
//! and result cost per job, included in every pinger figure but absent from the exporter's.
//! Each segment lasts `--segment` seconds (the baseline half of it) at `targets / interval`
//! jobs per second; targets cycle, so a 30 s segment at 10,000 / 30 s checks each once.
//! Jobs travel as the scheduler sends them: those due within one 25 ms tick share
//! `CheckJobs` messages of up to 64, and each job's lag counts from the instant it fell due.
//!
//! The same load also runs through a bare client (this program started again with
//! `--bare-client`: hyper, and rustls for HTTPS, a fresh connection and full handshake per
//! request, no AMQP, no report) on the pinger's CPU: the floor of the issue's "within 1.5× of
//! a bare client" goal, measured on the machine at hand. Pinger, bare client and exporter
//! take turns in `--rounds` slices of each segment (the machine is shared: its background
//! load drifts over a minute, and a ratio of figures taken a minute apart drifts with it);
//! the figures printed are the sums over the slices.
//!
//! `PINGTOWER_BENCH_PINGER=<path>` runs another pinger binary (to compare two builds).
//!
//! The pinger (and the exporter) run on CPU 0, this process (targets, driver) on CPU 1
//! (`taskset`). Printed per segment: sustained checks/s, CPU µs per check of the measured
//! process only, p50/p99 lag (started − scheduled_for), peak RSS, open files, misclassifications.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bus::Publisher;
use bus::testing::TestBroker;
use chrono::Utc;
use common::messages::{
    CheckJob, CheckJobs, CheckResult, CheckSpec, DEFAULT_REGION, Envelope, FailureKind, HttpSpec, Outcome,
    RESULTS_INCIDENTS_QUEUE, RESULTS_STORE_QUEUE,
};
use futures::StreamExt;
use secrecy::ExposeSecret;
use support::{Pki, Reply, TestServer};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const IPS: [&str; 6] = [
    "127.0.0.10",
    "127.0.0.11",
    "127.0.0.12",
    "127.0.0.13",
    "127.0.0.14",
    "127.0.0.15",
];
const PORTS_PER_IP: usize = 2;

struct Args {
    https_targets: usize,
    https_interval: f64,
    http_targets: usize,
    http_interval: f64,
    segment: f64,
    blackbox: bool,
    baseline: bool,
    concurrency: usize,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        https_targets: 10_000,
        https_interval: 30.0,
        http_targets: 100_000,
        http_interval: 60.0,
        segment: 20.0,
        blackbox: true,
        baseline: true,
        concurrency: 512,
        rounds: 4,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = || argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--https-targets" => a.https_targets = v().parse().expect("number"),
            "--https-interval" => a.https_interval = v().parse().expect("seconds"),
            "--http-targets" => a.http_targets = v().parse().expect("number"),
            "--http-interval" => a.http_interval = v().parse().expect("seconds"),
            "--segment" => a.segment = v().parse().expect("seconds"),
            "--concurrency" => a.concurrency = v().parse().expect("number"),
            "--rounds" => a.rounds = v().parse::<usize>().expect("number").max(1),
            "--no-baseline" => {
                a.baseline = false;
                i += 1;
                continue;
            }
            "--no-blackbox" => {
                a.blackbox = false;
                i += 1;
                continue;
            }
            "--help" | "-h" => {
                println!(
                    "bench_pinger [--https-targets 10000 --https-interval 30] [--http-targets 100000 --http-interval 60]\n\
                     \x20            [--segment 20] [--concurrency 512] [--no-blackbox] [--no-baseline] [--rounds 4]\n\n\
                     Loopback targets checked by the real pinger through RabbitMQ, by a bare hyper client and by the\n\
                     blackbox exporter (when installed): CPU per check, lag, RSS and misclassifications per segment.\n\
                     PINGTOWER_BENCH_NO_BUILD=1 skips building the pinger; PINGTOWER_BENCH_PINGER=<path> runs another binary."
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other} (--help lists them)"),
        }
        i += 2;
    }
    a
}

/// What a target must be judged as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// A stale job: reported as skipped, not run (the AMQP-only baseline).
    Skipped,
    Up,
    Status,
    Expired,
}

fn expect_of(n: usize, https: bool) -> Expect {
    if https && n % 89 == 7 {
        Expect::Expired
    } else if n % 97 == 3 {
        Expect::Status
    } else {
        Expect::Up
    }
}

fn router() -> support::Router {
    Arc::new(|path: &str| {
        let n: usize = path.rsplit('/').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if path.starts_with("/r/") {
            Reply::redirect(302, &format!("/t/{n}"))
        } else if n % 97 == 3 {
            Reply::status(500, "<h1>Internal Server Error</h1>")
        } else {
            Reply::ok("<html><body>ok</body></html>")
        }
    })
}

struct Targets {
    http: Vec<TestServer>,
    https: Vec<TestServer>,
    expired: Vec<TestServer>,
}

impl Targets {
    fn url(&self, n: usize, https: bool) -> String {
        // Every 101st target goes through a redirect first.
        let path = if n % 101 == 5 {
            format!("/r/{n}")
        } else {
            format!("/t/{n}")
        };
        if !https {
            let s = &self.http[n % self.http.len()];
            return format!("http://{}{path}", s.addr);
        }
        if expect_of(n, true) == Expect::Expired {
            let s = &self.expired[n % self.expired.len()];
            return format!("https://{}{path}", s.addr);
        }
        let s = &self.https[n % self.https.len()];
        format!("https://{}{path}", s.addr)
    }
}

fn classify(r: &CheckResult) -> Option<Expect> {
    if pinger::report::is_skipped(r) {
        return Some(Expect::Skipped);
    }
    match (r.outcome, r.failure.as_ref().map(|f| f.kind)) {
        (Outcome::Up, None) => Some(Expect::Up),
        (Outcome::Down, Some(FailureKind::HttpStatus)) => Some(Expect::Status),
        (Outcome::Down, Some(FailureKind::TlsExpired)) => Some(Expect::Expired),
        _ => None,
    }
}

/// utime + stime of a process in microseconds.
fn cpu_us(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0) + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    ticks * 10_000
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn pinger_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    // `cargo run --example` does not build the binary: build it (a no-op when up to date),
    // unless PINGTOWER_BENCH_NO_BUILD is set (it is built already, and the build lock may be
    // held by other builds).
    if let Some(bin) = std::env::var_os("PINGTOWER_BENCH_PINGER") {
        return PathBuf::from(bin);
    }
    if std::env::var_os("PINGTOWER_BENCH_NO_BUILD").is_some() {
        return dir.join("pinger");
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "pinger", "--bin", "pinger"]);
    if dir.ends_with("release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().unwrap().success(), "building the pinger");
    dir.join("pinger")
}

/// A job waiting for its result: expected verdict, target number, scheduled time.
type Pending = (Expect, usize, chrono::DateTime<Utc>);

/// Shared bookkeeping of jobs in flight and results received.
#[derive(Default)]
struct Ledger {
    pending: Mutex<HashMap<Uuid, Pending>>,
    lags: Mutex<Vec<f64>>,
    received: AtomicUsize,
    wrong: AtomicUsize,
    wrong_samples: Mutex<Vec<String>>,
}

/// Which process a segment measured.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Measured {
    Pinger,
    Bare,
    Exporter,
}

struct SegmentReport {
    name: String,
    checks: usize,
    /// Wall time taken.
    seconds: f64,
    /// CPU time of the measured process.
    cpu_us: f64,
    /// Lags in ms, sorted (none where lag is not measured).
    lags: Vec<f64>,
    wrong: usize,
    unanswered: usize,
}

impl SegmentReport {
    fn rate(&self) -> f64 {
        self.checks as f64 / self.seconds
    }

    fn cpu_per_check_us(&self) -> f64 {
        self.cpu_us / self.checks.max(1) as f64
    }

    /// Adds a later slice of the same segment.
    fn absorb(&mut self, slice: SegmentReport) {
        self.checks += slice.checks;
        self.seconds += slice.seconds;
        self.cpu_us += slice.cpu_us;
        self.lags.extend(slice.lags);
        self.lags.sort_by(|a, b| a.total_cmp(b));
        self.wrong += slice.wrong;
        self.unanswered += slice.unanswered;
    }
}

/// The median of sorted, non-empty `xs`.
fn median(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Sums the slices of a segment into one report.
fn merged(total: &mut Option<SegmentReport>, slice: SegmentReport) {
    match total {
        Some(t) => t.absorb(slice),
        None => *total = Some(slice),
    }
}

#[allow(clippy::too_many_arguments)]
async fn pinger_segment(
    name: &str,
    publisher: &Publisher,
    ledger: &Arc<Ledger>,
    targets: &Targets,
    https: bool,
    count: usize,
    interval: f64,
    seconds: f64,
    pid: u32,
    peak_fds: &AtomicUsize,
    stale: bool,
) -> SegmentReport {
    let rate = count as f64 / interval;
    let total = (rate * seconds).round() as usize;
    ledger.lags.lock().unwrap().clear();
    ledger.received.store(0, Ordering::SeqCst);
    ledger.wrong.store(0, Ordering::SeqCst);
    let cpu0 = cpu_us(pid);
    let started = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut sent = 0usize;
    // As the scheduler does: the jobs due within one tick share messages (its default tick).
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    let started_utc = Utc::now();
    let mut next_target = 0usize;
    while sent < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate) as usize).min(total);
        let mut jobs = Vec::with_capacity(due.saturating_sub(sent));
        while sent < due {
            let n = next_target % count;
            next_target += 1;
            let mut spec = HttpSpec::get(targets.url(n, https));
            spec.timeout_ms = 10_000;
            // The instant the job fell due: its lag includes the wait for the tick.
            let due_at = started_utc + chrono::Duration::microseconds((sent as f64 / rate * 1e6) as i64);
            let job = CheckJob {
                job_id: Uuid::now_v7(),
                target_id: Uuid::now_v7(),
                owner_id: Some(Uuid::now_v7()),
                allow_private: true,
                region: DEFAULT_REGION.into(),
                scheduled_for: due_at,
                deadline: if stale {
                    Utc::now() - chrono::Duration::seconds(1)
                } else {
                    due_at + chrono::Duration::seconds(interval as i64)
                },
                spec: CheckSpec::Http(spec),
            };
            let expected = if stale { Expect::Skipped } else { expect_of(n, https) };
            ledger.pending.lock().unwrap().insert(job.job_id, (expected, n, due_at));
            jobs.push(job);
            sent += 1;
        }
        for message in CheckJobs::chunked(DEFAULT_REGION, jobs) {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let p = publisher.clone();
            tokio::spawn(async move {
                p.publish(&Envelope::new(message)).await.expect("jobs published");
                drop(permit);
            });
        }
        peak_fds.fetch_max(open_files(pid), Ordering::Relaxed);
    }
    // Drain: wait until every job of the segment has its result (or 30 s).
    let drain_until = Instant::now() + Duration::from_secs(30);
    while ledger.received.load(Ordering::SeqCst) < total && Instant::now() < drain_until {
        peak_fds.fetch_max(open_files(pid), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let cpu = cpu_us(pid) - cpu0;
    let checks = ledger.received.load(Ordering::SeqCst);
    let mut lags = ledger.lags.lock().unwrap().clone();
    lags.sort_by(|a, b| a.total_cmp(b));
    let unanswered = ledger.pending.lock().unwrap().len();
    ledger.pending.lock().unwrap().clear();
    SegmentReport {
        name: name.to_owned(),
        checks,
        seconds: took,
        cpu_us: cpu as f64,
        lags,
        wrong: ledger.wrong.load(Ordering::SeqCst),
        unanswered,
    }
}

async fn consume_results(b: bus::Broker, ledger: Arc<Ledger>, stop: CancellationToken) {
    let conn = b.connection().await.unwrap();
    for queue in [RESULTS_STORE_QUEUE, RESULTS_INCIDENTS_QUEUE] {
        // A raw no-ack lapin consumer, as the backend's tests have: one shared copy would live in bus::testing.
        let ch = conn.create_channel().await.unwrap();
        ch.basic_qos(2000, Default::default()).await.unwrap();
        let mut consumer = ch
            .basic_consume(
                queue.into(),
                format!("bench-{queue}").as_str().into(),
                lapin::options::BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        let ledger = ledger.clone();
        let stop = stop.clone();
        let count = queue == RESULTS_STORE_QUEUE;
        tokio::spawn(async move {
            loop {
                let d = tokio::select! {
                    _ = stop.cancelled() => return,
                    d = consumer.next() => d,
                };
                let Some(Ok(d)) = d else { return };
                if !count {
                    continue;
                }
                let Ok(env) = serde_json::from_slice::<Envelope<CheckResult>>(&d.data) else {
                    continue;
                };
                let r = env.payload;
                let Some((expected, n, scheduled)) = ledger.pending.lock().unwrap().remove(&r.job_id) else {
                    continue;
                };
                let lag = (r.started_at - scheduled).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                ledger.lags.lock().unwrap().push(lag);
                if classify(&r) != Some(expected) {
                    ledger.wrong.fetch_add(1, Ordering::SeqCst);
                    let mut s = ledger.wrong_samples.lock().unwrap();
                    if s.len() < 5 {
                        s.push(format!(
                            "target {n}: expected {expected:?}, got {:?} {:?}",
                            r.outcome, r.failure
                        ));
                    }
                }
                ledger.received.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    stop.cancelled().await;
    b.close().await;
}

struct Blackbox {
    child: Child,
    url: String,
}

fn start_blackbox(ca: &Path) -> Option<Blackbox> {
    let bin = ["/usr/bin/prometheus-blackbox-exporter"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    // The exporter binds the port itself, in its own process: this one cannot hold it.
    let port = common::testing::ports_for_other_processes(1)[0];
    let cfg = std::env::temp_dir().join(format!("pingtower-bench-blackbox-{port}.yml"));
    std::fs::write(
        &cfg,
        format!(
            "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n      preferred_ip_protocol: ip4\n      tls_config:\n        ca_file: {}\n",
            ca.display()
        ),
    )
    .ok()?;
    let child = Command::new("taskset")
        .args(["-c", "0", bin, &format!("--config.file={}", cfg.display())])
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Blackbox {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

#[allow(clippy::too_many_arguments)]
async fn blackbox_segment(
    name: &str,
    bbe: &Blackbox,
    client: &reqwest::Client,
    targets: &Targets,
    https: bool,
    count: usize,
    interval: f64,
    seconds: f64,
) -> SegmentReport {
    let pid = bbe.child.id();
    let rate = count as f64 / interval;
    let total = (rate * seconds).round() as usize;
    let cpu0 = cpu_us(pid);
    let started = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let wrong = Arc::new(AtomicUsize::new(0));
    let lag_sum = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(1024));
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut next = 0usize;
    let mut set = tokio::task::JoinSet::new();
    while sent < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate) as usize).min(total);
        while sent < due {
            let n = next % count;
            next += 1;
            let target = targets.url(n, https);
            let expected_up = expect_of(n, https) == Expect::Up;
            let url = format!("{}/probe", bbe.url);
            let (client, done, wrong, lag_sum) = (client.clone(), done.clone(), wrong.clone(), lag_sum.clone());
            let permit = sem.clone().acquire_owned().await.unwrap();
            let scheduled = Instant::now();
            set.spawn(async move {
                lag_sum.fetch_add(scheduled.elapsed().as_micros() as u64, Ordering::Relaxed);
                let body = client
                    .get(url)
                    .query(&[("module", "http_2xx"), ("target", target.as_str())])
                    .send()
                    .await
                    .ok();
                let text = match body {
                    Some(b) => b.text().await.unwrap_or_default(),
                    None => String::new(),
                };
                let success = text.lines().any(|l| l.trim() == "probe_success 1");
                if success != expected_up {
                    wrong.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
                drop(permit);
            });
            sent += 1;
        }
    }
    while set.join_next().await.is_some() {}
    let took = started.elapsed().as_secs_f64();
    let cpu = cpu_us(pid) - cpu0;
    let checks = done.load(Ordering::SeqCst);
    SegmentReport {
        name: name.to_owned(),
        checks,
        seconds: took,
        cpu_us: cpu as f64,
        lags: Vec::new(),
        wrong: wrong.load(Ordering::SeqCst),
        unanswered: 0,
    }
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--bare-client") {
        return bare_client_main(&argv[1..]);
    }
    let args = args();
    // This process (targets, driver) on CPU 1; the measured processes on CPU 0.
    let _ = Command::new("taskset")
        .args(["-a", "-p", "-c", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let pki = Pki::new();
    let good = pki.leaf(&IPS).server_config();
    let expired = pki.leaf_between(&IPS, -60, -2).server_config();
    let mut targets = Targets {
        http: Vec::new(),
        https: Vec::new(),
        expired: Vec::new(),
    };
    for ip in IPS {
        for _ in 0..PORTS_PER_IP {
            targets.http.push(TestServer::http(ip, router()).await);
            targets.https.push(TestServer::https(ip, router(), good.clone()).await);
        }
        targets
            .expired
            .push(TestServer::https(ip, router(), expired.clone()).await);
    }
    println!(
        "targets: {} HTTP and {} HTTPS servers on {} loopback addresses (ECDSA P-256 certificates from a CA made at start-up)",
        targets.http.len(),
        targets.https.len() + targets.expired.len(),
        IPS.len()
    );

    let broker = TestBroker::new().await;
    let stop = CancellationToken::new();
    let ledger = Arc::new(Ledger::default());
    let publisher = Publisher::new(broker.broker("bench-driver", stop.clone()), Duration::from_secs(30));
    publisher.broker().connection().await?;
    let consumer = tokio::spawn(consume_results(
        broker.broker("bench-results", stop.clone()),
        ledger.clone(),
        stop.clone(),
    ));

    let bin = pinger_binary();
    let mut pinger = Command::new("taskset")
        .arg("-c")
        .arg("0")
        .arg(&bin)
        .env("PINGTOWER_AMQP_URL", broker.config.amqp_url.expose_secret())
        .env("PINGTOWER_HTTP_ADDR", "127.0.0.1:0")
        .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
        .env("PINGTOWER_PINGER_EXTRA_CA_FILE", &pki.ca_file)
        .env("PINGTOWER_PINGER_CONCURRENCY", args.concurrency.to_string())
        .env("PINGTOWER_PINGER_ID", "bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    // taskset execs the pinger in place: the child's pid is the pinger's.
    let pid = pinger.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peak_fds = AtomicUsize::new(0);

    let bbe = if args.blackbox {
        start_blackbox(&pki.ca_file)
    } else {
        None
    };
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build()?;
    if bbe.is_some() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    } else if args.blackbox {
        println!("prometheus-blackbox-exporter is not installed: exporter segments skipped");
    }

    let mut reports = Vec::new();
    if args.baseline {
        // Jobs past their deadline: consumed, answered with a skipped result, acked — the
        // AMQP and result cost per job without any check.
        let r = pinger_segment(
            &format!(
                "pinger    baseline (stale jobs) {:.0}/s",
                args.http_targets as f64 / args.http_interval
            ),
            &publisher,
            &ledger,
            &targets,
            false,
            args.http_targets,
            args.http_interval,
            args.segment / 2.0,
            pid,
            &peak_fds,
            true,
        )
        .await;
        print_report(&r);
    }
    let plans = [
        (true, args.https_targets, args.https_interval),
        (false, args.http_targets, args.http_interval),
    ];
    for (https, count, interval) in plans {
        let proto = if https { "HTTPS" } else { "HTTP" };
        let label = format!("{proto} {count} targets / {interval} s");
        let rate = count as f64 / interval;
        let slice = args.segment / args.rounds as f64;
        // Pinger, bare client and exporter take turns in short slices, so that a change in
        // the machine's background load (it is shared) weighs on all three alike.
        let (mut ours, mut bare, mut theirs) = (None, None, None);
        let mut round_ratios = Vec::new();
        let mut exporter_ratios = Vec::new();
        for _ in 0..args.rounds {
            let r = pinger_segment(
                &format!("pinger    {label}"),
                &publisher,
                &ledger,
                &targets,
                https,
                count,
                interval,
                slice,
                pid,
                &peak_fds,
                false,
            )
            .await;
            let pinger_cpu = r.cpu_per_check_us();
            merged(&mut ours, r);
            match bare_segment(
                &format!("bare client {label}"),
                &targets,
                &pki.ca_file,
                https,
                rate,
                slice,
            ) {
                Some(r) => {
                    round_ratios.push(pinger_cpu / r.cpu_per_check_us());
                    merged(&mut bare, r);
                }
                None => println!("bare client {label}: could not run"),
            }
            if let Some(b) = &bbe {
                let r = blackbox_segment(
                    &format!("blackbox  {label}"),
                    b,
                    &client,
                    &targets,
                    https,
                    count,
                    interval,
                    slice,
                )
                .await;
                exporter_ratios.push(pinger_cpu / r.cpu_per_check_us());
                merged(&mut theirs, r);
            }
        }
        for (what, r) in [
            (Measured::Pinger, ours),
            (Measured::Bare, bare),
            (Measured::Exporter, theirs),
        ] {
            if let Some(r) = r {
                print_report(&r);
                reports.push((https, what, r));
            }
        }
        // The exporter's own figure moves between runs, so its ratio is shown slice by slice
        // too: each pair of slices ran back to back under the same background load.
        for (peer, ratios) in [("bare client", &mut round_ratios), ("exporter", &mut exporter_ratios)] {
            if ratios.is_empty() {
                continue;
            }
            let shown: Vec<String> = ratios.iter().map(|x| format!("{x:.2}")).collect();
            ratios.sort_by(f64::total_cmp);
            println!(
                "pinger / {peer} {label}, slice by slice: {} (median {:.2})",
                shown.join(" "),
                median(ratios)
            );
        }
    }

    let rss_peak = status_kib(pid, "VmHWM:");
    println!();
    println!(
        "pinger peak RSS: {:.1} MiB; peak open files: {}",
        rss_peak as f64 / 1024.0,
        peak_fds.load(Ordering::Relaxed)
    );
    for s in ledger.wrong_samples.lock().unwrap().iter() {
        println!("misclassified: {s}");
    }
    let figure = |https: bool, what: Measured| {
        reports
            .iter()
            .find(|(h, m, _)| *h == https && *m == what)
            .map(|x| x.2.cpu_per_check_us())
    };
    for (https, floor_ref, bbe_ref) in [(false, 65.0, 760.0), (true, 330.0, 1340.0)] {
        let Some(ours) = figure(https, Measured::Pinger) else {
            continue;
        };
        let floor = figure(https, Measured::Bare);
        let theirs = figure(https, Measured::Exporter);
        println!(
            "{}: pinger {ours:.0} µs/check; bare-client floor {} → {}; {:.2}× the issue's floor ({floor_ref} µs); exporter {} (issue: {bbe_ref} µs) → pinger/exporter = {}",
            if https { "HTTPS" } else { "HTTP" },
            floor
                .map(|f| format!("{f:.0} µs measured"))
                .unwrap_or_else(|| "not measured".into()),
            floor
                .map(|f| format!("{:.2}× the measured floor", ours / f))
                .unwrap_or_else(|| "-".into()),
            ours / floor_ref,
            theirs
                .map(|t| format!("{t:.0} µs measured"))
                .unwrap_or_else(|| "not measured".into()),
            theirs
                .map(|t| format!("{:.2}", ours / t))
                .unwrap_or_else(|| format!("{:.2} (vs issue figure)", ours / bbe_ref))
        );
    }

    stop.cancel();
    let _ = consumer.await;
    let _ = pinger.kill();
    let _ = pinger.wait();
    if let Some(mut b) = bbe {
        let _ = b.child.kill();
        let _ = b.child.wait();
    }
    Ok(())
}

fn print_report(r: &SegmentReport) {
    println!(
        "{:<44} checks {:>7}  sustained {:>7.1}/s  CPU {:>6.0} µs/check  lag p50 {:>7.1} ms  p99 {:>7.1} ms  misclassified {}  unanswered {}",
        r.name,
        r.checks,
        r.rate(),
        r.cpu_per_check_us(),
        pct(&r.lags, 0.5),
        pct(&r.lags, 0.99),
        r.wrong,
        r.unanswered
    );
}

// ---------------------------------------------------------------------------------------------
// The bare-client floor, measured in the same run: this program started again (pinned to the
// pinger's CPU) as a plain hyper client that opens a fresh connection (and, for HTTPS, makes a
// full rustls handshake with webpki verification) per request, reads the whole body and checks
// the status — no AMQP, no phases, no report. Its CPU per request is the floor the pinger is
// compared with.
// ---------------------------------------------------------------------------------------------

/// `--bare-client <http|https> <rate> <seconds> <ca file> <addr,addr,...>`: runs the floor
/// client and prints `bare <requests> <failures> <cpu µs>` (CPU from the first request on).
fn bare_client_main(argv: &[String]) -> anyhow::Result<()> {
    let https = argv[0] == "https";
    let rate: f64 = argv[1].parse()?;
    let seconds: f64 = argv[2].parse()?;
    let ca = PathBuf::from(&argv[3]);
    let addrs: Vec<std::net::SocketAddr> = argv[4].split(',').map(|a| a.parse()).collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(&ca)? {
            roots.add(cert?)?;
        }
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = rustls::client::Resumption::disabled();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
        let total = (rate * seconds).round() as usize;
        let failures = Arc::new(AtomicUsize::new(0));
        let sem = Arc::new(tokio::sync::Semaphore::new(512));
        let mut set = tokio::task::JoinSet::new();
        let cpu0 = cpu_us(std::process::id());
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let (mut sent, mut n) = (0usize, 0usize);
        while sent < total {
            tick.tick().await;
            let due = ((started.elapsed().as_secs_f64() * rate) as usize).min(total);
            while sent < due {
                n += 1;
                if expect_of(n, https) != Expect::Up || n % 101 == 5 {
                    continue;
                }
                let addr = addrs[n % addrs.len()];
                let path = format!("/t/{n}");
                let (tls, failures) = (tls.clone(), failures.clone());
                let permit = sem.clone().acquire_owned().await?;
                set.spawn(async move {
                    if !bare_get(&tls, https, addr, &path).await {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(permit);
                });
                sent += 1;
            }
        }
        while set.join_next().await.is_some() {}
        let cpu = cpu_us(std::process::id()) - cpu0;
        println!("bare {sent} {} {cpu}", failures.load(Ordering::SeqCst));
        anyhow::Ok(())
    })
}

/// One GET on a fresh connection; whether it answered 200 with its whole body.
async fn bare_get(tls: &tokio_rustls::TlsConnector, https: bool, addr: std::net::SocketAddr, path: &str) -> bool {
    use http_body_util::BodyExt;
    async fn exchange<S>(io: S, addr: std::net::SocketAddr, path: &str) -> Option<bool>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .ok()?;
        let request = http::Request::get(path)
            .header(http::header::HOST, addr.to_string())
            .header(http::header::CONNECTION, "close")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .ok()?;
        let work = async {
            let response = sender.send_request(request).await.ok()?;
            let ok = response.status() == 200;
            let body = response.into_body().collect().await.ok()?;
            Some(ok && !body.to_bytes().is_empty())
        };
        let (out, _) = tokio::join!(work, conn);
        out
    }
    let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let _ = tcp.set_nodelay(true);
    let out = if https {
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        match tls.connect(name, tcp).await {
            Ok(s) => exchange(s, addr, path).await,
            Err(_) => None,
        }
    } else {
        exchange(tcp, addr, path).await
    };
    out == Some(true)
}

/// Runs the floor client on CPU 0 at `rate` for `seconds`; its CPU per request.
fn bare_segment(
    name: &str,
    targets: &Targets,
    ca: &Path,
    https: bool,
    rate: f64,
    seconds: f64,
) -> Option<SegmentReport> {
    let servers = if https { &targets.https } else { &targets.http };
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.to_string()).collect();
    let started = Instant::now();
    let out = Command::new("taskset")
        .args(["-c", "0"])
        .arg(std::env::current_exe().ok()?)
        .arg("--bare-client")
        .arg(if https { "https" } else { "http" })
        .arg(rate.to_string())
        .arg(seconds.to_string())
        .arg(ca)
        .arg(addrs.join(","))
        .output()
        .ok()?;
    let took = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("bare "))?;
    let f: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let (requests, failures, cpu) = (f[0] as usize, f[1] as usize, f[2]);
    Some(SegmentReport {
        name: name.to_owned(),
        checks: requests,
        seconds: took.max(seconds),
        cpu_us: cpu as f64,
        lags: Vec::new(),
        wrong: failures,
        unanswered: 0,
    })
}
