use serde_json::Value;

use crate::helpers::{client, get_json, spawn_app_with, web_dir};

#[tokio::test]
async fn the_web_ui_is_served_with_spa_fallback_but_api_paths_stay_json() {
    let dir = web_dir();
    let web = dir.clone();
    let app = spawn_app_with(move |c| c.api.web_dir = web).await;
    let c = client();

    let root = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(root.status(), 200);
    assert!(root.text().await.unwrap().contains("dashboard"));
    let js = c.get(app.url("/assets/app.js")).send().await.unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let deep = c.get(app.url("/targets/123/settings")).send().await.unwrap();
    assert_eq!(deep.status(), 200);
    assert!(deep.text().await.unwrap().contains("dashboard"), "SPA fallback");
    let status_page = c.get(app.url("/s/my-page")).send().await.unwrap();
    assert!(status_page.text().await.unwrap().contains("dashboard"));

    for path in ["/api/nope", "/badge/x/unknown.svg"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "not_found");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_openapi_document_names_every_route() {
    let app = spawn_app_with(|_| {}).await;
    let doc = get_json(&client(), app.url("/api/openapi.json")).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let api_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API.md")).unwrap();
    // Every `/api/...` route of the contract appears in the document.
    let re =
        regex::Regex::new(r"`(?:GET|POST|PUT|PATCH|DELETE)(?:\|(?:GET|POST|PUT|PATCH|DELETE))*\s+(/[^ `?]+)").unwrap();
    let mut checked = 0;
    for cap in re.captures_iter(&api_md) {
        let path = &cap[1];
        if path.contains("status.svg") {
            continue;
        }
        assert!(paths.contains_key(path), "{path} is missing from /api/openapi.json");
        checked += 1;
    }
    assert!(checked > 30, "checked {checked} routes");
    assert!(paths["/api/targets"]["post"]["requestBody"].is_object());
}

#[tokio::test]
async fn a_malformed_id_in_any_path_is_the_json_404() {
    let app = spawn_app_with(|_| {}).await;
    let c = app.user("malformed@example.com").await;
    for path in [
        "/api/targets/not-a-uuid",
        "/api/targets/not-a-uuid/latency",
        "/api/incidents/not-a-uuid",
        "/api/maintenance/not-a-uuid",
        "/api/status-pages/not-a-uuid",
        "/api/channels/not-a-uuid",
        "/api/escalation-policies/not-a-uuid",
    ] {
        let method = if path.starts_with("/api/channels/") {
            reqwest::Method::DELETE
        } else {
            reqwest::Method::GET
        };
        let r = c
            .request(method, app.url(path))
            .header("origin", app.url(""))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{path}");
    }
}
