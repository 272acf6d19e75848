//! `/healthz`, `/readyz` and `/metrics`: the small HTTP server every service mounts.
//!
//! `/healthz` answers 200 while the process runs; `/readyz` runs the service's dependency
//! checks (200 when all pass, 503 naming the failures otherwise) and adds the service's
//! degraded notes (a named condition an operator should see that is not worth a restart:
//! `{"status": "ready", "degraded": {"archive": "…"}}`, still 200); `/metrics` renders the
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
type NoteFn = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The dependency checks behind `/readyz`.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, CheckFn)>,
    notes: Vec<(&'static str, NoteFn)>,
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

    /// Adds a named degraded note: when `f` returns a text, `/readyz` shows it under
    /// `degraded` but stays 200. For conditions that a restart would not cure (e.g. a paused
    /// archive), so an orchestrator does not restart the service in a loop over them. `f`
    /// must be cheap (it runs on every `/readyz`): read a state kept up to date elsewhere.
    pub fn note<F>(mut self, name: &'static str, f: F) -> Self
    where
        F: Fn() -> Option<String> + Send + Sync + 'static,
    {
        self.notes.push((name, Arc::new(f)));
        self
    }

    /// The degraded notes that are set, by name.
    pub fn degraded(&self) -> Vec<(&'static str, String)> {
        self.notes.iter().filter_map(|(name, f)| Some((*name, f()?))).collect()
    }

    /// Adds a check that PostgreSQL answers.
    pub fn postgres(self, pool: sqlx::PgPool) -> Self {
        self.check("postgres", move || {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar!(r#"select 1 as "one!""#)
                    .fetch_one(&pool)
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
    let as_map = |pairs: Vec<(&'static str, String)>| -> serde_json::Map<String, serde_json::Value> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect()
    };
    let (status, mut body) = if failures.is_empty() {
        (StatusCode::OK, serde_json::json!({"status": "ready"}))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "not_ready", "failing": as_map(failures)}),
        )
    };
    let degraded = readiness.degraded();
    if !degraded.is_empty() {
        body["degraded"] = as_map(degraded).into();
    }
    (status, axum::Json(body)).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> (StatusCode, serde_json::Value) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_degraded_note_shows_in_readyz_and_keeps_it_200() {
        let paused = Arc::new(std::sync::Mutex::new(None::<String>));
        let note = paused.clone();
        let readiness = Readiness::new().note("archive", move || note.lock().unwrap().clone());

        let (status, body) = body_of(readyz(State(readiness.clone())).await).await;
        assert_eq!((status, body), (StatusCode::OK, serde_json::json!({"status": "ready"})));

        *paused.lock().unwrap() = Some("paused: over budget".into());
        let (status, body) = body_of(readyz(State(readiness)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({"status": "ready", "degraded": {"archive": "paused: over budget"}})
        );
    }

    #[tokio::test]
    async fn a_failing_check_is_503_and_still_names_the_degraded_notes() {
        let readiness = Readiness::new()
            .check("db", || async { Err("down".to_owned()) })
            .note("archive", || Some("paused".into()));
        let (status, body) = body_of(readyz(State(readiness)).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            serde_json::json!({"status": "not_ready", "failing": {"db": "down"}, "degraded": {"archive": "paused"}})
        );
    }
}
