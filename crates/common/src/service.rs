//! The start-up and stop every service shares: the Prometheus recorder and the metric
//! descriptions, the ops server (`/healthz`, `/readyz`, `/metrics`), and the shutdown that
//! follows a failed main task.
//!
//! A service's `run` builds its connections and its [`Readiness`], calls [`Service::start`],
//! does its work until the shutdown token is cancelled, closes its connections and ends with
//! [`Service::stop`].

use std::net::SocketAddr;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::health::{self, Readiness, Server};

/// Describes a set of metrics (a crate's `telemetry::describe`).
pub type Describe = fn();

/// Installs the process's Prometheus recorder, then runs every `describe`: a description
/// given before a recorder exists goes to the no-op recorder and is lost, so `/metrics`
/// would show the series without `# HELP`.
pub fn describe_metrics(describe: &[Describe]) {
    health::metrics_handle();
    for describe in describe {
        describe();
    }
}

/// A started service: its ops server runs until the shutdown token is cancelled.
pub struct Service {
    ops: Server,
    shutdown: CancellationToken,
}

impl Service {
    /// Describes the metrics ([`describe_metrics`]) and serves `/healthz`, `/readyz` (the
    /// `readiness` checks) and `/metrics` on `addr` until `shutdown`; port 0 picks a free
    /// port, [`Service::ops_addr`] tells which.
    pub async fn start(
        addr: SocketAddr,
        readiness: Readiness,
        describe: &[Describe],
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        describe_metrics(describe);
        let ops = health::serve(addr, health::router(readiness), shutdown.clone())
            .await
            .with_context(|| format!("serving /healthz, /readyz and /metrics on {addr}"))?;
        Ok(Self {
            ops,
            shutdown: shutdown.clone(),
        })
    }

    /// The address the ops server listens on.
    pub fn ops_addr(&self) -> SocketAddr {
        self.ops.addr
    }

    /// Ends the service with `outcome`, the result of its main task. A failed main task
    /// (a topology conflict, say: nothing works until an operator acts) stops the whole
    /// service first; then the ops server finishes the requests in flight.
    pub async fn stop(self, outcome: anyhow::Result<()>) -> anyhow::Result<()> {
        if outcome.is_err() {
            self.shutdown.cancel();
        }
        self.ops.stopped().await?;
        outcome
    }
}
