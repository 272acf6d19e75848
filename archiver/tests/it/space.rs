use std::net::SocketAddr;
use std::time::Duration;

use archiver::SpaceGate;
use archiver::fresh::{self, DayStats};
use chrono::NaiveDate;
use uuid::Uuid;

use crate::helpers::*;

const PAUSED_BUDGET: &str = "pingtower_archiver_archive_paused{reason=\"budget\"}";

/// Two old days in ClickHouse (with redeliveries); their stats.
async fn seed_old_days(env: &TestEnv) -> Vec<(NaiveDate, DayStats)> {
    let targets: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    let mut seeded = Vec::new();
    for day in [days_ago(41), days_ago(40)] {
        let results = day_results(day, &targets, 100);
        insert_into_clickhouse(&env.ch.client, &results).await;
        insert_into_clickhouse(&env.ch.client, &results[..results.len() / 10]).await;
        seeded.push((day, fresh::day_stats(&env.ch.client, day).await.unwrap()));
    }
    seeded
}

/// `/readyz`: its status code and body.
async fn readyz(addr: SocketAddr) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Archived results in both layouts.
async fn archived_total(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "select (select count(*) from archived_results)
              + (select coalesce(sum(cardinality(result_ids)), 0) from archive_days)::int8",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn ledger_states(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("select state from archive_batches order by day")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn over_budget_days_wait_in_clickhouse_and_move_exactly_once_when_the_budget_is_raised() {
    // Arrange: two old days, and a budget no day fits in.
    let env = TestEnv::new().await;
    let seeded = seed_old_days(&env).await;
    let mut config = env.config();
    config.archive.interval = Duration::from_millis(500);
    config.archive.max_bytes = Some(1);

    // Act
    let app = App::spawn(config.clone()).await;

    // Assert: paused, visible on /metrics and /readyz (still 200), nothing moved.
    wait_until(Duration::from_secs(60), "the budget pause on /metrics", || async {
        metric(app.addr, PAUSED_BUDGET).await == Some(1.0)
    })
    .await;
    let (status, body) = readyz(app.addr).await;
    assert_eq!(status, 200, "{body}");
    let note = body["degraded"]["archive"].as_str().unwrap_or_default().to_owned();
    assert!(
        note.contains("budget") && note.contains("PINGTOWER_ARCHIVE_MAX_BYTES"),
        "{body}"
    );
    // Several passes later, still nothing moved and nothing dropped.
    let runs = "pingtower_archiver_archive_runs_total{result=\"ok\"}";
    let first = metric(app.addr, runs).await.unwrap_or(0.0);
    wait_until(Duration::from_secs(60), "two more archive passes", || async {
        metric(app.addr, runs).await.unwrap_or(0.0) >= first + 2.0
    })
    .await;
    assert_eq!(metric(app.addr, PAUSED_BUDGET).await, Some(1.0));
    for (day, before) in &seeded {
        assert_eq!(
            &fresh::day_stats(&env.ch.client, *day).await.unwrap(),
            before,
            "{day} kept in ClickHouse"
        );
    }
    assert_eq!(archived_total(&env.pg.pool).await, 0, "nothing archived");
    assert!(ledger_states(&env.pg.pool).await.is_empty(), "no day opened");
    app.stop().await;

    // Act: the budget raised.
    config.archive.max_bytes = Some(10 << 30);
    let app = App::spawn(config).await;

    // Assert: both days move, each row once; the pause is over.
    wait_until(Duration::from_secs(90), "both days archived", || async {
        ledger_states(&env.pg.pool).await == ["done", "done"]
    })
    .await;
    for (day, before) in &seeded {
        let archived = archiver::days::day_stats(&env.pg.pool, *day).await.unwrap();
        assert_eq!(&archived, before, "{day} archived as ClickHouse held it");
        let (rows, distinct) = archived_counts(&env.pg.pool, *day).await;
        assert_eq!(rows, distinct, "{day} archived exactly once");
        assert_eq!(
            clickhouse_day_rows(&env.ch.client, *day).await,
            0,
            "{day} left ClickHouse"
        );
    }
    wait_until(
        Duration::from_secs(30),
        "the archive's size, oldest day and free space gauges",
        || async {
            let size = metric(app.addr, "pingtower_archiver_archive_size_bytes")
                .await
                .unwrap_or(0.0);
            let oldest = metric(app.addr, "pingtower_archiver_archive_oldest_day_timestamp_seconds").await;
            let expected = seeded[0].0.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() as f64;
            let free = metric(app.addr, "pingtower_archiver_postgres_free_bytes")
                .await
                .unwrap_or(0.0);
            size > 0.0 && oldest == Some(expected) && free > 0.0
        },
    )
    .await;
    assert_eq!(metric(app.addr, PAUSED_BUDGET).await, Some(0.0));
    let (status, body) = readyz(app.addr).await;
    assert_eq!((status, body.get("degraded")), (200, None), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_day_that_would_eat_into_the_minimum_free_space_waits_and_a_copied_day_still_finishes() {
    // Arrange: PostgreSQL runs on this host, so its disk is visible.
    let env = TestEnv::new().await;
    let seeded = seed_old_days(&env).await;
    let day = seeded[0].0;
    let gate = |min_free| SpaceGate::new(env.pg.pool.clone(), env.ch.client.clone(), min_free, None);

    // Act + Assert
    let free = gate(1)
        .pg_free_bytes()
        .await
        .expect("the local server's free space is visible");
    assert!(free > 0);
    assert_eq!(gate(1).check(day).await.unwrap(), None, "a byte of headroom fits");
    let pause = gate(free + (1 << 30))
        .check(day)
        .await
        .unwrap()
        .expect("more than is free: paused");
    assert_eq!((pause.reason, pause.day), ("disk", day));
    assert_eq!(gate(0).check(day).await.unwrap(), None, "0 turns the check off");

    // A day whose rows are in PostgreSQL already needs no new space.
    sqlx::query("insert into archive_batches (day, state) values ($1, 'copied')")
        .bind(day)
        .execute(&env.pg.pool)
        .await
        .unwrap();
    assert_eq!(gate(u64::MAX).check(day).await.unwrap(), None);
    let budget = SpaceGate::new(env.pg.pool.clone(), env.ch.client.clone(), 0, Some(1));
    assert_eq!(budget.check(day).await.unwrap(), None);
    assert_eq!(
        budget.check(seeded[1].0).await.unwrap().map(|p| p.reason),
        Some("budget")
    );
}
