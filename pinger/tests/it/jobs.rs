//! Jobs through the real RabbitMQ: results published with confirms, "Test now" answered on
//! the reply queue, stale jobs skipped, poison jobs dead-lettered, canaries, metrics, and a
//! pinger killed with `kill -9` mid-job.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bus::Publisher;
use bus::testing::TestBroker;
use common::messages::{
    CheckResult, CheckSpec, DEAD_LETTER_QUEUE, Envelope, FailureKind, HttpSpec, JOBS_EXCHANGE, Outcome,
    RESULTS_STORE_QUEUE,
};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(30);

/// A fresh broker, a target answering "fine", and a pinger consuming that broker's jobs.
async fn pinger_and_target() -> (TestBroker, TestServer, common::testing::RunningService) {
    let broker = TestBroker::new().await;
    let target = answering("fine").await;
    let service = Service::start(config(&broker)).await;
    (broker, target, service)
}

#[tokio::test]
async fn a_job_consumed_from_rabbitmq_yields_a_check_result_on_pingtower_results() {
    // Arrange
    let (broker, target, service) = pinger_and_target().await;
    let job = get_job(&target, "/", 60);
    let envelope = one_job(job.clone());

    // Act
    broker.publish(&envelope).await;
    let result = next_result(&broker, "a result is published").await;

    // Assert
    assert_eq!(result.correlation_id, envelope.correlation_id);
    assert_eq!(result.message_id, result.payload.result_id);
    let r = result.payload;
    assert_eq!((r.job_id, r.target_id), (job.job_id, job.target_id));
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert_eq!(r.status_code, Some(200));
    assert_eq!(r.pinger_id, "test-pinger");
    assert_eq!(r.region, "default");
    assert!(!r.probe_degraded);
    let metrics = service.metrics().await;
    assert!(
        metrics.contains("pingtower_pinger_checks_total{kind=\"http\",outcome=\"up\",failure=\"none\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("pingtower_pinger_lag_seconds"), "{metrics}");
    service.stop().await;
}

#[tokio::test]
async fn a_job_past_its_deadline_is_reported_as_skipped_and_not_run() {
    let (broker, target, service) = pinger_and_target().await;
    let stale = get_job(&target, "/", -5);

    broker.publish(&one_job(stale.clone())).await;
    let r = next_result(&broker, "a result is published").await.payload;

    assert_eq!(r.job_id, stale.job_id);
    assert!(pinger::report::is_skipped(&r), "{r:?}");
    assert_eq!(r.failure.as_ref().unwrap().kind, FailureKind::Internal);
    assert!(r.probe_degraded, "a skipped result says nothing about the target");
    assert_eq!(target.hits(), 0, "the check did not run");
    service.stop().await;
}

#[tokio::test]
async fn a_test_now_request_is_answered_on_its_reply_queue_only() {
    let broker = TestBroker::new().await;
    let target = TestServer::http("127.0.0.1", Arc::new(|_: &str| Reply::status(503, "maintenance"))).await;
    let service = Service::start(config(&broker)).await;
    let publisher = Publisher::new(broker.broker("test-backend", CancellationToken::new()), WAIT);
    let job = get_job(&target, "/", 60);

    let answer: Envelope<CheckResult> = bus::request(&publisher, &one_job(job.clone()), WAIT)
        .await
        .expect("the pinger answers");

    assert_eq!(answer.payload.job_id, job.job_id);
    assert_eq!(answer.payload.outcome, Outcome::Down);
    assert_eq!(answer.payload.status_code, Some(503));
    assert_eq!(answer.payload.body_excerpt.as_deref(), Some("maintenance"));
    assert!(
        stays_empty(&broker, RESULTS_STORE_QUEUE).await,
        "a dry run is not stored"
    );
    publisher.broker().close().await;
    service.stop().await;
}

#[tokio::test]
async fn an_undecodable_job_goes_to_the_dead_letter_queue() {
    let broker = TestBroker::new().await;
    let service = Service::start(config(&broker)).await;
    // Let the pinger declare its queue before publishing.
    common::testing::wait_http_ok(&format!("http://{}/readyz", service.addr), WAIT).await;

    broker.publish_raw(JOBS_EXCHANGE, "jobs.default", b"{not a job").await;

    let dead = broker.next_raw(DEAD_LETTER_QUEUE, WAIT).await.expect("dead-lettered");
    assert_eq!(dead, b"{not a job");
    service.stop().await;
}

#[tokio::test]
async fn when_most_canaries_fail_results_carry_probe_degraded() {
    let broker = TestBroker::new().await;
    let target = answering("fine").await;
    let alive = answering("canary").await;
    let dead = common::testing::ClosedPort::new();
    let dead_port = dead.port;
    let mut cfg = config(&broker);
    cfg.pinger.canaries = vec![
        format!("http://127.0.0.1:{dead_port}/"),
        format!("127.0.0.1:{dead_port}"),
        alive.url("http", "/"),
    ];
    cfg.pinger.canary_interval = Duration::from_millis(200);
    cfg.pinger.canary_timeout = Duration::from_secs(2);
    let service = Service::start(cfg).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !service.metrics().await.contains("pingtower_pinger_probe_degraded 1") {
        assert!(tokio::time::Instant::now() < deadline, "canaries never judged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    broker
        .publish(&one_job(job(
            CheckSpec::Http(HttpSpec::get(target.url("http", "/"))),
            60,
        )))
        .await;
    let r = next_result(&broker, "a result").await.payload;

    assert_eq!(r.outcome, Outcome::Up);
    assert!(r.probe_degraded, "{r:?}");
    assert!(alive.hits() >= 1);
    service.stop().await;
}

/// Starts the real binary against `broker`'s vhost.
fn spawn_pinger(broker: &TestBroker, id: &str) -> std::process::Child {
    use secrecy::ExposeSecret;
    std::process::Command::new(env!("CARGO_BIN_EXE_pinger"))
        .env("PINGTOWER_AMQP_URL", broker.config.amqp_url.expose_secret())
        .env("PINGTOWER_HTTP_ADDR", "127.0.0.1:0")
        .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
        .env("PINGTOWER_PINGER_ID", id)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the pinger binary starts")
}

/// A server whose first request hangs for a minute (a check in flight when its pinger dies)
/// and whose later ones answer at once; with the count of requests it got.
async fn hangs_once_then_answers() -> (TestServer, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = TestServer::http(
        "127.0.0.1",
        Arc::new(move |_: &str| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::Slow(Duration::from_secs(60))
            } else {
                Reply::ok("recovered")
            }
        }),
    )
    .await;
    (server, calls)
}

#[tokio::test]
async fn a_pinger_killed_mid_job_leaves_the_job_to_be_redelivered_and_its_result_published() {
    // Arrange: the first request hangs (the check is in flight when the pinger dies); later
    // ones answer at once.
    let broker = TestBroker::new().await;
    let (target, calls) = hangs_once_then_answers().await;
    let job = get_job(&target, "/", 120);
    let mut first = spawn_pinger(&broker, "first");
    broker.publish(&one_job(job.clone())).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first pinger never started the check"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Act: kill -9 mid-check, then start another pinger.
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let mut second = spawn_pinger(&broker, "second");
    let result = broker.next_message::<CheckResult>(RESULTS_STORE_QUEUE, WAIT).await;
    let _ = second.kill();
    let _ = second.wait();

    // Assert
    let r = result.expect("the redelivered job's result is published").payload;
    assert_eq!(r.job_id, job.job_id);
    assert_eq!(r.result_id, job.result_id(), "the result's id derives from its job");
    assert_eq!(r.pinger_id, "second");
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(stays_empty(&broker, RESULTS_STORE_QUEUE).await, "exactly one result");
}

#[tokio::test]
async fn a_slow_target_does_not_delay_the_others() {
    let broker = TestBroker::new().await;
    let slow = TestServer::http("127.0.0.1", Arc::new(|_: &str| Reply::Slow(Duration::from_secs(3)))).await;
    let fast = answering("fast").await;
    let service = Service::start(config(&broker)).await;
    let slow_job = get_job(&slow, "/", 60);
    broker.publish(&one_job(slow_job.clone())).await;
    let mut fast_jobs = Vec::new();
    for _ in 0..5 {
        let j = get_job(&fast, "/", 60);
        fast_jobs.push(j.job_id);
        broker.publish(&one_job(j)).await;
    }

    // The five fast results arrive before the slow one.
    let mut order = Vec::new();
    for _ in 0..6 {
        let r = next_result(&broker, "a result").await.payload;
        order.push(r.job_id);
    }
    assert_eq!(order.last(), Some(&slow_job.job_id), "{order:?}");
    assert!(fast_jobs.iter().all(|j| order[..5].contains(j)));
    service.stop().await;
}

#[tokio::test]
async fn a_message_of_several_jobs_yields_one_result_per_job() {
    let broker = TestBroker::new().await;
    let up = answering("fine").await;
    let down = TestServer::http("127.0.0.1", Arc::new(|_: &str| Reply::status(500, "broken"))).await;
    let service = Service::start(config(&broker)).await;
    let jobs: Vec<_> = (0..10)
        .map(|i| {
            let server = if i % 2 == 0 { &up } else { &down };
            let mut j = get_job(server, &format!("/{i}"), 60);
            // Each its own owner, as a tick's jobs mostly are: one owner's jobs in hand are
            // held to its share of the pinger.
            j.owner_id = Some(uuid::Uuid::now_v7());
            j
        })
        .collect();

    broker.publish(&jobs_message(jobs.clone())).await;
    let mut results = std::collections::HashMap::new();
    for _ in 0..jobs.len() {
        let r = next_result(&broker, "a result per job").await.payload;
        results.insert(r.job_id, r);
    }

    for (i, j) in jobs.iter().enumerate() {
        let r = &results[&j.job_id];
        assert_eq!(r.result_id, j.result_id());
        let expected = if i % 2 == 0 { Outcome::Up } else { Outcome::Down };
        assert_eq!(r.outcome, expected, "{r:?}");
    }
    assert_eq!((up.hits(), down.hits()), (5, 5));
    service.stop().await;
}

#[tokio::test]
async fn a_malformed_jobs_message_goes_to_the_dead_letter_queue_unrun() {
    let (broker, target, service) = pinger_and_target().await;
    let mut foreign = get_job(&target, "/", 60);
    foreign.region = "elsewhere".into();
    let message = jobs_message(vec![foreign]);

    broker.publish(&message).await;

    let dead = broker.next_raw(DEAD_LETTER_QUEUE, WAIT).await.expect("dead-lettered");
    let dead: Envelope<common::messages::CheckJobs> = serde_json::from_slice(&dead).expect("the message, intact");
    assert_eq!(dead, message);
    assert_eq!(target.hits(), 0, "no job of a malformed message runs");
    service.stop().await;
}

#[tokio::test]
async fn a_message_redelivered_after_a_pinger_dies_duplicates_no_result() {
    // Arrange: one job's first request hangs; the message's other jobs answer at once.
    let broker = TestBroker::new().await;
    let (hanging, calls) = hangs_once_then_answers().await;
    let quick = answering("quick").await;
    let jobs = vec![
        get_job(&hanging, "/", 120),
        get_job(&quick, "/a", 120),
        get_job(&quick, "/b", 120),
    ];
    let mut first = spawn_pinger(&broker, "first");
    broker.publish(&jobs_message(jobs.clone())).await;
    // The quick jobs' results leave before the message is acked.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = next_result(&broker, "the quick jobs' results, before the hanging one ends")
            .await
            .payload;
        seen.push(r);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the hanging check is in flight");

    // Act: kill -9 with the message unacked, then start another pinger.
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let mut second = spawn_pinger(&broker, "second");
    for _ in 0..3 {
        let r = next_result(&broker, "every job of the redelivered message has a result")
            .await
            .payload;
        seen.push(r);
    }
    let _ = second.kill();
    let _ = second.wait();

    // Assert: five publications, three results: each id is its job's, whichever pinger ran it.
    assert_eq!(seen.len(), 5);
    let ids: std::collections::HashSet<_> = seen.iter().map(|r| r.result_id).collect();
    let expected: std::collections::HashSet<_> = jobs.iter().map(|j| j.result_id()).collect();
    assert_eq!(ids, expected);
    assert!(seen.iter().all(|r| r.outcome == Outcome::Up), "{seen:?}");
    assert!(seen[2..].iter().all(|r| r.pinger_id == "second"));
}
