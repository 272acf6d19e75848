use std::time::Duration;

use bus::testing::TestBroker;
use common::testing::{TestClickHouse, TestPg, assert_health_endpoints};

use crate::helpers::{backend_config, start};

#[tokio::test]
async fn it_serves_metrics_and_readiness_on_the_ops_listener_only_and_stops_on_shutdown() {
    // Arrange: the installation's guard (private targets refused), the API's defaults.
    let (broker, pg, ch) = (
        TestBroker::new().await,
        TestPg::new().await,
        TestClickHouse::new().await,
    );
    let config = backend::Config {
        guard: Default::default(),
        ..backend_config(&broker, &pg, &ch)
    };
    let mut app = start(config, pg, broker, ch).await;

    // Act + Assert: metrics and readiness on the ops listener only; the API listener (which
    // faces users) answers them 404 and still says it is alive.
    assert_health_endpoints(app.ops, Duration::from_secs(20)).await;
    for path in ["/metrics", "/readyz"] {
        let r = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(r.status(), 404, "{path} on the API listener");
    }
    let alive = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(alive.status(), 200);
    app.shutdown.cancel();
    let service = app.handle.take().expect("the backend runs");
    let stopped = tokio::time::timeout(Duration::from_secs(10), service).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "backend stops cleanly: {stopped:?}");
}

/// Runs the real backend binary with `env` (and the test databases) and returns its exit code
/// and standard error.
async fn backend_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    use secrecy::ExposeSecret;
    let (pg, ch) = (TestPg::new().await, TestClickHouse::new().await);
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"));
    command
        .args(args)
        .env("PINGTOWER_DATABASE_URL", pg.config.database_url.expose_secret())
        .env("PINGTOWER_CLICKHOUSE_URL", ch.config.url.as_str())
        .env("PINGTOWER_CLICKHOUSE_DATABASE", &ch.config.database)
        .env("PINGTOWER_LOG_FORMAT", "json")
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the backend exits")
        .expect("the backend runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn empty_settings_count_as_unset_and_a_bad_engine_setting_stops_the_start() {
    // Arrange + Act: settings left empty, as `${X:-}` in a compose file leaves them; then an
    // unreadable incident engine setting.
    let empty = [
        ("PINGTOWER_ALLOW_PRIVATE_TARGETS", ""),
        ("PINGTOWER_MIN_INTERVAL_SECONDS", ""),
        ("PINGTOWER_HTTP_ADDR", " "),
        ("PINGTOWER_INCIDENT_QUORUM", ""),
    ];
    let (migrated, migrate_log) = backend_binary(&["migrate"], &empty).await;
    let (refused, refused_log) = backend_binary(&[], &[("PINGTOWER_INCIDENT_QUORUM", "half")]).await;

    // Assert
    assert_eq!(migrated, Some(0), "{migrate_log}");
    assert_ne!(refused, Some(0), "{refused_log}");
    assert!(
        refused_log.contains("incident-quorum") && refused_log.contains("half"),
        "the error names the setting and the value: {refused_log}"
    );
}

#[tokio::test]
async fn service_connections_ask_postgres_for_keepalives_unless_the_url_sets_them() {
    // Arrange
    let pg = TestPg::new().await;
    let own = common::config::PgConfig {
        database_url: format!(
            "{}?options=-c%20tcp_keepalives_idle%3D42",
            secrecy::ExposeSecret::expose_secret(&pg.config.database_url)
        )
        .into(),
        max_connections: 1,
    };
    let show = |pool: sqlx::PgPool| async move {
        let values: (String, String, String) = sqlx::query_as(
            "select current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'),
                    current_setting('tcp_keepalives_count')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        values
    };

    // Act
    let ours = show(common::db::pg_pool(&pg.config).unwrap()).await;
    let theirs = show(common::db::pg_pool(&own).unwrap()).await;

    // Assert: a vanished host is noticed within ~25 s (its advisory locks released).
    assert_eq!(ours, ("10".into(), "5".into(), "3".into()));
    assert_eq!(theirs.0, "42", "the URL's own options win");
}
