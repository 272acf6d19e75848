//! Egress canaries: targets the operator trusts to be up, checked every round. When most of
//! them fail, the pinger's own network is the likelier culprit, so its results carry
//! `probe_degraded=true` instead of being counted against their targets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::config::GuardConfig;
use common::messages::{CheckSpec, HttpSpec, Outcome, StatusRange, TcpSpec};
use common::netguard::Guard;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::engine::Engine;
use crate::telemetry;

/// The canaries' verdict, shared with the workers.
#[derive(Debug, Clone, Default)]
pub struct Canaries {
    degraded: Arc<AtomicBool>,
}

impl Canaries {
    /// Whether most canaries failed in the last round.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn set(&self, degraded: bool) {
        let was = self.degraded.swap(degraded, Ordering::Relaxed);
        if was != degraded {
            if degraded {
                warn!("most egress canaries fail: results are marked probe_degraded");
            } else {
                info!("egress canaries recovered");
            }
        }
        metrics::gauge!(telemetry::PROBE_DEGRADED).set(if degraded { 1.0 } else { 0.0 });
    }
}

/// A canary as a check: a URL is fetched (any HTTP answer proves egress works), `host:port`
/// is connected to.
pub fn spec_of(canary: &str, timeout: Duration) -> Option<CheckSpec> {
    let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    if canary.contains("://") {
        let mut spec = HttpSpec::get(canary);
        spec.expected_status = vec![StatusRange { from: 100, to: 599 }];
        spec.follow_redirects = false;
        spec.verify_tls = false;
        spec.timeout_ms = timeout_ms;
        return Some(CheckSpec::Http(spec));
    }
    let (host, port) = canary.rsplit_once(':')?;
    Some(CheckSpec::Tcp(TcpSpec {
        host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
        port: port.parse().ok()?,
        timeout_ms,
        expected_banner: None,
    }))
}

/// One round: the share of canaries that failed decides. Returns (failed, total).
pub async fn round(engine: &Engine, specs: &[CheckSpec], timeout: Duration) -> (usize, usize) {
    let runs = specs.iter().map(|s| engine.run(s, timeout));
    let reports = futures::future::join_all(runs).await;
    let failed = reports.iter().filter(|r| r.verdict().0 == Outcome::Down).count();
    metrics::counter!(telemetry::CANARY_CHECKS, "result" => "failed").increment(failed as u64);
    metrics::counter!(telemetry::CANARY_CHECKS, "result" => "ok").increment((reports.len() - failed) as u64);
    (failed, reports.len())
}

/// Starts the canary loop (nothing when no canary is configured). The first round runs at once,
/// as the operator: with `guard`'s settings but private targets possible.
pub fn spawn(
    engine: &Engine,
    guard: &GuardConfig,
    canaries: &[String],
    interval: Duration,
    timeout: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<Canaries> {
    let state = Canaries::default();
    let specs: Vec<CheckSpec> = canaries
        .iter()
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            spec_of(c.trim(), timeout).ok_or_else(|| anyhow::anyhow!("canary {c:?} is neither a URL nor host:port"))
        })
        .collect::<Result<_, _>>()?;
    if specs.is_empty() {
        return Ok(state);
    }
    // The operator chose the canaries: they may live on private networks (never on the
    // suite's own endpoints, which stay protected).
    let mut engine = engine.clone().operator();
    let operator = GuardConfig {
        allow_private_targets: true,
        ..guard.clone()
    };
    engine.net.guard = Guard::from_parts(&operator, engine.net.guard.protected().to_vec());
    let shared = state.clone();
    tokio::spawn(async move {
        loop {
            let (failed, total) = round(&engine, &specs, timeout).await;
            shared.set(failed * 2 > total);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
    Ok(state)
}
