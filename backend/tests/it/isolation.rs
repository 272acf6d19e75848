//! Two users: B asks for each of A's ids on every route and gets 404; A's things never appear
//! in B's lists or exports.

use serde_json::{Value, json};

use crate::helpers::{create_target, http_target, spawn_app};

#[tokio::test]
async fn another_users_ids_answer_404_on_every_route_and_never_appear_in_lists() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let b_token = app.token(&b, "write").await;
    let t = create_target(&app, &a, &http_target("secret-target", "https://a.example.com/")).await;
    let target = t["id"].as_str().unwrap().to_owned();
    let channel: Value = a
        .post(app.url("/api/channels/email"))
        .json(&json!({"address": "a-ops@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channel = channel["id"].as_str().unwrap().to_owned();
    let tokens: Value = a
        .post(app.url("/api/tokens"))
        .json(&json!({"name": "a", "scope": "read"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["id"].as_str().unwrap().to_owned();

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

    let list: Value = b
        .get(app.url("/api/targets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
    let search: Value = b
        .get(app.url("/api/targets?q=secret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(search["total"], 0);
    for format in ["json", "yaml"] {
        let export = b
            .get(app.url(&format!("/api/targets/export?format={format}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!export.contains("secret-target"), "{export}");
    }
    let channels: Value = b
        .get(app.url("/api/channels"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channels["total"], 0);
    let tokens: Value = b
        .get(app.url("/api/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["total"], 1, "only B's own token");

    // A's things are untouched.
    let still: Value = a
        .get(app.url(&format!("/api/targets/{target}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still["name"], "secret-target");
}
