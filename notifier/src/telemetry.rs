//! Metric names of the notifier.

common::declare_metrics! {
    /// Notifications sent, by `channel` (telegram, email) and `kind`.
    counter SENT = "pingtower_notifier_sent_total", "Notifications sent, by channel and kind";
    /// Notifications given up on, by `channel` and `reason`.
    counter FAILED = "pingtower_notifier_failed_total", "Notifications given up on, by channel and reason";
    /// Sends retried (rate limits, transient errors), by `channel` and `reason`.
    counter RETRIED = "pingtower_notifier_retried_total", "Notification sends retried, by channel and reason";
    /// Seconds from the event's publication to its alert's send, by `channel`.
    histogram DELIVERY_LATENCY = "pingtower_notifier_delivery_latency_seconds" in Seconds,
        "Time from an incident event's publication to its notification's send";
    /// Channels disabled because the recipient became unreachable, by `channel`.
    counter DISABLED = "pingtower_notifier_channels_disabled_total",
        "Channels disabled because the recipient is unreachable";
    /// Events and reports not sent because their incident waits for its cause (a dependency
    /// down), by `kind`.
    counter HELD_FOR_CAUSE = "pingtower_notifier_held_for_cause_total",
        "Incident events and reports not sent because their incident waits for its cause";
    /// Bot commands answered, by `command`.
    counter COMMANDS = "pingtower_notifier_commands_total", "Telegram bot commands answered";
}

/// Describes every metric once (help texts in `/metrics`), after the recorder is installed,
/// and registers the per-channel counters at zero.
pub fn describe() {
    common::telemetry::describe(METRICS);
    common::telemetry::zero_series(DISABLED, "channel", &["telegram", "email"]);
}
