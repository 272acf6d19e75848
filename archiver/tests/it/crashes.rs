//! The service as a child process, killed, stopped and cut off from ClickHouse.

use std::time::Duration;

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

#[tokio::test]
async fn killing_the_archiver_five_times_during_ingest_loses_and_duplicates_nothing() {
    // Arrange
    let env = TestEnv::new().await;
    let results = fresh_results(30_000, 300);
    let vars = env.child_env(&env.clickhouse_url(), free_addr());
    let publisher = env.publisher();
    let stream = {
        let results = results.clone();
        let publisher = publisher.clone();
        tokio::spawn(async move {
            for chunk in results.chunks(500) {
                publish_with(&publisher, chunk).await;
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
async fn a_clickhouse_outage_under_a_steady_stream_loses_nothing_and_the_backlog_drains() {
    // Arrange: the archiver reaches ClickHouse through a proxy the test can cut; results
    // stream in at 500/s.
    let outage = Duration::from_secs(
        std::env::var("PINGTOWER_TEST_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    let env = TestEnv::new().await;
    let upstream = format!(
        "{}:{}",
        env.ch.config.url.host_str().unwrap(),
        env.ch.config.url.port().unwrap_or(8123)
    );
    let proxy = Proxy::start(tokio::net::lookup_host(upstream).await.unwrap().next().unwrap()).await;
    let http = free_addr();
    let mut child = spawn_child(&env.child_env(&proxy.url(), http), &[]);
    let pid = child.id().unwrap();
    let per_second = 500;
    let total = per_second * (outage.as_secs() as usize + 40);
    let results = fresh_results(total, 200);
    let publisher = env.publisher();
    let stream = {
        let results = results.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for chunk in results.chunks(per_second / 10) {
                tick.tick().await;
                // Fresh timestamps: lag is measured from publication.
                let chunk: Vec<_> = chunk.to_vec();
                publish_with(&publisher, &chunk).await;
            }
        })
    };
    wait_until(Duration::from_secs(30), "ingest running", || async {
        clickhouse_counts(&env.ch.client).await.0 > 1000
    })
    .await;

    // Act: ClickHouse unreachable for the outage.
    proxy.set_up(false);
    let mut rss = Vec::new();
    let cut_at = tokio::time::Instant::now();
    while cut_at.elapsed() < outage {
        rss.push(rss_kib(pid).unwrap_or(0));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let stored_during = clickhouse_counts(&env.ch.client).await.0;
    proxy.set_up(true);
    let back_at = tokio::time::Instant::now();
    let mut lag_ok_after = None;
    while back_at.elapsed() < Duration::from_secs(60) {
        rss.push(rss_kib(pid).unwrap_or(0));
        if let Some(lag) = metric(http, "pingtower_archiver_lag_seconds").await
            && lag < 10.0
            && clickhouse_counts(&env.ch.client).await.0 > stored_during
        {
            lag_ok_after = Some(back_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stream.await.unwrap();
    wait_until(Duration::from_secs(60), "every result stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= results.len() as u64
    })
    .await;
    rss.push(rss_kib(pid).unwrap_or(0));
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Assert
    let max_rss = rss.iter().max().copied().unwrap_or(0);
    println!("outage {outage:?}; lag under 10 s {lag_ok_after:?} after ClickHouse returned");
    println!("archiver RSS (KiB), one sample a second: {rss:?}; max {max_rss} KiB");
    assert!(
        lag_ok_after.is_some(),
        "lag back under 10 s within a minute of ClickHouse's return"
    );
    assert!(max_rss < 512 * 1024, "RSS stays bounded: {max_rss} KiB");
    assert_all_stored_once(&env, &results).await;
}

#[tokio::test]
async fn sigterm_stops_the_archiver_cleanly_with_its_batch_stored_and_acked() {
    // Arrange
    let env = TestEnv::new().await;
    let results = fresh_results(20_000, 100);
    let vars = env.child_env(&env.clickhouse_url(), free_addr());
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
