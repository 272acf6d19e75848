//! The bot: linking with `/start <token>`, every command, the alert buttons.

use std::time::Duration;

use sqlx::Row;

use crate::helpers::*;
use common::testing::FakeTelegram;

const WAIT: Duration = Duration::from_secs(20);

/// The user says `text` in `chat` and the bot's next answer there comes back.
async fn ask(tg: &FakeTelegram, chat: i64, text: &str) -> String {
    let before = tg.sent_to(chat).len();
    tg.user_says(chat, text);
    tg.wait_for(&format!("an answer to {text}"), WAIT, |_| {
        tg.sent_to(chat).len() > before
    })
    .await;
    tg.sent_to(chat)[before].text().to_owned()
}

async fn linked_user(pool: &sqlx::PgPool, chat: i64) -> Option<uuid::Uuid> {
    sqlx::query_scalar(
        "select user_id from notification_channels where kind = 'telegram' and address = $1 and disabled_at is null and verified_at is not null",
    )
    .bind(chat.to_string())
    .fetch_optional(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn start_links_with_a_good_token_and_refuses_reused_expired_unknown_and_foreign_ones() {
    // Arrange
    let mut env = TestEnv::new().await;
    let pool = env.pool().clone();
    let ann = user(&pool, "en").await;
    let bob = user(&pool, "en").await;
    let good = link_token(&pool, ann, chrono::Duration::minutes(10)).await;
    let expired = link_token(&pool, ann, chrono::Duration::minutes(-1)).await;
    let bobs = link_token(&pool, bob, chrono::Duration::minutes(10)).await;
    env.start();

    // Act + Assert: good token.
    let answer = ask(&env.tg, 8001, &format!("/start {good}")).await;
    assert!(answer.contains("Linked"), "{answer}");
    assert_eq!(linked_user(&pool, 8001).await, Some(ann));

    // Reused (even from another chat).
    let answer = ask(&env.tg, 8002, &format!("/start {good}")).await;
    assert!(answer.contains("invalid, already used or expired"), "{answer}");
    assert_eq!(linked_user(&pool, 8002).await, None);

    // Expired.
    let answer = ask(&env.tg, 8003, &format!("/start {expired}")).await;
    assert!(answer.contains("invalid, already used or expired"), "{answer}");
    assert_eq!(linked_user(&pool, 8003).await, None);

    // Unknown (never issued) and malformed.
    let answer = ask(&env.tg, 8004, "/start 00000000000000000000000000000000").await;
    assert!(answer.contains("invalid"), "{answer}");
    let answer = ask(&env.tg, 8004, "/start ';drop table users;--").await;
    assert!(answer.contains("invalid"), "{answer}");
    assert_eq!(linked_user(&pool, 8004).await, None);

    // Foreign: Bob's token in Ann's chat does not take the chat over, and stays unused.
    let answer = ask(&env.tg, 8001, &format!("/start {bobs}")).await;
    assert!(answer.contains("already linked to another"), "{answer}");
    assert_eq!(linked_user(&pool, 8001).await, Some(ann));
    let unused: bool = sqlx::query_scalar("select used_at is null from telegram_link_tokens where user_id = $1")
        .bind(bob)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(unused);

    // Groups are refused.
    let before = env.tg.sent_to(-500).len();
    env.tg.group_says(-500, 8001, &format!("/start {bobs}"));
    env.tg
        .wait_for("the group answer", WAIT, |_| env.tg.sent_to(-500).len() > before)
        .await;
    assert!(env.tg.sent_to(-500)[before].text().contains("private chat"));
    assert_eq!(linked_user(&pool, -500).await, None);
    env.stop().await;
}

#[tokio::test]
async fn every_command_is_answered() {
    // Arrange
    let mut env = TestEnv::new().await;
    let pool = env.pool().clone();
    let ann = user(&pool, "en").await;
    let shop = target(&pool, ann, "Shop <x>").await;
    target_state(&pool, shop, "down").await;
    let blog = target(&pool, ann, "Blog").await;
    target_state(&pool, blog, "up").await;
    incident(&pool, ann, shop).await;
    let channel = telegram_chat(&pool, ann, 9001).await;
    env.start();

    // Act + Assert
    let a = ask(&env.tg, 9002, "/status").await;
    assert!(a.contains("not linked"), "unlinked chats are told how to link: {a}");

    let a = ask(&env.tg, 9001, "/help").await;
    for c in [
        "/status",
        "/targets",
        "/incidents",
        "/mute",
        "/unmute",
        "/lang",
        "/unlink",
    ] {
        assert!(a.contains(c), "help lists {c}: {a}");
    }
    let a = ask(&env.tg, 9001, "/status").await;
    assert!(
        a.contains("Shop &lt;x&gt;") && a.contains("down") && a.contains("since"),
        "{a}"
    );
    assert!(!a.contains("Blog"), "{a}");
    let a = ask(&env.tg, 9001, "/targets").await;
    assert!(a.contains("Shop &lt;x&gt;") && a.contains("Blog"), "{a}");
    let a = ask(&env.tg, 9001, "/incidents").await;
    assert!(a.contains("Shop &lt;x&gt;") && a.contains("open"), "{a}");

    let a = ask(&env.tg, 9001, "/mute Shop <x> 2h").await;
    assert!(a.contains("muted until"), "{a}");
    let muted: i64 = sqlx::query_scalar(
        "select count(*) from notification_mutes where channel_id = $1 and target_id = $2 and muted_until > now() + interval '110 minutes'",
    )
    .bind(channel)
    .bind(shop)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(muted, 1);
    let a = ask(&env.tg, 9001, "/mute Shop").await;
    assert!(a.contains("Usage"), "{a}");
    let a = ask(&env.tg, 9001, "/mute Nothing 1h").await;
    assert!(a.contains("No target"), "{a}");
    let a = ask(&env.tg, 9001, "/unmute").await;
    assert!(a.contains("on again"), "{a}");
    let left: i64 = sqlx::query_scalar("select count(*) from notification_mutes where channel_id = $1")
        .bind(channel)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    let a = ask(&env.tg, 9001, "/lang ru").await;
    assert!(a.contains("русский"), "{a}");
    let a = ask(&env.tg, 9001, "/status").await;
    assert!(a.contains("недоступен"), "answers in Russian now: {a}");
    let a = ask(&env.tg, 9001, "/lang xx").await;
    assert!(a.contains("/lang en"), "{a}");
    let a = ask(&env.tg, 9001, "/frobnicate").await;
    assert!(a.contains("Неизвестная команда"), "{a}");

    let a = ask(&env.tg, 9001, "/unlink").await;
    assert!(a.contains("отключён"), "{a}");
    assert_eq!(linked_user(&pool, 9001).await, None);
    let a = ask(&env.tg, 9001, "/status").await;
    assert!(a.contains("not linked") || a.contains("не подключён"), "{a}");
    env.stop().await;
}

#[tokio::test]
async fn the_alert_buttons_acknowledge_the_incident_and_mute_the_target_for_an_hour() {
    // Arrange
    let mut env = TestEnv::new().await;
    let pool = env.pool().clone();
    let ann = user(&pool, "en").await;
    let eve = user(&pool, "en").await;
    let shop = target(&pool, ann, "Shop").await;
    let incident = incident(&pool, ann, shop).await;
    let channel = telegram_chat(&pool, ann, 9101).await;
    telegram_chat(&pool, eve, 9102).await;
    env.start();

    // Act: Eve presses Ann's buttons (forged callback data), then Ann does.
    env.tg.user_presses(9102, 1, &format!("ack:{incident}"));
    env.tg.user_presses(9101, 1, &format!("ack:{incident}"));
    env.tg.user_presses(9101, 1, &format!("mute:{shop}"));
    env.tg.user_presses(9101, 1, &format!("ack:{incident}"));
    let calls = env
        .tg
        .wait_for("four answers", WAIT, |_| {
            env.tg.calls_of("answerCallbackQuery").len() >= 4
        })
        .await;
    let _ = calls;

    // Assert
    let answers: Vec<String> = env
        .tg
        .calls_of("answerCallbackQuery")
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(answers[0], "Incident not found.");
    assert_eq!(answers[1], "Acknowledged.");
    assert!(answers[2].contains("Muted for 1 hour"), "{answers:?}");
    assert_eq!(answers[3], "Already acknowledged.");
    let row = sqlx::query("select acknowledged_at is not null as acked, acknowledged_by from incidents where id = $1")
        .bind(incident)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(row.get::<bool, _>("acked"));
    assert_eq!(row.get::<Option<uuid::Uuid>, _>("acknowledged_by"), Some(ann));
    let muted: i64 = sqlx::query_scalar(
        "select count(*) from notification_mutes where channel_id = $1 and target_id = $2 and muted_until > now() + interval '55 minutes'",
    )
    .bind(channel)
    .bind(shop)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(muted, 1);
    env.stop().await;
}
