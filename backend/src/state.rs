//! [`AppState`]: the cheap handles every handler and worker shares.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bus::{Broker, Publisher};
use tokio_util::sync::CancellationToken;

use crate::cache::TtlCache;
use crate::config::Config;
use crate::config::PUBLIC_CACHE_ENTRIES;
use crate::ratelimit::{HashQueue, LoginLimiter, PerMinute, RateLimiter};
use crate::secrets;

/// How long a heartbeat looked up by its token is reused: a changed schedule, a pause or a new
/// token reaches the ping endpoint within this.
pub const HEARTBEAT_CACHE_TTL: Duration = Duration::from_secs(2);
/// Heartbeats kept by the ping endpoint's cache at most.
const HEARTBEAT_CACHE_ENTRIES: usize = 100_000;

/// The handles shared by every handler and worker, behind one reference count: axum clones
/// the state for every middleware and extractor that takes it (several times per request),
/// and a clone of the handles themselves counted a dozen references up and down.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// PostgreSQL.
    pub pool: sqlx::PgPool,
    /// PostgreSQL for the heavy public and history reads: the read replica when one is
    /// configured, else the same pool as `pool`.
    pub read_pool: sqlx::PgPool,
    /// ClickHouse (fresh check results). Behind an `Arc`: the client's clone copies its
    /// URL, options and headers, and the history and baseline readers take one per request.
    pub clickhouse: Arc<clickhouse::Client>,
    /// The supervised AMQP connection.
    pub broker: Broker,
    /// Confirming publisher (jobs, incident events, Test now requests).
    pub publisher: Publisher,
    /// The configuration.
    pub config: Arc<Config>,
    /// Rate limits, the password hash queue and the public caches.
    pub edge: Arc<EdgeState>,
    /// Seals and opens target secrets (`PINGTOWER_SECRET_KEY`; none: secrets cannot be stored).
    pub secret_key: Option<secrets::SecretKey>,
    /// "Test now" calls per user in the last minute.
    pub test_now_limiter: Arc<PerMinute>,
    /// Channel tests: one per channel per [`crate::http::channels::TEST_INTERVAL`].
    pub channel_test_limiter: Arc<RateLimiter>,
    /// Stores heartbeat pings in batches ([`crate::heartbeats::recorder`]).
    pub recorder: crate::heartbeats::recorder::Recorder,
    /// Decides which addresses a target may point at. [`AppState::new`] protects only what
    /// needs no DNS; [`run`] gives [`AppState::with_guard`] one over every suite endpoint
    /// ([`suite_guard`]).
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
        let clickhouse = Arc::new(common::db::clickhouse_client(&config.clickhouse));
        let broker = Broker::new(
            config.amqp.amqp_url.clone(),
            "backend",
            bus::Topology::new(&config.amqp.regions),
            shutdown,
        );
        let publisher = Publisher::new(broker.clone(), Duration::from_secs(5));
        let secret_key = secrets::SecretKey::from_config(config.api.secret_key.as_ref())?;
        let guard = common::netguard::Guard::from_parts(&config.guard, Vec::new());
        let edge = Arc::new(EdgeState::new(&config));
        if config.edge.request_timeout <= config.api.test_now_timeout {
            tracing::warn!(
                request_timeout = ?config.edge.request_timeout,
                test_now_timeout = ?config.api.test_now_timeout,
                "PINGTOWER_REQUEST_TIMEOUT is not above PINGTOWER_TEST_NOW_TIMEOUT: a slow \"Test now\" ends in 504"
            );
        }
        Ok(Self(Arc::new(Shared {
            recorder: crate::heartbeats::recorder::Recorder::start(pool.clone()),
            guard,
            secret_key,
            test_now_limiter: Arc::default(),
            channel_test_limiter: Arc::new(RateLimiter::new(1, crate::http::channels::TEST_INTERVAL)),
            pool,
            read_pool,
            clickhouse,
            broker,
            publisher,
            config: Arc::new(config),
            edge,
        })))
    }

    /// This state with `guard` in place of the one it was made with, before the state is
    /// shared: [`crate::run`] makes the state first (so a bad configuration fails before any
    /// name is resolved), then the guard over every suite endpoint.
    pub fn with_guard(mut self, guard: common::netguard::Guard) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("the guard is set before the state is cloned")
            .guard = guard;
        self
    }

    /// The regions users may pick (the configured pinger regions).
    pub fn known_regions(&self) -> Vec<String> {
        let regions: Vec<String> = self
            .config
            .amqp
            .regions
            .iter()
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        if regions.is_empty() {
            vec![common::messages::DEFAULT_REGION.to_owned()]
        } else {
            regions
        }
    }
}

/// The edge's shared state: rate limits, the password hash queue and the public caches.
#[derive(Debug)]
pub struct EdgeState {
    /// Failed logins per client and per (account, client).
    pub login_limiter: Arc<LoginLimiter>,
    /// Failed logins one client address may spend, across all accounts.
    pub login_client_limit: u32,
    /// Failed logins per (account, client) pair.
    pub login_account_limit: u32,
    /// Registrations per client address.
    pub register_limiter: RateLimiter,
    /// Public status page, badge and acknowledgement link requests per client address.
    pub public_limiter: RateLimiter,
    /// Bounds Argon2 work (each hash takes ~19 MiB and a core for a while).
    pub hash_queue: HashQueue,
    /// Public status pages by slug (`None`: no such page).
    pub status_cache: TtlCache<String, Option<crate::http::status_pages::PublicPage>>,
    /// Badges by (token, file) (`None`: unknown token or file).
    pub badge_cache: TtlCache<(String, String), Option<String>>,
    /// What acknowledgement links show, by incident (`None`: no such incident).
    pub ack_cache: TtlCache<uuid::Uuid, Option<crate::http::escalation::AckInfo>>,
    /// Heartbeats by ping token or `key/slug` (`None`: no such heartbeat), for a few seconds.
    pub heartbeat_cache: TtlCache<String, Option<Arc<crate::heartbeats::recorder::Heartbeat>>>,
    /// Pings per heartbeat.
    pub ping_limiter: RateLimiter,
    /// Pings of unknown tokens per client address (guessing).
    pub ping_miss_limiter: RateLimiter,
}

impl EdgeState {
    /// The state for `config`.
    pub fn new(config: &Config) -> Self {
        let edge = &config.edge;
        let account = config.api.login_max_failures.max(1);
        Self {
            login_limiter: Arc::new(LoginLimiter::new(config.api.login_window)),
            // A client address may be shared (an office behind NAT): it may spend a few
            // accounts' worth of failures, and each account on it only its own.
            login_client_limit: account.saturating_mul(4),
            login_account_limit: account,
            register_limiter: RateLimiter::new(edge.register_per_hour, Duration::from_secs(3600)),
            public_limiter: RateLimiter::new(edge.public_rate_limit, Duration::from_secs(60)),
            hash_queue: HashQueue::new(edge.hash_concurrency, edge.hash_queue),
            status_cache: TtlCache::new(edge.public_cache_ttl, PUBLIC_CACHE_ENTRIES),
            badge_cache: TtlCache::new(edge.public_cache_ttl, PUBLIC_CACHE_ENTRIES),
            ack_cache: TtlCache::new(edge.public_cache_ttl, PUBLIC_CACHE_ENTRIES),
            heartbeat_cache: TtlCache::new(HEARTBEAT_CACHE_TTL, HEARTBEAT_CACHE_ENTRIES),
            ping_limiter: RateLimiter::new(edge.ping_rate_limit, Duration::from_secs(60)),
            ping_miss_limiter: RateLimiter::new(edge.public_rate_limit, Duration::from_secs(60)),
        }
    }
}
