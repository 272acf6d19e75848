//! Incidents held while a dependency is down: their events and reports are not sent; the
//! released `opened` event is, once, with the report written meanwhile.

use std::time::Duration;

use common::messages::{CausedBy, IncidentEvent};
use uuid::Uuid;

use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(20);

/// `event` held for (or, with `released`, released from) the incident `cause` of "Database".
fn caused(mut event: IncidentEvent, cause: &Outage, released: bool) -> IncidentEvent {
    event.caused_by = Some(CausedBy {
        incident_id: cause.incident,
        target_id: cause.target,
        target_name: "Database".into(),
        held: !released,
        released_at: released.then(now),
    });
    event
}

/// Sets the incident's notification state as the engine does.
async fn notify_state(pool: &sqlx::PgPool, incident: Uuid, state: &str, cause: Uuid) {
    sqlx::query("update incidents set notify_state = $2, caused_by = $3 where id = $1")
        .bind(incident)
        .bind(state)
        .bind(cause)
        .execute(pool)
        .await
        .unwrap();
}

/// Stores the incident's `opened` report as the llm-service does.
async fn store_report(pool: &sqlx::PgPool, incident: Uuid, summary: &str) {
    sqlx::query(
        "insert into incident_reports (id, incident_id, event_kind, language, source, report)
         values ($1, $2, 'opened', 'en', 'rules', $3)",
    )
    .bind(Uuid::new_v4())
    .bind(incident)
    .bind(serde_json::to_value(report(incident, summary)).unwrap())
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_held_incident_sends_nothing_and_its_release_sends_the_alert_and_report_once() {
    // Arrange: the database is down (its owner was told); the API went down after it.
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    telegram_chat(&pool, owner, 5001).await;
    let database = outage(&pool, owner, "Database").await;
    let api = outage(&pool, owner, "Api").await;
    notify_state(&pool, api.incident, "held", database.incident).await;
    env.start();
    env.publish_until(database.event.clone(), 5001, 1, "the database's alert")
        .await;

    // Act: the API's held opened event and its report, while the database is down.
    env.publish_event(caused(api.event.clone(), &database, false)).await;
    env.publish_report(report(api.incident, "The API cannot reach its database."))
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 2).await;
    wait_acked(REPORTS_NOTIFY_QUEUE, 1).await;

    // Assert: nothing about the API.
    assert_eq!(env.tg.sent_to(5001).len(), 1, "only the database's alert");
    assert!(
        log_rows(&pool, api.incident).await.is_empty(),
        "nothing logged for the API"
    );

    // Act: the database recovers while the API stays down; the engine releases it (the
    // report was stored meanwhile), and the released event is delivered twice.
    store_report(&pool, api.incident, "The API cannot reach its database.").await;
    notify_state(&pool, api.incident, "released", database.incident).await;
    let released = caused(api.event.clone(), &database, true);
    env.publish_until(released.clone(), 5001, 2, "the API's alert").await;
    env.tg
        .wait_for("the report under it", WAIT, |c| {
            c.iter().any(|c| c.method == "editMessageText")
        })
        .await;
    env.publish_event(released).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 4).await;

    // Assert: one alert for the API, saying its dependency recovered, and its report.
    let sent = env.tg.sent_to(5001);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let alert = sent[1].text();
    assert!(alert.contains("Api"), "{alert}");
    assert!(
        alert.contains("Database recovered; this target is still down"),
        "{alert}"
    );
    let edit = env.tg.calls_of("editMessageText");
    assert_eq!(edit.len(), 1);
    assert!(edit[0].text().contains("The API cannot reach its database."));
    let kinds: Vec<String> = log_rows(&pool, api.incident).await.into_iter().map(|r| r.1).collect();
    assert_eq!(kinds, ["opened", "report:opened"]);
    env.stop().await;
}

#[tokio::test]
async fn an_incident_resolved_while_held_is_never_notified() {
    // Arrange
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    telegram_chat(&pool, owner, 5101).await;
    let database = outage(&pool, owner, "Database").await;
    let api = outage(&pool, owner, "Api").await;
    notify_state(&pool, api.incident, "silent", database.incident).await;
    env.start();

    // Act: the API's opened and resolved events, both held, then another alert.
    env.publish_event(caused(api.event.clone(), &database, false)).await;
    let resolution = resolved(api.event.clone(), chrono::Duration::seconds(90));
    env.publish_event(caused(resolution, &database, false)).await;
    env.publish_until(database.event.clone(), 5101, 1, "the database's alert")
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 3).await;

    // Assert
    let sent = env.tg.sent_to(5101);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].text().contains("Database"));
    assert!(log_rows(&pool, api.incident).await.is_empty());
    env.stop().await;
}
