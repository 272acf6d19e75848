//! The archive job: days older than the retention move from ClickHouse to PostgreSQL.
//!
//! Each day walks the ledger (`archive_batches`) one committed step at a time, so a crash
//! anywhere is finished by the next run:
//!
//! 1. **open** (`copying`): under the day's exclusive lock, so ingest sends later rows of the
//!    day to the archive from now on;
//! 2. **copy** (`copied`): the day's rows (each result once, with `FINAL`) are read target
//!    by target, a few slices of the targets at once, and each target's day becomes one row of
//!    the compact `archive_days` (see [`crate::days`]; straight in when the archive holds
//!    nothing of the day, else merged into the row there), then the day's rollups are
//!    recomputed and the state set in one transaction;
//! 3. **verify** (`verified`): count and checksum of the day on both sides are equal (when
//!    the archive holds more, e.g. late rows, ClickHouse's rows are looked up by key);
//!    otherwise the day is copied again;
//! 4. **drop** (`dropped`): the day's partitions leave ClickHouse, only after 3;
//! 5. **done**.
//!
//! A `done` day that ClickHouse holds rows of again (an insert that landed after the drop)
//! is reopened and walks the same steps (a day still in the old layout is moved to the compact
//! one first).
//!
//! After the days, each run moves days still in the old layout (`archived_results`) to the
//! compact one, a day per transaction ([`crate::days::migrate_day`]), and drops the old
//! partitions of months fully moved.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::days;
use crate::fault::{self, FaultPoint};
use crate::fresh::{self, DayStats};
use crate::ledger::{self, State};
use crate::space::SpaceGate;
use crate::telemetry;

/// Result ids looked up in PostgreSQL per query when verifying by key.
const KEY_CHUNK: usize = 50_000;
/// Time slices of a day copied at once, by default.
pub const DEFAULT_COPY_PARALLELISM: usize = 2;
/// Copies of one day per run before giving up until the next run.
const MAX_COPIES: u32 = 2;

/// The archive job; cheap to clone.
#[derive(Clone)]
pub struct ArchiveJob {
    clickhouse: clickhouse::Client,
    pg: PgPool,
    retention_days: u32,
    fault: Option<FaultPoint>,
    copy_parallelism: usize,
    space: Option<SpaceGate>,
}

/// Whether `error` is PostgreSQL's unique violation (a row archived already).
fn is_unique_violation(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<sqlx::Error>()
            .and_then(|e| e.as_database_error())
            .and_then(|e| e.code())
            .is_some_and(|code| code == "23505")
    })
}

/// What one run did.
#[derive(Debug, Default)]
pub struct ArchiveReport {
    /// Another run held the job lock: nothing was done.
    pub skipped: bool,
    /// Every day worked on, oldest first.
    pub days: Vec<DayReport>,
    /// Days moved from the old layout to the compact one.
    pub migrated: Vec<NaiveDate>,
    /// Why moving a day to the compact layout failed (the next run continues).
    pub migration_error: Option<String>,
}

impl ArchiveReport {
    /// Days that did not reach `done`, plus one if moving days to the compact layout failed.
    pub fn failed(&self) -> usize {
        self.days.iter().filter(|d| d.error.is_some()).count() + usize::from(self.migration_error.is_some())
    }
}

/// What happened to one day.
#[derive(Debug)]
pub struct DayReport {
    /// The UTC day.
    pub day: NaiveDate,
    /// Rows copied by this run.
    pub rows: u64,
    /// Why it did not reach `done`.
    pub error: Option<String>,
    /// How long it took.
    pub took: Duration,
}

impl ArchiveJob {
    /// A job moving days older than `retention_days` from `clickhouse` to `pg`.
    pub fn new(clickhouse: clickhouse::Client, pg: PgPool, retention_days: u32, fault: Option<FaultPoint>) -> Self {
        Self {
            clickhouse,
            pg,
            retention_days,
            fault,
            copy_parallelism: DEFAULT_COPY_PARALLELISM,
            space: None,
        }
    }

    /// Holds days back in ClickHouse while PostgreSQL lacks the space for them (see [`SpaceGate`]).
    pub fn with_space_gate(mut self, gate: SpaceGate) -> Self {
        self.space = Some(gate);
        self
    }

    /// Copies each day in `n` time slices at once, over `n` PostgreSQL connections.
    pub fn with_copy_parallelism(mut self, n: usize) -> Self {
        self.copy_parallelism = n.max(1);
        self
    }

    /// The first day that stays in ClickHouse today: every earlier day is archived.
    pub fn cutoff(&self) -> NaiveDate {
        Utc::now().date_naive() - chrono::Duration::days(i64::from(self.retention_days))
    }

    /// Archives every day before the cutoff, plus any day left unfinished by an earlier run.
    /// Only one run at a time (PostgreSQL advisory lock); stops between days on `shutdown`.
    pub async fn run(&self, shutdown: &CancellationToken) -> anyhow::Result<ArchiveReport> {
        fresh::ensure_utc(&self.clickhouse).await?;
        let mut job_conn = self.pg.acquire().await?;
        if !ledger::try_lock_job(&mut job_conn).await? {
            info!("another archive run holds the lock; skipping");
            telemetry::archive_run("skipped");
            return Ok(ArchiveReport {
                skipped: true,
                ..Default::default()
            });
        }
        let result = self.run_locked(shutdown).await;
        if let Err(error) = ledger::release_job(&mut job_conn).await {
            // Closing the connection releases it too.
            warn!(%error, "could not release the archive job lock");
            job_conn.detach();
        }
        match &result {
            Ok(report) if report.failed() == 0 => telemetry::archive_run("ok"),
            _ => telemetry::archive_run("failed"),
        }
        result
    }

    async fn run_locked(&self, shutdown: &CancellationToken) -> anyhow::Result<ArchiveReport> {
        let cutoff = self.cutoff();
        let mut days: BTreeSet<NaiveDate> = fresh::days(&self.clickhouse)
            .await?
            .into_iter()
            .filter(|d| *d < cutoff)
            .collect();
        days.extend(ledger::unfinished_days(&self.pg).await?);
        let mut report = ArchiveReport::default();
        for day in days {
            if shutdown.is_cancelled() {
                break;
            }
            if let Some(space) = &self.space
                && !space.admit(day).await
            {
                continue;
            }
            let started = Instant::now();
            let outcome = self.archive_day(day).await;
            let took = started.elapsed();
            match outcome {
                Ok(rows) => {
                    info!(%day, rows, took_ms = took.as_millis() as u64, "day archived");
                    telemetry::day_archived(rows, took);
                    report.days.push(DayReport {
                        day,
                        rows,
                        error: None,
                        took,
                    });
                }
                Err(error) => {
                    let error = format!("{error:#}");
                    warn!(%day, %error, "archiving the day failed; the next run continues it");
                    ledger::record_error(&self.pg, day, &error).await;
                    report.days.push(DayReport {
                        day,
                        rows: 0,
                        error: Some(error),
                        took,
                    });
                }
            }
        }
        if let Err(error) = self.migrate(shutdown, &mut report).await {
            let error = format!("{error:#}");
            warn!(%error, "moving days to the compact archive layout failed; the next run continues");
            report.migration_error = Some(error);
        }
        Ok(report)
    }

    /// Moves every day still in the old layout to the compact one, oldest first, stopping
    /// between days on `shutdown`; then drops the old partitions of months fully moved.
    async fn migrate(&self, shutdown: &CancellationToken, report: &mut ArchiveReport) -> anyhow::Result<()> {
        for day in days::days_to_migrate(&self.pg).await? {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let started = Instant::now();
            let moved = days::migrate_day(&self.pg, day, self.fault).await?;
            telemetry::day_migrated(started.elapsed());
            info!(%day, moved, took_ms = started.elapsed().as_millis() as u64, "day moved to the compact layout");
            report.migrated.push(day);
        }
        days::drop_migrated_partitions(&self.pg).await?;
        Ok(())
    }

    /// Moves one day, continuing from wherever its ledger row stands. Returns rows copied.
    pub async fn archive_day(&self, day: NaiveDate) -> anyhow::Result<u64> {
        let (mut state, old_layout) = ledger::open_day(&self.pg, day).await?;
        fault::hit(self.fault, FaultPoint::AfterLedger);
        if old_layout {
            // What the old layout holds of the day joins the compact row first.
            days::migrate_day(&self.pg, day, self.fault).await?;
        }
        let mut copies = 0;
        let mut copied = 0;
        let mut counted = None;
        loop {
            state = match state {
                State::Copying => {
                    copies += 1;
                    let (rows, stats) = self.copy(day).await?;
                    copied = rows;
                    counted = Some(stats);
                    fault::hit(self.fault, FaultPoint::AfterCopy);
                    State::Copied
                }
                State::Copied => {
                    let (ch, pg) = match counted.take() {
                        Some(stats) => stats,
                        None => self.verify(day).await?,
                    };
                    ledger::record_counts(&self.pg, day, ch, pg).await?;
                    if ch == pg {
                        fault::hit(self.fault, FaultPoint::AfterVerify);
                        ledger::set_state(&mut *self.pg.acquire().await?, day, State::Verified).await?;
                        fault::hit(self.fault, FaultPoint::BeforeDrop);
                        State::Verified
                    } else if copies < MAX_COPIES {
                        warn!(%day, ?ch, ?pg, "archive differs from ClickHouse; copying the day again");
                        ledger::set_state(&mut *self.pg.acquire().await?, day, State::Copying).await?;
                        State::Copying
                    } else {
                        anyhow::bail!("archive differs from ClickHouse after {copies} copies: {ch:?} vs {pg:?}");
                    }
                }
                State::Verified => {
                    fresh::drop_day(&self.clickhouse, day).await?;
                    fault::hit(self.fault, FaultPoint::AfterDrop);
                    ledger::set_state(&mut *self.pg.acquire().await?, day, State::Dropped).await?;
                    fault::hit(self.fault, FaultPoint::BeforeDone);
                    State::Dropped
                }
                State::Dropped => {
                    ledger::set_state(&mut *self.pg.acquire().await?, day, State::Done).await?;
                    return Ok(copied);
                }
                State::Done => return Ok(copied),
            };
        }
    }

    /// Step 2: the day's rows into PostgreSQL, then its rollups and `copied` in one
    /// transaction. Returns the rows read from ClickHouse, and both sides' counts (step 3's
    /// reading, taken while the rollups are computed: the rows are all committed by then).
    ///
    /// The day's targets are cut into [`Self::with_copy_parallelism`] slices (by a hash of
    /// the id) copied at once, each in its own transaction. When the archive holds nothing of
    /// the day yet (the usual case) each target's row goes straight in; otherwise, or when a
    /// late result raced it in, it is merged into the row there. A crash between slices
    /// leaves the day `copying`: the next copy takes the second path and skips what is there.
    async fn copy(&self, day: NaiveDate) -> anyhow::Result<(u64, (DayStats, DayStats))> {
        let started = Instant::now();
        days::ensure_partition(&mut *self.pg.acquire().await?, day).await?;
        let direct = !days::has_rows(&self.pg, day).await?;
        let slices = self.copy_parallelism.clamp(1, 24) as u64;
        let copies = (0..slices).map(|i| self.copy_slice(day, i, slices, direct));
        let staged: u64 = futures::future::try_join_all(copies).await?.into_iter().sum();
        let copied_in = started.elapsed();

        let rollups = async {
            let mut tx = self.pg.begin().await?;
            days::refresh_rollups(&mut tx, day, None).await?;
            ledger::set_state(&mut tx, day, State::Copied).await?;
            tx.commit().await?;
            anyhow::Ok(started.elapsed() - copied_in)
        };
        let (rollups_took, stats) = tokio::try_join!(rollups, self.verify(day))?;
        info!(
            %day,
            staged,
            direct,
            slices,
            copy_ms = copied_in.as_millis() as u64,
            rollups_ms = rollups_took.as_millis() as u64,
            verified_ms = (started.elapsed() - copied_in).as_millis() as u64,
            "day copied"
        );
        Ok((staged, stats))
    }

    /// Copies slice `slice` of `slices` of the day's targets; see [`Self::copy`].
    async fn copy_slice(&self, day: NaiveDate, slice: u64, slices: u64, direct: bool) -> anyhow::Result<u64> {
        if direct {
            match self.copy_slice_via(day, slice, slices, false).await {
                Err(error) if is_unique_violation(&error) => {
                    info!("a late result raced the copy; copying the slice again, merging into archived rows");
                }
                other => return other,
            }
        }
        self.copy_slice_via(day, slice, slices, true).await
    }

    async fn copy_slice_via(&self, day: NaiveDate, slice: u64, slices: u64, merge: bool) -> anyhow::Result<u64> {
        let mut tx = self.pg.begin().await?;
        // Not waiting for the WAL flush is safe: the later (synchronous) commit of `copied`
        // flushes the WAL up to it, so a day is never `copied` with a slice lost.
        sqlx::query!("set local synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        let mut cursor = fresh::day_rows_by_target(&self.clickhouse, day, slice, slices)?;
        let mut read = 0u64;
        let mut target = None;
        let mut entries = Vec::new();
        let mut first = true;
        loop {
            let next = cursor.next().await.context("copying the day from ClickHouse")?;
            let done = next.is_none();
            let changed = next.as_ref().map(|r| r.target_id) != target;
            if (changed || done)
                && let Some(t) = target.filter(|_| !entries.is_empty())
            {
                let batch = std::mem::take(&mut entries);
                if merge {
                    days::write_target_day(&mut tx, day, t, batch, true).await?;
                } else {
                    let mut batch = batch;
                    common::archive_day::sort_unique(&mut batch);
                    common::archive_day::keep_details(&mut batch);
                    let row = common::archive_day::DayRow::build(day, t, &batch)?;
                    days::insert_row(&mut tx, &row).await?;
                }
                if first {
                    first = false;
                    fault::hit(self.fault, FaultPoint::DuringCopy);
                }
            }
            let Some(row) = next else { break };
            target = Some(row.target_id);
            read += 1;
            entries.push(days::entry_of(&row));
        }
        tx.commit().await?;
        Ok(read)
    }

    /// Step 3: the day's count and checksum in ClickHouse, and in PostgreSQL over the same
    /// results. Equal means every row is archived with the same content.
    async fn verify(&self, day: NaiveDate) -> anyhow::Result<(DayStats, DayStats)> {
        let (ch, pg) = tokio::join!(fresh::day_stats(&self.clickhouse, day), days::day_stats(&self.pg, day));
        let (ch, pg) = (ch?, pg?);
        if pg == ch || pg.rows < ch.rows {
            return Ok((ch, pg));
        }
        // The archive holds more than ClickHouse (late rows, or a reopened day): compare
        // ClickHouse's rows only, looked up by id.
        let mut cursor = fresh::day_keys(&self.clickhouse, day)?;
        let mut ids = Vec::with_capacity(KEY_CHUNK);
        let mut sum = DayStats::default();
        loop {
            let next = cursor.next().await?;
            let end = next.is_none();
            ids.extend(next.map(|k| k.result_id));
            if ids.len() >= KEY_CHUNK || (end && !ids.is_empty()) {
                let part = days::stats_of_ids(&self.pg, day, &ids).await?;
                sum.rows += part.rows;
                sum.sum_a += part.sum_a;
                sum.sum_b += part.sum_b;
                ids.clear();
            }
            if end {
                break;
            }
        }
        Ok((ch, sum))
    }
}
