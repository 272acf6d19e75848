//! The notifier's configuration: command line and environment.

use std::time::Duration;

use common::config::{AmqpConfig, GuardConfig, PgConfig, ServiceConfig};
use secrecy::SecretString;
use url::Url;

use crate::fault::FaultPoint;

/// notifier's configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "notifier", version, about)]
pub struct Config {
    /// RabbitMQ, PostgreSQL and the health and metrics server.
    #[command(flatten)]
    pub service: ServiceConfig,
    /// Telegram.
    #[command(flatten)]
    pub telegram: TelegramConfig,
    /// Email.
    #[command(flatten)]
    pub email: EmailConfig,
    /// Delivery.
    #[command(flatten)]
    pub delivery: DeliveryConfig,
    /// Which addresses the HTTP kinds of channel (webhooks…) may reach: the same guard as
    /// monitored targets'.
    #[command(flatten)]
    pub guard: GuardConfig,
    /// The key that opens channel secrets (webhook URLs, tokens), the backend's
    /// `PINGTOWER_SECRET_KEY`. Unset: channels with secrets fail with a clear error.
    #[arg(long, env = "PINGTOWER_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,
    /// The dashboard's public URL; links in alerts and mails start with it.
    #[arg(long, env = "PINGTOWER_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: Url,
    /// Tests only: crash at a fault point (`crash_after_send`). Leave unset.
    #[arg(long, env = "PINGTOWER_NOTIFIER_FAULT")]
    pub fault: Option<FaultPoint>,
}

impl Config {
    /// A config for the given servers with every other option at its default (tests).
    pub fn new(amqp: AmqpConfig, pg: PgConfig) -> Self {
        Self {
            service: ServiceConfig::new(amqp, pg),
            telegram: TelegramConfig {
                bot_token: None,
                api_url: Url::parse("https://api.telegram.org").expect("valid URL"),
                bot_username: "pingtower_bot".into(),
                poll_timeout: Duration::from_secs(10),
                chat_interval: Duration::from_secs(1),
                global_rate: 30,
                polling: true,
            },
            email: EmailConfig {
                smtp_url: None,
                smtp_host: None,
                smtp_port: None,
                smtp_tls: SmtpTls::Starttls,
                smtp_user: None,
                smtp_password: None,
                mail_from: "PingTower <pingtower@localhost>".into(),
                verify_interval: Duration::from_secs(5),
                verify_ttl: Duration::from_secs(24 * 3600),
            },
            delivery: DeliveryConfig {
                concurrency: 32,
                report_wait: Duration::from_secs(30),
                max_retry_delay: Duration::from_secs(5),
                channel_interval: Duration::from_secs(1),
                http_timeout: Duration::from_secs(10),
                // Tests see each alert at once unless they test the digest.
                digest_window: Duration::ZERO,
                escalation_tick: Duration::from_millis(200),
            },
            guard: GuardConfig::default(),
            secret_key: None,
            public_url: Url::parse("http://127.0.0.1:8080").expect("valid URL"),
            fault: None,
        }
    }
}

// Each setting spells out its flag, variable and default: clap reads each from its own attribute.
/// Telegram Bot API.
#[derive(Debug, Clone, clap::Args)]
pub struct TelegramConfig {
    /// The bot's token from @BotFather; without it Telegram is off.
    #[arg(long = "telegram-bot-token", env = "PINGTOWER_TELEGRAM_BOT_TOKEN")]
    pub bot_token: Option<SecretString>,
    /// Bot API server (tests point it at a fake).
    #[arg(
        long = "telegram-api-url",
        env = "PINGTOWER_TELEGRAM_API_URL",
        default_value = "https://api.telegram.org"
    )]
    pub api_url: Url,
    /// The bot's user name (without @), for `https://t.me/<bot>` links and `/cmd@bot`.
    #[arg(
        long = "telegram-bot-username",
        env = "PINGTOWER_TELEGRAM_BOT_USERNAME",
        default_value = "pingtower_bot"
    )]
    pub bot_username: String,
    /// Long-polling timeout of getUpdates (below the HTTP client's 17 s).
    #[arg(long = "telegram-poll-timeout", env = "PINGTOWER_TELEGRAM_POLL_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub poll_timeout: Duration,
    /// Least time between two messages to one chat (Telegram allows about one a second).
    #[arg(long = "telegram-chat-interval", env = "PINGTOWER_TELEGRAM_CHAT_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub chat_interval: Duration,
    /// Most messages a second over all chats (Telegram: 30); 0 means no limit.
    #[arg(
        long = "telegram-global-rate",
        env = "PINGTOWER_TELEGRAM_GLOBAL_RATE",
        default_value_t = 30
    )]
    pub global_rate: u32,
    /// Whether this instance answers bot commands (exactly one instance per bot may poll).
    #[arg(
        long = "telegram-polling",
        env = "PINGTOWER_TELEGRAM_POLLING",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub polling: bool,
}

/// How mail leaves over SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpTls {
    /// No encryption (loopback relays only).
    None,
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// SMTP.
#[derive(Debug, Clone, clap::Args)]
pub struct EmailConfig {
    /// SMTP URL (`smtp://`, `smtps://`, `smtp://…?tls=required`), overrides host/port/TLS.
    #[arg(long = "smtp-url", env = "PINGTOWER_SMTP_URL")]
    pub smtp_url: Option<SecretString>,
    /// SMTP host; without it (and without a URL) email is off.
    #[arg(long = "smtp-host", env = "PINGTOWER_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default by TLS mode: 25, 587, 465).
    #[arg(long = "smtp-port", env = "PINGTOWER_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// `none`, `starttls` or `tls`.
    #[arg(
        long = "smtp-tls",
        env = "PINGTOWER_SMTP_TLS",
        value_enum,
        default_value = "starttls"
    )]
    pub smtp_tls: SmtpTls,
    /// SMTP user.
    #[arg(long = "smtp-user", env = "PINGTOWER_SMTP_USER")]
    pub smtp_user: Option<String>,
    /// SMTP password.
    #[arg(long = "smtp-password", env = "PINGTOWER_SMTP_PASSWORD")]
    pub smtp_password: Option<SecretString>,
    /// Sender of every mail (`Name <address>`).
    #[arg(
        long = "mail-from",
        env = "PINGTOWER_MAIL_FROM",
        default_value = "PingTower <pingtower@localhost>"
    )]
    pub mail_from: String,
    /// How often unverified email channels are looked for.
    #[arg(long = "email-verify-interval", env = "PINGTOWER_EMAIL_VERIFY_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub verify_interval: Duration,
    /// How long a verification link stays valid.
    #[arg(long = "email-verify-ttl", env = "PINGTOWER_EMAIL_VERIFY_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub verify_ttl: Duration,
}

impl EmailConfig {
    /// Whether email is configured.
    pub fn enabled(&self) -> bool {
        self.smtp_url.is_some() || self.smtp_host.is_some()
    }
}

/// Delivery.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliveryConfig {
    /// Events handled at once.
    #[arg(
        long = "notifier-concurrency",
        env = "PINGTOWER_NOTIFIER_CONCURRENCY",
        default_value_t = 32
    )]
    pub concurrency: usize,
    /// How long a report waits for its alert to be sent before it goes out on its own.
    #[arg(long = "notifier-report-wait", env = "PINGTOWER_NOTIFIER_REPORT_WAIT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub report_wait: Duration,
    /// Longest pause between retries of a failing delivery.
    #[arg(long = "notifier-max-retry-delay", env = "PINGTOWER_NOTIFIER_MAX_RETRY_DELAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub max_retry_delay: Duration,
    /// The least time between two messages to one channel of an HTTP kind (webhooks, Slack…;
    /// Slack asks for one per second). A service's `Retry-After` holds the channel longer.
    #[arg(long = "notifier-channel-interval", env = "PINGTOWER_NOTIFIER_CHANNEL_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub channel_interval: Duration,
    /// How long one request to a channel's service may take.
    #[arg(long = "notifier-http-timeout", env = "PINGTOWER_NOTIFIER_HTTP_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub http_timeout: Duration,
    /// The mass-outage digest: an owner's incidents opening (or resolving) within this window
    /// of the first reach each channel as one message. Every opened and resolved alert waits
    /// this long (like Alertmanager's `group_wait`); `0s` turns the digest off.
    #[arg(long = "notifier-digest-window", env = "PINGTOWER_NOTIFIER_DIGEST_WINDOW", default_value = "30s", value_parser = humantime::parse_duration)]
    pub digest_window: Duration,
    /// How often due escalation steps and reminders are looked for (they are due at whole
    /// minutes; this is how late one may be).
    #[arg(long = "notifier-escalation-tick", env = "PINGTOWER_NOTIFIER_ESCALATION_TICK", default_value = "5s", value_parser = humantime::parse_duration)]
    pub escalation_tick: Duration,
}
