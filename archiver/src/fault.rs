//! Fault points: places where the process can be made to exit abruptly, as a crash would,
//! so that tests prove every step of the archive (and ingest) can be re-run.
//!
//! Selected with `PINGTOWER_ARCHIVER_FAULT=<point>`; unset in production.

/// The exit status of a process stopped at a fault point.
pub const FAULT_EXIT_CODE: i32 = 86;

/// Where to crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum FaultPoint {
    /// The day's ledger row says `copying`; nothing copied yet.
    AfterLedger,
    /// Half-way through the copy, inside its (uncommitted) transaction.
    DuringCopy,
    /// The copy is committed (`copied`), not verified.
    AfterCopy,
    /// Both sides counted and found equal, the ledger not yet `verified`.
    AfterVerify,
    /// The ledger says `verified`; the partition is not dropped yet.
    BeforeDrop,
    /// The partition is dropped; the ledger still says `verified`.
    AfterDrop,
    /// The ledger says `dropped`, not yet `done`.
    BeforeDone,
    /// A batch is in ClickHouse but not acked.
    AfterInsert,
}

impl FaultPoint {
    /// Every fault point of the archive job, in the order they are met.
    pub const ARCHIVE: [FaultPoint; 7] = [
        FaultPoint::AfterLedger,
        FaultPoint::DuringCopy,
        FaultPoint::AfterCopy,
        FaultPoint::AfterVerify,
        FaultPoint::BeforeDrop,
        FaultPoint::AfterDrop,
        FaultPoint::BeforeDone,
    ];

    /// The name used in `PINGTOWER_ARCHIVER_FAULT`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultPoint::AfterLedger => "after_ledger",
            FaultPoint::DuringCopy => "during_copy",
            FaultPoint::AfterCopy => "after_copy",
            FaultPoint::AfterVerify => "after_verify",
            FaultPoint::BeforeDrop => "before_drop",
            FaultPoint::AfterDrop => "after_drop",
            FaultPoint::BeforeDone => "before_done",
            FaultPoint::AfterInsert => "after_insert",
        }
    }
}

/// Exits the process at once (no destructors, no flushing, no acks) when `point` is the
/// configured fault point.
pub fn hit(configured: Option<FaultPoint>, point: FaultPoint) {
    if configured == Some(point) {
        eprintln!("archiver: fault point {} reached; exiting", point.as_str());
        std::process::exit(FAULT_EXIT_CODE);
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn names_round_trip_through_the_environment_spelling() {
        for point in FaultPoint::ARCHIVE.into_iter().chain([FaultPoint::AfterInsert]) {
            assert_eq!(FaultPoint::from_str(point.as_str(), false), Ok(point));
        }
    }

    #[test]
    fn an_unconfigured_fault_point_does_nothing() {
        hit(None, FaultPoint::AfterCopy);
        hit(Some(FaultPoint::AfterDrop), FaultPoint::AfterCopy);
    }
}
