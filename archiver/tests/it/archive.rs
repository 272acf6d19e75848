use archiver::ArchiveJob;
use archiver::fault::{FAULT_EXIT_CODE, FaultPoint};
use archiver::fresh::{self, DayStats};
use chrono::NaiveDate;
use common::testing::{TestClickHouse, TestPg};
use uuid::Uuid;

use crate::helpers::*;

/// PostgreSQL and ClickHouse with two old days (with duplicates) and one fresh day.
struct Seeded {
    env: TestEnv,
    old_days: [NaiveDate; 2],
    fresh_day: NaiveDate,
    before: Vec<DayStats>,
}

async fn seeded() -> Seeded {
    let env = TestEnv::new().await;
    let old_days = [days_ago(41), days_ago(40)];
    let fresh_day = days_ago(2);
    let targets: Vec<Uuid> = (0..20).map(|_| Uuid::new_v4()).collect();
    for day in old_days.iter().chain([&fresh_day]) {
        let results = day_results(*day, &targets, 100);
        insert_into_clickhouse(&env.ch.client, &results).await;
        // Redeliveries: a tenth of the day once more.
        insert_into_clickhouse(&env.ch.client, &results[..results.len() / 10]).await;
    }
    let mut before = Vec::new();
    for day in old_days {
        before.push(fresh::day_stats(&env.ch.client, day).await.unwrap());
    }
    assert_eq!(before[0].rows, 2000);
    Seeded {
        env,
        old_days,
        fresh_day,
        before,
    }
}

fn job(pg: &TestPg, ch: &TestClickHouse) -> ArchiveJob {
    ArchiveJob::new(ch.client.clone(), pg.pool.clone(), 30, None)
}

/// Every old day is archived exactly once, equal to what ClickHouse held, and gone from it.
async fn assert_archived(s: &Seeded) {
    for (day, before) in s.old_days.iter().zip(&s.before) {
        let archived = archiver::days::day_stats(&s.env.pg.pool, *day).await.unwrap();
        assert_eq!(&archived, before, "archive of {day} equals what ClickHouse held");
        let (rows, distinct) = archived_counts(&s.env.pg.pool, *day).await;
        assert_eq!(rows, distinct, "no duplicate rows on {day}");
        assert_eq!(clickhouse_day_rows(&s.env.ch.client, *day).await, 0, "{day} dropped");
        let (state, ch_rows, pg_rows, ch_sum, pg_sum, _) = ledger_row(&s.env.pg.pool, *day).await.unwrap();
        assert_eq!(state, "done");
        assert_eq!(
            (ch_rows, ch_sum.clone()),
            (Some(before.rows as i64), Some(before.checksum()))
        );
        assert_eq!((pg_rows, pg_sum), (ch_rows, ch_sum));
        let (hourly, daily): (i64, i64) = sqlx::query_as(
            "select coalesce(sum(checks) filter (where granularity = 'hour'), 0),
                    coalesce(sum(checks) filter (where granularity = 'day'), 0)
             from result_rollups where bucket >= $1 and bucket < $2",
        )
        .bind(fresh::day_bounds(*day).0)
        .bind(fresh::day_bounds(*day).1)
        .fetch_one(&s.env.pg.pool)
        .await
        .unwrap();
        assert_eq!(
            (hourly, daily),
            (before.rows as i64, before.rows as i64),
            "rollups of {day}"
        );
    }
    assert!(
        clickhouse_day_rows(&s.env.ch.client, s.fresh_day).await > 0,
        "a day within the retention stays in ClickHouse"
    );
    assert!(ledger_row(&s.env.pg.pool, s.fresh_day).await.is_none());
}

#[tokio::test]
async fn old_days_move_to_postgres_once_each_and_leave_clickhouse() {
    // Arrange
    let s = seeded().await;

    // Act
    let report = job(&s.env.pg, &s.env.ch).run(&Default::default()).await.unwrap();

    // Assert
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(
        report.days.iter().map(|d| d.day).collect::<Vec<_>>(),
        s.old_days.to_vec()
    );
    assert_archived(&s).await;
    let hourly_rollups: i64 = sqlx::query_scalar("select count(*) from result_rollups where granularity = 'hour'")
        .fetch_one(&s.env.pg.pool)
        .await
        .unwrap();
    assert_eq!(hourly_rollups, 2 * 20 * 24, "one hourly rollup per target and hour");
}

#[tokio::test]
async fn archiving_twice_is_the_same_as_archiving_once() {
    // Arrange
    let s = seeded().await;
    let job = job(&s.env.pg, &s.env.ch);
    job.run(&Default::default()).await.unwrap();

    // Act
    let second = job.run(&Default::default()).await.unwrap();

    // Assert
    assert!(second.days.is_empty(), "nothing left to do: {second:?}");
    assert_archived(&s).await;
}

#[tokio::test]
async fn rows_that_reach_clickhouse_after_their_day_was_archived_are_archived_by_the_next_run() {
    // Arrange: a day archived, then rows of it inserted into ClickHouse again (an insert
    // that landed after the drop), among them one archived already.
    let s = seeded().await;
    let job = job(&s.env.pg, &s.env.ch);
    job.run(&Default::default()).await.unwrap();
    let day = s.old_days[0];
    let (start, _) = fresh::day_bounds(day);
    let mut ghosts = vec![
        result_at(
            Uuid::new_v4(),
            start + chrono::Duration::hours(3),
            common::messages::Outcome::Up,
            10,
        ),
        result_at(
            Uuid::new_v4(),
            start + chrono::Duration::hours(4),
            common::messages::Outcome::Down,
            10,
        ),
    ];
    let target: Uuid = sqlx::query_scalar("select target_id from archive_days where day = $1 limit 1")
        .bind(day)
        .fetch_one(&s.env.pg.pool)
        .await
        .unwrap();
    let mut conn = s.env.pg.pool.acquire().await.unwrap();
    let row = archiver::days::load_row(&mut conn, day, target).await.unwrap().unwrap();
    drop(conn);
    // The first result of a target's day always keeps its detail.
    let detail: serde_json::Value = serde_json::from_str(row.entries().unwrap()[0].detail.as_deref().unwrap()).unwrap();
    ghosts.push(serde_json::from_value(detail).unwrap());
    insert_into_clickhouse(&s.env.ch.client, &ghosts).await;

    // Act
    let report = job.run(&Default::default()).await.unwrap();

    // Assert
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(report.days.iter().map(|d| d.day).collect::<Vec<_>>(), vec![day]);
    let (rows, distinct) = archived_counts(&s.env.pg.pool, day).await;
    assert_eq!(
        (rows, distinct),
        (s.before[0].rows as i64 + 2, s.before[0].rows as i64 + 2)
    );
    assert_eq!(clickhouse_day_rows(&s.env.ch.client, day).await, 0);
    let (state, ch_rows, pg_rows, _, _, attempts) = ledger_row(&s.env.pg.pool, day).await.unwrap();
    assert_eq!((state.as_str(), ch_rows, pg_rows), ("done", Some(3), Some(3)));
    assert!(attempts >= 1, "the day was reopened");
}

/// The ledger state a crash at `point` leaves the first day in, and whether ClickHouse must
/// still hold the whole day then (it may let go of it only once verified).
fn left_by(point: FaultPoint) -> (&'static str, bool) {
    match point {
        FaultPoint::AfterLedger | FaultPoint::DuringCopy => ("copying", true),
        FaultPoint::AfterCopy | FaultPoint::AfterVerify => ("copied", true),
        FaultPoint::BeforeDrop => ("verified", true),
        FaultPoint::AfterDrop => ("verified", false),
        FaultPoint::BeforeDone => ("dropped", false),
        FaultPoint::AfterInsert | FaultPoint::DuringMigration | FaultPoint::AfterMigration => {
            unreachable!("not a point of the archive job")
        }
    }
}

/// Crashes `archiver run-once` (a child process) at `point`, checks what the crash left,
/// re-runs it and checks every old day is archived exactly once.
async fn crash_then_rerun(point: FaultPoint) {
    // Arrange
    let s = seeded().await;
    let day = s.old_days[0];
    let (expected_state, still_whole) = left_by(point);

    // Act: crash.
    let crashed = run_once_child(&s.env, Some(point)).await;

    // Assert: it crashed where asked; ClickHouse lost the day only after verification.
    assert_eq!(crashed.code(), Some(FAULT_EXIT_CODE), "run-once stops at {point:?}");
    let (state, ch_rows, pg_rows, ch_sum, pg_sum, _) = ledger_row(&s.env.pg.pool, day).await.unwrap();
    assert_eq!(state, expected_state, "ledger state after a crash at {point:?}");
    let left_in_clickhouse = clickhouse_day_rows(&s.env.ch.client, day).await;
    if still_whole {
        assert_eq!(
            left_in_clickhouse, s.before[0].rows,
            "the day is whole in ClickHouse until verified ({point:?})"
        );
    } else {
        assert_eq!(left_in_clickhouse, 0, "a day is dropped whole");
        assert_eq!(
            (ch_rows, ch_sum.clone()),
            (Some(s.before[0].rows as i64), Some(s.before[0].checksum())),
            "dropped after counting what ClickHouse held"
        );
        assert_eq!((ch_rows, &ch_sum), (pg_rows, &pg_sum), "dropped after equal counts");
    }
    if point == FaultPoint::AfterVerify {
        assert_eq!((ch_rows, &ch_sum), (pg_rows, &pg_sum), "counted equal before the crash");
    }
    assert!(
        ledger_row(&s.env.pg.pool, s.old_days[1]).await.is_none(),
        "the run stopped at the first day"
    );

    // Act: run again.
    let rerun = run_once_child(&s.env, None).await;

    // Assert
    assert!(rerun.success(), "the re-run succeeds: {rerun:?}");
    assert_archived(&s).await;
}

/// A test per fault point, each with a name of its own: every point fails on its own and
/// they run in parallel.
macro_rules! crash_then_rerun_tests {
    ($($name:ident => $point:ident,)*) => {$(
        #[tokio::test]
        async fn $name() {
            crash_then_rerun(FaultPoint::$point).await;
        }
    )*};
}

crash_then_rerun_tests! {
    a_crash_after_the_day_is_opened_then_a_rerun_archives_every_row_exactly_once => AfterLedger,
    a_crash_in_the_middle_of_the_copy_then_a_rerun_archives_every_row_exactly_once => DuringCopy,
    a_crash_after_the_copy_then_a_rerun_archives_every_row_exactly_once => AfterCopy,
    a_crash_after_verifying_then_a_rerun_archives_every_row_exactly_once => AfterVerify,
    a_crash_before_the_drop_then_a_rerun_archives_every_row_exactly_once => BeforeDrop,
    a_crash_after_the_drop_then_a_rerun_archives_every_row_exactly_once => AfterDrop,
    a_crash_before_done_then_a_rerun_archives_every_row_exactly_once => BeforeDone,
}

#[tokio::test]
async fn late_results_for_a_day_being_archived_go_to_the_archive_and_the_day_still_verifies() {
    // Arrange: a crash after the copy leaves the day `copied`; then late results of it arrive.
    let s = seeded().await;
    let day = s.old_days[0];
    assert_eq!(
        run_once_child(&s.env, Some(FaultPoint::AfterCopy)).await.code(),
        Some(FAULT_EXIT_CODE)
    );
    let app = App::spawn(s.env.config()).await;
    let (start, _) = fresh::day_bounds(day);
    let late = vec![result_at(
        Uuid::new_v4(),
        start + chrono::Duration::hours(5),
        common::messages::Outcome::Up,
        10,
    )];
    s.env.publish_all(&late).await;
    wait_until(
        std::time::Duration::from_secs(30),
        "the late result archived",
        || async { archived_counts(&s.env.pg.pool, day).await.0 > s.before[0].rows as i64 },
    )
    .await;
    app.stop().await;

    // Act
    let rerun = run_once_child(&s.env, None).await;

    // Assert
    assert!(rerun.success());
    let (rows, distinct) = archived_counts(&s.env.pg.pool, day).await;
    assert_eq!(
        (rows, distinct),
        (s.before[0].rows as i64 + 1, s.before[0].rows as i64 + 1)
    );
    let (state, ch_rows, pg_rows, ch_sum, pg_sum, _) = ledger_row(&s.env.pg.pool, day).await.unwrap();
    assert_eq!(state, "done");
    assert_eq!(
        (ch_rows, ch_sum.clone()),
        (Some(s.before[0].rows as i64), Some(s.before[0].checksum()))
    );
    assert_eq!((pg_rows, pg_sum), (ch_rows, ch_sum), "verified over ClickHouse's rows");
    assert_eq!(clickhouse_day_rows(&s.env.ch.client, day).await, 0);
}
