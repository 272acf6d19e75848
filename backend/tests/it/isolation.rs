//! Two users: B asks for each of A's ids on every route and gets 404; A's things never appear
//! in B's lists or exports.

use serde_json::{Value, json};

use crate::helpers::{create_target, get_json, get_text, http_target, send_json, spawn_app};

#[tokio::test]
async fn another_users_ids_answer_404_on_every_route_and_never_appear_in_lists() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let b_token = app.token(&b, "write").await;
    let t = create_target(&app, &a, &http_target("secret-target", "https://a.example.com/")).await;
    let target = t["id"].as_str().unwrap().to_owned();
    let channel = app.email_channel(&a, "a-ops@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tokens = send_json(a.post(app.url("/api/tokens")), json!({"name": "a", "scope": "read"})).await;
    let token = tokens.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // A group incident of A's (the incident engine makes them; seeded here).
    let group = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into incident_groups (id, owner_id, cause, summary, opened_at, members)
         select $1, owner_id, 'ip:192.0.2.1:connect_refused', 'all resolve to 192.0.2.1', now(), 0
         from targets where id = $2",
    )
    .bind(group)
    .bind(uuid::Uuid::parse_str(&target).unwrap())
    .execute(&app.pg.pool)
    .await
    .unwrap();

    let body = http_target("hijack", "https://b.example.com/");
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/targets/{target}"), None),
        ("PUT", format!("/api/targets/{target}"), Some(body.clone())),
        ("DELETE", format!("/api/targets/{target}"), None),
        ("POST", format!("/api/targets/{target}/test"), None),
        ("GET", format!("/api/targets/{target}/channels"), None),
        (
            "PUT",
            format!("/api/targets/{target}/channels"),
            Some(json!({"channel_ids": []})),
        ),
        ("PATCH", format!("/api/channels/{channel}"), Some(json!({"label": "x"}))),
        ("DELETE", format!("/api/channels/{channel}"), None),
        ("DELETE", format!("/api/tokens/{token}"), None),
        ("GET", format!("/api/targets/{target}/overview"), None),
        ("GET", format!("/api/targets/{target}/results"), None),
        ("GET", format!("/api/targets/{target}/incidents"), None),
        ("GET", format!("/api/incident-groups/{group}"), None),
    ];
    for (method, path, body) in &calls {
        for auth in ["cookie", "bearer"] {
            let mut req = match *method {
                "GET" => b.get(app.url(path)),
                "PUT" => b.put(app.url(path)),
                "PATCH" => b.patch(app.url(path)),
                "POST" => b.post(app.url(path)),
                _ => b.delete(app.url(path)),
            };
            if auth == "bearer" {
                req = req.bearer_auth(&b_token);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 404, "{method} {path} as B ({auth})");
        }
    }

    assert_eq!(get_json(&b, app.url("/api/targets")).await["total"], 0);
    assert_eq!(get_json(&b, app.url("/api/targets?q=secret")).await["total"], 0);
    for format in ["json", "yaml"] {
        let export = get_text(&b, app.url(&format!("/api/targets/export?format={format}"))).await;
        assert!(!export.contains("secret-target"), "{export}");
    }
    assert_eq!(get_json(&b, app.url("/api/channels")).await["total"], 0);
    let groups = get_json(&b, app.url("/api/incident-groups?state=all")).await;
    assert_eq!(groups["total"], 0, "{groups}");
    assert!(!groups.to_string().contains(&group.to_string()), "{groups}");
    let tokens = get_json(&b, app.url("/api/tokens")).await;
    assert_eq!(tokens["total"], 1, "only B's own token");

    // A's things are untouched.
    let still = get_json(&a, app.url(&format!("/api/targets/{target}"))).await;
    assert_eq!(still["name"], "secret-target");
    assert_eq!(get_json(&a, app.url("/api/incident-groups")).await["total"], 1);
}
