//! Fair share per owner through the real RabbitMQ: one owner's tarpitted targets cannot take
//! the slots another owner's checks need.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bus::testing::TestBroker;
use bus::{ConsumerOptions, HandlerError, Publisher, consume};
use chrono::{DateTime, Utc};
use common::messages::{CheckJob, CheckJobs, CheckResult, CheckSpec, Envelope, HttpSpec, Outcome, RESULTS_STORE_QUEUE};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::*;

/// A server that accepts and then trickles one byte every 10 s, for ever. Stops when the
/// returned guard drops.
async fn tarpit() -> (std::net::SocketAddr, tokio_util::sync::DropGuard) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        loop {
            let Some((mut stream, _)) = accept_until(&listener, &token).await else {
                return;
            };
            let token = token.clone();
            tokio::spawn(async move {
                let trickle = async {
                    for byte in b"HTTP/1.1 200 OK\r\n".iter().cycle() {
                        if stream.write_all(&[*byte]).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                };
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = trickle => {}
                }
            });
        }
    });
    (addr, stop.drop_guard())
}

/// A job of `owner` as the scheduler makes it: due now, stale after one interval.
fn owned_job(owner: Uuid, target_id: Uuid, url: &str, interval: Duration, timeout: Duration) -> CheckJob {
    let mut spec = HttpSpec::get(url);
    spec.timeout_ms = timeout.as_millis() as u32;
    let mut job = job(CheckSpec::Http(spec), 0);
    job.owner_id = Some(owner);
    job.target_id = target_id;
    job.deadline = job.scheduled_for + chrono::Duration::from_std(interval).unwrap();
    job
}

#[tokio::test]
async fn a_tarpitted_owner_cannot_starve_another_owners_checks_for_two_minutes() {
    const RUN: Duration = Duration::from_secs(120);
    const A_TARGETS: usize = 300;
    const A_INTERVAL: Duration = Duration::from_secs(30);
    const B_INTERVAL: Duration = Duration::from_secs(3);

    // Arrange: the tarpit for owner A, a healthy server for owner B, a pinger of 64 slots.
    let broker = TestBroker::new().await;
    let (pit, _pit) = tarpit().await;
    let healthy = answering("fine").await;
    let mut cfg = config(&broker);
    cfg.pinger.concurrency = 64;
    cfg.pinger.owner_share = 0.25;
    let service = Service::start(cfg).await;
    common::testing::wait_http_ok(&format!("http://{}/readyz", service.addr), Duration::from_secs(30)).await;

    // Every result, by job id, as the stores would consume them.
    let stop = CancellationToken::new();
    let (results_tx, mut results_rx) = tokio::sync::mpsc::unbounded_channel::<CheckResult>();
    let reader = {
        let results = broker.broker("test-results", stop.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let options = ConsumerOptions::new(RESULTS_STORE_QUEUE).concurrency(64);
            consume(&results, options, stop, move |e: Envelope<CheckResult>, _| {
                let tx = results_tx.clone();
                async move {
                    let _ = tx.send(e.payload);
                    Ok::<(), HandlerError>(())
                }
            })
            .await
        })
    };

    let owner_a = Uuid::now_v7();
    let owner_b = Uuid::now_v7();
    let a_targets: Vec<Uuid> = (0..A_TARGETS).map(|_| Uuid::now_v7()).collect();
    let b_target = Uuid::now_v7();
    let pit_url = format!("http://{pit}/");
    let healthy_url = healthy.url("http", "/");

    // Act: owner A's targets each every 30 s (spread over the interval, timeout 25 s), owner
    // B's every 3 s, for two minutes, each on its own publisher as the scheduler would.
    let started = tokio::time::Instant::now();
    let scheduler_a = {
        let publisher = Publisher::new(broker.broker("test-scheduler-a", stop.clone()), WAIT);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(A_INTERVAL / A_TARGETS as u32);
            let mut published = 0usize;
            while started.elapsed() < RUN {
                tick.tick().await;
                let target = a_targets[published % A_TARGETS];
                let job = owned_job(owner_a, target, &pit_url, A_INTERVAL, Duration::from_secs(25));
                publisher
                    .publish(&Envelope::new(CheckJobs::one(job)))
                    .await
                    .expect("job A published");
                published += 1;
            }
            publisher.broker().close().await;
            published
        })
    };
    let scheduler_b = {
        let publisher = Publisher::new(broker.broker("test-scheduler-b", stop.clone()), WAIT);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(B_INTERVAL);
            let mut scheduled: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
            while started.elapsed() < RUN {
                tick.tick().await;
                let job = owned_job(owner_b, b_target, &healthy_url, B_INTERVAL, Duration::from_secs(2));
                scheduled.insert(job.job_id, job.scheduled_for);
                publisher
                    .publish(&Envelope::new(CheckJobs::one(job)))
                    .await
                    .expect("job B published");
            }
            publisher.broker().close().await;
            scheduled
        })
    };
    let published_a = scheduler_a.await.unwrap();
    let scheduled_b = scheduler_b.await.unwrap();

    // Every one of B's jobs has its result (the last ones within a few seconds).
    let mut b_results: HashMap<Uuid, CheckResult> = HashMap::new();
    let mut a_results: Vec<CheckResult> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while b_results.len() < scheduled_b.len() {
        match tokio::time::timeout_at(deadline, results_rx.recv()).await {
            Ok(Some(r)) if r.target_id == b_target => {
                b_results.insert(r.job_id, r);
            }
            Ok(Some(r)) => a_results.push(r),
            Ok(None) | Err(_) => break,
        }
    }
    while let Ok(r) = results_rx.try_recv() {
        if r.target_id != b_target {
            a_results.push(r);
        }
    }
    let metrics = service.metrics().await;
    // The tarpit closes its connections, so that A's checks in hand end before the pinger.
    drop(_pit);
    stop.cancel();
    reader.await.unwrap().unwrap();
    service.stop().await;

    // Assert: B was checked on every slot, up, with p99 lag under 2 s.
    assert!(scheduled_b.len() >= 35, "B was scheduled {} times", scheduled_b.len());
    assert_eq!(b_results.len(), scheduled_b.len(), "every one of B's jobs has a result");
    let mut lags: Vec<i64> = Vec::new();
    for (job_id, scheduled_for) in &scheduled_b {
        let r = &b_results[job_id];
        assert!(!pinger::report::is_skipped(r), "B's job was skipped: {r:?}");
        assert_eq!(r.outcome, Outcome::Up, "{r:?}");
        lags.push((r.started_at - *scheduled_for).num_milliseconds());
    }
    lags.sort_unstable();
    let p99 = lags[(lags.len() * 99).div_ceil(100) - 1];
    assert!(p99 < 2000, "B's p99 lag is {p99} ms (lags: {lags:?})");

    // And the share did the holding back: A never ran more than its share, the rest of its
    // jobs were answered as skipped at once.
    assert!(published_a >= 1000, "A published {published_a} jobs");
    let over_share = a_results
        .iter()
        .filter(|r| {
            pinger::report::is_skipped(r) && r.failure.as_ref().is_some_and(|f| f.message.contains("over its share"))
        })
        .count();
    assert!(over_share > 0, "some of A's jobs were refused over its share");
    let ran: Vec<&CheckResult> = a_results.iter().filter(|r| !pinger::report::is_skipped(r)).collect();
    assert!(!ran.is_empty(), "A's checks ran too (and timed out on the tarpit)");
    let mut edges: Vec<(DateTime<Utc>, i32)> = ran
        .iter()
        .flat_map(|r| [(r.started_at, 1), (r.finished_at, -1)])
        .collect();
    edges.sort();
    let most_at_once = edges
        .iter()
        .scan(0, |running, (_, d)| {
            *running += d;
            Some(*running)
        })
        .max()
        .unwrap_or(0);
    assert!(
        most_at_once <= 16,
        "A ran {most_at_once} checks at once (its share is 16 of 64)"
    );
    assert!(
        metrics.contains("pingtower_pinger_jobs_held_back_total{reason=\"refused\"}"),
        "{metrics}"
    );
}

const WAIT: Duration = Duration::from_secs(30);

/// Waits until the pinger's `/metrics` contains `line`.
async fn wait_for_metric(service: &common::testing::RunningService, line: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = service.metrics().await;
        if metrics.contains(line) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{line} never showed: {metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_owner_over_its_share_waits_is_skipped_at_its_deadline_or_at_once_and_others_run() {
    // Arrange: 4 slots with a share of 1/4: one check at a time and two jobs in hand per owner.
    let broker = TestBroker::new().await;
    let slow = TestServer::http("127.0.0.1", Arc::new(|_: &str| Reply::Slow(Duration::from_secs(8)))).await;
    let fast = answering("fine").await;
    let mut cfg = config(&broker);
    cfg.pinger.concurrency = 4;
    cfg.pinger.owner_share = 0.25;
    let service = Service::start(cfg).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let running = owned_job(a, Uuid::now_v7(), &slow.url("http", "/"), WAIT, Duration::from_secs(10));
    let refused = owned_job(a, Uuid::now_v7(), &fast.url("http", "/"), WAIT, Duration::from_secs(5));
    let other = owned_job(b, Uuid::now_v7(), &fast.url("http", "/"), WAIT, Duration::from_secs(5));

    // Act: A's first job runs, its second waits for A's share, its third is one too many;
    // B's runs meanwhile.
    broker.publish(&one_job(running.clone())).await;
    let seen = tokio::time::Instant::now() + WAIT;
    while slow.hits() == 0 {
        assert!(
            tokio::time::Instant::now() < seen,
            "the first job reached the slow server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Due now, stale in 5 s: it is still waiting for A's slot then (the slow check takes 8 s).
    let waiting = owned_job(
        a,
        Uuid::now_v7(),
        &fast.url("http", "/"),
        Duration::from_secs(5),
        Duration::from_secs(1),
    );
    broker.publish(&one_job(waiting.clone())).await;
    wait_for_metric(&service, "pingtower_pinger_jobs_held_back_total{reason=\"waited\"} 1").await;
    broker.publish(&one_job(refused.clone())).await;
    broker.publish(&one_job(other.clone())).await;
    let mut results = HashMap::new();
    while results.len() < 4 {
        let r = next_result(&broker, "a result is published").await.payload;
        results.insert(r.job_id, r);
    }
    service.stop().await;

    // Assert
    let message = |id: Uuid| {
        results[&id]
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default()
    };
    for up in [&running, &other] {
        let r = &results[&up.job_id];
        assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    }
    assert!(
        results[&other.job_id].finished_at < results[&running.job_id].finished_at,
        "B did not wait for A's slow check"
    );
    for (skipped, why) in [(&waiting, "held its share"), (&refused, "over its share")] {
        let r = &results[&skipped.job_id];
        assert!(pinger::report::is_skipped(r), "{r:?}");
        let message = message(skipped.job_id);
        assert!(message.contains(why), "{message}");
    }
    assert_eq!(fast.hits(), 1, "only B's job reached the fast server");
}
