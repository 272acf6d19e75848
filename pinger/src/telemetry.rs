//! Metric names and their descriptions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::messages::{CheckKind, CheckResult};

/// Checks finished, by kind, outcome and failure kind.
pub const CHECKS: &str = "pingtower_pinger_checks_total";
/// Checks running right now.
pub const IN_FLIGHT: &str = "pingtower_pinger_checks_in_flight";
/// Duration of a check in seconds, by kind.
pub const DURATION: &str = "pingtower_pinger_check_duration_seconds";
/// Lag in seconds: when the check started minus when the scheduler meant it to run.
pub const LAG: &str = "pingtower_pinger_lag_seconds";
/// Jobs not run: stale on arrival, waited past their deadline, or over their owner's share.
pub const SKIPPED: &str = "pingtower_pinger_jobs_skipped_total";
/// Jobs held back by their owner's fair share: `reason="waited"` (waited for a slot of the
/// owner's share) or `reason="refused"` (the owner held its share of deliveries; skipped).
pub const HELD_BACK: &str = "pingtower_pinger_jobs_held_back_total";
/// 1 while most egress canaries fail.
pub const PROBE_DEGRADED: &str = "pingtower_pinger_probe_degraded";
/// Canary checks, by result.
pub const CANARY_CHECKS: &str = "pingtower_pinger_canary_checks_total";

/// Describes the metrics (shown as HELP lines), after the recorder is installed; the canary
/// series exist at zero from start.
pub fn describe() {
    metrics::describe_counter!(CHECKS, "Checks finished, by kind, outcome and failure kind.");
    metrics::describe_gauge!(IN_FLIGHT, "Checks running right now.");
    metrics::describe_histogram!(DURATION, metrics::Unit::Seconds, "Duration of a check, by kind.");
    metrics::describe_histogram!(LAG, metrics::Unit::Seconds, "Check start minus its scheduled time.");
    metrics::describe_counter!(
        SKIPPED,
        "Jobs not run: stale on arrival, waited past their deadline, or over their owner's share."
    );
    metrics::describe_counter!(
        HELD_BACK,
        "Jobs held back by their owner's fair share: waited for a slot, or refused (skipped)."
    );
    metrics::describe_gauge!(PROBE_DEGRADED, "1 while most egress canaries fail.");
    metrics::describe_counter!(CANARY_CHECKS, "Canary checks, by result.");
    metrics::gauge!(PROBE_DEGRADED).set(0.0);
    for result in ["ok", "failed"] {
        metrics::counter!(CANARY_CHECKS, "result" => result).absolute(0);
    }
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
    duration: [metrics::Histogram; 4],
    /// [`CHECKS`] by (kind, outcome, failure kind), registered on first use.
    checks: Arc<Mutex<HashMap<ChecksLabels, metrics::Counter>>>,
}

type ChecksLabels = (&'static str, &'static str, &'static str);

impl Handles {
    /// Registers the handles with the installed recorder.
    pub fn register() -> Self {
        let duration = [CheckKind::Http, CheckKind::Tcp, CheckKind::Dns, CheckKind::Tls]
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
        };
        by_kind.record(f64::from(result.duration_ms) / 1000.0);
    }
}
