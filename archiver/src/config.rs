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
                disabled: false,
                fault: None,
            },
            clickhouse_compression: ClickHouseCompression::Lz4,
        }
    }
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
    }

    #[test]
    fn a_fault_point_is_named_in_snake_case() {
        let config = Config::try_parse_from(["archiver", "--fault", "after_copy"]).unwrap();
        assert_eq!(config.archive.fault, Some(FaultPoint::AfterCopy));
    }
}
