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
    let tokens = get_json(&b, app.url("/api/tokens")).await;
    assert_eq!(tokens["total"], 1, "only B's own token");

    // A's things are untouched.
    let still = get_json(&a, app.url(&format!("/api/targets/{target}"))).await;
    assert_eq!(still["name"], "secret-target");
}
