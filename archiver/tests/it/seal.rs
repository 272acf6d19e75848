use chrono::NaiveDate;
use common::messages::{CheckResult, Outcome};
use uuid::Uuid;

use crate::helpers::*;

/// `(checks, failures, degraded, latency_max_ms)` of the sealed day row of `target`.
async fn sealed_row(pool: &sqlx::PgPool, target: Uuid, day: NaiveDate) -> Option<(i32, i32, i32, Option<f64>)> {
    sqlx::query_as(
        "select checks, failures, degraded, latency_max_ms from result_rollups
         where target_id = $1 and granularity = 'day' and bucket = $2",
    )
    .bind(target)
    .bind(archiver::fresh::day_bounds(day).0)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// What the row of `target` must hold: results counted once each, failures without the
/// probe-degraded ones, latency over results that are not down.
fn expected(results: &[CheckResult], target: Uuid) -> (i32, i32, i32, Option<f64>) {
    let mine: Vec<&CheckResult> = results.iter().filter(|r| r.target_id == target).collect();
    let failures = mine
        .iter()
        .filter(|r| r.outcome == Outcome::Down && !r.probe_degraded)
        .count();
    let degraded = mine.iter().filter(|r| r.outcome == Outcome::Degraded).count();
    let max = mine
        .iter()
        .filter(|r| r.outcome != Outcome::Down)
        .map(|r| f64::from(r.duration_ms))
        .reduce(f64::max);
    (mine.len() as i32, failures as i32, degraded as i32, max)
}

#[tokio::test]
async fn a_closed_day_is_sealed_once_with_clickhouses_counts_and_again_after_a_late_result() {
    // Arrange: two targets over a closed day, every result inserted twice (redeliveries),
    // and results of today, which is not closed.
    let env = TestEnv::new().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let day = days_ago(2);
    let results = day_results(day, &[a, b], 96);
    insert_into_clickhouse(&env.ch.client, &results).await;
    insert_into_clickhouse(&env.ch.client, &results).await;
    insert_into_clickhouse(&env.ch.client, &fresh_results(20, 2)).await;
    let pool = &env.pg.pool;
    let never = Default::default();

    // Act
    let first = archiver::seal::seal_days(&env.ch.client, pool, &never).await.unwrap();
    let second = archiver::seal::seal_days(&env.ch.client, pool, &never).await.unwrap();

    // Assert: sealed once, with the counts of each result once; today left alone.
    assert_eq!(first.sealed, vec![day], "{first:?}");
    assert!(second.sealed.is_empty(), "nothing changed: {second:?}");
    for target in [a, b] {
        assert_eq!(
            sealed_row(pool, target, day).await,
            Some(expected(&results, target)),
            "sealed day of {target}"
        );
    }
    let today_rows: i64 = sqlx::query_scalar("select count(*) from result_rollups where bucket >= $1")
        .bind(archiver::fresh::day_bounds(days_ago(0)).0)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(today_rows, 0, "today is not closed");

    // Act: a late result of the sealed day.
    let noon = day.and_hms_opt(12, 0, 30).unwrap().and_utc();
    let late = result_at(a, noon, Outcome::Down, 100);
    insert_into_clickhouse(&env.ch.client, std::slice::from_ref(&late)).await;
    let third = archiver::seal::seal_days(&env.ch.client, pool, &never).await.unwrap();

    // Assert: sealed again, the late result counted.
    assert_eq!(third.sealed, vec![day], "{third:?}");
    let mut with_late = results.clone();
    with_late.push(late);
    assert_eq!(sealed_row(pool, a, day).await, Some(expected(&with_late, a)));
    let (fingerprints, targets): (i64, i32) = sqlx::query_as("select count(*), max(targets) from sealed_days")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!((fingerprints, targets), (1, 2), "one ledger row for the day");
}

#[tokio::test]
async fn a_day_the_archive_job_has_opened_is_not_sealed() {
    // Arrange: a closed day the archive job has started on.
    let env = TestEnv::new().await;
    let target = Uuid::new_v4();
    let day = days_ago(3);
    insert_into_clickhouse(&env.ch.client, &day_results(day, &[target], 24)).await;
    archiver::ledger::open_day(&env.pg.pool, day).await.unwrap();

    // Act
    let report = archiver::seal::seal_days(&env.ch.client, &env.pg.pool, &Default::default())
        .await
        .unwrap();

    // Assert
    assert!(report.sealed.is_empty(), "{report:?}");
    assert_eq!(report.current, 1);
    assert_eq!(sealed_row(&env.pg.pool, target, day).await, None);
}
