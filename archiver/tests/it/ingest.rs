use std::time::Duration;

use common::messages::{DEAD_LETTER_QUEUE, Envelope, Outcome};
use uuid::Uuid;

use crate::helpers::*;

#[tokio::test]
async fn a_hundred_thousand_published_results_are_all_in_clickhouse_and_none_twice_after_dedup() {
    // Arrange
    let env = TestEnv::new().await;
    let results = fresh_results(100_000, 1000);
    let app = App::spawn(env.config()).await;

    // Act
    env.publish_all(&results).await;
    wait_until(Duration::from_secs(120), "100,000 distinct results stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= 100_000
    })
    .await;
    wait_until(Duration::from_secs(30), "every delivery acked", || async {
        env.broker.management.queue_depth("results.store").await.unwrap() == 0
    })
    .await;
    app.stop().await;

    // Assert
    let (raw, after_final, distinct) = clickhouse_counts(&env.ch.client).await;
    let stored = clickhouse_ids(&env.ch.client).await;
    let lost = results.iter().filter(|r| !stored.contains(&r.result_id)).count();
    println!("raw rows {raw}, after FINAL {after_final}, distinct {distinct}, lost {lost}");
    assert_eq!(lost, 0);
    assert_eq!(distinct, 100_000);
    assert_eq!(after_final, 100_000, "no result twice after dedup");
}

#[tokio::test]
async fn a_redelivered_result_is_stored_twice_but_read_once() {
    // Arrange
    let env = TestEnv::new().await;
    let result = fresh_results(1, 1).remove(0);
    let app = App::spawn(env.config()).await;

    // Act: the same result published twice (a publisher resend, or a redelivery).
    env.publish_all(std::slice::from_ref(&result)).await;
    wait_until(Duration::from_secs(30), "first copy stored", || async {
        clickhouse_counts(&env.ch.client).await.0 >= 1
    })
    .await;
    env.publish_all(std::slice::from_ref(&result)).await;
    wait_until(Duration::from_secs(30), "second copy stored", || async {
        clickhouse_counts(&env.ch.client).await.0 >= 2
    })
    .await;
    app.stop().await;

    // Assert
    let (raw, after_final, distinct) = clickhouse_counts(&env.ch.client).await;
    assert_eq!((raw, after_final, distinct), (2, 1, 1));
}

#[tokio::test]
async fn a_result_that_cannot_be_stored_is_dead_lettered_and_the_rest_are_stored() {
    // Arrange
    let env = TestEnv::new().await;
    let mut results = fresh_results(3, 1);
    results[1].started_at = "1960-01-01T00:00:00Z".parse().unwrap();
    let poison = results[1].result_id;
    let app = App::spawn(env.config()).await;

    // Act
    env.publish_all(&results).await;
    wait_until(Duration::from_secs(30), "the good results stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= 2
    })
    .await;
    let dead = env
        .broker
        .next_message::<common::messages::CheckResult>(DEAD_LETTER_QUEUE, Duration::from_secs(30))
        .await;
    app.stop().await;

    // Assert
    let stored = clickhouse_ids(&env.ch.client).await;
    assert!(stored.contains(&results[0].result_id) && stored.contains(&results[2].result_id));
    assert!(!stored.contains(&poison));
    assert_eq!(dead.map(|d: Envelope<_>| d.payload.result_id), Some(poison));
}

#[tokio::test]
async fn batch_messages_are_stored_whole_and_a_poison_one_is_dead_lettered_whole() {
    // Arrange: 1,000 results as batch messages (the heartbeat ping endpoint's form) among
    // plain ones, and one batch message holding a result that cannot be stored.
    let env = TestEnv::new().await;
    let results = fresh_results(1_000, 50);
    let mut poisoned = fresh_results(3, 1);
    poisoned[1].started_at = "1960-01-01T00:00:00Z".parse().unwrap();
    let app = App::spawn(env.config()).await;
    let publisher = env.publisher();

    // Act
    let (batched, plain) = results.split_at(800);
    for chunk in batched.chunks(common::messages::BATCH_LIMIT) {
        let envelopes: Vec<_> = chunk.iter().cloned().map(Envelope::new).collect();
        publisher.publish_batch(&envelopes).await.expect("a batch is confirmed");
    }
    publish_with(&publisher, plain).await;
    let envelopes: Vec<_> = poisoned.iter().cloned().map(Envelope::new).collect();
    publisher
        .publish_batch(&envelopes)
        .await
        .expect("the poisoned batch is confirmed");
    wait_until(Duration::from_secs(60), "1,002 distinct results stored", || async {
        clickhouse_counts(&env.ch.client).await.2 >= 1_002
    })
    .await;
    let dead = env.broker.next_raw(DEAD_LETTER_QUEUE, Duration::from_secs(30)).await;
    app.stop().await;
    publisher.broker().close().await;

    // Assert: every result once, the poisoned batch message's good ones too; that message went
    // to the DLQ as it was sent (replaying it stores nothing twice: results are deduplicated).
    let stored = clickhouse_ids(&env.ch.client).await;
    assert_eq!(results.iter().filter(|r| !stored.contains(&r.result_id)).count(), 0);
    assert!(stored.contains(&poisoned[0].result_id) && stored.contains(&poisoned[2].result_id));
    assert!(
        !stored.contains(&poisoned[1].result_id),
        "the poison result is not stored"
    );
    let dead: Vec<Envelope<common::messages::CheckResult>> =
        serde_json::from_slice(&dead.expect("a dead letter")).expect("the batch message as sent");
    assert_eq!(
        dead.iter().map(|e| e.payload.result_id).collect::<Vec<_>>(),
        poisoned.iter().map(|r| r.result_id).collect::<Vec<_>>()
    );
    assert_eq!(
        clickhouse_counts(&env.ch.client).await.1,
        1_002,
        "none twice after dedup"
    );
}

#[tokio::test]
async fn results_of_an_archived_day_go_to_the_postgres_archive() {
    // Arrange: a day archived already.
    let env = TestEnv::new().await;
    let day = days_ago(40);
    let target = Uuid::new_v4();
    let seeded = day_results(day, &[target], 48);
    insert_into_clickhouse(&env.ch.client, &seeded).await;
    let report = archiver::run_once(env.config(), Default::default()).await.unwrap();
    assert_eq!(report.failed(), 0);
    let app = App::spawn(env.config()).await;
    let noon = day.and_hms_opt(12, 0, 30).unwrap().and_utc();
    let late = vec![
        result_at(target, noon, Outcome::Down, 100),
        result_at(target, noon + chrono::Duration::seconds(1), Outcome::Up, 100),
        seeded[0].clone(), // a redelivery of a result archived already
    ];

    // Act
    env.publish_all(&late).await;
    wait_until(Duration::from_secs(30), "late results archived", || async {
        archived_counts(&env.pg.pool, day).await.0 >= 50
    })
    .await;
    app.stop().await;

    // Assert
    assert_eq!(archived_counts(&env.pg.pool, day).await, (50, 50));
    assert_eq!(
        clickhouse_day_rows(&env.ch.client, day).await,
        0,
        "nothing of the day back in ClickHouse"
    );
    let (checks, failures): (i32, i32) = sqlx::query_as(
        "select checks, failures from result_rollups where target_id = $1 and granularity = 'day' and bucket = $2",
    )
    .bind(target)
    .bind(day.and_hms_opt(0, 0, 0).unwrap().and_utc())
    .fetch_one(&env.pg.pool)
    .await
    .unwrap();
    let seeded_failures = seeded
        .iter()
        .filter(|r| r.outcome == Outcome::Down && !r.probe_degraded)
        .count() as i32;
    assert_eq!(
        (checks, failures),
        (50, seeded_failures + 1),
        "the day's rollup counts the late results"
    );
}

#[tokio::test]
async fn late_results_older_than_the_keep_days_are_left_out_and_the_days_rollup_stays() {
    // Arrange: a day archived already; an archiver (ingest only) keeping 35 days, so that day
    // (40 days ago) is past its keep days.
    let env = TestEnv::new().await;
    let day = days_ago(40);
    let target = Uuid::new_v4();
    let seeded = day_results(day, &[target], 48);
    insert_into_clickhouse(&env.ch.client, &seeded).await;
    let report = archiver::run_once(env.config(), Default::default()).await.unwrap();
    assert_eq!(report.failed(), 0);
    let rollup = |pool: sqlx::PgPool| async move {
        sqlx::query_as::<_, (i32, i32)>(
            "select checks, failures from result_rollups where target_id = $1 and granularity = 'day' and bucket = $2",
        )
        .bind(target)
        .bind(day.and_hms_opt(0, 0, 0).unwrap().and_utc())
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let rollup_before = rollup(env.pg.pool.clone()).await;
    let mut config = env.config();
    config.archive.disabled = true;
    config.archive.keep_days = archiver::config::KeepDays(Some(35));
    let app = App::spawn(config).await;
    let noon = day.and_hms_opt(12, 0, 30).unwrap().and_utc();
    let recent = days_ago(1).and_hms_opt(12, 0, 0).unwrap().and_utc();

    // Act: one late result of the expired day, one fresh result.
    env.publish_all(&[
        result_at(target, noon, Outcome::Down, 100),
        result_at(target, recent, Outcome::Up, 100),
    ])
    .await;
    wait_until(
        Duration::from_secs(30),
        "the late result counted as left out",
        || async { metric(app.addr, "pingtower_archiver_late_expired_results_total").await == Some(1.0) },
    )
    .await;
    wait_until(Duration::from_secs(30), "the fresh result stored", || async {
        clickhouse_day_rows(&env.ch.client, days_ago(1)).await == 1
    })
    .await;
    app.stop().await;

    // Assert: the archived day and its rollup are as they were.
    assert_eq!(archived_counts(&env.pg.pool, day).await, (48, 48));
    assert_eq!(
        rollup(env.pg.pool.clone()).await,
        rollup_before,
        "the day's rollup is untouched"
    );
    assert_eq!(clickhouse_day_rows(&env.ch.client, day).await, 0);
}
