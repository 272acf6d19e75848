//! The edge: login and registration limits, client addresses behind proxies, the request
//! timeout, browser security headers, the cross-site guard, token rules and the cheap public
//! endpoints.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, assert_error, client, create_target, get_json, http_target, send_json, spawn_app, spawn_app_with, web_dir,
};

/// A cookie-keeping client whose connections come from `local` (any 127.0.0.0/8 address
/// reaches the test server on 127.0.0.1).
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .local_address(local.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn login(c: &reqwest::Client, url: String, email: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let mut r = c.post(url).json(&json!({"email": email, "password": password}));
    if let Some(f) = forwarded {
        r = r.header("x-forwarded-for", f);
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn forty_parallel_wrong_logins_evaluate_at_most_five_and_the_owner_signs_in_from_another_address() {
    // Arrange
    let app = spawn_app().await;
    app.user("owner@example.com").await;
    let attacker = client();

    // Act: 40 wrong passwords at once from one client.
    let burst = (0..40).map(|_| {
        login(
            &attacker,
            app.url("/api/auth/login"),
            "owner@example.com",
            "wrong password!",
            None,
        )
    });
    let statuses = futures::future::join_all(burst).await;
    let owner = client_from("127.0.0.2");
    let owner_status = login(&owner, app.url("/api/auth/login"), "owner@example.com", PASSWORD, None).await;

    // Assert
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!((1..=5).contains(&evaluated), "evaluated {evaluated}: {statuses:?}");
    assert_eq!(evaluated + limited, 40, "{statuses:?}");
    assert_eq!(owner_status, 200, "the owner signs in from another address at once");
    let me = owner.get(app.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(
        login(
            &attacker,
            app.url("/api/auth/login"),
            "owner@example.com",
            PASSWORD,
            None
        )
        .await,
        429,
        "the bursting client stays limited, even with the right password"
    );
}

#[tokio::test]
async fn forwarded_for_is_honoured_only_from_a_trusted_proxy() {
    // Arrange: 127.0.0.1 is the proxy; 127.0.0.2 is a stranger.
    let app = spawn_app_with(|c| {
        c.api.login_max_failures = 2;
        c.edge.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    app.user("a@example.com").await;
    let (proxy, stranger) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    let url = || app.url("/api/auth/login");
    let wrong = "wrong password!";

    // Act
    let mut via_proxy = Vec::new();
    for _ in 0..3 {
        via_proxy.push(login(&proxy, url(), "a@example.com", wrong, Some("198.51.100.1, 203.0.113.7")).await);
    }
    let other_client_via_proxy = login(&proxy, url(), "a@example.com", wrong, Some("203.0.113.8")).await;
    let mut direct = Vec::new();
    for i in 0..3 {
        let spoofed = format!("192.0.2.{i}");
        direct.push(login(&stranger, url(), "a@example.com", wrong, Some(&spoofed)).await);
    }

    // Assert
    assert_eq!(via_proxy, [401, 401, 429], "the client behind the proxy is 203.0.113.7");
    assert_eq!(
        other_client_via_proxy, 401,
        "another client behind the proxy is not limited"
    );
    assert_eq!(direct, [401, 401, 429], "a stranger's X-Forwarded-For is ignored");
}

#[tokio::test]
async fn registration_is_rate_limited_per_client_address() {
    // Arrange
    let app = spawn_app_with(|c| c.edge.register_per_hour = 2).await;

    // Act
    let first = app.register(&client(), "a@example.com", PASSWORD).await.status();
    let second = app.register(&client(), "b@example.com", PASSWORD).await.status();
    let third = app.register(&client(), "c@example.com", PASSWORD).await;
    let elsewhere = app
        .register(&client_from("127.0.0.2"), "d@example.com", PASSWORD)
        .await
        .status();

    // Assert
    assert_eq!((first.as_u16(), second.as_u16()), (201, 201));
    let retry: u64 = third.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_error(third, 429, "rate_limited", None).await;
    assert_eq!(elsewhere, 201);
}

#[tokio::test]
async fn a_request_past_the_request_timeout_is_answered_504() {
    // Arrange: no pinger answers "Test now", which would wait 30 s.
    let app = spawn_app_with(|c| c.edge.request_timeout = Duration::from_secs(1)).await;
    let c = app.user("a@example.com").await;
    let target = create_target(&app, &c, &http_target("t", "http://127.0.0.1:9/")).await;
    let id = target["id"].as_str().unwrap();

    // Act
    let started = Instant::now();
    let r = c
        .post(app.url(&format!("/api/targets/{id}/test")))
        .send()
        .await
        .unwrap();

    // Assert
    let body = assert_error(r, 504, "unavailable", None).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("took too long"),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_dashboard_sends_security_headers_and_public_status_pages_may_be_framed() {
    // Arrange
    let dir = web_dir();
    let web = dir.clone();
    let app = spawn_app_with(move |c| {
        c.api.web_dir = web;
        c.api.cookie_secure = true;
    })
    .await;
    let c = client();

    // Act + Assert: the dashboard, its files and its SPA routes.
    for path in ["/", "/assets/app.js", "/targets/1/settings", "/api/config"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = header(&r, "content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-eval") && !csp.contains("script-src 'self' 'unsafe-inline'"));
        assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header(&r, "referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(header(&r, "x-frame-options"), Some("DENY"), "{path}");
        assert!(
            header(&r, "strict-transport-security").is_some_and(|h| h.contains("max-age=")),
            "{path}: HSTS with Secure cookies"
        );
    }
    // The public status page (SPA route and JSON) and badges may be framed by other sites.
    for path in ["/s/my-page", "/status/my-page", "/badge/x/status.svg"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        let csp = header(&r, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("frame-ancestors"), "{path}: {csp}");
        assert_eq!(header(&r, "x-frame-options"), None, "{path}");
        assert_eq!(header(&r, "x-content-type-options"), Some("nosniff"), "{path}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn cross_site_cookie_writes_are_refused_and_bearer_writes_are_not() {
    // Arrange
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let tokens = || async { get_json(&c, app.url("/api/tokens")).await["total"].as_i64().unwrap() };
    let own_origin = format!("http://{}", app.addr);

    // Act + Assert: what a foreign page's form can send, with the session cookie.
    let form = c
        .post(app.url("/api/tokens"))
        .header("origin", "https://evil.example")
        .form(&[("name", "x"), ("scope", "write")])
        .send()
        .await
        .unwrap();
    assert_error(form, 403, "forbidden", None).await;
    // Without an origin: a form, and JSON sent as plain text (both "simple" requests).
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "name=x&scope=write"),
        ("text/plain", r#"{"name":"x","scope":"write"}"#),
    ] {
        let r = c
            .post(app.url("/api/tokens"))
            .header("content-type", content_type)
            .body(body);
        assert_eq!(r.send().await.unwrap().status(), 415, "{content_type}");
    }
    let foreign = c
        .post(app.url("/api/tokens"))
        .header("origin", "http://127.0.0.1.evil.example");
    let json_foreign = send_json(foreign, json!({"name": "x", "scope": "write"})).await;
    assert_error(json_foreign, 403, "forbidden", None).await;
    assert_eq!(tokens().await, 0, "nothing was created");

    // The dashboard's own requests pass: JSON from its origin, and bodyless writes.
    let own = c
        .post(app.url("/api/tokens"))
        .header("origin", &own_origin)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"name":"cli","scope":"write"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
    let token = own.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(tokens().await, 1);
    assert!(
        own_headers_lack_hsts(&c, &app.url("/")).await,
        "no HSTS without Secure cookies"
    );

    // A bearer token carries no ambient credential: the guard leaves it alone.
    let elsewhere = reqwest::Client::new()
        .post(app.url("/api/channels/email"))
        .bearer_auth(&token)
        .header("origin", "https://elsewhere.example");
    let bearer = send_json(elsewhere, json!({"address": "ops@example.com"})).await;
    assert_eq!(bearer.status(), 201, "{}", bearer.text().await.unwrap());
    let logout = c.post(app.url("/api/auth/logout")).send().await.unwrap();
    assert_eq!(logout.status(), 204, "a bodyless write needs no Content-Type");
}

async fn own_headers_lack_hsts(c: &reqwest::Client, url: &str) -> bool {
    let r = c.get(url).send().await.unwrap();
    r.headers().get("strict-transport-security").is_none()
}

#[tokio::test]
async fn a_token_cannot_mint_tokens_and_an_expired_token_gets_401() {
    // Arrange
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let expires_at = chrono::Utc::now() + chrono::Duration::hours(1);
    let mint = |c: &reqwest::Client, body: Value| send_json(c.post(app.url("/api/tokens")), body);
    let r = mint(&c, json!({"name": "ci", "scope": "write", "expires_at": expires_at})).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let bearer = reqwest::Client::new();

    // Act + Assert: a token cannot create a token.
    let as_token = bearer.post(app.url("/api/tokens")).bearer_auth(&token);
    let minted = send_json(as_token, json!({"name": "child", "scope": "write"})).await;
    assert_error(minted, 403, "forbidden", None).await;
    let past = mint(
        &c,
        json!({"name": "old", "scope": "read", "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_error(past, 422, "validation", Some("expires_at")).await;

    // The expiry is listed, and the token works until it passes.
    let list = get_json(&c, app.url("/api/tokens")).await;
    assert_eq!(list["total"], 1);
    let listed: chrono::DateTime<chrono::Utc> = list["items"][0]["expires_at"].as_str().unwrap().parse().unwrap();
    assert!((listed - expires_at).num_seconds().abs() <= 1, "{list}");
    let me = || bearer.get(app.url("/api/auth/me")).bearer_auth(&token).send();
    assert_eq!(me().await.unwrap().status(), 200);
    sqlx::query("update api_tokens set expires_at = now() - interval '1 second'")
        .execute(&app.pg.pool)
        .await
        .unwrap();
    assert_error(me().await.unwrap(), 401, "unauthorized", None).await;
}

/// Creates a status page of `slug` showing `targets` with `c`; its id.
async fn status_page(app: &crate::helpers::TestApp, c: &reqwest::Client, slug: &str, targets: &[&str]) -> String {
    let targets: Vec<Value> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"target_id": t, "position": i}))
        .collect();
    let body = json!({"slug": slug, "title": "First", "targets": targets});
    let r = send_json(c.post(app.url("/api/status-pages")), body).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_public_status_page_is_cached_for_the_ttl_and_shows_at_most_the_capped_targets() {
    // Arrange
    let ttl = Duration::from_secs(2);
    let app = spawn_app_with(move |c| {
        c.edge.public_cache_ttl = ttl;
        c.edge.status_page_max_targets = 2;
    })
    .await;
    let c = app.user("a@example.com").await;
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        let t = create_target(&app, &c, &http_target(name, "http://127.0.0.1:9/")).await;
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let page = status_page(&app, &c, "acme", &ids).await;
    let public = || async {
        reqwest::get(app.url("/status/acme"))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };

    // Act
    let first = public().await;
    let cached_at = Instant::now();
    let second = json!({"slug": "acme", "title": "Second", "targets": []});
    let r = send_json(c.put(app.url(&format!("/api/status-pages/{page}"))), second).await;
    assert_eq!(r.status(), 200);
    let within_ttl = public().await;
    let checked_within = cached_at.elapsed();
    let deadline = Instant::now() + Duration::from_secs(20);
    let changed = loop {
        let now = public().await;
        if now["title"] == "Second" {
            break now;
        }
        assert!(Instant::now() < deadline, "the change never showed: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let shown_after = cached_at.elapsed();

    // Assert
    assert_eq!(first["title"], "First");
    assert_eq!(first["targets"].as_array().unwrap().len(), 2, "capped: {first}");
    if checked_within < ttl {
        assert_eq!(within_ttl, first, "the cached answer is reused within the TTL");
    }
    assert!(
        shown_after + Duration::from_millis(200) >= ttl,
        "shown after {shown_after:?}"
    );
    assert_eq!(changed["targets"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn public_pages_and_badges_are_rate_limited_per_client() {
    // Arrange
    let app = spawn_app_with(|c| c.edge.public_rate_limit = 3).await;
    let (here, elsewhere) = (client_from("127.0.0.1"), client_from("127.0.0.2"));

    // Act
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            here.get(app.url("/status/nope"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    let limited_page = here.get(app.url("/status/nope")).send().await.unwrap();
    let limited_badge = here.get(app.url("/badge/abc/status.svg")).send().await.unwrap();
    let other = elsewhere.get(app.url("/status/nope")).send().await.unwrap();

    // Assert
    assert_eq!(statuses, [404; 3]);
    assert!(limited_page.headers().contains_key("retry-after"));
    assert_error(limited_page, 429, "rate_limited", None).await;
    assert_error(limited_badge, 429, "rate_limited", None).await;
    assert_eq!(other.status(), 404, "another client is not limited");
}

#[tokio::test]
async fn a_badge_is_cached_for_the_ttl() {
    // Arrange
    let ttl = Duration::from_secs(2);
    let app = spawn_app_with(move |c| c.edge.public_cache_ttl = ttl).await;
    let c = app.user("a@example.com").await;
    let target = create_target(&app, &c, &http_target("shop", "http://127.0.0.1:9/")).await;
    let id: uuid::Uuid = target["id"].as_str().unwrap().parse().unwrap();
    let set_status = |status: &'static str| {
        sqlx::query(
            "insert into target_state (target_id, status) values ($1, $2)
             on conflict (target_id) do update set status = excluded.status",
        )
        .bind(id)
        .bind(status)
        .execute(&app.pg.pool)
    };
    set_status("up").await.unwrap();
    let badge_token = app.url(&format!("/api/targets/{id}/badge-token"));
    let token: Value = c.post(badge_token).send().await.unwrap().json().await.unwrap();
    let url = app.url(&format!("/badge/{}/status.svg", token["token"].as_str().unwrap()));
    let badge = || async { reqwest::get(url.clone()).await.unwrap().text().await.unwrap() };

    // Act
    let first = badge().await;
    let cached_at = Instant::now();
    set_status("down").await.unwrap();
    let within_ttl = badge().await;
    let checked_within = cached_at.elapsed();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !badge().await.contains(">down<") {
        assert!(Instant::now() < deadline, "the badge never changed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown_after = cached_at.elapsed();

    // Assert
    assert!(first.contains(">up<"), "{first}");
    if checked_within < ttl {
        assert_eq!(within_ttl, first, "the cached badge is reused within the TTL");
    }
    assert!(
        shown_after + Duration::from_millis(200) >= ttl,
        "shown after {shown_after:?}"
    );
}

#[tokio::test]
async fn a_closed_installation_refuses_registrations_before_hashing_and_a_full_hash_queue_answers_503() {
    // Arrange: one hash at a time and none waiting, so any burst that reaches hashing gets 503.
    let app = spawn_app_with(|c| {
        c.api.registration = backend::config::Registration::Closed;
        c.edge.hash_concurrency = 1;
        c.edge.hash_queue = 0;
    })
    .await;
    app.user("admin@example.com").await;
    let c = client();
    let account = |i: usize| json!({"email": format!("u{i}@example.com"), "password": PASSWORD});
    let register = |i: usize| send_json(c.post(app.url("/api/auth/register")), account(i));
    let login = |i: usize| send_json(c.post(app.url("/api/auth/login")), account(i));

    // Act
    let registrations = futures::future::join_all((0..20).map(register)).await;
    let logins = futures::future::join_all((0..20).map(login)).await;

    // Assert
    let registered: Vec<u16> = registrations.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(registered, [403; 20], "refused before any hash");
    assert!(logins.iter().all(|r| matches!(r.status().as_u16(), 401 | 429 | 503)));
    let busy: Vec<&reqwest::Response> = logins.iter().filter(|r| r.status() == 503).collect();
    assert!(!busy.is_empty(), "a burst of logins fills the hash queue");
    assert!(busy.iter().all(|r| r.headers().contains_key("retry-after")));
}

#[tokio::test]
async fn wrong_current_passwords_count_as_failed_logins_of_that_client() {
    // Arrange
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;

    // Act
    let guess = json!({"current_password": "guess guess guess", "new_password": "another long password"});
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = send_json(c.post(app.url("/api/auth/password")), &guess).await;
        statuses.push(r.status().as_u16());
    }
    let elsewhere = login(
        &client_from("127.0.0.2"),
        app.url("/api/auth/login"),
        "a@example.com",
        PASSWORD,
        None,
    )
    .await;

    // Assert
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    assert_eq!(elsewhere, 200, "the owner still signs in from another client");
}
