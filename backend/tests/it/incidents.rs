//! The incident engine against the real RabbitMQ, PostgreSQL and ClickHouse: results are
//! published to `pingtower.results`, events read from `incidents.notify`.

use std::collections::HashSet;
use std::time::Duration;

use backend::incidents::{Engine, EngineSettings};
use bus::Publisher;
use bus::testing::TestBroker;
use chrono::{DateTime, Utc};
use common::messages::{
    CheckResult, Envelope, Failure, FailureKind, INCIDENTS_NOTIFY_QUEUE, IncidentEvent, IncidentEventKind, Outcome,
    Phase, TargetStatus,
};
use common::testing::{TestClickHouse, TestPg};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The engine alone, on fresh servers, with one user.
pub struct Harness {
    pub pg: TestPg,
    pub broker: TestBroker,
    pub ch: TestClickHouse,
    pub publisher: Publisher,
    pub shutdown: CancellationToken,
    pub owner: Uuid,
    sent: i64,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(EngineSettings::default()).await
    }

    pub async fn with(settings: EngineSettings) -> Self {
        let broker = TestBroker::new().await;
        let pg = TestPg::new().await;
        let ch = TestClickHouse::new().await;
        let shutdown = CancellationToken::new();
        let publisher = Publisher::new(broker.broker("test-results", shutdown.clone()), Duration::from_secs(10));
        let engine = Engine::new(pg.pool.clone(), ch.client.clone(), settings);
        tokio::spawn(backend::incidents::run(
            engine,
            broker.broker("engine", shutdown.clone()),
            Publisher::new(
                broker.broker("engine-events", shutdown.clone()),
                Duration::from_secs(10),
            ),
            shutdown.clone(),
        ));
        let owner = Uuid::now_v7();
        sqlx::query("insert into users (id, email, password_hash) values ($1, $2, 'x')")
            .bind(owner)
            .bind(format!("{owner}@example.com"))
            .execute(&pg.pool)
            .await
            .unwrap();
        Self {
            pg,
            broker,
            ch,
            publisher,
            shutdown,
            owner,
            sent: 0,
        }
    }

    /// A target checked from `regions`, with tags.
    pub async fn target(&self, regions: &[&str], tags: &[&str]) -> Uuid {
        let id = Uuid::now_v7();
        let regions: Vec<String> = regions.iter().map(|s| (*s).to_owned()).collect();
        let tags: Vec<String> = tags.iter().map(|s| (*s).to_owned()).collect();
        sqlx::query(
            "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, tags, paused)
             values ($1, $2, 'shop', 'http', $3, 60, $4, $5, true)",
        )
        .bind(id)
        .bind(self.owner)
        .bind(serde_json::json!({"kind": "http", "url": "https://shop.example.com/health"}))
        .bind(&regions)
        .bind(&tags)
        .execute(&self.pg.pool)
        .await
        .unwrap();
        id
    }

    /// Publishes results and waits until the engine has applied them all.
    pub async fn send(&mut self, results: &[CheckResult]) {
        for r in results {
            self.publisher.publish(&Envelope::new(r.clone())).await.unwrap();
        }
        let unique: std::collections::HashSet<Uuid> = results.iter().map(|r| r.result_id).collect();
        self.sent += unique.len() as i64;
        self.settle().await;
    }

    /// Waits until the ledger holds every result sent and the outbox is empty.
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (done, waiting): (i64, i64) = sqlx::query_as(
                "select (select count(*) from processed_results), (select count(*) from incident_outbox)",
            )
            .fetch_one(&self.pg.pool)
            .await
            .unwrap();
            if done >= self.sent && waiting == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "engine applied {done} of {} results",
                self.sent
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every event published so far: once the outbox is empty each is queued, and the queue
    /// says how many there are.
    pub async fn events(&self) -> Vec<IncidentEvent> {
        self.settle().await;
        let counter = self.broker.broker("test-counter", CancellationToken::new());
        let conn = counter.connection().await.expect("the counter connects");
        let ch = conn.create_channel().await.unwrap();
        let passive = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let queued = ch
            .queue_declare(INCIDENTS_NOTIFY_QUEUE.into(), passive, Default::default())
            .await
            .unwrap()
            .message_count();
        counter.close().await;
        let mut out = Vec::new();
        for _ in 0..queued {
            let e = self
                .broker
                .next_message::<IncidentEvent>(INCIDENTS_NOTIFY_QUEUE, Duration::from_secs(10))
                .await
                .expect("a queued event is delivered");
            out.push(e.payload);
        }
        out
    }

    /// How many incidents there are, open or resolved.
    pub async fn incident_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from incidents")
            .fetch_one(&self.pg.pool)
            .await
            .unwrap()
    }

    pub async fn status(&self, target: Uuid) -> (String, i64) {
        sqlx::query_as("select status, version from target_state where target_id = $1")
            .bind(target)
            .fetch_one(&self.pg.pool)
            .await
            .unwrap()
    }
}

/// An hour before the tests started (fixed, so results can be rebuilt and compared).
pub fn t0() -> DateTime<Utc> {
    static T0: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *T0.get_or_init(|| Utc::now() - chrono::Duration::hours(1))
}

/// A result of `target` from `region` at `t0 + seconds`.
pub fn result(target: Uuid, region: &str, outcome: Outcome, seconds: i64) -> CheckResult {
    let mut r = common::samples::check_result();
    r.result_id = Uuid::now_v7();
    r.job_id = Uuid::now_v7();
    r.target_id = target;
    r.region = region.to_owned();
    r.pinger_id = format!("pinger-{region}");
    r.started_at = t0() + chrono::Duration::seconds(seconds);
    r.finished_at = r.started_at + chrono::Duration::milliseconds(120);
    r.outcome = outcome;
    r.tls = None;
    match outcome {
        Outcome::Down => {
            r.failure = Some(Failure {
                kind: FailureKind::ConnectRefused,
                phase: Phase::Connect,
                message: "connection refused".into(),
            });
            r.status_code = None;
        }
        _ => {
            r.failure = None;
            r.status_code = Some(200);
            r.duration_ms = 120;
        }
    }
    r
}

fn kinds(events: &[IncidentEvent]) -> Vec<IncidentEventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn k_failures_open_one_incident_with_evidence_and_m_successes_resolve_it() {
    // Arrange
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;
    let up = |s| result(target, "default", Outcome::Up, s);
    let down = |s| result(target, "default", Outcome::Down, s);

    // Act: two good, two failures (pending), a third (down), more failures, then recovery.
    h.send(&[up(0), up(60), down(120), down(180)]).await;
    assert_eq!(h.status(target).await.0, "pending");
    assert!(h.events().await.is_empty(), "no incident before K failures");
    h.send(&[down(240), down(300), down(360)]).await;
    let opened = h.events().await;
    h.send(&[up(420)]).await;
    assert!(h.events().await.is_empty(), "one success is not enough");
    h.send(&[up(480)]).await;
    let resolved = h.events().await;

    // Assert
    assert_eq!(kinds(&opened), vec![IncidentEventKind::Opened]);
    let o = &opened[0];
    assert_eq!(o.state, TargetStatus::Down);
    assert_eq!(o.regions, vec!["default".to_owned()]);
    assert_eq!(o.target.as_ref().unwrap().name, "shop");
    assert_eq!(o.target.as_ref().unwrap().address, "https://shop.example.com/health");
    assert_eq!(o.evidence.results.len(), 3, "the K results that opened it");
    assert_eq!(o.evidence.last_good.as_ref().unwrap().started_at, up(60).started_at);
    assert_eq!(
        o.evidence.failure_kinds_by_region["default"],
        vec![FailureKind::ConnectRefused]
    );
    assert_eq!(kinds(&resolved), vec![IncidentEventKind::Resolved]);
    assert_eq!(resolved[0].incident_id, o.incident_id);
    let (open, timeline): (i64, i64) = sqlx::query_as(
        "select (select count(*) from incidents where resolved_at is null),
                (select count(*) from incident_timeline where incident_id = $1)",
    )
    .bind(o.incident_id)
    .fetch_one(&h.pg.pool)
    .await
    .unwrap();
    assert_eq!((open, timeline), (0, 2));
    assert_eq!(h.status(target).await.0, "up");
}

#[tokio::test]
async fn the_same_results_delivered_again_change_nothing() {
    // Arrange
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;
    let results: Vec<CheckResult> = (0..6)
        .map(|i| {
            result(
                target,
                "default",
                if i < 1 { Outcome::Up } else { Outcome::Down },
                i * 60,
            )
        })
        .collect();
    h.send(&results).await;
    assert_eq!(kinds(&h.events().await), vec![IncidentEventKind::Opened]);
    let before = h.status(target).await;

    // Act: every result again, in a different order.
    let mut again = results.clone();
    again.reverse();
    for r in &again {
        h.publisher.publish(&Envelope::new(r.clone())).await.unwrap();
    }
    h.settle().await;
    // A marker result proves the redeliveries were consumed before it.
    let marker = result(target, "default", Outcome::Down, 600);
    h.send(std::slice::from_ref(&marker)).await;

    // Assert
    assert!(h.events().await.is_empty());
    let after = h.status(target).await;
    assert_eq!(after.0, before.0);
    assert_eq!(after.1, before.1 + 1, "only the marker changed the state");
    assert_eq!(h.incident_count().await, 1);
}

#[tokio::test]
async fn two_regions_the_quorum_decides() {
    // Arrange: the target refuses the pinger of eu, serves the one of us.
    let mut h = Harness::new().await;
    let target = h.target(&["eu", "us"], &[]).await;

    // Act
    let mut batch = Vec::new();
    for i in 0..6 {
        batch.push(result(target, "eu", Outcome::Down, i * 60));
        batch.push(result(target, "us", Outcome::Up, i * 60 + 1));
    }
    h.send(&batch).await;
    let one_region = h.events().await;
    let one_region_status = h.status(target).await.0;
    let batch: Vec<_> = (6..9)
        .flat_map(|i| {
            [
                result(target, "eu", Outcome::Down, i * 60),
                result(target, "us", Outcome::Down, i * 60 + 1),
            ]
        })
        .collect();
    h.send(&batch).await;
    let both = h.events().await;

    // Assert
    assert!(one_region.is_empty(), "one region of two is no quorum: {one_region:?}");
    assert_eq!(one_region_status, "degraded");
    assert_eq!(kinds(&both), vec![IncidentEventKind::Opened]);
    assert_eq!(both[0].regions, vec!["eu".to_owned(), "us".to_owned()]);
    let regions: Vec<String> = sqlx::query_scalar("select regions from incidents")
        .fetch_one(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(regions, vec!["eu".to_owned(), "us".to_owned()]);
}

#[tokio::test]
async fn a_flapping_target_raises_at_most_two_notifications_worth_of_events() {
    // Arrange
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;

    // Act: alternating 200 / 503 every 10 s for 10 minutes (compressed time).
    let results: Vec<CheckResult> = (0..60)
        .map(|i| {
            let outcome = if i % 2 == 0 { Outcome::Up } else { Outcome::Down };
            result(target, "default", outcome, i * 10)
        })
        .collect();
    h.send(&results).await;
    let events = h.events().await;

    // Assert
    assert!(events.len() <= 2, "{:?}", kinds(&events));
    assert_eq!(
        kinds(&events)
            .iter()
            .filter(|k| **k == IncidentEventKind::Flapping)
            .count(),
        1
    );
    assert_eq!(h.status(target).await.0, "flapping");
}

#[tokio::test]
async fn a_maintenance_window_suppresses_the_incident_but_results_still_count() {
    // Arrange: a window over every target tagged `db`, for the next hours.
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &["db"]).await;
    sqlx::query(
        "insert into maintenance_windows (id, owner_id, name, tag, starts_at, ends_at)
         values ($1, $2, 'upgrade', 'db', $3, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(h.owner)
    .bind(t0() - chrono::Duration::hours(1))
    .bind(t0() + chrono::Duration::hours(3))
    .execute(&h.pg.pool)
    .await
    .unwrap();

    // Act
    let results: Vec<CheckResult> = (0..6)
        .map(|i| result(target, "default", Outcome::Down, i * 60))
        .collect();
    h.send(&results).await;

    // Assert
    assert!(h.events().await.is_empty());
    assert_eq!(h.status(target).await.0, "down");
    assert_eq!(h.incident_count().await, 0);
}

#[tokio::test]
async fn a_degraded_probe_raises_one_probe_degraded_event_and_no_incident() {
    // Arrange
    let mut h = Harness::new().await;
    let a = h.target(&["default"], &[]).await;
    let b = h.target(&["default"], &[]).await;

    // Act: the pinger's canaries fail while it checks both targets.
    let results: Vec<CheckResult> = (0..6)
        .flat_map(|i| {
            [a, b].map(|t| CheckResult {
                probe_degraded: true,
                ..result(t, "default", Outcome::Down, i * 60)
            })
        })
        .collect();
    h.send(&results).await;
    let events = h.events().await;

    // Assert
    assert_eq!(kinds(&events), vec![IncidentEventKind::ProbeDegraded]);
    assert_eq!(events[0].pinger_id.as_deref(), Some("pinger-default"));
    assert!(events[0].target.is_none());
    assert_eq!(h.incident_count().await, 0);
}

#[tokio::test]
async fn certificate_expiry_warns_once_per_fingerprint_and_threshold() {
    // Arrange
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;
    let with_cert = |s: i64, days: i64, fingerprint: &str| {
        let mut r = result(target, "default", Outcome::Up, s);
        let mut tls = common::samples::check_result().tls.unwrap();
        tls.days_left = days;
        tls.fingerprint_sha256 = fingerprint.to_owned();
        r.tls = Some(tls);
        r
    };

    // Act
    h.send(&[
        with_cert(0, 20, "aa"),
        with_cert(60, 20, "aa"),
        with_cert(120, 19, "aa"),
    ])
    .await;
    let first = h.events().await;
    h.send(&[with_cert(180, 13, "aa"), with_cert(240, 13, "aa")]).await;
    let second = h.events().await;
    h.send(&[with_cert(300, 13, "bb")]).await;
    let renewed = h.events().await;

    // Assert
    assert_eq!(kinds(&first), vec![IncidentEventKind::CertExpiring]);
    assert_eq!(first[0].evidence.threshold_days, Some(30));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].evidence.threshold_days, Some(14));
    assert_eq!(renewed.len(), 1, "another certificate warns again");
    assert_eq!(
        renewed[0].evidence.certificate.as_ref().unwrap().fingerprint_sha256,
        "bb"
    );
}

#[tokio::test]
async fn the_opened_event_carries_the_baseline_latency_from_clickhouse() {
    // Arrange: 24 h of results at 100..=300 ms in ClickHouse.
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;
    let start = t0().timestamp() - 86_000;
    let values: Vec<String> = (0..201)
        .map(|i| {
            format!(
                "(toUUID('{}'), toUUID('{}'), toUUID('{target}'), 'default', 'p', 'http', toDateTime({}), toDateTime({}), {}, 'up', '', '', '', 200, 0, 0, 0, 0, 0, '', NULL, 0, '{{}}')",
                Uuid::new_v4(),
                Uuid::new_v4(),
                start + i * 60,
                start + i * 60,
                100 + i
            )
        })
        .collect();
    crate::helpers::insert_check_rows(&h.ch.client, &values).await;

    // Act
    let results: Vec<CheckResult> = (0..3)
        .map(|i| result(target, "default", Outcome::Down, i * 60))
        .collect();
    h.send(&results).await;
    let events = h.events().await;

    // Assert
    assert_eq!(kinds(&events), vec![IncidentEventKind::Opened]);
    let p50 = events[0].evidence.baseline_latency_ms.expect("a baseline");
    assert!((190.0..=210.0).contains(&p50), "p50 {p50}");
}

#[tokio::test]
async fn a_targets_state_is_rewritten_on_its_own_page() {
    // Arrange: enough targets that their state rows fill several pages, each with a result.
    let h = Harness::new().await;
    let engine = Engine::new(h.pg.pool.clone(), h.ch.client.clone(), EngineSettings::default());
    let mut targets = Vec::new();
    for _ in 0..60 {
        targets.push(h.target(&["default"], &[]).await);
    }
    let round =
        |k: i64| -> Vec<CheckResult> { targets.iter().map(|t| result(*t, "default", Outcome::Up, k)).collect() };
    // Each state row and the page it is on.
    let pages = || async {
        let mut rows: Vec<(Uuid, i64)> = sqlx::query_as(
            "select target_id, (ctid::text::point)[0]::int8 from target_state where target_id = any($1)",
        )
        .bind(&targets)
        .fetch_all(&h.pg.pool)
        .await
        .unwrap();
        rows.sort_unstable();
        rows
    };
    assert_eq!(engine.apply(&round(0)).await.unwrap(), targets.len());
    let before = pages().await;
    let used: HashSet<i64> = before.iter().map(|(_, page)| *page).collect();
    assert!(used.len() >= 3, "the rows take several pages ({} here)", used.len());

    // Act: every target gets another result, in one batch that rewrites every row.
    assert_eq!(engine.apply(&round(1)).await.unwrap(), targets.len());

    // Assert: each row's new version stayed on its page (a HOT update: no new index entries,
    // and the old version is pruned in place later), which needs room kept free in every
    // page. One round only: a second would also depend on when PostgreSQL prunes.
    let after = pages().await;
    let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert_eq!(moved, 0, "{moved} of {} rows moved to another page", before.len());
    assert_eq!(h.status(targets[0]).await.1, 2, "each result rewrote the row");
}
