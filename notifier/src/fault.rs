//! Fault points: places where the process can be made to exit abruptly, as a crash would, so
//! that tests prove a crash between a send and its log entry loses nothing.
//!
//! Selected with `PINGTOWER_NOTIFIER_FAULT=<point>`; unset in production.

/// The exit status of a process stopped at a fault point.
pub const FAULT_EXIT_CODE: i32 = 86;

/// Where to crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum FaultPoint {
    /// A message went out (first attempt of its log entry) and the log still says `sending`.
    CrashAfterSend,
}

impl FaultPoint {
    /// The name used in `PINGTOWER_NOTIFIER_FAULT`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultPoint::CrashAfterSend => "crash_after_send",
        }
    }
}

/// Exits the process at once (no destructors, no acks) when `point` is the configured one.
pub fn hit(configured: Option<FaultPoint>, point: FaultPoint) {
    if configured == Some(point) {
        eprintln!("notifier: fault point {} reached; exiting", point.as_str());
        std::process::exit(FAULT_EXIT_CODE);
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn the_name_round_trips_through_the_environment_spelling() {
        let p = FaultPoint::CrashAfterSend;
        assert_eq!(FaultPoint::from_str(p.as_str(), false), Ok(p));
    }

    #[test]
    fn an_unconfigured_fault_point_does_nothing() {
        hit(None, FaultPoint::CrashAfterSend);
    }
}
