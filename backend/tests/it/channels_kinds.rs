//! Channels of the HTTP kinds: creation with settings and sealed secrets, changes that merge
//! secrets, owner scoping, and the test message through the notifier (request/reply).

use std::time::{Duration, Instant};

use channels::Kind;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, get_json, id_of, send_json, spawn_app, spawn_app_with};

/// A webhook URL whose text is easy to find anywhere it must not be.
const SECRET_URL: &str = "https://hooks.example.com/services/T000/B000/s3cr3t-value-1234";

/// A valid body for `kind`, its secrets' values in `SECRET_URL`'s host.
fn sample(kind: Kind) -> Value {
    let (settings, secrets) = (channels::testing::shape(kind).sample)("https://hooks.example.com");
    json!({"kind": kind.as_str(), "label": format!("my {kind}"), "settings": settings, "secrets": secrets.0})
}

/// Creates a channel with `body` as `c`; the answer's JSON (asserting 201).
async fn create(app: &TestApp, c: &reqwest::Client, body: &Value) -> Value {
    let r = send_json(c.post(app.url("/api/channels")), body).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 201, "create {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A Slack channel whose webhook URL is `SECRET_URL`.
fn slack() -> Value {
    json!({"kind": "slack", "secrets": {"url": SECRET_URL}})
}

/// The sealed secrets stored for channel `id`.
async fn stored_secrets(app: &TestApp, id: Uuid) -> Option<Vec<u8>> {
    sqlx::query_scalar("select secrets from notification_channels where id = $1")
        .bind(id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_http_kind_is_created_verified_and_its_secrets_are_named_never_shown() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    assert!(!Kind::HTTP.is_empty());
    for &kind in Kind::HTTP {
        let body = sample(kind);
        let channel = create(&app, &c, &body).await;
        let text = channel.to_string();
        assert_eq!(channel["kind"], kind.as_str());
        assert_eq!(channel["verified"], true, "{kind}");
        assert_eq!(channel["enabled"], true, "{kind}");
        assert!(channel["settings"].is_object(), "{kind}: {channel}");
        assert!(channel["routing"]["events"].is_array(), "{kind}: {channel}");
        assert!(channel["last_error"].is_null());
        let mut names: Vec<&str> = channel["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        names.sort_unstable();
        let mut expected: Vec<&str> = body["secrets"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        expected.sort_unstable();
        assert_eq!(names, expected, "{kind}");
        for (name, value) in body["secrets"].as_object().unwrap() {
            let value = value.as_str().unwrap();
            assert!(
                !text.contains(value),
                "{kind}: the value of {name} is in the answer {text}"
            );
            let sealed = stored_secrets(&app, id_of(&channel)).await.expect("secrets stored");
            assert!(
                !sealed.windows(value.len()).any(|w| w == value.as_bytes()),
                "{kind}: {name} stored in plaintext"
            );
        }
    }
    let list = get_json(&c, app.url("/api/channels")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), Kind::HTTP.len());
    // No kind's secret value anywhere in the list (URLs that are settings may show).
    let listed = list.to_string();
    for &kind in Kind::HTTP {
        for (name, value) in sample(kind)["secrets"].as_object().unwrap() {
            let value = value.as_str().unwrap();
            assert!(
                !listed.contains(value),
                "{kind}: the value of {name} is in the list {listed}"
            );
        }
    }
}

#[tokio::test]
async fn the_kinds_list_names_each_kind_and_its_secrets() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let kinds = get_json(&c, app.url("/api/channels/kinds")).await;
    let kinds = kinds.as_array().expect("a list");
    assert_eq!(kinds.len(), Kind::ALL.len());
    let slack = kinds.iter().find(|k| k["kind"] == "slack").expect("slack listed");
    assert_eq!(slack["secrets"], json!([{"name": "url", "required": true}]));
    let telegram = kinds.iter().find(|k| k["kind"] == "telegram").expect("telegram listed");
    assert_eq!(telegram["secrets"], json!([]));
}

#[tokio::test]
async fn invalid_fields_answer_422_naming_them() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let cases = [
        (json!({"kind": "carrier_pigeon"}), "kind"),
        (json!({"kind": "telegram"}), "kind"),
        (json!({"kind": "email", "secrets": {}}), "kind"),
        (json!({"kind": "slack"}), "secrets.url"),
        (
            json!({"kind": "slack", "secrets": {"url": "ftp://x.example.com/"}}),
            "secrets.url",
        ),
        (
            json!({"kind": "slack", "secrets": {"url": SECRET_URL, "token": "x"}}),
            "secrets.token",
        ),
        (
            json!({"kind": "slack", "settings": {"nope": 1}, "secrets": {"url": SECRET_URL}}),
            "settings",
        ),
        (
            json!({"kind": "slack", "settings": [], "secrets": {"url": SECRET_URL}}),
            "settings",
        ),
        (
            json!({"kind": "slack", "label": "x".repeat(101), "secrets": {"url": SECRET_URL}}),
            "label",
        ),
        (
            json!({"kind": "slack", "secrets": {"url": SECRET_URL}, "routing": {"min_severity": "loud"}}),
            "routing.min_severity",
        ),
        (
            json!({"kind": "slack", "secrets": {"url": SECRET_URL}, "routing": {"tags_include": [""]}}),
            "routing.tags_include",
        ),
    ];
    for (body, field) in cases {
        let r = send_json(c.post(app.url("/api/channels")), &body).await;
        let text = r.status();
        let err = assert_error(r, 422, "validation", None).await;
        let named = err["error"]["field"].as_str().unwrap_or_default();
        assert!(named.starts_with(field), "{body}: {text} names {named:?}, not {field}");
        assert!(!err.to_string().contains("s3cr3t"), "no secret in the error: {err}");
    }
    let list = get_json(&c, app.url("/api/channels")).await;
    assert_eq!(list["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn secrets_need_the_servers_key() {
    let app = spawn_app_with(|c| c.api.secret_key = None).await;
    let c = app.user("a@example.com").await;
    let r = send_json(c.post(app.url("/api/channels")), slack()).await;
    assert_error(r, 422, "validation", Some("secrets")).await;
}

#[tokio::test]
async fn a_patch_keeps_replaces_and_removes_secrets_then_validates_them() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let channel = create(&app, &c, &json!({"kind": "mattermost", "secrets": {"url": SECRET_URL}})).await;
    let id = id_of(&channel);
    let url = app.url(&format!("/api/channels/{id}"));
    let key = common::sealed::SecretKey::from_config(Some(&crate::helpers::TEST_SECRET_KEY.into()))
        .unwrap()
        .unwrap();
    let opened = async || -> channels::Secrets { key.open(&stored_secrets(&app, id).await.unwrap()).unwrap() };

    // Settings change alone: the stored URL is kept.
    let r = send_json(c.patch(&url), json!({"settings": {"channel": "ops"}})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["settings"], json!({"channel": "ops"}));
    assert_eq!(body["address"], "Mattermost webhook → ops");
    assert_eq!(body["secrets"], json!(["url"]));
    assert_eq!(opened().await.get("url"), Some(SECRET_URL));

    // Replaced.
    let other = "https://chat.example.com/hooks/other-secret";
    let r = send_json(c.patch(&url), json!({"secrets": {"url": other}})).await;
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("other-secret"));
    assert_eq!(opened().await.get("url"), Some(other));

    // Removing a required secret fails validation and changes nothing.
    let r = send_json(c.patch(&url), json!({"secrets": {"url": null}})).await;
    assert_error(r, 422, "validation", Some("secrets.url")).await;
    assert_eq!(opened().await.get("url"), Some(other));

    // An unknown secret, bad settings, bad routing: 422 naming them.
    let r = send_json(c.patch(&url), json!({"secrets": {"token": "x"}})).await;
    assert_error(r, 422, "validation", Some("secrets.token")).await;
    let r = send_json(c.patch(&url), json!({"settings": {"channel": 5}})).await;
    assert_error(r, 422, "validation", Some("settings.channel")).await;
    let r = send_json(
        c.patch(&url),
        json!({"routing": {"quiet_hours": {"start": "25:00", "end": "07:00"}}}),
    )
    .await;
    let err = assert_error(r, 422, "validation", None).await;
    assert!(err["error"]["field"].as_str().unwrap().starts_with("routing"), "{err}");

    // Routing is stored as given.
    let routing = json!({"events": ["opened", "resolved"], "min_severity": "critical", "tags_include": ["prod"],
        "tags_exclude": [], "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Moscow"}});
    let r = send_json(c.patch(&url), json!({"routing": routing})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["routing"], routing);
}

#[tokio::test]
async fn enabled_true_re_enables_a_disabled_channel_and_resets_its_failures() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let id = id_of(&create(&app, &c, &slack()).await);
    sqlx::query(
        "update notification_channels set disabled_at = now(), disabled_reason = 'failing', permanent_failures = 3 \
         where id = $1",
    )
    .bind(id)
    .execute(&app.pg.pool)
    .await
    .unwrap();
    let url = app.url(&format!("/api/channels/{id}"));
    let list = get_json(&c, app.url("/api/channels")).await;
    assert_eq!(list["items"][0]["enabled"], false);

    let r = send_json(c.patch(&url), json!({"enabled": true})).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["enabled"], true);
    assert!(body["disabled_reason"].is_null());
    let failures: i32 = sqlx::query_scalar("select permanent_failures from notification_channels where id = $1")
        .bind(id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(failures, 0);

    let r = send_json(c.patch(&url), json!({"enabled": false})).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["enabled"], false);
    assert!(body["disabled_reason"].is_string());
}

#[tokio::test]
async fn another_users_channel_is_404_everywhere() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let id = id_of(&create(&app, &a, &slack()).await);
    let url = app.url(&format!("/api/channels/{id}"));

    let list = get_json(&b, app.url("/api/channels")).await;
    assert!(!list.to_string().contains(&id.to_string()), "{list}");
    let r = send_json(b.patch(&url), json!({"label": "mine"})).await;
    assert_error(r, 404, "not_found", None).await;
    let r = send_json(b.patch(&url), json!({"secrets": {"url": null}})).await;
    assert_error(r, 404, "not_found", None).await;
    let r = b
        .post(app.url(&format!("/api/channels/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found", None).await;
    let r = b.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let list = get_json(&a, app.url("/api/channels")).await;
    assert_eq!(list["items"][0]["label"], Value::Null, "unchanged: {list}");
    assert_eq!(list["items"][0]["secrets"], json!(["url"]));
}

/// A stand-in notifier: answers every channel test with `delivered` and records the requests.
fn spawn_notifier(
    app: &TestApp,
    delivered: bool,
) -> (
    CancellationToken,
    std::sync::Arc<std::sync::Mutex<Vec<common::messages::ChannelTest>>>,
) {
    use bus::{ConsumerOptions, HandlerError, Publisher};
    use common::messages::{CHANNELS_TEST_QUEUE, ChannelTest, ChannelTestResult, Envelope};
    let shutdown = CancellationToken::new();
    let broker = app.broker.broker("test-notifier", shutdown.clone());
    let publisher = Publisher::new(broker.clone(), Duration::from_secs(10));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seen.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = bus::consume::<ChannelTest, _, _>(
            &broker,
            ConsumerOptions::new(CHANNELS_TEST_QUEUE),
            stop,
            move |env, info| {
                let publisher = publisher.clone();
                let out = out.clone();
                async move {
                    out.lock().unwrap().push(env.payload.clone());
                    let Some(reply_to) = info.reply_to else {
                        return Ok(());
                    };
                    let result = ChannelTestResult {
                        delivered,
                        error: (!delivered).then(|| "the service said 404".to_owned()),
                    };
                    publisher
                        .reply(&reply_to, &Envelope::caused_by(env.correlation_id, result))
                        .await
                        .map_err(HandlerError::transient)
                }
            },
        )
        .await;
    });
    (shutdown, seen)
}

#[tokio::test]
async fn a_test_message_is_answered_by_the_notifier_and_limited_per_channel() {
    let app = spawn_app().await;
    let (notifier, seen) = spawn_notifier(&app, true);
    let c = app.user("a@example.com").await;
    let id = id_of(&create(&app, &c, &slack()).await);
    let test = app.url(&format!("/api/channels/{id}/test"));

    let r = c.post(&test).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"delivered": true, "error": null}));
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].channel_id, id);
    assert_eq!(requests[0].language, "en");

    let r = c.post(&test).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "Retry-After {retry}");

    // Another channel is not limited by the first.
    let other = id_of(&create(&app, &c, &slack()).await);
    let r = c
        .post(app.url(&format!("/api/channels/{other}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    notifier.cancel();
}

#[tokio::test]
async fn a_failed_test_says_why() {
    let app = spawn_app().await;
    let (notifier, _) = spawn_notifier(&app, false);
    let c = app.user("a@example.com").await;
    let id = id_of(&create(&app, &c, &slack()).await);
    let r = c
        .post(app.url(&format!("/api/channels/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"delivered": false, "error": "the service said 404"}));
    notifier.cancel();
}

#[tokio::test]
async fn without_a_notifier_the_test_answers_503_after_the_configured_timeout() {
    let app = spawn_app_with(|c| c.api.channel_test_timeout = Duration::from_secs(1)).await;
    let c = app.user("a@example.com").await;
    let id = id_of(&create(&app, &c, &slack()).await);
    let started = Instant::now();
    let r = c
        .post(app.url(&format!("/api/channels/{id}/test")))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_error(r, 503, "unavailable", None).await;
    assert!(took >= Duration::from_secs(1), "waited the timeout: {took:?}");
    assert!(took < Duration::from_secs(10), "not the default 15 s: {took:?}");
}
