//! The start-up and stop every binary shares: logging, the configuration and the shutdown
//! token ([`init`], [`main`]); the Prometheus recorder and the metric descriptions, the ops
//! server (`/healthz`, `/readyz`, `/metrics`), any other listener (the backend's API), and the
//! shutdown that follows a failed main task ([`Service`]).
//!
//! A service's `main` is [`main`]; its `run_with` builds its connections and its
//! [`Readiness`], calls [`Service::start`], does its work until the shutdown token is
//! cancelled, closes its connections and ends with [`Service::stop`]. A one-shot tool
//! (broker-init) starts with [`init`] only.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::health::{self, Readiness, Server};

/// Describes a set of metrics (a crate's `telemetry::describe`).
pub type Describe = fn();

/// Told the address a service's listener is bound to (tests bind port 0 and need the port).
pub trait OnBound<A = SocketAddr>: FnOnce(A) {}

impl<A, F: FnOnce(A)> OnBound<A> for F {}

/// What every binary does first: starts logging as `name`, then reads its configuration `T`
/// from the command line and the environment ([`crate::config::parse`], which exits with
/// clap's message on bad input).
pub fn init<T: clap::Parser>(name: &'static str) -> T {
    crate::telemetry::init(name);
    crate::config::parse()
}

/// A long-running binary's `main`: [`init`], then `run` with the token cancelled by SIGINT or
/// SIGTERM, until it returns.
pub async fn main<T, F, Fut>(name: &'static str, run: F) -> anyhow::Result<()>
where
    T: clap::Parser,
    F: FnOnce(T, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = init(name);
    run(config, crate::shutdown::on_signal()).await
}

/// Installs the process's Prometheus recorder, then runs every `describe`: a description
/// given before a recorder exists goes to the no-op recorder and is lost, so `/metrics`
/// would show the series without `# HELP`.
pub fn describe_metrics(describe: &[Describe]) {
    health::metrics_handle();
    for describe in describe {
        describe();
    }
}

/// A started service: its ops server (and any other listener) runs until the shutdown token
/// is cancelled.
pub struct Service {
    ops_addr: SocketAddr,
    servers: Vec<Server>,
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
            ops_addr: ops.addr,
            servers: vec![ops],
            shutdown: shutdown.clone(),
        })
    }

    /// Serves `router` on `addr` too (the backend's API, apart from its ops listener) until
    /// the shutdown token is cancelled; the address it listens on.
    pub async fn serve(&mut self, addr: SocketAddr, router: axum::Router) -> anyhow::Result<SocketAddr> {
        let server = health::serve(addr, router, self.shutdown.clone())
            .await
            .with_context(|| format!("serving on {addr}"))?;
        let bound = server.addr;
        self.servers.push(server);
        Ok(bound)
    }

    /// The address the ops server listens on.
    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    /// Ends the service with `outcome`, the result of its main task. A failed main task
    /// (a topology conflict, say: nothing works until an operator acts) stops the whole
    /// service first; then every listener finishes the requests in flight.
    pub async fn stop(self, outcome: anyhow::Result<()>) -> anyhow::Result<()> {
        if outcome.is_err() {
            self.shutdown.cancel();
        }
        for server in self.servers {
            server.stopped().await?;
        }
        outcome
    }
}
