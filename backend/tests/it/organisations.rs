//! Organisations: the cross-organisation sweep over every route of the OpenAPI document and
//! every role, the viewer's refused writes, invitations, switching, removal, tokens' roles and
//! the audit log.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, create_target, get_json, http_target, send_json, spawn_app};

const ROLES: [&str; 4] = ["owner", "admin", "editor", "viewer"];

/// Writes a viewer may make: acknowledging, and what concerns only themselves.
const VIEWER_WRITES: &[&str] = &[
    "POST /api/incidents/{id}/ack",
    "POST /api/incidents/{id}/notes",
    "POST /api/tokens",
    "DELETE /api/tokens/{id}",
    "PUT /api/session/organisation",
    "POST /api/organisations",
    "POST /api/invitations/{token}/accept",
    // Leaving: their own id only (someone else's answers 403, tested below).
    "DELETE /api/organisation/members/{user_id}",
];

/// Routes outside any organisation: the caller's own account, and the installation admin's.
fn personal_route(path: &str) -> bool {
    path.starts_with("/api/auth/") || path.starts_with("/api/account/") || path.starts_with("/api/admin/")
}

/// Sends `method path` as `c` with `body`.
async fn call(app: &TestApp, c: &reqwest::Client, method: &str, path: &str, body: Option<&Value>) -> reqwest::Response {
    let url = app.url(path);
    let mut req = match method {
        "GET" => c.get(url),
        "POST" => c.post(url),
        "PUT" => c.put(url),
        "PATCH" => c.patch(url),
        "DELETE" => c.delete(url),
        other => panic!("unexpected method {other}"),
    };
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

/// Makes a team organisation as `c` and switches `c` to it; its id.
async fn team(app: &TestApp, c: &reqwest::Client, name: &str) -> String {
    let r = send_json(c.post(app.url("/api/organisations")), json!({"name": name})).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = send_json(
        c.put(app.url("/api/session/organisation")),
        json!({"organisation_id": id}),
    )
    .await;
    assert_eq!(r.status(), 200);
    id
}

/// Invites `email` as `role` from `admin`'s current organisation; `member` accepts.
async fn join(app: &TestApp, admin: &reqwest::Client, member: &reqwest::Client, email: &str, role: &str) {
    let r = send_json(
        admin.post(app.url("/api/organisation/invitations")),
        json!({"email": email, "role": role}),
    )
    .await;
    assert_eq!(r.status(), 201, "invite {email}");
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let r = member
        .post(app.url(&format!("/api/invitations/{token}/accept")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{email} accepts");
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// One organisation's things, by the path parameter that names each.
struct Things {
    ids: BTreeMap<&'static str, String>,
}

impl Things {
    /// Every kind of resource in `c`'s current organisation.
    async fn make(app: &TestApp, c: &reqwest::Client, tag: &str) -> Things {
        let target = create_target(
            app,
            c,
            &http_target(&format!("{tag}-shop"), "https://shop.example.com/"),
        )
        .await;
        let target_id: Uuid = id(&target).parse().unwrap();
        let heartbeat = create_target(
            app,
            c,
            &json!({"name": format!("{tag}-backup"), "spec": {"kind": "heartbeat", "period_seconds": 3600}}),
        )
        .await;
        let channel = app.email_channel(c, &format!("{tag}-ops@example.com")).await;
        let window = send_json(
            c.post(app.url("/api/maintenance")),
            json!({"name": "upgrade", "target_id": target_id, "starts_at": "2026-01-01T00:00:00Z",
                   "ends_at": "2026-01-01T01:00:00Z"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
        let page = send_json(
            c.post(app.url("/api/status-pages")),
            json!({"slug": format!("{tag}-status"), "title": "Status", "targets": [{"target_id": target_id, "position": 1}]}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
        let policy = send_json(
            c.post(app.url("/api/escalation-policies")),
            json!({"name": "on-call", "steps": [{"after_minutes": 0, "channel_ids": [id(&channel)]}]}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
        let token = send_json(c.post(app.url("/api/tokens")), json!({"name": "ci", "scope": "read"}))
            .await
            .json::<Value>()
            .await
            .unwrap();
        let owner: Uuid = sqlx::query_scalar("select owner_id from targets where id = $1")
            .bind(target_id)
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
        let incident = Uuid::now_v7();
        sqlx::query("insert into incidents (id, target_id, owner_id, opened_at) values ($1, $2, $3, now())")
            .bind(incident)
            .bind(target_id)
            .bind(owner)
            .execute(&app.pg.pool)
            .await
            .unwrap();
        let group = Uuid::now_v7();
        sqlx::query(
            "insert into incident_groups (id, owner_id, cause, summary, opened_at, members)
             values ($1, $2, 'ip:192.0.2.1:connect_refused', 'all resolve to 192.0.2.1', now(), 1)",
        )
        .bind(group)
        .bind(owner)
        .execute(&app.pg.pool)
        .await
        .unwrap();
        sqlx::query("update incidents set group_id = $1 where id = $2")
            .bind(group)
            .bind(incident)
            .execute(&app.pg.pool)
            .await
            .unwrap();
        let invitation = send_json(
            c.post(app.url("/api/organisation/invitations")),
            json!({"email": format!("{tag}-guest@example.com"), "role": "viewer"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
        let me = app.url("/api/auth/me");
        let user = get_json(c, me).await["id"].as_str().unwrap().to_owned();
        let mut ids = BTreeMap::new();
        ids.insert("/api/targets/{id}", id(&target));
        ids.insert("/api/heartbeat/{id}", id(&heartbeat));
        ids.insert("/api/channels/{id}", id(&channel));
        ids.insert("/api/maintenance/{id}", id(&window));
        ids.insert("/api/status-pages/{id}", id(&page));
        ids.insert("/api/escalation-policies/{id}", id(&policy));
        ids.insert("/api/tokens/{id}", id(&token));
        ids.insert("/api/incidents/{id}", incident.to_string());
        ids.insert("/api/incident-groups/{id}", group.to_string());
        ids.insert("/api/organisation/members/{user_id}", user);
        ids.insert("/api/organisation/invitations/{id}", id(&invitation));
        Things { ids }
    }

    /// `path` with its parameters replaced by these things' ids; `None` when a parameter names
    /// nothing an organisation owns (the sweep then fails: a new route needs a line here).
    fn fill(&self, path: &str) -> Option<String> {
        if !path.contains('{') {
            return Some(path.to_owned());
        }
        // Heartbeat-only routes get the heartbeat target.
        let heartbeat = path.ends_with("/pings") || path.ends_with("/ping-token");
        for (prefix, id) in &self.ids {
            let (head, param) = prefix.rsplit_once('/').unwrap();
            if let Some(rest) = path.strip_prefix(&format!("{head}/{param}")) {
                let id = if heartbeat {
                    &self.ids["/api/heartbeat/{id}"]
                } else {
                    id
                };
                return Some(format!("{head}/{id}{rest}"));
            }
        }
        None
    }
}

/// `path` with a random id for each parameter.
fn random_ids(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                Uuid::now_v7().to_string()
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A valid body for the writes that need one (an invalid body would answer 422 before the
/// foreign id is looked up).
fn body_for(method: &str, path: &str) -> Option<Value> {
    let b = match (method, path) {
        ("PUT", "/api/targets/{id}") => http_target("hijack", "https://evil.example.com/"),
        ("PUT", "/api/targets/{id}/channels") => json!({"channel_ids": []}),
        ("PATCH", "/api/channels/{id}") => json!({"label": "hijack"}),
        ("PUT", "/api/maintenance/{id}") => json!({"name": "x", "tag": "x", "starts_at": "2026-01-01T00:00:00Z",
                                                  "ends_at": "2026-01-01T01:00:00Z"}),
        ("PUT", "/api/status-pages/{id}") => json!({"slug": "hijack-page", "title": "x", "targets": []}),
        ("PUT", "/api/escalation-policies/{id}") => json!({"name": "x", "steps": []}),
        ("PATCH", "/api/organisation/members/{user_id}") => json!({"role": "viewer"}),
        ("POST", "/api/incidents/{id}/notes") => json!({"text": "hijack"}),
        _ => return None,
    };
    Some(b)
}

/// The signed-in operations of the API document: (method, path template).
async fn operations(app: &TestApp) -> Vec<(String, String)> {
    let doc: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())));
            if public {
                continue;
            }
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(ops.len() > 40, "the document lists the API: {}", ops.len());
    ops
}

#[tokio::test]
async fn every_route_and_role_answers_404_for_another_organisations_ids_and_viewers_cannot_write() {
    let app = spawn_app().await;
    // Organisation A, with one of everything.
    let a = app.user("a@example.com").await;
    team(&app, &a, "Alpha").await;
    let theirs = Things::make(&app, &a, "alpha").await;
    // Organisation B: an owner and a member of each other role.
    let members: Vec<(&str, reqwest::Client)> = {
        let mut v = Vec::new();
        for role in ROLES {
            v.push((role, app.user(&format!("{role}@example.com")).await));
        }
        v
    };
    let owner = &members[0].1;
    team(&app, owner, "Bravo").await;
    for (role, c) in &members[1..] {
        join(&app, owner, c, &format!("{role}@example.com"), role).await;
    }
    let ours = Things::make(&app, owner, "bravo").await;
    let ops = operations(&app).await;

    let mut checked = 0;
    for (method, path) in &ops {
        if personal_route(path) || path.starts_with("/api/invitations/") {
            // Not an organisation's: the caller's account, the installation's admin, and
            // invitation links (capabilities, refused by email).
            continue;
        }
        let foreign = theirs.fill(path).unwrap_or_else(|| {
            panic!("{method} {path}: no id of an organisation's resource fits it; add it to Things")
        });
        let own = ours.fill(path).unwrap();
        let write = method != "GET";
        let key = format!("{method} {path}");
        for (role, c) in &members {
            // Another organisation's ids answer as ids that do not exist: 404 for a role that
            // may do it (the owner may do everything), the same role refusal as for any id
            // otherwise (a viewer's write is refused before any lookup, with 403).
            if path.contains('{') {
                let body = body_for(method, path);
                let r = call(&app, c, method, &foreign, body.as_ref()).await;
                let status = r.status().as_u16();
                let text = r.text().await.unwrap();
                let random = random_ids(path);
                let r = call(&app, c, method, &random, body.as_ref()).await;
                assert_eq!(
                    r.status().as_u16(),
                    status,
                    "{key} as B's {role}: A's id answers as a random one"
                );
                assert_eq!(r.text().await.unwrap(), text, "{key} as B's {role}: the same body");
                let refused = write && *role == "viewer" && !VIEWER_WRITES.contains(&key.as_str());
                let expected: &[u16] = if *role == "owner" {
                    &[404]
                } else if refused {
                    &[403]
                } else {
                    &[403, 404]
                };
                assert!(
                    expected.contains(&status),
                    "{key} as B's {role} with A's ids ({foreign}): {status} {text}"
                );
                checked += 1;
            } else if !write && path != "/api/organisation/audit" {
                // Lists never show another organisation's things (the audit log records this
                // sweep's own attempts on them, by id).
                let text = call(&app, c, method, path, None).await.text().await.unwrap();
                for other in theirs.ids.values() {
                    assert!(!text.contains(other.as_str()), "{key} as B's {role} shows A's {other}");
                }
            }
            // Every write as a viewer, on their own organisation's things: 403 (before the body
            // is read, so an empty one will do).
            if write && *role == "viewer" && !VIEWER_WRITES.contains(&key.as_str()) {
                let r = call(&app, c, method, &own, Some(&json!({}))).await;
                let body = r.text().await.unwrap();
                assert!(body.contains("forbidden"), "{key} as a viewer on B's own: {body}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "checked {checked}");

    // A viewer may not remove someone else, but may leave.
    let viewer = &members[3].1;
    let admin_id = get_json(&members[1].1, app.url("/api/auth/me")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = viewer
        .delete(app.url(&format!("/api/organisation/members/{admin_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An editor manages targets but not channels; an admin manages channels, not ownership.
    let editor = &members[2].1;
    let r = send_json(
        editor.post(app.url("/api/targets")),
        http_target("by-editor", "https://e.example.com/"),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = send_json(
        editor.post(app.url("/api/channels/email")),
        json!({"address": "e@example.com"}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let admin = &members[1].1;
    let r = send_json(
        admin.post(app.url("/api/channels/email")),
        json!({"address": "adm@example.com"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = admin.delete(app.url("/api/organisation")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // An admin cannot invite above themselves nor make an owner.
    let r = send_json(
        admin.post(app.url("/api/organisation/invitations")),
        json!({"email": "x@example.com", "role": "owner"}),
    )
    .await;
    let body = assert_error(r, 422, "validation", None).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("role"), "{body}");
}

#[tokio::test]
async fn invitations_are_single_use_for_their_email_and_removal_takes_effect_at_once() {
    let app = spawn_app().await;
    let owner = app.user("owner@example.com").await;
    team(&app, &owner, "Ops").await;
    let t = create_target(&app, &owner, &http_target("shared", "https://shared.example.com/")).await;
    let bob = app.user("bob@example.com").await;
    let eve = app.user("eve@example.com").await;

    let r = send_json(
        owner.post(app.url("/api/organisation/invitations")),
        json!({"email": "Bob@Example.com", "role": "editor"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let inv: Value = r.json().await.unwrap();
    let token = inv["token"].as_str().unwrap().to_owned();
    assert!(inv["link"].as_str().unwrap().ends_with(&format!("/invite/{token}")));
    let listed = get_json(&owner, app.url("/api/organisation/invitations")).await;
    assert!(!listed.to_string().contains(&token), "the link is shown once");
    // Someone else's account cannot use it; its owner can, once.
    let accept = |c: &reqwest::Client| c.post(app.url(&format!("/api/invitations/{token}/accept"))).send();
    assert_eq!(accept(&eve).await.unwrap().status(), 403);
    let preview = get_json(&bob, app.url(&format!("/api/invitations/{token}"))).await;
    assert_eq!(preview["organisation"], "Ops");
    assert_eq!(preview["role"], "editor");
    assert_eq!(accept(&bob).await.unwrap().status(), 200);
    assert_eq!(accept(&bob).await.unwrap().status(), 404, "single use");
    // Bob now works in Ops (the accepting session switched) and sees its target.
    let me = get_json(&bob, app.url("/api/auth/me")).await;
    assert_eq!(me["role"], "editor");
    let list = get_json(&bob, app.url("/api/targets")).await;
    assert_eq!(list["items"][0]["id"], t["id"]);
    let bob_token = send_json(
        bob.post(app.url("/api/tokens")),
        json!({"name": "ci", "scope": "write"}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(bob_token["role"], "editor", "a token's role is at most its creator's");
    let r = send_json(
        bob.post(app.url("/api/tokens")),
        json!({"name": "ci", "scope": "write", "role": "admin"}),
    )
    .await;
    assert_error(r, 422, "validation", Some("role")).await;
    let bearer = reqwest::Client::new();
    let token_list = |c: &reqwest::Client| {
        c.get(app.url("/api/targets"))
            .bearer_auth(bob_token["token"].as_str().unwrap())
            .send()
    };
    assert_eq!(token_list(&bearer).await.unwrap().status(), 200);

    // An expired invitation answers 410.
    let r = send_json(
        owner.post(app.url("/api/organisation/invitations")),
        json!({"email": "eve@example.com", "role": "viewer"}),
    )
    .await;
    let late = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    sqlx::query("update invitations set expires_at = now() - interval '1 second' where email = 'eve@example.com'")
        .execute(&app.pg.pool)
        .await
        .unwrap();
    let r = eve
        .post(app.url(&format!("/api/invitations/{late}/accept")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);

    // Removed: the token stops and the session falls back to Bob's personal organisation.
    let bob_id = me["id"].as_str().unwrap();
    let r = owner
        .delete(app.url(&format!("/api/organisation/members/{bob_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(token_list(&bearer).await.unwrap().status(), 401);
    let org = get_json(&bob, app.url("/api/organisation")).await;
    assert_eq!(org["personal"], true);
    let list = get_json(&bob, app.url("/api/targets")).await;
    assert_eq!(list["total"], 0);
    let r = bob
        .get(app.url(&format!("/api/targets/{}", id(&t))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_audit_log_records_who_changed_what_without_secrets_and_only_admins_read_it() {
    let app = spawn_app().await;
    let owner = app.user("owner@example.com").await;
    team(&app, &owner, "Ops").await;
    let viewer = app.user("viewer@example.com").await;
    join(&app, &owner, &viewer, "viewer@example.com", "viewer").await;
    let t = create_target(&app, &owner, &http_target("api", "https://api.example.com/")).await;
    let r = send_json(
        owner.post(app.url("/api/channels")),
        json!({"kind": "webhook", "label": "hook", "settings": {"url": "https://hooks.example.com/x"},
               "secrets": {"signing_secret": "hunter2-very-secret"}}),
    )
    .await;
    let channel_status = r.status().as_u16();
    let r = viewer
        .delete(app.url(&format!("/api/targets/{}", id(&t))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    assert_eq!(
        viewer
            .get(app.url("/api/organisation/audit"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let log = get_json(&owner, app.url("/api/organisation/audit?limit=200")).await;
    let items = log["items"].as_array().unwrap();
    let created = items
        .iter()
        .find(|e| e["action"] == "POST /api/targets")
        .expect("the target's creation is recorded");
    assert_eq!(created["actor_email"], "owner@example.com");
    assert_eq!(created["status"], 201);
    assert_eq!(created["fields"]["name"], "api");
    assert!(created["fields"].as_object().unwrap().contains_key("spec"));
    assert!(created["client_ip"].as_str().unwrap().starts_with("127."));
    let refused = items
        .iter()
        .find(|e| e["action"] == "DELETE /api/targets/{id}")
        .expect("the viewer's refused delete is recorded");
    assert_eq!(refused["actor_email"], "viewer@example.com");
    assert_eq!(refused["status"], 403);
    assert_eq!(refused["resource"], "targets");
    assert_eq!(refused["resource_id"], t["id"]);
    if channel_status == 201 {
        assert!(items.iter().any(|e| e["action"] == "POST /api/channels"));
    }
    assert!(!log.to_string().contains("hunter2"), "no secret in the audit log");
    // Filters.
    let viewer_id = get_json(&viewer, app.url("/api/auth/me")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let only = get_json(&owner, app.url(&format!("/api/organisation/audit?user_id={viewer_id}"))).await;
    assert!(
        only["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_email"] == "viewer@example.com")
    );
    assert!(!only["items"].as_array().unwrap().is_empty());
    let r = owner
        .get(app.url("/api/organisation/audit?limit=0"))
        .send()
        .await
        .unwrap();
    assert_error(r, 422, "validation", Some("limit")).await;
    // Retention: entries older than the kept days go.
    sqlx::query("update audit_log set at = now() - interval '400 days' where actor_email = 'viewer@example.com'")
        .execute(&app.pg.pool)
        .await
        .unwrap();
    let gone = backend::http::audit::prune(&app.pg.pool, 365).await.unwrap();
    assert!(gone >= 1);
    let only = get_json(&owner, app.url(&format!("/api/organisation/audit?user_id={viewer_id}"))).await;
    assert!(only["items"].as_array().unwrap().is_empty());
}

/// A session cookie for `user`, written straight into the database.
async fn session_for(pool: &sqlx::PgPool, user: Uuid) -> reqwest::Client {
    let secret = backend::http::auth::new_secret();
    sqlx::query(
        "insert into sessions (id, user_id, token_hash, expires_at) values ($1, $2, $3, now() + interval '1 day')",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(backend::http::auth::hash_secret(&secret))
    .execute(pool)
    .await
    .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("{}={secret}", backend::http::auth::SESSION_COOKIE)
            .parse()
            .unwrap(),
    );
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

#[tokio::test]
async fn single_owner_data_of_yesterdays_schema_migrates_into_personal_organisations() {
    // Yesterday's schema: every migration before the organisations'.
    let pg = common::testing::TestPg::empty().await;
    let old = std::env::temp_dir().join(format!("pingtower-migrations-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&old).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".sql") && name.as_str() < "20261207000001" {
            std::fs::copy(&path, old.join(&name)).unwrap();
        }
    }
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pg.pool)
        .await
        .unwrap();
    std::fs::remove_dir_all(&old).unwrap();
    // Two single owners with one of each thing, written as yesterday's code wrote them.
    let (u1, u2) = (Uuid::now_v7(), Uuid::now_v7());
    let mut things = BTreeMap::new();
    for (u, email) in [(u1, "one@example.com"), (u2, "two@example.com")] {
        sqlx::query(
            "insert into users (id, email, password_hash, may_private_targets, quota_overrides, ping_key, language)
             values ($1, $2, 'x', $3, $4, $5, 'ru')",
        )
        .bind(u)
        .bind(email)
        .bind(u == u1)
        .bind(json!({"max_targets": if u == u1 { 7 } else { 9 }}))
        .bind(u.simple().to_string()[10..].to_owned())
        .execute(&pg.pool)
        .await
        .unwrap();
        let (target, channel, window, page, token) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        sqlx::query(
            "insert into targets (id, owner_id, name, kind, spec, interval_seconds)
             values ($1, $2, 'shop', 'http', '{\"kind\":\"http\",\"url\":\"https://shop.example.com/\",\"timeout_ms\":5000}', 60)",
        )
        .bind(target)
        .bind(u)
        .execute(&pg.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into notification_channels (id, user_id, kind, address, verified_at) values ($1, $2, 'email', $3, now())",
        )
        .bind(channel)
        .bind(u)
        .bind(format!("ops-{email}"))
        .execute(&pg.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into maintenance_windows (id, owner_id, name, target_id, starts_at, ends_at)
             values ($1, $2, 'upgrade', $3, now(), now() + interval '1 hour')",
        )
        .bind(window)
        .bind(u)
        .bind(target)
        .execute(&pg.pool)
        .await
        .unwrap();
        sqlx::query("insert into status_pages (id, owner_id, slug, title) values ($1, $2, $3, 'Status')")
            .bind(page)
            .bind(u)
            .bind(format!("page-{}", &u.simple().to_string()[20..]))
            .execute(&pg.pool)
            .await
            .unwrap();
        let secret = format!("pt_{}", Uuid::now_v7().simple());
        sqlx::query(
            "insert into api_tokens (id, user_id, name, scope, token_hash, prefix) values ($1, $2, 'ci', 'write', $3, 'pt_x')",
        )
        .bind(token)
        .bind(u)
        .bind(backend::http::auth::hash_secret(&secret))
        .execute(&pg.pool)
        .await
        .unwrap();
        things.insert(u, (target, channel, window, page, secret));
    }

    // Today's migrations, then today's backend.
    common::db::migrate_pg(&pg.pool)
        .await
        .expect("the organisations migrate");
    let broker = bus::testing::TestBroker::new().await;
    let ch = common::testing::TestClickHouse::new().await;
    let config = crate::helpers::backend_config(&broker, &pg, &ch);
    let app = crate::helpers::start(config, pg, broker, ch).await;

    for (me, other) in [(u1, u2), (u2, u1)] {
        let c = session_for(&app.pg.pool, me).await;
        let (target, channel, window, page, secret) = &things[&me];
        let (o_target, o_channel, o_window, o_page, _) = &things[&other];
        // Their own things, each reachable.
        for path in [
            format!("/api/targets/{target}"),
            format!("/api/maintenance/{window}"),
            format!("/api/status-pages/{page}"),
        ] {
            let r = c.get(app.url(&path)).send().await.unwrap();
            let status = r.status();
            assert_eq!(status, 200, "{path} as its owner: {}", r.text().await.unwrap());
        }
        let channels = get_json(&c, app.url("/api/channels")).await;
        assert_eq!(channels["total"], 1);
        assert_eq!(channels["items"][0]["id"], channel.to_string());
        let targets = get_json(&c, app.url("/api/targets")).await;
        assert_eq!(targets["total"], 1);
        // Nobody else's.
        for path in [
            format!("/api/targets/{o_target}"),
            format!("/api/maintenance/{o_window}"),
            format!("/api/status-pages/{o_page}"),
            format!("/api/channels/{o_channel}/test"),
        ] {
            let r = if path.ends_with("/test") {
                c.post(app.url(&path)).send().await.unwrap()
            } else {
                c.get(app.url(&path)).send().await.unwrap()
            };
            assert_eq!(r.status(), 404, "{path} as another owner");
        }
        // Their quotas, permission, language and tokens came along; they own their personal
        // organisation.
        let me_json = get_json(&c, app.url("/api/auth/me")).await;
        assert_eq!(me_json["role"], "owner");
        assert_eq!(me_json["organisation_id"], me.to_string());
        assert_eq!(me_json["quotas"]["max_targets"], if me == u1 { 7 } else { 9 });
        assert_eq!(me_json["may_private_targets"], me == u1);
        let org = get_json(&c, app.url("/api/organisation")).await;
        assert_eq!(
            (org["personal"].as_bool(), org["language"].as_str()),
            (Some(true), Some("ru"))
        );
        let bearer = reqwest::Client::new();
        let r = bearer
            .put(app.url(&format!("/api/targets/{target}")))
            .bearer_auth(secret)
            .json(&http_target("shop-renamed", "https://shop.example.com/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a write token keeps writing");
        let r = bearer
            .get(app.url(&format!("/api/targets/{o_target}")))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
}

/// The user id of `email` among the current organisation's members, as `c` reads them.
async fn member_id(app: &TestApp, c: &reqwest::Client, email: &str) -> String {
    let members = get_json(c, app.url("/api/organisation/members")).await;
    members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} among {members}"))["user_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn escalation_steps_name_members_of_the_organisation_and_drop_those_who_leave() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;
    let bob = app.user("bob@example.com").await;
    let eve = app.user("eve@example.com").await;
    // Bob's own channel, made in his personal organisation before he joins the team.
    let r = send_json(
        bob.post(app.url("/api/channels")),
        json!({"kind": "slack", "label": "Bob's own", "secrets": {"url": "https://hooks.example.com/services/T/B/b"}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    team(&app, &admin, "Ops").await;
    join(&app, &admin, &bob, "bob@example.com", "viewer").await;
    let bob_id = member_id(&app, &admin, "bob@example.com").await;
    let eve_id = get_json(&eve, app.url("/api/auth/me")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send_json(
        admin.post(app.url("/api/channels")),
        json!({"kind": "slack", "label": "team", "secrets": {"url": "https://hooks.example.com/services/T/B/t"}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let team_channel = id(&r.json::<Value>().await.unwrap());

    // Bob's personal channel stays his: the team does not see it.
    let channels = get_json(&admin, app.url("/api/channels")).await;
    assert_eq!(channels["total"], 1, "{channels}");
    assert_eq!(channels["items"][0]["label"], "team");

    // A step may name members; someone outside the organisation is a 422 naming them.
    let policy = |members: Value| {
        json!({"name": "On call", "steps": [
            {"after_minutes": 0, "channel_ids": [team_channel]},
            {"after_minutes": 10, "member_ids": members},
        ]})
    };
    let r = send_json(
        admin.post(app.url("/api/escalation-policies")),
        policy(json!([bob_id, eve_id])),
    )
    .await;
    assert_error(r, 422, "validation", Some("steps[1].member_ids[1]")).await;
    let r = send_json(admin.post(app.url("/api/escalation-policies")), policy(json!([]))).await;
    assert_error(r, 422, "validation", Some("steps[1].channel_ids")).await;
    let r = send_json(admin.post(app.url("/api/escalation-policies")), policy(json!([bob_id]))).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["steps"][1]["member_ids"], json!([bob_id]));
    assert_eq!(created["steps"][1]["channel_ids"], json!([]));
    assert_eq!(created["steps"][0]["member_ids"], json!([]));

    // Bob leaves: every step drops him.
    let r = bob
        .delete(app.url(&format!("/api/organisation/members/{bob_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let url = app.url(&format!("/api/escalation-policies/{}", id(&created)));
    let after = get_json(&admin, url).await;
    assert_eq!(after["steps"][1]["member_ids"], json!([]), "{after}");
    assert_eq!(after["steps"][0]["channel_ids"], json!([team_channel]));
}
