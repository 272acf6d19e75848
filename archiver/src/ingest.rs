//! Ingest: batches of results from `results.store` into ClickHouse.
//!
//! [`crate::consumer`] (the bus's consume engine) hands over up to `batch_size` results and acks them all with one
//! multiple-ack once [`Ingestor::store`] returned `Ok`; on a transient error it keeps the
//! batch and calls again with backoff (the broker holds the rest: it is the spool).
//!
//! Rows of days old enough to be archived go through the ledger (see [`crate::ledger`]):
//! a day already opened by the archive job gets its rows written straight into PostgreSQL's
//! archive (merged into the compact `archive_days` row of their target, or into
//! `archived_results` while the day is still in the old layout), everything else goes to
//! ClickHouse.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::HandlerError;
use chrono::{NaiveDate, Utc};
use common::messages::{CheckResult, Envelope};
use sqlx::PgPool;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::days::{self, Layout};
use crate::fault::{self, FaultPoint};
use crate::row::ResultRow;
use crate::{fresh, ledger, telemetry};

/// Writes batches of results; cheap to clone.
#[derive(Clone)]
pub struct Ingestor {
    inner: Arc<Inner>,
}

struct Inner {
    clickhouse: clickhouse::Client,
    pg: PgPool,
    retention_days: u32,
    /// `PINGTOWER_ARCHIVE_KEEP_DAYS`: late results of days older than this are not archived.
    keep_days: Option<u32>,
    insert_timeout: Duration,
    fault: Option<FaultPoint>,
}

impl Ingestor {
    /// An ingestor writing to `clickhouse`, and to `pg` for days already archived.
    pub fn new(
        clickhouse: clickhouse::Client,
        pg: PgPool,
        retention_days: u32,
        insert_timeout: Duration,
        fault: Option<FaultPoint>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                clickhouse,
                pg,
                retention_days,
                keep_days: None,
                insert_timeout,
                fault,
            }),
        }
    }

    /// Late results of days older than `keep_days` (`PINGTOWER_ARCHIVE_KEEP_DAYS`) are left
    /// out, logged and counted: the retention drops (or has dropped) their month, and writing
    /// them would bring the partition back and recompute that day's kept rollups from the late
    /// rows alone.
    pub fn with_keep_days(mut self, keep_days: Option<u32>) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("an ingestor is configured before it is cloned")
            .keep_days = keep_days;
        self
    }

    /// Stores one batch: every result of it is durable when this returns `Ok`.
    ///
    /// A result that can never be stored (its start is out of range) fails the batch
    /// permanently, so that the consumer retries its messages one by one and dead-letters
    /// only that one. Storage errors are transient.
    pub async fn store(&self, batch: &[Envelope<CheckResult>]) -> Result<(), HandlerError> {
        let started = Instant::now();
        let newest = batch.iter().map(|e| e.occurred_at).max();
        let mut rows = batch
            .iter()
            .map(|e| ResultRow::from_result(&e.payload))
            .collect::<Result<Vec<_>, _>>()
            .map_err(HandlerError::permanent)?;
        if let Some(keep) = self.inner.keep_days {
            let cutoff = Utc::now().date_naive() - chrono::Duration::days(i64::from(keep));
            let before = rows.len();
            rows.retain(|r| r.day() >= cutoff);
            let expired = before - rows.len();
            if expired > 0 {
                warn!(
                    results = expired,
                    %cutoff,
                    "late results older than PINGTOWER_ARCHIVE_KEEP_DAYS left out (their archived month is dropped)"
                );
                telemetry::late_expired(expired);
            }
        }

        // Days the archive job may have opened (one day of margin for clocks that disagree).
        let horizon = Utc::now().date_naive() - chrono::Duration::days(i64::from(self.inner.retention_days))
            + chrono::Duration::days(1);
        let old_days: BTreeSet<NaiveDate> = rows.iter().map(ResultRow::day).filter(|d| *d <= horizon).collect();
        let total = rows.len();
        let archived = if old_days.is_empty() {
            self.insert_fresh(&rows).await?;
            0
        } else {
            self.store_through_ledger(rows, &old_days).await?
        };

        telemetry::batch_stored(total - archived, archived, started.elapsed(), newest);
        fault::hit(self.inner.fault, FaultPoint::AfterInsert);
        Ok(())
    }

    async fn insert_fresh(&self, rows: &[ResultRow]) -> Result<(), HandlerError> {
        if rows.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        match fresh::insert_rows(&self.inner.clickhouse, rows, self.inner.insert_timeout).await {
            Ok(()) => {
                telemetry::insert_took(started.elapsed());
                Ok(())
            }
            Err(e) => {
                telemetry::insert_failed();
                Err(HandlerError::Transient(
                    anyhow::Error::new(e).context("ClickHouse insert failed"),
                ))
            }
        }
    }

    /// Rows of days with a ledger row go to the archive; the rest to ClickHouse, while the
    /// days' shared locks keep the archive job from opening them. Returns the archived count.
    async fn store_through_ledger(
        &self,
        rows: Vec<ResultRow>,
        old_days: &BTreeSet<NaiveDate>,
    ) -> Result<usize, HandlerError> {
        let transient = |e: anyhow::Error| HandlerError::Transient(e.context("archive ledger unavailable"));
        let mut tx = self.inner.pg.begin().await.map_err(|e| transient(e.into()))?;
        for day in old_days {
            ledger::lock_day_shared(&mut tx, *day)
                .await
                .map_err(|e| transient(e.into()))?;
        }
        let states = ledger::states(&mut tx, old_days).await.map_err(transient)?;
        let (late, fresh): (Vec<ResultRow>, Vec<ResultRow>) =
            rows.into_iter().partition(|r| states.contains_key(&r.day()));
        if !late.is_empty() {
            let late_days: Vec<NaiveDate> = late
                .iter()
                .map(ResultRow::day)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let layouts = days::layouts(&mut tx, &late_days)
                .await
                .map_err(|e| transient(e.into()))?;
            // Days moved to the compact layout take late rows there; days still in the old
            // layout (until the migration reaches them) in archived_results.
            let (compact, old): (Vec<ResultRow>, Vec<ResultRow>) = late
                .iter()
                .cloned()
                .partition(|r| layouts.get(&r.day()) != Some(&Layout::Rows));
            let mut new = 0;
            if !compact.is_empty() {
                for day in compact.iter().map(ResultRow::day).collect::<BTreeSet<_>>() {
                    days::ensure_partition(&mut tx, day)
                        .await
                        .map_err(|e| transient(e.into()))?;
                }
                new += days::insert_late(&mut tx, &compact).await.map_err(transient)?;
            }
            let old_days: BTreeSet<NaiveDate> = old.iter().map(ResultRow::day).collect();
            for day in &old_days {
                ledger::ensure_partition(&mut tx, *day)
                    .await
                    .map_err(|e| transient(e.into()))?;
            }
            if !old.is_empty() {
                new += ledger::insert_archived(&mut tx, &old)
                    .await
                    .map_err(|e| transient(e.into()))?;
            }
            for day in &old_days {
                let targets: Vec<Uuid> = old
                    .iter()
                    .filter(|r| r.day() == *day)
                    .map(|r| r.target_id)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                ledger::refresh_rollups(&mut tx, *day, Some(&targets))
                    .await
                    .map_err(|e| transient(e.into()))?;
            }
            debug!(rows = late.len(), new, "late results written to the archive");
        }
        // ClickHouse is written while the shared locks are held: commit only after.
        self.insert_fresh(&fresh).await?;
        tx.commit().await.map_err(|e| transient(e.into()))?;
        Ok(late.len())
    }
}
