//! The backend's own settings (the shared connection settings come from `common::config`).

use std::path::PathBuf;
use std::time::Duration;

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
    /// How long "Test now" waits for a pinger's answer.
    #[arg(long, env = "PINGTOWER_TEST_NOW_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub test_now_timeout: Duration,
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
    pub engine: crate::incidents::EngineSettings,
    /// The key that encrypts target secrets at rest: base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Unset: targets with secrets cannot be stored.
    #[arg(long, env = "PINGTOWER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<secrecy::SecretString>,
    /// Default per-user quotas (an admin can override them per user).
    #[command(flatten)]
    pub quotas: crate::quotas::QuotaConfig,
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
            test_now_timeout: Duration::from_secs(30),
            session_ttl: Duration::from_secs(30 * 86_400),
            login_max_failures: 5,
            login_window: Duration::from_secs(15 * 60),
            database_read_url: None,
            engine: Default::default(),
            secret_key: None,
            quotas: Default::default(),
        }
    }
}
