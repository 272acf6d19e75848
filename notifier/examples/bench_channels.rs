//! Throughput and delivery latency of the HTTP kinds of channel: 10,000 `opened` events
//! published at once into `incidents.notify`, through the whole notifier, to loopback fakes of
//! the 12 services (webhook, Slack, … Matrix; `channels::testing`). 200 owners, each with one
//! channel (kinds in turn, a fake per channel) and 50 incidents on 50 targets of their own.
//! Run: `cargo run --release -p notifier --example bench_channels`.
//!
//! Latency is the time from an event's publication (an `Instant` taken just before it is
//! published) to its request arriving at the fake; each request is mapped back to its incident
//! by the dashboard link `/incidents/<id>` every kind carries. Checked, and the run fails
//! otherwise: every (incident, channel) received exactly once at that channel's fake, nothing
//! else received, no request the service's documented shape rejects, and every
//! `notification_log` row `sent`.
//!
//! The per-channel interval is 1 ms (real services' pacing, 1 s for Slack, would make this
//! measure sleeps); 64 events at once, 20 PostgreSQL connections, Telegram and email off.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bus::Publisher;
use bus::testing::TestBroker;
use channels::Kind;
use channels::testing::{FakeService, Received, texts};
use common::messages::{
    CheckKind, Envelope, Evidence, INCIDENTS_NOTIFY_QUEUE, IncidentEvent, IncidentEventKind, TargetRef, TargetStatus,
};
use common::sealed::SecretKey;
use common::testing::TestPg;
use futures::StreamExt;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Owners, each with one channel.
const OWNERS: usize = 200;
/// Incidents (and targets) per owner.
const PER_OWNER: usize = 50;
/// Notifications in all.
const N: usize = OWNERS * PER_OWNER;
/// The least time between two messages to one channel.
const CHANNEL_INTERVAL: Duration = Duration::from_millis(1);
/// Events handled at once by the notifier, and publications in flight.
const CONCURRENCY: usize = 64;
/// How long the run may take before it counts as failed.
const DEADLINE: Duration = Duration::from_secs(600);
/// The dashboard's URL in the links.
const PUBLIC_URL: &str = "https://pingtower.example";

/// One owner's channel: its fake and its incidents.
struct Owner {
    channel: Uuid,
    fake: FakeService,
    incidents: Vec<Uuid>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (broker, pg) = tokio::join!(TestBroker::new(), TestPg::new());
    let pool = pg.pool.clone();
    let key_config = SecretString::from(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let key = SecretKey::from_config(Some(&key_config))?.expect("a key");

    let setup = Instant::now();
    let specs: Vec<(Kind, usize)> = (0..OWNERS)
        .map(|o| (Kind::HTTP[o % Kind::HTTP.len()], PER_OWNER))
        .collect();
    let (owners, events) = seed(&pool, &key, "bench", &specs).await?;
    let (warm_up, warm_up_events) = seed(&pool, &key, "warm-up", &[(Kind::Webhook, 1)]).await?;
    println!(
        "setup: {OWNERS} owners × {PER_OWNER} incidents = {N} notifications over {} kinds, a fake per channel ({:.1}s)",
        Kind::HTTP.len(),
        setup.elapsed().as_secs_f64()
    );

    let mut config = notifier::Config::new(broker.config.clone(), pg.config.clone());
    config.secret_key = Some(key_config);
    config.guard.allowed_ranges = vec!["127.0.0.0/8".parse()?];
    config.public_url = PUBLIC_URL.parse()?;
    config.delivery.channel_interval = CHANNEL_INTERVAL;
    config.delivery.concurrency = CONCURRENCY;
    config.service.pg.max_connections = 20;
    println!(
        "notifier: channel interval {} ms, concurrency {CONCURRENCY}, 20 PostgreSQL connections",
        CHANNEL_INTERVAL.as_millis()
    );
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(notifier::run_with(config, shutdown.clone(), |_| {}));
    let publisher = Publisher::new(
        broker.broker("bench", CancellationToken::new()),
        Duration::from_secs(30),
    );
    // One event first, not counted: once it has arrived, the notifier is consuming.
    for e in &warm_up_events {
        publisher.publish(e).await?;
    }
    wait_until("the warm-up notification", Duration::from_secs(60), || async {
        (!warm_up[0].fake.received().is_empty()).then_some(())
    })
    .await?;
    let published: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::new(Mutex::new(HashMap::with_capacity(N)));
    let started = Instant::now();
    futures::stream::iter(events)
        .map(|e| {
            let (p, published) = (publisher.clone(), published.clone());
            async move {
                published.lock().unwrap().insert(e.payload.incident_id, Instant::now());
                p.publish(&e).await
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<()>, _>>()?;
    let publish_time = started.elapsed();

    let waited = wait_until("every notification at the fakes", DEADLINE, || async {
        (owners.iter().map(|o| o.fake.received().len()).sum::<usize>() >= N).then_some(())
    })
    .await;
    // Every event (and the warm-up) handled and acked: whatever it causes has happened, so
    // the counts below are final (a duplicate would have arrived by now).
    let acked = wait_until("every event acked", Duration::from_secs(60), || async {
        (counted("pingtower_amqp_consumed_total", INCIDENTS_NOTIFY_QUEUE, "ack") > N as u64).then_some(())
    })
    .await;

    let published = published.lock().unwrap().clone();
    let mut failures = Vec::new();
    if let Err(e) = waited.and(acked) {
        failures.push(e.to_string());
    }
    let (per_kind, last) = measure(&owners, &published, &mut failures);
    check_log(&pool, &owners, &mut failures).await?;
    let total = last.map_or(started.elapsed(), |last| last - started);
    report(&per_kind, total, publish_time);

    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), service).await;
    publisher.broker().close().await;
    if failures.is_empty() {
        println!("checks: no loss, no duplicates, no shape problems, every log row sent: OK");
        Ok(())
    } else {
        for f in failures.iter().take(20) {
            eprintln!("FAILED: {f}");
        }
        anyhow::bail!("{} check(s) failed", failures.len())
    }
}

/// Inserts an owner per `(kind, incidents)` of `specs` with one channel of that kind (at a
/// fake of its own) and that many incidents on targets of their own, names starting with
/// `tag`; answers the owners and the `opened` events to publish.
async fn seed(
    pool: &PgPool,
    key: &SecretKey,
    tag: &str,
    specs: &[(Kind, usize)],
) -> anyhow::Result<(Vec<Owner>, Vec<Envelope<IncidentEvent>>)> {
    let mut owners = Vec::with_capacity(specs.len());
    let (mut users, mut emails) = (Vec::new(), Vec::new());
    let (mut targets, mut target_owners, mut names, mut incidents) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut events = Vec::new();
    for (o, &(kind, count)) in specs.iter().enumerate() {
        let user = Uuid::new_v4();
        users.push(user);
        emails.push(format!("{tag}-{o:03}@example.com"));
        let mut mine = Vec::with_capacity(count);
        for i in 0..count {
            let (target, incident, name) = (Uuid::new_v4(), Uuid::new_v4(), format!("{tag}-{o:03}-{i:02}"));
            events.push(Envelope::new(opened(incident, user, target, &name)));
            targets.push(target);
            target_owners.push(user);
            names.push(name);
            incidents.push(incident);
            mine.push(incident);
        }
        owners.push(Owner {
            channel: Uuid::nil(),
            fake: FakeService::start(kind).await,
            incidents: mine,
        });
    }
    sqlx::query(
        "insert into users (id, email, password_hash)
         select id, email, 'x' from unnest($1::uuid[], $2::text[]) as t(id, email)",
    )
    .bind(&users)
    .bind(&emails)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds)
         select id, owner, name, 'http', '{}', 60 from unnest($1::uuid[], $2::uuid[], $3::text[]) as t(id, owner, name)",
    )
    .bind(&targets)
    .bind(&target_owners)
    .bind(&names)
    .execute(pool)
    .await?;
    sqlx::query(
        "insert into incidents (id, target_id, owner_id, opened_at)
         select id, target, owner, now() from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as t(id, target, owner)",
    )
    .bind(&incidents)
    .bind(&targets)
    .bind(&target_owners)
    .execute(pool)
    .await?;
    for (owner, user) in owners.iter_mut().zip(&users) {
        owner.channel = http_channel(pool, key, *user, &owner.fake).await?;
    }
    Ok((owners, events))
}

/// A verified channel of the fake's kind for `user`, sending to `fake` (the kind's sample
/// settings and secrets, sealed with `key`).
async fn http_channel(pool: &PgPool, key: &SecretKey, user: Uuid, fake: &FakeService) -> anyhow::Result<Uuid> {
    let kind = fake.kind();
    let (settings, secrets) = (channels::testing::shape(kind).sample)(&fake.url(""));
    let valid = channels::validate(kind, &settings, &secrets)?;
    let id = Uuid::new_v4();
    let names: Vec<String> = secrets.0.keys().cloned().collect();
    sqlx::query(
        "insert into notification_channels (id, user_id, kind, address, verified_at, settings, secrets, secret_names, routing)
         values ($1, $2, $3, $4, now(), $5, $6, $7, '{}')",
    )
    .bind(id)
    .bind(user)
    .bind(kind.as_str())
    .bind(&valid.summary)
    .bind(&valid.settings)
    .bind(key.seal(&secrets))
    .bind(&names)
    .execute(pool)
    .await?;
    Ok(id)
}

/// The `opened` event of `incident` on `owner`'s target `name`.
fn opened(incident: Uuid, owner: Uuid, target: Uuid, name: &str) -> IncidentEvent {
    IncidentEvent {
        incident_id: incident,
        kind: IncidentEventKind::Opened,
        target: Some(TargetRef {
            id: target,
            owner_id: owner,
            name: name.into(),
            check_kind: CheckKind::Http,
            address: "https://example.com/".into(),
        }),
        state: TargetStatus::Down,
        regions: vec!["default".into()],
        started_at: chrono::Utc::now(),
        resolved_at: None,
        pinger_id: None,
        evidence: Evidence::default(),
        caused_by: None,
        group: None,
    }
}

/// Latencies (ms) of one kind.
#[derive(Default)]
struct Stats {
    latencies: Vec<f64>,
}

/// Checks what each fake received and answers the latencies per kind and the last arrival.
fn measure(
    owners: &[Owner],
    published: &HashMap<Uuid, Instant>,
    failures: &mut Vec<String>,
) -> (BTreeMap<&'static str, Stats>, Option<Instant>) {
    let mut per_kind: BTreeMap<&'static str, Stats> = BTreeMap::new();
    let mut last: Option<Instant> = None;
    for owner in owners {
        let kind = owner.fake.kind();
        let stats = per_kind.entry(kind.as_str()).or_default();
        let expected: HashSet<Uuid> = owner.incidents.iter().copied().collect();
        let mut seen: HashMap<Uuid, usize> = HashMap::new();
        for r in owner.fake.received() {
            last = Some(last.map_or(r.at, |l| l.max(r.at)));
            if !r.problems.is_empty() {
                failures.push(format!(
                    "{kind} channel {}: shape problems {:?}",
                    owner.channel, r.problems
                ));
            }
            if !(200..300).contains(&r.status) {
                failures.push(format!(
                    "{kind} channel {}: the fake answered {}",
                    owner.channel, r.status
                ));
            }
            let Some(incident) = incident_of(&r) else {
                failures.push(format!(
                    "{kind} channel {}: a request without an incident link",
                    owner.channel
                ));
                continue;
            };
            if !expected.contains(&incident) {
                failures.push(format!(
                    "{kind} channel {}: incident {incident} is not its owner's",
                    owner.channel
                ));
                continue;
            }
            *seen.entry(incident).or_default() += 1;
            if let Some(at) = published.get(&incident) {
                stats
                    .latencies
                    .push(r.at.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
        for incident in &expected {
            match seen.get(incident).copied().unwrap_or(0) {
                1 => {}
                0 => failures.push(format!("{kind} channel {}: incident {incident} lost", owner.channel)),
                n => failures.push(format!(
                    "{kind} channel {}: incident {incident} received {n} times",
                    owner.channel
                )),
            }
        }
    }
    (per_kind, last)
}

/// The incident a request is about: the one id after `/incidents/` in its texts (the
/// dashboard link; the acknowledgement link `/ack/<token>` carries none).
fn incident_of(r: &Received) -> Option<Uuid> {
    let texts = texts(r);
    let ids: HashSet<Uuid> = texts
        .match_indices("/incidents/")
        .filter_map(|(at, m)| texts.get(at + m.len()..at + m.len() + 36))
        .filter_map(|s| Uuid::parse_str(s).ok())
        .collect();
    (ids.len() == 1).then(|| ids.into_iter().next()).flatten()
}

/// Checks that the log has exactly one `sent` `opened` row per (incident, channel).
async fn check_log(pool: &PgPool, owners: &[Owner], failures: &mut Vec<String>) -> anyhow::Result<()> {
    let rows: Vec<(Uuid, Uuid, String, String)> =
        sqlx::query_as("select incident_id, channel_id, kind, status from notification_log where channel_id = any($1)")
            .bind(owners.iter().map(|o| o.channel).collect::<Vec<_>>())
            .fetch_all(pool)
            .await?;
    let expected: HashMap<Uuid, Uuid> = owners
        .iter()
        .flat_map(|o| o.incidents.iter().map(|i| (*i, o.channel)))
        .collect();
    let mut logged = HashSet::new();
    for (incident, channel, kind, status) in &rows {
        if expected.get(incident) != Some(channel) || kind != "opened" {
            failures.push(format!("log: unexpected row {incident} {channel} {kind}"));
        } else if status != "sent" {
            failures.push(format!("log: {incident} on {channel} is {status}"));
        }
        logged.insert(*incident);
    }
    if rows.len() != N || logged.len() != N {
        failures.push(format!(
            "log: {} rows for {} incidents, {N} expected",
            rows.len(),
            logged.len()
        ));
    }
    Ok(())
}

/// The `p`-th percentile of sorted `v`.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(v.len() - 1)]
}

/// Prints the table per kind and the totals.
fn report(per_kind: &BTreeMap<&'static str, Stats>, total: Duration, publish_time: Duration) {
    println!();
    println!(
        "{:<12} {:>6} {:>9} {:>9} {:>9}",
        "kind", "count", "p50 ms", "p99 ms", "max ms"
    );
    let mut all = Vec::new();
    for (kind, stats) in per_kind {
        let mut l = stats.latencies.clone();
        l.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{kind:<12} {:>6} {:>9.0} {:>9.0} {:>9.0}",
            l.len(),
            pct(&l, 0.50),
            pct(&l, 0.99),
            l.last().copied().unwrap_or_default()
        );
        all.extend(l);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{:<12} {:>6} {:>9.0} {:>9.0} {:>9.0}",
        "all",
        all.len(),
        pct(&all, 0.50),
        pct(&all, 0.99),
        all.last().copied().unwrap_or_default()
    );
    println!();
    println!(
        "total: {} notifications in {:.2}s (first publication → last arrival; publishing took {:.2}s): {:.0} notifications/s",
        all.len(),
        total.as_secs_f64(),
        publish_time.as_secs_f64(),
        all.len() as f64 / total.as_secs_f64()
    );
}

/// The sum of counter `name`'s series for `queue` and `result` in this process's recorder
/// (the notifier runs in this process).
fn counted(name: &str, queue: &str, result: &str) -> u64 {
    common::health::metrics_handle()
        .render()
        .lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with('{')))
        .filter(|line| line.contains(&format!("queue=\"{queue}\"")) && line.contains(&format!("result=\"{result}\"")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Polls `f` every 100 ms until it answers `Some`; an error naming `what` after `timeout`.
async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, f: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        // Not faster: reading the fakes copies every request they hold.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
