//! Reads of check results across the seam: days the archiver has copied to PostgreSQL
//! (`archive_batches` in any state but `copying`) are read from the archive and
//! `result_rollups`; every other day from ClickHouse (`check_results` and its rollups).
//!
//! The archive has two layouts; `archive_batches.layout` says which holds a day: `days`, the
//! compact `archive_days` (one row per target and day, see [`common::archive_day`]), or `rows`,
//! `archived_results` (one row per result), for days archived before the compact layout until
//! the archiver has moved them. A day is moved in one transaction that also flips its layout,
//! so each read takes each day from exactly one table.
//! Duplicates of a result in ClickHouse are ignored (`LIMIT 1 BY result_id`, `uniqExact`).
//!
//! ClickHouse's SQL is text built here, not a query macro: sqlx checks PostgreSQL only, and
//! the ClickHouse client has no compile-time check. What is formatted in is typed (epoch
//! seconds, UUIDs, numbers) or one of this module's constant names, never text from a user.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::archive_day::{self, DayRow};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

/// Where a stretch of time is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// ClickHouse (fresh days).
    Fresh,
    /// PostgreSQL (archived days; the compact layout, and every archived day for rollups).
    Archive,
    /// PostgreSQL's old layout (`archived_results`), for days not yet moved to the compact one.
    ArchiveRows,
}

/// The days held by the archive, and the closed days still in ClickHouse whose daily rollups
/// the archiver has sealed into PostgreSQL (`sealed_days`).
#[derive(Debug, Clone, Default)]
pub struct Seam {
    archived: BTreeSet<NaiveDate>,
    sealed: BTreeSet<NaiveDate>,
    /// The archived days still in the old layout.
    rows: BTreeSet<NaiveDate>,
}

impl Seam {
    /// Loads the archived and the sealed days.
    pub async fn load(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let days = sqlx::query!(
            r#"select day as "day!", true as "archived!", layout = 'rows' as "rows!" from archive_batches
             where state <> 'copying'
             union all
             select day, false, false from sealed_days"#
        )
        .fetch_all(pool)
        .await?;
        let mut seam = Self::default();
        for r in days {
            let (day, archived) = (r.day, r.archived);
            if archived {
                seam.archived.insert(day);
                if r.rows {
                    seam.rows.insert(day);
                }
            } else {
                seam.sealed.insert(day);
            }
        }
        Ok(seam)
    }

    /// A seam with these archived days (tests).
    pub fn with_days(days: impl IntoIterator<Item = NaiveDate>) -> Self {
        Self {
            archived: days.into_iter().collect(),
            ..Default::default()
        }
    }

    /// The same seam with these archived days in the old layout (tests).
    pub fn in_old_layout(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Self {
        let days: Vec<NaiveDate> = days.into_iter().collect();
        self.archived.extend(days.iter().copied());
        self.rows.extend(days);
        self
    }

    /// The same seam with these days sealed too (tests).
    pub fn sealing(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.sealed.extend(days);
        self
    }

    /// `[from, to)` cut at day boundaries into stretches of one source, oldest first: where
    /// results themselves are read from.
    pub fn split(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(Source, DateTime<Utc>, DateTime<Utc>)> {
        Self::split_by(from, to, |day| {
            if self.rows.contains(day) {
                Source::ArchiveRows
            } else if self.archived.contains(day) {
                Source::Archive
            } else {
                Source::Fresh
            }
        })
    }

    /// Like [`Seam::split`], for rollups of granularity `g`: daily rollups of sealed days are
    /// in PostgreSQL too.
    pub fn split_rollups(
        &self,
        g: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(Source, DateTime<Utc>, DateTime<Utc>)> {
        // Rollups are one table for both archive layouts.
        let pg = |day: &NaiveDate| match g {
            Granularity::Hour => self.archived.contains(day),
            Granularity::Day => self.archived.contains(day) || self.sealed.contains(day),
        };
        Self::split_by(from, to, |day| if pg(day) { Source::Archive } else { Source::Fresh })
    }

    fn split_by(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        source_of: impl Fn(&NaiveDate) -> Source,
    ) -> Vec<(Source, DateTime<Utc>, DateTime<Utc>)> {
        let mut out: Vec<(Source, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        let mut at = from;
        while at < to {
            let day = at.date_naive();
            let next_day = Utc.from_utc_datetime(&(day + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default());
            let end = next_day.min(to);
            let source = source_of(&day);
            match out.last_mut() {
                Some(last) if last.0 == source && last.2 == at => last.2 = end,
                _ => out.push((source, at, end)),
            }
            at = end;
        }
        out
    }
}

/// A rollup bucket (an hour or a day) of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Results.
    pub checks: u64,
    /// Failed results (probe-degraded ones excluded).
    pub failures: u64,
    /// Degraded results.
    pub degraded: u64,
    /// Latency quantiles (p50, p95, p99) of results that are not down.
    pub latency: Option<[f64; 3]>,
    /// Average latency of results that are not down.
    pub latency_avg: Option<f64>,
}

impl Bucket {
    /// Downtime by time: the bucket's length times the share of failed checks.
    pub fn downtime_seconds(&self, length_seconds: f64) -> f64 {
        if self.checks == 0 {
            0.0
        } else {
            length_seconds * self.failures as f64 / self.checks as f64
        }
    }
}

/// What of a bucket is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// Everything.
    All,
    /// `checks` and `failures`; the rest is zero or `None`.
    Counts,
}

/// Bucket granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Hours.
    Hour,
    /// Days.
    Day,
}

impl Granularity {
    /// Seconds in a bucket.
    pub fn seconds(self) -> i64 {
        match self {
            Granularity::Hour => 3600,
            Granularity::Day => 86_400,
        }
    }
}

/// Errors of a read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// PostgreSQL.
    #[error("PostgreSQL: {0}")]
    Pg(#[from] sqlx::Error),
    /// ClickHouse.
    #[error("ClickHouse: {0}")]
    Ch(#[from] clickhouse::error::Error),
    /// A compact archive row that cannot be read back.
    #[error("archive: {0}")]
    Decode(String),
}

impl From<ReadError> for crate::ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Pg(e) => e.into(),
            ReadError::Ch(e) => crate::ApiError::internal(e),
            ReadError::Decode(e) => crate::ApiError::internal(e),
        }
    }
}

/// The stores read from.
#[derive(Clone)]
pub struct Store {
    /// PostgreSQL.
    pub pg: PgPool,
    /// ClickHouse (shared: the client's clone copies its URL, options and headers).
    pub ch: std::sync::Arc<clickhouse::Client>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn epoch(at: DateTime<Utc>) -> i64 {
    at.timestamp().clamp(0, i64::from(u32::MAX))
}

fn from_epoch(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).single().unwrap_or_default()
}

/// The first and last UTC day `[from, to)` touches (`to` exclusive).
fn day_span(from: DateTime<Utc>, to: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let last = (to - Duration::milliseconds(1)).max(from);
    (from.date_naive(), last.date_naive())
}

impl Store {
    /// Buckets of `targets` in `[from, to)` (aligned to the granularity), merged across the
    /// seam, sorted by target then start. With [`Fields::Counts`] only `checks` and `failures`
    /// are read (what uptime needs): the fresh side then skips the latency states, most of a
    /// rollup's bytes.
    pub async fn buckets(
        &self,
        seam: &Seam,
        targets: &[Uuid],
        g: Granularity,
        fields: Fields,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, Bucket)>, ReadError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        // The stretches are read at once: a 90-day range of days is typically ClickHouse for
        // today and yesterday and PostgreSQL before (archived or sealed days).
        let reads = seam
            .split_rollups(g, from, to)
            .into_iter()
            .map(|(source, a, b)| async move {
                match source {
                    Source::Fresh => self.fresh_buckets(targets, g, fields, a, b).await,
                    Source::Archive | Source::ArchiveRows => self.archived_buckets(targets, g, a, b).await,
                }
            });
        let mut out: Vec<(Uuid, Bucket)> = futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect();
        out.sort_by_key(|(t, b)| (*t, b.start));
        Ok(out)
    }

    async fn fresh_buckets(
        &self,
        targets: &[Uuid],
        g: Granularity,
        fields: Fields,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, Bucket)>, ReadError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct Row {
            target: String,
            start: u32,
            checks: u64,
            failures: u64,
            degraded: u64,
            avg: f64,
            q: Vec<f64>,
        }
        let ids = targets
            .iter()
            .map(|t| format!("toUUID('{t}')"))
            .collect::<Vec<_>>()
            .join(",");
        let (table, col, start) = match g {
            Granularity::Hour => ("check_rollups_hourly", "hour", "toUInt32(hour)"),
            Granularity::Day => ("check_rollups_daily", "day", "toUInt32(toDateTime(day))"),
        };
        let (lo, hi) = match g {
            Granularity::Hour => (
                format!("toDateTime({})", epoch(from)),
                format!("toDateTime({})", epoch(to)),
            ),
            Granularity::Day => (
                format!("toDate(toDateTime({}))", epoch(from)),
                format!("toDate(toDateTime({}))", epoch(to)),
            ),
        };
        // Counts only: constants stand in for the states not read.
        let rest = match fields {
            Fields::All => {
                "uniqExactIfMerge(degraded) AS degraded, toFloat64(avgIfMerge(latency_avg_ms)) AS avg, \
                 arrayMap(x -> toFloat64(x), quantilesIfMerge(0.5, 0.95, 0.99)(latency_quantiles_ms)) AS q"
            }
            Fields::Counts => "toUInt64(0) AS degraded, toFloat64(nan) AS avg, emptyArrayFloat64() AS q",
        };
        let sql = format!(
            "SELECT toString(target_id) AS target, {start} AS start, uniqExactMerge(checks) AS checks, \
             uniqExactIfMerge(failures) AS failures, {rest} \
             FROM {table} WHERE target_id IN ({ids}) AND {col} >= {lo} AND {col} < {hi} \
             GROUP BY target_id, {col} ORDER BY target_id, {col}"
        );
        let rows: Vec<Row> = self.ch.query(&sql).fetch_all().await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let target = r.target.parse().ok()?;
                let has_latency = r.checks > r.failures && r.avg.is_finite();
                let latency = (has_latency && r.q.len() == 3).then(|| [r.q[0], r.q[1], r.q[2]]);
                Some((
                    target,
                    Bucket {
                        start: from_epoch(i64::from(r.start)),
                        checks: r.checks,
                        failures: r.failures,
                        degraded: r.degraded,
                        latency,
                        latency_avg: if has_latency { finite(r.avg) } else { None },
                    },
                ))
            })
            .collect())
    }

    async fn archived_buckets(
        &self,
        targets: &[Uuid],
        g: Granularity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, Bucket)>, ReadError> {
        struct Row {
            target_id: Uuid,
            bucket: DateTime<Utc>,
            checks: i32,
            failures: i32,
            degraded: i32,
            latency_avg_ms: Option<f64>,
            latency_p50_ms: Option<f64>,
            latency_p95_ms: Option<f64>,
            latency_p99_ms: Option<f64>,
        }
        let granularity = match g {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        };
        // Day buckets start at midnight: a range starting mid-day still includes its day.
        let from = match g {
            Granularity::Hour => from,
            Granularity::Day => Utc.from_utc_datetime(&from.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default()),
        };
        let rows = sqlx::query_as!(
            Row,
            "select target_id, bucket, checks, failures, degraded, latency_avg_ms, latency_p50_ms, latency_p95_ms,
                    latency_p99_ms
             from result_rollups
             where target_id = any($1) and granularity = $2 and bucket >= $3 and bucket < $4
             order by target_id, bucket",
            targets,
            granularity,
            from,
            to
        )
        .fetch_all(&self.pg)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let (t, start, checks, failures, degraded) = (r.target_id, r.bucket, r.checks, r.failures, r.degraded);
                let avg = r.latency_avg_ms;
                let latency = match (r.latency_p50_ms, r.latency_p95_ms, r.latency_p99_ms) {
                    (Some(a), Some(b), Some(c)) => Some([a, b, c]),
                    _ => None,
                };
                (
                    t,
                    Bucket {
                        start,
                        checks: checks.max(0) as u64,
                        failures: failures.max(0) as u64,
                        degraded: degraded.max(0) as u64,
                        latency,
                        latency_avg: avg,
                    },
                )
            })
            .collect())
    }

    /// How many results `target` has in `[from, to)`.
    pub async fn count(
        &self,
        seam: &Seam,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, ReadError> {
        let mut total = 0;
        for (source, a, b) in seam.split(from, to) {
            total += match source {
                Source::Fresh => {
                    let sql = format!(
                        "SELECT uniqExact(result_id) FROM check_results WHERE target_id = toUUID('{target}') \
                         AND checked_at >= toDateTime({}) AND checked_at < toDateTime({})",
                        epoch(a),
                        epoch(b)
                    );
                    self.ch.query(&sql).fetch_one::<u64>().await?
                }
                Source::ArchiveRows => {
                    let n: i64 = sqlx::query_scalar!(r#"select count(*) as "n!" from archived_results where target_id = $1 and checked_at >= $2 and checked_at < $3"#, target, a, b)
                    .fetch_one(&self.pg)
                    .await?;
                    n.max(0) as u64
                }
                Source::Archive => {
                    // Whole days count their `n`; a day cut by the range counts its instants.
                    let (lo, hi) = day_span(a, b);
                    let n: i64 = sqlx::query_scalar!(
                        r#"select coalesce(sum(case
                               when (d.day - date '1970-01-01')::int8 * 86400000 >= $2
                                and (d.day - date '1970-01-01' + 1)::int8 * 86400000 <= $3 then d.n::int8
                               else (select count(*) from unnest(d.at_ms) as u(at)
                                     where ((d.day - date '1970-01-01')::int8 * 86400 + u.at / 1000) * 1000 >= $2
                                       and ((d.day - date '1970-01-01')::int8 * 86400 + u.at / 1000) * 1000 < $3)
                           end), 0)::int8 as "n!"
                         from archive_days d where d.target_id = $1 and d.day >= $4 and d.day <= $5"#,
                        target,
                        a.timestamp_millis(),
                        b.timestamp_millis(),
                        lo,
                        hi
                    )
                    .fetch_one(&self.pg)
                    .await?;
                    n.max(0) as u64
                }
            };
        }
        Ok(total)
    }

    /// Results of `target` with `checked_at` in `[from, to)` and before `cursor` (newest first),
    /// at most `limit`, as the stored JSON of each `CheckResult`.
    pub async fn results(
        &self,
        seam: &Seam,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<(i64, Uuid)>,
        limit: usize,
    ) -> Result<Vec<(i64, Uuid, serde_json::Value)>, ReadError> {
        let mut out = Vec::new();
        let mut parts = seam.split(from, to);
        parts.reverse();
        for (source, a, b) in parts {
            if out.len() >= limit {
                break;
            }
            let want = limit - out.len();
            let rows = match source {
                Source::Fresh => self.fresh_results(target, a, b, cursor, want).await?,
                Source::ArchiveRows => self.archived_results(target, a, b, cursor, want).await?,
                Source::Archive => self.compact_results(target, a, b, cursor, want).await?,
            };
            out.extend(rows);
        }
        out.truncate(limit);
        Ok(out)
    }

    // The fresh and archived readers take the same arguments on purpose: each answers for its side of the seam.
    async fn fresh_results(
        &self,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<(i64, Uuid)>,
        limit: usize,
    ) -> Result<Vec<(i64, Uuid, serde_json::Value)>, ReadError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct Row {
            at: u32,
            id: String,
            detail: String,
        }
        let after = match cursor {
            Some((at, id)) => format!(
                " AND (checked_at < toDateTime({at}) OR (checked_at = toDateTime({at}) AND toString(result_id) < '{id}'))"
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT toUInt32(checked_at) AS at, toString(result_id) AS id, detail FROM check_results \
             WHERE target_id = toUUID('{target}') AND checked_at >= toDateTime({}) AND checked_at < toDateTime({}){after} \
             ORDER BY checked_at DESC, id DESC LIMIT 1 BY result_id LIMIT {limit}",
            epoch(from),
            epoch(to)
        );
        let rows: Vec<Row> = self.ch.query(&sql).fetch_all().await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some((
                    i64::from(r.at),
                    r.id.parse().ok()?,
                    serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
                ))
            })
            .collect())
    }

    async fn archived_results(
        &self,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<(i64, Uuid)>,
        limit: usize,
    ) -> Result<Vec<(i64, Uuid, serde_json::Value)>, ReadError> {
        let (c_at, c_id) = match cursor {
            Some((at, id)) => (Some(from_epoch(at)), Some(id)),
            None => (None, None),
        };
        let rows = sqlx::query!(
            "select checked_at, result_id, detail from archived_results
             where target_id = $1 and checked_at >= $2 and checked_at < $3
               and ($4::timestamptz is null or (checked_at, result_id) < ($4, $5))
             order by checked_at desc, result_id desc limit $6",
            target,
            from,
            to,
            c_at,
            c_id as Option<Uuid>,
            limit as i64
        )
        .fetch_all(&self.pg)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.checked_at.timestamp(), r.result_id, r.detail))
            .collect())
    }

    /// [`Self::archived_results`] for days in the compact layout: the target's day rows are
    /// read newest first, one at a time until `limit` results are in hand; results whose
    /// detail was dropped are listed from their kept fields (see [`archive_day::Entry::to_json`]).
    async fn compact_results(
        &self,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<(i64, Uuid)>,
        limit: usize,
    ) -> Result<Vec<(i64, Uuid, serde_json::Value)>, ReadError> {
        let (first, mut last) = day_span(from, to);
        // A cursor inside the range skips the days after it.
        if let Some((at, _)) = cursor {
            last = last.min(from_epoch(at).date_naive());
        }
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        // The days the target has a row for (the index), newest first; then row by row.
        let days: Vec<NaiveDate> = sqlx::query_scalar!(
            "select day from archive_days where target_id = $1 and day >= $2 and day <= $3 order by day desc",
            target,
            first,
            last
        )
        .fetch_all(&self.pg)
        .await?;
        let mut out = Vec::new();
        for day in days {
            if out.len() >= limit {
                break;
            }
            let row = sqlx::query_as!(
                DayRow,
                r#"select day, target_id, n, strs, result_ids, job_ids, at_ms, took_ms, duration_ms, outcome,
                        status_code, region_i, pinger_i, kind_i, ip_i, failure_kind_i, failure_phase_i, failure_msg_i,
                        dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms,
                        tls_days_left as "tls_days_left: Vec<Option<i32>>", probe_degraded, sig, detail_at, details
                 from archive_days where day = $1 and target_id = $2"#,
                day,
                target
            )
            .fetch_optional(&self.pg)
            .await?;
            if let Some(row) = row {
                let entries = row.entries().map_err(|e| ReadError::Decode(e.to_string()))?;
                let mut page: Vec<&archive_day::Entry> = entries
                    .iter()
                    .filter(|e| {
                        let ms = e.checked_at() * 1000;
                        ms >= from_ms
                            && ms < to_ms
                            && cursor.is_none_or(|(at, id)| (e.checked_at(), e.result_id) < (at, id))
                    })
                    .collect();
                page.sort_by_key(|e| std::cmp::Reverse((e.checked_at(), e.result_id)));
                page.truncate(limit - out.len());
                out.extend(
                    page.into_iter()
                        .map(|e| (e.checked_at(), e.result_id, e.to_json(target))),
                );
            }
        }
        Ok(out)
    }

    /// Latency points of `target` in `[from, to)`, one per `step` seconds: quantiles of the
    /// total and of each phase, over results that are not down.
    pub async fn latency(
        &self,
        seam: &Seam,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Result<Vec<LatencyPoint>, ReadError> {
        let mut out: Vec<LatencyPoint> = Vec::new();
        for (source, a, b) in seam.split(from, to) {
            let points = match source {
                Source::Fresh => self.fresh_latency(target, a, b, step).await?,
                Source::ArchiveRows => self.archived_latency(target, a, b, step).await?,
                Source::Archive => self.compact_latency(target, a, b, step).await?,
            };
            for p in points {
                // A step spanning the seam has a point on each side: keep the fuller one.
                match out.last_mut() {
                    Some(last) if last.t == p.t => {
                        if p.count > last.count {
                            *last = p;
                        }
                    }
                    _ => out.push(p),
                }
            }
        }
        Ok(out)
    }

    async fn fresh_latency(
        &self,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Result<Vec<LatencyPoint>, ReadError> {
        #[derive(clickhouse::Row, Deserialize)]
        struct Row {
            t: u64,
            n: u64,
            total: Vec<f64>,
            dns: Vec<f64>,
            connect: Vec<f64>,
            tls: Vec<f64>,
            ttfb: Vec<f64>,
            transfer: Vec<f64>,
        }
        let q =
            |col: &str| format!("arrayMap(x -> toFloat64(x), quantilesIf(0.5, 0.95, 0.99)({col}, {col} > 0)) AS {col}");
        let sql = format!(
            "SELECT intDiv(toUInt64(toUInt32(checked_at)), {step}) * {step} AS t, count() AS n, \
             arrayMap(x -> toFloat64(x), quantiles(0.5, 0.95, 0.99)(duration_ms)) AS total, \
             {dns}, {connect}, {tls}, {ttfb}, {transfer} FROM ( \
               SELECT checked_at, duration_ms, dns_ms AS dns, connect_ms AS connect, tls_ms AS tls, \
                      ttfb_ms AS ttfb, transfer_ms AS transfer FROM check_results \
               WHERE target_id = toUUID('{target}') AND checked_at >= toDateTime({from}) \
                 AND checked_at < toDateTime({to}) AND outcome != 'down' AND probe_degraded = 0 \
               LIMIT 1 BY result_id) \
             GROUP BY t ORDER BY t",
            dns = q("dns"),
            connect = q("connect"),
            tls = q("tls"),
            ttfb = q("ttfb"),
            transfer = q("transfer"),
            from = epoch(from),
            to = epoch(to),
        );
        let rows: Vec<Row> = self.ch.query(&sql).fetch_all().await?;
        Ok(rows
            .into_iter()
            .map(|r| LatencyPoint {
                t: r.t as i64,
                count: r.n,
                total: Quantiles::from_slice(&r.total),
                dns: Quantiles::from_slice(&r.dns),
                connect: Quantiles::from_slice(&r.connect),
                tls: Quantiles::from_slice(&r.tls),
                ttfb: Quantiles::from_slice(&r.ttfb),
                transfer: Quantiles::from_slice(&r.transfer),
            })
            .collect())
    }

    async fn archived_latency(
        &self,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Result<Vec<LatencyPoint>, ReadError> {
        let rows = sqlx::query_as!(
            PercentileRow,
            r#"select (floor(extract(epoch from checked_at) / $4) * $4)::int8 as "t!", count(*) as "n!",
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by duration_ms) as total,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by dns_ms) filter (where dns_ms > 0)
                        as dns,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by connect_ms)
                        filter (where connect_ms > 0) as connect,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by tls_ms) filter (where tls_ms > 0)
                        as tls,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by ttfb_ms) filter (where ttfb_ms > 0)
                        as ttfb,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by transfer_ms)
                        filter (where transfer_ms > 0) as transfer
             from archived_results
             where target_id = $1 and checked_at >= $2 and checked_at < $3 and outcome <> 'down'
               and not probe_degraded
             group by 1 order by 1"#,
            target,
            from,
            to,
            step as f64
        )
        .fetch_all(&self.pg)
        .await?;
        Ok(rows.into_iter().map(LatencyPoint::from).collect())
    }

    async fn compact_latency(
        &self,
        target: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Result<Vec<LatencyPoint>, ReadError> {
        let (lo, hi) = day_span(from, to);
        let rows = sqlx::query_as!(
            PercentileRow,
            r#"select (floor(u.s / $4) * $4)::int8 as "t!", count(*) as "n!",
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by u.dur) as total,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by u.dns) filter (where u.dns > 0)
                        as dns,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by u.con) filter (where u.con > 0)
                        as connect,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by u.tls) filter (where u.tls > 0)
                        as tls,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by u.ttfb) filter (where u.ttfb > 0)
                        as ttfb,
                    percentile_cont(array[0.5, 0.95, 0.99]) within group (order by u.tr) filter (where u.tr > 0)
                        as transfer
             from (select (d.day - date '1970-01-01')::int8 * 86400 + x.at / 1000 as s, x.*
                   from archive_days d,
                        unnest(d.at_ms, d.duration_ms, d.dns_ms, d.connect_ms, d.tls_ms, d.ttfb_ms, d.transfer_ms,
                               d.outcome, d.probe_degraded) as x(at, dur, dns, con, tls, ttfb, tr, o, pd)
                   where d.target_id = $1 and d.day >= $5 and d.day <= $6) u
             where u.s * 1000 >= $2 and u.s * 1000 < $3 and u.o <> 3 and not u.pd
             group by 1 order by 1"#,
            target,
            from.timestamp_millis(),
            to.timestamp_millis(),
            step as f64,
            lo,
            hi
        )
        .fetch_all(&self.pg)
        .await?;
        Ok(rows.into_iter().map(LatencyPoint::from).collect())
    }
}

/// p50, p95, p99 in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Quantiles {
    fn from_slice(v: &[f64]) -> Option<Self> {
        match v {
            [a, b, c] if a.is_finite() && b.is_finite() && c.is_finite() && *c > 0.0 => Some(Self {
                p50: *a,
                p95: *b,
                p99: *c,
            }),
            _ => None,
        }
    }
}

/// One point of a latency series (every phase is serialised, null when it has no quantiles).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = PhaseLatencies)]
pub struct LatencyPoint {
    /// Start of the step (epoch seconds).
    #[serde(skip)]
    pub t: i64,
    /// Results in the step.
    #[serde(skip)]
    pub count: u64,
    /// Total duration.
    pub total: Option<Quantiles>,
    /// DNS phase.
    pub dns: Option<Quantiles>,
    /// Connect phase.
    pub connect: Option<Quantiles>,
    /// TLS phase.
    pub tls: Option<Quantiles>,
    /// Time to first byte.
    pub ttfb: Option<Quantiles>,
    /// Body transfer.
    pub transfer: Option<Quantiles>,
}

/// One bucket of an archived latency series as PostgreSQL computes it (both archive layouts):
/// its start (epoch seconds), its results, and each phase's p50/p95/p99.
struct PercentileRow {
    t: i64,
    n: i64,
    total: Option<Vec<f64>>,
    dns: Option<Vec<f64>>,
    connect: Option<Vec<f64>>,
    tls: Option<Vec<f64>>,
    ttfb: Option<Vec<f64>>,
    transfer: Option<Vec<f64>>,
}

impl From<PercentileRow> for LatencyPoint {
    fn from(r: PercentileRow) -> Self {
        let q = |v: &Option<Vec<f64>>| v.as_deref().and_then(Quantiles::from_slice);
        LatencyPoint {
            t: r.t,
            count: r.n.max(0) as u64,
            total: q(&r.total),
            dns: q(&r.dns),
            connect: q(&r.connect),
            tls: q(&r.tls),
            ttfb: q(&r.ttfb),
            transfer: q(&r.transfer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_range_is_cut_at_the_archive_boundary() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let seam = Seam::with_days([d("2026-10-01"), d("2026-10-02")]);
        let parts = seam.split(t("2026-10-01T12:00:00Z"), t("2026-10-04T06:00:00Z"));
        assert_eq!(
            parts,
            vec![
                (Source::Archive, t("2026-10-01T12:00:00Z"), t("2026-10-03T00:00:00Z")),
                (Source::Fresh, t("2026-10-03T00:00:00Z"), t("2026-10-04T06:00:00Z")),
            ]
        );
        assert!(
            seam.split(t("2026-10-04T00:00:00Z"), t("2026-10-04T00:00:00Z"))
                .is_empty()
        );
    }

    #[test]
    fn sealed_days_are_read_from_postgres_for_daily_rollups_only() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let seam = Seam::with_days([d("2026-10-01")]).sealing([d("2026-10-02"), d("2026-10-03")]);
        let (from, to) = (t("2026-10-01T00:00:00Z"), t("2026-10-05T00:00:00Z"));
        assert_eq!(
            seam.split_rollups(Granularity::Day, from, to),
            vec![
                (Source::Archive, from, t("2026-10-04T00:00:00Z")),
                (Source::Fresh, t("2026-10-04T00:00:00Z"), to),
            ]
        );
        let raw = vec![
            (Source::Archive, from, t("2026-10-02T00:00:00Z")),
            (Source::Fresh, t("2026-10-02T00:00:00Z"), to),
        ];
        assert_eq!(seam.split_rollups(Granularity::Hour, from, to), raw);
        assert_eq!(seam.split(from, to), raw);
    }

    #[test]
    fn days_in_the_old_layout_are_read_from_archived_results_and_rollups_from_one_table() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let seam = Seam::with_days([d("2026-10-02")]).in_old_layout([d("2026-10-01")]);
        let (from, to) = (t("2026-10-01T06:00:00Z"), t("2026-10-03T06:00:00Z"));
        assert_eq!(
            seam.split(from, to),
            vec![
                (Source::ArchiveRows, from, t("2026-10-02T00:00:00Z")),
                (Source::Archive, t("2026-10-02T00:00:00Z"), t("2026-10-03T00:00:00Z")),
                (Source::Fresh, t("2026-10-03T00:00:00Z"), to),
            ]
        );
        assert_eq!(
            seam.split_rollups(Granularity::Hour, from, to),
            vec![
                (Source::Archive, from, t("2026-10-03T00:00:00Z")),
                (Source::Fresh, t("2026-10-03T00:00:00Z"), to),
            ]
        );
    }

    #[test]
    fn a_range_ending_at_midnight_does_not_touch_the_next_day() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            day_span(t("2026-10-01T06:00:00Z"), t("2026-10-03T00:00:00Z")),
            (d("2026-10-01"), d("2026-10-02"))
        );
        assert_eq!(
            day_span(t("2026-10-01T06:00:00Z"), t("2026-10-01T06:00:00Z")),
            (d("2026-10-01"), d("2026-10-01"))
        );
    }
}
