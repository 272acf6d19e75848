//! `kill -9` between send and log, 20 times: nothing lost, and a crash duplicates at most what
//! it had in hand (one event, to each of its chats).

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use rand::Rng;
use secrecy::ExposeSecret;
use tokio::process::{Child, Command};

use crate::helpers::*;

fn spawn(env: &TestEnv, fault: bool) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notifier"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PINGTOWER_AMQP_URL", env.broker.config.amqp_url.expose_secret())
        .env("PINGTOWER_DATABASE_URL", env.pg.config.database_url.expose_secret())
        .env("PINGTOWER_DATABASE_MAX_CONNECTIONS", "4")
        .env("PINGTOWER_HTTP_ADDR", "127.0.0.1:0")
        .env("PINGTOWER_TELEGRAM_BOT_TOKEN", "123:TEST")
        .env("PINGTOWER_TELEGRAM_API_URL", &env.tg.url)
        .env("PINGTOWER_TELEGRAM_POLLING", "false")
        .env("PINGTOWER_TELEGRAM_CHAT_INTERVAL", "5ms")
        .env("PINGTOWER_TELEGRAM_GLOBAL_RATE", "0")
        // One delivery in hand at a time: a kill returns one message, not a prefetch window,
        // to the queue (quorum queues count returns against the delivery limit).
        .env("PINGTOWER_NOTIFIER_CONCURRENCY", "1")
        // Each event on its own (the digest has its own tests).
        .env("PINGTOWER_NOTIFIER_DIGEST_WINDOW", "0s")
        .env("PINGTOWER_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if fault {
        cmd.env("PINGTOWER_NOTIFIER_FAULT", "crash_after_send");
    }
    cmd.spawn().expect("notifier binary starts")
}

#[tokio::test]
async fn killing_the_notifier_between_send_and_log_20_times_loses_nothing_and_duplicates_only_what_it_had_in_hand() {
    // Arrange: 15 incidents for two chats.
    let (env, pool, owner) = TestEnv::with_user("en").await;
    telegram_chat(&pool, owner, 7001).await;
    telegram_chat(&pool, owner, 7002).await;
    let mut names = Vec::new();
    for n in 0..15 {
        let name = format!("kill-target-{n:02}");
        env.publish_event(outage(&pool, owner, &name).await.event).await;
        names.push(name);
    }

    // Act: 10 crashes at the fault point (right after a send, before its log update), then
    // 10 kill -9 at random moments, then a run to the end.
    let mut crashes = 0;
    for _ in 0..10 {
        let mut child = spawn(&env, true);
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .expect("the notifier reaches the fault point")
            .unwrap();
        assert_eq!(status.code(), Some(notifier::fault::FAULT_EXIT_CODE));
        crashes += 1;
    }
    for _ in 0..10 {
        let mut child = spawn(&env, false);
        let pause = rand::rng().random_range(50..600);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        crashes += 1;
    }
    assert_eq!(crashes, 20);
    let mut last = spawn(&env, false);
    eventually("every notification logged as sent", Duration::from_secs(90), || async {
        let sent: i64 = sqlx::query_scalar("select count(*) from notification_log where status = 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap();
        (sent == 30).then_some(())
    })
    .await;
    last.start_kill().unwrap();
    last.wait().await.unwrap();

    // Assert: every (incident, chat) got its message. A message is sent only after its log row
    // is claimed (which counts the attempt), so it went out at most as often as it was
    // attempted; and each crash, with one event in hand (sent to its two chats at once),
    // added at most one attempt per chat.
    let mut counts: HashMap<(String, i64), usize> = HashMap::new();
    for call in env.tg.calls_of("sendMessage") {
        let name = names
            .iter()
            .find(|n| call.text().contains(n.as_str()))
            .expect("an alert");
        *counts.entry((name.clone(), call.chat().unwrap())).or_default() += 1;
    }
    let attempts: HashMap<(String, i64), usize> = sqlx::query_as::<_, (String, String, i32)>(
        "select t.name, c.address, l.attempts from notification_log l
         join incidents i on i.id = l.incident_id join targets t on t.id = i.target_id
         join notification_channels c on c.id = l.channel_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(name, chat, n)| ((name, chat.parse().unwrap()), n as usize))
    .collect();
    let mut duplicates = 0;
    for name in &names {
        for chat in [7001, 7002] {
            let key = (name.clone(), chat);
            let n = counts.get(&key).copied().unwrap_or(0);
            let tried = attempts.get(&key).copied().unwrap_or(0);
            assert!(n >= 1, "{name} to {chat}: lost");
            assert!(n <= tried, "{name} to {chat}: {n} sends but {tried} attempts");
            duplicates += n - 1;
        }
    }
    let extra_attempts: usize = attempts.values().map(|a| a - 1).sum();
    assert!(
        extra_attempts <= 2 * crashes,
        "{extra_attempts} attempts beyond the first with {crashes} crashes"
    );
    assert!(
        duplicates >= 1,
        "the fault point made at least one duplicate (the test can fail)"
    );
    let dlq = env
        .broker
        .management
        .queue_depth(common::messages::DEAD_LETTER_QUEUE)
        .await
        .unwrap();
    assert_eq!(dlq, 0, "nothing dead-lettered");
}
