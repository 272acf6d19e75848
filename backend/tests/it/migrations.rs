use common::testing::{TestClickHouse, TestPg};

const EXPECTED_TABLES: &[&str] = &[
    "users",
    "sessions",
    "api_tokens",
    "targets",
    "target_state",
    "incidents",
    "incident_reports",
    "notification_channels",
    "target_channels",
    "telegram_link_tokens",
    "notification_log",
    "maintenance_windows",
    "status_pages",
    "status_page_targets",
    "archived_results",
    "result_rollups",
    "archive_batches",
    "archive_days",
    "sealed_days",
];

#[tokio::test]
async fn postgres_migrations_apply_on_an_empty_database_and_reapply_as_a_no_op() {
    // Arrange
    let pg = TestPg::empty().await;

    // Act
    common::db::migrate_pg(&pg.pool).await.expect("first run applies");
    let applied_once: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    common::db::migrate_pg(&pg.pool).await.expect("second run is a no-op");
    let applied_twice: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&pg.pool)
        .await
        .unwrap();

    // Assert
    assert_eq!(applied_once, applied_twice);
    assert_eq!(applied_once as usize, common::db::MIGRATOR.iter().count());
    let tables: Vec<String> =
        sqlx::query_scalar("select table_name::text from information_schema.tables where table_schema = 'public'")
            .fetch_all(&pg.pool)
            .await
            .unwrap();
    for t in EXPECTED_TABLES {
        assert!(tables.iter().any(|x| x == t), "table {t} is missing; have {tables:?}");
    }
}

#[tokio::test]
async fn only_one_incident_per_target_may_be_open() {
    let pg = TestPg::new().await;
    let user = uuid::Uuid::new_v4();
    let target = uuid::Uuid::new_v4();
    sqlx::query("insert into users (id, email, password_hash) values ($1, 'a@example.com', 'x')")
        .bind(user)
        .execute(&pg.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds) values ($1, $2, 't', 'http', '{}', 60)",
    )
    .bind(target)
    .bind(user)
    .execute(&pg.pool)
    .await
    .unwrap();
    let open = |id: uuid::Uuid| {
        sqlx::query("insert into incidents (id, target_id, owner_id, opened_at) values ($1, $2, $3, now())")
            .bind(id)
            .bind(target)
            .bind(user)
            .execute(&pg.pool)
    };
    open(uuid::Uuid::new_v4())
        .await
        .expect("first open incident is accepted");
    let second = open(uuid::Uuid::new_v4()).await;
    assert!(second.is_err(), "a second open incident for the same target is refused");
}

#[tokio::test]
async fn archive_partitions_are_created_per_month_on_demand() {
    let pg = TestPg::new().await;
    let name: String = sqlx::query_scalar("select ensure_archive_partition('2026-03-15')")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    assert_eq!(name, "archived_results_2026_03");
    let again: String = sqlx::query_scalar("select ensure_archive_partition('2026-03-01')")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    assert_eq!(again, name, "re-creating is a no-op");
    let bound: String = sqlx::query_scalar(
        "select pg_get_expr(relpartbound, oid) from pg_class where relname = 'archived_results_2026_03'",
    )
    .fetch_one(&pg.pool)
    .await
    .unwrap();
    assert!(
        bound.contains("2026-03-01") && bound.contains("2026-04-01"),
        "bounds: {bound}"
    );
}

#[tokio::test]
async fn clickhouse_ddl_applies_and_reapplies_as_a_no_op() {
    // Arrange: TestClickHouse::new() ran the migrations once.
    let ch = TestClickHouse::new().await;

    // Act
    let second = common::db::migrate_clickhouse(&ch.config)
        .await
        .expect("second run succeeds");

    // Assert
    assert!(second.is_empty(), "nothing is re-applied: {second:?}");
    let tables: Vec<String> = ch
        .client
        .query("SELECT name FROM system.tables WHERE database = currentDatabase()")
        .fetch_all()
        .await
        .unwrap();
    assert!(tables.iter().any(|t| t == "check_results"), "tables: {tables:?}");
    let engine: String = ch
        .client
        .query("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'check_results'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(engine, "ReplacingMergeTree");
}

#[tokio::test]
async fn compact_archive_partitions_are_created_per_month_of_the_day() {
    let pg = TestPg::new().await;
    let name: String = sqlx::query_scalar("select ensure_archive_days_partition('2026-03-31')")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    assert_eq!(name, "archive_days_2026_03");
    let again: String = sqlx::query_scalar("select ensure_archive_days_partition('2026-03-01')")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    assert_eq!(again, name, "re-creating is a no-op");
    let bound: String = sqlx::query_scalar(
        "select pg_get_expr(relpartbound, oid) from pg_class where relname = 'archive_days_2026_03'",
    )
    .fetch_one(&pg.pool)
    .await
    .unwrap();
    assert!(
        bound.contains("2026-03-01") && bound.contains("2026-04-01"),
        "bounds: {bound}"
    );
}
