//! The archiver's configuration: command line and environment.

use std::time::Duration;

use common::config::{AmqpConfig, ClickHouseConfig, PgConfig, ServiceConfig};

use crate::fault::FaultPoint;

/// archiver's configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "archiver", version, about)]
pub struct Config {
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// RabbitMQ, PostgreSQL (the archive and its ledger) and the health and metrics server.
    #[command(flatten)]
    pub service: ServiceConfig,
    /// ClickHouse (fresh results).
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// Ingest from `results.store`.
    #[command(flatten)]
    pub ingest: IngestConfig,
    /// Moving old days to PostgreSQL.
    #[command(flatten)]
    pub archive: ArchiveConfig,
    /// Compression of the archiver's ClickHouse traffic (inserts and the archive's reads):
    /// `lz4` saves network, `none` saves CPU when ClickHouse is on the same host.
    #[arg(long, env = "PINGTOWER_ARCHIVER_CLICKHOUSE_COMPRESSION", value_enum, default_value_t = ClickHouseCompression::Lz4)]
    pub clickhouse_compression: ClickHouseCompression,
}

/// How the archiver's ClickHouse traffic is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClickHouseCompression {
    /// LZ4 (ClickHouse's native block compression).
    Lz4,
    /// None.
    None,
}

impl Config {
    /// The ClickHouse client of this configuration.
    pub fn clickhouse_client(&self) -> clickhouse::Client {
        let client = common::db::clickhouse_client(&self.clickhouse);
        match self.clickhouse_compression {
            ClickHouseCompression::Lz4 => client.with_compression(clickhouse::Compression::Lz4),
            ClickHouseCompression::None => client.with_compression(clickhouse::Compression::None),
        }
    }
}

/// The archiver's subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Ingest results and archive old days every `--archive-interval` until SIGTERM (default).
    Serve,
    /// Archive every day older than the retention once, then exit (status 1 if a day failed).
    RunOnce,
}

/// How results are batched into ClickHouse.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestConfig {
    /// Largest batch written to ClickHouse in one INSERT (prefetch is this times
    /// `writers + 2`: the batches being written, one collected, one on the way).
    #[arg(long, env = "PINGTOWER_ARCHIVER_BATCH_SIZE", default_value_t = 5000)]
    pub batch_size: usize,
    /// Batches written to ClickHouse at once (acks still go in delivery order).
    #[arg(long, env = "PINGTOWER_ARCHIVER_INSERT_WRITERS", default_value_t = crate::consumer::DEFAULT_WRITERS)]
    pub writers: usize,
    /// Longest wait from a batch's first result before it is written anyway.
    #[arg(long, env = "PINGTOWER_ARCHIVER_BATCH_WAIT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub batch_wait: Duration,
    /// Longest pause between retries of a batch while ClickHouse or PostgreSQL is down.
    #[arg(long, env = "PINGTOWER_ARCHIVER_MAX_RETRY_DELAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub max_retry_delay: Duration,
    /// Time limit of one INSERT into ClickHouse (it is retried after).
    #[arg(long, env = "PINGTOWER_ARCHIVER_INSERT_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub insert_timeout: Duration,
}

/// When and how old days move to PostgreSQL.
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveConfig {
    /// Days kept in ClickHouse; older (UTC) days move to PostgreSQL.
    #[arg(long, env = "PINGTOWER_ARCHIVE_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u32,
    /// How often `serve` runs the archive job (the first run is shortly after start).
    #[arg(long, env = "PINGTOWER_ARCHIVE_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// How often `serve` seals closed days still in ClickHouse into PostgreSQL's rollups (for
    /// fast long-range reads; a day changed by a late result is sealed again on the next pass).
    #[arg(long, env = "PINGTOWER_SEAL_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub seal_interval: Duration,
    /// Time slices of a day copied to PostgreSQL at once (one connection each).
    #[arg(long, env = "PINGTOWER_ARCHIVE_COPY_PARALLELISM", default_value_t = 2)]
    pub copy_parallelism: usize,
    /// Archived months kept in PostgreSQL, in days: a month partition of the archive is dropped
    /// once its whole month is older than this (`0` or `off`: never; hourly and daily
    /// rollups are always kept). Must exceed the ClickHouse retention.
    #[arg(long, env = "PINGTOWER_ARCHIVE_KEEP_DAYS", default_value = "400", value_parser = parse_keep_days)]
    pub keep_days: KeepDays,
    /// Free space PostgreSQL's disk must keep: a day is not moved while free space minus the
    /// day's estimated size would fall below it (checked only when the archiver can see the
    /// database's data directory, i.e. PostgreSQL runs on the same host). Bytes, or with a
    /// unit: `500MiB`, `2GB`; `0` turns the check off.
    #[arg(long, env = "PINGTOWER_ARCHIVE_MIN_FREE_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    pub min_free_bytes: u64,
    /// Largest size of the archive (every partition with its indexes and TOAST): a day is not
    /// moved while the archive's size plus the day's estimated size would exceed it. Bytes or
    /// with a unit as above; unset: no budget.
    #[arg(long, env = "PINGTOWER_ARCHIVE_MAX_BYTES", value_parser = parse_bytes)]
    pub max_bytes: Option<u64>,
    /// Turn the archive job and sealing off in `serve` (another instance archives).
    #[arg(long, env = "PINGTOWER_ARCHIVE_DISABLED", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub disabled: bool,
    /// For tests only: exit abruptly at this point of the archive or ingest path.
    #[arg(long, env = "PINGTOWER_ARCHIVER_FAULT", value_enum)]
    pub fault: Option<FaultPoint>,
}

impl Config {
    /// A config with every default, pointed at the given servers (for tests and benchmarks).
    pub fn new(amqp: AmqpConfig, pg: PgConfig, clickhouse: ClickHouseConfig) -> Self {
        Self {
            command: None,
            service: ServiceConfig::new(amqp, pg),
            clickhouse,
            ingest: IngestConfig {
                batch_size: 5000,
                writers: crate::consumer::DEFAULT_WRITERS,
                batch_wait: Duration::from_secs(1),
                max_retry_delay: Duration::from_secs(5),
                insert_timeout: Duration::from_secs(60),
            },
            archive: ArchiveConfig {
                retention_days: 30,
                interval: Duration::from_secs(3600),
                seal_interval: Duration::from_secs(300),
                copy_parallelism: 2,
                keep_days: KeepDays(Some(400)),
                min_free_bytes: 1 << 30,
                max_bytes: None,
                disabled: false,
                fault: None,
            },
            clickhouse_compression: ClickHouseCompression::Lz4,
        }
    }
}

/// How long archived months are kept: `None` keeps them forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepDays(pub Option<u32>);

impl KeepDays {
    /// Refuses a setting that would drop days as soon as they are archived.
    pub fn check(self, retention_days: u32) -> anyhow::Result<()> {
        match self.0 {
            Some(keep) if keep <= retention_days => anyhow::bail!(
                "PINGTOWER_ARCHIVE_KEEP_DAYS ({keep}) must exceed PINGTOWER_ARCHIVE_RETENTION_DAYS \
                 ({retention_days}), or be `off`: archived months would be dropped as they arrive"
            ),
            _ => Ok(()),
        }
    }
}

fn parse_keep_days(s: &str) -> Result<KeepDays, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(KeepDays(None));
    }
    match s.parse::<u32>() {
        Ok(0) => Ok(KeepDays(None)),
        Ok(n) if n <= 36_500 => Ok(KeepDays(Some(n))),
        _ => Err(format!("{s:?} is not a number of days (1 to 36500), 0 or `off`")),
    }
}

/// Bytes: a number with an optional unit, `B`, `kB`/`MB`/`GB`/`TB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{s:?} is not a size in bytes"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    number.checked_mul(factor).ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_parse_and_run_once_is_a_subcommand() {
        let config = Config::try_parse_from(["archiver", "run-once"]).unwrap();
        assert_eq!(config.command, Some(Command::RunOnce));
        assert_eq!(config.archive.retention_days, 30);
        assert_eq!(config.ingest.batch_size, 5000);
        assert_eq!(config.ingest.batch_wait, Duration::from_secs(1));
        assert_eq!(config.archive.interval, Duration::from_secs(3600));
        assert_eq!(config.archive.seal_interval, Duration::from_secs(300));
        assert_eq!(config.archive.keep_days, KeepDays(Some(400)));
        assert_eq!(config.archive.min_free_bytes, 1 << 30);
        assert_eq!(config.archive.max_bytes, None);
    }

    #[test]
    fn keep_days_off_or_zero_keep_the_archive_forever() {
        for off in ["off", "OFF", "0"] {
            let config = Config::try_parse_from(["archiver", "--keep-days", off]).unwrap();
            assert_eq!(config.archive.keep_days, KeepDays(None), "{off}");
        }
        let config = Config::try_parse_from(["archiver", "--keep-days", "90"]).unwrap();
        assert_eq!(config.archive.keep_days, KeepDays(Some(90)));
        assert!(Config::try_parse_from(["archiver", "--keep-days", "soon"]).is_err());
        assert!(Config::try_parse_from(["archiver", "--keep-days", "-1"]).is_err());
    }

    #[test]
    fn keep_days_must_exceed_the_clickhouse_retention() {
        assert!(KeepDays(Some(30)).check(30).is_err());
        assert!(KeepDays(Some(31)).check(30).is_ok());
        assert!(KeepDays(None).check(30).is_ok());
    }

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_bytes("123"), Ok(123));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("500 MiB"), Ok(500 << 20));
        assert_eq!(parse_bytes("7b"), Ok(7));
        assert!(parse_bytes("1.5GB").is_err());
        assert!(parse_bytes("GB").is_err());
        assert!(parse_bytes("1PB").is_err());
        assert!(parse_bytes("99999999999TiB").is_err());
        let config = Config::try_parse_from(["archiver", "--max-bytes", "10GiB", "--min-free-bytes", "0"]).unwrap();
        assert_eq!(
            (config.archive.max_bytes, config.archive.min_free_bytes),
            (Some(10 << 30), 0)
        );
    }

    #[test]
    fn a_fault_point_is_named_in_snake_case() {
        let config = Config::try_parse_from(["archiver", "--fault", "after_copy"]).unwrap();
        assert_eq!(config.archive.fault, Some(FaultPoint::AfterCopy));
    }
}
