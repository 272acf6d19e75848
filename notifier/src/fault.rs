//! Fault points: places where the process can be made to exit abruptly, as a crash would, so
//! that tests prove a crash between a send and its log entry loses nothing.
//!
//! Selected with `PINGTOWER_NOTIFIER_FAULT=<point>`; unset in production.

/// Where to crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum FaultPoint {
    /// A message went out (first attempt of its log entry) and the log still says `sending`.
    CrashAfterSend,
}

pub use common::fault::FAULT_EXIT_CODE;

/// Exits the process at once when `point` is the configured fault point.
pub fn hit(configured: Option<FaultPoint>, point: FaultPoint) {
    common::fault::hit("notifier", configured, point);
}
