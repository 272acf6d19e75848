//! Channels of the HTTP kinds (webhook, Slack, Discord, PagerDuty…) through the whole
//! notifier: events and reports from the broker, routing rules, the notification log, pacing
//! and `Retry-After`, retries, and channels disabled by their service. Each kind's service is
//! a loopback fake (`channels::testing`) that checks the documented shape of every request.

use std::time::Duration;

use base64::Engine;
use channels::testing::{FakeService, texts};
use channels::{Kind, Secrets};
use common::sealed::SecretKey;
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;

pub(crate) fn key_config() -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([9u8; 32]))
}

pub(crate) fn key() -> SecretKey {
    SecretKey::from_config(Some(&key_config())).unwrap().unwrap()
}

/// The notifier's config for `env`: the test key, loopback reachable, fast pacing.
pub(crate) fn config(env: &TestEnv) -> notifier::Config {
    let mut c = env.config();
    c.secret_key = Some(key_config());
    c.guard.allowed_ranges = vec!["127.0.0.0/8".parse().unwrap()];
    c.delivery.channel_interval = Duration::from_millis(20);
    c
}

/// A channel of `kind` for `user`, sending to `fake` (settings and secrets from the kind's
/// sample), with routing rules `routing`.
pub(crate) async fn http_channel(pool: &PgPool, user: Uuid, fake: &FakeService, routing: serde_json::Value) -> Uuid {
    let kind = fake.kind();
    let (settings, secrets): (serde_json::Value, Secrets) = (channels::testing::shape(kind).sample)(&fake.url(""));
    let valid = channels::validate(kind, &settings, &secrets).unwrap();
    let id = Uuid::new_v4();
    let names: Vec<String> = secrets.0.keys().cloned().collect();
    sqlx::query(
        "insert into notification_channels (id, user_id, kind, address, verified_at, settings, secrets, secret_names, routing)
         values ($1, $2, $3, $4, now(), $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(user)
    .bind(kind.as_str())
    .bind(&valid.summary)
    .bind(&valid.settings)
    .bind(key().seal(&secrets))
    .bind(&names)
    .bind(routing)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn channel_state(pool: &PgPool, channel: Uuid) -> (Option<String>, i32) {
    sqlx::query_as("select disabled_reason, permanent_failures from notification_channels where id = $1")
        .bind(channel)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_kind_says_opened_report_and_resolved_in_the_users_language_exactly_once() {
    let mut env = TestEnv::new().await;
    let pool = env.pool().clone();
    let mut cases = Vec::new();
    for language in ["en", "ru"] {
        let user = user(&pool, language).await;
        let outage = outage(&pool, user, "Shop").await;
        for &kind in Kind::HTTP {
            let fake = FakeService::start(kind).await;
            http_channel(&pool, user, &fake, serde_json::json!({})).await;
            cases.push((language, outage.incident, fake));
        }
        env.publish_event(outage.event.clone()).await;
        let mut report = report(outage.incident, "Shop answers 503.");
        report.language = language.into();
        env.publish_report(report).await;
        env.publish_event(resolved(outage.event.clone(), chrono::Duration::minutes(4)))
            .await;
        // Redelivered: the log keeps each message to one send.
        env.publish_event(outage.event.clone()).await;
    }
    env.start_with(config(&env));
    for (language, _, fake) in &cases {
        let got = fake.wait_for(3, Duration::from_secs(30)).await;
        let kind = fake.kind();
        for r in &got {
            assert!(r.problems.is_empty(), "{kind} {language}: {:?}", r.problems);
        }
        let words: Vec<String> = got.iter().map(texts).collect();
        let (down, report_word, up) = match *language {
            "en" => ("Shop is down", "Report on Shop", "Shop is back up"),
            _ => ("Shop недоступен", "Отчёт: Shop", "Shop снова работает"),
        };
        assert!(
            words.iter().any(|w| w.contains(down)),
            "{kind} {language}: no alert in {words:?}"
        );
        assert!(
            words.iter().any(|w| w.contains(report_word)),
            "{kind} {language}: no report in {words:?}"
        );
        assert!(
            words.iter().any(|w| w.contains(up)),
            "{kind} {language}: no resolution in {words:?}"
        );
    }
    // Every delivery of both queues handled: then nothing more arrived anywhere.
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 6).await;
    wait_acked(REPORTS_NOTIFY_QUEUE, 2).await;
    for (language, _, fake) in &cases {
        assert_eq!(
            fake.received().len(),
            3,
            "{} {language}: exactly one of each message",
            fake.kind()
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_server_errors_are_retried_without_duplicates() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let slack = FakeService::start(Kind::Slack).await;
    let discord = FakeService::start(Kind::Discord).await;
    http_channel(&pool, owner, &slack, serde_json::json!({})).await;
    http_channel(&pool, owner, &discord, serde_json::json!({})).await;
    slack.respond_next(429, &[("Retry-After", "2")], "rate_limited");
    discord.respond_next(503, &[], "upstream down");
    discord.respond_next(502, &[], "bad gateway");
    let outage = outage(&pool, owner, "Shop").await;
    env.start_with(config(&env));
    env.publish_event(outage.event.clone()).await;
    let got = slack.wait_for(2, Duration::from_secs(20)).await;
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "the retry came {waited:?} after the 429"
    );
    assert_eq!((got[0].status, got[1].status), (429, 200));
    let got = discord.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 502, 200]);
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 1).await;
    assert_eq!(slack.received().len(), 2, "one 429, one delivery");
    assert_eq!(discord.received().len(), 3, "two failures, one delivery");
    let rows = log_rows(&pool, outage.incident).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|(_, kind, status, _)| kind == "opened" && status == "sent"),
        "{rows:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_service_that_refuses_disables_the_channel_and_says_why() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    // Gone at once: a 404 from the webhook.
    let gone = FakeService::start(Kind::Slack).await;
    let gone_id = http_channel(&pool, owner, &gone, serde_json::json!({})).await;
    gone.respond_next(404, &[], "no_service");
    // Refusing message after message: 400 three times in a row.
    let refusing = FakeService::start(Kind::Mattermost).await;
    let refusing_id = http_channel(&pool, owner, &refusing, serde_json::json!({})).await;
    for _ in 0..3 {
        refusing.respond_next(400, &[], "Unable to parse incoming data");
    }
    env.start_with(config(&env));
    // One after the other: once a channel is disabled, nothing more goes to it.
    for (n, name) in ["A", "B", "C"].into_iter().enumerate() {
        let outage = outage(&pool, owner, name).await;
        env.publish_event(outage.event).await;
        wait_acked(INCIDENTS_NOTIFY_QUEUE, n as u64 + 1).await;
    }
    let (reason, _) = channel_state(&pool, gone_id).await;
    let reason = reason.expect("the channel answering 404 is disabled");
    assert!(reason.contains("slack") && reason.contains("404"), "{reason}");
    assert_eq!(gone.received().len(), 1, "nothing more is sent to a disabled channel");
    let (reason, failures) = channel_state(&pool, refusing_id).await;
    let reason = reason.expect("the channel refusing three in a row is disabled");
    assert!(
        reason.contains("3 messages in a row") && reason.contains("400"),
        "{reason}"
    );
    assert_eq!(failures, 3);
    assert_eq!(refusing.received().len(), 3);
    env.stop().await;
}

#[tokio::test]
async fn routing_rules_choose_what_each_channel_takes() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let everything = FakeService::start(Kind::Slack).await;
    let critical_only = FakeService::start(Kind::Slack).await;
    let prod_only = FakeService::start(Kind::Slack).await;
    http_channel(&pool, owner, &everything, serde_json::json!({})).await;
    http_channel(
        &pool,
        owner,
        &critical_only,
        serde_json::json!({"events": ["opened"], "min_severity": "critical"}),
    )
    .await;
    http_channel(&pool, owner, &prod_only, serde_json::json!({"tags_include": ["prod"]})).await;
    let outage = outage(&pool, owner, "Shop").await;
    let mut degraded = outage.event.clone();
    degraded.state = common::messages::TargetStatus::Degraded;
    env.start_with(config(&env));
    env.publish_event(degraded).await;
    env.publish_event(resolved(outage.event.clone(), chrono::Duration::minutes(2)))
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 2).await;
    assert_eq!(everything.received().len(), 2, "degraded and resolved");
    assert_eq!(
        critical_only.received().len(),
        0,
        "neither is down, nor opened-and-critical"
    );
    assert_eq!(prod_only.received().len(), 0, "the target has no tag prod");
    env.stop().await;
}

#[tokio::test]
async fn send_a_test_message_answers_the_backend_with_the_outcome() {
    let (mut env, pool, owner) = TestEnv::with_user("ru").await;
    let good = FakeService::start(Kind::Ntfy).await;
    let gone = FakeService::start(Kind::Gotify).await;
    let good_id = http_channel(&pool, owner, &good, serde_json::json!({})).await;
    let gone_id = http_channel(&pool, owner, &gone, serde_json::json!({})).await;
    gone.respond_next(401, &[], r#"{"error":"Unauthorized","errorCode":401}"#);
    env.start_with(config(&env));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let publisher = bus::Publisher::new(env.broker.broker("backend", shutdown.clone()), Duration::from_secs(5));
    let ask = |channel_id: Uuid, owner_id: Uuid| {
        common::messages::Envelope::new(common::messages::ChannelTest {
            channel_id,
            owner_id,
            language: "ru".into(),
        })
    };
    let answer = |envelope| {
        let publisher = publisher.clone();
        async move {
            bus::request::<_, common::messages::ChannelTestResult>(&publisher, &envelope, Duration::from_secs(20))
                .await
                .expect("the notifier answers")
                .payload
        }
    };
    let ok = answer(ask(good_id, owner)).await;
    assert!(ok.delivered, "{ok:?}");
    let got = good.received();
    assert_eq!(got.len(), 1);
    assert!(texts(&got[0]).contains("Тестовое сообщение"), "{}", texts(&got[0]));
    let refused = answer(ask(gone_id, owner)).await;
    assert!(!refused.delivered);
    assert!(
        refused.error.as_deref().is_some_and(|e| e.contains("401")),
        "{refused:?}"
    );
    // Another owner's channel is not found, and nothing is sent.
    let stranger = user(&pool, "en").await;
    let foreign = answer(ask(good_id, stranger)).await;
    assert!(!foreign.delivered && good.received().len() == 1, "{foreign:?}");
    shutdown.cancel();
    env.stop().await;
}

#[tokio::test]
async fn quiet_hours_hold_all_but_down_and_send_the_rest_when_they_end() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let fake = FakeService::start(Kind::Slack).await;
    let now = chrono::Utc::now();
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let routing = serde_json::json!({"quiet_hours": {
        "start": hhmm(now - chrono::Duration::hours(1)),
        "end": hhmm(now + chrono::Duration::hours(2)),
        "timezone": "UTC",
    }});
    let channel = http_channel(&pool, owner, &fake, routing).await;
    let down = outage(&pool, owner, "Down").await;
    let flaky = outage(&pool, owner, "Flaky").await;
    let mut degraded = flaky.event.clone();
    degraded.state = common::messages::TargetStatus::Degraded;
    env.start_with(config(&env));
    env.publish_event(down.event.clone()).await;
    env.publish_event(degraded).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 2).await;
    let got = fake.wait_for(1, Duration::from_secs(20)).await;
    assert!(texts(&got[0]).contains("Down is down"), "down goes through quiet hours");
    assert_eq!(fake.received().len(), 1, "the degraded alert is held");
    let held: Vec<(String,)> = sqlx::query_as("select kind from notification_held where channel_id = $1")
        .bind(channel)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(held, [("opened".to_owned(),)]);
    // The quiet hours end (their end moved to now): the held alert goes out, once.
    sqlx::query("update notification_held set due_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let got = fake.wait_for(2, Duration::from_secs(20)).await;
    assert!(texts(&got[1]).contains("Flaky is degraded"), "{}", texts(&got[1]));
    eventually("the held row is gone", Duration::from_secs(10), || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("select count(*) from notification_held")
                .fetch_one(&pool)
                .await
                .unwrap();
            (n == 0).then_some(())
        }
    })
    .await;
    assert_eq!(fake.received().len(), 2);
    env.stop().await;
}

#[tokio::test]
async fn a_report_after_the_resolution_does_not_re_trigger_pagerduty() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let outage = outage(&pool, owner, "Shop").await;
    let fake = FakeService::start(Kind::Pagerduty).await;
    http_channel(&pool, owner, &fake, serde_json::json!({})).await;
    env.start_with(config(&env));
    env.publish_event(outage.event.clone()).await;
    fake.wait_for(1, Duration::from_secs(20)).await;
    sqlx::query("update incidents set resolved_at = now() where id = $1")
        .bind(outage.incident)
        .execute(&pool)
        .await
        .unwrap();
    env.publish_event(resolved(outage.event.clone(), chrono::Duration::minutes(2)))
        .await;
    let got = fake.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got[1].json()["event_action"], "resolve");
    env.publish_report(report(outage.incident, "The shop answered 503."))
        .await;
    wait_acked(REPORTS_NOTIFY_QUEUE, 1).await;
    assert_eq!(fake.received().len(), 2, "no trigger after the resolve");
    env.stop().await;
}
