//! The writer: asks the LLM when one is configured, validates its answer, and falls back to
//! the rule report whenever anything is off. It always returns a report.

use chrono::Utc;
use common::messages::{IncidentEvent, IncidentReport};
use tracing::{info, warn};

use crate::language::Language;
use crate::provider::Provider;
use crate::{prompt, rules, telemetry, validate};

/// Writes reports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Writer {
    provider: Option<Provider>,
}

impl Writer {
    /// A writer over `provider` (`None`: rules only).
    pub fn new(provider: Option<Provider>) -> Self {
        Self { provider }
    }

    /// The report of `event` in `lang`: the LLM's when it answers in time with a valid,
    /// grounded report; the rules' otherwise.
    pub async fn write(&self, event: &IncidentEvent, lang: Language) -> IncidentReport {
        let Some(provider) = &self.provider else {
            telemetry::fallback("disabled");
            return rules::write(event, lang, Utc::now());
        };
        let prompt = prompt::build(event, lang);
        let answer = match provider.complete(&prompt).await {
            Ok(answer) => answer,
            Err(error) => {
                warn!(%error, incident_id = %event.incident_id, "LLM provider failed; using the rule report");
                telemetry::fallback(match error {
                    crate::provider::ProviderError::Timeout(_) => "timeout",
                    crate::provider::ProviderError::Malformed(_) => "malformed",
                    _ => "provider_error",
                });
                return rules::write(event, lang, Utc::now());
            }
        };
        match validate::check(&answer, event, lang, provider.model(), Utc::now()) {
            Ok(report) => report,
            Err(rejection) => {
                info!(%rejection, incident_id = %event.incident_id, "LLM report rejected; using the rule report");
                telemetry::fallback(rejection.reason());
                rules::write(event, lang, Utc::now())
            }
        }
    }
}
