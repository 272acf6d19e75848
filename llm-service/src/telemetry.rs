//! llm-service's metrics (Prometheus names; rendered on `/metrics`).

use std::time::Duration;

/// Seconds one provider call took (retries included), by outcome (`ok`, `error`, `timeout`).
pub const PROVIDER_SECONDS: &str = "pingtower_llm_provider_seconds";
/// Provider calls that gave no usable text, by reason (`timeout`, `http`, `api`, `malformed`, `empty`).
pub const PROVIDER_FAILURES: &str = "pingtower_llm_provider_failures_total";
/// Reports written by the rules instead of the LLM, by reason (`disabled`, `timeout`,
/// `provider_error`, `malformed`, `invalid`, `ungrounded`, `foreign_link`, `contradiction`).
pub const FALLBACKS: &str = "pingtower_llm_fallbacks_total";
/// Reports published, by source (`llm`, `rules`) and event kind.
pub const REPORTS: &str = "pingtower_llm_reports_total";
/// Events whose incident row was missing in PostgreSQL for good (report published unstored).
pub const UNSTORED: &str = "pingtower_llm_unstored_reports_total";

/// Describes every metric and registers the unlabelled counter at zero (once, at start,
/// after the recorder is installed).
pub fn describe() {
    metrics::describe_histogram!(
        PROVIDER_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one LLM provider call, retries included"
    );
    metrics::describe_counter!(PROVIDER_FAILURES, "LLM provider calls without usable text, by reason");
    metrics::describe_counter!(FALLBACKS, "Reports written by the rules instead of the LLM, by reason");
    metrics::describe_counter!(REPORTS, "Reports published, by source and event kind");
    metrics::describe_counter!(UNSTORED, "Reports published without a stored incident row");
    metrics::counter!(UNSTORED).absolute(0);
}

/// One provider call ended.
pub fn provider_call(outcome: &'static str, took: Duration) {
    metrics::histogram!(PROVIDER_SECONDS, "outcome" => outcome).record(took.as_secs_f64());
}

/// One provider call failed.
pub fn provider_failed(reason: &'static str) {
    metrics::counter!(PROVIDER_FAILURES, "reason" => reason).increment(1);
}

/// The rules wrote a report instead of the LLM.
pub fn fallback(reason: &'static str) {
    metrics::counter!(FALLBACKS, "reason" => reason).increment(1);
}

/// A report was published.
pub fn published(source: &str, event: &'static str) {
    let source = if source.starts_with("llm:") { "llm" } else { "rules" };
    metrics::counter!(REPORTS, "source" => source, "event" => event).increment(1);
}

/// A report was published without its incident row.
pub fn unstored() {
    metrics::counter!(UNSTORED).increment(1);
}
