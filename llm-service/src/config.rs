//! llm-service's configuration: command line and environment.

use std::time::Duration;

use common::config::{AmqpConfig, PgConfig, ServiceConfig};
use secrecy::SecretString;

/// llm-service's configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "llm-service", version, about)]
pub struct Config {
    /// RabbitMQ, PostgreSQL (owners' languages, stored reports) and the health and metrics
    /// server.
    #[command(flatten)]
    pub service: ServiceConfig,
    /// The LLM provider.
    #[command(flatten)]
    pub llm: LlmConfig,
    /// Consuming `incidents.llm`.
    #[command(flatten)]
    pub consumer: ConsumerConfig,
}

impl Config {
    /// A configuration with every default, for these servers (tests).
    pub fn new(amqp: AmqpConfig, pg: PgConfig) -> Self {
        Self {
            service: ServiceConfig::new(amqp, pg),
            llm: LlmConfig::default(),
            consumer: ConsumerConfig::default(),
        }
    }
}

/// The OpenAI-compatible provider (OpenAI, Ollama, llama.cpp, vLLM…).
#[derive(Debug, Clone, clap::Args)]
pub struct LlmConfig {
    /// Base URL of the OpenAI-compatible API, `/v1` included (e.g. `https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1` for Ollama). Unset: every report is written by the rules.
    #[arg(long = "llm-base-url", env = "PINGTOWER_LLM_BASE_URL")]
    pub base_url: Option<url::Url>,
    /// Model name as the provider knows it.
    #[arg(long = "llm-model", env = "PINGTOWER_LLM_MODEL", default_value = "gpt-4o-mini")]
    pub model: String,
    /// API key (sent as a bearer token); local servers usually need none.
    #[arg(long = "llm-api-key", env = "PINGTOWER_LLM_API_KEY", hide_env_values = true)]
    pub api_key: Option<SecretString>,
    /// Time allowed for one report, retries included; past it the rule report is used.
    #[arg(long = "llm-timeout", env = "PINGTOWER_LLM_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Largest number of tokens the provider may generate for one report.
    #[arg(long = "llm-max-tokens", env = "PINGTOWER_LLM_MAX_TOKENS", default_value_t = 800)]
    pub max_tokens: u32,
    /// Retries of a transient provider error (429, 5xx, connection refused), with exponential
    /// backoff from 100 ms (or the provider's `Retry-After`), all within the timeout.
    #[arg(long = "llm-max-retries", env = "PINGTOWER_LLM_MAX_RETRIES", default_value_t = 3)]
    pub max_retries: u32,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            model: "gpt-4o-mini".into(),
            api_key: None,
            timeout: Duration::from_secs(20),
            max_tokens: 800,
            max_retries: 3,
        }
    }
}

// Like the notifier's delivery settings in shape, but each service names its own variables.
/// How incident events are consumed.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsumerConfig {
    /// Events handled at once.
    #[arg(long = "llm-concurrency", env = "PINGTOWER_LLM_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// How often an event whose incident row is not in PostgreSQL yet is retried before its
    /// report is published unstored.
    #[arg(
        long = "llm-missing-incident-retries",
        env = "PINGTOWER_LLM_MISSING_INCIDENT_RETRIES",
        default_value_t = 8
    )]
    pub missing_incident_retries: u32,
    /// Longest pause between retries of an event while PostgreSQL or RabbitMQ fails.
    #[arg(long = "llm-max-retry-delay", env = "PINGTOWER_LLM_MAX_RETRY_DELAY", default_value = "10s", value_parser = humantime::parse_duration)]
    pub max_retry_delay: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            missing_incident_retries: 8,
            max_retry_delay: Duration::from_secs(10),
        }
    }
}
