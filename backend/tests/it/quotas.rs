//! Per-user quotas, their admin overrides, and the private-targets permission.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn small_quotas(c: &mut backend::Config) {
    c.api.quotas = backend::quotas::QuotaConfig {
        max_targets: 2,
        max_timeout_seconds: 15,
        max_headers: 2,
        max_header_bytes: 100,
        max_body_bytes: 10,
        max_assertions: 1,
        max_spec_bytes: 2000,
        max_maintenance_windows: 1,
        max_status_pages: 1,
        max_targets_per_page: 1,
        max_channels: 1,
        test_now_per_minute: 10,
    };
    c.api.min_interval_seconds = 10;
    c.api.telegram_bot_username = Some("pingtower_test_bot".into());
}

fn spec_with(extra: Value) -> Value {
    let mut spec = json!({"kind": "http", "url": "https://q.example.com/"});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

/// Asserts a refusal with `status` naming `field` and, in its message, `limit`.
async fn assert_over(r: reqwest::Response, status: u16, field: &str, limit: &str) {
    let what = format!("{field} over {limit}");
    assert_eq!(r.status().as_u16(), status, "{what}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(limit), "{what}: the message names the limit: {body}");
}

#[tokio::test]
async fn every_quota_is_refused_with_its_field_and_limit_named() {
    let app = spawn_app_with(small_quotas).await;
    let c = app.user("a@example.com").await;
    let long = "v".repeat(60);
    let cases = [
        (json!({"interval_seconds": 5}), json!({}), 422, "interval_seconds", "10"),
        (json!({"timeout_seconds": 16}), json!({}), 422, "timeout_seconds", "15"),
        (json!({}), json!({"timeout_ms": 15001}), 422, "spec.timeout_ms", "15"),
        (
            json!({"interval_seconds": 10, "timeout_seconds": 10}),
            json!({}),
            422,
            "timeout_seconds",
            "interval",
        ),
        (
            json!({}),
            json!({"headers": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}, {"name": "c", "value": "3"}]}),
            422,
            "spec.headers",
            "2",
        ),
        (
            json!({}),
            json!({"headers": [{"name": "a", "value": long}, {"name": "b", "value": long}]}),
            413,
            "spec.headers",
            "100",
        ),
        (
            json!({}),
            json!({"method": "POST", "body": "eleven byte"}),
            413,
            "spec.body",
            "10",
        ),
        (
            json!({}),
            json!({"assertions": [{"type": "body_contains", "value": "a"}, {"type": "body_contains", "value": "b"}]}),
            422,
            "spec.assertions",
            "1",
        ),
        (
            json!({}),
            json!({"url": format!("https://q.example.com/{}", "p".repeat(2100))}),
            413,
            "spec",
            "2000",
        ),
    ];
    for (top, spec, status, field, limit) in cases {
        let mut body = json!({"name": "q", "spec": spec_with(spec)});
        for (k, v) in top.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = send_json(c.post(app.url("/api/targets")), &body).await;
        assert_over(r, status, field, limit).await;
    }
    let list = get_json(&c, app.url("/api/targets")).await;
    assert_eq!(list["total"], 0, "nothing over a quota was stored");

    let t1 = create_target(&app, &c, &http_target("one", "https://one.example.com/")).await;
    let t2 = create_target(&app, &c, &http_target("two", "https://two.example.com/")).await;
    let r = send_json(
        c.post(app.url("/api/targets")),
        &http_target("three", "https://three.example.com/"),
    )
    .await;
    assert_over(r, 422, "max_targets", "2").await;

    let window = json!({"name": "w", "target_id": t1["id"], "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-01T01:00:00Z"});
    let r = send_json(c.post(app.url("/api/maintenance")), &window).await;
    assert_eq!(r.status(), 201);
    let r = send_json(c.post(app.url("/api/maintenance")), &window).await;
    assert_over(r, 422, "max_maintenance_windows", "1").await;

    let r = c
        .post(app.url("/api/status-pages"))
        .json(&json!({"slug": "two-targets", "title": "T", "targets": [
            {"target_id": t1["id"], "position": 1}, {"target_id": t2["id"], "position": 2}]}))
        .send()
        .await
        .unwrap();
    assert_over(r, 422, "targets", "1").await;
    let page = json!({"slug": "page-one", "title": "T", "targets": [{"target_id": t1["id"], "position": 1}]});
    let r = send_json(c.post(app.url("/api/status-pages")), &page).await;
    assert_eq!(r.status(), 201);
    let mut second = page.clone();
    second["slug"] = json!("page-two");
    let r = send_json(c.post(app.url("/api/status-pages")), &second).await;
    assert_over(r, 422, "max_status_pages", "1").await;

    app.email_channel(&c, "one@example.com").await;
    let r = send_json(
        c.post(app.url("/api/channels/email")),
        &json!({"address": "two@example.com"}),
    )
    .await;
    assert_over(r, 422, "max_channels", "1").await;
    let r = c.post(app.url("/api/channels/telegram/link")).send().await.unwrap();
    assert_over(r, 422, "max_channels", "1").await;
}

#[tokio::test]
async fn concurrent_creates_never_pass_the_target_quota() {
    let app = spawn_app_with(small_quotas).await;
    let c = app.user("a@example.com").await;
    let mut calls = Vec::new();
    for i in 0..8 {
        let c = c.clone();
        let url = app.url("/api/targets");
        calls.push(tokio::spawn(async move {
            c.post(url)
                .json(&http_target(&format!("t{i}"), "https://c.example.com/"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    for call in calls {
        match call.await.unwrap() {
            201 => created += 1,
            422 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 2);
    let list = get_json(&c, app.url("/api/targets")).await;
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn an_import_that_would_exceed_the_target_quota_creates_and_changes_nothing() {
    let app = spawn_app_with(small_quotas).await;
    let c = app.user("a@example.com").await;
    create_target(&app, &c, &http_target("kept", "https://kept.example.com/")).await;
    let doc = json!({"version": 1, "targets": [
        {"name": "kept", "spec": {"kind": "http", "url": "https://changed.example.com/"}},
        {"name": "new1", "spec": {"kind": "http", "url": "https://new1.example.com/"}},
        {"name": "new2", "spec": {"kind": "http", "url": "https://new2.example.com/"}}
    ]});
    let r = send_json(c.post(app.url("/api/targets/import")), &doc).await;
    assert_over(r, 422, "max_targets", "2").await;
    let list = get_json(&c, app.url("/api/targets")).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(
        list["items"][0]["spec"]["url"], "https://kept.example.com/",
        "not updated either"
    );
}

#[tokio::test]
async fn the_eleventh_test_now_in_a_minute_is_429_with_retry_after() {
    let app = spawn_app().await;
    let worker = spawn_test_worker(&app);
    let c = app.user("a@example.com").await;
    let body = http_target("t", "https://t.example.com/");
    for i in 0..10 {
        let r = send_json(c.post(app.url("/api/targets/test")), &body).await;
        assert_eq!(r.status(), 200, "call {i}");
    }
    let r = send_json(c.post(app.url("/api/targets/test")), &body).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Per user: another user is not held back.
    let other = app.user("b@example.com").await;
    let r = send_json(other.post(app.url("/api/targets/test")), &body).await;
    assert_eq!(r.status(), 200);
    worker.cancel();
}

#[tokio::test]
async fn an_admin_overrides_quotas_per_user_and_they_show_in_me_and_the_admin_list() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let user = app.user("user@example.com").await;
    let me = get_json(&user, app.url("/api/auth/me")).await;
    assert_eq!(me["email"], "user@example.com");
    assert_eq!(me["quotas"]["max_targets"], 1000);
    assert_eq!(me["quotas"]["test_now_per_minute"], 10);
    assert_eq!(me["may_private_targets"], false);
    let id = me["id"].as_str().unwrap().to_owned();

    let set = |c: &reqwest::Client, body: Value| send_json(c.patch(app.url(&format!("/api/admin/users/{id}"))), body);
    let r = user.get(app.url("/api/admin/users")).send().await.unwrap();
    assert_error(r, 403, "forbidden", None).await;
    let r = set(&user, json!({"may_private_targets": true})).await;
    assert_error(r, 403, "forbidden", None).await;

    let r = set(
        &admin,
        json!({"quota_overrides": {"max_targets": 1, "max_channels": 3}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["quotas"]["max_targets"], 1);
    assert_eq!(shown["quota_overrides"]["max_targets"], 1);
    assert_eq!(shown["quota_overrides"]["max_headers"], Value::Null);
    let me = get_json(&user, app.url("/api/auth/me")).await;
    assert_eq!(me["quotas"]["max_targets"], 1);
    assert_eq!(me["quotas"]["max_channels"], 3);
    create_target(&app, &user, &http_target("one", "https://one.example.com/")).await;
    let r = send_json(
        user.post(app.url("/api/targets")),
        &http_target("two", "https://two.example.com/"),
    )
    .await;
    assert_over(r, 422, "max_targets", "1").await;

    let list = get_json(&admin, app.url("/api/admin/users?limit=1")).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["email"], "admin@example.com");
    assert_eq!(list["items"][0]["may_private_targets"], true);
    let next = list["next_cursor"].as_str().unwrap();
    let page2 = get_json(&admin, app.url(&format!("/api/admin/users?limit=1&cursor={next}"))).await;
    assert_eq!(page2["items"][0]["email"], "user@example.com");
    assert_eq!(page2["items"][0]["target_count"], 1);
    assert_eq!(page2["items"][0]["quotas"]["max_targets"], 1);

    // null: back to the default; the other override stays.
    let r = set(&admin, json!({"quota_overrides": {"max_targets": null}})).await;
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["quotas"]["max_targets"], 1000);
    assert_eq!(shown["quotas"]["max_channels"], 3);
    create_target(&app, &user, &http_target("two", "https://two.example.com/")).await;

    let r = set(&admin, json!({"quota_overrides": {"bogus": 1}})).await;
    assert_error(r, 422, "validation", Some("quota_overrides.bogus")).await;
    let r = send_json(
        admin.patch(app.url(&format!("/api/admin/users/{}", uuid::Uuid::now_v7()))),
        &json!({"may_private_targets": true}),
    )
    .await;
    assert_error(r, 404, "not_found", None).await;
}

#[tokio::test]
async fn private_targets_need_the_permission_which_an_admin_grants_and_a_revoke_reaches_the_next_job() {
    let app = spawn_app_with(|c| c.api.min_interval_seconds = 1).await;
    let stop = CancellationToken::new();
    let jobs = collect_jobs(&app.broker, stop.clone()).await;
    let admin = app.user("admin@example.com").await;
    let user = app.user("user@example.com").await;
    let id = get_json(&user, app.url("/api/auth/me")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut private = vec![
        (json!({"kind": "http", "url": "http://127.0.0.1:8080/"}), "spec.url"),
        (
            json!({"kind": "http", "url": "http://127.0.0.1:8123/?query=SELECT%201"}),
            "spec.url",
        ),
        (
            json!({"kind": "http", "url": "http://127.0.0.1:15672/api/whoami"}),
            "spec.url",
        ),
        (json!({"kind": "tcp", "host": "127.0.0.1", "port": 5432}), "spec.host"),
    ];
    private.extend(private_specs());
    for (i, (spec, field)) in private.iter().enumerate() {
        let r = send_json(user.post(app.url("/api/targets")), &json!({"name": "x", "spec": spec})).await;
        let body = assert_error(r, 422, "validation", Some(field)).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("blocked") || message.contains("not allowed"),
            "{spec}: {message}"
        );
        // Test now of the same spec is refused the same way (a few: it has a per-minute quota).
        if i >= 4 {
            continue;
        }
        let r = send_json(
            user.post(app.url("/api/targets/test")),
            &json!({"name": "x", "spec": spec}),
        )
        .await;
        assert_error(r, 422, "validation", Some(field)).await;
    }
    // The admin holds the permission, but not for the suite's own services.
    create_target(&app, &admin, &http_target("admin local", "http://127.0.0.1:9/")).await;
    let suite = [
        (
            json!({"kind": "http", "url": "http://127.0.0.1:8123/?query=SELECT%201"}),
            "spec.url",
        ),
        (json!({"kind": "http", "url": "http://localhost:8123/"}), "spec.url"),
        (json!({"kind": "http", "url": "http://127.0.0.2:8123/"}), "spec.url"),
        (
            json!({"kind": "http", "url": "http://127.0.0.1:15672/api/whoami"}),
            "spec.url",
        ),
        (json!({"kind": "tcp", "host": "127.0.0.1", "port": 5432}), "spec.host"),
        (json!({"kind": "tcp", "host": "127.0.0.1", "port": 5672}), "spec.host"),
    ];
    for (spec, field) in &suite {
        let r = send_json(
            admin.post(app.url("/api/targets")),
            json!({"name": "suite", "spec": spec}),
        )
        .await;
        let body = assert_error(r, 422, "validation", Some(field)).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("own services"), "{spec}: {message}");
    }

    let may_private = |may: bool| {
        send_json(
            admin.patch(app.url(&format!("/api/admin/users/{id}"))),
            json!({"may_private_targets": may}),
        )
    };
    assert_eq!(may_private(true).await.status(), 200);
    assert_eq!(
        get_json(&user, app.url("/api/auth/me")).await["may_private_targets"],
        true
    );
    let mut body = http_target("user local", "http://127.0.0.1:9/");
    body["interval_seconds"] = json!(1);
    body["timeout_seconds"] = json!(0.5);
    let target = create_target(&app, &user, &body).await;
    let target_id: uuid::Uuid = target["id"].as_str().unwrap().parse().unwrap();
    let owner: uuid::Uuid = id.parse().unwrap();
    wait_until(20, "a job allowed private addresses", || {
        jobs.lock()
            .unwrap()
            .iter()
            .any(|j| j.target_id == target_id && j.allow_private && j.owner_id == Some(owner))
    })
    .await;

    assert_eq!(may_private(false).await.status(), 200);
    let revoked_at = chrono::Utc::now();
    wait_until(20, "a job after the revoke", || {
        jobs.lock()
            .unwrap()
            .iter()
            .any(|j| j.target_id == target_id && j.scheduled_for > revoked_at + chrono::Duration::seconds(1))
    })
    .await;
    let late: Vec<bool> = jobs
        .lock()
        .unwrap()
        .iter()
        .filter(|j| j.target_id == target_id && j.scheduled_for > revoked_at + chrono::Duration::seconds(1))
        .map(|j| j.allow_private)
        .collect();
    assert!(late.iter().all(|a| !a), "jobs after the revoke: {late:?}");
    assert_eq!(
        get_json(&user, app.url("/api/auth/me")).await["may_private_targets"],
        false
    );
    stop.cancel();
}
