//! Escalation policies and reminders: steps at their minutes (the clock injected into
//! `escalation::send_due`), acknowledgement stopping them, the signed acknowledgement link,
//! and a notifier restarted mid-policy that neither skips nor repeats a step.

use std::time::Duration;

use channels::Kind;
use channels::testing::{FakeService, texts};
use chrono::{DateTime, Utc};
use common::messages::Envelope;
use notifier::escalation::{self, Round};
use notifier::{Deliverer, Delivery};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::*;
use crate::kinds::{config, http_channel, key};

/// A policy of `owner` attached to `target`: `steps` as (minutes, channels), reminders every
/// `reminder` minutes.
async fn policy(pool: &PgPool, owner: Uuid, target: Uuid, steps: &[(i64, &[Uuid])], reminder: Option<i32>) -> Uuid {
    let steps: Vec<_> = steps
        .iter()
        .map(|(m, c)| serde_json::json!({"after_minutes": m, "channel_ids": c}))
        .collect();
    policy_of(pool, owner, target, serde_json::Value::Array(steps), reminder).await
}

/// A policy of `owner` attached to `target` with `steps` as stored (JSON).
async fn policy_of(pool: &PgPool, owner: Uuid, target: Uuid, steps: serde_json::Value, reminder: Option<i32>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into escalation_policies (id, owner_id, name, steps, reminder_minutes) values ($1, $2, 'On call', $3, $4)",
    )
    .bind(id)
    .bind(owner)
    .bind(steps)
    .bind(reminder)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("insert into escalation_policy_targets (policy_id, target_id) values ($1, $2)")
        .bind(id)
        .bind(target)
        .execute(pool)
        .await
        .unwrap();
    id
}

/// A deliverer like the notifier's, sending the HTTP kinds to loopback fakes.
async fn deliverer(env: &TestEnv) -> Deliverer {
    let c = config(env);
    let guard = common::netguard::Guard::new(&c.guard, &[]).await;
    let sender = channels::send::HttpSender::new(guard, Duration::from_secs(5)).unwrap();
    Deliverer::new(Delivery {
        pool: env.pool().clone(),
        telegram: None,
        mailer: None,
        http: Some(notifier::http_kinds::HttpKinds::new(
            sender,
            Some(key()),
            Duration::from_millis(1),
        )),
        public_url: PUBLIC_URL.parse().unwrap(),
        report_wait: Duration::from_secs(1),
        fault: None,
        digest_window: None,
        ack_key: Some(key()),
    })
}

async fn timeline(pool: &PgPool, incident: Uuid) -> Vec<(String, String)> {
    sqlx::query_as("select kind, message from incident_timeline where incident_id = $1 order by at, id")
        .bind(incident)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn minutes(t: DateTime<Utc>, m: i64) -> DateTime<Utc> {
    t + chrono::Duration::minutes(m)
}

#[tokio::test]
async fn steps_fire_at_their_minutes_reminders_follow_and_acknowledgement_stops_them() {
    let (env, pool, owner) = TestEnv::with_user("en").await;
    let outage = outage(&pool, owner, "Shop").await;
    let (now_fake, ten_fake, thirty_fake) = tokio::join!(
        FakeService::start(Kind::Slack),
        FakeService::start(Kind::Discord),
        FakeService::start(Kind::Mattermost)
    );
    let first = http_channel(&pool, owner, &now_fake, serde_json::json!({})).await;
    let second = http_channel(&pool, owner, &ten_fake, serde_json::json!({})).await;
    let third = http_channel(&pool, owner, &thirty_fake, serde_json::json!({})).await;
    policy(
        &pool,
        owner,
        outage.target,
        &[(0, &[first]), (10, &[second]), (30, &[third])],
        Some(15),
    )
    .await;
    let d = deliverer(&env).await;
    let t0 = outage.event.started_at;

    // Opened: the first step goes with the alert; the later steps' channels hear nothing.
    d.handle_event(Envelope::new(outage.event.clone())).await.unwrap();
    let alert = now_fake.wait_for(1, Duration::from_secs(10)).await;
    assert!(ten_fake.received().is_empty() && thirty_fake.received().is_empty());
    // The alert carries a signed link that acknowledges this incident.
    let text = texts(&alert[0]);
    let token = text
        .split(&format!("{PUBLIC_URL}/ack/"))
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .next()
        })
        .unwrap_or_else(|| panic!("no acknowledgement link in {text}"));
    let ack = common::ack::Ack::verify(&key(), token, Utc::now()).expect("a valid link");
    assert_eq!((ack.incident_id, ack.channel_id), (outage.incident, first));

    // A second before the step: nothing; at its minute: the second channel, once.
    let round = escalation::send_due(&d, &pool, minutes(t0, 10) - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(round, Round::default());
    let round = escalation::send_due(&d, &pool, minutes(t0, 10)).await.unwrap();
    assert_eq!(round.steps, 1);
    let got = ten_fake.wait_for(1, Duration::from_secs(10)).await;
    let said = texts(&got[0]);
    assert!(
        said.contains("Shop is down") && said.contains("step 2 of “On call”"),
        "{said}"
    );
    assert_eq!(
        escalation::send_due(&d, &pool, minutes(t0, 11)).await.unwrap(),
        Round::default()
    );

    // The reminder at 15 minutes reaches the channels that have the incident, not the third.
    let round = escalation::send_due(&d, &pool, minutes(t0, 15)).await.unwrap();
    assert_eq!(round.reminders, 1);
    now_fake.wait_for(2, Duration::from_secs(10)).await;
    let got = ten_fake.wait_for(2, Duration::from_secs(10)).await;
    let said = texts(&got[1]);
    assert!(
        said.contains("Shop is still down") && said.contains("Open for"),
        "{said}"
    );
    assert!(thirty_fake.received().is_empty());

    // Acknowledged: the third step never goes, and the timeline says why.
    sqlx::query("update incidents set acknowledged_at = now() where id = $1")
        .bind(outage.incident)
        .execute(&pool)
        .await
        .unwrap();
    let round = escalation::send_due(&d, &pool, minutes(t0, 45)).await.unwrap();
    assert_eq!(
        round,
        Round {
            steps: 0,
            reminders: 0,
            stopped: 1
        }
    );
    assert!(thirty_fake.received().is_empty());
    assert_eq!((now_fake.received().len(), ten_fake.received().len()), (2, 2));
    let entries: Vec<String> = timeline(&pool, outage.incident)
        .await
        .into_iter()
        .map(|(k, m)| format!("{k}: {m}"))
        .collect();
    let wanted = [
        "escalation: Escalation “On call” started: step 1 went with the alert; next after 10 min, after 30 min.",
        "escalation: Escalation “On call”, step 2 of 3 (unacknowledged for 10 min): sent to discord",
        "reminder: Reminder 1 (open for 15 min): sent to 2 channels.",
        "escalation: Escalation “On call” stopped: acknowledged (1 step not sent).",
    ];
    assert_eq!(entries.len(), wanted.len(), "{entries:#?}");
    for (entry, wanted) in entries.iter().zip(wanted) {
        assert!(entry.starts_with(wanted), "{entry} should start with {wanted}");
    }
}

#[tokio::test]
async fn the_resolution_reaches_only_the_channels_escalation_reached() {
    let (env, pool, owner) = TestEnv::with_user("ru").await;
    let outage = outage(&pool, owner, "Shop").await;
    let (now_fake, later_fake) = tokio::join!(FakeService::start(Kind::Slack), FakeService::start(Kind::Discord));
    let first = http_channel(&pool, owner, &now_fake, serde_json::json!({})).await;
    let later = http_channel(&pool, owner, &later_fake, serde_json::json!({})).await;
    policy(&pool, owner, outage.target, &[(0, &[first]), (10, &[later])], None).await;
    let d = deliverer(&env).await;
    d.handle_event(Envelope::new(outage.event.clone())).await.unwrap();
    now_fake.wait_for(1, Duration::from_secs(10)).await;
    sqlx::query("update incidents set resolved_at = now() where id = $1")
        .bind(outage.incident)
        .execute(&pool)
        .await
        .unwrap();
    d.handle_event(Envelope::new(resolved(
        outage.event.clone(),
        chrono::Duration::minutes(3),
    )))
    .await
    .unwrap();
    let got = now_fake.wait_for(2, Duration::from_secs(10)).await;
    assert!(texts(&got[1]).contains("снова работает"), "{}", texts(&got[1]));
    let round = escalation::send_due(&d, &pool, minutes(outage.event.started_at, 20))
        .await
        .unwrap();
    assert_eq!(
        round,
        Round {
            steps: 0,
            reminders: 0,
            stopped: 1
        }
    );
    assert!(
        later_fake.received().is_empty(),
        "a step never reached gets no resolution either"
    );
}

#[tokio::test]
async fn a_channel_muted_for_the_target_hears_nothing_from_a_step() {
    let (env, pool, owner) = TestEnv::with_user("en").await;
    let outage = outage(&pool, owner, "Shop").await;
    let (now_fake, later_fake) = tokio::join!(FakeService::start(Kind::Slack), FakeService::start(Kind::Discord));
    let first = http_channel(&pool, owner, &now_fake, serde_json::json!({})).await;
    let later = http_channel(&pool, owner, &later_fake, serde_json::json!({})).await;
    // Only the first channel is routed to the target: the policy names both anyway.
    sqlx::query("insert into target_channels (target_id, channel_id) values ($1, $2)")
        .bind(outage.target)
        .bind(first)
        .execute(&pool)
        .await
        .unwrap();
    policy(&pool, owner, outage.target, &[(0, &[first]), (10, &[later])], None).await;
    let d = deliverer(&env).await;
    d.handle_event(Envelope::new(outage.event.clone())).await.unwrap();
    now_fake.wait_for(1, Duration::from_secs(10)).await;
    // Muted for this target: the second step skips it and says so.
    sqlx::query("insert into notification_mutes (channel_id, target_id, muted_until) values ($1, $2, now() + interval '1 hour')")
        .bind(later)
        .bind(outage.target)
        .execute(&pool)
        .await
        .unwrap();
    let round = escalation::send_due(&d, &pool, minutes(outage.event.started_at, 10))
        .await
        .unwrap();
    assert_eq!(round.steps, 1);
    assert!(later_fake.received().is_empty(), "a mute wins over a step");
    let entries = timeline(&pool, outage.incident).await;
    assert!(
        entries
            .iter()
            .any(|(_, m)| m.contains("step 2 of 2") && m.contains("disabled, muted or gone")),
        "{entries:#?}"
    );
    assert_eq!(now_fake.received().len(), 1, "the first channel got the alert only");
}

#[tokio::test]
async fn steps_naming_members_reach_their_own_channels_while_they_belong() {
    // Arrange: a team organisation with its own channel; Alice and Bob have personal channels,
    // Carol has none.
    let (env, pool, admin) = TestEnv::with_user("en").await;
    let (alice, bob, carol) = (
        user(&pool, "en").await,
        user(&pool, "en").await,
        user(&pool, "en").await,
    );
    let team = team(
        &pool,
        &[(admin, "owner"), (alice, "editor"), (bob, "viewer"), (carol, "viewer")],
    )
    .await;
    let (team_fake, alice_fake, bob_fake, admin_fake) = tokio::join!(
        FakeService::start(Kind::Slack),
        FakeService::start(Kind::Discord),
        FakeService::start(Kind::Mattermost),
        FakeService::start(Kind::GoogleChat)
    );
    let team_channel = http_channel(&pool, admin, &team_fake, serde_json::json!({})).await;
    sqlx::query("update notification_channels set owner_id = $2 where id = $1")
        .bind(team_channel)
        .bind(team)
        .execute(&pool)
        .await
        .unwrap();
    http_channel(&pool, alice, &alice_fake, serde_json::json!({})).await;
    http_channel(&pool, bob, &bob_fake, serde_json::json!({})).await;
    // The admin's personal channel: no step names the admin, so it hears nothing of the team.
    http_channel(&pool, admin, &admin_fake, serde_json::json!({})).await;
    let outage = outage(&pool, team, "Shop").await;
    let steps = serde_json::json!([
        {"after_minutes": 0, "channel_ids": [team_channel]},
        {"after_minutes": 10, "channel_ids": [], "member_ids": [alice, carol]},
        {"after_minutes": 20, "member_ids": [bob]},
    ]);
    let policy = policy_of(&pool, team, outage.target, steps, None).await;
    let d = deliverer(&env).await;
    let t0 = outage.event.started_at;

    // Act and assert: the alert reaches the team's channel only.
    d.handle_event(Envelope::new(outage.event.clone())).await.unwrap();
    team_fake.wait_for(1, Duration::from_secs(10)).await;
    assert!(alice_fake.received().is_empty() && bob_fake.received().is_empty());

    // Step 2 reaches Alice on her own channel, and says Carol has none.
    assert_eq!(escalation::send_due(&d, &pool, minutes(t0, 10)).await.unwrap().steps, 1);
    let got = alice_fake.wait_for(1, Duration::from_secs(10)).await;
    let said = texts(&got[0]);
    assert!(
        said.contains("Shop is down") && said.contains("step 2 of “On call”"),
        "{said}"
    );

    // Bob leaves before step 3: the policy drops him, and the run under way reaches no one.
    sqlx::query("delete from memberships where org_id = $1 and user_id = $2")
        .bind(team)
        .bind(bob)
        .execute(&pool)
        .await
        .unwrap();
    let stored: serde_json::Value = sqlx::query_scalar("select steps from escalation_policies where id = $1")
        .bind(policy)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored[2]["member_ids"], serde_json::json!([]), "{stored}");
    assert_eq!(stored[1]["member_ids"], serde_json::json!([alice, carol]), "{stored}");
    assert_eq!(escalation::send_due(&d, &pool, minutes(t0, 20)).await.unwrap().steps, 1);

    // Resolved: the channels escalation reached hear so, Bob and the admin's own never do.
    sqlx::query("update incidents set resolved_at = now() where id = $1")
        .bind(outage.incident)
        .execute(&pool)
        .await
        .unwrap();
    d.handle_event(Envelope::new(resolved(
        outage.event.clone(),
        chrono::Duration::minutes(25),
    )))
    .await
    .unwrap();
    team_fake.wait_for(2, Duration::from_secs(10)).await;
    let got = alice_fake.wait_for(2, Duration::from_secs(10)).await;
    assert!(texts(&got[1]).contains("Shop is back up"), "{}", texts(&got[1]));
    assert!(bob_fake.received().is_empty(), "a member who left hears nothing");
    assert!(admin_fake.received().is_empty(), "personal channels stay personal");
    let entries: Vec<String> = timeline(&pool, outage.incident)
        .await
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let carol_email = format!("{}@example.com", carol.simple());
    let alice_email = format!("{}@example.com", alice.simple());
    assert!(
        entries.iter().any(|m| m.contains("step 2 of 3")
            && m.contains(&format!("member {alice_email}'s discord"))
            && m.contains(&format!("member {carol_email} (no channel of their own)"))),
        "{entries:#?}"
    );
    assert!(
        entries
            .iter()
            .any(|m| m.contains("step 3 of 3") && m.contains("no channel")),
        "{entries:#?}"
    );
}

/// Moves a run's clock back by `m` minutes: as if it had started that much earlier.
async fn age_run(pool: &PgPool, incident: Uuid, m: i32) {
    sqlx::query(
        "update escalation_runs set started_at = started_at - make_interval(mins => $2),
                step_due_at = step_due_at - make_interval(mins => $2)
         where incident_id = $1",
    )
    .bind(incident)
    .bind(m)
    .execute(pool)
    .await
    .unwrap();
}

async fn next_step(pool: &PgPool, incident: Uuid) -> i32 {
    sqlx::query_scalar("select next_step from escalation_runs where incident_id = $1")
        .bind(incident)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_restart_mid_policy_neither_skips_nor_repeats_a_step() {
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let outage = outage(&pool, owner, "Shop").await;
    let fakes = [
        FakeService::start(Kind::Slack).await,
        FakeService::start(Kind::Discord).await,
        FakeService::start(Kind::Mattermost).await,
        FakeService::start(Kind::GoogleChat).await,
    ];
    let mut channels = Vec::new();
    for f in &fakes {
        channels.push(http_channel(&pool, owner, f, serde_json::json!({})).await);
    }
    policy(
        &pool,
        owner,
        outage.target,
        &[
            (0, &[channels[0]]),
            (10, &[channels[1]]),
            (20, &[channels[2]]),
            (30, &[channels[3]]),
        ],
        None,
    )
    .await;
    env.start_with(config(&env));
    env.publish_event(outage.event.clone()).await;
    fakes[0].wait_for(1, Duration::from_secs(20)).await;

    // Ten minutes pass: step 2.
    age_run(&pool, outage.incident, 10).await;
    fakes[1].wait_for(1, Duration::from_secs(20)).await;
    eventually("step 2 recorded", Duration::from_secs(20), || async {
        (next_step(&pool, outage.incident).await == 2).then_some(())
    })
    .await;

    // The notifier restarts while twenty more minutes pass: steps 3 and 4 are both overdue.
    age_run(&pool, outage.incident, 20).await;
    env.restart_with(config(&env)).await;
    eventually("every step sent", Duration::from_secs(20), || async {
        (next_step(&pool, outage.incident).await == 4).then_some(())
    })
    .await;
    for (n, f) in fakes.iter().enumerate() {
        assert_eq!(f.received().len(), 1, "step {} reached its channel exactly once", n + 1);
    }
    let steps: Vec<String> = timeline(&pool, outage.incident)
        .await
        .into_iter()
        .filter(|(k, m)| k == "escalation" && m.contains(", step "))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(steps.len(), 3, "{steps:#?}");
    for (i, s) in steps.iter().enumerate() {
        assert!(s.contains(&format!("step {} of 4", i + 2)), "in order: {steps:#?}");
    }
    // And a redelivered opened event starts nothing again.
    env.publish_event(outage.event.clone()).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 2).await;
    assert_eq!(fakes[0].received().len(), 1);
    env.stop().await;
}
