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

/// Asks each command in `chat` in turn; each answer must contain every one of its strings.
async fn answers_contain(tg: &FakeTelegram, chat: i64, exchanges: &[(&str, &[&str])]) {
    for (command, expected) in exchanges {
        let a = ask(tg, chat, command).await;
        for e in *expected {
            assert!(a.contains(e), "the answer to {command} contains {e}: {a}");
        }
    }
}

/// How many mutes of `target` on `channel` last longer than `minutes` from now.
async fn mutes_outlasting(pool: &sqlx::PgPool, channel: uuid::Uuid, target: uuid::Uuid, minutes: i32) -> i64 {
    sqlx::query_scalar(
        "select count(*) from notification_mutes where channel_id = $1 and target_id = $2 and muted_until > now() + make_interval(mins => $3)",
    )
    .bind(channel)
    .bind(target)
    .bind(minutes)
    .fetch_one(pool)
    .await
    .unwrap()
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
    let (mut env, pool, ann) = TestEnv::with_user("en").await;
    let bob = user(&pool, "en").await;
    let good = link_token(&pool, ann, chrono::Duration::minutes(10)).await;
    let expired = link_token(&pool, ann, chrono::Duration::minutes(-1)).await;
    let bobs = link_token(&pool, bob, chrono::Duration::minutes(10)).await;
    env.start();

    // Act + Assert, in order: (chat, token, the answer says, the chat is then linked to).
    let refused = "invalid, already used or expired";
    let cases = [
        // A good token.
        (8001, good.clone(), "Linked", Some(ann)),
        // Reused (even from another chat).
        (8002, good.clone(), refused, None),
        // Expired.
        (8003, expired.clone(), refused, None),
        // Unknown (never issued) and malformed.
        (8004, "00000000000000000000000000000000".into(), "invalid", None),
        (8004, "';drop table users;--".into(), "invalid", None),
        // Foreign: Bob's token in Ann's chat does not take the chat over (and stays unused).
        (8001, bobs.clone(), "already linked to another", Some(ann)),
    ];
    for (chat, token, says, linked) in cases {
        let answer = ask(&env.tg, chat, &format!("/start {token}")).await;
        assert!(answer.contains(says), "/start {token} in {chat}: {answer}");
        assert_eq!(linked_user(&pool, chat).await, linked, "/start {token} in {chat}");
    }
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
    let (mut env, pool, ann) = TestEnv::with_user("en").await;
    let shop = target(&pool, ann, "Shop <x>").await;
    target_state(&pool, shop, "down").await;
    let blog = target(&pool, ann, "Blog").await;
    target_state(&pool, blog, "up").await;
    incident(&pool, ann, shop).await;
    let channel = telegram_chat(&pool, ann, 9001).await;
    env.start();

    // Act + Assert
    let answers = async |exchanges: &[(&str, &[&str])]| answers_contain(&env.tg, 9001, exchanges).await;
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
    answers(&[
        ("/targets", &["Shop &lt;x&gt;", "Blog"]),
        ("/incidents", &["Shop &lt;x&gt;", "open"]),
        ("/mute Shop <x> 2h", &["muted until"]),
    ])
    .await;
    assert_eq!(mutes_outlasting(&pool, channel, shop, 110).await, 1);
    answers(&[
        ("/mute Shop", &["Usage"]),
        ("/mute Nothing 1h", &["No target"]),
        ("/unmute", &["on again"]),
    ])
    .await;
    let left: i64 = sqlx::query_scalar("select count(*) from notification_mutes where channel_id = $1")
        .bind(channel)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // After /lang ru, the answers are in Russian.
    answers(&[
        ("/lang ru", &["русский"]),
        ("/status", &["недоступен"]),
        ("/lang xx", &["/lang en"]),
        ("/frobnicate", &["Неизвестная команда"]),
        ("/unlink", &["отключён"]),
    ])
    .await;
    assert_eq!(linked_user(&pool, 9001).await, None);
    let a = ask(&env.tg, 9001, "/status").await;
    assert!(a.contains("not linked") || a.contains("не подключён"), "{a}");
    env.stop().await;
}

#[tokio::test]
async fn the_alert_buttons_acknowledge_the_incident_and_mute_the_target_for_an_hour() {
    // Arrange
    let (mut env, pool, ann) = TestEnv::with_user("en").await;
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
    assert_eq!(mutes_outlasting(&pool, channel, shop, 55).await, 1);
    env.stop().await;
}

#[tokio::test]
async fn a_member_acknowledges_a_team_incident_from_their_own_chat() {
    // Arrange: Bea is a viewer of Ann's team and linked her own chat; Eve is not a member.
    let (mut env, pool, ann) = TestEnv::with_user("en").await;
    let (bea, eve) = (user(&pool, "en").await, user(&pool, "en").await);
    let team = team(&pool, &[(ann, "owner"), (bea, "viewer")]).await;
    let shop = target(&pool, team, "Shop").await;
    let incident = incident(&pool, team, shop).await;
    let channel = telegram_chat(&pool, bea, 9201).await;
    telegram_chat(&pool, eve, 9202).await;
    env.start();

    // Act
    env.tg.user_presses(9202, 1, &format!("ack:{incident}"));
    env.tg.user_presses(9202, 1, &format!("mute:{shop}"));
    env.tg.user_presses(9201, 1, &format!("ack:{incident}"));
    env.tg.user_presses(9201, 1, &format!("mute:{shop}"));
    env.tg
        .wait_for("four answers", WAIT, |_| {
            env.tg.calls_of("answerCallbackQuery").len() >= 4
        })
        .await;

    // Assert
    let answers: Vec<String> = env
        .tg
        .calls_of("answerCallbackQuery")
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(answers[0], "Incident not found.");
    assert_eq!(answers[1], "Target not found.");
    assert_eq!(answers[2], "Acknowledged.");
    assert!(answers[3].contains("Muted for 1 hour"), "{answers:?}");
    let by: Option<uuid::Uuid> = sqlx::query_scalar("select acknowledged_by from incidents where id = $1")
        .bind(incident)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(by, Some(bea));
    assert_eq!(mutes_outlasting(&pool, channel, shop, 55).await, 1);
    env.stop().await;
}

#[tokio::test]
async fn a_link_made_in_a_team_makes_a_team_channel_and_a_personal_link_a_personal_one() {
    // Arrange: Ann belongs to a team with a down target; her personal organisation has another.
    let (mut env, pool, ann) = TestEnv::with_user("en").await;
    let boss = user(&pool, "en").await;
    let team = team(&pool, &[(boss, "owner"), (ann, "admin")]).await;
    let api = target(&pool, team, "Team API").await;
    target_state(&pool, api, "down").await;
    let blog = target(&pool, ann, "Own blog").await;
    target_state(&pool, blog, "down").await;
    let personal = link_token(&pool, ann, chrono::Duration::minutes(10)).await;
    let teams = link_token(&pool, ann, chrono::Duration::minutes(10)).await;
    sqlx::query("update telegram_link_tokens set org_id = $2 where token_hash = $1")
        .bind(<sha2::Sha256 as sha2::Digest>::digest(teams.as_bytes()).to_vec())
        .bind(team)
        .execute(&pool)
        .await
        .unwrap();
    env.start();

    // Act
    ask(&env.tg, 9301, &format!("/start {personal}")).await;
    ask(&env.tg, 9302, &format!("/start {teams}")).await;

    // Assert: each chat is a channel of the organisation its link was made in, and its
    // commands show that organisation's targets only.
    let owners: Vec<(String, uuid::Uuid)> = sqlx::query_as(
        "select address, owner_id from notification_channels where user_id = $1 and kind = 'telegram' order by address",
    )
    .bind(ann)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(owners, vec![("9301".to_owned(), ann), ("9302".to_owned(), team)]);
    let own = ask(&env.tg, 9301, "/status").await;
    assert!(own.contains("Own blog") && !own.contains("Team API"), "{own}");
    let theirs = ask(&env.tg, 9302, "/status").await;
    assert!(theirs.contains("Team API") && !theirs.contains("Own blog"), "{theirs}");

    // A link of a team its maker has left links nothing.
    let stale = link_token(&pool, ann, chrono::Duration::minutes(10)).await;
    sqlx::query("update telegram_link_tokens set org_id = $2 where token_hash = $1")
        .bind(<sha2::Sha256 as sha2::Digest>::digest(stale.as_bytes()).to_vec())
        .bind(team)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("delete from memberships where org_id = $1 and user_id = $2")
        .bind(team)
        .bind(ann)
        .execute(&pool)
        .await
        .unwrap();
    ask(&env.tg, 9303, &format!("/start {stale}")).await;
    assert_eq!(linked_user(&pool, 9303).await, None);
    env.stop().await;
}
