//! Logging for every service: JSON when `PINGTOWER_LOG_FORMAT=json` or when stdout is not a
//! terminal, human-readable otherwise; filtered by `RUST_LOG` (default `info`). And the
//! metric tables: each crate declares its metrics once with [`declare_metrics!`](crate::declare_metrics)
//! (the name's constant and what `/metrics` says of it), and [`describe`] hands them to the
//! recorder.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber for `service`. Calling it twice is harmless (tests).
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("PINGTOWER_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("pretty") => false,
        _ => !std::io::stdout().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    };
    if result.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    }
}

pub use metrics::Unit;

/// A metric's kind, as Prometheus' `# TYPE` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution.
    Histogram,
}

/// What `/metrics` says of one metric: its name, kind, unit and help text.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The Prometheus name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit, when it has one.
    pub unit: Option<Unit>,
    /// The `# HELP` text.
    pub help: &'static str,
}

impl Metric {
    /// A counter.
    pub const fn counter(name: &'static str, help: &'static str) -> Self {
        Self::new(name, MetricKind::Counter, help)
    }

    /// A gauge.
    pub const fn gauge(name: &'static str, help: &'static str) -> Self {
        Self::new(name, MetricKind::Gauge, help)
    }

    /// A histogram.
    pub const fn histogram(name: &'static str, help: &'static str) -> Self {
        Self::new(name, MetricKind::Histogram, help)
    }

    const fn new(name: &'static str, kind: MetricKind, help: &'static str) -> Self {
        Self {
            name,
            kind,
            unit: None,
            help,
        }
    }

    /// This metric, measured in `unit`.
    pub const fn in_unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }
}

/// Describes `table` to the installed recorder (so `/metrics` shows `# HELP` lines): call it
/// after the recorder exists, as [`crate::service::describe_metrics`] does.
pub fn describe(table: &[Metric]) {
    for metric in table {
        let (name, help) = (metric.name, metric.help);
        match (metric.kind, metric.unit) {
            (MetricKind::Counter, Some(unit)) => metrics::describe_counter!(name, unit, help),
            (MetricKind::Counter, None) => metrics::describe_counter!(name, help),
            (MetricKind::Gauge, Some(unit)) => metrics::describe_gauge!(name, unit, help),
            (MetricKind::Gauge, None) => metrics::describe_gauge!(name, help),
            (MetricKind::Histogram, Some(unit)) => metrics::describe_histogram!(name, unit, help),
            (MetricKind::Histogram, None) => metrics::describe_histogram!(name, help),
        }
    }
}

/// Registers the unlabelled counters `names` at zero: an idle service's `/metrics` then
/// shows them already, and a rate over one does not miss its first event.
pub fn zero_counters(names: &[&'static str]) {
    for name in names {
        metrics::counter!(*name).absolute(0);
    }
}

/// Registers the counter `name` at zero once for each value of `label` (as [`zero_counters`]).
pub fn zero_series(name: &'static str, label: &'static str, values: &[&'static str]) {
    for value in values {
        metrics::counter!(name, label => *value).absolute(0);
    }
}

/// Declares a crate's metrics in one table: for each, a `pub const` holding its Prometheus
/// name, and an entry of `pub const METRICS: &[Metric]` (kind, unit, help) for [`describe`].
///
/// ```
/// common::declare_metrics! {
///     /// Notifications sent.
///     counter SENT = "pingtower_example_sent_total", "Notifications sent";
///     /// Seconds a send took.
///     histogram SEND_SECONDS = "pingtower_example_send_seconds" in Seconds, "Duration of one send";
/// }
/// assert_eq!(METRICS.len(), 2);
/// assert_eq!(SENT, "pingtower_example_sent_total");
/// ```
#[macro_export]
macro_rules! declare_metrics {
    ($($(#[$attr:meta])* $kind:ident $name:ident = $prom:literal $(in $unit:ident)?, $help:literal;)+) => {
        $($(#[$attr])* pub const $name: &str = $prom;)+
        /// Every metric of this crate: kind, unit and help text, for `common::telemetry::describe`.
        pub const METRICS: &[$crate::telemetry::Metric] = &[$(
            $crate::telemetry::Metric::$kind($name, $help)$(.in_unit($crate::telemetry::Unit::$unit))?
        ),+];
    };
}
