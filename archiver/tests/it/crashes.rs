//! The service as a child process, killed, stopped and cut off from ClickHouse.

use std::time::Duration;

use archiver::fault::{FAULT_EXIT_CODE, FaultPoint};

use crate::helpers::*;

/// Jepsen-style check: every published result stored, none unexpected, none twice after dedup.
async fn assert_all_stored_once(env: &TestEnv, published: &[common::messages::CheckResult]) {
    let stored = clickhouse_ids(&env.ch.client).await;
    let lost = published.iter().filter(|r| !stored.contains(&r.result_id)).count();
    let expected: std::collections::HashSet<_> = published.iter().map(|r| r.result_id).collect();
    let unexpected = stored.iter().filter(|id| !expected.contains(id)).count();
    let (raw, after_final, distinct) = clickhouse_counts(&env.ch.client).await;
    println!(
        "published {}, lost {lost}, unexpected {unexpected}, raw rows {raw}, after FINAL {after_final}, distinct {distinct}",
        published.len()
    );
    assert_eq!(lost, 0, "lost results");
    assert_eq!(unexpected, 0, "unexpected results");
    assert_eq!(after_final, published.len() as u64, "duplicates after dedup");
    assert_eq!(distinct, published.len() as u64);
}

/// True when nothing sent through `proxy` can still reach ClickHouse: the proxy holds no
/// connection to it and ClickHouse runs no query that came through one.
async fn cut_through(ch: &clickhouse::Client, proxy: &Proxy) -> bool {
    let (ports, open) = proxy.upstream();
    if open {
        return false;
    }
    if ports.is_empty() {
        return true;
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let running: u64 = ch
        .query(&format!(
            "SELECT count() FROM system.processes WHERE port IN ({})",
            ports.join(", ")
        ))
        .fetch_one()
        .await
        .expect("ClickHouse answers");
    running == 0
}

/// ClickHouse's clock and the newest `checked_at` it holds, in seconds since the epoch.
async fn clickhouse_now_and_newest(ch: &clickhouse::Client) -> (i64, i64) {
    ch.query("SELECT toInt64(now()), toInt64(max(checked_at)) FROM check_results")
        .fetch_one()
        .await
        .expect("ClickHouse answers")
}

#[tokio::test]
async fn killing_the_archiver_five_times_during_ingest_loses_and_duplicates_nothing() {
    // Arrange
    let env = TestEnv::new().await;
    let results = fresh_results(30_000, 300);
    let vars = env.child_env(&env.clickhouse_url(), any_port());
    let publisher = env.publisher();
    let stream = {
        let results = results.clone();
        let publisher = publisher.clone();
        tokio::spawn(async move {
            for chunk in results.chunks(500) {
                publish_with(&publisher, chunk).await;
                // The stream's pace (part of the act), not a wait for state.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Act: kill -9 five times while results stream in, each time once it stored more.
    for kill in 1..=5 {
        let mut child = spawn_child(&vars, &[]);
        let before = clickhouse_counts(&env.ch.client).await.0;
        wait_until(Duration::from_secs(60), "the archiver stores more", || async {
            clickhouse_counts(&env.ch.client).await.0 > before + 1000
        })
        .await;
        child.start_kill().unwrap(); // SIGKILL
        let status = child.wait().await.unwrap();
        println!(
            "kill {kill}: {status:?} after {} raw rows",
            clickhouse_counts(&env.ch.client).await.0
        );
    }
    stream.await.unwrap();
    let mut child = spawn_child(&vars, &[]);
    wait_until(Duration::from_secs(120), "every result stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= results.len() as u64
    })
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Assert
    assert_all_stored_once(&env, &results).await;
}

#[tokio::test]
async fn a_crash_after_a_batch_is_stored_but_before_it_is_acked_loses_and_duplicates_nothing() {
    // Arrange: results queued; the archiver stops dead once its first batch is in ClickHouse.
    let env = TestEnv::new().await;
    let results = fresh_results(3000, 30);
    env.publish_all(&results).await;
    let mut vars = env.child_env(&env.clickhouse_url(), any_port());
    vars.push(("PINGTOWER_ARCHIVER_BATCH_SIZE".into(), "1000".into()));
    let mut faulty = vars.clone();
    faulty.push(("PINGTOWER_ARCHIVER_FAULT".into(), FaultPoint::AfterInsert.name()));

    // Act: crash between the INSERT and the ack.
    let crashed = tokio::time::timeout(Duration::from_secs(60), spawn_child(&faulty, &[]).wait())
        .await
        .expect("the archiver reaches the fault point")
        .unwrap();

    // Assert: a batch is in ClickHouse and nothing was acked: the broker holds every result.
    assert_eq!(crashed.code(), Some(FAULT_EXIT_CODE));
    let stored = clickhouse_counts(&env.ch.client).await.0;
    assert!(stored > 0, "a batch reached ClickHouse before the crash");
    wait_until(Duration::from_secs(30), "every result back in the queue", || async {
        env.broker.management.queue_depth("results.store").await.unwrap() == results.len() as u64
    })
    .await;

    // Act: run it again.
    let mut child = spawn_child(&vars, &[]);
    wait_until(Duration::from_secs(60), "every result stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= results.len() as u64
    })
    .await;
    wait_until(Duration::from_secs(30), "every delivery acked", || async {
        env.broker.management.queue_depth("results.store").await.unwrap() == 0
    })
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Assert: the stored batch came again and collapses on result_id.
    println!("{stored} rows stored before the crash");
    assert_all_stored_once(&env, &results).await;
}

#[tokio::test]
async fn a_clickhouse_outage_under_a_steady_stream_loses_nothing_and_the_backlog_drains() {
    // Arrange: the archiver reaches ClickHouse through a proxy the test can cut. Its batches
    // are 1,000 (prefetch 4,000), so the window of deliveries it may hold fills within the
    // outage. The outage is a minute; 30 s by default here shows the same (the
    // archiver's memory stops growing once its window is full, the broker holds the rest):
    // PINGTOWER_TEST_OUTAGE_SECS=60 runs the full minute.
    let outage = Duration::from_secs(
        std::env::var("PINGTOWER_TEST_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let batch = 1000;
    let prefetch = batch * archiver::consumer::prefetch_batches(archiver::consumer::DEFAULT_WRITERS) as u64;
    let env = TestEnv::new().await;
    let upstream = format!(
        "{}:{}",
        env.ch.config.url.host_str().unwrap(),
        env.ch.config.url.port().unwrap_or(8123)
    );
    let proxy = Proxy::start(tokio::net::lookup_host(upstream).await.unwrap().next().unwrap()).await;
    let mut vars = env.child_env(&proxy.url(), any_port());
    vars.push(("PINGTOWER_ARCHIVER_BATCH_SIZE".into(), batch.to_string()));
    let (mut child, http) = spawn_child_listening(&vars, &[]).await;
    let pid = child.id().unwrap();
    let stream = SteadyStream::start(env.publisher(), 500);
    wait_until(Duration::from_secs(30), "ingest running", || async {
        clickhouse_counts(&env.ch.client).await.0 > 1000
    })
    .await;
    let lag_before = clickhouse_lag_secs(&env.ch.client).await;

    // Act: ClickHouse unreachable for the outage.
    proxy.set_up(false);
    let mut rss = Vec::new();
    let mut unacked_max = 0;
    let cut_at = tokio::time::Instant::now();
    wait_until(
        Duration::from_secs(30),
        "no insert through the proxy still running",
        || cut_through(&env.ch.client, &proxy),
    )
    .await;
    let stored_at_cut = clickhouse_counts(&env.ch.client).await.0;
    while cut_at.elapsed() < outage {
        rss.push(rss_kib(pid).unwrap_or(0));
        unacked_max = unacked_max.max(queue_counts(&env, "results.store").await.1);
        // One sample a second for the outage's length (the act itself), not a wait for state.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let stored_during = clickhouse_counts(&env.ch.client).await.0;
    let (ready_at_return, _) = queue_counts(&env, "results.store").await;
    let lag_at_return = clickhouse_lag_secs(&env.ch.client).await;
    proxy.set_up(true);
    let back_at = tokio::time::Instant::now();
    let mut lag_ok_after = None;
    while back_at.elapsed() < Duration::from_secs(60) {
        rss.push(rss_kib(pid).unwrap_or(0));
        if clickhouse_lag_secs(&env.ch.client).await < 10 {
            lag_ok_after = Some(back_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The stream goes on a little, to see ingest keep up: until ClickHouse holds results
    // published 3 s after the lag was back under 10 s.
    let (caught_up_at, _) = clickhouse_now_and_newest(&env.ch.client).await;
    wait_until(Duration::from_secs(60), "results of 3 s later stored", || async {
        clickhouse_now_and_newest(&env.ch.client).await.1 >= caught_up_at + 3
    })
    .await;
    let lag_after = clickhouse_lag_secs(&env.ch.client).await;
    let published = stream.stop().await;
    wait_until(Duration::from_secs(60), "every result stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= published.len() as u64
    })
    .await;
    rss.push(rss_kib(pid).unwrap_or(0));
    let own_lag = metric(http, "pingtower_archiver_lag_seconds").await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Assert
    println!("the archiver's own lag gauge at the end: {own_lag:?} s");
    let max_rss = rss.iter().max().copied().unwrap_or(0);
    println!(
        "outage {outage:?}; lag (s) before {lag_before}, at return {lag_at_return}, under 10 s \
         {lag_ok_after:?} after ClickHouse returned, {lag_after} once 3 s more of the stream was stored"
    );
    println!(
        "during the outage: {ready_at_return} results waiting in the broker, at most {unacked_max} held \
         by the archiver (prefetch {prefetch})"
    );
    println!("archiver RSS (KiB), one sample a second: {rss:?}; max {max_rss} KiB");
    assert_eq!(
        stored_during, stored_at_cut,
        "nothing reached ClickHouse during the outage"
    );
    assert!(
        lag_at_return >= outage.as_secs() as i64 - 5,
        "results waited out the outage"
    );
    assert!(
        lag_ok_after.is_some(),
        "lag back under 10 s within a minute of ClickHouse's return"
    );
    assert!(
        lag_after < 10,
        "ingest keeps up after the backlog drained: lag {lag_after} s"
    );
    assert!(
        unacked_max <= prefetch,
        "the archiver holds at most its prefetch: {unacked_max}"
    );
    assert!(
        ready_at_return >= 500 * outage.as_secs() / 4,
        "the broker is the spool: {ready_at_return} results waiting"
    );
    assert!(max_rss < 512 * 1024, "RSS stays bounded: {max_rss} KiB");
    assert_all_stored_once(&env, &published).await;
}

#[tokio::test]
async fn sigterm_stops_the_archiver_cleanly_with_its_batch_stored_and_acked() {
    // Arrange
    let env = TestEnv::new().await;
    let results = fresh_results(20_000, 100);
    let vars = env.child_env(&env.clickhouse_url(), any_port());
    env.publish_all(&results).await;
    let mut child = spawn_child(&vars, &[]);
    wait_until(Duration::from_secs(60), "ingest running", || async {
        clickhouse_counts(&env.ch.client).await.0 > 0
    })
    .await;

    // Act
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops within 30 s")
        .unwrap();

    // Assert: what it stored was acked (nothing stored is still queued), the rest is queued.
    assert!(status.success(), "exit status {status:?}");
    let (raw, after_final, _) = clickhouse_counts(&env.ch.client).await;
    assert_eq!(raw, after_final, "nothing written twice");
    // The management API's counts lag by a few seconds: poll until they settle.
    wait_until(
        Duration::from_secs(30),
        "every result stored or queued, none both",
        || async {
            let queued = env.broker.management.queue_depth("results.store").await.unwrap();
            println!("stored {raw}, queued {queued}");
            raw + queued == results.len() as u64
        },
    )
    .await;
}
