//! Command line and environment.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use common::config::{AmqpConfig, GuardConfig, HttpConfig};
use common::messages::{DnsTransport, Resolver};
use secrecy::{ExposeSecret, SecretString};

/// pinger's configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "pinger",
    version,
    about = "PingTower's check workers; `pinger check <url>` runs one check."
)]
pub struct Config {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// RabbitMQ.
    #[command(flatten)]
    pub amqp: AmqpConfig,
    /// Health and metrics server.
    #[command(flatten)]
    pub http: HttpConfig,
    /// The address guard's settings (private targets, allowed ranges, protected addresses).
    #[command(flatten)]
    pub guard: GuardConfig,
    /// The worker and its checks.
    #[command(flatten)]
    pub pinger: PingerConfig,
}

impl Config {
    /// The suite's own endpoints no check may reach: the broker and its management API,
    /// PostgreSQL, ClickHouse, and this pinger's health listener (`health`, once bound).
    pub fn suite_endpoints(&self, health: Option<std::net::SocketAddr>) -> Vec<String> {
        let mut suite = common::netguard::amqp_endpoints(&self.amqp);
        suite.push(self.pinger.database_url.expose_secret().to_owned());
        suite.push(self.pinger.clickhouse_url.expose_secret().to_owned());
        if let Some(addr) = health.or(Some(self.http.addr)).filter(|a| a.port() != 0) {
            suite.push(addr.to_string());
        }
        suite
    }
}

/// Settings of the worker and the check engine.
#[derive(Debug, Clone, clap::Args)]
pub struct PingerConfig {
    /// Region served: jobs are consumed from `jobs.<region>`.
    #[arg(long, env = "PINGTOWER_PINGER_REGION", default_value = common::messages::DEFAULT_REGION)]
    pub region: String,
    /// This pinger's id in results (default: `<hostname>-<pid>`).
    #[arg(long = "pinger-id", env = "PINGTOWER_PINGER_ID")]
    pub id: Option<String>,
    /// Checks in flight at once; the consumer holds twice as many deliveries.
    #[arg(long, env = "PINGTOWER_PINGER_CONCURRENCY", default_value_t = 256)]
    pub concurrency: usize,
    /// Fraction of the check slots (and of the deliveries in hand) one owner may hold; its
    /// other jobs wait without blocking anyone else's.
    #[arg(long, env = "PINGTOWER_PINGER_OWNER_SHARE", default_value_t = 0.25, value_parser = parse_share)]
    pub owner_share: f64,
    /// Local address every check connects from (e.g. 127.0.0.2 to simulate a region).
    #[arg(long, env = "PINGTOWER_PINGER_SOURCE_ADDR", global = true)]
    pub source_addr: Option<IpAddr>,
    /// Extra trusted CA certificates (PEM), besides the Mozilla roots.
    #[arg(long, env = "PINGTOWER_PINGER_EXTRA_CA_FILE", global = true)]
    pub extra_ca_file: Option<PathBuf>,
    /// PostgreSQL's URL, only to refuse checks of it (it may hold a password: never logged).
    #[arg(
        long,
        env = "PINGTOWER_DATABASE_URL",
        default_value = "postgres://127.0.0.1:5432",
        global = true
    )]
    pub database_url: SecretString,
    /// ClickHouse's URL, only to refuse checks of it (it may hold a password: never logged).
    #[arg(
        long,
        env = "PINGTOWER_CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123",
        global = true
    )]
    pub clickhouse_url: SecretString,
    /// Resolver (`ip:port`, UDP) for the names of checks whose owner may not reach private
    /// addresses, so that they cannot learn internal names; unset: the system resolver, its
    /// answers guarded.
    #[arg(long, env = "PINGTOWER_PINGER_PUBLIC_RESOLVER", global = true)]
    pub public_resolver: Option<SocketAddr>,
    /// Which ICMP sockets ICMP checks may open: `auto` (an unprivileged datagram socket, else
    /// a raw one), `dgram` or `raw`.
    #[arg(
        long,
        env = "PINGTOWER_PINGER_ICMP_SOCKET",
        value_enum,
        default_value = "auto",
        global = true
    )]
    pub icmp_socket: crate::checks::icmp::IcmpSockets,
    /// Egress canaries (URLs or host:port), checked every round; when most fail, results
    /// carry `probe_degraded=true`.
    #[arg(long, env = "PINGTOWER_PINGER_CANARIES", value_delimiter = ',')]
    pub canaries: Vec<String>,
    /// Time between canary rounds.
    #[arg(long, env = "PINGTOWER_PINGER_CANARY_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub canary_interval: Duration,
    /// Time one canary check may take.
    #[arg(long, env = "PINGTOWER_PINGER_CANARY_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub canary_timeout: Duration,
    /// How long publishing one result may wait for an unreachable broker before the job is
    /// retried.
    #[arg(long, env = "PINGTOWER_PINGER_PUBLISH_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub publish_timeout: Duration,
}

impl Default for PingerConfig {
    fn default() -> Self {
        Self {
            region: common::messages::DEFAULT_REGION.to_owned(),
            id: None,
            concurrency: 256,
            owner_share: 0.25,
            source_addr: None,
            extra_ca_file: None,
            database_url: SecretString::from("postgres://127.0.0.1:5432"),
            clickhouse_url: SecretString::from("http://127.0.0.1:8123"),
            public_resolver: None,
            icmp_socket: crate::checks::icmp::IcmpSockets::Auto,
            canaries: Vec::new(),
            canary_interval: Duration::from_secs(10),
            canary_timeout: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(30),
        }
    }
}

impl PingerConfig {
    /// The public resolver, as a check's resolver.
    pub fn public_resolver(&self) -> Option<Resolver> {
        self.public_resolver.map(|address| Resolver {
            address,
            protocol: DnsTransport::Udp,
        })
    }

    /// The pinger id: configured, or `<hostname>-<pid>`.
    pub fn pinger_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_owned())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "pinger".to_owned());
            format!("{host}-{}", std::process::id())
        })
    }
}

/// A share: a fraction in (0, 1].
fn parse_share(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a fraction in (0, 1]"))
    }
}

/// A STARTTLS protocol: `smtp`, `imap` or `pop3`.
fn starttls_protocol(s: &str) -> Result<common::messages::Starttls, String> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
        .map_err(|_| format!("{s} is not a STARTTLS protocol (smtp, imap, pop3)"))
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Consume jobs and publish results (the default).
    Serve,
    /// Run one check and print it, like `curl -w` with every phase.
    Check(CheckArgs),
}

/// `pinger check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The URL; with --dns a name; with --tcp or --tls `host:port`; with --icmp a host.
    pub target: String,
    /// DNS check of the name.
    #[arg(long, conflicts_with_all = ["tcp", "tls", "icmp"])]
    pub dns: bool,
    /// TCP connect check of host:port.
    #[arg(long, conflicts_with_all = ["tls", "icmp"])]
    pub tcp: bool,
    /// ICMP echo (ping) check of the host: every echo and the summary.
    #[arg(long, conflicts_with = "tls")]
    pub icmp: bool,
    /// Echo requests to send (--icmp, 1-10).
    #[arg(long, default_value_t = 3)]
    pub count: u32,
    /// Time between echo requests (--icmp).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Time to wait for each echo reply (--icmp).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub echo_timeout: Duration,
    /// Payload bytes of each echo request (--icmp, 0-1400).
    #[arg(long, default_value_t = 56)]
    pub payload_size: u32,
    /// Loss above this percent is degraded (--icmp).
    #[arg(long, value_name = "PERCENT")]
    pub degraded_loss: Option<u32>,
    /// TLS certificate check of host:port (443 when no port).
    #[arg(long)]
    pub tls: bool,
    /// DNS record type (A, AAAA, CNAME, MX, TXT, NS, SOA).
    #[arg(long = "type", default_value = "A")]
    pub record_type: String,
    /// DNS server to ask (`ip:port`) instead of the system resolver.
    #[arg(long)]
    pub resolver: Option<SocketAddr>,
    /// Ask the DNS server over TCP.
    #[arg(long)]
    pub resolver_tcp: bool,
    /// Expected DNS answers.
    #[arg(long = "expect-answer")]
    pub expected_answers: Vec<String>,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// Request header `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long, short = 'd')]
    pub data: Option<String>,
    /// Do not follow redirects.
    #[arg(long)]
    pub no_follow: bool,
    /// Most redirects followed.
    #[arg(long, default_value_t = 10)]
    pub max_redirects: u8,
    /// Do not fail on certificate problems.
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Days before expiry that count as expiring.
    #[arg(long, default_value_t = 14)]
    pub warn_days: u32,
    /// SNI / name to check the certificate against (--tls).
    #[arg(long)]
    pub sni: Option<String>,
    /// Upgrade with STARTTLS before the handshake (--tls): smtp, imap or pop3.
    #[arg(long, value_name = "PROTOCOL", value_parser = starttls_protocol)]
    pub starttls: Option<common::messages::Starttls>,
    /// Text the TCP banner must contain.
    #[arg(long)]
    pub expect_banner: Option<String>,
    /// Time allowed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print the CheckResult as JSON.
    #[arg(long)]
    pub json: bool,
    /// Conditions on an HTTP check's response.
    #[command(flatten)]
    pub assertions: crate::cli::AssertionArgs,
}
