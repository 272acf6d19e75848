//! Alerts and follow-ups over Telegram, against the fake Bot API.

use std::time::Duration;

use sqlx::Row;

use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn an_alert_reaches_each_verified_channel_of_the_owner_once_even_when_the_event_is_redelivered() {
    // Arrange
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let other = user(&pool, "en").await;
    let Outage {
        target,
        incident,
        event,
    } = outage(&pool, owner, "Shop <b>&</b>").await;
    telegram_chat(&pool, owner, 1001).await;
    channel(&pool, owner, "telegram", "1002", false).await;
    telegram_chat(&pool, other, 1003).await;
    env.start();

    // Act: the same event twice, as after a redelivery.
    env.publish_until(event.clone(), 1001, 1, "the alert").await;
    env.publish_event(event).await;
    // A later event proves the duplicate was consumed before we count.
    let later = outage(&pool, owner, "Other").await;
    env.publish_until(later.event, 1001, 2, "the second alert").await;

    // Assert
    let sent = env.tg.sent_to(1001);
    let ours: Vec<_> = sent.iter().filter(|c| c.text().contains("Shop")).collect();
    assert_eq!(ours.len(), 1, "exactly one alert: {sent:#?}");
    let text = ours[0].text();
    assert!(
        text.contains("Shop &lt;b&gt;&amp;&lt;/b&gt;"),
        "the name is escaped: {text}"
    );
    assert!(!text.contains("<b>&</b>"));
    assert!(text.contains("HTTP 503"));
    assert!(text.contains(&format!("{PUBLIC_URL}/incidents/{incident}")));
    assert_eq!(ours[0].body["parse_mode"], "HTML");
    let keyboard = ours[0].body["reply_markup"]["inline_keyboard"].to_string();
    assert!(keyboard.contains(&format!("ack:{incident}")), "{keyboard}");
    assert!(keyboard.contains(&format!("mute:{target}")), "{keyboard}");
    assert!(
        keyboard.contains(&format!("{PUBLIC_URL}/incidents/{incident}")),
        "{keyboard}"
    );
    assert!(env.tg.sent_to(1002).is_empty(), "unverified channels get nothing");
    assert!(env.tg.sent_to(1003).is_empty(), "other users get nothing");
    let rows = log_rows(&pool, incident).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, "sent");
    assert!(rows[0].3.is_some(), "the message id is logged");
    env.stop().await;
}

#[tokio::test]
async fn the_report_edits_the_alert_message() {
    // Arrange
    let (env, pool, Outage { incident, .. }) = TestEnv::alerted("en", 2001).await;
    let alert_id: String = sqlx::query_scalar("select external_id from notification_log where incident_id = $1")
        .bind(incident)
        .fetch_one(&pool)
        .await
        .unwrap();

    // Act
    env.publish_report(report(incident, "The shop answers 503 <script>."))
        .await;
    let calls = env
        .tg
        .wait_for("the edit", WAIT, |c| c.iter().any(|c| c.method == "editMessageText"))
        .await;

    // Assert
    let edit = calls.iter().find(|c| c.method == "editMessageText").unwrap();
    assert_eq!(edit.body["message_id"].to_string(), alert_id);
    assert_eq!(edit.body["chat_id"], 2001);
    let text = edit.text();
    assert!(text.contains("Shop"), "the alert stays: {text}");
    assert!(
        text.contains("The shop answers 503 &lt;script&gt;."),
        "the report is added: {text}"
    );
    assert!(edit.body["reply_markup"].to_string().contains("ack:"), "buttons stay");
    assert_eq!(env.tg.sent_to(2001).len(), 1, "no new message");
    env.stop().await;
}

#[tokio::test]
async fn a_report_that_overtakes_its_alert_waits_for_it_and_then_edits_it() {
    // Arrange
    let (mut env, _, Outage { incident, event, .. }) = TestEnv::with_shop_incident("en", 2101).await;
    env.start();

    // Act: the report first; the event once the report has been tried and is held waiting.
    env.publish_report(report(incident, "Early report.")).await;
    wait_retried(REPORTS_NOTIFY_QUEUE).await;
    env.publish_event(event).await;
    let calls = env
        .tg
        .wait_for("the edit", WAIT, |c| c.iter().any(|c| c.method == "editMessageText"))
        .await;

    // Assert
    let edit = calls.iter().find(|c| c.method == "editMessageText").unwrap();
    assert!(edit.text().contains("Early report."));
    assert_eq!(env.tg.sent_to(2101).len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_report_too_long_for_one_message_answers_the_alert_in_parts_under_4096_characters() {
    // Arrange
    let (env, _, Outage { incident, .. }) = TestEnv::alerted("en", 2201).await;

    // Act
    env.publish_report(report(incident, &"Long & winding. ".repeat(400)))
        .await;
    env.tg
        .wait_for("the report parts", WAIT, |_| env.tg.sent_to(2201).len() >= 3)
        .await;

    // Assert
    let sent = env.tg.sent_to(2201);
    assert_eq!(sent.len(), 3, "alert + two parts: {}", sent.len());
    for part in &sent[1..] {
        assert!(part.text().chars().count() <= 4096);
        assert!(
            part.body["reply_parameters"]["message_id"].is_number(),
            "answers the alert"
        );
    }
    assert!(env.tg.calls_of("editMessageText").is_empty());
    env.stop().await;
}

#[tokio::test]
async fn the_resolution_answers_the_alert_with_the_downtime() {
    // Arrange
    let (env, pool, Outage { incident, event, .. }) = TestEnv::alerted("ru", 2301).await;

    // Act
    let resolution = resolved(event, chrono::Duration::seconds(3725));
    env.publish_until(resolution, 2301, 2, "the resolution").await;

    // Assert
    let sent = env.tg.sent_to(2301);
    let text = sent[1].text();
    assert!(text.contains("ВОССТАНОВЛЕН"), "in the user's language: {text}");
    assert!(text.contains("1 ч 2 мин"), "{text}");
    assert!(sent[1].body["reply_parameters"]["message_id"].is_number());
    let kinds: Vec<String> = log_rows(&pool, incident).await.into_iter().map(|r| r.1).collect();
    assert_eq!(kinds, vec!["opened", "resolved"]);
    env.stop().await;
}

#[tokio::test]
async fn a_429_is_honoured_by_waiting_retry_after_before_sending_again() {
    // Arrange
    let (mut env, pool, Outage { incident, event, .. }) = TestEnv::with_shop_incident("en", 3001).await;
    env.tg.rate_limit_next(2, 1);
    env.start();

    // Act
    env.publish_until(event, 3001, 3, "three tries").await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 1).await;

    // Assert: two refusals, then one delivery, each retry after at least retry_after.
    let sent = env.tg.sent_to(3001);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(sent[1].at - sent[0].at >= Duration::from_secs(1));
    assert!(sent[2].at - sent[1].at >= Duration::from_secs(1));
    let rows = log_rows(&pool, incident).await;
    assert_eq!(rows[0].2, "sent");
    env.stop().await;
}

#[tokio::test]
async fn a_blocked_bot_disables_the_channel_and_says_why() {
    // Arrange
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let Outage { incident, event, .. } = outage(&pool, owner, "Shop").await;
    let blocked = telegram_chat(&pool, owner, 4001).await;
    telegram_chat(&pool, owner, 4002).await;
    env.tg.block(4001);
    env.start();

    // Act
    env.publish_until(event, 4002, 1, "the other chat's alert").await;
    let row = eventually("the channel disabled", WAIT, || async {
        let row = sqlx::query("select disabled_at, disabled_reason from notification_channels where id = $1")
            .bind(blocked)
            .fetch_one(&pool)
            .await
            .unwrap();
        row.get::<Option<chrono::DateTime<chrono::Utc>>, _>("disabled_at")
            .map(|_| row.get::<Option<String>, _>("disabled_reason").unwrap_or_default())
    })
    .await;

    // Assert
    assert!(row.contains("blocked"), "the dashboard says why: {row}");
    // The channel is disabled before its log row is marked failed: wait for the row.
    let failed = eventually("the failed delivery logged", WAIT, || async {
        log_rows(&pool, incident)
            .await
            .into_iter()
            .find(|r| r.0 == blocked && r.2 != "sending")
    })
    .await;
    assert_eq!(failed.2, "failed");
    // A second incident does not try the disabled chat again.
    let second = outage(&pool, owner, "Second").await;
    env.publish_until(second.event, 4002, 2, "the second alert").await;
    assert_eq!(env.tg.sent_to(4001).len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn routing_per_target_and_mutes_narrow_who_is_alerted() {
    // Arrange
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let routed = outage(&pool, owner, "Routed").await;
    let a = telegram_chat(&pool, owner, 5001).await;
    let b = telegram_chat(&pool, owner, 5002).await;
    sqlx::query("insert into target_channels (target_id, channel_id) values ($1, $2)")
        .bind(routed.target)
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    let muted = outage(&pool, owner, "Muted").await;
    sqlx::query("insert into notification_mutes (channel_id, target_id, muted_until) values ($1, $2, now() + interval '1 hour')")
        .bind(b)
        .bind(muted.target)
        .execute(&pool)
        .await
        .unwrap();
    env.start();

    // Act
    env.publish_event(routed.event).await;
    env.publish_until(muted.event, 5001, 2, "the alerts").await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 2).await;

    // Assert
    let b_texts: Vec<String> = env.tg.sent_to(5002).iter().map(|c| c.text().to_owned()).collect();
    assert!(b_texts.is_empty(), "chat b is neither routed nor unmuted: {b_texts:?}");
    env.stop().await;
}
