use std::collections::BTreeSet;

use archiver::Retention;
use archiver::row::ResultRow;
use chrono::{Datelike, NaiveDate, Utc};
use common::messages::Outcome;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::*;

/// The month partition name `ensure_archive_partition` gives `day`.
fn month_partition(day: NaiveDate) -> String {
    format!("archive_days_{:04}_{:02}", day.year(), day.month())
}

/// The first day of the month after `day`'s.
fn next_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).unwrap();
    first.checked_add_months(chrono::Months::new(1)).unwrap()
}

/// Partitions of the archive's parents, by name (read from the catalog here, not by the code
/// under test).
async fn partition_names(pool: &sqlx::PgPool) -> BTreeSet<String> {
    sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent in (select to_regclass(n)::oid from unnest(array['archived_results', 'archive_days']) as u(n))",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Archives `rows_per_day` results of each day straight into PostgreSQL's compact layout
/// (`archive_days`), with their rollups.
async fn archive_days(pool: &sqlx::PgPool, days: &[NaiveDate], target: Uuid, rows_per_day: usize) {
    for day in days {
        let mut conn = pool.acquire().await.unwrap();
        archiver::days::ensure_partition(&mut conn, *day).await.unwrap();
        let start = day.and_hms_opt(6, 0, 0).unwrap().and_utc();
        let rows: Vec<ResultRow> = (0..rows_per_day)
            .map(|i| {
                let r = result_at(target, start + chrono::Duration::minutes(i as i64), Outcome::Up, 100);
                ResultRow::from_result(&r).unwrap()
            })
            .collect();
        archiver::days::insert_late(&mut conn, &rows).await.unwrap();
    }
}

async fn archived_rows(pool: &sqlx::PgPool, day: NaiveDate) -> i64 {
    archived_counts(pool, day).await.0
}

async fn rollup_checks(pool: &sqlx::PgPool) -> Vec<(String, chrono::DateTime<Utc>, i32)> {
    sqlx::query_as("select granularity, bucket, checks from result_rollups order by granularity, bucket")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn run_once_drops_exactly_the_months_past_the_keep_days_and_keeps_every_rollup() {
    // Arrange: archived days in five months: two whose month ended before now − keep days,
    // the boundary month (holding the cutoff), one after it and a recent one; plus a
    // hand-made `archive_days` parent with an expired and a boundary partition (other names).
    let env = TestEnv::new().await;
    let pool = &env.pg.pool;
    let keep_days = 400;
    let cutoff = Utc::now() - chrono::Duration::days(keep_days);
    let boundary = cutoff.date_naive();
    let expired = [
        boundary - chrono::Duration::days(70),
        boundary - chrono::Duration::days(35),
    ];
    let kept = [boundary, boundary + chrono::Duration::days(35), days_ago(40)];
    let all: Vec<NaiveDate> = expired.iter().chain(&kept).copied().collect();
    archive_days(pool, &all, Uuid::new_v4(), 5).await;
    // Old-layout partitions (the layout before the compact one), made by hand under other
    // names in two months with no compact rows: an expired one and the boundary's.
    let mut by_hand = Vec::new();
    for (name, day) in [
        ("archived_results_by_hand_old", expired[1] - chrono::Duration::days(62)),
        ("archived_results_by_hand_edge", boundary + chrono::Duration::days(70)),
    ] {
        let from = day.with_day(1).unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "create table {name} partition of archived_results for values from ('{from} 00:00:00+00') to ('{} 00:00:00+00')",
            next_month(day)
        )))
        .execute(pool)
        .await
        .unwrap();
        by_hand.push(day);
    }
    assert!(next_month(by_hand[0]).and_hms_opt(0, 0, 0).unwrap().and_utc() <= cutoff);
    assert!(next_month(by_hand[1]).and_hms_opt(0, 0, 0).unwrap().and_utc() > cutoff);
    let rollups_before = rollup_checks(pool).await;
    assert_eq!(
        rollups_before.len(),
        all.len() * 2,
        "an hourly and a daily rollup per day"
    );
    let before = partition_names(pool).await;
    let mut expected_dropped: BTreeSet<String> = expired.iter().map(|d| month_partition(*d)).collect();
    expected_dropped.insert("archived_results_by_hand_old".into());
    assert!(expected_dropped.is_subset(&before));
    for day in expired {
        assert!(next_month(day).and_hms_opt(0, 0, 0).unwrap().and_utc() <= cutoff);
    }
    assert!(next_month(boundary).and_hms_opt(0, 0, 0).unwrap().and_utc() > cutoff);

    // Act
    let mut config = env.config();
    config.archive.keep_days = archiver::config::KeepDays(Some(keep_days as u32));
    let report = archiver::run_once(config, CancellationToken::new()).await.unwrap();

    // Assert
    assert_eq!(report.failed(), 0);
    let after = partition_names(pool).await;
    let dropped: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(dropped, expected_dropped, "exactly the months past the keep days");
    for day in expired {
        assert_eq!(archived_rows(pool, day).await, 0, "{day} is gone");
    }
    for day in kept {
        assert_eq!(archived_rows(pool, day).await, 5, "{day} stays");
    }
    assert_eq!(rollup_checks(pool).await, rollups_before, "rollups are never dropped");
    assert_eq!(
        archiver::retention::oldest_day(pool).await.unwrap(),
        Some(boundary),
        "the oldest archived day is the boundary month's"
    );
    let bytes: i64 = sqlx::query_scalar(
        "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 from pg_inherits i
         join pg_class c on c.oid = i.inhrelid
         where i.inhparent in ('archived_results'::regclass, 'archive_days'::regclass)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(bytes > 0);
    assert_eq!(archiver::retention::archive_bytes(pool).await.unwrap(), bytes as u64);

    // A second pass finds nothing more to drop.
    let again = Retention::new(pool.clone(), Some(keep_days as u32))
        .run(Utc::now())
        .await
        .unwrap();
    assert!(again.dropped.is_empty() && !again.skipped, "{again:?}");
}

#[tokio::test]
async fn retention_waits_while_an_archive_run_holds_the_lock_and_off_drops_nothing() {
    // Arrange: a month long past any keep days.
    let env = TestEnv::new().await;
    let pool = &env.pg.pool;
    let old = days_ago(800);
    archive_days(pool, &[old], Uuid::new_v4(), 3).await;
    let mut holder = pool.acquire().await.unwrap();
    assert!(archiver::ledger::try_lock_job(&mut holder).await.unwrap());

    // Act + Assert: the lock is held elsewhere.
    let retention = Retention::new(pool.clone(), Some(400));
    let report = retention.run(Utc::now()).await.unwrap();
    assert!(report.skipped && report.dropped.is_empty(), "{report:?}");
    assert_eq!(archived_rows(pool, old).await, 3);

    // Off keeps it forever, lock or not.
    archiver::ledger::release_job(&mut holder).await.unwrap();
    let report = Retention::new(pool.clone(), None).run(Utc::now()).await.unwrap();
    assert!(!report.skipped && report.dropped.is_empty(), "{report:?}");
    assert_eq!(archived_rows(pool, old).await, 3);

    // Once released, the month goes.
    let report = retention.run(Utc::now()).await.unwrap();
    assert_eq!(
        report.dropped.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        vec![month_partition(old)]
    );
    assert_eq!(archived_rows(pool, old).await, 0);
}

#[tokio::test]
async fn the_serving_archiver_drops_an_expired_month_on_its_next_pass_and_counts_it() {
    // Arrange: an expired month and a recent one.
    let env = TestEnv::new().await;
    let pool = &env.pg.pool;
    let (old, recent) = (days_ago(500), days_ago(40));
    archive_days(pool, &[old, recent], Uuid::new_v4(), 4).await;
    let rollups_before = rollup_checks(pool).await;
    let mut config = env.config();
    config.archive.interval = std::time::Duration::from_millis(500);

    // Act
    let app = App::spawn(config).await;

    // Assert
    wait_until(
        std::time::Duration::from_secs(60),
        "the expired month dropped",
        || async { !partition_names(pool).await.contains(&month_partition(old)) },
    )
    .await;
    wait_until(std::time::Duration::from_secs(30), "the drop counted", || async {
        metric(app.addr, "pingtower_archiver_retention_dropped_partitions_total").await == Some(1.0)
    })
    .await;
    assert!(partition_names(pool).await.contains(&month_partition(recent)));
    assert_eq!(archived_rows(pool, recent).await, 4);
    assert_eq!(rollup_checks(pool).await, rollups_before, "rollups are never dropped");
    app.stop().await;
}
