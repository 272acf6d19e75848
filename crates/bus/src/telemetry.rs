//! The bus's metrics (Prometheus names; rendered on each service's `/metrics`).

common::declare_metrics! {
    /// Reconnections of a broker connection, by `connection`.
    counter RECONNECTS = "pingtower_amqp_reconnects_total", "Reconnections of a broker connection, by connection";
    /// Messages published and confirmed, by message `kind`.
    counter PUBLISHED = "pingtower_amqp_published_total", "Messages published and confirmed by the broker, by kind";
    /// Publications given up on, by message `kind` and `reason` (`unroutable`, `nacked`,
    /// `unavailable`).
    counter PUBLISH_FAILURES = "pingtower_amqp_publish_failures_total", "Publications given up on, by kind and reason";
    /// Deliveries settled, by `queue` and `result` (`ack`, `dead_letter`, `requeue`).
    counter CONSUMED = "pingtower_amqp_consumed_total", "Deliveries settled, by queue and result";
    /// Handler calls retried after a transient failure, by `queue`.
    counter HANDLER_RETRIES = "pingtower_amqp_handler_retries_total",
        "Handler calls retried after a transient failure, by queue";
}

/// Describes every metric of the bus (once, at start, after the recorder is installed).
pub fn describe() {
    common::telemetry::describe(METRICS);
}
