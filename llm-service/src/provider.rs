//! The LLM provider: any OpenAI-compatible chat completions endpoint, through `async-openai`.
//!
//! JSON output is requested (`response_format: json_object`), no tools are offered. Transient
//! errors (429, 5xx, refused connections) are retried by async-openai's retry layer with
//! exponential backoff (100 ms doubling, or the provider's `Retry-After`); the whole call,
//! retries included, is bounded by the configured timeout.

use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs,
    ResponseFormat,
};
use secrecy::ExposeSecret;
use tower::Layer;

use crate::config::LlmConfig;
use crate::prompt::Prompt;
use crate::telemetry;

/// Why the provider gave no text.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request failed (connection, HTTP error status after retries).
    #[error("request failed: {0}")]
    Http(String),
    /// The provider answered with an error object.
    #[error("provider error: {0}")]
    Api(String),
    /// The answer was not a chat completion.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The completion held no text.
    #[error("empty completion")]
    Empty,
    /// The request could not be built.
    #[error("invalid request: {0}")]
    Request(String),
}

impl ProviderError {
    /// Short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::Timeout(_) => "timeout",
            ProviderError::Http(_) => "http",
            ProviderError::Api(_) => "api",
            ProviderError::Malformed(_) => "malformed",
            ProviderError::Empty => "empty",
            ProviderError::Request(_) => "request",
        }
    }
}

/// A configured provider. Cheap to clone.
#[derive(Clone)]
pub struct Provider {
    client: Client<OpenAIConfig>,
    model: String,
    max_tokens: u32,
    timeout: Duration,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// The provider of `config`, or `None` when no base URL is configured.
    pub fn from_config(config: &LlmConfig) -> anyhow::Result<Option<Self>> {
        let Some(base) = &config.base_url else {
            return Ok(None);
        };
        let mut openai = OpenAIConfig::new().with_api_base(base.as_str().trim_end_matches('/'));
        // Local servers need no key; async-openai then sends an empty bearer, which they ignore.
        openai = openai.with_api_key(
            config
                .api_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned())
                .unwrap_or_default(),
        );
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .timeout(config.timeout)
            .build()?;
        let service = OpenAIRetryLayer::new(config.max_retries as usize).layer(ReqwestService::new(http.clone()));
        let client = Client::build(http, openai).with_http_service(service);
        Ok(Some(Self {
            client,
            model: config.model.clone(),
            max_tokens: config.max_tokens,
            timeout: config.timeout,
        }))
    }

    /// The model name (for the report's `source`).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Sends `prompt` and returns the completion's text.
    pub async fn complete(&self, prompt: &Prompt) -> Result<String, ProviderError> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.request(prompt)).await;
        let took = started.elapsed();
        let result = match result {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout(self.timeout)),
        };
        match &result {
            Ok(_) => telemetry::provider_call("ok", took),
            Err(e) => {
                telemetry::provider_call(
                    if matches!(e, ProviderError::Timeout(_)) {
                        "timeout"
                    } else {
                        "error"
                    },
                    took,
                );
                telemetry::provider_failed(e.reason());
            }
        }
        result
    }

    async fn request(&self, prompt: &Prompt) -> Result<String, ProviderError> {
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.model.clone())
            .messages(vec![
                ChatCompletionRequestSystemMessage::from(prompt.system.as_str()).into(),
                ChatCompletionRequestUserMessage::from(prompt.user.as_str()).into(),
            ])
            .response_format(ResponseFormat::JsonObject)
            .max_completion_tokens(self.max_tokens)
            .temperature(0.2)
            .n(1)
            .build()
            .map_err(|e| ProviderError::Request(e.to_string()))?;
        let response = self.client.chat().create(request).await.map_err(|e| match e {
            OpenAIError::Reqwest(e) if e.is_timeout() => ProviderError::Timeout(self.timeout),
            OpenAIError::Reqwest(e) => ProviderError::Http(e.to_string()),
            OpenAIError::ApiError(e) => ProviderError::Api(e.to_string()),
            OpenAIError::JSONDeserialize(e, _) => ProviderError::Malformed(e.to_string()),
            other => ProviderError::Http(other.to_string()),
        })?;
        response
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or(ProviderError::Empty)
    }
}
