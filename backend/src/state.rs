//! [`AppState`]: the cheap handles every handler and worker shares.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bus::{Broker, Publisher};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::http::edge;
use crate::{quotas, secrets};

/// The handles shared by every handler and worker; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// PostgreSQL.
    pub pool: sqlx::PgPool,
    /// PostgreSQL for the heavy public and history reads: the read replica when one is
    /// configured, else the same pool as `pool`.
    pub read_pool: sqlx::PgPool,
    /// ClickHouse (fresh check results).
    pub clickhouse: clickhouse::Client,
    /// The supervised AMQP connection.
    pub broker: Broker,
    /// Confirming publisher (jobs, incident events, Test now requests).
    pub publisher: Publisher,
    /// The configuration.
    pub config: Arc<Config>,
    /// Rate limits, the password hash queue and the public caches.
    pub edge: Arc<edge::EdgeState>,
    /// Seals and opens target secrets (`PINGTOWER_SECRET_KEY`; none: secrets cannot be stored).
    pub secret_key: Option<secrets::SecretKey>,
    /// "Test now" calls per user in the last minute.
    pub test_now_limiter: Arc<quotas::PerMinute>,
    /// Decides which addresses a target may point at. [`AppState::new`] protects only what
    /// needs no DNS; [`run`] replaces it by one over every suite endpoint ([`suite_guard`]).
    pub guard: common::netguard::Guard,
}

impl AppState {
    /// The state for `config`: a lazy PostgreSQL pool, a ClickHouse client and a supervised
    /// broker connection (made in the background; nothing here waits for a server).
    pub fn new(mut config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        // An empty variable (as in .env.example) means "no bot".
        config.api.telegram_bot_username = config
            .api
            .telegram_bot_username
            .take()
            .map(|u| u.trim().trim_start_matches('@').to_owned())
            .filter(|u| !u.is_empty());
        let pool = common::db::pg_pool(&config.pg)?;
        let read_pool = match &config.api.database_read_url {
            Some(url) => common::db::pg_pool(&common::config::PgConfig {
                database_url: url.clone(),
                max_connections: config.pg.max_connections,
            })
            .context("PINGTOWER_DATABASE_READ_URL")?,
            None => pool.clone(),
        };
        let clickhouse = common::db::clickhouse_client(&config.clickhouse);
        let broker = Broker::new(
            config.amqp.amqp_url.clone(),
            "backend",
            bus::Topology::new(&config.amqp.regions),
            shutdown,
        );
        let publisher = Publisher::new(broker.clone(), Duration::from_secs(5));
        let secret_key = secrets::SecretKey::from_config(config.api.secret_key.as_ref())?;
        let guard = common::netguard::Guard::from_parts(&config.guard, Vec::new());
        let edge = Arc::new(edge::EdgeState::new(&config));
        if config.edge.request_timeout <= config.api.test_now_timeout {
            tracing::warn!(
                request_timeout = ?config.edge.request_timeout,
                test_now_timeout = ?config.api.test_now_timeout,
                "PINGTOWER_REQUEST_TIMEOUT is not above PINGTOWER_TEST_NOW_TIMEOUT: a slow \"Test now\" ends in 504"
            );
        }
        Ok(Self {
            guard,
            secret_key,
            test_now_limiter: Arc::default(),
            pool,
            read_pool,
            clickhouse,
            broker,
            publisher,
            config: Arc::new(config),
            edge,
        })
    }
}
