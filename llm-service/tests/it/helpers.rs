//! Shared helpers: fresh vhost and database, the service in-process, rows the incident
//! engine would write, a fake OpenAI-compatible provider (wiremock).

use std::time::Duration;

use bus::testing::TestBroker;
use common::messages::{IncidentEvent, IncidentReport};
use common::testing::{RunningService, TestPg};
use llm_service::Config;
use serde_json::json;
use uuid::Uuid;

/// Fresh RabbitMQ vhost and PostgreSQL database.
pub struct TestEnv {
    pub broker: TestBroker,
    pub pg: TestPg,
}

impl TestEnv {
    pub async fn new() -> Self {
        let (broker, pg) = tokio::join!(TestBroker::new(), TestPg::new());
        Self { broker, pg }
    }

    /// The service's config for these servers (rules only, short retries).
    pub fn config(&self) -> Config {
        let mut config = Config::new(self.broker.config.clone(), self.pg.config.clone());
        config.consumer.max_retry_delay = Duration::from_millis(500);
        config.consumer.concurrency = 1;
        config
    }

    /// Inserts the owner (with `language`), the target and the incident of `event`.
    pub async fn insert_incident(&self, event: &IncidentEvent, language: &str) {
        let target = event.target.as_ref().expect("event with a target");
        sqlx::query(
            "insert into users (id, email, password_hash, language) values ($1, $2, 'x', $3) on conflict do nothing",
        )
        .bind(target.owner_id)
        .bind(format!("{}@example.com", target.owner_id.simple()))
        .bind(language)
        .execute(&self.pg.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into targets (id, owner_id, name, kind, spec, interval_seconds)
             values ($1, $2, $3, 'http', $4, 60) on conflict do nothing",
        )
        .bind(target.id)
        .bind(target.owner_id)
        .bind(&target.name)
        .bind(json!({"kind": "http", "url": target.address}))
        .execute(&self.pg.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into incidents (id, target_id, owner_id, opened_at, regions)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(event.incident_id)
        .bind(target.id)
        .bind(target.owner_id)
        .bind(event.started_at)
        .bind(&event.regions)
        .execute(&self.pg.pool)
        .await
        .unwrap();
    }

    /// The stored reports of `incident`.
    pub async fn stored_reports(&self, incident: Uuid) -> Vec<(Uuid, String, IncidentReport)> {
        let rows: Vec<(Uuid, String, sqlx::types::Json<IncidentReport>)> =
            sqlx::query_as("select id, event_kind, report from incident_reports where incident_id = $1")
                .bind(incident)
                .fetch_all(&self.pg.pool)
                .await
                .unwrap();
        rows.into_iter().map(|(id, k, r)| (id, k, r.0)).collect()
    }
}

/// Starts the service in-process.
pub async fn spawn_service(config: Config) -> RunningService {
    RunningService::spawn(|shutdown, on_bound| llm_service::run_with(config, shutdown, on_bound)).await
}

/// An OpenAI chat completion whose message content is `content`.
pub use common::testing::completion;

/// A good, grounded answer about the sample 503 incident, in `lang`.
pub fn good_answer(event: &IncidentEvent, lang: &str) -> String {
    let id = event.evidence.results[0].result_id.to_string();
    let (summary, cause, impact, action) = match lang {
        "ru" => (
            "Сервис «Shop health» недоступен: сервер отвечает HTTP 503 Service Unavailable.",
            "Приложение за балансировщиком перегружено: ответы замедлились до 812 мс.",
            "Посетители https://shop.example.com/health видят страницу ошибки.",
            "Проверьте серверы приложения и их журналы.",
        ),
        _ => (
            "Shop health is down: the server answers HTTP 503 Service Unavailable.",
            "The application behind the load balancer is overloaded: responses slowed to 812 ms.",
            "Visitors of https://shop.example.com/health get an error page.",
            "Check the application servers and their logs.",
        ),
    };
    json!({
        "summary": summary,
        "probable_cause": cause,
        "impact": impact,
        "recommended_actions": [action],
        "claims": [{"text": summary, "result_ids": [id]}],
    })
    .to_string()
}

/// The LLM config pointing at a fake provider.
pub fn llm_config(base: &str, timeout: Duration) -> llm_service::LlmConfig {
    llm_service::LlmConfig {
        base_url: Some(format!("{base}/v1").parse().unwrap()),
        model: "test-model".into(),
        api_key: Some("sk-test".to_owned().into()),
        timeout,
        max_tokens: 500,
        max_retries: 2,
    }
}

/// A sample's value from the service's `/metrics` page, by its name with labels as rendered
/// (`name{label="value"}`); `None` before it is recorded.
pub async fn metric(service: &RunningService, sample: &str) -> Option<f64> {
    common::testing::sample(&service.metrics().await, sample)
}
