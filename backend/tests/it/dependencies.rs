//! Explicit dependencies: the engine holds a dependant's incident while a dependency is down
//! and releases it once when the dependency recovers (events read from `incidents.notify`);
//! the API keeps dependencies within the organisation and free of cycles.

use common::messages::{Envelope, IncidentEvent, IncidentEventKind, Outcome};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, create_target, get_json, http_target, id_of, send_json, spawn_app};
use crate::incidents::{Harness, result};

/// A target named `name` of the harness's owner, with `tags` (default thresholds: 3 failures
/// open, 2 successes resolve).
async fn named(h: &Harness, name: &str, tags: &[&str]) -> Uuid {
    let id = Uuid::now_v7();
    let tags: Vec<String> = tags.iter().map(|s| (*s).to_owned()).collect();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, tags, paused)
         values ($1, $2, $3, 'http', $4, 60, '{default}', $5, true)",
    )
    .bind(id)
    .bind(h.owner)
    .bind(name)
    .bind(json!({"kind": "http", "url": format!("https://{name}.example.com/")}))
    .bind(&tags)
    .execute(&h.pg.pool)
    .await
    .unwrap();
    id
}

/// `target` depends on `on`.
async fn depends(h: &Harness, target: Uuid, on: Uuid) {
    sqlx::query("insert into target_dependencies (target_id, depends_on) values ($1, $2)")
        .bind(target)
        .bind(on)
        .execute(&h.pg.pool)
        .await
        .unwrap();
}

/// Every target carrying `tag` depends on `on`.
async fn tag_depends(h: &Harness, tag: &str, on: Uuid) {
    sqlx::query("insert into tag_dependencies (owner_id, tag, depends_on) values ($1, $2, $3)")
        .bind(h.owner)
        .bind(tag)
        .bind(on)
        .execute(&h.pg.pool)
        .await
        .unwrap();
}

/// Sends `n` results of `target` with `outcome`, from `at` seconds on.
async fn send(h: &mut Harness, target: Uuid, outcome: Outcome, at: i64, n: i64) -> Vec<common::messages::CheckResult> {
    let results: Vec<_> = (0..n)
        .map(|i| result(target, "default", outcome, at + i * 60))
        .collect();
    h.send(&results).await;
    results
}

/// The incident's (notify_state, caused_by, timeline kinds).
async fn incident_row(h: &Harness, incident: Uuid) -> (String, Option<Uuid>, Vec<String>) {
    let (state, cause): (String, Option<Uuid>) =
        sqlx::query_as("select notify_state, caused_by from incidents where id = $1")
            .bind(incident)
            .fetch_one(&h.pg.pool)
            .await
            .unwrap();
    let kinds: Vec<String> =
        // (The targets here share the sample's address, so cause correlation also groups them:
        // its `grouped` entries are left out.)
        sqlx::query_scalar(
            "select kind from incident_timeline where incident_id = $1 and kind <> 'grouped' order by at, id",
        )
            .bind(incident)
            .fetch_all(&h.pg.pool)
            .await
            .unwrap();
    (state, cause, kinds)
}

fn of(events: &[IncidentEvent], target: Uuid) -> Vec<&IncidentEvent> {
    events
        .iter()
        .filter(|e| e.target.as_ref().is_some_and(|t| t.id == target))
        .collect()
}

#[tokio::test]
async fn a_dependant_down_while_its_dependency_is_down_is_held_then_notified_once_when_it_recovers() {
    // Arrange: the API depends on the database.
    let mut h = Harness::new().await;
    let db = named(&h, "database", &[]).await;
    let api = named(&h, "api", &[]).await;
    depends(&h, api, db).await;

    // Act: the database goes down, then the API.
    send(&mut h, db, Outcome::Down, 0, 3).await;
    let db_opened = h.events().await;
    send(&mut h, api, Outcome::Down, 30, 3).await;
    let api_opened = h.events().await;

    // Assert: the API's incident is opened, linked and held.
    assert_eq!(db_opened.len(), 1);
    let db_incident = db_opened[0].incident_id;
    assert!(!db_opened[0].held() && db_opened[0].caused_by.is_none());
    assert_eq!(api_opened.len(), 1, "{api_opened:#?}");
    let held = &api_opened[0];
    assert_eq!(held.kind, IncidentEventKind::Opened);
    let cause = held.caused_by.as_ref().expect("linked to the database's incident");
    assert!(held.held(), "not to be sent");
    assert_eq!(
        (cause.incident_id, cause.target_id, cause.target_name.as_str()),
        (db_incident, db, "database")
    );
    assert_eq!(cause.released_at, None);
    let (state, caused_by, timeline) = incident_row(&h, held.incident_id).await;
    assert_eq!((state.as_str(), caused_by), ("held", Some(db_incident)));
    assert_eq!(timeline, ["opened", "held"]);

    // Act: the database recovers while the API stays down; its results come again.
    let recovery = send(&mut h, db, Outcome::Up, 400, 2).await;
    let after = h.events().await;
    for r in &recovery {
        h.publisher.publish(&Envelope::new(r.clone())).await.unwrap();
    }
    // A marker result (the API still down) proves the redeliveries were consumed before it.
    send(&mut h, api, Outcome::Down, 500, 1).await;
    let again = h.events().await;

    // Assert: the database's resolution, and the API's opened event once, released.
    let kinds: Vec<(Uuid, IncidentEventKind)> = after.iter().map(|e| (e.target.as_ref().unwrap().id, e.kind)).collect();
    assert_eq!(
        kinds,
        [(db, IncidentEventKind::Resolved), (api, IncidentEventKind::Opened)]
    );
    let released = &after[1];
    assert_eq!(released.incident_id, held.incident_id, "the same incident");
    assert!(!released.held());
    let cause = released.caused_by.as_ref().unwrap();
    assert_eq!(cause.incident_id, db_incident);
    assert_eq!(
        cause.released_at,
        Some(result(db, "default", Outcome::Up, 460).started_at)
    );
    assert_eq!(
        released.started_at.timestamp_micros(),
        held.started_at.timestamp_micros(),
        "down since it opened (as stored)"
    );
    assert_eq!(released.evidence.results.len(), 3, "the evidence it opened with");
    assert!(
        again.is_empty(),
        "a redelivered recovery releases nothing again: {again:#?}"
    );
    let (state, _, timeline) = incident_row(&h, held.incident_id).await;
    assert_eq!(state, "released");
    assert_eq!(timeline, ["opened", "held", "released"]);

    // Act: the API recovers.
    send(&mut h, api, Outcome::Up, 600, 2).await;
    let resolved = h.events().await;

    // Assert: its resolution goes out as any notified incident's does.
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].kind, IncidentEventKind::Resolved);
    assert!(!resolved[0].held());
}

#[tokio::test]
async fn a_dependant_that_recovers_before_its_dependency_is_never_notified() {
    // Arrange
    let mut h = Harness::new().await;
    let db = named(&h, "database", &[]).await;
    let api = named(&h, "api", &[]).await;
    depends(&h, api, db).await;
    send(&mut h, db, Outcome::Down, 0, 3).await;
    send(&mut h, api, Outcome::Down, 30, 3).await;
    let opened = h.events().await;

    // Act: the API recovers first, then the database.
    send(&mut h, api, Outcome::Up, 300, 2).await;
    let api_resolved = h.events().await;
    send(&mut h, db, Outcome::Up, 400, 2).await;
    let db_resolved = h.events().await;

    // Assert: every event about the API is held; nothing is released.
    let api_events: Vec<&IncidentEvent> = of(&opened, api).into_iter().chain(of(&api_resolved, api)).collect();
    assert_eq!(api_events.len(), 2, "{api_events:#?}");
    assert!(api_events.iter().all(|e| e.held()), "{api_events:#?}");
    assert_eq!(api_events[1].kind, IncidentEventKind::Resolved);
    assert_eq!(db_resolved.len(), 1, "only the database's resolution: {db_resolved:#?}");
    assert_eq!(db_resolved[0].target.as_ref().unwrap().id, db);
    let (state, _, timeline) = incident_row(&h, api_events[0].incident_id).await;
    assert_eq!(state, "silent");
    assert_eq!(timeline, ["opened", "held", "resolved", "silent"]);
}

#[tokio::test]
async fn a_held_incident_waits_for_every_dependency_down_including_a_tags() {
    // Arrange: the API depends on the database, and (by its tag) on the network.
    let mut h = Harness::new().await;
    let db = named(&h, "database", &[]).await;
    let net = named(&h, "network", &[]).await;
    let api = named(&h, "api", &["backend"]).await;
    depends(&h, api, db).await;
    tag_depends(&h, "backend", net).await;
    send(&mut h, net, Outcome::Down, 0, 3).await;
    send(&mut h, db, Outcome::Down, 10, 3).await;
    send(&mut h, api, Outcome::Down, 20, 3).await;
    let opened = h.events().await;
    let held = of(&opened, api)[0].clone();
    let net_incident = of(&opened, net)[0].incident_id;
    let db_incident = of(&opened, db)[0].incident_id;
    assert_eq!(held.caused_by.as_ref().unwrap().incident_id, net_incident, "the oldest");

    // Act: the network recovers, the database is still down.
    send(&mut h, net, Outcome::Up, 300, 2).await;
    let first = h.events().await;
    let (state, cause, _) = incident_row(&h, held.incident_id).await;

    // Assert: still held, now linked to the database's incident.
    assert!(of(&first, api).is_empty(), "{first:#?}");
    assert_eq!((state.as_str(), cause), ("held", Some(db_incident)));

    // Act: the database recovers too.
    send(&mut h, db, Outcome::Up, 400, 2).await;
    let second = h.events().await;

    // Assert: released once, naming the database.
    let released = of(&second, api);
    assert_eq!(released.len(), 1, "{second:#?}");
    assert!(!released[0].held());
    assert_eq!(released[0].caused_by.as_ref().unwrap().target_name, "database");
}

#[tokio::test]
async fn a_dependant_already_notified_is_linked_when_its_dependency_goes_down_and_nothing_more() {
    // Arrange
    let mut h = Harness::new().await;
    let db = named(&h, "database", &[]).await;
    let api = named(&h, "api", &[]).await;
    depends(&h, api, db).await;

    // Act: the API first (notified), then the database; the database recovers.
    send(&mut h, api, Outcome::Down, 0, 3).await;
    let api_opened = h.events().await;
    send(&mut h, db, Outcome::Down, 30, 3).await;
    let db_opened = h.events().await;
    send(&mut h, db, Outcome::Up, 300, 2).await;
    let db_resolved = h.events().await;

    // Assert
    assert!(!api_opened[0].held());
    let (state, cause, timeline) = incident_row(&h, api_opened[0].incident_id).await;
    assert_eq!((state.as_str(), cause), ("notified", Some(db_opened[0].incident_id)));
    assert_eq!(timeline, ["opened", "linked"]);
    assert_eq!(db_resolved.len(), 1, "nothing about the API: {db_resolved:#?}");
}

// ---------------------------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------------------------

/// Creates a target named `name` (depending on `deps`) as `c`; its JSON.
async fn target(app: &TestApp, c: &reqwest::Client, name: &str, deps: &[Uuid]) -> Value {
    let mut body = http_target(name, &format!("https://{name}.example.com/"));
    body["depends_on"] = json!(deps);
    create_target(app, c, &body).await
}

/// PUTs target `id` named `name` with `extra` fields merged in; the answer.
async fn put(app: &TestApp, c: &reqwest::Client, id: Uuid, name: &str, extra: Value) -> reqwest::Response {
    let mut body = http_target(name, &format!("https://{name}.example.com/"));
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    send_json(c.put(app.url(&format!("/api/targets/{id}"))), &body).await
}

#[tokio::test]
async fn a_targets_dependencies_are_shown_kept_replaced_and_refused_when_not_yours_or_cyclic() {
    // Arrange
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let db = id_of(&target(&app, &a, "db", &[]).await);
    let cache = id_of(&target(&app, &a, "cache", &[]).await);
    let theirs = id_of(&target(&app, &b, "theirs", &[]).await);

    // Act + Assert: created with a dependency, shown in the target and the list.
    let api = target(&app, &a, "api", &[db, db]).await;
    assert_eq!(api["depends_on"], json!([db]), "duplicates dropped");
    let api = id_of(&api);
    let list = get_json(&a, app.url("/api/targets?q=api")).await;
    assert_eq!(list["items"][0]["depends_on"], json!([db]));
    // A PUT without dependencies keeps them; with some replaces them.
    let r = put(&app, &a, api, "api", json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["depends_on"], json!([db]));
    let r = put(&app, &a, api, "api", json!({"depends_on": [cache, db]})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["depends_on"], json!([cache, db]));

    // Another organisation's target and an unknown id are refused alike.
    let r = put(&app, &a, api, "api", json!({"depends_on": [db, theirs]})).await;
    let foreign = assert_error(r, 422, "validation", Some("depends_on[1]")).await;
    let r = put(&app, &a, api, "api", json!({"depends_on": [Uuid::now_v7()]})).await;
    let unknown = assert_error(r, 422, "validation", Some("depends_on[0]")).await;
    assert_eq!(foreign["error"]["message"], unknown["error"]["message"]);
    let mut body = http_target("new", "https://new.example.com/");
    body["depends_on"] = json!([theirs]);
    let r = send_json(a.post(app.url("/api/targets")), &body).await;
    assert_error(r, 422, "validation", Some("depends_on[0]")).await;
    let many: Vec<Uuid> = (0..21).map(|_| db).collect();
    let r = put(&app, &a, api, "api", json!({"depends_on": many})).await;
    assert_error(r, 422, "validation", Some("depends_on")).await;

    // Itself and a cycle are refused, naming the cycle; nothing changes.
    let r = put(&app, &a, db, "db", json!({"depends_on": [db]})).await;
    let body = assert_error(r, 422, "validation", Some("depends_on[0]")).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("db → db"), "{body}");
    let r = put(&app, &a, cache, "cache", json!({"depends_on": [api]})).await;
    let body = assert_error(r, 422, "validation", Some("depends_on")).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("cache → api → cache"), "{message}");
    let stored = get_json(&a, app.url(&format!("/api/targets/{cache}"))).await;
    assert_eq!(stored["depends_on"], json!([]));
    // By name, too.
    let r = put(&app, &a, cache, "cache", json!({"depends_on_names": ["db"]})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["depends_on"], json!([db]));
    let r = put(&app, &a, cache, "cache", json!({"depends_on_names": ["nope"]})).await;
    assert_error(r, 422, "validation", Some("depends_on_names[0]")).await;
    // And `[]` removes them.
    let r = put(&app, &a, api, "api", json!({"depends_on": []})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["depends_on"], json!([]));
}

#[tokio::test]
async fn a_tags_dependencies_are_set_listed_and_refused_when_cyclic_also_by_a_change_of_tags() {
    // Arrange
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let db = id_of(&target(&app, &a, "db", &[]).await);
    let api = id_of(&target(&app, &a, "api", &[db]).await);
    let theirs = id_of(&target(&app, &b, "theirs", &[]).await);
    let url = app.url("/api/tag-dependencies");

    // Act + Assert: set, listed, and only in its organisation.
    let r = send_json(a.put(&url), json!({"tag": " backend ", "depends_on": [db]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"tag": "backend", "depends_on": [db]})
    );
    let list = get_json(&a, url.clone()).await;
    assert_eq!(list["items"], json!([{"tag": "backend", "depends_on": [db]}]));
    assert_eq!(get_json(&b, url.clone()).await["total"], 0);
    let r = send_json(a.put(&url), json!({"tag": "backend", "depends_on": [theirs]})).await;
    assert_error(r, 422, "validation", Some("depends_on[0]")).await;
    let r = send_json(a.put(&url), json!({"tag": "", "depends_on": [db]})).await;
    assert_error(r, 422, "validation", Some("tag")).await;

    // A tag on the database itself would make it depend on itself.
    let r = put(&app, &a, db, "db", json!({"tags": ["backend"]})).await;
    let body = assert_error(r, 422, "validation", Some("tags")).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("db → db") && message.contains("backend"), "{message}");
    // The database carrying "infra", which depends on the API, which depends on the database.
    let r = put(&app, &a, db, "db", json!({"tags": ["infra"]})).await;
    assert_eq!(r.status(), 200);
    let r = send_json(a.put(&url), json!({"tag": "infra", "depends_on": [api]})).await;
    let body = assert_error(r, 422, "validation", Some("depends_on")).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("db → api → db"), "{message}");
    assert_eq!(get_json(&a, url.clone()).await["total"], 1, "nothing stored");

    // `[]` removes a tag's dependencies.
    let r = send_json(a.put(&url), json!({"tag": "backend", "depends_on": []})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(get_json(&a, url).await["total"], 0);
}

#[tokio::test]
async fn export_and_import_carry_dependencies_by_name() {
    // Arrange
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let db = id_of(&target(&app, &a, "db", &[]).await);
    target(&app, &a, "api", &[db]).await;

    // Act: export from A, import into B.
    let doc: Value = get_json(&a, app.url("/api/targets/export")).await;
    let r = send_json(b.post(app.url("/api/targets/import")), &doc).await;

    // Assert
    let entries = doc["targets"].as_array().unwrap();
    let api_entry = entries.iter().find(|t| t["name"] == "api").unwrap();
    assert_eq!(api_entry["depends_on_names"], json!(["db"]));
    assert_eq!(r.status(), 200);
    let list = get_json(&b, app.url("/api/targets?sort=name")).await;
    let (api_b, db_b) = (&list["items"][0], &list["items"][1]);
    assert_eq!(
        (api_b["name"].as_str(), db_b["name"].as_str()),
        (Some("api"), Some("db"))
    );
    assert_eq!(api_b["depends_on"], json!([db_b["id"]]));

    // A document that closes a cycle creates nothing.
    let cyclic = json!({"version": 1, "targets": [
        {"name": "x", "spec": {"kind": "http", "url": "https://x.example.com/"}, "depends_on_names": ["y"]},
        {"name": "y", "spec": {"kind": "http", "url": "https://y.example.com/"}, "depends_on_names": ["x"]},
    ]});
    let r = send_json(b.post(app.url("/api/targets/import")), &cyclic).await;
    let body = assert_error(r, 422, "validation", Some("targets[0].depends_on_names")).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("x → y → x"),
        "{body}"
    );
    assert_eq!(get_json(&b, app.url("/api/targets")).await["total"], 2);
}

#[tokio::test]
async fn an_incident_shows_its_cause_and_the_cause_its_effects() {
    // Arrange: the incidents as the engine leaves them.
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let db = target(&app, &a, "db", &[]).await;
    let api = target(&app, &a, "api", &[id_of(&db)]).await;
    let owner: Uuid = sqlx::query_scalar("select owner_id from targets where id = $1")
        .bind(id_of(&db))
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    let (cause, effect) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, target, caused_by, state) in [
        (cause, id_of(&db), None, "notified"),
        (effect, id_of(&api), Some(cause), "held"),
    ] {
        sqlx::query(
            "insert into incidents (id, target_id, owner_id, opened_at, caused_by, notify_state)
             values ($1, $2, $3, now(), $4, $5)",
        )
        .bind(id)
        .bind(target)
        .bind(owner)
        .bind(caused_by)
        .bind(state)
        .execute(&app.pg.pool)
        .await
        .unwrap();
    }

    // Act
    let held = get_json(&a, app.url(&format!("/api/incidents/{effect}"))).await;
    let root = get_json(&a, app.url(&format!("/api/incidents/{cause}"))).await;
    let list = get_json(&a, app.url("/api/incidents")).await;

    // Assert
    assert_eq!(
        held["caused_by"],
        json!({"incident_id": cause, "target_id": db["id"], "target_name": "db"})
    );
    assert_eq!(held["notification"], "held");
    assert_eq!(root["caused_by"], Value::Null);
    assert_eq!(root["notification"], "notified");
    assert_eq!(
        root["effects"],
        json!([{"incident_id": effect, "target_id": api["id"], "target_name": "api"}])
    );
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(effect))
        .unwrap();
    assert_eq!(listed["caused_by"]["incident_id"], json!(cause));
}
