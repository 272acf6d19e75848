//! Metric names and their descriptions.

use common::messages::CheckResult;

/// Checks finished, by kind, outcome and failure kind.
pub const CHECKS: &str = "pingtower_pinger_checks_total";
/// Checks running right now.
pub const IN_FLIGHT: &str = "pingtower_pinger_checks_in_flight";
/// Duration of a check in seconds, by kind.
pub const DURATION: &str = "pingtower_pinger_check_duration_seconds";
/// Lag in seconds: when the check started minus when the scheduler meant it to run.
pub const LAG: &str = "pingtower_pinger_lag_seconds";
/// Jobs not run because they arrived after their deadline.
pub const SKIPPED: &str = "pingtower_pinger_jobs_skipped_total";
/// 1 while most egress canaries fail.
pub const PROBE_DEGRADED: &str = "pingtower_pinger_probe_degraded";
/// Canary checks, by result.
pub const CANARY_CHECKS: &str = "pingtower_pinger_canary_checks_total";

/// Describes the metrics (shown as HELP lines).
pub fn describe() {
    metrics::describe_counter!(CHECKS, "Checks finished, by kind, outcome and failure kind.");
    metrics::describe_gauge!(IN_FLIGHT, "Checks running right now.");
    metrics::describe_histogram!(DURATION, metrics::Unit::Seconds, "Duration of a check, by kind.");
    metrics::describe_histogram!(LAG, metrics::Unit::Seconds, "Check start minus its scheduled time.");
    metrics::describe_counter!(SKIPPED, "Jobs not run because they arrived after their deadline.");
    metrics::describe_gauge!(PROBE_DEGRADED, "1 while most egress canaries fail.");
    metrics::describe_counter!(CANARY_CHECKS, "Canary checks, by result.");
}

/// Records a finished check.
pub fn record(result: &CheckResult) {
    let failure = result.failure.as_ref().map(|f| f.kind.as_str()).unwrap_or("none");
    metrics::counter!(
        CHECKS,
        "kind" => result.check_kind.as_str(),
        "outcome" => result.outcome.as_str(),
        "failure" => failure
    )
    .increment(1);
    metrics::histogram!(DURATION, "kind" => result.check_kind.as_str()).record(f64::from(result.duration_ms) / 1000.0);
}
