use serde_json::{Value, json};

use crate::helpers::{
    assert_error, client, create_target, get_json, http_target, id_of, send_json, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn telegram_link_tokens_are_128_bit_ten_minute_and_stored_hashed() {
    let app = spawn_app_with(|c| c.api.telegram_bot_username = Some("pingtower_bot".into())).await;
    let c = app.user("a@example.com").await;
    let r = c.post(app.url("/api/channels/telegram/link")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    let token = link["token"].as_str().unwrap();
    assert!(token.len() >= 22, "128 bits in base64url: {token}");
    assert!(
        token
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    );
    assert_eq!(link["link"], format!("https://t.me/pingtower_bot?start={token}"));
    let (stored, minutes): (Vec<u8>, f64) = sqlx::query_as(
        "select token_hash, extract(epoch from expires_at - now())::float8 / 60 from telegram_link_tokens",
    )
    .fetch_one(&app.pg.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        backend::http::auth::hash_secret(token),
        "stored as SHA-256, not the token"
    );
    assert!(minutes > 9.0 && minutes <= 10.0, "valid 10 minutes: {minutes}");
}

#[tokio::test]
async fn telegram_links_need_a_configured_bot() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let r = c.post(app.url("/api/channels/telegram/link")).send().await.unwrap();
    assert_error(r, 503, "unavailable", None).await;
}

#[tokio::test]
async fn mail_links_open_a_page_and_only_its_button_post_verifies_or_unsubscribes() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let add = |body: Value| send_json(c.post(app.url("/api/channels/email")), body);
    let r = add(json!({"address": "Ops@Example.com", "label": "ops"})).await;
    assert_eq!(r.status(), 201);
    let ch: Value = r.json().await.unwrap();
    assert_eq!(ch["address"], "ops@example.com");
    assert_eq!(ch["verified"], false);
    let id = id_of(&ch);
    let dup = add(json!({"address": "ops@example.com"})).await;
    assert_error(dup, 409, "conflict", Some("address")).await;
    let bad = add(json!({"address": "nope"})).await;
    assert_error(bad, 422, "validation", Some("address")).await;

    // What the notifier does: store the SHA-256 of a verification token and of an unsubscribe token.
    sqlx::query(
        "update notification_channels set verification_token_hash = $2, verification_expires_at = now() + interval '1 day', \
         unsubscribe_token_hash = $3 where id = $1",
    )
    .bind(id)
    .bind(backend::http::auth::hash_secret("verify-me"))
    .bind(backend::http::auth::hash_secret("bye"))
    .execute(&app.pg.pool)
    .await
    .unwrap();
    let anon = client();
    let channels = || async { get_json(&c, app.url("/api/channels")).await["items"][0].clone() };
    let post = |path: &'static str, token: &'static str| anon.post(app.url(path)).form(&[("token", token)]).send();

    // Opening the link (what a mail scanner does) shows a page and changes nothing.
    let open = |path: &'static str| anon.get(app.url(path)).send();
    let page = open("/api/channels/verify?token=verify-me").await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<form method="post" action="verify">"#) && html.contains(r#"value="verify-me""#),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "works under the CSP: {html}"
    );
    assert_eq!(channels().await["verified"], false, "a GET verifies nothing");

    // The page's button does.
    assert_eq!(post("/api/channels/verify", "wrong").await.unwrap().status(), 404);
    assert_eq!(post("/api/channels/verify", "verify-me").await.unwrap().status(), 200);
    assert_eq!(
        post("/api/channels/verify", "verify-me").await.unwrap().status(),
        404,
        "single use"
    );
    assert_eq!(channels().await["verified"], true);

    let page = open("/api/channels/unsubscribe?token=bye").await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(r#"action="unsubscribe""#));
    assert_eq!(
        channels().await["disabled_reason"],
        Value::Null,
        "a GET unsubscribes nothing"
    );
    assert_eq!(post("/api/channels/unsubscribe", "bye").await.unwrap().status(), 200);
    let list: Value = json!({"items": [channels().await]});
    assert_eq!(list["items"][0]["disabled_reason"], "unsubscribed");

    let url = app.url(&format!("/api/channels/{id}"));
    let patch = |body: Value| send_json(c.patch(url.clone()), body);
    let patched: Value = patch(json!({"label": "pager", "muted_until": "2030-01-01T00:00:00Z"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["label"], "pager");
    assert_eq!(patched["muted_until"], "2030-01-01T00:00:00Z");
    let unmuted: Value = patch(json!({"muted_until": null})).await.json().await.unwrap();
    assert_eq!(unmuted["muted_until"], Value::Null);
    assert_eq!(c.delete(url.clone()).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn a_target_routes_its_alerts_to_chosen_channels() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let ch = app.email_channel(&c, "ops@example.com").await;
    let t = create_target(&app, &c, &http_target("t", "https://example.com/")).await;
    let path = format!("/api/targets/{}/channels", t["id"].as_str().unwrap());
    let route = |ids: Value| send_json(c.put(app.url(&path)), json!({"channel_ids": ids}));
    assert_eq!(get_json(&c, app.url(&path)).await, json!({"channel_ids": []}));
    let r = route(json!([ch["id"]])).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"channel_ids": [ch["id"]]}));
    let unknown = route(json!([uuid::Uuid::new_v4()])).await;
    assert_error(unknown, 422, "validation", Some("channel_ids[0]")).await;
}
