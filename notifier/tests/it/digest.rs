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
    // The twenty events are published at once (one connection each split them over two 2 s
    // windows in one loaded CI run).
    let mut c = config(&env, Duration::from_secs(2));
    c.secret_key = Some(secrecy::SecretString::from(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [3u8; 32],
    )));
    env.start_with(c);
    env.publish_events(openings(&outages)).await;
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
    env.publish_events(resolutions(&outages, chrono::Duration::minutes(3)))
        .await;
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
    env.publish_events(openings(&outages)).await;
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

    // Two members recover while two are still down: one update of the group.
    let mut all = outages;
    all.push(late);
    sqlx::query("update incidents set resolved_at = now() where id = any($1)")
        .bind(all[..2].iter().map(|o| o.incident).collect::<Vec<_>>())
        .execute(&pool)
        .await
        .unwrap();
    env.publish_events(resolutions(&all[..2], chrono::Duration::minutes(1)))
        .await;
    env.tg
        .wait_for("the recovery update", Duration::from_secs(20), |_| {
            env.tg.sent_to(CHAT).len() >= 3
        })
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 6).await;
    let sent = env.tg.sent_to(CHAT);
    assert_eq!(sent.len(), 3, "one update for the two recoveries");
    let text = sent[2].text();
    assert!(
        text.contains("2 targets recovered from the outage (all resolve to 192.0.2.1 (connect_refused)); 2 still down")
            && text.contains("svc-0")
            && text.contains("svc-1"),
        "{text}"
    );

    // The last two recover and the group resolves: one message says the outage is over, even
    // for a single member (not its own "resolved" alert).
    sqlx::query("update incidents set resolved_at = now() where id = any($1)")
        .bind(all[2..].iter().map(|o| o.incident).collect::<Vec<_>>())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("update incident_groups set resolved_at = now() where id = $1")
        .bind(group)
        .execute(&pool)
        .await
        .unwrap();
    env.publish_events(resolutions(&all[2..], chrono::Duration::minutes(1)))
        .await;
    env.tg
        .wait_for("the end of the outage", Duration::from_secs(20), |_| {
            env.tg.sent_to(CHAT).len() >= 4
        })
        .await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 8).await;
    let sent = env.tg.sent_to(CHAT);
    assert_eq!(sent.len(), 4, "one message for the end");
    let text = sent[3].text();
    assert!(
        text.contains("Outage over: the last 2 targets recovered (all resolve to 192.0.2.1 (connect_refused))"),
        "{text}"
    );
    env.stop().await;
}

/// The membership of one random group over a few digest windows: member `n` opens in window
/// `opens[n]` and recovers in window `closes[n]` (member 0 is open from the first window to
/// the last, so the group stays open until then).
#[derive(Debug, Clone)]
struct Schedule {
    opens: Vec<usize>,
    closes: Vec<usize>,
}

/// Windows a schedule spans.
const WINDOWS: usize = 5;

fn schedules() -> impl proptest::strategy::Strategy<Value = Schedule> {
    use proptest::prelude::*;
    proptest::collection::vec((0..WINDOWS - 2, 1..WINDOWS - 1), 1..6).prop_map(|spans| {
        let mut opens = vec![0];
        let mut closes = vec![WINDOWS - 1];
        for (open, length) in spans {
            opens.push(open);
            closes.push((open + length).min(WINDOWS - 1));
        }
        Schedule { opens, closes }
    })
}

/// What one channel heard of one group over the windows of `schedule`, checked window by
/// window: at most one message per kind of change in a window (the digest is the rate limit),
/// one first word of the outage, updates saying how many are still down, and one "over" last.
async fn one_group_over_windows(schedule: &Schedule) -> Result<(), String> {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let channel = telegram_chat(&pool, owner, CHAT).await;
    let group = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into incident_groups (id, owner_id, cause, summary, opened_at, members)
         values ($1, $2, 'ip:192.0.2.1:connect_refused', 'all resolve to 192.0.2.1', now(), 0)",
    )
    .bind(group)
    .bind(owner)
    .execute(&pool)
    .await
    .unwrap();
    env.start_with(config(&env, Duration::from_millis(400)));
    let members = schedule.opens.len();
    let mut outages: Vec<Option<Outage>> = (0..members).map(|_| None).collect();
    let mut published = 0i64;
    let mut heard = 0usize;
    for window in 0..WINDOWS {
        let joins: Vec<usize> = (0..members).filter(|&n| schedule.opens[n] == window).collect();
        let leaves: Vec<usize> = (0..members).filter(|&n| schedule.closes[n] == window).collect();
        let mut events = Vec::new();
        for &n in &joins {
            let o = outage(&pool, owner, &format!("m-{n}")).await;
            sqlx::query("update incidents set group_id = $1 where id = $2")
                .bind(group)
                .bind(o.incident)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("update incident_groups set members = members + 1 where id = $1")
                .bind(group)
                .execute(&pool)
                .await
                .unwrap();
            events.push(o.event.clone());
            outages[n] = Some(o);
        }
        for &n in &leaves {
            let o = outages[n].as_ref().expect("a member opens before it recovers");
            sqlx::query("update incidents set resolved_at = now() where id = $1")
                .bind(o.incident)
                .execute(&pool)
                .await
                .unwrap();
            events.push(resolved(o.event.clone(), chrono::Duration::minutes(1)));
        }
        let still_down: i64 =
            sqlx::query_scalar("select count(*) from incidents where group_id = $1 and resolved_at is null")
                .bind(group)
                .fetch_one(&pool)
                .await
                .unwrap();
        if still_down == 0 {
            sqlx::query("update incident_groups set resolved_at = now() where id = $1")
                .bind(group)
                .execute(&pool)
                .await
                .unwrap();
        }
        published += events.len() as i64;
        env.publish_events(events).await;
        // Quiet: every event of the window logged as sent to the channel, nothing pending.
        eventually(&format!("window {window} delivered"), Duration::from_secs(20), || {
            let pool = pool.clone();
            async move {
                let sent: i64 = sqlx::query_scalar(
                    "select count(*) from notification_log
                     where channel_id = $1 and kind in ('opened', 'resolved') and status = 'sent'",
                )
                .bind(channel)
                .fetch_one(&pool)
                .await
                .unwrap();
                let pending: i64 = sqlx::query_scalar("select count(*) from notification_pending")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                (sent == published && pending == 0).then_some(())
            }
        })
        .await;
        let sent = env.tg.sent_to(CHAT);
        let new: Vec<String> = sent[heard..].iter().map(|m| m.text().to_owned()).collect();
        heard = sent.len();
        let changes = usize::from(!joins.is_empty()) + usize::from(!leaves.is_empty());
        if new.len() > changes {
            return Err(format!(
                "window {window}: {} messages for {changes} changes: {new:#?}",
                new.len()
            ));
        }
        if new.len() < changes {
            return Err(format!("window {window}: a change went unheard: {new:#?}"));
        }
        for text in &new {
            let first = window == 0;
            let ok = if text.contains("targets are down") || text.contains("target is down") {
                first
            } else if text.contains("joined the outage") {
                !first && text.contains("all resolve to 192.0.2.1")
            } else if text.contains("recovered from the outage") {
                text.contains(&format!("; {still_down} still down")) && still_down > 0
            } else if text.contains("Outage over") {
                still_down == 0
            } else {
                // A lone first member's own alert.
                first && joins.len() == 1
            };
            if !ok {
                return Err(format!("window {window} (still down {still_down}): unexpected {text}"));
            }
        }
    }
    let all: Vec<String> = env.tg.sent_to(CHAT).iter().map(|m| m.text().to_owned()).collect();
    let over = all.iter().filter(|t| t.contains("Outage over")).count();
    if over != 1 || !all.last().is_some_and(|t| t.contains("Outage over")) {
        return Err(format!("one \"over\" message, last: {all:#?}"));
    }
    env.stop().await;
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 6, failure_persistence: None, ..Default::default() })]

    #[test]
    fn a_group_is_heard_once_opening_once_over_and_once_per_window_of_change(schedule in schedules()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let outcome = rt.block_on(one_group_over_windows(&schedule));
        proptest::prop_assert!(outcome.is_ok(), "{:?}: {}", schedule, outcome.unwrap_err());
    }
}
