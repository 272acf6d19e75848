//! Storage helpers: the PostgreSQL pool and migrator, the ClickHouse client and its
//! idempotent migration runner.

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{ClickHouseConfig, PgConfig};

include!(concat!(env!("OUT_DIR"), "/clickhouse_migrations.rs"));

/// The PostgreSQL migrations of `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// TCP keepalives PostgreSQL applies to each of our connections (unless the URL's `options`
/// name their own): it notices a client whose host vanished within about 25 s, and so
/// releases its advisory locks — the scheduler's leadership — instead of after the system
/// default of hours. (They are per-session settings any user may set.)
pub const PG_KEEPALIVES: [(&str, &str); 3] = [
    ("tcp_keepalives_idle", "10"),
    ("tcp_keepalives_interval", "5"),
    ("tcp_keepalives_count", "3"),
];

/// The connect options of a PostgreSQL URL, with [`PG_KEEPALIVES`] unless it sets its own.
pub fn pg_connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    if options.get_options().is_some_and(|o| o.contains("tcp_keepalives")) {
        return Ok(options);
    }
    Ok(options.options(PG_KEEPALIVES))
}

/// A pool for `config`. Connections are made lazily, so a service starts while PostgreSQL
/// is still down and becomes ready when it answers.
pub fn pg_pool(config: &PgConfig) -> Result<PgPool, sqlx::Error> {
    let options = pg_connect_options(config.database_url.expose_secret())?;
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options))
}

/// Applies the PostgreSQL migrations; a no-op when they are applied already.
pub async fn migrate_pg(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// A ClickHouse client for `config`'s database.
///
/// Validation is off: ClickHouse 18.16 (Debian's) rejects the settings it sends.
pub fn clickhouse_client(config: &ClickHouseConfig) -> clickhouse::Client {
    clickhouse::Client::default()
        .with_url(config.url.as_str().trim_end_matches('/'))
        .with_user(&config.user)
        .with_password(config.password.expose_secret())
        .with_database(&config.database)
        .with_validation(false)
}

/// Errors of the ClickHouse migration runner.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseMigrateError {
    /// A statement failed.
    #[error("ClickHouse migration {file} failed: {source}")]
    Statement {
        /// The migration file.
        file: String,
        /// What ClickHouse said.
        source: clickhouse::error::Error,
    },
    /// The bookkeeping failed.
    #[error("ClickHouse migration bookkeeping failed: {0}")]
    Ledger(#[from] clickhouse::error::Error),
}

/// Creates the database if needed and applies every file of `migrations/clickhouse` not
/// applied before, recording each in `schema_migrations`. Statements are also written to be
/// idempotent (`IF NOT EXISTS`), so a crash between a file and its record is harmless.
pub async fn migrate_clickhouse(config: &ClickHouseConfig) -> Result<Vec<String>, ClickHouseMigrateError> {
    let server = clickhouse_client(&ClickHouseConfig {
        database: "default".into(),
        ..config.clone()
    });
    server
        .query(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            quote_ident(&config.database)
        ))
        .execute()
        .await?;
    let client = clickhouse_client(config);
    client
        .query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime DEFAULT now()) \
             ENGINE = ReplacingMergeTree ORDER BY name",
        )
        .execute()
        .await?;
    let applied: Vec<String> = client
        .query("SELECT DISTINCT name FROM schema_migrations")
        .fetch_all()
        .await?;
    let mut newly = Vec::new();
    for (file, sql) in CLICKHOUSE_MIGRATIONS {
        if applied.iter().any(|a| a == file) {
            continue;
        }
        for statement in split_statements(sql) {
            client
                .query(&statement)
                .execute()
                .await
                .map_err(|source| ClickHouseMigrateError::Statement {
                    file: (*file).to_owned(),
                    source,
                })?;
        }
        client
            .query("INSERT INTO schema_migrations (name) VALUES (?)")
            .bind(*file)
            .execute()
            .await?;
        tracing::info!(file, "applied ClickHouse migration");
        newly.push((*file).to_owned());
    }
    Ok(newly)
}

/// Quotes a ClickHouse identifier with backticks.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Splits a migration into statements at `;` that end a line, dropping `--` comment lines.
fn split_statements(sql: &str) -> Vec<String> {
    let body: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split(";\n")
        .chain(std::iter::once(""))
        .map(|s| s.trim().trim_end_matches(';').trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Adds an entry to an incident's timeline (the incident engine, acknowledgements, the
/// notifier's escalation steps).
pub async fn timeline(
    tx: &mut sqlx::PgConnection,
    incident: uuid::Uuid,
    at: chrono::DateTime<chrono::Utc>,
    kind: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into incident_timeline (incident_id, at, kind, message) values ($1, $2, $3, $4)",
        incident,
        at,
        kind,
        message
    )
    .execute(&mut *tx)
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_ends_and_skip_comments() {
        let sql =
            "-- a comment\nCREATE TABLE a (x String) ENGINE = Memory;\n\nCREATE TABLE b (y String) ENGINE = Memory;\n";
        assert_eq!(
            split_statements(sql),
            vec![
                "CREATE TABLE a (x String) ENGINE = Memory",
                "CREATE TABLE b (y String) ENGINE = Memory"
            ]
        );
    }

    #[test]
    fn the_check_results_migration_is_embedded() {
        assert!(
            CLICKHOUSE_MIGRATIONS
                .iter()
                .any(|(f, sql)| f.contains("check_results") && sql.contains("ReplacingMergeTree"))
        );
    }
}
