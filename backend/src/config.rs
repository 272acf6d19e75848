//! The backend's own settings (the shared connection settings come from `common::config`).

use std::path::PathBuf;
use std::time::Duration;

use common::config::{AmqpConfig, ClickHouseConfig, GuardConfig, HttpConfig, PgConfig};

/// Command line.
#[derive(Debug, clap::Parser)]
#[command(name = "backend", version, about = "PingTower's API, scheduler and incident engine")]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Configuration.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the PostgreSQL and ClickHouse migrations, then exit.
    Migrate,
    /// Print the OpenAPI document (what `GET /api/openapi.json` serves) as JSON, then exit;
    /// nothing is started or connected.
    Openapi,
}

/// The backend's configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// RabbitMQ.
    #[command(flatten)]
    pub amqp: AmqpConfig,
    /// PostgreSQL.
    #[command(flatten)]
    pub pg: PgConfig,
    /// ClickHouse.
    #[command(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// API server.
    #[command(flatten)]
    pub http: HttpConfig,
    /// The address guard: private targets possible at all, operator exceptions, more
    /// protected endpoints, NAT64 prefixes.
    #[command(flatten)]
    pub guard: GuardConfig,
    /// Accounts, targets, scheduler and web settings.
    #[command(flatten)]
    pub api: ApiConfig,
    /// Listeners, client addresses, request limits and public caching.
    #[command(flatten)]
    pub edge: EdgeConfig,
}

/// Whether anyone may sign up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registration {
    /// Anyone may register (until an admin closes sign-ups).
    Open,
    /// Only the first user may register; then nobody.
    Closed,
}

/// API, accounts and scheduler settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiConfig {
    /// Sign-ups: `open` or `closed` (the first user can always register and becomes admin).
    /// An admin can change it at run time; this is the value until they do.
    #[arg(long, env = "PINGTOWER_REGISTRATION", value_enum, default_value = "open")]
    pub registration: Registration,
    /// Shortest check interval users may choose, in seconds.
    #[arg(long, env = "PINGTOWER_MIN_INTERVAL_SECONDS", default_value_t = 10)]
    pub min_interval_seconds: u32,
    /// Mark the session cookie `Secure` (set behind HTTPS).
    #[arg(long, env = "PINGTOWER_COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub cookie_secure: bool,
    /// The URL users reach this installation at (links in mails).
    #[arg(long, env = "PINGTOWER_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: url::Url,
    /// Telegram bot user name (without `@`), for channel link tokens.
    #[arg(long, env = "PINGTOWER_TELEGRAM_BOT_USERNAME")]
    pub telegram_bot_username: Option<String>,
    /// The built web UI, served at `/`.
    #[arg(long, env = "PINGTOWER_WEB_DIR", default_value = "web/dist")]
    pub web_dir: PathBuf,
    /// Run the scheduler in this process (one backend holds the lock; the others stand by).
    #[arg(long, env = "PINGTOWER_SCHEDULER", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub scheduler: bool,
    /// Run the incident engine in this process (it consumes `results.incidents`, one active
    /// consumer at a time). `false` makes a backend that serves the API and the ping endpoint
    /// only, so that the engine's CPU is spent by another backend.
    #[arg(long, env = "PINGTOWER_INCIDENT_ENGINE", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub incident_engine: bool,
    /// The scheduler's tick: jobs that fall due within one tick are published together, in
    /// messages of up to 64 jobs per region (the broker's cost is per message). A job waits
    /// at most this long; `0s` publishes each as soon as it is due. At most 1 s.
    #[arg(long, env = "PINGTOWER_SCHEDULER_TICK", default_value = "25ms", value_parser = parse_scheduler_tick)]
    pub scheduler_tick: Duration,
    /// How long "Test now" waits for a pinger's answer.
    #[arg(long, env = "PINGTOWER_TEST_NOW_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub test_now_timeout: Duration,
    /// How long a channel's "Send a test message" waits for the notifier's answer.
    #[arg(long, env = "PINGTOWER_CHANNEL_TEST_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub channel_test_timeout: Duration,
    /// Session lifetime.
    #[arg(long, env = "PINGTOWER_SESSION_TTL", default_value = "30days", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,
    /// Failed logins allowed per client address and per account within the window.
    #[arg(long, env = "PINGTOWER_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// The window of the login rate limit.
    #[arg(long, env = "PINGTOWER_LOGIN_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub login_window: Duration,
    /// A PostgreSQL read replica for the heavy public and history reads (status pages, badges,
    /// archived results and rollups); unset: everything goes to `PINGTOWER_DATABASE_URL`.
    /// Writes, sessions and the archive ledger always use the primary. A lagging replica
    /// shows its lag: a new status page or a just-archived day may take that long to appear.
    #[arg(long, env = "PINGTOWER_DATABASE_READ_URL")]
    pub database_read_url: Option<secrecy::SecretString>,
    /// The incident engine.
    #[command(flatten)]
    pub engine: crate::incidents::settings::EngineSettings,
    /// The key that encrypts target secrets at rest: base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Unset: targets with secrets cannot be stored.
    #[arg(long, env = "PINGTOWER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<secrecy::SecretString>,
    /// Default per-user quotas (an admin can override them per user).
    #[command(flatten)]
    pub quotas: QuotaConfig,
    /// Password sign-in and single sign-on (OpenID Connect).
    #[command(flatten)]
    pub sign_in: SignInConfig,
    /// How often the scheduler's leader looks for heartbeat deadlines that passed (a missed
    /// ping is reported within this and a second after its grace time).
    #[arg(long, env = "PINGTOWER_HEARTBEAT_POLL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub heartbeat_poll: Duration,
    /// How long a passed heartbeat deadline waits for a ping being stored before it is
    /// reported (tests on an accelerated clock shorten it).
    #[arg(skip = crate::scheduler::HEARTBEAT_SETTLE)]
    pub heartbeat_settle: Duration,
    /// Days the audit log of every organisation keeps its entries (1 to 3650).
    #[arg(long, env = "PINGTOWER_AUDIT_RETENTION_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub audit_retention_days: u32,
    /// The clock of the scheduler, the heartbeat pings and the incident engine (tests run
    /// minutes of schedule in seconds with an accelerated one).
    #[arg(skip)]
    pub clock: crate::clock::Clock,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            registration: Registration::Open,
            min_interval_seconds: 10,
            cookie_secure: false,
            public_url: "http://127.0.0.1:8080".parse().expect("valid URL"),
            telegram_bot_username: None,
            web_dir: PathBuf::from("web/dist"),
            scheduler: true,
            incident_engine: true,
            scheduler_tick: Duration::from_millis(25),
            test_now_timeout: Duration::from_secs(30),
            channel_test_timeout: Duration::from_secs(15),
            session_ttl: Duration::from_secs(30 * 86_400),
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            database_read_url: None,
            engine: Default::default(),
            secret_key: None,
            quotas: Default::default(),
            sign_in: Default::default(),
            heartbeat_poll: Duration::from_secs(1),
            heartbeat_settle: crate::scheduler::HEARTBEAT_SETTLE,
            audit_retention_days: 365,
            clock: crate::clock::Clock::real(),
        }
    }
}

/// The edge of the service: listeners, client addresses, request limits and public caching.
/// Kept apart from [`ApiConfig`] because these settings protect the installation as a whole
/// rather than shape what users may do.
#[derive(Debug, Clone, clap::Args)]
pub struct EdgeConfig {
    /// Where `/metrics` and `/readyz` are served (never on the API listener, which faces
    /// users). `/healthz` is served on both.
    #[arg(long, env = "PINGTOWER_OPS_ADDR", default_value = "127.0.0.1:9464")]
    pub ops_addr: std::net::SocketAddr,
    /// Proxies (comma-separated CIDRs or addresses) whose `X-Forwarded-For` is believed: only
    /// when the peer is one of them is the client address read from that header (the rightmost
    /// hop that is not itself a trusted proxy). Empty: the peer is the client.
    #[arg(long, env = "PINGTOWER_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Longest time any request may take before it is answered 504 ("Test now" waits up to
    /// `PINGTOWER_TEST_NOW_TIMEOUT` inside it, so keep this longer).
    #[arg(long, env = "PINGTOWER_REQUEST_TIMEOUT", default_value = "45s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Registrations allowed per client address per hour.
    #[arg(long, env = "PINGTOWER_REGISTER_PER_HOUR", default_value_t = 10)]
    pub register_per_hour: u32,
    /// Password hashes (Argon2, ~19 MiB and a core each) computed at once.
    #[arg(long, env = "PINGTOWER_HASH_CONCURRENCY", default_value_t = 2)]
    pub hash_concurrency: usize,
    /// Password hashes that may wait for a free slot; beyond that the request is answered 503
    /// with `Retry-After` instead of queueing without bound.
    #[arg(long, env = "PINGTOWER_HASH_QUEUE", default_value_t = 16)]
    pub hash_queue: usize,
    /// How long a public status page or badge answer is reused (at most 60 s; 0 turns the
    /// cache off).
    #[arg(long, env = "PINGTOWER_PUBLIC_CACHE_TTL", default_value = "30s", value_parser = parse_cache_ttl)]
    pub public_cache_ttl: Duration,
    /// Public status page and badge requests allowed per client address per minute.
    #[arg(long, env = "PINGTOWER_PUBLIC_RATE_LIMIT", default_value_t = 120)]
    pub public_rate_limit: u32,
    /// Targets shown on a public status page at most (the first ones in page order).
    #[arg(long, env = "PINGTOWER_STATUS_PAGE_MAX_TARGETS", default_value_t = 100)]
    pub status_page_max_targets: u32,
    /// Heartbeat pings allowed per ping token (or per ping key and slug) per minute (a job
    /// pinging faster is answered 429).
    #[arg(long, env = "PINGTOWER_PING_RATE_LIMIT", default_value_t = 120)]
    pub ping_rate_limit: u32,
}

/// Entries kept by each public cache at most.
pub const PUBLIC_CACHE_ENTRIES: usize = 10_000;

fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR (10.0.0.0/8) or an address"))
}

/// The longest scheduler tick: every job may wait one tick, so a longer one would delay
/// checks visibly (and a typo like `25s` for `25ms` would pass unnoticed).
pub const MAX_SCHEDULER_TICK: Duration = Duration::from_secs(1);

fn parse_scheduler_tick(s: &str) -> Result<Duration, String> {
    let tick = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if tick > MAX_SCHEDULER_TICK {
        return Err(format!(
            "PINGTOWER_SCHEDULER_TICK is {s:?}, more than the longest tick, 1s (every job may wait one tick)"
        ));
    }
    Ok(tick)
}

fn parse_cache_ttl(s: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if ttl > Duration::from_secs(60) {
        return Err("the public cache keeps answers at most 60s".into());
    }
    Ok(ttl)
}

impl EdgeConfig {
    /// For tests and benchmarks: the ops listener on an ephemeral port, no public cache and
    /// limits no test reaches (a test that checks one sets it).
    pub fn unlimited() -> Self {
        Self {
            ops_addr: "127.0.0.1:0".parse().expect("valid address"),
            register_per_hour: 1_000_000,
            public_cache_ttl: Duration::ZERO,
            public_rate_limit: 1_000_000,
            ping_rate_limit: 1_000_000,
            ..Self::default()
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            ops_addr: "127.0.0.1:9464".parse().expect("valid address"),
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(45),
            register_per_hour: 10,
            hash_concurrency: 2,
            hash_queue: 16,
            public_cache_ttl: Duration::from_secs(30),
            public_rate_limit: 120,
            status_page_max_targets: 100,
            ping_rate_limit: 120,
        }
    }
}

/// Organisation roles a provider's claim may map to, from the least to the most allowed.
pub const ORG_ROLES: [&str; 4] = ["viewer", "editor", "admin", "owner"];

/// How users sign in: passwords (on or off) and single sign-on with an OpenID provider.
#[derive(Debug, Clone, clap::Args)]
pub struct SignInConfig {
    /// Sign-in and registration with a password; `false`: both answer 403 and users sign in
    /// with single sign-on only.
    #[arg(long, env = "PINGTOWER_PASSWORD_LOGIN", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub password_login: bool,
    /// The OpenID provider's issuer URL, exactly as its ID tokens name it (discovery is
    /// read from `<issuer>/.well-known/openid-configuration`); unset: no single sign-on.
    #[arg(long, env = "PINGTOWER_OIDC_ISSUER", value_parser = parse_issuer, requires = "oidc_client_id")]
    pub oidc_issuer: Option<String>,
    /// The client id registered at the provider (its redirect URI:
    /// `<PINGTOWER_PUBLIC_URL>/api/auth/oidc/callback`).
    #[arg(long, env = "PINGTOWER_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The client's secret (unset: a public client, PKCE only).
    #[arg(long, env = "PINGTOWER_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<secrecy::SecretString>,
    /// Scopes asked for, separated by spaces (`openid` is always asked for).
    #[arg(long, env = "PINGTOWER_OIDC_SCOPES", default_value = "openid email profile")]
    pub oidc_scopes: String,
    /// A claim (in the ID token or from userinfo) whose values map to an organisation role
    /// through `PINGTOWER_OIDC_ROLE_MAP`, e.g. `groups`; unset: no role from the provider.
    #[arg(long, env = "PINGTOWER_OIDC_ROLE_CLAIM")]
    pub oidc_role_claim: Option<String>,
    /// Claim values and the role each gives, e.g.
    /// `pingtower-admins=admin,pingtower-viewers=viewer` (roles: viewer, editor, admin,
    /// owner); a user with several takes the highest.
    #[arg(long, env = "PINGTOWER_OIDC_ROLE_MAP", value_parser = parse_role_map, default_value = "")]
    pub oidc_role_map: RoleMap,
    /// A team organisation (its id) whose membership follows the mapped role at every sign-in:
    /// a mapped role joins it (`owner` counts as `admin`; its owner keeps ownership), no mapped
    /// role leaves it. Unset: the mapped role is only recorded.
    #[arg(long, env = "PINGTOWER_OIDC_ORGANISATION")]
    pub oidc_organisation: Option<uuid::Uuid>,
    /// Whether a provider identity that matches no account gets one at its first sign-in;
    /// `false`: only identities already linked, or matched by a verified email, sign in.
    #[arg(long, env = "PINGTOWER_OIDC_SIGN_UP", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub oidc_sign_up: bool,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            password_login: true,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_scopes: "openid email profile".into(),
            oidc_role_claim: None,
            oidc_role_map: RoleMap::default(),
            oidc_organisation: None,
            oidc_sign_up: true,
        }
    }
}

impl SignInConfig {
    /// Whether single sign-on is configured (an issuer and a client id).
    pub fn oidc_enabled(&self) -> bool {
        self.oidc_issuer.is_some() && self.oidc_client_id.is_some()
    }
}

/// Claim values and the organisation role each maps to ([`ORG_ROLES`]), in configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMap(pub Vec<(String, &'static str)>);

impl RoleMap {
    /// The highest role any of `values` maps to.
    pub fn role_for<'a>(&self, values: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
        let rank = |role: &str| ORG_ROLES.iter().position(|r| *r == role);
        values
            .into_iter()
            .flat_map(|v| self.0.iter().filter(move |(value, _)| value == v))
            .map(|(_, role)| *role)
            .max_by_key(|role| rank(role))
    }
}

fn parse_role_map(s: &str) -> Result<RoleMap, String> {
    let mut map = Vec::new();
    for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((value, role)) = entry.rsplit_once('=') else {
            return Err(format!(
                "PINGTOWER_OIDC_ROLE_MAP: {entry:?} is not value=role (e.g. pingtower-admins=admin)"
            ));
        };
        let (value, role) = (value.trim(), role.trim());
        let Some(role) = ORG_ROLES.iter().find(|r| **r == role) else {
            return Err(format!(
                "PINGTOWER_OIDC_ROLE_MAP: {role:?} is not a role (viewer, editor, admin, owner)"
            ));
        };
        if value.is_empty() || value.len() > 256 {
            return Err(format!(
                "PINGTOWER_OIDC_ROLE_MAP: {entry:?} needs a value of 1 to 256 bytes"
            ));
        }
        map.push((value.to_owned(), *role));
    }
    Ok(RoleMap(map))
}

fn parse_issuer(s: &str) -> Result<String, String> {
    // Kept as written: ID tokens must name the issuer exactly (`https://accounts.google.com`
    // has no trailing slash, and a parsed URL would add one).
    let issuer = s.trim();
    match url::Url::parse(issuer) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Ok(issuer.to_owned()),
        _ => Err(format!("PINGTOWER_OIDC_ISSUER: {issuer:?} is not an http(s) URL")),
    }
}

// Every quota spells out its flag, variable and default: clap reads each from its own attribute.
/// Default quotas of every user (an admin can override each per user).
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaConfig {
    /// Targets per user.
    #[arg(
        long = "quota-max-targets",
        env = "PINGTOWER_QUOTA_MAX_TARGETS",
        default_value_t = 1000
    )]
    pub max_targets: u32,
    /// Longest check timeout in seconds (always also shorter than the interval).
    #[arg(
        long = "quota-max-timeout-seconds",
        env = "PINGTOWER_QUOTA_MAX_TIMEOUT_SECONDS",
        default_value_t = 60
    )]
    pub max_timeout_seconds: u32,
    /// Request headers per HTTP check.
    #[arg(
        long = "quota-max-headers",
        env = "PINGTOWER_QUOTA_MAX_HEADERS",
        default_value_t = 50
    )]
    pub max_headers: u32,
    /// Bytes of all request header names and values of a check.
    #[arg(long = "quota-max-header-bytes", env = "PINGTOWER_QUOTA_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: u32,
    /// Bytes of a check's request body.
    #[arg(long = "quota-max-body-bytes", env = "PINGTOWER_QUOTA_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: u32,
    /// Assertions per HTTP check.
    #[arg(
        long = "quota-max-assertions",
        env = "PINGTOWER_QUOTA_MAX_ASSERTIONS",
        default_value_t = 20
    )]
    pub max_assertions: u32,
    /// Bytes of a whole target spec as JSON.
    #[arg(long = "quota-max-spec-bytes", env = "PINGTOWER_QUOTA_MAX_SPEC_BYTES", default_value_t = 64 * 1024)]
    pub max_spec_bytes: u32,
    /// Maintenance windows per user.
    #[arg(
        long = "quota-max-maintenance-windows",
        env = "PINGTOWER_QUOTA_MAX_MAINTENANCE_WINDOWS",
        default_value_t = 100
    )]
    pub max_maintenance_windows: u32,
    /// Status pages per user.
    #[arg(
        long = "quota-max-status-pages",
        env = "PINGTOWER_QUOTA_MAX_STATUS_PAGES",
        default_value_t = 20
    )]
    pub max_status_pages: u32,
    /// Targets on one status page.
    #[arg(
        long = "quota-max-targets-per-page",
        env = "PINGTOWER_QUOTA_MAX_TARGETS_PER_PAGE",
        default_value_t = 100
    )]
    pub max_targets_per_page: u32,
    /// Notification channels per user.
    #[arg(
        long = "quota-max-channels",
        env = "PINGTOWER_QUOTA_MAX_CHANNELS",
        default_value_t = 20
    )]
    pub max_channels: u32,
    /// "Test now" calls per user and minute.
    #[arg(
        long = "quota-test-now-per-minute",
        env = "PINGTOWER_QUOTA_TEST_NOW_PER_MINUTE",
        default_value_t = 10
    )]
    pub test_now_per_minute: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            max_targets: 1000,
            max_timeout_seconds: 60,
            max_headers: 50,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            max_assertions: 20,
            max_spec_bytes: 64 * 1024,
            max_maintenance_windows: 100,
            max_status_pages: 20,
            max_targets_per_page: 100,
            max_channels: 20,
            test_now_per_minute: 10,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("backend").chain(args.iter().copied()))
    }

    #[test]
    fn the_scheduler_tick_is_refused_above_one_second_naming_the_variable() {
        // Arrange + Act
        let default = parse(&[]).unwrap();
        let longest = parse(&["--scheduler-tick", "1s"]).unwrap();
        let none = parse(&["--scheduler-tick", "0s"]).unwrap();
        let refused = parse(&["--scheduler-tick", "1001ms"]).unwrap_err();

        // Assert
        assert_eq!(default.config.api.scheduler_tick, Duration::from_millis(25));
        assert_eq!(longest.config.api.scheduler_tick, Duration::from_secs(1));
        assert_eq!(none.config.api.scheduler_tick, Duration::ZERO);
        let message = refused.to_string();
        assert!(
            message.contains("PINGTOWER_SCHEDULER_TICK") && message.contains("1001ms"),
            "the error names the variable and the value: {message}"
        );
    }

    #[test]
    fn sign_in_defaults_to_passwords_and_no_single_sign_on() {
        let sign_in = parse(&[]).unwrap().config.api.sign_in;
        assert!(sign_in.password_login && sign_in.oidc_sign_up && !sign_in.oidc_enabled());
        assert_eq!(sign_in.oidc_scopes, "openid email profile");
        assert_eq!(sign_in.oidc_role_map, RoleMap::default());
    }

    #[test]
    fn the_oidc_settings_parse_and_the_secret_is_never_printed() {
        // Arrange + Act
        let cli = parse(&[
            "--oidc-issuer",
            "https://accounts.google.com",
            "--oidc-client-id",
            "pingtower",
            "--oidc-client-secret",
            "very-secret-value",
            "--oidc-role-map",
            "pingtower-admins=admin, pingtower-viewers = viewer,ops=editor",
            "--password-login",
            "false",
        ])
        .unwrap();

        // Assert
        let sign_in = &cli.config.api.sign_in;
        assert_eq!(sign_in.oidc_issuer.as_deref(), Some("https://accounts.google.com"));
        assert!(sign_in.oidc_enabled() && !sign_in.password_login);
        let map = &sign_in.oidc_role_map;
        assert_eq!(map.0.len(), 3);
        assert_eq!(map.role_for(["pingtower-viewers"]), Some("viewer"));
        assert_eq!(
            map.role_for(["pingtower-viewers", "x", "pingtower-admins", "ops"]),
            Some("admin")
        );
        assert_eq!(map.role_for(["nobody"]), None);
        let printed = format!("{cli:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
    }

    #[test]
    fn bad_oidc_settings_are_refused_naming_the_variable() {
        for (args, names) in [
            (&["--oidc-role-map", "admins=superuser"][..], "PINGTOWER_OIDC_ROLE_MAP"),
            (&["--oidc-role-map", "admins"][..], "PINGTOWER_OIDC_ROLE_MAP"),
            (
                &["--oidc-issuer", "accounts.google.com", "--oidc-client-id", "x"][..],
                "PINGTOWER_OIDC_ISSUER",
            ),
            (&["--oidc-issuer", "https://id.example.com"][..], "oidc-client-id"),
        ] {
            let message = parse(args).unwrap_err().to_string();
            assert!(message.contains(names), "{args:?}: {message}");
        }
    }
}
