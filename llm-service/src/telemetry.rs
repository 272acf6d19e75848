//! llm-service's metrics (Prometheus names; rendered on `/metrics`).

use std::time::Duration;

common::declare_metrics! {
    /// Seconds one provider call took (retries included), by outcome (`ok`, `error`, `timeout`).
    histogram PROVIDER_SECONDS = "pingtower_llm_provider_seconds" in Seconds,
        "Duration of one LLM provider call, retries included";
    /// Provider calls that gave no usable text, by reason (`timeout`, `http`, `api`, `malformed`, `empty`).
    counter PROVIDER_FAILURES = "pingtower_llm_provider_failures_total",
        "LLM provider calls without usable text, by reason";
    /// Reports written by the rules instead of the LLM, by reason (`disabled`, `timeout`,
    /// `provider_error`, `malformed`, `invalid`, `ungrounded`, `foreign_link`, `contradiction`).
    counter FALLBACKS = "pingtower_llm_fallbacks_total", "Reports written by the rules instead of the LLM, by reason";
    /// Reports published, by source (`llm`, `rules`) and event kind.
    counter REPORTS = "pingtower_llm_reports_total", "Reports published, by source and event kind";
    /// Events whose incident row was missing in PostgreSQL for good (report published unstored).
    counter UNSTORED = "pingtower_llm_unstored_reports_total", "Reports published without a stored incident row";
}

/// Describes every metric and registers the unlabelled counter at zero (once, at start,
/// after the recorder is installed).
pub fn describe() {
    common::telemetry::describe(METRICS);
    common::telemetry::zero_counters(&[UNSTORED]);
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
