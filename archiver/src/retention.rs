//! The archive's footprint: its month partitions (found in the catalog, whatever their names),
//! its size, its oldest day, and the retention that drops whole months past
//! `PINGTOWER_ARCHIVE_KEEP_DAYS`.
//!
//! The archive is every partition of the parents in [`ARCHIVE_PARENTS`] that exist: the
//! row-per-result `archived_results` and its compact successor `archive_days` (a parent not
//! created yet is skipped). Partitions and their bounds come from `pg_inherits` and
//! `pg_get_expr(relpartbound)`, so a partition created under another name, or by hand, counts
//! too; a `DEFAULT` or unbounded partition is never dropped.
//!
//! Only whole partitions are dropped (no `DELETE`: nothing to vacuum, the space returns to the
//! disk at once), and only when the partition's upper bound is at or before now − keep days.
//! The hourly and daily rollups (`result_rollups`) are never touched: long-range charts and
//! SLA reports keep working over dropped months. The ledger (`archive_batches`) keeps its rows
//! too: readers still take those days as archived, and find their rollups and no raw results.
//! (A result of a dropped month arriving late would recreate its partition through ingest's
//! late path; the next pass drops it again.)
//!
//! A drop runs under the archive job's lock ([`ledger::try_lock_job`]): never while an
//! archive run copies or verifies a day, and one archiver at a time. Each drop is its own
//! transaction with a short `lock_timeout` (3 s), so readers of the archive wait at most that long;
//! a partition that could not be locked is dropped by the next pass.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use tracing::{info, warn};

use crate::{ledger, telemetry};

/// The partitioned tables that make up the archive (by name; absent ones are skipped).
pub const ARCHIVE_PARENTS: [&str; 2] = ["archived_results", "archive_days"];

/// One partition of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The partitioned table it belongs to.
    pub parent: String,
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Its lower bound (UTC), when it is a range partition on one time or date column.
    pub from: Option<DateTime<Utc>>,
    /// Its upper bound (UTC), likewise.
    pub to: Option<DateTime<Utc>>,
    /// Its size with indexes and TOAST (and its own partitions', if it has any).
    pub bytes: u64,
}

/// Every partition of the archive's parents, by name.
pub async fn partitions(pg: &PgPool) -> sqlx::Result<Vec<Partition>> {
    let parents: Vec<String> = ARCHIVE_PARENTS.iter().map(|p| (*p).to_owned()).collect();
    let mut tx = pg.begin().await?;
    // Bounds are printed and parsed back in UTC, so a `date` bound is a UTC midnight.
    sqlx::query!("set local timezone = 'UTC'").execute(&mut *tx).await?;
    let rows = sqlx::query!(
        r#"select p.relname::text as "parent!", n.nspname::text as "schema!", c.relname::text as "name!",
                  substring(b.bound from '^FOR VALUES FROM \(''([^'']*)''\) TO')::timestamptz as "from_",
                  substring(b.bound from ' TO \(''([^'']*)''\)$')::timestamptz as "to_",
                  (select coalesce(sum(pg_total_relation_size(t.relid)), 0)
                   from pg_partition_tree(c.oid) t)::int8 as "bytes!"
           from pg_inherits i
           join pg_class c on c.oid = i.inhrelid
           join pg_namespace n on n.oid = c.relnamespace
           join pg_class p on p.oid = i.inhparent
           cross join lateral (select pg_get_expr(c.relpartbound, c.oid) as bound) b
           where i.inhparent in (select to_regclass(n)::oid from unnest($1::text[]) as u(n))
           order by p.relname, c.relname"#,
        &parents
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Partition {
            parent: r.parent,
            schema: r.schema,
            name: r.name,
            from: r.from_,
            to: r.to_,
            bytes: r.bytes.max(0) as u64,
        })
        .collect())
}

/// The archive's size in bytes: every partition of every parent, indexes and TOAST included.
pub async fn archive_bytes(pg: &PgPool) -> sqlx::Result<u64> {
    Ok(partitions(pg).await?.iter().map(|p| p.bytes).sum())
}

/// The oldest UTC day the archive holds a row of, if any.
pub async fn oldest_day(pg: &PgPool) -> sqlx::Result<Option<NaiveDate>> {
    let mut oldest: Option<NaiveDate> = None;
    for parent in ARCHIVE_PARENTS {
        // The parent's partition key column, quoted; none when the parent does not exist.
        let key = sqlx::query_scalar!(
            r#"select quote_ident(a.attname::text) as "key!"
               from pg_partitioned_table pt
               join pg_attribute a on a.attrelid = pt.partrelid and a.attnum = pt.partattrs[0]
               where pt.partrelid = to_regclass($1) and pt.partnatts = 1"#,
            parent
        )
        .fetch_optional(pg)
        .await?;
        let Some(key) = key else { continue };
        let mut tx = pg.begin().await?;
        sqlx::query!("set local timezone = 'UTC'").execute(&mut *tx).await?;
        // Runtime-checked: the table may not exist when the macros are prepared. `min` of the
        // partition key reads one index entry per partition. Safe: the key is quoted by
        // PostgreSQL, the parent is one of ours, quoted.
        let day: Option<NaiveDate> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select (min({key})::timestamptz)::date from {}",
            quote_ident(parent)
        )))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        oldest = match (oldest, day) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(oldest)
}

/// Reads the archive's size and oldest day into their gauges (best effort: logged).
pub async fn refresh_metrics(pg: &PgPool) {
    match archive_bytes(pg).await {
        Ok(bytes) => telemetry::archive_bytes(bytes),
        Err(error) => warn!(error = format!("{error:#}"), "could not read the archive's size"),
    }
    match oldest_day(pg).await {
        Ok(day) => telemetry::archive_oldest_day(day),
        Err(error) => warn!(error = format!("{error:#}"), "could not read the archive's oldest day"),
    }
}

/// What one retention pass did.
#[derive(Debug, Default)]
pub struct RetentionReport {
    /// Another archive run held the job lock: nothing was done.
    pub skipped: bool,
    /// The partitions dropped.
    pub dropped: Vec<Partition>,
    /// The expired partitions that could not be dropped (retried by the next pass), with why.
    pub failed: Vec<(Partition, String)>,
}

/// Drops whole archived months older than the keep days; cheap to clone.
#[derive(Clone)]
pub struct Retention {
    pg: PgPool,
    keep_days: Option<u32>,
}

impl Retention {
    /// Drops partitions whose whole range is older than `keep_days` (`None`: never).
    pub fn new(pg: PgPool, keep_days: Option<u32>) -> Self {
        Self { pg, keep_days }
    }

    /// The instant at or before which a partition must end to be dropped at `now`.
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        cutoff(self.keep_days, now)
    }

    /// Drops every partition that ends at or before [`Self::cutoff`], under the archive job's
    /// lock; skipped when an archive run holds it. Logs each drop.
    pub async fn run(&self, now: DateTime<Utc>) -> anyhow::Result<RetentionReport> {
        let Some(cutoff) = self.cutoff(now) else {
            return Ok(RetentionReport::default());
        };
        let mut conn = self.pg.acquire().await?;
        if !ledger::try_lock_job(&mut conn).await? {
            info!("an archive run holds the lock; retention waits for the next pass");
            return Ok(RetentionReport {
                skipped: true,
                ..RetentionReport::default()
            });
        }
        let result = self.drop_expired(cutoff).await;
        if let Err(error) = ledger::release_job(&mut conn).await {
            warn!(%error, "could not release the archive job lock");
            conn.detach();
        }
        result
    }

    async fn drop_expired(&self, cutoff: DateTime<Utc>) -> anyhow::Result<RetentionReport> {
        let mut report = RetentionReport::default();
        let expired = partitions(&self.pg)
            .await?
            .into_iter()
            .filter(|p| p.from.is_some() && p.to.is_some_and(|to| to <= cutoff));
        for partition in expired {
            match self.drop_partition(&partition).await {
                Ok(()) => {
                    info!(
                        parent = %partition.parent,
                        partition = %partition.name,
                        from = ?partition.from,
                        to = ?partition.to,
                        bytes = partition.bytes,
                        keep_days = self.keep_days,
                        "archived month dropped: older than the keep days (its rollups stay)"
                    );
                    telemetry::partition_dropped(partition.bytes);
                    report.dropped.push(partition);
                }
                Err(error) => {
                    let error = format!("{error:#}");
                    warn!(partition = %partition.name, %error, "could not drop an expired archive month; the next pass retries");
                    report.failed.push((partition, error));
                }
            }
        }
        Ok(report)
    }

    async fn drop_partition(&self, partition: &Partition) -> anyhow::Result<()> {
        let mut tx = self.pg.begin().await?;
        // Dropping a partition locks its parent: wait briefly, never queue readers for long.
        sqlx::query!("set local lock_timeout = '3s'").execute(&mut *tx).await?;
        // Safe: both names come from the catalog and are quoted as identifiers.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop table {}.{}",
            quote_ident(&partition.schema),
            quote_ident(&partition.name)
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// now − `keep_days` (`None`: nothing expires).
pub fn cutoff(keep_days: Option<u32>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    keep_days.map(|days| now - chrono::Duration::days(i64::from(days)))
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("archived_results_2026_01"), "\"archived_results_2026_01\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn the_cutoff_is_now_minus_the_keep_days_and_none_when_off() {
        let now = "2026-12-06T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(cutoff(Some(10), now), Some("2026-11-26T12:00:00Z".parse().unwrap()));
        assert_eq!(cutoff(None, now), None);
    }
}
