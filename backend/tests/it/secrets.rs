//! Write-only secrets: encrypted at rest, masked in every answer and export, kept by a mask
//! sent back, decrypted only into the jobs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

const PASSWORD: &str = "pw-S3cr3t-0001";
const API_KEY: &str = "key-S3cr3t-0002";
const MARKED: &str = "marked-S3cr3t-0003";
const SECRETS: [&str; 3] = [PASSWORD, API_KEY, MARKED];

fn secret_target(name: &str) -> Value {
    json!({
        "name": name,
        "interval_seconds": 1,
        "timeout_seconds": 0.5,
        "spec": {
            "kind": "http",
            "url": "https://secrets.example.com/",
            "headers": [
                {"name": "X-Api-Key", "value": API_KEY},
                {"name": "Accept", "value": "text/plain"},
                {"name": "X-Custom", "value": MARKED, "secret": true}
            ],
            "auth": {"type": "basic", "username": "robot", "password": PASSWORD}
        }
    })
}

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows a secret: {text}");
    }
}

/// Waits (telling `what` on a timeout) for a job of target `id` among `jobs`; the first.
async fn job_of(jobs: &Mutex<Vec<common::messages::CheckJob>>, id: &str, what: &str) -> common::messages::CheckJob {
    let first = || {
        jobs.lock()
            .unwrap()
            .iter()
            .find(|j| j.target_id.to_string() == id)
            .cloned()
    };
    wait_until(20, what, || first().is_some()).await;
    first().unwrap()
}

/// A writer every test log line goes to.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_secret_set_on_create_never_appears_in_answers_exports_logs_or_the_stored_spec_but_reaches_the_job() {
    // Every log line of this process (the backend runs in it) at debug level, into a buffer.
    let logs = Captured::default();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .try_init();

    let app = spawn_app_with(|c| c.api.min_interval_seconds = 1).await;
    let stop = CancellationToken::new();
    let jobs = collect_jobs(&app.broker, stop.clone()).await;
    let c = app.user("a@example.com").await;

    let r = send_json(c.post(app.url("/api/targets")), &secret_target("api")).await;
    assert_eq!(r.status(), 201);
    let created_text = r.text().await.unwrap();
    assert_no_secret("create", &created_text);
    let created: Value = serde_json::from_str(&created_text).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["spec"]["headers"][0]["value"], "********");
    assert_eq!(created["spec"]["headers"][0]["secret"], true);
    assert_eq!(created["spec"]["headers"][1]["value"], "text/plain");
    assert_eq!(created["spec"]["headers"][2]["secret"], true);
    assert_eq!(created["spec"]["auth"]["password"], "********");
    assert_eq!(created["spec"]["auth"]["secret"], true);
    assert_eq!(created["spec"]["auth"]["username"], "robot");

    for path in [
        format!("/api/targets/{id}"),
        "/api/targets".to_owned(),
        "/api/targets/export".to_owned(),
        "/api/targets/export?format=yaml".to_owned(),
    ] {
        let r = c.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let text = r.text().await.unwrap();
        assert_no_secret(&path, &text);
        assert!(text.contains("********"), "{path} shows the mask: {text}");
    }
    let token = app.token(&c, "read").await;
    let read = client().get(app.url(&format!("/api/targets/{id}"))).bearer_auth(&token);
    let text = read.send().await.unwrap().text().await.unwrap();
    assert_no_secret("a read token's GET", &text);

    // Stored: the spec column holds masks only, the sealed column no plaintext.
    let (spec, sealed): (Value, Vec<u8>) = sqlx::query_as("select spec, secrets from targets where id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_no_secret("the spec column", &spec.to_string());
    assert_no_secret("the secrets column", &String::from_utf8_lossy(&sealed));

    // The scheduled job carries the real values, and its owner.
    let job = job_of(&jobs, &id, "a job of the target").await;
    let job_text = serde_json::to_string(&job.spec).unwrap();
    for s in SECRETS {
        assert!(job_text.contains(s), "the job lacks {s}: {job_text}");
    }
    assert!(job.owner_id.is_some());

    // A PUT of the masked spec keeps every secret.
    let mut body = created.clone();
    body["name"] = json!("api renamed");
    let masked = json!({"name": body["name"], "spec": body["spec"], "interval_seconds": 1, "timeout_seconds": 0.5});
    let r = send_json(c.put(app.url(&format!("/api/targets/{id}"))), masked).await;
    assert_eq!(r.status(), 200);
    assert_no_secret("update", &r.text().await.unwrap());
    jobs.lock().unwrap().clear();
    let after = serde_json::to_string(&job_of(&jobs, &id, "a job after the update").await.spec).unwrap();
    for s in SECRETS {
        assert!(after.contains(s), "the job after a masked PUT lacks {s}: {after}");
    }

    // An exported document imports back onto the same targets (the masks match).
    let yaml = get_text(&c, app.url("/api/targets/export?format=yaml")).await;
    let r = c
        .post(app.url("/api/targets/import"))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome, json!({"created": 0, "updated": 1}));

    stop.cancel();
    app.stop().await;
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("scheduler is the leader"), "the log was captured");
    assert_no_secret("the log", &logs);
}

#[tokio::test]
async fn an_import_with_a_mask_that_matches_no_stored_secret_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    create_target(&app, &c, &http_target("plain", "https://plain.example.com/")).await;
    let doc = json!({"version": 1, "targets": [
        {"name": "plain", "spec": {"kind": "http", "url": "https://plain.example.com/"}},
        {"name": "new", "spec": {"kind": "http", "url": "https://new.example.com/",
            "headers": [{"name": "Accept", "value": "*/*"}, {"name": "Authorization", "value": "********"}]}}
    ]});
    let r = send_json(c.post(app.url("/api/targets/import")), &doc).await;
    let body = assert_error(r, 422, "validation", Some("targets[1].spec.headers[1].value")).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("no"), "{body}");
    // The same on create.
    let r = c
        .post(app.url("/api/targets"))
        .json(
            &json!({"name": "x", "spec": {"kind": "http", "url": "https://x.example.com/",
            "auth": {"type": "bearer", "token": "********"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_error(r, 422, "validation", Some("spec.auth.token")).await;
    let list = get_json(&c, app.url("/api/targets")).await;
    assert_eq!(list["total"], 1, "nothing was imported: {list}");
}

#[tokio::test]
async fn without_a_secret_key_a_secret_is_refused_and_everything_else_works() {
    let app = spawn_app_with(|c| {
        c.api.secret_key = None;
        c.api.min_interval_seconds = 1;
    })
    .await;
    let c = app.user("a@example.com").await;
    let r = send_json(c.post(app.url("/api/targets")), &secret_target("s")).await;
    let body = assert_error(r, 422, "validation", Some("spec.headers[0].value")).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PINGTOWER_SECRET_KEY"),
        "{body}"
    );
    create_target(&app, &c, &http_target("plain", "https://plain.example.com/")).await;
}

#[tokio::test]
async fn plaintext_secrets_stored_before_encryption_are_sealed_by_migrate_once() {
    let app = spawn_app().await;
    let c = app.user("a@example.com").await;
    let created = create_target(&app, &c, &http_target("legacy", "https://legacy.example.com/")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // As an older version stored it: the secret in the spec, nothing sealed.
    sqlx::query(
        "update targets set secrets = null, spec = jsonb_set(spec, '{auth}', \
         jsonb_build_object('type', 'bearer', 'token', $2::text)) where id = $1::uuid",
    )
    .bind(&id)
    .bind(PASSWORD)
    .execute(&app.pg.pool)
    .await
    .unwrap();
    let text = get_text(&c, app.url(&format!("/api/targets/{id}"))).await;
    assert_no_secret("a legacy target's GET", &text);

    backend::migrate(&app.config).await.unwrap();
    let (spec, sealed): (Value, Option<Vec<u8>>) =
        sqlx::query_as("select spec, secrets from targets where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pg.pool)
            .await
            .unwrap();
    assert_no_secret("the spec after migrate", &spec.to_string());
    let sealed = sealed.expect("sealed by migrate");
    backend::migrate(&app.config).await.unwrap();
    let again: Vec<u8> = sqlx::query_scalar("select secrets from targets where id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(again, sealed, "a second migrate leaves it as it is");

    // The sealed value still reaches a job: Test now carries it.
    let stop = CancellationToken::new();
    let jobs = collect_jobs(&app.broker, stop.clone()).await;
    let url = app.url(&format!("/api/targets/{id}/test"));
    let tester = c.clone();
    tokio::spawn(async move {
        let _ = tester.post(url).send().await;
    });
    wait_until(20, "the test-now job", || {
        jobs.lock()
            .unwrap()
            .iter()
            .any(|j| serde_json::to_string(&j.spec).unwrap().contains(PASSWORD))
    })
    .await;
    // Test now's job carries its caller as owner, with their permission (the first user is admin).
    let me = get_json(&c, app.url("/api/auth/me")).await;
    let job = jobs.lock().unwrap()[0].clone();
    assert_eq!(job.owner_id.map(|o| o.to_string()).as_deref(), me["id"].as_str());
    assert!(job.allow_private);
    stop.cancel();
}
