//! Days of the old archive layout (`archived_results`) moving to the compact one
//! (`archive_days`), crashed at every fault point on the way, and the detail-keeping rules.

use std::collections::BTreeSet;

use archiver::fault::{FAULT_EXIT_CODE, FaultPoint};
use archiver::row::ResultRow;
use chrono::NaiveDate;
use common::messages::Outcome;
use uuid::Uuid;

use crate::helpers::*;

/// Old-layout days as an archiver before the compact layout left them: rows in
/// `archived_results`, rollups, ledger rows `done` in layout `rows`. Returns every result id.
async fn seed_old_layout(env: &TestEnv, days: &[NaiveDate], targets: &[Uuid], per_target: usize) -> BTreeSet<Uuid> {
    let mut ids = BTreeSet::new();
    let mut conn = env.pg.pool.acquire().await.unwrap();
    for day in days {
        archiver::ledger::ensure_partition(&mut conn, *day).await.unwrap();
        let rows: Vec<ResultRow> = day_results(*day, targets, per_target)
            .iter()
            .map(|r| ResultRow::from_result(r).unwrap())
            .collect();
        ids.extend(rows.iter().map(|r| r.result_id));
        let mut tx = env.pg.pool.begin().await.unwrap();
        archiver::ledger::insert_archived(&mut tx, &rows).await.unwrap();
        archiver::ledger::refresh_rollups(&mut tx, *day, None).await.unwrap();
        sqlx::query("insert into archive_batches (day, state, layout, finished_at) values ($1, 'done', 'rows', now())")
            .bind(day)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    ids
}

async fn layouts(pool: &sqlx::PgPool, days: &[NaiveDate]) -> Vec<String> {
    let mut out = Vec::new();
    for day in days {
        out.push(
            sqlx::query_scalar("select layout from archive_batches where day = $1")
                .bind(day)
                .fetch_one(pool)
                .await
                .unwrap(),
        );
    }
    out
}

/// Every result id in the compact layout, with how many times each appears.
async fn compact_ids(pool: &sqlx::PgPool) -> Vec<Uuid> {
    sqlx::query_scalar("select rid from archive_days d, unnest(d.result_ids) as rid order by rid")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn old_partitions(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent where p.relname = 'archived_results'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_migration_crashed_at_each_point_resumes_and_ends_with_every_result_once() {
    // Arrange: three old-layout days of 10 targets.
    let env = TestEnv::new().await;
    let days = [days_ago(45), days_ago(44), days_ago(43)];
    let targets: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let seeded = seed_old_layout(&env, &days, &targets, 60).await;
    assert_eq!(seeded.len(), 3 * 10 * 60);
    let stats_before: Vec<_> = {
        let mut v = Vec::new();
        for day in &days {
            v.push(archiver::ledger::day_stats(&env.pg.pool, *day).await.unwrap());
        }
        v
    };

    // Act: crash inside the first day's transaction.
    let crashed = run_once_child(&env, Some(FaultPoint::DuringMigration)).await;

    // Assert: nothing of it committed; every day still read from the old layout.
    assert_eq!(crashed.code(), Some(FAULT_EXIT_CODE));
    assert_eq!(layouts(&env.pg.pool, &days).await, ["rows", "rows", "rows"]);
    assert!(
        compact_ids(&env.pg.pool).await.is_empty(),
        "the crashed day rolled back"
    );

    // Act: crash right after the first day committed.
    let crashed = run_once_child(&env, Some(FaultPoint::AfterMigration)).await;

    // Assert: exactly the first day moved, whole.
    assert_eq!(crashed.code(), Some(FAULT_EXIT_CODE));
    assert_eq!(layouts(&env.pg.pool, &days).await, ["days", "rows", "rows"]);
    assert_eq!(archived_counts(&env.pg.pool, days[0]).await, (600, 600));
    assert_eq!(
        archiver::days::day_stats(&env.pg.pool, days[0]).await.unwrap(),
        stats_before[0]
    );

    // Act: run again without a fault.
    let rerun = run_once_child(&env, None).await;

    // Assert: every day moved, every result exactly once, with the same content checksum;
    // the old partitions are gone.
    assert!(rerun.success(), "{rerun:?}");
    assert_eq!(layouts(&env.pg.pool, &days).await, ["days", "days", "days"]);
    let ids = compact_ids(&env.pg.pool).await;
    assert_eq!(ids.len(), seeded.len(), "each result once");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), seeded);
    for (day, before) in days.iter().zip(&stats_before) {
        assert_eq!(&archiver::days::day_stats(&env.pg.pool, *day).await.unwrap(), before);
    }
    assert_eq!(old_partitions(&env.pg.pool).await, 0, "old partitions dropped");
}

#[tokio::test]
async fn a_late_result_for_a_day_still_in_the_old_layout_is_moved_with_it() {
    // Arrange: an old-layout day; a late result of it written the way ingest writes it.
    let env = TestEnv::new().await;
    let day = days_ago(44);
    let targets = [Uuid::new_v4()];
    let mut seeded = seed_old_layout(&env, &[day], &targets, 30).await;
    let late = result_at(
        targets[0],
        day.and_hms_opt(23, 0, 0).unwrap().and_utc(),
        Outcome::Down,
        50,
    );
    let mut config = env.config();
    config.archive.disabled = true;
    let app = App::spawn(config).await;
    env.publish_all(std::slice::from_ref(&late)).await;
    wait_until(
        std::time::Duration::from_secs(30),
        "the late result archived",
        || async {
            let (start, end) = archiver::fresh::day_bounds(day);
            let n: i64 =
                sqlx::query_scalar("select count(*) from archived_results where checked_at >= $1 and checked_at < $2")
                    .bind(start)
                    .bind(end)
                    .fetch_one(&env.pg.pool)
                    .await
                    .unwrap();
            n == 31
        },
    )
    .await;
    app.stop().await;
    seeded.insert(late.result_id);

    // Act
    let moved = archiver::days::migrate_day(&env.pg.pool, day, None).await.unwrap();

    // Assert
    assert_eq!(moved, 31);
    assert_eq!(
        compact_ids(&env.pg.pool).await.into_iter().collect::<BTreeSet<_>>(),
        seeded
    );
    let failures: i32 =
        sqlx::query_scalar("select failures from result_rollups where target_id = $1 and granularity = 'day'")
            .bind(targets[0])
            .fetch_one(&env.pg.pool)
            .await
            .unwrap();
    assert!(failures >= 1, "the late failure is in the rollups");
}

#[tokio::test]
async fn archiving_keeps_the_detail_of_failures_and_of_the_first_result_after_each_change() {
    // Arrange: one target's day in ClickHouse: up, up, down, up, up, new certificate, up,
    // new redirect chain, up, degraded, up.
    let env = TestEnv::new().await;
    let day = days_ago(41);
    let target = Uuid::new_v4();
    let start = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let plan: [(Outcome, &str, &str); 11] = [
        (Outcome::Up, "aa", "https://a/"),
        (Outcome::Up, "aa", "https://a/"),
        (Outcome::Down, "aa", "https://a/"),
        (Outcome::Up, "aa", "https://a/"),
        (Outcome::Up, "aa", "https://a/"),
        (Outcome::Up, "bb", "https://a/"),
        (Outcome::Up, "bb", "https://a/"),
        (Outcome::Up, "bb", "https://b/"),
        (Outcome::Up, "bb", "https://b/"),
        (Outcome::Degraded, "bb", "https://b/"),
        (Outcome::Up, "bb", "https://b/"),
    ];
    let results: Vec<_> = plan
        .iter()
        .enumerate()
        .map(|(i, (outcome, fingerprint, url))| {
            let mut r = result_at(
                target,
                start + chrono::Duration::milliseconds(i as i64 * 60_000 + 250),
                *outcome,
                100,
            );
            r.tls.as_mut().unwrap().fingerprint_sha256 = fingerprint.repeat(32);
            r.hops.truncate(1);
            r.hops[0].url = (*url).into();
            r.hops[0].location = None;
            r
        })
        .collect();
    insert_into_clickhouse(&env.ch.client, &results).await;

    // Act
    let report = archiver::ArchiveJob::new(env.ch.client.clone(), env.pg.pool.clone(), 30, None)
        .run(&Default::default())
        .await
        .unwrap();

    // Assert
    assert_eq!(report.failed(), 0, "{report:?}");
    let mut conn = env.pg.pool.acquire().await.unwrap();
    let row = archiver::days::load_row(&mut conn, day, target).await.unwrap().unwrap();
    let entries = row.entries().unwrap();
    let kept: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.detail.is_some())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(kept, vec![0, 2, 3, 5, 7, 9, 10]);
    for (e, r) in entries.iter().zip(&results) {
        assert_eq!(e.result_id, r.result_id);
        assert_eq!(e.started_ms, r.started_at.timestamp_millis(), "exact start kept");
        assert_eq!(e.job_id, r.job_id);
        assert_eq!(e.duration_ms, 100);
        if let Some(detail) = &e.detail {
            let back: common::messages::CheckResult = serde_json::from_str(detail).unwrap();
            assert_eq!(&back, r, "a kept detail is the whole result");
        }
    }
}

#[tokio::test]
async fn a_migration_killed_at_random_moments_resumes_and_ends_with_every_result_once() {
    // Arrange: six old-layout days, big enough that moving one takes a moment.
    let env = TestEnv::new().await;
    let days: Vec<NaiveDate> = (0..6).map(|i| days_ago(50 - i)).collect();
    let targets: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    let seeded = seed_old_layout(&env, &days, &targets, 100).await;
    let moved = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from archive_batches where layout = 'days'")
            .fetch_one(&env.pg.pool)
            .await
            .unwrap()
    };

    // Act: start `run-once`, SIGKILL it as soon as it moved one more day (the kill lands
    // wherever in the next day's move the child is by then), until a run ends on its own.
    let vars = env.child_env(&env.clickhouse_url(), any_port());
    let mut kills = 0;
    loop {
        let before = moved().await;
        let mut child = spawn_child(&vars, &["run-once"]);
        let finished = tokio::select! {
            status = child.wait() => Some(status.unwrap()),
            _ = wait_until(std::time::Duration::from_secs(60), "one more day moved", || async { moved().await > before }) => None,
        };
        if let Some(status) = finished {
            assert!(status.success(), "{status:?}");
            break;
        }
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        kills += 1;
        assert!(kills <= days.len(), "each run moves a day before it is killed");
    }

    // Assert: every day moved, every result exactly once.
    println!("killed {kills} times");
    assert!(kills >= 1, "at least one run was killed");
    assert_eq!(moved().await, days.len() as i64);
    let ids = compact_ids(&env.pg.pool).await;
    assert_eq!(ids.len(), seeded.len(), "each result once");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), seeded);
    for day in &days {
        assert_eq!(archived_counts(&env.pg.pool, *day).await, (2000, 2000), "{day}");
    }
}
