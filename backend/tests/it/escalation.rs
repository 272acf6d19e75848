//! Escalation policies (CRUD, owner scoping, validation naming fields, the per-user limit) and
//! the public acknowledgement links of alerts.

use chrono::{Duration, Utc};
use common::ack::Ack;
use common::sealed::SecretKey;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TEST_SECRET_KEY, TestApp, assert_error, create_target, get_json, http_target, id_of, send_json, spawn_app,
};

/// The key the test apps sign with.
fn test_key() -> SecretKey {
    SecretKey::from_config(Some(&SecretString::from(TEST_SECRET_KEY)))
        .expect("a valid key")
        .expect("a key")
}

/// Creates a Slack channel labelled `label` for `c`; its id.
async fn channel(app: &TestApp, c: &reqwest::Client, label: &str) -> Uuid {
    let body = json!({"kind": "slack", "label": label, "secrets": {"url": "https://hooks.example.com/services/T/B/x"}});
    let r = send_json(c.post(app.url("/api/channels")), &body).await;
    assert_eq!(r.status(), 201);
    id_of(&r.json().await.unwrap())
}

/// Creates a target named `name` for `c`; its id.
async fn target(app: &TestApp, c: &reqwest::Client, name: &str) -> Uuid {
    id_of(&create_target(app, c, &http_target(name, "https://example.com/")).await)
}

/// Posts a policy `body` as `c`; the answer.
async fn post_policy(app: &TestApp, c: &reqwest::Client, body: &Value) -> reqwest::Response {
    send_json(c.post(app.url("/api/escalation-policies")), body).await
}

/// A valid one-step policy alerting `channel`.
fn one_step(name: &str, channel: Uuid) -> Value {
    json!({"name": name, "steps": [{"after_minutes": 0, "channel_ids": [channel]}]})
}

#[tokio::test]
async fn a_policy_is_created_listed_read_replaced_and_deleted() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let (ch1, ch2) = (channel(&app, &c, "ops").await, channel(&app, &c, "team").await);
    let (t1, t2) = (target(&app, &c, "api").await, target(&app, &c, "web").await);

    let body = json!({
        "name": "  Night shift ",
        "steps": [
            {"after_minutes": 0, "channel_ids": [ch1], "member_ids": []},
            {"after_minutes": 10, "channel_ids": [ch2, ch1], "member_ids": []}
        ],
        "reminder_minutes": 30,
        "target_ids": [t1],
        "tags": [" prod ", "prod", "db"],
        "unknown": "ignored"
    });
    let r = post_policy(&app, &c, &body).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = id_of(&created);
    assert_eq!(created["name"], "Night shift");
    assert_eq!(created["steps"], body["steps"]);
    assert_eq!(created["reminder_minutes"], 30);
    assert_eq!(created["target_ids"], json!([t1]));
    assert_eq!(created["tags"], json!(["prod", "db"]));
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    // The notifier reads the steps' stored shape.
    let stored: Value = sqlx::query_scalar("select steps from escalation_policies where id = $1")
        .bind(id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(stored, body["steps"]);

    let second = post_policy(&app, &c, &one_step("Day", ch2)).await;
    assert_eq!(second.status(), 201);
    let second = second.json::<Value>().await.unwrap();
    assert_eq!(second["reminder_minutes"], Value::Null);
    assert_eq!(
        (second["target_ids"].clone(), second["tags"].clone()),
        (json!([]), json!([]))
    );
    let list = get_json(&c, app.url("/api/escalation-policies")).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["next_cursor"], Value::Null);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Night shift", "Day"], "oldest first");

    let url = app.url(&format!("/api/escalation-policies/{id}"));
    assert_eq!(get_json(&c, url.clone()).await, created);

    let replacement = json!({"name": "Weekend", "steps": [{"after_minutes": 5, "channel_ids": [ch2], "member_ids": []}], "target_ids": [t2]});
    let r = send_json(c.put(&url), &replacement).await;
    assert_eq!(r.status(), 200);
    let replaced: Value = r.json().await.unwrap();
    assert_eq!(replaced["name"], "Weekend");
    assert_eq!(replaced["steps"], replacement["steps"]);
    assert_eq!(
        replaced["reminder_minutes"],
        Value::Null,
        "absent fields are replaced too"
    );
    assert_eq!(replaced["target_ids"], json!([t2]));
    assert_eq!(replaced["tags"], json!([]));
    assert_eq!(replaced["created_at"], created["created_at"]);
    let rows: Vec<Uuid> = sqlx::query_scalar("select target_id from escalation_policy_targets where policy_id = $1")
        .bind(id)
        .fetch_all(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(rows, [t2]);

    let r = c.delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_error(c.get(&url).send().await.unwrap(), 404, "not_found", None).await;
    let list = get_json(&c, app.url("/api/escalation-policies")).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn another_users_policy_is_404_and_unchanged() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let ch = channel(&app, &a, "ops").await;
    let id = id_of(&post_policy(&app, &a, &one_step("Mine", ch)).await.json().await.unwrap());
    let url = app.url(&format!("/api/escalation-policies/{id}"));
    let b_channel = channel(&app, &b, "theirs").await;

    assert_error(b.get(&url).send().await.unwrap(), 404, "not_found", None).await;
    let r = send_json(b.put(&url), one_step("Stolen", b_channel)).await;
    assert_error(r, 404, "not_found", None).await;
    // An invalid body is still a 404: nothing about the policy is revealed.
    let r = send_json(b.put(&url), json!({"name": "", "steps": []})).await;
    assert_error(r, 404, "not_found", None).await;
    assert_error(b.delete(&url).send().await.unwrap(), 404, "not_found", None).await;
    let list = get_json(&b, app.url("/api/escalation-policies")).await;
    assert_eq!(list["total"], 0);
    let unknown = app.url(&format!("/api/escalation-policies/{}", Uuid::now_v7()));
    assert_error(a.get(&unknown).send().await.unwrap(), 404, "not_found", None).await;

    let mine = get_json(&a, url).await;
    assert_eq!(mine["name"], "Mine");
}

#[tokio::test]
async fn invalid_policies_answer_422_naming_the_field() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let ch = channel(&app, &a, "ops").await;
    let foreign_channel = channel(&app, &b, "theirs").await;
    let t = target(&app, &a, "api").await;
    let foreign_target = target(&app, &b, "theirs").await;
    let step = |m: i32| json!({"after_minutes": m, "channel_ids": [ch]});
    let cases = [
        (json!({"name": "  ", "steps": [step(0)]}), "name"),
        (json!({"name": "x".repeat(101), "steps": [step(0)]}), "name"),
        (json!({"name": "p", "steps": []}), "steps"),
        (
            json!({"name": "p", "steps": (0..11).map(step).collect::<Vec<_>>()}),
            "steps",
        ),
        (
            json!({"name": "p", "steps": [step(5), step(5)]}),
            "steps[1].after_minutes",
        ),
        (
            json!({"name": "p", "steps": [step(0), step(10), step(3)]}),
            "steps[2].after_minutes",
        ),
        (json!({"name": "p", "steps": [step(-1)]}), "steps[0].after_minutes"),
        (
            json!({"name": "p", "steps": [step(0), {"after_minutes": 5, "channel_ids": [ch, foreign_channel]}]}),
            "steps[1].channel_ids[1]",
        ),
        (
            json!({"name": "p", "steps": [{"after_minutes": 0, "channel_ids": []}]}),
            "steps[0].channel_ids",
        ),
        (
            json!({"name": "p", "steps": [step(0)], "reminder_minutes": 4}),
            "reminder_minutes",
        ),
        (
            json!({"name": "p", "steps": [step(0)], "target_ids": [t, foreign_target]}),
            "target_ids[1]",
        ),
        (
            json!({"name": "p", "steps": [step(0)], "target_ids": [t, t]}),
            "target_ids[1]",
        ),
        (json!({"name": "p", "steps": [step(0)], "tags": ["ok", ""]}), "tags[1]"),
        (json!({"name": "p", "steps": [step(0)], "tags": vec!["t"; 21]}), "tags"),
    ];
    for (body, field) in cases {
        let r = post_policy(&app, &a, &body).await;
        assert_error(r, 422, "validation", Some(field)).await;
    }
    // Bad JSON names the field too.
    let r = post_policy(
        &app,
        &a,
        &json!({"name": "p", "steps": [{"after_minutes": "soon", "channel_ids": [ch]}]}),
    )
    .await;
    let body = assert_error(r, 422, "validation", None).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("steps[0].after_minutes"),
        "{body}"
    );
    // Nothing was stored, and a PUT checks the same way.
    assert_eq!(get_json(&a, app.url("/api/escalation-policies")).await["total"], 0);
    let id = id_of(&post_policy(&app, &a, &one_step("ok", ch)).await.json().await.unwrap());
    let url = app.url(&format!("/api/escalation-policies/{id}"));
    let r = send_json(a.put(&url), one_step("p", foreign_channel)).await;
    assert_error(r, 422, "validation", Some("steps[0].channel_ids[0]")).await;
}

#[tokio::test]
async fn a_user_has_at_most_fifty_policies() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let ch = channel(&app, &c, "ops").await;
    for i in 0..50 {
        let r = post_policy(&app, &c, &one_step(&format!("p{i}"), ch)).await;
        assert_eq!(r.status(), 201, "policy {i}");
    }
    let r = post_policy(&app, &c, &one_step("one too many", ch)).await;
    assert_error(r, 422, "validation", Some("max_escalation_policies")).await;
    assert_eq!(get_json(&c, app.url("/api/escalation-policies")).await["total"], 50);
    // Another user is not affected.
    let other = app.user("b@example.com").await;
    let theirs = channel(&app, &other, "ops").await;
    assert_eq!(post_policy(&app, &other, &one_step("p", theirs)).await.status(), 201);
}

/// An open incident of a new target of `c`'s; its id.
async fn open_incident(app: &TestApp, c: &reqwest::Client) -> Uuid {
    let target = target(app, c, "checkout").await;
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into incidents (id, target_id, owner_id, severity, opened_at) \
         select $1, id, owner_id, 'down', now() - interval '5 minutes' from targets where id = $2",
    )
    .bind(id)
    .bind(target)
    .execute(&app.pg.pool)
    .await
    .unwrap();
    id
}

/// The messages of `incident`'s timeline entries of `kind`.
async fn timeline(app: &TestApp, incident: Uuid, kind: &str) -> Vec<String> {
    sqlx::query_scalar("select message from incident_timeline where incident_id = $1 and kind = $2")
        .bind(incident)
        .bind(kind)
        .fetch_all(&app.pg.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_ack_link_shows_the_incident_on_get_and_acknowledges_once_on_post() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let ch = channel(&app, &c, "ops room").await;
    let incident = open_incident(&app, &c).await;
    let token = Ack::new(incident, ch, Utc::now()).token(&test_key());
    let url = app.url(&format!("/api/ack/{token}"));
    let anonymous = reqwest::Client::new();

    let r = anonymous.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["incident_id"], incident.to_string());
    assert_eq!(info["target_name"], "checkout");
    assert_eq!(info["severity"], "down");
    assert!(info["opened_at"].is_string());
    assert_eq!(info["resolved_at"], Value::Null);
    assert_eq!(info["acknowledged_at"], Value::Null);
    let acked: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select acknowledged_at from incidents where id = $1")
            .bind(incident)
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
    assert_eq!(acked, None, "a GET never acknowledges");
    assert!(timeline(&app, incident, "acknowledged").await.is_empty());

    let r = anonymous.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert!(first["acknowledged_at"].is_string(), "{first}");
    assert_eq!(
        timeline(&app, incident, "acknowledged").await,
        ["Acknowledged by a link sent to slack channel \"ops room\"."]
    );
    let by: Option<Uuid> = sqlx::query_scalar("select acknowledged_by from incidents where id = $1")
        .bind(incident)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(by, None);

    let r = anonymous.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(
        again["acknowledged_at"], first["acknowledged_at"],
        "the first time stays"
    );
    assert_eq!(timeline(&app, incident, "acknowledged").await.len(), 1);
    let shown = anonymous.get(&url).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(shown["acknowledged_at"], first["acknowledged_at"]);
    // The owner sees it in the dashboard too.
    let seen = get_json(&c, app.url(&format!("/api/incidents/{incident}"))).await;
    assert_eq!(seen["acknowledged_at"], first["acknowledged_at"]);
}

#[tokio::test]
async fn a_link_whose_channel_is_gone_still_acknowledges() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let ch = channel(&app, &c, "ops").await;
    let incident = open_incident(&app, &c).await;
    let token = Ack::new(incident, ch, Utc::now()).token(&test_key());
    let r = c.delete(app.url(&format!("/api/channels/{ch}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/ack/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        timeline(&app, incident, "acknowledged").await,
        ["Acknowledged by a link in an alert."]
    );
}

#[tokio::test]
async fn altered_expired_or_orphaned_links_are_refused() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let ch = channel(&app, &c, "ops").await;
    let incident = open_incident(&app, &c).await;
    let anonymous = reqwest::Client::new();
    let key = test_key();

    let token = Ack::new(incident, ch, Utc::now()).token(&key);
    let mut altered: Vec<char> = token.chars().collect();
    altered[10] = if altered[10] == 'A' { 'B' } else { 'A' };
    let altered: String = altered.into_iter().collect();
    let expired = Ack {
        incident_id: incident,
        channel_id: ch,
        expires_at: Utc::now() - Duration::minutes(1),
    }
    .token(&key);
    let orphan = Ack::new(Uuid::now_v7(), ch, Utc::now()).token(&key);
    for (token, status, code) in [
        (altered.as_str(), 404, "not_found"),
        ("not-a-token", 404, "not_found"),
        (orphan.as_str(), 404, "not_found"),
        (expired.as_str(), 410, "gone"),
    ] {
        let url = app.url(&format!("/api/ack/{token}"));
        assert_error(anonymous.get(&url).send().await.unwrap(), status, code, None).await;
        assert_error(anonymous.post(&url).send().await.unwrap(), status, code, None).await;
    }
    let acked: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select acknowledged_at from incidents where id = $1")
            .bind(incident)
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
    assert_eq!(acked, None, "no refused link acknowledged");
}

#[tokio::test]
async fn ack_links_are_rate_limited_per_client_and_need_a_secret_key() {
    let app = crate::helpers::spawn_app_with(|config| config.edge.public_rate_limit = 2).await;
    let c = app.user("a@example.com").await;
    let ch = channel(&app, &c, "ops").await;
    let incident = open_incident(&app, &c).await;
    let url = app.url(&format!(
        "/api/ack/{}",
        Ack::new(incident, ch, Utc::now()).token(&test_key())
    ));
    let anonymous = reqwest::Client::new();
    for _ in 0..2 {
        assert_eq!(anonymous.get(&url).send().await.unwrap().status(), 200);
    }
    let r = anonymous.post(&url).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "rate_limited", None).await;

    let keyless = crate::helpers::spawn_app_with(|config| config.api.secret_key = None).await;
    let url = keyless.url(&format!(
        "/api/ack/{}",
        Ack::new(incident, ch, Utc::now()).token(&test_key())
    ));
    assert_error(anonymous.get(&url).send().await.unwrap(), 503, "unavailable", None).await;
    assert_error(anonymous.post(&url).send().await.unwrap(), 503, "unavailable", None).await;
}
