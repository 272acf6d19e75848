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

// Each setting spells out its flag, variable and default: clap reads each from its own attribute.
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

/// The address guard's operator settings (see [`crate::netguard::Guard`]), read by every
/// binary that checks or accepts target addresses (backend, pinger).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GuardConfig {
    /// Make private, loopback and link-local targets *possible*: only owners who hold the
    /// permission (admins, and users an admin grants it to) may then use them.
    #[arg(
        long,
        env = "PINGTOWER_ALLOW_PRIVATE_TARGETS",
        default_value_t = false,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub allow_private_targets: bool,
    /// Ranges every check may reach although they are private or hold one of the suite's own
    /// services (CIDR, comma-separated): the operator's deliberate exceptions. Unroutable
    /// addresses stay blocked.
    #[arg(long, env = "PINGTOWER_PINGER_ALLOWED_RANGES", value_delimiter = ',', global = true)]
    pub allowed_ranges: Vec<ipnet::IpNet>,
    /// More of the suite's own endpoints that no check may reach (`host:port` or URLs,
    /// comma-separated), beyond those derived from the configuration.
    #[arg(long, env = "PINGTOWER_PROTECTED_ADDRESSES", value_delimiter = ',', global = true)]
    pub protected_addresses: Vec<String>,
    /// Network-specific NAT64 prefixes of this network (IPv6 CIDR, comma-separated): the
    /// IPv4 address inside is judged as IPv4.
    #[arg(long, env = "PINGTOWER_NAT64_PREFIXES", value_delimiter = ',', global = true)]
    pub nat64_prefixes: Vec<ipnet::Ipv6Net>,
}

/// Where a service's HTTP server (API, or health and metrics) listens.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpConfig {
    /// Listen address; port 0 picks a free port.
    #[arg(long = "http-addr", env = "PINGTOWER_HTTP_ADDR", default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
}

/// What every service that consumes from RabbitMQ and keeps its state in PostgreSQL reads
/// (archiver, llm-service, notifier): the broker, the database and where `/healthz`,
/// `/readyz` and `/metrics` are served.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceConfig {
    /// RabbitMQ.
    #[command(flatten)]
    pub amqp: AmqpConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
    /// Health and metrics server.
    #[command(flatten)]
    pub http: HttpConfig,
}

impl ServiceConfig {
    /// These servers, the health and metrics server on an ephemeral loopback port (tests).
    pub fn new(amqp: AmqpConfig, pg: PgConfig) -> Self {
        Self {
            amqp,
            pg,
            http: HttpConfig {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
        }
    }
}

/// Parses `T` from the command line and the environment, an empty environment variable
/// counting as unset (as `PINGTOWER_X=` or `${X:-}` in a compose file means "not given"), so
/// it falls back to the default instead of failing to parse or overriding it with "".
/// Exits with clap's message on bad input, as `T::parse()` does.
pub fn parse<T: clap::Parser>() -> T {
    let mut command = without_empty_env(T::command());
    let matches = command.get_matches_mut();
    T::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit())
}

/// `command` with every argument whose environment variable is set but empty (or blank)
/// no longer reading it, in subcommands too.
fn without_empty_env(mut command: clap::Command) -> clap::Command {
    let blank: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.to_string_lossy().trim().is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in blank {
        command = command.mut_arg(id, |arg| arg.env(None::<&str>));
    }
    let subcommands: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in subcommands {
        command = command.mut_subcommand(name, without_empty_env);
    }
    command
}
