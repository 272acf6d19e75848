//! `/healthz`, `/readyz` and `/metrics`: the small HTTP server every service mounts.
//!
//! `/healthz` answers 200 while the process runs; `/readyz` runs the service's dependency
//! checks (200 when all pass, 503 naming the failures otherwise); `/metrics` renders the
//! Prometheus text format of everything recorded through the `metrics` facade.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The dependency checks behind `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, CheckFn)>,
}

impl Readiness {
    /// No checks: always ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a named check.
    pub fn check<F, Fut>(mut self, name: &'static str, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name, Arc::new(move || Box::pin(f()))));
        self
    }

    /// Adds a check that PostgreSQL answers.
    pub fn postgres(self, pool: sqlx::PgPool) -> Self {
        self.check("postgres", move || {
            let pool = pool.clone();
            async move {
                sqlx::query("select 1")
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }

    /// Adds a check that ClickHouse answers.
    pub fn clickhouse(self, client: clickhouse::Client) -> Self {
        self.check("clickhouse", move || {
            let client = client.clone();
            async move { client.query("SELECT 1").execute().await.map_err(|e| e.to_string()) }
        })
    }

    /// Runs every check; the failures, by name.
    pub async fn failures(&self) -> Vec<(&'static str, String)> {
        let runs = self.checks.iter().map(|(name, f)| async move {
            match tokio::time::timeout(CHECK_TIMEOUT, f()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((*name, e)),
                Err(_) => Some((*name, "timed out".to_owned())),
            }
        });
        futures::future::join_all(runs).await.into_iter().flatten().collect()
    }
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (tests); ours then renders empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The three routes, for services that have an HTTP server of their own to merge them into.
pub fn router(readiness: Readiness) -> Router {
    let handle = metrics_handle();
    Router::new()
        .route("/healthz", get(|| async { (StatusCode::OK, "ok") }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()) }
            }),
        )
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    let failures = readiness.failures().await;
    if failures.is_empty() {
        (StatusCode::OK, axum::Json(serde_json::json!({"status": "ready"}))).into_response()
    } else {
        let failing: serde_json::Map<String, serde_json::Value> =
            failures.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "not_ready", "failing": failing})),
        )
            .into_response()
    }
}

/// A running HTTP server.
pub struct Server {
    /// The address it listens on (the real port when 0 was asked).
    pub addr: SocketAddr,
    /// Resolves when the server has stopped.
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Waits until the server has stopped (after its shutdown token is cancelled).
    pub async fn stopped(self) -> anyhow::Result<()> {
        let served = self
            .handle
            .await
            .map_err(|e| anyhow::anyhow!("the HTTP server task failed: {e}"))?;
        Ok(served?)
    }
}

/// Serves `router` on `addr` until `shutdown`, finishing requests in flight.
pub async fn serve(addr: SocketAddr, router: Router, shutdown: CancellationToken) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "listening");
    let handle = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    Ok(Server { addr, handle })
}
