//! The bus's metrics (Prometheus names; rendered on each service's `/metrics`).

/// Reconnections of a broker connection, by `connection`.
pub const RECONNECTS: &str = "pingtower_amqp_reconnects_total";
/// Messages published and confirmed, by message `kind`.
pub const PUBLISHED: &str = "pingtower_amqp_published_total";
/// Publications given up on, by message `kind` and `reason` (`unroutable`, `nacked`,
/// `unavailable`).
pub const PUBLISH_FAILURES: &str = "pingtower_amqp_publish_failures_total";
/// Deliveries settled, by `queue` and `result` (`ack`, `dead_letter`, `requeue`).
pub const CONSUMED: &str = "pingtower_amqp_consumed_total";
/// Handler calls retried after a transient failure, by `queue`.
pub const HANDLER_RETRIES: &str = "pingtower_amqp_handler_retries_total";

/// Describes every metric of the bus (once, at start, after the recorder is installed).
pub fn describe() {
    metrics::describe_counter!(RECONNECTS, "Reconnections of a broker connection, by connection");
    metrics::describe_counter!(PUBLISHED, "Messages published and confirmed by the broker, by kind");
    metrics::describe_counter!(PUBLISH_FAILURES, "Publications given up on, by kind and reason");
    metrics::describe_counter!(CONSUMED, "Deliveries settled, by queue and result");
    metrics::describe_counter!(
        HANDLER_RETRIES,
        "Handler calls retried after a transient failure, by queue"
    );
}
