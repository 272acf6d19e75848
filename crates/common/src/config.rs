//! Configuration pieces shared by the binaries; each binary flattens the ones it needs
//! into its own `clap::Parser` struct. Every field reads an environment variable too.

use std::net::SocketAddr;

use secrecy::SecretString;

/// RabbitMQ connection.
#[derive(Debug, Clone, clap::Args)]
pub struct AmqpConfig {
    /// AMQP URI, vhost included (`%2f` is the default vhost).
    #[arg(
        long = "amqp-url",
        env = "PINGTOWER_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: SecretString,
    /// Pinger regions whose job queues are declared (comma-separated).
    #[arg(long, env = "PINGTOWER_REGIONS", value_delimiter = ',', default_value = "default")]
    pub regions: Vec<String>,
    /// RabbitMQ management API, used to verify bindings.
    #[arg(
        long,
        env = "PINGTOWER_RABBITMQ_MANAGEMENT_URL",
        default_value = "http://127.0.0.1:15672"
    )]
    pub management_url: url::Url,
}

impl AmqpConfig {
    /// The topology for the configured regions.
    pub fn topology(&self) -> crate::topology::Topology {
        crate::topology::Topology::new(&self.regions)
    }
}

/// PostgreSQL connection.
#[derive(Debug, Clone, clap::Args)]
pub struct PgConfig {
    /// PostgreSQL URL.
    #[arg(
        long = "database-url",
        env = "PINGTOWER_DATABASE_URL",
        default_value = "postgres://pingtower@127.0.0.1:5432/pingtower"
    )]
    pub database_url: SecretString,
    /// Largest number of pooled connections.
    #[arg(
        long = "database-max-connections",
        env = "PINGTOWER_DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub max_connections: u32,
}

/// ClickHouse connection.
#[derive(Debug, Clone, clap::Args)]
pub struct ClickHouseConfig {
    /// ClickHouse HTTP endpoint.
    #[arg(
        long = "clickhouse-url",
        env = "PINGTOWER_CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123"
    )]
    pub url: url::Url,
    /// Database holding PingTower's tables.
    #[arg(
        long = "clickhouse-database",
        env = "PINGTOWER_CLICKHOUSE_DATABASE",
        default_value = "pingtower"
    )]
    pub database: String,
    /// User.
    #[arg(
        long = "clickhouse-user",
        env = "PINGTOWER_CLICKHOUSE_USER",
        default_value = "default"
    )]
    pub user: String,
    /// Password.
    #[arg(
        long = "clickhouse-password",
        env = "PINGTOWER_CLICKHOUSE_PASSWORD",
        default_value = ""
    )]
    pub password: SecretString,
}

/// Where a service's HTTP server (API, or health and metrics) listens.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpConfig {
    /// Listen address; port 0 picks a free port.
    #[arg(long = "http-addr", env = "PINGTOWER_HTTP_ADDR", default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
}
