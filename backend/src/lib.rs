//! backend: PingTower's control plane — the REST API, the scheduler and the incident engine,
//! and the server of the built web UI.
//!
//! # Layout
//! - [`http`]: the HTTP layer, one module per resource (accounts, tokens, admin, targets,
//!   history, incidents, maintenance, channels, status pages, badges), each owning its routes,
//!   handlers and DTOs; [`http::app`] assembles them behind [`http::edge::guard`].
//! - [`state`]: [`AppState`], the cheap handles every handler and worker shares.
//! - [`config`]: [`Cli`], [`Config`], [`config::ApiConfig`]: command line and environment.
//! - [`error`]: [`ApiError`], the JSON error every route answers with.
//! - Domain modules, which know nothing of axum: [`scheduler`], [`incidents`] (the engine),
//!   [`baselines`] (latency baselines and the slow-response judgement),
//!   [`history`] (the merged result store), [`targets`] (input validation and the
//!   import/export document), [`dependencies`] (targets' and tags' dependencies), [`validate`], [`quotas`], [`passwords`], [`secrets`],
//!   [`ratelimit`], [`cache`], [`twofactor`] (TOTP codes and recovery codes), [`oidc`] (single
//!   sign-on's protocol side), [`access`] (who may do what in an organisation).
//! - [`openapi`]: [`openapi::document`], the API contract served at `/api/openapi.json`.
//! - [`migrate`]: PostgreSQL and ClickHouse migrations, safe to re-run.
//! - [`run_with_listeners`] / [`run_with`]: the service, startable inside a test.

pub mod access;
pub mod baselines;
pub mod cache;
pub mod clock;
pub mod config;
pub mod dependencies;
pub mod error;
pub mod heartbeats;
pub mod history;
pub mod http;
pub mod incidents;
pub mod oidc;
pub mod openapi;
pub mod passwords;
pub mod quotas;
pub mod ratelimit;
pub mod scheduler;
pub mod secrets;
pub mod state;
pub mod targets;
pub mod telemetry;
pub mod twofactor;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bus::{Publisher, ReadinessExt};
use common::health::Readiness;
use common::service::{OnBound, Service};
use tokio_util::sync::CancellationToken;

pub use config::{Cli, Command, Config};
pub use error::{ApiError, ApiResult};
pub use http::app;
pub use http::auth::CurrentUser;
pub use state::AppState;

/// The suite's own endpoints no check may reach: the broker and its management API,
/// PostgreSQL (primary and replica), ClickHouse, this backend's API and ops listen addresses
/// (when not ephemeral ports) and the public URL's host and port.
pub fn suite_endpoints(config: &Config) -> Vec<String> {
    use secrecy::ExposeSecret;
    let mut out = common::netguard::amqp_endpoints(&config.amqp);
    out.push(config.pg.database_url.expose_secret().to_owned());
    if let Some(read) = &config.api.database_read_url {
        out.push(read.expose_secret().to_owned());
    }
    out.push(config.clickhouse.url.to_string());
    for own in [config.http.addr, config.edge.ops_addr] {
        if own.port() != 0 {
            out.push(own.to_string());
        }
    }
    let public = &config.api.public_url;
    if let (Some(host), Some(port)) = (public.host_str(), public.port_or_known_default()) {
        out.push(format!("{host}:{port}"));
    }
    out
}

/// The guard over [`suite_endpoints`] and `PINGTOWER_PROTECTED_ADDRESSES` (names resolved
/// now, each within a deadline).
pub async fn suite_guard(config: &Config) -> common::netguard::Guard {
    common::netguard::Guard::new(&config.guard, &suite_endpoints(config)).await
}

/// Applies every migration; a no-op when all are applied.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let pool = common::db::pg_pool(&config.pg)?;
    common::db::migrate_pg(&pool)
        .await
        .context("PostgreSQL migrations failed")?;
    let key = secrets::SecretKey::from_config(config.api.secret_key.as_ref())?;
    secrets::seal_legacy(&pool, key.as_ref())
        .await
        .context("encrypting stored plaintext secrets")?;
    let applied = common::db::migrate_clickhouse(&config.clickhouse)
        .await
        .context("ClickHouse migrations failed")?;
    tracing::info!(clickhouse_applied = applied.len(), "migrations are up to date");
    Ok(())
}

/// What the scheduler needs, from the app's state: its own lock connection settings and a
/// publisher with a short timeout (a missed slot is better than a late pile-up).
pub fn scheduler_deps(state: &AppState, clock: scheduler::Clock) -> anyhow::Result<scheduler::Deps> {
    use secrecy::ExposeSecret;
    let lock_options = common::db::pg_connect_options(state.config.pg.database_url.expose_secret())
        .context("PINGTOWER_DATABASE_URL")?;
    Ok(scheduler::Deps {
        pool: state.pool.clone(),
        lock_options,
        publisher: Publisher::new(state.broker.clone(), Duration::from_secs(2)),
        clock,
        standby_poll: Duration::from_secs(1),
        tick: state.config.api.scheduler_tick,
        stats: Arc::new(scheduler::Stats::default()),
        secret_key: state.secret_key.clone(),
        allow_private_targets: state.guard.allow_private_targets(),
        heartbeat_poll: state.config.api.heartbeat_poll,
        heartbeat_settle: state.config.api.heartbeat_settle,
    })
}

/// [`run_with_listeners`], reporting the bound API address to `on_bound` (tests bind port 0).
pub async fn run_with(config: Config, shutdown: CancellationToken, on_bound: impl OnBound) -> anyhow::Result<()> {
    run_with_listeners(config, shutdown, |bound: Bound| on_bound(bound.api)).await
}

/// The addresses the backend listens on.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// The API, the web UI and `/healthz`.
    pub api: std::net::SocketAddr,
    /// `/metrics`, `/readyz` and `/healthz` (`PINGTOWER_OPS_ADDR`).
    pub ops: std::net::SocketAddr,
}

/// Runs until `shutdown` is cancelled, reporting both bound addresses to `on_bound`. On
/// shutdown both listeners finish the requests in flight before the incident engine and the
/// scheduler are awaited and the connections closed.
pub async fn run_with_listeners(
    config: Config,
    shutdown: CancellationToken,
    on_bound: impl OnBound<Bound>,
) -> anyhow::Result<()> {
    let state = AppState::new(config, shutdown.clone())?;
    let guard = suite_guard(&state.config).await;
    let state = state.with_guard(guard);
    let (pool, broker) = (state.pool.clone(), state.broker.clone());
    let readiness = Readiness::new()
        .postgres(pool.clone())
        .clickhouse(clickhouse::Client::clone(&state.clickhouse))
        .amqp(broker.clone());
    let describe = [telemetry::describe, bus::telemetry::describe];
    let mut service = Service::start(state.config.edge.ops_addr, readiness, &describe, &shutdown)
        .await
        .context("PINGTOWER_OPS_ADDR")?;
    let api = match service.serve(state.config.http.addr, app(state.clone())).await {
        Ok(api) => api,
        // The ops listener is up already: it stops with the failed start.
        Err(e) => return service.stop(Err(e.context("PINGTOWER_HTTP_ADDR"))).await,
    };
    on_bound(Bound {
        api,
        ops: service.ops_addr(),
    });
    let connector = broker.clone();
    tokio::spawn(async move {
        let _ = connector.connection().await;
    });
    // Plaintext secrets of targets stored before encryption are sealed once a key is set
    // (idempotent; the scheduler is told of each sealed target by the change trigger).
    let sealer = (state.pool.clone(), state.secret_key.clone());
    tokio::spawn(async move {
        if let Err(error) = secrets::seal_legacy(&sealer.0, sealer.1.as_ref()).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "stored plaintext secrets are not encrypted yet"
            );
        }
    });
    // The audit log keeps PINGTOWER_AUDIT_RETENTION_DAYS: pruned at start and hourly.
    let (pruner, days, stop) = (
        state.pool.clone(),
        state.config.api.audit_retention_days,
        shutdown.clone(),
    );
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            match http::audit::prune(&pruner, days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(entries = n, days, "audit log pruned"),
                Err(e) => tracing::warn!(error = %e, "audit log not pruned"),
            }
        }
    });
    let incidents = state
        .config
        .api
        .incident_engine
        .then(|| incidents::spawn(state.clone(), state.config.api.engine.clone(), shutdown.clone()));
    let scheduler = if state.config.api.scheduler {
        let deps = scheduler_deps(&state, state.config.api.clock)?;
        // The scheduler's leader also refreshes the latency baselines, hourly.
        baselines::spawn_refresher(state.clone(), deps.stats.clone(), shutdown.clone());
        Some(tokio::spawn(scheduler::run(deps, shutdown.clone())))
    } else {
        None
    };
    shutdown.cancelled().await;
    let served = service.stop(Ok(())).await;
    if let Some(engine) = incidents {
        let _ = engine.await;
    }
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    broker.close().await;
    pool.close().await;
    served
}
