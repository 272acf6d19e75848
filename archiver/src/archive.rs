//! The archive job: days older than the retention move from ClickHouse to PostgreSQL.
//!
//! Each day walks the ledger (`archive_batches`) one committed step at a time, so a crash
//! anywhere is finished by the next run:
//!
//! 1. **open** (`copying`): under the day's exclusive lock, so ingest sends later rows of the
//!    day to the archive from now on;
//! 2. **copy** (`copied`): in one transaction, the day's rows (duplicates collapsed with
//!    `FINAL`) go through `COPY` into a staging table, then into `archived_results` with
//!    `ON CONFLICT DO NOTHING`, and the day's rollups are recomputed;
//! 3. **verify** (`verified`): count and checksum of the day on both sides are equal (when
//!    the archive holds more, e.g. late rows, ClickHouse's rows are looked up by key);
//!    otherwise the day is copied again;
//! 4. **drop** (`dropped`): the day's partitions leave ClickHouse, only after 3;
//! 5. **done**.
//!
//! A `done` day that ClickHouse holds rows of again (an insert that landed after the drop)
//! is reopened and walks the same steps.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use sqlx::{Connection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::fault::{self, FaultPoint};
use crate::fresh::{self, DayStats};
use crate::ledger::{self, State};
use crate::telemetry;

/// Keys looked up in PostgreSQL per query when verifying by key.
const KEY_CHUNK: usize = 50_000;
/// Copies of one day per run before giving up until the next run.
const MAX_COPIES: u32 = 2;

/// The archive job; cheap to clone.
#[derive(Clone)]
pub struct ArchiveJob {
    clickhouse: clickhouse::Client,
    pg: PgPool,
    retention_days: u32,
    fault: Option<FaultPoint>,
}

/// What one run did.
#[derive(Debug, Default)]
pub struct ArchiveReport {
    /// Another run held the job lock: nothing was done.
    pub skipped: bool,
    /// Every day worked on, oldest first.
    pub days: Vec<DayReport>,
}

impl ArchiveReport {
    /// Days that did not reach `done`.
    pub fn failed(&self) -> usize {
        self.days.iter().filter(|d| d.error.is_some()).count()
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
        }
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
                days: Vec::new(),
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
        Ok(report)
    }

    /// Moves one day, continuing from wherever its ledger row stands. Returns rows copied.
    pub async fn archive_day(&self, day: NaiveDate) -> anyhow::Result<u64> {
        let mut state = ledger::open_day(&self.pg, day).await?;
        fault::hit(self.fault, FaultPoint::AfterLedger);
        let mut copies = 0;
        let mut copied = 0;
        loop {
            state = match state {
                State::Copying => {
                    copies += 1;
                    copied = self.copy(day).await?;
                    fault::hit(self.fault, FaultPoint::AfterCopy);
                    State::Copied
                }
                State::Copied => {
                    let (ch, pg) = self.verify(day).await?;
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

    /// Step 2: the day's rows and rollups into PostgreSQL, `copied`, in one transaction.
    async fn copy(&self, day: NaiveDate) -> anyhow::Result<u64> {
        let mut conn = self.pg.acquire().await?;
        ledger::ensure_partition(&mut conn, day).await?;
        let mut tx = conn.begin().await?;
        sqlx::query("create temp table archive_staging (like archived_results including defaults) on commit drop")
            .execute(&mut *tx)
            .await?;
        let statement = format!("copy archive_staging ({}) from stdin", fresh::ARCHIVE_COLUMNS);
        let mut copy = tx.copy_in_raw(&statement).await?;
        let streamed: anyhow::Result<()> = async {
            let mut cursor = fresh::day_as_copy_text(&self.clickhouse, day)?;
            let mut first = true;
            while let Some(chunk) = cursor.next().await? {
                copy.send(chunk).await?;
                if first {
                    first = false;
                    fault::hit(self.fault, FaultPoint::DuringCopy);
                }
            }
            Ok(())
        }
        .await;
        if let Err(error) = streamed {
            let _ = copy.abort("reading the day from ClickHouse failed").await;
            return Err(error.context("copying the day from ClickHouse"));
        }
        let staged = copy.finish().await?;
        let inserted = sqlx::query("insert into archived_results select * from archive_staging on conflict do nothing")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        ledger::refresh_rollups(&mut tx, day, None).await?;
        ledger::set_state(&mut tx, day, State::Copied).await?;
        tx.commit().await?;
        info!(%day, staged, inserted, "day copied");
        Ok(staged)
    }

    /// Step 3: the day's count and checksum in ClickHouse, and in PostgreSQL over the same
    /// rows. Equal means every row is archived with the same content.
    async fn verify(&self, day: NaiveDate) -> anyhow::Result<(DayStats, DayStats)> {
        let ch = fresh::day_stats(&self.clickhouse, day).await?;
        let pg = ledger::day_stats(&self.pg, day).await?;
        if pg == ch || pg.rows < ch.rows {
            return Ok((ch, pg));
        }
        // The archive holds more than ClickHouse (late rows, or a reopened day): compare
        // ClickHouse's rows only, looked up by key.
        let mut cursor = fresh::day_keys(&self.clickhouse, day)?;
        let mut keys = Vec::with_capacity(KEY_CHUNK);
        let mut sum = DayStats::default();
        loop {
            let next = cursor.next().await?;
            let end = next.is_none();
            keys.extend(next);
            if keys.len() >= KEY_CHUNK || (end && !keys.is_empty()) {
                let part = ledger::stats_of_keys(&self.pg, &keys).await?;
                sum.rows += part.rows;
                sum.sum_a += part.sum_a;
                sum.sum_b += part.sum_b;
                keys.clear();
            }
            if end {
                break;
            }
        }
        Ok((ch, sum))
    }
}
