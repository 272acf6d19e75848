//! Fault points: places where the process can be made to exit abruptly, as a crash would,
//! so that tests prove every step of the archive (and ingest) can be re-run.
//!
//! Selected with `PINGTOWER_ARCHIVER_FAULT=<point>`; unset in production.

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
    /// Moving a day to the compact layout: one target written, inside the (uncommitted)
    /// transaction.
    DuringMigration,
    /// A day moved to the compact layout (committed); the next one not started.
    AfterMigration,
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

    /// Every fault point of the migration to the compact layout.
    pub const MIGRATION: [FaultPoint; 2] = [FaultPoint::DuringMigration, FaultPoint::AfterMigration];

    /// The name used in `PINGTOWER_ARCHIVER_FAULT`.
    pub fn name(self) -> String {
        common::fault::name(&self)
    }
}

pub use common::fault::FAULT_EXIT_CODE;

/// Exits the process at once when `point` is the configured fault point.
pub fn hit(configured: Option<FaultPoint>, point: FaultPoint) {
    common::fault::hit("archiver", configured, point);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_round_trips_through_its_environment_spelling() {
        for point in FaultPoint::ARCHIVE
            .into_iter()
            .chain(FaultPoint::MIGRATION)
            .chain([FaultPoint::AfterInsert])
        {
            assert_eq!(
                <FaultPoint as clap::ValueEnum>::from_str(&point.name(), false),
                Ok(point)
            );
        }
    }
}
