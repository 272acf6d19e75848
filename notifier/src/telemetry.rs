//! Metric names of the notifier.

/// Notifications sent, by `channel` (telegram, email) and `kind`.
pub const SENT: &str = "pingtower_notifier_sent_total";
/// Notifications given up on, by `channel` and `reason`.
pub const FAILED: &str = "pingtower_notifier_failed_total";
/// Sends retried (rate limits, transient errors), by `channel` and `reason`.
pub const RETRIED: &str = "pingtower_notifier_retried_total";
/// Seconds from the event's publication to its alert's send, by `channel`.
pub const DELIVERY_LATENCY: &str = "pingtower_notifier_delivery_latency_seconds";
/// Channels disabled because the recipient became unreachable, by `channel`.
pub const DISABLED: &str = "pingtower_notifier_channels_disabled_total";
/// Bot commands answered, by `command`.
pub const COMMANDS: &str = "pingtower_notifier_commands_total";

/// Describes every metric once (help texts in `/metrics`), after the recorder is installed,
/// and registers the per-channel counters at zero.
pub fn describe() {
    metrics::describe_counter!(SENT, "Notifications sent, by channel and kind");
    metrics::describe_counter!(FAILED, "Notifications given up on, by channel and reason");
    metrics::describe_counter!(RETRIED, "Notification sends retried, by channel and reason");
    metrics::describe_histogram!(
        DELIVERY_LATENCY,
        metrics::Unit::Seconds,
        "Time from an incident event's publication to its notification's send"
    );
    metrics::describe_counter!(DISABLED, "Channels disabled because the recipient is unreachable");
    metrics::describe_counter!(COMMANDS, "Telegram bot commands answered");
    for channel in ["telegram", "email"] {
        metrics::counter!(DISABLED, "channel" => channel).absolute(0);
    }
}
