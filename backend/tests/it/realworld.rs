//! The whole check path with real components in-process: the backend (scheduler and incident
//! engine), real pingers and the real archiver, on fresh RabbitMQ vhost, PostgreSQL database
//! and ClickHouse database — the only thing the test provides is the monitored service, a
//! loopback HTTP server it can take down (for everyone, or only for one region's pinger).
//!
//! Regions are simulated by source addresses: Linux routes all of 127/8 to the loopback
//! interface, so a pinger bound to 127.0.0.2 reaches the server on 127.0.0.1, which sees the
//! peer 127.0.0.2 and can refuse it alone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use backend::incidents::machine::Quorum;
use backend::incidents::{Engine, EngineSettings};
use backend::scheduler::{self, Clock};
use bus::testing::TestBroker;
use common::messages::{INCIDENTS_NOTIFY_QUEUE, IncidentEvent, IncidentEventKind};
use common::testing::{TestClickHouse, TestPg};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{TestApp, backend_config, consume_no_ack, create_target, id_of, start};

/// Check interval of the test targets, in seconds (the operator minimum is lowered to 1).
const INTERVAL: u64 = 2;
/// Consecutive failures before a region is down (K).
const K: u64 = 3;
/// Consecutive successes before it is up again (M).
const M: u64 = 2;
/// The functional bound of the issue: an incident opens within K × interval + 5 s.
const OPEN_BOUND: Duration = Duration::from_secs(K * INTERVAL + 5);

/// Source address of the `eu` pinger (the one the server can refuse alone).
const EU_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// Source address of the `us` pinger.
const US_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

// ---------------------------------------------------------------------------------------------
// The monitored service

/// Everyone gets 200.
const SERVE_ALL: u8 = 0;
/// The peer 127.0.0.2 (the `eu` pinger) gets 503, everyone else 200.
const REFUSE_EU: u8 = 1;
/// Everyone gets 503.
const REFUSE_ALL: u8 = 2;
/// Everyone waits longer than the targets' timeout for an answer.
const HANG_ALL: u8 = 3;

/// A loopback HTTP server whose health endpoint can be switched between healthy and failing.
struct Service {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    stop: CancellationToken,
}

impl Service {
    async fn start() -> Self {
        Self::start_on(Ipv4Addr::LOCALHOST).await
    }

    /// The service on loopback address `ip` (any port).
    async fn start_on(ip: Ipv4Addr) -> Self {
        async fn health(
            State(mode): State<Arc<AtomicU8>>,
            ConnectInfo(peer): ConnectInfo<SocketAddr>,
        ) -> (StatusCode, &'static str) {
            let refused = match mode.load(Ordering::SeqCst) {
                SERVE_ALL => false,
                REFUSE_EU => peer.ip() == IpAddr::V4(EU_SOURCE),
                HANG_ALL => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    false
                }
                _ => true,
            };
            if refused {
                (StatusCode::SERVICE_UNAVAILABLE, "maintenance in progress")
            } else {
                (StatusCode::OK, "ok")
            }
        }
        let mode = Arc::new(AtomicU8::new(SERVE_ALL));
        let app = axum::Router::new()
            .route("/health", axum::routing::get(health))
            .with_state(mode.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let until = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await
                .unwrap();
        });
        Self { addr, mode, stop }
    }

    fn url(&self) -> String {
        format!("http://{}/health", self.addr)
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

// ---------------------------------------------------------------------------------------------
// The suite around it

/// Fresh servers whose topology knows the test regions.
async fn servers(regions: &[&str]) -> (TestBroker, TestPg, TestClickHouse) {
    let (mut broker, pg, ch) = tokio::join!(TestBroker::new(), TestPg::new(), TestClickHouse::new());
    for r in regions {
        if !broker.config.regions.iter().any(|known| known == r) {
            broker.config.regions.push((*r).to_owned());
        }
    }
    (broker, pg, ch)
}

/// The real pingers and the real archiver, running until `stop` is cancelled.
struct Workers {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Workers {
    /// One pinger per `(region, source address)` and the archiver (its archive job off: only
    /// the ingest into ClickHouse matters here).
    async fn start(
        broker: &TestBroker,
        pg: &TestPg,
        ch: &TestClickHouse,
        pingers: &[(&str, Option<Ipv4Addr>)],
    ) -> Self {
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        for (region, source) in pingers {
            let config = pinger::Config {
                command: None,
                amqp: broker.config.clone(),
                http: common::config::HttpConfig {
                    addr: "127.0.0.1:0".parse().unwrap(),
                },
                guard: common::config::GuardConfig {
                    allow_private_targets: true,
                    ..Default::default()
                },
                pinger: pinger::PingerConfig {
                    region: (*region).to_owned(),
                    id: Some(format!("pinger-{region}")),
                    source_addr: source.map(IpAddr::V4),
                    concurrency: 16,
                    ..Default::default()
                },
            };
            tasks.push(spawn_bound(|on_bound| pinger::run_with(config, stop.clone(), on_bound)).await);
        }
        let mut config = archiver::Config::new(broker.config.clone(), pg.config.clone(), ch.config.clone());
        config.archive.disabled = true;
        tasks.push(spawn_bound(|on_bound| archiver::run_with(config, stop.clone(), on_bound)).await);
        Self { stop, tasks }
    }

    /// Stops them and asserts each stopped cleanly.
    async fn stop(mut self) {
        self.stop.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let stopped = tokio::time::timeout(Duration::from_secs(20), task).await;
            assert!(matches!(stopped, Ok(Ok(Ok(())))), "a worker stops cleanly: {stopped:?}");
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Spawns a service and waits until its health server is bound (it is then starting up).
async fn spawn_bound<F, Fut>(run: F) -> tokio::task::JoinHandle<anyhow::Result<()>>
where
    F: FnOnce(Box<dyn FnOnce(SocketAddr) + Send>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(run(Box::new(move |addr| {
        let _ = tx.send(addr);
    })));
    rx.await.expect("the service binds its health server");
    task
}

/// The whole backend (API, scheduler, engine with the settings of the environment) with the
/// operator's minimum interval lowered to one second.
async fn backend(broker: TestBroker, pg: TestPg, ch: TestClickHouse) -> TestApp {
    let mut config = backend_config(&broker, &pg, &ch);
    config.api.min_interval_seconds = 1;
    start(config, pg, broker, ch).await
}

/// The body of a target checking `url` every [`INTERVAL`] from `regions` with K and M.
fn target_body(url: &str, regions: &[&str]) -> serde_json::Value {
    json!({
        "name": "shop",
        "spec": {"kind": "http", "url": url},
        "interval_seconds": INTERVAL,
        "timeout_seconds": 1,
        "regions": regions,
        "failure_threshold": K,
        "success_threshold": M,
    })
}

/// The whole path, arranged: the service, a pinger per `(region, source address)` and the
/// archiver, an event collector, the backend, and a target every [`INTERVAL`] from those
/// regions, seen up once.
struct Suite {
    service: Service,
    workers: Workers,
    stop: CancellationToken,
    events: Events,
    app: TestApp,
    id: Uuid,
}

impl Suite {
    async fn start(pingers: &[(&str, Option<Ipv4Addr>)]) -> Self {
        let regions: Vec<&str> = pingers.iter().map(|(region, _)| *region).collect();
        let service = Service::start().await;
        let (broker, pg, ch) = servers(&regions).await;
        let workers = Workers::start(&broker, &pg, &ch, pingers).await;
        let stop = CancellationToken::new();
        let events = Events::collect(&broker, stop.clone()).await;
        let app = backend(broker, pg, ch).await;
        let c = app.user("owner@example.com").await;
        let id = id_of(&create_target(&app, &c, &target_body(&service.url(), &regions)).await);
        wait_for_status(&app.pg.pool, id, "up", Duration::from_secs(30)).await;
        Self {
            service,
            workers,
            stop,
            events,
            app,
            id,
        }
    }

    /// Stops the collector, the workers (asserting each stopped cleanly) and the backend.
    async fn stop(self) {
        self.stop.cancel();
        self.workers.stop().await;
        self.app.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Observing it

/// Every incident event published to `incidents.notify`, with the moment it arrived.
#[derive(Clone)]
struct Events(Arc<Mutex<Vec<(Instant, IncidentEvent)>>>);

impl Events {
    /// Starts collecting (acking each event) until `stop`.
    async fn collect(broker: &TestBroker, stop: CancellationToken) -> Self {
        let events = Self(Arc::new(Mutex::new(Vec::new())));
        let out = events.clone();
        consume_no_ack(broker, INCIDENTS_NOTIFY_QUEUE, stop, move |event: IncidentEvent| {
            out.0.lock().unwrap().push((Instant::now(), event));
        })
        .await;
        events
    }

    fn all(&self) -> Vec<IncidentEvent> {
        self.0.lock().unwrap().iter().map(|(_, e)| e.clone()).collect()
    }

    fn kinds(&self) -> Vec<IncidentEventKind> {
        self.all().iter().map(|e| e.kind).collect()
    }

    /// Waits up to `timeout` for the first event of `kind`; when it arrived and the event.
    async fn first(&self, kind: IncidentEventKind, timeout: Duration) -> Option<(Instant, IncidentEvent)> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.0.lock().unwrap().iter().find(|(_, e)| e.kind == kind).cloned();
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Asserts an incident `opened` within [`OPEN_BOUND`] of `since`, when `what` happened; how
/// long it took, and the event.
fn opened_in_time(opened: Option<(Instant, IncidentEvent)>, since: Instant, what: &str) -> (Duration, IncidentEvent) {
    let (opened_at, event) = opened.unwrap_or_else(|| panic!("no incident opened after {what}"));
    let to_open = opened_at - since;
    assert!(
        to_open <= OPEN_BOUND,
        "opened {to_open:?} after {what} (bound {OPEN_BOUND:?})"
    );
    (to_open, event)
}

/// The engine's status of `target` (`None` before its first result).
async fn status(pool: &sqlx::PgPool, target: Uuid) -> Option<String> {
    sqlx::query_scalar("select status from target_state where target_id = $1")
        .bind(target)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Waits up to `timeout` until the engine says `target` is `want`.
async fn wait_for_status(pool: &sqlx::PgPool, target: Uuid, want: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let now = status(pool, target).await;
        if now.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "target {target} is {now:?} after {timeout:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (opened, resolved, regions) of every incident of `target`, oldest first.
async fn incidents(pool: &sqlx::PgPool, target: Uuid) -> Vec<(bool, Vec<String>)> {
    sqlx::query_as("select resolved_at is not null, regions from incidents where target_id = $1 order by opened_at")
        .bind(target)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Results of `target` that the archiver stored in ClickHouse.
async fn stored_results(ch: &clickhouse::Client, target: Uuid) -> u64 {
    // A UUID formatted by us: nothing to escape. toString works on ClickHouse 18.16 and later.
    ch.query(&format!(
        "SELECT count() FROM check_results WHERE toString(target_id) = '{target}'"
    ))
    .fetch_one::<u64>()
    .await
    .expect("ClickHouse answers")
}

/// Results of `target` checked from `region` that the archiver stored in ClickHouse (each once).
async fn stored_from(ch: &clickhouse::Client, target: Uuid, region: &str) -> u64 {
    ch.query(&format!(
        "SELECT uniqExact(result_id) FROM check_results WHERE toString(target_id) = '{target}' AND region = ?"
    ))
    .bind(region)
    .fetch_one::<u64>()
    .await
    .expect("ClickHouse answers")
}

/// Waits until `more` further results of `target` from each of `regions` are stored, the
/// engine has applied every stored result of it and its outbox is empty: whatever those checks
/// could set off has been published by then.
async fn further_checks_settled(
    pool: &sqlx::PgPool,
    ch: &clickhouse::Client,
    target: Uuid,
    regions: &[&str],
    more: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(more * INTERVAL + 30);
    let mut wanted = Vec::new();
    for region in regions {
        wanted.push((*region, stored_from(ch, target, region).await + more));
    }
    for (region, want) in wanted {
        loop {
            let now = stored_from(ch, target, region).await;
            if now >= want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{now} results of {target} from {region} stored, waiting for {want}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    loop {
        let ids: Vec<Uuid> = ch
            .query(&format!(
                "SELECT DISTINCT toString(result_id) FROM check_results WHERE toString(target_id) = '{target}'"
            ))
            .fetch_all::<String>()
            .await
            .expect("ClickHouse answers")
            .iter()
            .map(|id| id.parse().expect("a result id"))
            .collect();
        let (applied, waiting): (i64, i64) = sqlx::query_as(
            "select (select count(*) from processed_results where result_id = any($1)),
                    (select count(*) from incident_outbox)",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await
        .unwrap();
        if applied == ids.len() as i64 && waiting == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the engine applied {applied} of {} stored results, {waiting} events unpublished",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_loopback_server_going_down_opens_exactly_one_incident_within_k_intervals_and_coming_back_resolves_it() {
    // Arrange: the service, one pinger, the archiver and the backend; a target every 2 s.
    let began = Instant::now();
    let suite = Suite::start(&[("default", None)]).await;
    let (service, events, app, id) = (&suite.service, &suite.events, &suite.app, suite.id);

    // Act: the service fails, then recovers once the incident is open.
    service.set(REFUSE_ALL);
    let down_at = Instant::now();
    let opened = events.first(IncidentEventKind::Opened, Duration::from_secs(60)).await;
    service.set(SERVE_ALL);
    let up_at = Instant::now();
    let resolved = events.first(IncidentEventKind::Resolved, Duration::from_secs(60)).await;
    // A few more healthy checks, applied: nothing else may follow.
    further_checks_settled(&app.pg.pool, &app.ch.client, id, &["default"], 2).await;

    // Assert
    let (to_open, opened) = opened_in_time(opened, down_at, "the service went down");
    assert_eq!(opened.target.as_ref().map(|t| t.id), Some(id));
    assert_eq!(opened.regions, vec!["default".to_owned()]);
    let (resolved_at, resolved) = resolved.expect("the incident resolved");
    assert_eq!(resolved.incident_id, opened.incident_id);
    assert_eq!(
        events.kinds(),
        vec![IncidentEventKind::Opened, IncidentEventKind::Resolved],
        "exactly one opened, then exactly one resolved"
    );
    assert_eq!(
        incidents(&app.pg.pool, id).await,
        vec![(true, vec!["default".to_owned()])]
    );
    assert_eq!(status(&app.pg.pool, id).await.as_deref(), Some("up"));
    let stored = stored_results(&app.ch.client, id).await;
    assert!(stored > 0, "the archiver stored the pinger's results in ClickHouse");
    eprintln!(
        "opened after {to_open:?}, resolved {:?} after recovery, {stored} results in ClickHouse, test took {:?}",
        resolved_at - up_at,
        began.elapsed()
    );
    suite.stop().await;
}

#[tokio::test]
async fn with_two_regions_and_a_majority_quorum_one_refused_region_opens_nothing_and_both_open_one_incident() {
    // Arrange: pingers in eu (127.0.0.2) and us (127.0.0.3); the backend's default quorum is a
    // majority, which of two regions is both.
    let began = Instant::now();
    let suite = Suite::start(&[("eu", Some(EU_SOURCE)), ("us", Some(US_SOURCE))]).await;
    let (service, events, app, id) = (&suite.service, &suite.events, &suite.app, suite.id);

    // Act 1: the service refuses eu only. Once eu counts as down (the target is degraded),
    // two more rounds of checks.
    service.set(REFUSE_EU);
    wait_for_status(&app.pg.pool, id, "degraded", Duration::from_secs(K * INTERVAL + 30)).await;
    further_checks_settled(&app.pg.pool, &app.ch.client, id, &["eu", "us"], 2).await;
    let one_region = events.all();
    let one_region_incidents = incidents(&app.pg.pool, id).await;

    // Act 2: it refuses both.
    service.set(REFUSE_ALL);
    let both_down_at = Instant::now();
    let opened = events.first(IncidentEventKind::Opened, Duration::from_secs(60)).await;
    // One more round of checks, applied: no second event may follow.
    further_checks_settled(&app.pg.pool, &app.ch.client, id, &["eu", "us"], 1).await;

    // Assert
    assert!(
        one_region.is_empty(),
        "one region of two is no majority: {one_region:?}"
    );
    assert!(one_region_incidents.is_empty(), "{one_region_incidents:?}");
    let (to_open, opened) = opened_in_time(opened, both_down_at, "the second region went down");
    let both = vec!["eu".to_owned(), "us".to_owned()];
    assert_eq!(opened.regions, both);
    assert_eq!(events.kinds(), vec![IncidentEventKind::Opened], "exactly one event");
    assert_eq!(incidents(&app.pg.pool, id).await, vec![(false, both)]);
    eprintln!(
        "opened {to_open:?} after both regions failed; test took {:?}",
        began.elapsed()
    );
    suite.stop().await;
}

#[tokio::test]
async fn with_a_quorum_of_one_region_the_single_refused_region_opens_the_incident() {
    // Arrange: the same two regions, and the backend's scheduler and incident engine in-process
    // with the quorum set to one region (as PINGTOWER_INCIDENT_QUORUM=1 would).
    let began = Instant::now();
    let service = Service::start().await;
    let (broker, pg, ch) = servers(&["eu", "us"]).await;
    let owner = Uuid::now_v7();
    // The owner may monitor private addresses (the service is on loopback; jobs carry it).
    sqlx::query("insert into users (id, email, password_hash) values ($1, 'owner@example.com', 'x')")
        .bind(owner)
        .execute(&pg.pool)
        .await
        .unwrap();
    sqlx::query("update organisations set may_private_targets = true where id = $1")
        .bind(owner)
        .execute(&pg.pool)
        .await
        .unwrap();
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, failure_threshold, success_threshold)
         values ($1, $2, 'shop', 'http', $3, $4, '{eu,us}', $5, $6)",
    )
    .bind(id)
    .bind(owner)
    .bind(json!({"kind": "http", "url": service.url(), "timeout_ms": 1000}))
    .bind(INTERVAL as i32)
    .bind(K as i32)
    .bind(M as i32)
    .execute(&pg.pool)
    .await
    .unwrap();
    let workers = Workers::start(&broker, &pg, &ch, &[("eu", Some(EU_SOURCE)), ("us", Some(US_SOURCE))]).await;
    let stop = CancellationToken::new();
    let events = Events::collect(&broker, stop.clone()).await;
    let state = backend::AppState::new(backend_config(&broker, &pg, &ch), stop.clone()).unwrap();
    let settings = EngineSettings {
        quorum: Quorum::AtLeast(1),
        ..EngineSettings::default()
    };
    let engine = Engine::new(
        state.pool.clone(),
        clickhouse::Client::clone(&state.clickhouse),
        settings,
    );
    let engine = tokio::spawn(backend::incidents::run(
        engine,
        state.broker.clone(),
        state.publisher.clone(),
        stop.clone(),
    ));
    let deps = backend::scheduler_deps(&state, Clock::real()).unwrap();
    let scheduler = tokio::spawn(scheduler::run(deps, stop.clone()));
    wait_for_status(&pg.pool, id, "up", Duration::from_secs(30)).await;

    // Act: the service refuses eu only.
    service.set(REFUSE_EU);
    let eu_down_at = Instant::now();
    let opened = events.first(IncidentEventKind::Opened, Duration::from_secs(60)).await;
    // One more round of checks, applied: no second event may follow.
    further_checks_settled(&pg.pool, &ch.client, id, &["eu", "us"], 1).await;

    // Assert
    // One failing region of two is a quorum of one.
    let (to_open, opened) = opened_in_time(opened, eu_down_at, "eu went down");
    assert_eq!(opened.regions, vec!["eu".to_owned()], "only eu saw it down");
    assert_eq!(events.kinds(), vec![IncidentEventKind::Opened], "exactly one event");
    assert_eq!(incidents(&pg.pool, id).await, vec![(false, vec!["eu".to_owned()])]);
    assert_eq!(status(&pg.pool, id).await.as_deref(), Some("down"));
    eprintln!("opened {to_open:?} after eu failed; test took {:?}", began.elapsed());
    stop.cancel();
    let _ = engine.await;
    let _ = scheduler.await;
    workers.stop().await;
    state.broker.close().await;
}

// ---------------------------------------------------------------------------------------------
// The broker restarting under load

/// Runs `rabbitmqctl` with `args`; true when it succeeded.
fn rabbitmqctl(args: &[&str]) -> bool {
    std::process::Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits until the broker application runs again (at most a minute).
fn await_broker() {
    rabbitmqctl(&["await_startup", "--timeout", "60"]);
}

/// Starts the broker application again however the test ends.
struct StartAppOnDrop;

impl Drop for StartAppOnDrop {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        await_broker();
    }
}

/// Every result the broker accepted, read from a queue of the test's own bound beside
/// `results.store` (durable, so it keeps what arrives while nobody reads).
async fn results_ledger(broker: &TestBroker, stop: CancellationToken) -> Arc<Mutex<std::collections::HashSet<Uuid>>> {
    const LEDGER_QUEUE: &str = "test.results.ledger";
    let mut topology = broker.topology();
    let mut queue = topology
        .queues
        .iter()
        .find(|q| q.name == common::messages::RESULTS_STORE_QUEUE)
        .expect("the topology has results.store")
        .clone();
    queue.name = LEDGER_QUEUE.into();
    topology.queues.push(queue);
    let ledger = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let seen = ledger.clone();
    let b = broker.broker_with("results-ledger", topology, stop.clone());
    b.connection()
        .await
        .expect("the ledger connects and declares its queue");
    tokio::spawn(async move {
        bus::consume(
            &b,
            bus::ConsumerOptions::new(LEDGER_QUEUE).concurrency(64),
            stop,
            move |envelope: common::messages::Envelope<common::messages::CheckResult>, _info| {
                seen.lock().unwrap().insert(envelope.payload.result_id);
                async { Ok(()) }
            },
        )
        .await
    });
    ledger
}

/// Result ids the archiver stored in ClickHouse.
async fn stored_result_ids(ch: &clickhouse::Client) -> std::collections::HashSet<Uuid> {
    ch.query("SELECT toString(result_id) FROM check_results")
        .fetch_all::<String>()
        .await
        .expect("ClickHouse answers")
        .into_iter()
        .filter_map(|id| id.parse().ok())
        .collect()
}

#[tokio::test]
async fn the_broker_restarting_for_15_s_under_load_is_ridden_out_by_every_process_and_no_result_is_lost() {
    // Arrange: one pinger, the archiver, the backend (scheduler, engine, API), ten targets
    // checked every second, and a ledger of every result the broker accepted.
    let service = Service::start().await;
    let (broker, pg, ch) = servers(&[]).await;
    let workers = Workers::start(&broker, &pg, &ch, &[("default", None)]).await;
    let stop = CancellationToken::new();
    let ledger = results_ledger(&broker, stop.clone()).await;
    let app = backend(broker, pg, ch).await;
    let c = app.user("owner@example.com").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let mut body = target_body(&service.url(), &["default"]);
        body["name"] = json!(format!("shop-{i}"));
        body["interval_seconds"] = json!(1);
        body["timeout_seconds"] = json!(0.5);
        let t = create_target(&app, &c, &body).await;
        ids.push(t["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    for id in &ids {
        wait_for_status(&app.pg.pool, *id, "up", Duration::from_secs(30)).await;
    }
    // The load runs: three results a target reach the broker before it stops.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger.lock().unwrap().len() < 3 * ids.len() {
        assert!(Instant::now() < deadline, "the load never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = ledger.lock().unwrap().len();

    // Act: the broker application stops for 15 s under that load, then starts again.
    let restore = StartAppOnDrop;
    assert!(rabbitmqctl(&["stop_app"]), "rabbitmqctl stop_app");
    // The outage's length (the act itself), not a wait for some state.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(rabbitmqctl(&["start_app"]), "rabbitmqctl start_app");
    await_broker();
    drop(restore);
    let restarted = chrono::Utc::now();

    // Assert: every target is checked and judged again after the restart (scheduler, pinger
    // and incident engine all rode it out) ...
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let fresh: i64 =
            sqlx::query_scalar("select count(*) from target_state where target_id = any($1) and last_checked_at > $2")
                .bind(&ids)
                .bind(restarted)
                .fetch_one(&app.pg.pool)
                .await
                .unwrap();
        if fresh == ids.len() as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{fresh} of {} targets checked again after the restart",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ... and every result the broker accepted, before, during or after, reaches ClickHouse.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (accepted, missing) = loop {
        let accepted = ledger.lock().unwrap().clone();
        let stored = stored_result_ids(&app.ch.client).await;
        let missing = accepted.difference(&stored).count();
        // The ledger's own consumer reconnects on its own backoff: wait for it as well, or a
        // ledger still holding only the results from before the stop passes for complete.
        let ran_on = accepted.len() >= before + ids.len();
        if (missing == 0 && ran_on) || Instant::now() >= deadline {
            break (accepted.len(), missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        missing, 0,
        "{missing} of {accepted} accepted results never reached ClickHouse"
    );
    assert!(
        accepted >= before + ids.len(),
        "the load ran on after the restart: {accepted} results, {before} of them before it"
    );
    for id in &ids {
        assert_eq!(
            status(&app.pg.pool, *id).await.as_deref(),
            Some("up"),
            "no false alarm for {id}"
        );
    }
    stop.cancel();
    workers.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn twenty_targets_of_one_failing_server_make_one_group_incident_that_resolves_with_them() {
    // Arrange: twenty targets on the one loopback service, each every 2 s.
    let suite = Suite::start(&[("default", None)]).await;
    let (service, app) = (&suite.service, &suite.app);
    let c = crate::helpers::client();
    let r = app.login(&c, "owner@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(r.status(), 200);
    let mut ids = vec![suite.id];
    for n in 1..20 {
        let mut body = target_body(&format!("{}?n={n}", service.url()), &["default"]);
        body["name"] = json!(format!("shop-{n:02}"));
        ids.push(id_of(&create_target(app, &c, &body).await));
    }
    for id in &ids {
        wait_for_status(&app.pg.pool, *id, "up", Duration::from_secs(30)).await;
    }

    // Act: the service fails for everyone.
    service.set(REFUSE_ALL);
    let down_at = Instant::now();
    let bound = Duration::from_secs(K * INTERVAL + 10);
    let grouped = loop {
        let members: Vec<(Uuid, i64)> = sqlx::query_as(
            "select group_id, count(*) from incidents where group_id is not null and resolved_at is null group by group_id",
        )
        .fetch_all(&app.pg.pool)
        .await
        .unwrap();
        if members.iter().any(|(_, n)| *n == 20) {
            break down_at.elapsed();
        }
        assert!(down_at.elapsed() < bound, "20 members within {bound:?}: {members:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Assert: one group of all twenty, named by the address, each with its own incident.
    let groups: Vec<(Uuid, String, i32)> = sqlx::query_as("select id, cause, members from incident_groups")
        .fetch_all(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].1, "ip:127.0.0.1:http_status");
    assert_eq!(groups[0].2, 20);
    let incidents: i64 = sqlx::query_scalar("select count(*) from incidents")
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(incidents, 20, "one incident per target");

    // The service comes back: the group resolves with its last member.
    service.set(SERVE_ALL);
    let back = Instant::now();
    loop {
        let resolved: bool = sqlx::query_scalar("select resolved_at is not null from incident_groups where id = $1")
            .bind(groups[0].0)
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
        let open: i64 = sqlx::query_scalar("select count(*) from incidents where resolved_at is null")
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
        assert!(
            !resolved || open == 0,
            "the group resolved while {open} members were open"
        );
        if resolved {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(M * INTERVAL + 20),
            "the group resolves"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The members' events carry the group as it stood: the report writer names the cause and
    // the members from it; the last resolution says the group is over.
    let published = Instant::now();
    let events = loop {
        let events = suite.events.all();
        if events.iter().filter(|e| e.kind == IncidentEventKind::Resolved).count() >= 20 {
            break events;
        }
        assert!(
            published.elapsed() < Duration::from_secs(10),
            "the 20 resolutions are published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let grouped_events: Vec<&IncidentEvent> = events
        .iter()
        .filter(|e| e.kind == IncidentEventKind::Opened && e.group.is_some())
        .collect();
    assert!(
        grouped_events.len() >= 19,
        "the later members' opened events name the group"
    );
    let largest = grouped_events
        .iter()
        .filter_map(|e| e.group.as_ref())
        .max_by_key(|g| g.members)
        .unwrap();
    assert_eq!(largest.id, groups[0].0);
    assert_eq!(largest.cause, "ip:127.0.0.1:http_status");
    assert_eq!(largest.members, 20);
    assert_eq!(largest.names.len(), 20);
    let resolutions: Vec<&IncidentEvent> = events
        .iter()
        .filter(|e| e.kind == IncidentEventKind::Resolved)
        .collect();
    assert_eq!(resolutions.len(), 20);
    let over: Vec<_> = resolutions
        .iter()
        .filter_map(|e| e.group.as_ref())
        .filter(|g| g.resolved)
        .collect();
    assert_eq!(over.len(), 1, "exactly the last resolution closes the group");
    assert_eq!(over[0].open, 0);
    eprintln!("grouped 20 members {grouped:?} after the service failed");
    suite.stop().await;
}

/// The open groups as (id, cause, open members).
async fn open_groups(pool: &sqlx::PgPool) -> Vec<(Uuid, String, i64)> {
    sqlx::query_as(
        "select g.id, g.cause, count(i.id) from incident_groups g
         left join incidents i on i.group_id = g.id and i.resolved_at is null
         where g.resolved_at is null group by g.id, g.cause order by g.cause",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits until every one of `ids` was checked after `after` (a fresh round of results).
async fn checked_since(pool: &sqlx::PgPool, ids: &[Uuid], after: chrono::DateTime<chrono::Utc>, bound: Duration) {
    let start = Instant::now();
    loop {
        let fresh: i64 =
            sqlx::query_scalar("select count(*) from target_state where target_id = any($1) and last_checked_at > $2")
                .bind(ids)
                .bind(after)
                .fetch_one(pool)
                .await
                .unwrap();
        if fresh == ids.len() as i64 {
            return;
        }
        assert!(
            start.elapsed() < bound,
            "{fresh} of {} checked again within {bound:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ten_targets_on_two_addresses_one_failing_make_a_group_of_its_five_only() {
    // Arrange: five targets on 127.0.0.1 (the suite's service) and five on 127.0.0.4.
    let suite = Suite::start(&[("default", None)]).await;
    let (first, app) = (&suite.service, &suite.app);
    let second = Service::start_on(Ipv4Addr::new(127, 0, 0, 4)).await;
    let c = crate::helpers::client();
    let r = app.login(&c, "owner@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(r.status(), 200);
    let mut on_first = vec![suite.id];
    let mut on_second = Vec::new();
    for n in 1..10 {
        let service = if n < 5 { first } else { &second };
        let mut body = target_body(&format!("{}?n={n}", service.url()), &["default"]);
        body["name"] = json!(format!("svc-{n:02}"));
        let id = id_of(&create_target(app, &c, &body).await);
        if n < 5 { on_first.push(id) } else { on_second.push(id) }
    }
    for id in on_first.iter().chain(&on_second) {
        wait_for_status(&app.pg.pool, *id, "up", Duration::from_secs(30)).await;
    }

    // Act: the first address fails; the second keeps serving.
    first.set(REFUSE_ALL);
    let down_at = Instant::now();
    let bound = Duration::from_secs(K * INTERVAL + 10);
    let group = loop {
        let groups = open_groups(&app.pg.pool).await;
        if let Some(g) = groups.iter().find(|g| g.2 == 5) {
            break g.clone();
        }
        assert!(down_at.elapsed() < bound, "a group of 5 within {bound:?}: {groups:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Two more rounds of checks of every target: a wrong member would have joined by then.
    let now = chrono::Utc::now();
    let all: Vec<Uuid> = on_first.iter().chain(&on_second).copied().collect();
    checked_since(
        &app.pg.pool,
        &all,
        now + chrono::Duration::seconds(INTERVAL as i64),
        Duration::from_secs(20),
    )
    .await;

    // Assert: one group, of the first address's five, named by that address.
    let groups = open_groups(&app.pg.pool).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].0, group.0);
    assert_eq!(groups[0].1, "ip:127.0.0.1:http_status");
    let members: Vec<Uuid> =
        sqlx::query_scalar("select target_id from incidents where group_id = $1 order by target_id")
            .bind(group.0)
            .fetch_all(&app.pg.pool)
            .await
            .unwrap();
    let mut expected = on_first.clone();
    expected.sort();
    assert_eq!(members, expected, "the members are the failing address's targets");
    let others: i64 = sqlx::query_scalar("select count(*) from incidents where target_id = any($1)")
        .bind(&on_second)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(others, 0, "the second address's targets have no incident");
    for id in &on_second {
        let status: String = sqlx::query_scalar("select status from target_state where target_id = $1")
            .bind(id)
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
        assert_eq!(status, "up");
    }
    drop(second);
    suite.stop().await;
}

#[tokio::test]
async fn two_unrelated_failures_in_the_same_minute_stay_two_incidents() {
    // Arrange: one target on 127.0.0.1 (the suite's service), one on 127.0.0.5.
    let suite = Suite::start(&[("default", None)]).await;
    let (first, app) = (&suite.service, &suite.app);
    let second = Service::start_on(Ipv4Addr::new(127, 0, 0, 5)).await;
    let c = crate::helpers::client();
    let r = app.login(&c, "owner@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(r.status(), 200);
    let mut body = target_body(&second.url(), &["default"]);
    body["name"] = json!("billing");
    let other = id_of(&create_target(app, &c, &body).await);
    wait_for_status(&app.pg.pool, other, "up", Duration::from_secs(30)).await;

    // Act: both fail at once, for different reasons: a 503 here, a hang past the timeout there.
    first.set(REFUSE_ALL);
    second.set(HANG_ALL);
    let down_at = Instant::now();
    let bound = Duration::from_secs(K * INTERVAL + 10);
    loop {
        let open: i64 = sqlx::query_scalar("select count(*) from incidents where resolved_at is null")
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
        if open == 2 {
            break;
        }
        assert!(down_at.elapsed() < bound, "two incidents within {bound:?}: {open}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = chrono::Utc::now();
    checked_since(&app.pg.pool, &[suite.id, other], now, Duration::from_secs(20)).await;

    // Assert: two incidents, each with its own signals, and no group.
    let incidents: Vec<(Uuid, Option<Uuid>, Vec<String>)> =
        sqlx::query_as("select target_id, group_id, signals from incidents order by opened_at")
            .fetch_all(&app.pg.pool)
            .await
            .unwrap();
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert!(
        incidents.iter().all(|i| i.1.is_none()),
        "neither is grouped: {incidents:?}"
    );
    assert!(
        incidents.iter().all(|i| !i.2.is_empty()),
        "both carry cause signals (they were compared): {incidents:?}"
    );
    let shared: Vec<&String> = incidents[0].2.iter().filter(|s| incidents[1].2.contains(s)).collect();
    assert!(shared.is_empty(), "no signal in common: {incidents:?}");
    let groups: i64 = sqlx::query_scalar("select count(*) from incident_groups")
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(groups, 0);
    drop(second);
    suite.stop().await;
}
