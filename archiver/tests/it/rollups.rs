use chrono::Utc;
use common::messages::Outcome;
use common::testing::TestClickHouse;
use uuid::Uuid;

use crate::helpers::*;

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Rollup {
    checks: u64,
    failures: u64,
    degraded: u64,
    latency_max_ms: u32,
    latency_q: Vec<f64>,
}

#[tokio::test]
async fn clickhouse_rollups_count_each_result_once_per_hour_and_per_day() {
    // Arrange: one target, one hour: 6 up, 2 degraded, 2 down (one while the probe was
    // degraded); every result inserted twice, as redeliveries would.
    let ch = TestClickHouse::new().await;
    let target = Uuid::new_v4();
    let hour = Utc::now().date_naive().and_hms_opt(3, 0, 0).unwrap().and_utc() - chrono::Duration::days(1);
    let mut results = Vec::new();
    for i in 0..10u32 {
        let outcome = match i {
            0..6 => Outcome::Up,
            6..8 => Outcome::Degraded,
            _ => Outcome::Down,
        };
        let mut r = result_at(
            target,
            hour + chrono::Duration::minutes(i64::from(i) * 5),
            outcome,
            100 * (i + 1),
        );
        r.probe_degraded = i == 9;
        results.push(r);
    }

    // Act
    insert_into_clickhouse(&ch.client, &results).await;
    insert_into_clickhouse(&ch.client, &results).await;

    // Assert
    let select = |table: &str, bucket: &str| {
        format!(
            "SELECT uniqExactMerge(checks) AS checks, uniqExactIfMerge(failures) AS failures, \
                    uniqExactIfMerge(degraded) AS degraded, maxIfMerge(latency_max_ms) AS latency_max_ms, \
                    arrayMap(x -> toFloat64(x), quantilesIfMerge(0.5, 0.95, 0.99)(latency_quantiles_ms)) AS latency_q \
             FROM {table} WHERE target_id = toUUID(?) GROUP BY target_id, {bucket}"
        )
    };
    for (table, bucket) in [("check_rollups_hourly", "hour"), ("check_rollups_daily", "day")] {
        let rollups: Vec<Rollup> = ch
            .client
            .query(&select(table, bucket))
            .bind(target.to_string())
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(rollups.len(), 1, "{table}: one bucket");
        let r = &rollups[0];
        assert_eq!((r.checks, r.failures, r.degraded), (10, 1, 2), "{table}: {r:?}");
        assert_eq!(r.latency_max_ms, 800, "{table}: latency over results not down");
        assert_eq!(r.latency_q.len(), 3);
        assert!((100.0..=800.0).contains(&r.latency_q[0]), "{table}: median {r:?}");
    }
}
