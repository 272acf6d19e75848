//! Metric names and their descriptions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::messages::{CheckKind, CheckResult};

common::declare_metrics! {
    /// Checks finished, by kind, outcome and failure kind.
    counter CHECKS = "pingtower_pinger_checks_total", "Checks finished, by kind, outcome and failure kind.";
    /// Checks running right now.
    gauge IN_FLIGHT = "pingtower_pinger_checks_in_flight", "Checks running right now.";
    /// Duration of a check in seconds, by kind.
    histogram DURATION = "pingtower_pinger_check_duration_seconds" in Seconds, "Duration of a check, by kind.";
    /// Lag in seconds: when the check started minus when the scheduler meant it to run.
    histogram LAG = "pingtower_pinger_lag_seconds" in Seconds, "Check start minus its scheduled time.";
    /// Jobs not run: stale on arrival, waited past their deadline, or over their owner's share.
    counter SKIPPED = "pingtower_pinger_jobs_skipped_total",
        "Jobs not run: stale on arrival, waited past their deadline, or over their owner's share.";
    /// Jobs held back by their owner's fair share: `reason="waited"` (waited for a slot of the
    /// owner's share) or `reason="refused"` (the owner held its share of deliveries; skipped).
    counter HELD_BACK = "pingtower_pinger_jobs_held_back_total",
        "Jobs held back by their owner's fair share: waited for a slot, or refused (skipped).";
    /// 1 while most egress canaries fail.
    gauge PROBE_DEGRADED = "pingtower_pinger_probe_degraded", "1 while most egress canaries fail.";
    /// Canary checks, by result.
    counter CANARY_CHECKS = "pingtower_pinger_canary_checks_total", "Canary checks, by result.";
}

/// Describes the metrics (shown as HELP lines), after the recorder is installed; the canary
/// series exist at zero from start.
pub fn describe() {
    common::telemetry::describe(METRICS);
    metrics::gauge!(PROBE_DEGRADED).set(0.0);
    common::telemetry::zero_series(CANARY_CHECKS, "result", &["ok", "failed"]);
}

/// The unlabelled metrics and the per-kind durations, registered once: a handle is an
/// atomic, whereas `metrics::counter!(..)` hashes the key and takes a registry lock on every
/// call. Register after the recorder is installed (before, the handles are no-ops).
#[derive(Clone)]
pub struct Handles {
    /// [`IN_FLIGHT`].
    pub in_flight: metrics::Gauge,
    /// [`LAG`].
    pub lag: metrics::Histogram,
    /// [`SKIPPED`].
    pub skipped: metrics::Counter,
    /// [`HELD_BACK`] with `reason="waited"`.
    pub share_waited: metrics::Counter,
    /// [`HELD_BACK`] with `reason="refused"`.
    pub share_refused: metrics::Counter,
    /// [`DURATION`] by kind, in [`CheckKind`] order.
    duration: [metrics::Histogram; 5],
    /// [`CHECKS`] by (kind, outcome, failure kind), registered on first use.
    checks: Arc<Mutex<HashMap<ChecksLabels, metrics::Counter>>>,
}

type ChecksLabels = (&'static str, &'static str, &'static str);

impl Handles {
    /// Registers the handles with the installed recorder.
    pub fn register() -> Self {
        let duration = [
            CheckKind::Http,
            CheckKind::Tcp,
            CheckKind::Dns,
            CheckKind::Tls,
            CheckKind::Icmp,
        ]
        .map(|kind| metrics::histogram!(DURATION, "kind" => kind.as_str()));
        Self {
            in_flight: metrics::gauge!(IN_FLIGHT),
            lag: metrics::histogram!(LAG),
            skipped: metrics::counter!(SKIPPED),
            share_waited: metrics::counter!(HELD_BACK, "reason" => "waited"),
            share_refused: metrics::counter!(HELD_BACK, "reason" => "refused"),
            duration,
            checks: Arc::default(),
        }
    }

    /// Records a finished check.
    pub fn record(&self, result: &CheckResult) {
        let failure = result.failure.as_ref().map(|f| f.kind.as_str()).unwrap_or("none");
        let labels = (result.check_kind.as_str(), result.outcome.as_str(), failure);
        self.checks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(labels)
            .or_insert_with(
                || metrics::counter!(CHECKS, "kind" => labels.0, "outcome" => labels.1, "failure" => labels.2),
            )
            .increment(1);
        let by_kind = match result.check_kind {
            CheckKind::Http => &self.duration[0],
            CheckKind::Tcp => &self.duration[1],
            CheckKind::Dns => &self.duration[2],
            CheckKind::Tls => &self.duration[3],
            CheckKind::Icmp | CheckKind::Heartbeat => &self.duration[4],
        };
        by_kind.record(f64::from(result.duration_ms) / 1000.0);
    }
}
