//! A PostgreSQL read replica (`PINGTOWER_DATABASE_READ_URL`): public pages and archived history
//! are read from it. The "replica" here is a second database holding what replication would
//! have copied, so which database answered shows in the answer.

use chrono::{Duration, Utc};
use common::testing::TestPg;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{create_target, get_json, http_target, spawn_app_with};

/// Copies every row of `table` from `from` to `to`, as replication would.
async fn replicate(from: &sqlx::PgPool, to: &sqlx::PgPool, table: &str) {
    let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select to_jsonb(t) from {table} t")))
        .fetch_all(from)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into {table} select * from jsonb_populate_recordset(null::{table}, $1)"
    )))
    .bind(sqlx::types::Json(rows))
    .execute(to)
    .await
    .unwrap();
}

#[tokio::test]
async fn public_pages_and_archived_history_are_read_from_the_replica_when_one_is_set() {
    // Arrange: a backend with a replica; Alice's target on a status page (written to the
    // primary); an archived day 40 days ago whose rollup only the replica has (1 in 4 down).
    let replica = TestPg::new().await;
    let replica_url = replica.config.database_url.clone();
    let app = spawn_app_with(|c| c.api.database_read_url = Some(replica_url)).await;
    let alice = app.user("alice@example.com").await;
    let target: Uuid = create_target(&app, &alice, &http_target("shop", "http://127.0.0.1:9/")).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let created = alice
        .post(app.url("/api/status-pages"))
        .json(&json!({"slug": "replicated", "title": "Replicated", "targets": [
            {"target_id": target, "display_name": "Shop", "position": 0}]}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.text().await.unwrap());
    let day = Utc::now().date_naive() - Duration::days(40);
    let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    sqlx::query("insert into archive_batches (day, state) values ($1, 'done')")
        .bind(day)
        .execute(&app.pg.pool)
        .await
        .unwrap();
    let public = || async {
        let r = reqwest::get(app.url("/status/replicated")).await.unwrap();
        let status = r.status();
        (status, r.json::<Value>().await.unwrap_or_default())
    };

    // Act: before the replica has the page, then after it has it and the rollup.
    let (before, _) = public().await;
    for table in ["users", "targets", "status_pages", "status_page_targets"] {
        replicate(&app.pg.pool, &replica.pool, table).await;
    }
    sqlx::query(
        "insert into result_rollups (target_id, granularity, bucket, checks, failures, degraded)
         values ($1, 'day', $2, 24, 6, 0)",
    )
    .bind(target)
    .bind(midnight)
    .execute(&replica.pool)
    .await
    .unwrap();
    let (after, page) = public().await;
    let daily = get_json(&alice, app.url(&format!("/api/targets/{target}/uptime/daily?days=90"))).await;

    // Assert
    assert_eq!(before, 404, "the page is not on the replica yet");
    assert_eq!(after, 200, "{page}");
    let bar = |days: &Value| {
        days.as_array()
            .unwrap()
            .iter()
            .find(|d| d["date"] == day.to_string())
            .map(|d| d["uptime"].clone())
    };
    assert_eq!(bar(&page["targets"][0]["days"]), Some(json!(0.75)), "{page}");
    assert_eq!(bar(&daily["days"]), Some(json!(0.75)), "{daily}");
}
