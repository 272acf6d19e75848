//! The mass-outage digest through the notifier: an owner's incidents opening within the window
//! reach each channel as one message naming them all, their resolutions as one more, and a
//! lone incident as its usual alert; nothing is sent twice.

use std::time::Duration;

use channels::Kind;
use channels::testing::{FakeService, texts};

use crate::helpers::*;

const CHAT: i64 = 4_400_001;

fn config(env: &TestEnv, window: Duration) -> notifier::Config {
    let mut c = env.config();
    c.guard.allowed_ranges = vec!["127.0.0.0/8".parse().unwrap()];
    c.delivery.channel_interval = Duration::from_millis(20);
    c.delivery.digest_window = window;
    c
}

#[tokio::test]
async fn twenty_incidents_at_once_are_one_message_per_channel_and_one_resolution() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    telegram_chat(&pool, owner, CHAT).await;
    let slack = FakeService::start(Kind::Mattermost).await;
    let (settings, secrets) = (channels::testing::shape(Kind::Mattermost).sample)(&slack.url(""));
    // Unsealed secrets are refused by a notifier without the key: give it one.
    let key = common::sealed::SecretKey::from_config(Some(&secrecy::SecretString::from(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [3u8; 32],
    ))))
    .unwrap()
    .unwrap();
    sqlx::query(
        "insert into notification_channels (id, user_id, kind, address, verified_at, settings, secrets)
         values (gen_random_uuid(), $1, 'mattermost', 'Mattermost', now(), $2, $3)",
    )
    .bind(owner)
    .bind(&settings)
    .bind(key.seal(&secrets))
    .execute(&pool)
    .await
    .unwrap();
    let mut outages = Vec::new();
    for n in 0..20 {
        outages.push(outage(&pool, owner, &format!("api-{n:02}")).await);
    }
    let mut c = config(&env, Duration::from_secs(2));
    c.secret_key = Some(secrecy::SecretString::from(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [3u8; 32],
    )));
    env.start_with(c);
    for o in &outages {
        env.publish_event(o.event.clone()).await;
    }
    env.tg
        .wait_for("the digest", Duration::from_secs(20), |_| {
            !env.tg.sent_to(CHAT).is_empty()
        })
        .await;
    let got = slack.wait_for(1, Duration::from_secs(20)).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 20).await;
    // Every incident logged as sent to both channels: the flush is over, nothing more follows.
    eventually(
        "every incident logged as sent to both channels",
        Duration::from_secs(10),
        || {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(
                    "select count(*) from notification_log where kind = 'opened' and status = 'sent'",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                (n == 40).then_some(())
            }
        },
    )
    .await;
    let telegram = env.tg.sent_to(CHAT);
    assert_eq!(telegram.len(), 1, "one Telegram message for twenty incidents");
    assert_eq!(got.len(), 1, "one Mattermost message for twenty incidents");
    let words = texts(&got[0]);
    for n in 0..20 {
        let name = format!("api-{n:02}");
        assert!(telegram[0].text().contains(&name), "Telegram digest names {name}");
        assert!(words.contains(&name), "Mattermost digest names {name}: {words}");
    }
    assert!(telegram[0].text().contains("20 incidents"), "{}", telegram[0].text());
    // A redelivered event of a digested incident sends nothing.
    env.publish_event(outages[3].event.clone()).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 21).await;
    // A digested incident's report stays in the dashboard: no message per incident.
    env.publish_report(report(outages[5].incident, "api-05 answers 503."))
        .await;
    wait_acked(REPORTS_NOTIFY_QUEUE, 1).await;
    assert_eq!(env.tg.sent_to(CHAT).len(), 1, "no report message after a digest");
    assert_eq!(slack.received().len(), 1, "no report message after a digest");
    // Resolutions: one more message each.
    for o in &outages {
        env.publish_event(resolved(o.event.clone(), chrono::Duration::minutes(3)))
            .await;
    }
    env.tg
        .wait_for("the resolution digest", Duration::from_secs(20), |_| {
            env.tg.sent_to(CHAT).len() >= 2
        })
        .await;
    let got = slack.wait_for(2, Duration::from_secs(20)).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 41).await;
    eventually("every resolution logged", Duration::from_secs(10), || {
        let pool = pool.clone();
        async move {
            let n: i64 =
                sqlx::query_scalar("select count(*) from notification_log where kind = 'resolved' and status = 'sent'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            (n == 40).then_some(())
        }
    })
    .await;
    let telegram = env.tg.sent_to(CHAT);
    assert_eq!(
        telegram.len(),
        2,
        "the alert digest and the resolution digest, nothing else"
    );
    assert!(
        telegram[1].text().contains("20 incidents resolved"),
        "{}",
        telegram[1].text()
    );
    assert_eq!(slack.received().len(), 2);
    assert!(texts(&got[1]).contains("20 incidents resolved"));
    env.stop().await;
}

#[tokio::test]
async fn a_lone_incident_gets_its_usual_alert_after_the_window() {
    let (mut env, pool, outage) = TestEnv::with_shop_incident("ru", CHAT).await;
    env.start_with(config(&env, Duration::from_secs(1)));
    let published = std::time::Instant::now();
    env.publish_until(outage.event.clone(), CHAT, 1, "the alert").await;
    assert!(
        published.elapsed() >= Duration::from_secs(1),
        "the alert waited for the window"
    );
    let text = env.tg.sent_to(CHAT)[0].text().to_owned();
    assert!(text.contains("Shop недоступен"), "{text}");
    let rows = log_rows(&pool, outage.incident).await;
    assert_eq!(rows.len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_digest_of_one_group_incident_names_the_shared_cause() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    telegram_chat(&pool, owner, CHAT).await;
    let mut outages = Vec::new();
    for n in 0..3 {
        outages.push(outage(&pool, owner, &format!("svc-{n}")).await);
    }
    // The engine grouped them: they all resolve to one refusing address.
    let group = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into incident_groups (id, owner_id, cause, summary, opened_at, members)
         values ($1, $2, 'ip:192.0.2.1:connect_refused', 'all resolve to 192.0.2.1', now(), 3)",
    )
    .bind(group)
    .bind(owner)
    .execute(&pool)
    .await
    .unwrap();
    let ids: Vec<uuid::Uuid> = outages.iter().map(|o| o.incident).collect();
    sqlx::query("update incidents set group_id = $1 where id = any($2)")
        .bind(group)
        .bind(&ids)
        .execute(&pool)
        .await
        .unwrap();
    env.start_with(config(&env, Duration::from_secs(2)));
    for o in &outages {
        env.publish_event(o.event.clone()).await;
    }
    env.tg
        .wait_for("the digest", Duration::from_secs(20), |_| {
            !env.tg.sent_to(CHAT).is_empty()
        })
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 3).await;
    let sent = env.tg.sent_to(CHAT);
    assert_eq!(sent.len(), 1, "one message for the group");
    let text = sent[0].text();
    assert!(
        text.contains("3 targets are down: all resolve to 192.0.2.1 (connect_refused)"),
        "{text}"
    );
    for n in 0..3 {
        assert!(text.contains(&format!("svc-{n}")), "{text}");
    }

    // A fourth member joins later: one update naming the group, not an alert of its own.
    let late = outage(&pool, owner, "svc-3").await;
    sqlx::query("update incidents set group_id = $1 where id = $2")
        .bind(group)
        .bind(late.incident)
        .execute(&pool)
        .await
        .unwrap();
    env.publish_event(late.event.clone()).await;
    env.tg
        .wait_for("the update", Duration::from_secs(20), |_| {
            env.tg.sent_to(CHAT).len() >= 2
        })
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 4).await;
    let sent = env.tg.sent_to(CHAT);
    assert_eq!(sent.len(), 2, "one update for the joining member");
    let text = sent[1].text();
    assert!(
        text.contains("1 more target joined the outage: all resolve to 192.0.2.1 (connect_refused)")
            && text.contains("svc-3"),
        "{text}"
    );
    env.stop().await;
}
