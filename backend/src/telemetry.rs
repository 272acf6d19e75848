//! The backend's metrics: names, descriptions, and the series that exist from start-up.
//!
//! The names are recorded where the events happen (edge, rate limits, accounts, status pages,
//! scheduler, incident engine); this module describes them once, after the recorder is
//! installed, and registers the counters and gauges at zero so that an idle backend's
//! `/metrics` already shows every series (a rate over a series that appears only on its
//! first event misses that event).

/// API requests answered 503 because they ran past the request timeout.
pub const REQUEST_TIMEOUTS: &str = "pingtower_backend_request_timeouts_total";
/// Cookie-authenticated writes refused as cross-site.
pub const CROSS_SITE_REFUSED: &str = "pingtower_backend_cross_site_refused_total";
/// Password checks refused because the hash queue was full.
pub const HASH_QUEUE_FULL: &str = "pingtower_backend_hash_queue_full_total";
/// Registrations refused by the rate limit.
pub const REGISTER_RATE_LIMITED: &str = "pingtower_backend_register_rate_limited_total";
/// Logins refused by the rate limit.
pub const LOGIN_RATE_LIMITED: &str = "pingtower_backend_login_rate_limited_total";
/// Logins with a wrong email or password.
pub const LOGIN_FAILURES: &str = "pingtower_backend_login_failures_total";
/// Public status page and badge requests refused by the rate limit.
pub const PUBLIC_RATE_LIMITED: &str = "pingtower_backend_public_rate_limited_total";
/// 1 while this backend's scheduler holds the leader lock.
pub const SCHEDULER_LEADER: &str = "pingtower_scheduler_leader";
/// Targets in the leading scheduler's plan.
pub const SCHEDULER_TARGETS: &str = "pingtower_scheduler_targets";
/// Check slots that passed without a job published.
pub const SCHEDULER_MISSED_SLOTS: &str = "pingtower_scheduler_missed_slots_total";
/// Job publications that failed.
pub const SCHEDULER_PUBLISH_FAILURES: &str = "pingtower_scheduler_publish_failures_total";
/// Jobs published.
pub const SCHEDULER_JOBS_PUBLISHED: &str = "pingtower_scheduler_jobs_published_total";
/// Seconds between a job's slot and its publication.
pub const SCHEDULER_LAG: &str = "pingtower_scheduler_lag_seconds";
/// Check results ignored by the incident engine as older than its ledger remembers.
pub const INCIDENT_STALE_RESULTS: &str = "pingtower_incident_stale_results_total";

/// The counters, with their descriptions.
const COUNTERS: [(&str, &str); 11] = [
    (
        REQUEST_TIMEOUTS,
        "API requests answered 503 because they ran past the request timeout",
    ),
    (CROSS_SITE_REFUSED, "Cookie-authenticated writes refused as cross-site"),
    (
        HASH_QUEUE_FULL,
        "Password checks refused because the hash queue was full",
    ),
    (REGISTER_RATE_LIMITED, "Registrations refused by the rate limit"),
    (LOGIN_RATE_LIMITED, "Logins refused by the rate limit"),
    (LOGIN_FAILURES, "Logins with a wrong email or password"),
    (
        PUBLIC_RATE_LIMITED,
        "Public status page and badge requests refused by the rate limit",
    ),
    (
        SCHEDULER_MISSED_SLOTS,
        "Check slots that passed without a job published",
    ),
    (SCHEDULER_PUBLISH_FAILURES, "Job publications that failed"),
    (SCHEDULER_JOBS_PUBLISHED, "Check jobs published"),
    (
        INCIDENT_STALE_RESULTS,
        "Check results ignored as older than the incident ledger remembers",
    ),
];

/// Describes every metric and registers the counters and gauges at zero (once, at start,
/// after the recorder is installed).
pub fn describe() {
    for (name, help) in COUNTERS {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).absolute(0);
    }
    metrics::describe_gauge!(
        SCHEDULER_LEADER,
        "1 while this backend's scheduler holds the leader lock"
    );
    metrics::gauge!(SCHEDULER_LEADER).set(0.0);
    metrics::describe_gauge!(SCHEDULER_TARGETS, "Targets in the leading scheduler's plan");
    metrics::gauge!(SCHEDULER_TARGETS).set(0.0);
    metrics::describe_histogram!(
        SCHEDULER_LAG,
        metrics::Unit::Seconds,
        "Time from a check slot to its job's publication"
    );
}
