//! The service end to end: an incident event on the real broker becomes exactly one stored
//! and published report, also when the event is delivered twice or arrives before its
//! incident row.

use std::time::Duration;

use bus::telemetry::{CONSUMED, HANDLER_RETRIES, PUBLISHED};
use common::messages::{
    Envelope, INCIDENTS_EXCHANGE, INCIDENTS_LLM_QUEUE, IncidentEventKind, IncidentReport, Message, REPORTS_NOTIFY_QUEUE,
};
use common::samples;
use common::testing::RunningService;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestEnv, completion, good_answer, llm_config, metric, spawn_service};

const WAIT: Duration = Duration::from_secs(20);

/// Waits until `incident` has `n` stored reports, and returns them.
async fn wait_for_reports(env: &TestEnv, incident: uuid::Uuid, n: usize) -> Vec<(uuid::Uuid, String, IncidentReport)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reports = env.stored_reports(incident).await;
        if reports.len() >= n || tokio::time::Instant::now() > deadline {
            return reports;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the service's metric `sample` (name and labels) reaches `at_least`.
async fn wait_for_metric(service: &RunningService, sample: &str, at_least: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = metric(service, sample).await;
        if now.is_some_and(|v| v >= at_least) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sample} is {now:?}, waiting for {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_event_delivered_twice_yields_one_stored_and_one_published_report() {
    // Arrange
    let env = TestEnv::new().await;
    let event = samples::incident_event();
    env.insert_incident(&event, "ru").await;
    let service = spawn_service(env.config()).await;
    let envelope = Envelope::new(event.clone());

    // Act: the same envelope twice, as a redelivery would bring it.
    env.broker.publish(&envelope).await;
    let first = env
        .broker
        .next_message::<IncidentReport>(REPORTS_NOTIFY_QUEUE, WAIT)
        .await
        .expect("a report is published");
    env.broker.publish(&envelope).await;
    // Once the service acked the redelivery, whatever it published for it is confirmed.
    let acked = format!("{CONSUMED}{{queue=\"{INCIDENTS_LLM_QUEUE}\",result=\"ack\"}}");
    wait_for_metric(&service, &acked, 2.0).await;
    let reports_published = format!("{PUBLISHED}{{kind=\"{}\"}}", IncidentReport::KIND);
    let published = metric(&service, &reports_published).await;

    // Assert
    assert_eq!(first.payload.incident_id, event.incident_id);
    assert_eq!(first.payload.event_kind, IncidentEventKind::Opened);
    assert_eq!(first.payload.source, "rules", "no provider configured: the rule writer");
    assert_eq!(first.payload.language, "ru", "the owner's language");
    assert_eq!(
        first.correlation_id, envelope.correlation_id,
        "the report follows its event"
    );
    assert_eq!(published, Some(1.0), "the redelivery publishes nothing");
    let stored = env.stored_reports(event.incident_id).await;
    assert_eq!(stored.len(), 1, "one stored report: {stored:?}");
    assert_eq!(stored[0].1, "opened");
    assert_eq!(
        stored[0].2.summary, first.payload.summary,
        "the stored report is the published one"
    );
    service.stop().await;
}

#[tokio::test]
async fn opened_and_resolved_each_get_their_own_report_from_the_llm() {
    // Arrange
    let env = TestEnv::new().await;
    let opened = samples::incident_event();
    env.insert_incident(&opened, "en").await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(&good_answer(&opened, "en"))))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let mut config = env.config();
    config.llm = llm_config(&server.uri(), Duration::from_secs(5));
    let service = spawn_service(config).await;
    let mut resolved = opened.clone();
    resolved.kind = IncidentEventKind::Resolved;

    // Act
    env.broker.publish(&Envelope::new(opened.clone())).await;
    env.broker.publish(&Envelope::new(resolved)).await;
    let reports = wait_for_reports(&env, opened.incident_id, 2).await;

    // Assert
    let mut kinds: Vec<_> = reports
        .iter()
        .map(|(_, kind, report)| (kind.clone(), report.source.clone()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("opened".to_owned(), "llm:test-model".to_owned()),
            ("resolved".to_owned(), "rules".to_owned()),
        ],
        "the opening from the LLM (answered once), the resolution from the rules"
    );
    assert_ne!(reports[0].0, reports[1].0, "distinct report ids");
    service.stop().await;
}

#[tokio::test]
async fn an_event_ahead_of_its_incident_row_is_stored_once_the_row_exists() {
    // Arrange
    let env = TestEnv::new().await;
    let event = samples::incident_event();
    let mut config = env.config();
    config.consumer.missing_incident_retries = 50;
    let service = spawn_service(config).await;

    // Act: the event first, the engine's row once the service has met the event without it
    // (its handler failed and is retrying).
    env.broker.publish(&Envelope::new(event.clone())).await;
    let retries = format!("{HANDLER_RETRIES}{{queue=\"{INCIDENTS_LLM_QUEUE}\"}}");
    wait_for_metric(&service, &retries, 1.0).await;
    env.insert_incident(&event, "en").await;
    let published = env
        .broker
        .next_message::<IncidentReport>(REPORTS_NOTIFY_QUEUE, WAIT)
        .await
        .expect("a report is published");

    // Assert
    let stored = wait_for_reports(&env, event.incident_id, 1).await;
    assert_eq!(stored.len(), 1, "stored once the row exists: {stored:?}");
    assert_eq!(stored[0].2.summary, published.payload.summary);
    service.stop().await;
}

#[tokio::test]
async fn a_malformed_event_goes_to_the_dead_letter_queue() {
    // Arrange
    let env = TestEnv::new().await;
    let service = spawn_service(env.config()).await;

    // Act
    env.broker
        .publish_raw(INCIDENTS_EXCHANGE, "incidents.opened", b"{\"not\": \"an event\"}")
        .await;

    // Assert
    let dead = env
        .broker
        .next_raw(common::messages::DEAD_LETTER_QUEUE, WAIT)
        .await
        .expect("the poison message is dead-lettered");
    assert_eq!(dead, b"{\"not\": \"an event\"}");
    service.stop().await;
}

#[tokio::test]
async fn a_group_members_report_names_the_shared_cause_and_the_members_and_becomes_the_groups() {
    // Arrange: the incident is the third member of a group incident on one address; the owner
    // reads Russian; the LLM is asked first and its prompt must carry the group.
    let env = TestEnv::new().await;
    let mut event = samples::incident_event();
    env.insert_incident(&event, "ru").await;
    let owner = event.target.as_ref().unwrap().owner_id;
    let group = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into incident_groups (id, owner_id, cause, summary, opened_at, members)
         values ($1, $2, 'ip:203.0.113.7:connect_refused', 'all resolve to 203.0.113.7', now(), 3)",
    )
    .bind(group)
    .bind(owner)
    .execute(&env.pg.pool)
    .await
    .unwrap();
    event.group = Some(common::messages::GroupRef {
        id: group,
        cause: "ip:203.0.113.7:connect_refused".into(),
        members: 3,
        open: 3,
        names: vec!["Shop health".into(), "Billing API".into(), "Docs".into()],
        resolved: false,
    });
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let mut config = env.config();
    config.llm = llm_config(&server.uri(), Duration::from_secs(5));
    let service = spawn_service(config).await;

    // Act
    env.broker.publish(&Envelope::new(event.clone())).await;
    let reports = wait_for_reports(&env, event.incident_id, 1).await;

    // Assert: the provider failed, so the rules wrote it, in Russian, naming the shared cause
    // and every member; the group keeps it as its report.
    let report = &reports[0].2;
    assert_eq!(report.source, "rules");
    assert!(
        report
            .probable_cause
            .contains("все разрешаются в 203.0.113.7 (connect_refused)")
            && report.probable_cause.contains("Недоступны сразу 3 ваши цели"),
        "{}",
        report.probable_cause
    );
    assert!(
        report.impact.contains("Shop health, Billing API, Docs"),
        "{}",
        report.impact
    );
    assert!(
        report.recommended_actions[0].contains("Сначала устраните общую причину"),
        "{:?}",
        report.recommended_actions
    );
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(!requests.is_empty(), "the LLM was asked first");
    let prompt = String::from_utf8_lossy(&requests[0].body).into_owned();
    assert!(
        prompt.contains("all resolve to 203.0.113.7 (connect_refused)") && prompt.contains("Billing API"),
        "the prompt carries the group's cause and members: {prompt}"
    );
    let stored: Option<sqlx::types::Json<IncidentReport>> =
        sqlx::query_scalar("select report from incident_groups where id = $1")
            .bind(group)
            .fetch_one(&env.pg.pool)
            .await
            .unwrap();
    let stored = stored.expect("the group has a report").0;
    assert_eq!(stored.incident_id, event.incident_id);
    assert_eq!(stored.probable_cause, report.probable_cause);
    service.stop().await;
}
