use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_error, client, get_json, send_json, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_first_user_is_admin_and_the_second_is_not() {
    let app = spawn_app().await;
    let a = app.user("Admin@Example.com ").await;
    let b = app.user("bob@example.com").await;

    let me_a = get_json(&a, app.url("/api/auth/me")).await;
    let me_b = get_json(&b, app.url("/api/auth/me")).await;

    assert_eq!(me_a["email"], "admin@example.com", "email is normalised");
    assert_eq!(me_a["is_admin"], true);
    assert_eq!(me_b["is_admin"], false);
}

#[tokio::test]
async fn registration_errors_name_the_field() {
    let app = spawn_app().await;
    let c = client();
    let register = |body: Value| send_json(c.post(app.url("/api/auth/register")), body);
    let short = register(json!({"email": "a@example.com", "password": "short"})).await;
    assert_error(short, 422, "validation", Some("password")).await;
    let bad_email = register(json!({"email": "not-an-email", "password": "long enough password"})).await;
    assert_error(bad_email, 422, "validation", Some("email")).await;
    let missing = register(json!({"email": "a@example.com"})).await;
    assert_error(missing, 422, "validation", None).await;
    app.user("a@example.com").await;
    let dup = app.register(&c, "A@example.com", "long enough password").await;
    assert_error(dup, 409, "conflict", Some("email")).await;
}

#[tokio::test]
async fn every_api_route_needs_auth_except_config_register_and_login() {
    let app = spawn_app().await;
    let c = client();
    for path in [
        "/api/auth/me",
        "/api/tokens",
        "/api/targets",
        "/api/channels",
        "/api/targets/export",
    ] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_error(r, 401, "unauthorized", None).await;
    }
    let config = get_json(&c, app.url("/api/config")).await;
    assert_eq!(config["registration_open"], true);
    assert_eq!(config["regions"], json!(["default"]));
    assert_eq!(config["min_interval_seconds"], 10);
}

#[tokio::test]
async fn login_sets_an_httponly_lax_cookie_and_logout_revokes_the_session() {
    let app = spawn_app().await;
    app.user("a@example.com").await;
    let c = client();
    let r = app.login(&c, "a@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("pt_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "not secure unless configured: {cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(c.get(app.url("/api/auth/me")).send().await.unwrap().status(), 200);

    assert_eq!(c.post(app.url("/api/auth/logout")).send().await.unwrap().status(), 204);

    // The old cookie value no longer works, even when replayed.
    let replay = reqwest::Client::new()
        .get(app.url("/api/auth/me"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_error(replay, 401, "unauthorized", None).await;
}

#[tokio::test]
async fn the_cookie_is_secure_when_configured() {
    let app = spawn_app_with(|c| c.api.cookie_secure = true).await;
    let r = app.register(&client(), "a@example.com", PASSWORD).await;
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn a_password_change_revokes_every_other_session_but_keeps_this_one() {
    let app = spawn_app().await;
    let first = app.user("a@example.com").await;
    let second = client();
    assert_eq!(app.login(&second, "a@example.com", PASSWORD).await.status(), 200);
    let change = |current: &str| {
        let body = json!({"current_password": current, "new_password": "a brand new password"});
        send_json(first.post(app.url("/api/auth/password")), body)
    };

    let wrong = change("not the password").await;
    assert_error(wrong, 401, "unauthorized", Some("current_password")).await;
    assert_eq!(change(PASSWORD).await.status(), 204);

    assert_eq!(first.get(app.url("/api/auth/me")).send().await.unwrap().status(), 200);
    assert_eq!(second.get(app.url("/api/auth/me")).send().await.unwrap().status(), 401);
    let old = app.login(&client(), "a@example.com", PASSWORD).await;
    assert_eq!(old.status(), 401);
    let new = app.login(&client(), "a@example.com", "a brand new password").await;
    assert_eq!(new.status(), 200);
}

#[tokio::test]
async fn repeated_failed_logins_get_429_with_retry_after() {
    let app = spawn_app().await;
    app.user("a@example.com").await;
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = app.login(&c, "a@example.com", "wrong password!").await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry >= 1);
            assert_error(r, 429, "rate_limited", None).await;
        }
    }
    assert_eq!(&statuses[..5], &[401; 5]);
    assert_eq!(&statuses[5..], &[429; 3]);
    // The right password is refused too while the account is locked.
    assert_eq!(app.login(&c, "a@example.com", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn api_tokens_are_shown_once_listed_scoped_and_revocable() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let read = app.token(&c, "read").await;
    let write = app.token(&c, "write").await;
    assert!(read.starts_with("pt_"));
    let bare = reqwest::Client::new();
    let me = |token: &str| bare.get(app.url("/api/auth/me")).bearer_auth(token).send();
    let add_channel = |token: &str| {
        let request = bare.post(app.url("/api/channels/email")).bearer_auth(token);
        send_json(request, json!({"address": "ops@example.com"}))
    };

    assert_eq!(me(&read).await.unwrap().status(), 200);
    assert_error(add_channel(&read).await, 403, "forbidden", None).await;
    assert_eq!(add_channel(&write).await.status(), 201);
    // Tokens are minted from a session only (see edge::a_token_cannot_mint_tokens…).
    let third = app.token(&c, "read").await;
    assert!(third.starts_with("pt_"));

    let list = get_json(&c, app.url("/api/tokens")).await;
    assert_eq!(list["total"], 3);
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().all(|t| t.get("token").is_none()));
    let used = items.iter().filter(|t| !t["last_used_at"].is_null()).count();
    assert!(used >= 2, "last use is recorded: {list}");

    let id = items
        .iter()
        .find(|t| read.starts_with(t["prefix"].as_str().unwrap()) && t["scope"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let revoked = c.delete(app.url(&format!("/api/tokens/{id}"))).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    assert_error(me(&read).await.unwrap(), 401, "unauthorized", None).await;
    assert_eq!(me("pt_nonsense").await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_admin_can_close_registration() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let user = app.user("user@example.com").await;
    let close = |c: &reqwest::Client| {
        send_json(
            c.put(app.url("/api/admin/settings")),
            json!({"registration_open": false}),
        )
    };
    assert_error(close(&user).await, 403, "forbidden", None).await;
    assert_eq!(close(&admin).await.status(), 204);
    let r = app
        .register(&client(), "late@example.com", "long enough password")
        .await;
    assert_error(r, 403, "forbidden", None).await;
    let config = get_json(&client(), app.url("/api/config")).await;
    assert_eq!(config["registration_open"], false);
}

#[tokio::test]
async fn closed_registration_still_lets_the_first_user_in() {
    let app = spawn_app_with(|c| c.api.registration = backend::config::Registration::Closed).await;
    app.user("first@example.com").await;
    let r = app
        .register(&client(), "second@example.com", "long enough password")
        .await;
    assert_eq!(r.status(), 403);
}
