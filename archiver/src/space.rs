//! Disk safety: before each day moves to PostgreSQL, [`SpaceGate::admit`] checks that it fits.
//!
//! A day is held back (it stays in ClickHouse, untouched, and is moved by a later pass) when
//! - **budget**: `PINGTOWER_ARCHIVE_MAX_BYTES` is set and the archive's size plus the day's
//!   estimated size would exceed it; or
//! - **disk**: PostgreSQL's data disk is visible from here and its free space minus the day's
//!   estimate would fall below `PINGTOWER_ARCHIVE_MIN_FREE_BYTES`.
//!
//! PostgreSQL's disk is visible when the database answers on a loopback address or a Unix
//! socket (the same host), its `data_directory` setting is readable (a superuser or
//! `pg_read_all_settings`), and that path exists here: then `statvfs` on it gives the free
//! space. Otherwise only the budget applies (a remote server's disk is its operator's watch).
//!
//! The day's estimate is its row count in ClickHouse (`system.parts`, redelivered copies
//! included, so it errs high) times the archive's bytes per row (archive size over the
//! ClickHouse rows of the archived days still in it, per the ledger; [`DEFAULT_ROW_BYTES`]
//! until enough days are archived). A day whose rows are already in PostgreSQL (ledger `copied`, `verified`,
//! `dropped`) needs no new space and always passes, so an interrupted move still finishes.
//!
//! While paused the gate warns once per pass, sets `pingtower_archiver_archive_paused{reason}`
//! and `/readyz` shows the reason under `degraded` (still 200: a restart frees no space, and an
//! unready archiver would be restarted in a loop while it keeps ingesting fine). A pass that
//! holds nothing back clears the pause; days resume on their own once space returns (a raised
//! budget, the retention's drops, a larger disk). Nothing is ever dropped for space.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use sqlx::PgPool;
use tracing::{info, warn};

use crate::fresh::RESULTS_TABLE;
use crate::{retention, telemetry};

/// Bytes per ClickHouse row assumed until the archive holds [`MIN_ROWS_FOR_RATIO`] rows.
pub const DEFAULT_ROW_BYTES: u64 = 512;
/// Archived rows needed before the archive's own bytes per row is trusted.
const MIN_ROWS_FOR_RATIO: u64 = 10_000;
/// Bounds of the bytes per row taken from the archive (a fresh, half-vacuumed table can read
/// far off either way).
const ROW_BYTES_RANGE: (u64, u64) = (16, 16_384);

/// Why moving days is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// `budget` or `disk` (the metric's label).
    pub reason: &'static str,
    /// The day held back.
    pub day: NaiveDate,
    /// The numbers behind it, for the log and `/readyz`.
    pub detail: String,
}

#[derive(Debug, Default)]
struct GateState {
    /// The pause of the last pass, or of this pass so far.
    current: Option<Pause>,
    /// Whether this pass held a day back (and warned).
    held_this_pass: bool,
    /// Whether the data directory's invisibility was logged.
    told_invisible: bool,
}

/// The space check of the archive job; cheap to clone (clones share the pause state).
#[derive(Clone)]
pub struct SpaceGate {
    pg: PgPool,
    clickhouse: clickhouse::Client,
    min_free_bytes: u64,
    max_bytes: Option<u64>,
    state: Arc<Mutex<GateState>>,
}

impl SpaceGate {
    /// A gate keeping `min_free_bytes` free on PostgreSQL's disk (0: no check) and the archive
    /// under `max_bytes` (`None`: no budget).
    pub fn new(pg: PgPool, clickhouse: clickhouse::Client, min_free_bytes: u64, max_bytes: Option<u64>) -> Self {
        Self {
            pg,
            clickhouse,
            min_free_bytes,
            max_bytes,
            state: Arc::default(),
        }
    }

    /// Starts a pass: the next hold warns again.
    pub fn begin_pass(&self) {
        self.state.lock().unwrap().held_this_pass = false;
    }

    /// Ends a pass: when it held nothing back, the pause is over.
    pub fn end_pass(&self) {
        let mut state = self.state.lock().unwrap();
        if !state.held_this_pass && state.current.take().is_some() {
            info!("moving days to PostgreSQL resumed: there is space again");
            telemetry::archive_paused(None);
        }
    }

    /// The pause, if moving days is paused (for `/readyz`).
    pub fn paused(&self) -> Option<Pause> {
        self.state.lock().unwrap().current.clone()
    }

    /// The `/readyz` note of the pause.
    pub fn note(&self) -> Option<String> {
        self.paused().map(|p| {
            format!(
                "archive paused ({}): {}; the days wait in ClickHouse",
                p.reason, p.detail
            )
        })
    }

    /// Whether `day` may move now. When not, the pause is recorded (warned once per pass);
    /// when the check itself fails, the day may move (the move needs the same database).
    pub async fn admit(&self, day: NaiveDate) -> bool {
        let verdict = match self.check(day).await {
            Ok(verdict) => verdict,
            Err(error) => {
                warn!(%day, error = format!("{error:#}"), "could not check the archive's space; moving the day");
                None
            }
        };
        let Some(pause) = verdict else { return true };
        let mut state = self.state.lock().unwrap();
        if !state.held_this_pass {
            warn!(
                reason = pause.reason,
                %day,
                detail = %pause.detail,
                "moving days to PostgreSQL is paused: the days wait in ClickHouse until there is space"
            );
        }
        state.held_this_pass = true;
        telemetry::archive_paused(Some(pause.reason));
        state.current = Some(pause);
        false
    }

    /// `None` when `day` fits, else why not.
    pub async fn check(&self, day: NaiveDate) -> anyhow::Result<Option<Pause>> {
        let state = sqlx::query_scalar!("select state from archive_batches where day = $1", day)
            .fetch_optional(&self.pg)
            .await?;
        if matches!(state.as_deref(), Some("copied" | "verified" | "dropped")) {
            return Ok(None);
        }
        let free = if self.min_free_bytes > 0 {
            self.pg_free_bytes().await
        } else {
            None
        };
        if self.max_bytes.is_none() && free.is_none() {
            return Ok(None);
        }
        let archive = retention::archive_bytes(&self.pg).await?;
        let estimate = self.day_rows(day).await?.saturating_mul(self.row_bytes(archive).await?);
        if let Some(max) = self.max_bytes
            && archive.saturating_add(estimate) > max
        {
            return Ok(Some(Pause {
                reason: "budget",
                day,
                detail: format!(
                    "the archive holds {archive} bytes and {day} needs about {estimate} more, over \
                     PINGTOWER_ARCHIVE_MAX_BYTES={max}"
                ),
            }));
        }
        if let Some(free) = free
            && free.saturating_sub(estimate) < self.min_free_bytes
        {
            return Ok(Some(Pause {
                reason: "disk",
                day,
                detail: format!(
                    "PostgreSQL's disk has {free} bytes free and {day} needs about {estimate}, which \
                     would leave less than PINGTOWER_ARCHIVE_MIN_FREE_BYTES={}",
                    self.min_free_bytes
                ),
            }));
        }
        Ok(None)
    }

    /// Rows ClickHouse holds of `day` (parts' counts: redelivered copies not yet merged count too).
    async fn day_rows(&self, day: NaiveDate) -> clickhouse::error::Result<u64> {
        self.clickhouse
            .query(&format!(
                "SELECT toUInt64(sum(rows)) FROM system.parts \
                 WHERE database = currentDatabase() AND table = '{RESULTS_TABLE}' AND active \
                   AND partition_id = '{}'",
                day.format("%Y%m%d")
            ))
            .fetch_one()
            .await
    }

    /// The archive's bytes per ClickHouse row: its size over the rows the ledger counted in
    /// ClickHouse for the archived days it still holds.
    async fn row_bytes(&self, archive: u64) -> sqlx::Result<u64> {
        let Some(oldest) = retention::oldest_day(&self.pg).await? else {
            return Ok(DEFAULT_ROW_BYTES);
        };
        let rows = sqlx::query_scalar!(
            r#"select coalesce(sum(ch_rows), 0)::int8 as "rows!" from archive_batches
               where state = 'done' and day >= $1"#,
            oldest
        )
        .fetch_one(&self.pg)
        .await?
        .max(0) as u64;
        Ok(if rows < MIN_ROWS_FOR_RATIO {
            DEFAULT_ROW_BYTES
        } else {
            (archive / rows).clamp(ROW_BYTES_RANGE.0, ROW_BYTES_RANGE.1)
        })
    }

    /// Free bytes on PostgreSQL's data disk when it is visible from here (see the module doc).
    pub async fn pg_free_bytes(&self) -> Option<u64> {
        match data_directory(&self.pg).await {
            Ok(Some(dir)) => match rustix::fs::statvfs(Path::new(&dir)) {
                Ok(fs) => {
                    let free = fs.f_bavail.saturating_mul(fs.f_frsize);
                    telemetry::pg_free_bytes(free);
                    return Some(free);
                }
                Err(error) => self.tell_invisible(&format!("statvfs({dir}): {error}")),
            },
            Ok(None) => self.tell_invisible("PostgreSQL is on another host"),
            Err(error) => self.tell_invisible(&format!("data_directory is not readable: {error}")),
        }
        None
    }

    fn tell_invisible(&self, why: &str) {
        let mut state = self.state.lock().unwrap();
        if !state.told_invisible {
            state.told_invisible = true;
            info!(
                why,
                "PostgreSQL's free space is not visible here; only the archive budget applies"
            );
        }
    }
}

/// PostgreSQL's data directory when the server is on this host (it answers on loopback or a
/// Unix socket); an error when the setting is not readable.
async fn data_directory(pg: &PgPool) -> sqlx::Result<Option<String>> {
    let local = sqlx::query_scalar!(
        r#"select coalesce(inet_server_addr() <<= inet '127.0.0.0/8' or inet_server_addr() = inet '::1', true)
               as "local!""#
    )
    .fetch_one(pg)
    .await?;
    if !local {
        return Ok(None);
    }
    sqlx::query_scalar!(r#"select current_setting('data_directory') as "dir!""#)
        .fetch_one(pg)
        .await
        .map(Some)
}
