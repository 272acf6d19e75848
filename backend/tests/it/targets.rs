use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, create_target, get_json, http_target, private_specs, send_json, spawn_app, spawn_app_with,
    spawn_test_worker,
};

#[tokio::test]
async fn a_target_is_created_with_defaults_read_updated_and_deleted() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;

    let t = create_target(&app, &c, &http_target("Example", "https://example.com/health")).await;
    assert_eq!(t["kind"], "http");
    assert_eq!(t["interval_seconds"], 60);
    assert_eq!(t["regions"], json!(["default"]));
    assert_eq!(t["failure_threshold"], 3);
    assert_eq!(t["success_threshold"], 2);
    assert_eq!(t["timeout_seconds"], 10.0);
    assert_eq!(t["state"]["status"], "unknown");
    assert_eq!(t["spec"]["method"], "GET", "spec defaults are filled in: {t}");
    let id = t["id"].as_str().unwrap();

    let got = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    assert_eq!(got["name"], "Example");

    let mut body = http_target("Renamed", "https://example.com/other");
    body["interval_seconds"] = json!(30);
    body["timeout_seconds"] = json!(5);
    body["tags"] = json!(["prod", "api"]);
    body["paused"] = json!(true);
    let r = send_json(c.put(app.url(&format!("/api/targets/{id}"))), &body).await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["interval_seconds"], 30);
    assert_eq!(updated["spec"]["timeout_ms"], 5000);
    assert_eq!(updated["tags"], json!(["prod", "api"]));
    assert_eq!(updated["state"]["status"], "paused");

    let deleted = c.delete(app.url(&format!("/api/targets/{id}"))).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = c.get(app.url(&format!("/api/targets/{id}"))).send().await.unwrap();
    assert_error(gone, 404, "not_found", None).await;
}

#[tokio::test]
async fn every_kind_of_check_is_accepted_with_its_options() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let specs = [
        json!({"kind": "http", "url": "https://example.com", "method": "POST", "headers": [{"name": "X-Key", "value": "v"}],
               "body": "{}", "auth": {"type": "bearer", "token": "t"}, "expected_status": [{"from": 200, "to": 204}],
               "follow_redirects": false, "max_redirects": 3, "timeout_ms": 5000, "verify_tls": false, "tls_warn_days": 7,
               "degraded_above_ms": 800, "https_only": true, "expected_final_url": "https://example.com/",
               "resolver": {"address": "1.1.1.1:53", "protocol": "tcp"},
               "assertions": [{"type": "body_contains", "value": "ok"}, {"type": "body_matches", "pattern": "^o.$"},
                              {"type": "json_path_equals", "path": "$.status", "value": "ok"},
                              {"type": "json_path_exists", "path": "$.items[0].id"},
                              {"type": "header_equals", "name": "content-type", "value": "application/json"}]}),
        json!({"kind": "tcp", "host": "example.com", "port": 5432, "expected_banner": "SSH"}),
        json!({"kind": "dns", "name": "example.com", "record_type": "MX", "expected_answers": ["10 mail.example.com."]}),
        json!({"kind": "tls", "host": "example.com", "port": 443, "sni": "example.com", "warn_days": 21}),
        json!({"kind": "icmp", "host": "2001:db8::1", "count": 5, "interval_ms": 100, "timeout_ms": 800,
               "payload_size": 1400, "degraded_loss_percent": 20, "degraded_above_ms": 150}),
    ];
    for (i, spec) in specs.iter().enumerate() {
        let t = create_target(&app, &c, &json!({"name": format!("t{i}"), "spec": spec})).await;
        assert_eq!(t["kind"], spec["kind"]);
        for (k, v) in spec.as_object().unwrap() {
            // Secrets come back masked and marked (see it::secrets).
            let expected = match k.as_str() {
                "auth" => json!({"type": "bearer", "token": "********", "secret": true}),
                "headers" => json!([{"name": "X-Key", "value": "********", "secret": true}]),
                _ => v.clone(),
            };
            assert_eq!(t["spec"][k], expected, "{k} round-trips");
        }
    }
}

#[tokio::test]
async fn each_invalid_field_gives_422_naming_it() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let http = |extra: Value| {
        let mut spec = json!({"kind": "http", "url": "https://example.com"});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        json!({"name": "x", "spec": spec})
    };
    let icmp = |extra: Value| {
        let mut spec = json!({"kind": "icmp", "host": "192.0.2.1"});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        json!({"name": "x", "spec": spec})
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "", "spec": {"kind": "http", "url": "https://example.com"}}),
            "name",
        ),
        (
            json!({"name": "a\r\nb", "spec": {"kind": "http", "url": "https://example.com"}}),
            "name",
        ),
        (json!({"spec": {"kind": "http", "url": "https://example.com"}}), "name"),
        (json!({"name": "x", "spec": {"kind": "gopher"}}), "spec.kind"),
        (json!({"name": "x", "spec": {"kind": "http"}}), "spec.url"),
        (http(json!({"url": "not a url"})), "spec.url"),
        (http(json!({"url": "ftp://example.com"})), "spec.url"),
        (http(json!({"method": "BREW"})), "spec.method"),
        (
            http(json!({"headers": [{"name": "Bad Header", "value": "x"}]})),
            "spec.headers[0].name",
        ),
        (
            http(json!({"headers": [{"name": "X-A", "value": "a\r\nInjected: 1"}]})),
            "spec.headers[0].value",
        ),
        (
            http(json!({"expected_status": [{"from": 300, "to": 200}]})),
            "spec.expected_status[0]",
        ),
        (
            http(json!({"assertions": [{"type": "body_matches", "pattern": "(unclosed"}]})),
            "spec.assertions[0].pattern",
        ),
        (
            http(json!({"assertions": [{"type": "json_path_exists", "path": "$[abc"}]})),
            "spec.assertions[0].path",
        ),
        (http(json!({"timeout_ms": "soon"})), "spec.timeout_ms"),
        (http(json!({"timeout_ms": 60000})), "spec.timeout_ms"),
        (
            json!({"name": "x", "spec": {"kind": "tcp", "host": "example.com", "port": 0}}),
            "spec.port",
        ),
        (
            json!({"name": "x", "spec": {"kind": "tcp", "host": "example.com", "port": 70000}}),
            "spec.port",
        ),
        (
            json!({"name": "x", "spec": {"kind": "tcp", "host": "bad host!", "port": 80}}),
            "spec.host",
        ),
        (
            json!({"name": "x", "spec": {"kind": "dns", "name": "example.com", "record_type": "XYZ"}}),
            "spec.record_type",
        ),
        (
            json!({"name": "x", "spec": {"kind": "dns", "name": "exa mple.com", "record_type": "A"}}),
            "spec.name",
        ),
        (
            json!({"name": "x", "spec": {"kind": "tls", "host": "example.com", "sni": "-bad-"}}),
            "spec.sni",
        ),
        (json!({"name": "x", "spec": {"kind": "icmp"}}), "spec.host"),
        (icmp(json!({"host": "bad host!"})), "spec.host"),
        (icmp(json!({"count": 0})), "spec.count"),
        (icmp(json!({"count": 11})), "spec.count"),
        (icmp(json!({"count": -1})), "spec.count"),
        (icmp(json!({"interval_ms": 9})), "spec.interval_ms"),
        (icmp(json!({"interval_ms": 5001})), "spec.interval_ms"),
        (icmp(json!({"timeout_ms": 10001})), "spec.timeout_ms"),
        (icmp(json!({"payload_size": 1401})), "spec.payload_size"),
        (
            icmp(json!({"degraded_loss_percent": 100})),
            "spec.degraded_loss_percent",
        ),
        (icmp(json!({"degraded_above_ms": 0})), "spec.degraded_above_ms"),
        (
            // 10 × 5000 ms + 10 s: longer than a 60-second interval allows.
            icmp(json!({"count": 10, "interval_ms": 5000, "timeout_ms": 10000})),
            "spec.timeout_ms",
        ),
        (
            json!({"name": "x", "interval_seconds": 5, "spec": {"kind": "http", "url": "https://example.com"}}),
            "interval_seconds",
        ),
        (
            json!({"name": "x", "interval_seconds": 30, "timeout_seconds": 30, "spec": {"kind": "http", "url": "https://example.com"}}),
            "timeout_seconds",
        ),
        (
            json!({"name": "x", "regions": ["mars"], "spec": {"kind": "http", "url": "https://example.com"}}),
            "regions[0]",
        ),
        (
            json!({"name": "x", "tags": ["ok", "bad\ntag"], "spec": {"kind": "http", "url": "https://example.com"}}),
            "tags[1]",
        ),
        (
            json!({"name": "x", "failure_threshold": 0, "spec": {"kind": "http", "url": "https://example.com"}}),
            "failure_threshold",
        ),
        (
            json!({"name": "x", "kind": "tcp", "spec": {"kind": "http", "url": "https://example.com"}}),
            "kind",
        ),
    ];
    for (body, field) in cases {
        let r = send_json(c.post(app.url("/api/targets")), &body).await;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 422, "{body} → {v}");
        assert_eq!(v["error"]["code"], "validation", "{v}");
        assert_eq!(v["error"]["field"], field, "{body} → {v}");
    }
    let list = get_json(&c, app.url("/api/targets")).await;
    assert_eq!(list["total"], 0, "nothing invalid was stored");
}

#[tokio::test]
async fn private_addresses_are_refused_at_submit_unless_allowed() {
    let strict = spawn_app_with(|c| c.guard.allow_private_targets = false).await;
    let c = strict.user("a@example.com").await;
    let mut cases = vec![(json!({"kind": "http", "url": "http://127.0.0.1:8080/"}), "spec.url")];
    cases.extend(private_specs());
    for (spec, field) in cases {
        let r = send_json(c.post(strict.url("/api/targets")), json!({"name": "x", "spec": spec})).await;
        assert_error(r, 422, "validation", Some(field)).await;
    }
    create_target(&strict, &c, &http_target("public", "https://93.184.215.14/")).await;

    let lax = spawn_app().await;
    let c = lax.user("a@example.com").await;
    create_target(&lax, &c, &http_target("local", "http://127.0.0.1:9/")).await;
}

#[tokio::test]
async fn the_list_paginates_filters_and_sorts() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    for i in 0..12 {
        let mut body = http_target(&format!("svc-{i:02}"), &format!("https://svc{i}.example.com/"));
        body["tags"] = json!([if i % 2 == 0 { "even" } else { "odd" }]);
        body["paused"] = json!(i == 3);
        create_target(&app, &c, &body).await;
    }
    let page = get_json(&c, app.url("/api/targets?limit=5")).await;
    assert_eq!(page["total"], 12);
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["items"][0]["name"], "svc-00");
    let mut seen = 5;
    let mut cursor = page["next_cursor"].as_str().unwrap().to_owned();
    loop {
        let p = get_json(&c, app.url(&format!("/api/targets?limit=5&cursor={cursor}"))).await;
        seen += p["items"].as_array().unwrap().len();
        match p["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, 12);

    let odd = get_json(&c, app.url("/api/targets?tag=odd")).await;
    assert_eq!(odd["total"], 6);
    let paused = get_json(&c, app.url("/api/targets?status=paused")).await;
    assert_eq!(paused["total"], 1);
    assert_eq!(paused["items"][0]["name"], "svc-03");
    let text = get_json(&c, app.url("/api/targets?q=svc1")).await;
    assert_eq!(text["total"], 3, "svc1, svc10, svc11 by address: {text}");
    let desc = get_json(&c, app.url("/api/targets?sort=name&order=desc&limit=1")).await;
    assert_eq!(desc["items"][0]["name"], "svc-11");
    let by_status = get_json(&c, app.url("/api/targets?sort=status&order=desc&limit=1")).await;
    assert_eq!(by_status["items"][0]["state"]["status"], "paused");
    // Filters together, each value bound in its place: odd tags among svc1, svc10, svc11.
    let both = get_json(&c, app.url("/api/targets?tag=odd&q=svc1&sort=name&order=desc&limit=1")).await;
    assert_eq!(both["total"], 2, "{both}");
    assert_eq!(both["items"][0]["name"], "svc-11");
    assert!(both["next_cursor"].is_string(), "{both}");
    let changed = get_json(&c, app.url("/api/targets?sort=changed&order=desc&limit=500")).await;
    let since: Vec<chrono::DateTime<chrono::Utc>> = changed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"]["since"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(since.len(), 12);
    assert!(since.windows(2).all(|w| w[0] >= w[1]), "latest change first: {since:?}");
    let bad = c.get(app.url("/api/targets?sort=color")).send().await.unwrap();
    assert_error(bad, 422, "validation", Some("sort")).await;
    let bad = c.get(app.url("/api/targets?limit=501")).send().await.unwrap();
    assert_error(bad, 422, "validation", Some("limit")).await;
}

#[tokio::test]
async fn export_then_import_on_another_installation_reproduces_the_targets() {
    let a = spawn_app().await;
    let ca = a.user("a@example.com").await;
    let mut body = json!({"name": "dns", "interval_seconds": 20, "tags": ["x"], "regions": ["default"],
        "failure_threshold": 5, "success_threshold": 1, "paused": true,
        "spec": {"kind": "dns", "name": "example.com", "record_type": "AAAA"}});
    create_target(&a, &ca, &body).await;
    create_target(&a, &ca, &http_target("web", "https://example.com/")).await;

    for format in ["yaml", "json"] {
        let r = ca
            .get(a.url(&format!("/api/targets/export?format={format}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with(&format!("application/{format}")),
            "{content_type}"
        );
        let doc = r.bytes().await.unwrap();

        let b = spawn_app().await;
        let cb = b.user("b@example.com").await;
        let import = || {
            cb.post(b.url("/api/targets/import"))
                .header("content-type", content_type.clone())
                .body(doc.clone())
                .send()
        };
        let r = import().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"created": 2, "updated": 0}));
        let again = import().await.unwrap();
        assert_eq!(
            again.json::<Value>().await.unwrap(),
            json!({"created": 0, "updated": 2}),
            "matched by name"
        );

        let exported_b = cb.get(b.url(&format!("/api/targets/export?format={format}"))).send();
        let exported_b = exported_b.await.unwrap().bytes().await.unwrap();
        assert_eq!(exported_b, doc, "export → import → export is the identity ({format})");
    }

    body["spec"]["record_type"] = json!("BOGUS");
    let doc = json!({"version": 1, "targets": [http_target("ok", "https://example.com/"), body]});
    let bad = send_json(ca.post(a.url("/api/targets/import")), doc).await;
    assert_error(bad, 422, "validation", Some("targets[1].spec.record_type")).await;
}

/// Asks "Test now" of an unsaved HTTP target with `c`; the answer.
async fn test_adhoc(app: &TestApp, c: &reqwest::Client) -> reqwest::Response {
    send_json(
        c.post(app.url("/api/targets/test")),
        http_target("adhoc", "https://example.com/"),
    )
    .await
}

#[tokio::test]
async fn test_now_returns_the_check_result_of_a_pinger() {
    let app = spawn_app().await;
    let worker = spawn_test_worker(&app);
    let c = app.user("a@example.com").await;

    let r = test_adhoc(&app, &c).await;
    assert_eq!(r.status(), 200);
    let result: Value = r.json().await.unwrap();
    assert_eq!(result["pinger_id"], "test-worker");
    assert_eq!(result["target_id"], "00000000-0000-0000-0000-000000000000");

    let t = create_target(&app, &c, &http_target("saved", "https://example.com/")).await;
    let id = t["id"].as_str().unwrap();
    let r = c
        .post(app.url(&format!("/api/targets/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let result: Value = r.json().await.unwrap();
    assert_eq!(result["target_id"], id);
    assert_eq!(result["check_kind"], "http");
    worker.cancel();
}

#[tokio::test]
async fn test_now_answers_504_when_no_pinger_replies_in_time() {
    let app = spawn_app_with(|c| c.api.test_now_timeout = Duration::from_secs(1)).await;
    let c = app.user("a@example.com").await;
    let r = test_adhoc(&app, &c).await;
    assert_eq!(r.status(), 504);
}

/// The pinger binary of this workspace (built on demand when the workspace build has not).
fn pinger_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = profile_dir.join("pinger");
    if !bin.exists() {
        let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "pinger", "--bin", "pinger"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the pinger builds");
    }
    bin
}

#[tokio::test]
async fn test_now_returns_a_real_check_result_from_a_running_pinger() {
    // Arrange: a local HTTP service, the backend, and the real pinger on the same vhost.
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_addr = service.local_addr().unwrap();
    tokio::spawn(async move {
        let app = axum::Router::new().route("/health", axum::routing::get(|| async { "all good" }));
        axum::serve(service, app).await.unwrap();
    });
    let app = spawn_app().await;
    use secrecy::ExposeSecret;
    let _pinger = tokio::process::Command::new(pinger_binary())
        .env("PINGTOWER_AMQP_URL", app.config.amqp.amqp_url.expose_secret())
        .env("PINGTOWER_ALLOW_PRIVATE_TARGETS", "true")
        .env("PINGTOWER_HTTP_ADDR", "127.0.0.1:0")
        .env("PINGTOWER_PINGER_ID", "real-pinger")
        .env("PINGTOWER_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the pinger starts");
    let c = app.user("a@example.com").await;
    let mut body = http_target("local", &format!("http://{service_addr}/health"));
    body["spec"]["assertions"] = json!([{"type": "body_contains", "value": "good"}]);

    // Act (the pinger may still be connecting: retry a 504 a few times).
    let mut result = Value::Null;
    for _ in 0..3 {
        let r = send_json(c.post(app.url("/api/targets/test")), &body).await;
        if r.status() == 200 {
            result = r.json().await.unwrap();
            break;
        }
        assert_eq!(r.status(), 504, "{}", r.text().await.unwrap());
    }

    // Assert
    assert_eq!(result["pinger_id"], "real-pinger", "{result}");
    assert_eq!(result["outcome"], "up", "{result}");
    assert_eq!(result["status_code"], 200, "{result}");
    assert_eq!(result["check_kind"], "http");
}
