//! Heartbeat targets against the real broker, PostgreSQL and ClickHouse: the ping endpoint,
//! the leader's deadline watch (with an accelerated clock), the incidents they open and
//! resolve, a leader killed during a silence, and a script written for Healthchecks.

use std::time::Duration;

use backend::clock::Clock;
use backend::scheduler;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

/// How much faster than real time the accelerated tests run.
const SPEED: f64 = 20.0;

/// Polls `f` every 50 ms until it returns `Some`, for at most `secs` real seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (real time) until `clock` reads `at`.
async fn until(clock: Clock, at: DateTime<Utc>) {
    tokio::time::sleep(clock.real_delay(at - clock.now())).await;
}

/// Creates a heartbeat target; its id and ping path (`/ping/{token}`).
async fn heartbeat(app: &TestApp, c: &reqwest::Client, name: &str, spec: Value) -> (uuid::Uuid, String) {
    let t = create_target(app, c, &json!({"name": name, "spec": spec})).await;
    let url = t["ping_url"].as_str().expect("a heartbeat has a ping URL");
    let path = &url[url.find("/ping/").expect("the URL names /ping/")..];
    (id_of(&t), path.to_owned())
}

/// A GET of a ping path; the status.
async fn ping(app: &TestApp, path: &str) -> u16 {
    reqwest::get(app.url(path)).await.unwrap().status().as_u16()
}

async fn incidents(app: &TestApp, c: &reqwest::Client, id: uuid::Uuid) -> Vec<Value> {
    let page = get_json(c, app.url(&format!("/api/targets/{id}/incidents?limit=100"))).await;
    page["items"].as_array().cloned().unwrap_or_default()
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// An app whose scheduler, pings and engine read an accelerated clock, watching deadlines
/// every 50 ms.
async fn accelerated_app() -> (TestApp, Clock) {
    let clock = Clock::accelerated(Utc::now(), SPEED);
    let app = spawn_app_with(|c| {
        c.api.clock = clock;
        c.api.heartbeat_poll = Duration::from_millis(50);
        c.api.heartbeat_settle = Duration::from_millis(100);
    })
    .await;
    (app, clock)
}

/// Starts the archiver (results into ClickHouse) on the app's servers.
async fn archiver(app: &TestApp) -> (CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let stop = CancellationToken::new();
    let mut config = archiver::Config::new(app.broker.config.clone(), app.pg.config.clone(), app.ch.config.clone());
    config.archive.disabled = true;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(archiver::run_with(config, stop.clone(), move |addr| {
        let _ = tx.send(addr);
    }));
    rx.await.expect("the archiver binds");
    (stop, task)
}

#[tokio::test]
async fn pinged_on_time_for_five_periods_then_silent_opens_one_incident_within_the_grace_time_and_a_ping_resolves_it() {
    // Arrange: every 60 s, 30 s of grace, at 20× speed; the archiver stores results.
    let (app, clock) = accelerated_app().await;
    let (stop_archiver, archiver) = archiver(&app).await;
    let c = app.user("beat@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "nightly backup",
        json!({"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 30}),
    )
    .await;

    // Act: five pings, one a period apart.
    let start = clock.now();
    let mut last = start;
    for i in 0..5 {
        until(clock, start + chrono::Duration::seconds(60 * i)).await;
        assert_eq!(ping(&app, &path).await, 200);
        let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
        last = at(&target["heartbeat"]["last_ping_at"]);
    }
    // Then silence: the deadline is a period after the last ping.
    let deadline = last + chrono::Duration::seconds(60);
    let opened = eventually(30, "an incident", || async {
        incidents(&app, &c, id).await.into_iter().next()
    })
    .await;

    // Assert: no incident while pinged on time; one, within grace + 5 s of the deadline.
    let opened_at = at(&opened["opened_at"]);
    assert!(
        opened_at >= deadline + chrono::Duration::seconds(30),
        "opened at {opened_at}, deadline {deadline}"
    );
    assert!(
        opened_at <= deadline + chrono::Duration::seconds(35),
        "opened at {opened_at}, more than grace + 5 s after the deadline {deadline}"
    );
    assert_eq!(opened["failure_kind"], "heartbeat_missed");
    // Two more periods of silence: still one incident.
    until(clock, deadline + chrono::Duration::seconds(30 + 130)).await;
    assert_eq!(incidents(&app, &c, id).await.len(), 1);

    // One ping resolves it.
    assert_eq!(ping(&app, &path).await, 200);
    let resolved = eventually(20, "the resolution", || async {
        incidents(&app, &c, id)
            .await
            .into_iter()
            .find(|i| !i["resolved_at"].is_null())
    })
    .await;
    assert_eq!(resolved["id"], opened["id"]);
    assert_eq!(incidents(&app, &c, id).await.len(), 1);

    // History holds the pings (up) and the missed deadlines (down).
    let client = app.ch.client.clone();
    let (up, down) = eventually(30, "results in ClickHouse", || {
        let client = client.clone();
        async move {
            let counts: (u64, u64) = client
                .query(
                    "select countIf(outcome = 'up'), countIf(outcome = 'down') from \
                     (select outcome from check_results where target_id = ? limit 1 by result_id)",
                )
                .bind(id)
                .fetch_one()
                .await
                .ok()?;
            (counts.0 >= 6 && counts.1 >= 3).then_some(counts)
        }
    })
    .await;
    assert_eq!(up, 6, "five pings and the resolving one");
    assert!((3..=4).contains(&down), "a missed result per silent period, got {down}");
    let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    assert_eq!(target["heartbeat"]["pings"], 6);
    assert!(target["heartbeat"]["expected_at"].is_string());
    stop_archiver.cancel();
    let _ = archiver.await;
}

#[tokio::test]
async fn fail_opens_an_incident_at_once_exit_status_1_is_a_failure_and_0_resolves() {
    let app = spawn_app().await;
    let c = app.user("fail@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "queue worker",
        json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 300}),
    )
    .await;
    assert_eq!(ping(&app, &path).await, 200);

    // /fail: an incident at once (no grace, no threshold).
    assert_eq!(ping(&app, &format!("{path}/fail")).await, 200);
    let first = eventually(20, "an incident after /fail", || async {
        incidents(&app, &c, id).await.into_iter().next()
    })
    .await;
    assert_eq!(first["failure_kind"], "heartbeat_failed");
    // /0 is a success: it resolves.
    assert_eq!(ping(&app, &format!("{path}/0")).await, 200);
    eventually(20, "the resolution", || async {
        incidents(&app, &c, id)
            .await
            .into_iter()
            .find(|i| !i["resolved_at"].is_null())
    })
    .await;

    // /1 with the job's output as a POST body: a failure, and the body is the evidence.
    let r = client()
        .post(app.url(&format!("{path}/1")))
        .body("pg_dump: error: connection refused")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = eventually(20, "a second incident", || async {
        incidents(&app, &c, id)
            .await
            .into_iter()
            .find(|i| i["resolved_at"].is_null())
    })
    .await;
    assert_ne!(second["id"], first["id"]);
    let detail = get_json(
        &c,
        app.url(&format!("/api/incidents/{}", second["id"].as_str().unwrap())),
    )
    .await;
    let evidence = detail["evidence"].to_string();
    assert!(evidence.contains("pg_dump: error: connection refused"), "{evidence}");
    assert!(evidence.contains("exit status 1"), "{evidence}");

    // The ping log keeps every ping, newest first, with the body.
    let pings = get_json(&c, app.url(&format!("/api/targets/{id}/pings"))).await;
    let events: Vec<&str> = pings["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["exit_status", "success", "fail", "success"]);
    assert_eq!(pings["items"][0]["exit_status"], 1);
    assert_eq!(pings["items"][0]["method"], "POST");
    assert_eq!(pings["items"][0]["body"], "pg_dump: error: connection refused");
}

#[tokio::test]
async fn a_run_that_starts_and_does_not_finish_within_the_grace_time_is_late_and_a_finish_records_its_duration() {
    let (app, clock) = accelerated_app().await;
    let c = app.user("late@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "report",
        json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 30}),
    )
    .await;
    assert_eq!(ping(&app, &path).await, 200);
    assert_eq!(ping(&app, &format!("{path}/start")).await, 200);
    // The run's start as the server recorded it.
    let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    let started = at(&target["heartbeat"]["started_at"]);

    let late = eventually(20, "a late run's incident", || async {
        incidents(&app, &c, id).await.into_iter().next()
    })
    .await;
    assert_eq!(late["failure_kind"], "heartbeat_late");
    let opened_at = at(&late["opened_at"]);
    assert!(opened_at >= started + chrono::Duration::seconds(30));
    assert!(
        opened_at <= started + chrono::Duration::seconds(35),
        "late at {opened_at}, started {started}"
    );

    // A run that starts and finishes: resolved, its duration recorded.
    assert_eq!(ping(&app, &format!("{path}/start")).await, 200);
    let run_start = clock.now();
    until(clock, run_start + chrono::Duration::seconds(14)).await;
    assert_eq!(ping(&app, &path).await, 200);
    eventually(20, "the resolution", || async {
        incidents(&app, &c, id)
            .await
            .into_iter()
            .find(|i| !i["resolved_at"].is_null())
    })
    .await;
    let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    let ms = target["heartbeat"]["last_duration_ms"].as_i64().unwrap();
    assert!((14_000..20_000).contains(&ms), "a 14 s run took {ms} ms");
    assert!(target["heartbeat"]["started_at"].is_null());
}

#[tokio::test]
async fn a_leader_killed_during_a_silence_gives_exactly_one_incident_and_no_false_one_after_the_restart() {
    // Arrange: the app without its own scheduler; two standalone schedulers on its clock.
    let clock = Clock::accelerated(Utc::now(), SPEED);
    let app = spawn_app_with(|c| {
        c.api.clock = clock;
        c.api.scheduler = false;
        c.api.heartbeat_settle = Duration::from_millis(100);
    })
    .await;
    let c = app.user("failover@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "backup",
        json!({"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 30}),
    )
    .await;
    let instance = || {
        let stop = CancellationToken::new();
        let state = backend::AppState::new(app.config.clone(), stop.clone()).unwrap();
        let mut deps = backend::scheduler_deps(&state, clock).unwrap();
        deps.heartbeat_poll = Duration::from_millis(50);
        deps.heartbeat_settle = Duration::from_millis(100);
        deps.standby_poll = Duration::from_millis(100);
        let stats = deps.stats.clone();
        let task = tokio::spawn(scheduler::run(deps, stop.clone()));
        (stop, task, stats)
    };
    let leading = |stats: &std::sync::Arc<scheduler::Stats>| stats.leading.load(std::sync::atomic::Ordering::SeqCst);
    let (stop_a, task_a, stats_a) = instance();
    wait_until(20, "A leads", || leading(&stats_a)).await;
    let (stop_b, task_b, stats_b) = instance();

    // Act: a ping, then silence; the leader is killed before the deadline passes.
    assert_eq!(ping(&app, &path).await, 200);
    // The ping's time as the server recorded it.
    let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    let pinged = at(&target["heartbeat"]["last_ping_at"]);
    until(clock, pinged + chrono::Duration::seconds(45)).await;
    stop_a.cancel();
    let _ = task_a.await;
    wait_until(20, "B leads", || leading(&stats_b)).await;
    let opened = eventually(30, "the incident", || async {
        incidents(&app, &c, id).await.into_iter().next()
    })
    .await;

    // Assert: one incident, within grace + 5 s of the deadline.
    let deadline = pinged + chrono::Duration::seconds(60);
    let opened_at = at(&opened["opened_at"]);
    assert!(
        opened_at >= deadline + chrono::Duration::seconds(30) && opened_at <= deadline + chrono::Duration::seconds(35),
        "{opened_at} vs {deadline}"
    );

    // A ping resolves it; the leader is restarted right after: no false "missed" follows.
    assert_eq!(ping(&app, &path).await, 200);
    let resumed = clock.now();
    eventually(20, "the resolution", || async {
        incidents(&app, &c, id)
            .await
            .into_iter()
            .find(|i| !i["resolved_at"].is_null())
    })
    .await;
    stop_b.cancel();
    let _ = task_b.await;
    let (stop_c, task_c, stats_c) = instance();
    wait_until(20, "C leads", || leading(&stats_c)).await;
    // The next ping comes late but within the grace time; then the next one on time.
    until(clock, resumed + chrono::Duration::seconds(80)).await;
    assert_eq!(ping(&app, &path).await, 200);
    let again = clock.now();
    until(clock, again + chrono::Duration::seconds(75)).await;
    assert_eq!(
        incidents(&app, &c, id).await.len(),
        1,
        "no false incident after the restart"
    );
    stop_c.cancel();
    let _ = task_c.await;
}

#[tokio::test]
async fn a_script_written_for_healthchecks_works_unchanged() {
    // Arrange: a heartbeat with a slug, and the script of Healthchecks' documentation.
    let app = spawn_app().await;
    let c = app.user("script@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "db backup",
        json!({"kind": "heartbeat", "cron": "0 2 * * *", "timezone": "Europe/Moscow", "grace_seconds": 900, "slug": "db-backup"}),
    )
    .await;
    let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    let slug_url = target["heartbeat"]["slug_url"].as_str().unwrap();
    let slug_path = &slug_url[slug_url.find("/ping/").unwrap()..];
    let script = r#"
        set -u
        curl -fsS -m 10 --retry 5 -o /dev/null "$URL/start"
        sleep 0.3  # the job
        curl -fsS -m 10 --retry 5 -o /dev/null "$URL/$?"
        false      # a failing job
        curl -fsS -m 10 --retry 5 -o /dev/null "$URL/$?"
        echo "backup finished: 42 tables" | curl -fsS -m 10 --retry 5 --data-binary @- -o /dev/null "$URL"
        curl -fsS -m 10 --retry 5 -o /dev/null "$SLUG_URL/log"
        curl -fsS -m 10 --retry 5 -I -o /dev/null "$URL"
    "#;

    // Act
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("URL", app.url(&path))
        .env("SLUG_URL", app.url(slug_path))
        .output()
        .await
        .unwrap();

    // Assert: every curl succeeded, and the pings are what the script sent.
    assert!(
        out.status.success(),
        "the script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pings = get_json(&c, app.url(&format!("/api/targets/{id}/pings"))).await;
    let items = pings["items"].as_array().unwrap();
    let events: Vec<(&str, &str)> = items
        .iter()
        .rev()
        .map(|p| (p["event"].as_str().unwrap(), p["method"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("start", "GET"),
            ("success", "GET"),
            ("exit_status", "GET"),
            ("success", "POST"),
            ("log", "GET"),
            ("success", "HEAD")
        ]
    );
    let finished = &items[items.len() - 2];
    let duration = finished["duration_ms"].as_i64().unwrap();
    assert!(duration >= 300, "the run took {duration} ms");
    assert_eq!(items[2]["body"], "backup finished: 42 tables\n");
    assert_eq!(items[3]["exit_status"], 1);
    assert!(items[0]["user_agent"].as_str().unwrap().starts_with("curl/"));
}

#[tokio::test]
async fn a_body_with_a_nul_byte_is_stored_and_fails_no_other_ping() {
    // Arrange: PostgreSQL's text cannot hold a NUL; a body with one, stored as sent, failed
    // the statement that stores its whole batch, and so every other ping in it (503).
    let app = spawn_app().await;
    let c = app.user("nul@example.com").await;
    let mut paths = Vec::new();
    for k in 0..8 {
        let (_, path) = heartbeat(
            &app,
            &c,
            &format!("job {k}"),
            json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 60}),
        )
        .await;
        paths.push(path);
    }
    let (id, nul_path) = heartbeat(
        &app,
        &c,
        "nul",
        json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 60}),
    )
    .await;

    // Act: the NUL body among other pings, all at once (the writer batches what waits).
    let client = reqwest::Client::new();
    let nul = client.post(app.url(&nul_path)).body(b"before\0after".to_vec()).send();
    let others = futures::future::join_all(paths.iter().map(|p| client.get(app.url(p)).send()));
    let (nul, others) = tokio::join!(nul, others);

    // Assert: every ping is stored, the NUL replaced as an undecodable byte would be.
    assert_eq!(nul.unwrap().status(), 200);
    for other in others {
        assert_eq!(other.unwrap().status(), 200);
    }
    let pings = get_json(&c, app.url(&format!("/api/targets/{id}/pings"))).await;
    assert_eq!(pings["items"][0]["body"], "before\u{fffd}after");
}

#[tokio::test]
async fn a_ping_that_postgresql_fails_to_store_is_answered_503_and_changes_nothing() {
    // Arrange: a heartbeat pinged once, then PostgreSQL refusing to store any ping.
    let app = spawn_app().await;
    let c = app.user("unstored@example.com").await;
    let spec = json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 60});
    let (id, path) = heartbeat(&app, &c, "backup", spec).await;
    assert_eq!(ping(&app, &path).await, 200);
    // The heartbeat's row, its deadline and its stored pings.
    let state = || async {
        let row: (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i64) = sqlx::query_as(
            "select h.pings, h.last_ping_at, d.alert_at, (select count(*) from heartbeat_pings p where p.target_id = h.target_id)
             from heartbeats h join heartbeat_deadlines d using (target_id) where h.target_id = $1",
        )
        .bind(id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
        row
    };
    let before = state().await;
    sqlx::raw_sql(
        "create function refuse_pings() returns trigger language plpgsql as
             $$ begin raise exception 'test: no space left for pings'; end $$;
         create trigger refuse_pings before insert on heartbeat_pings for each row execute function refuse_pings();",
    )
    .execute(&app.pg.pool)
    .await
    .unwrap();

    // Act: a failure ping (it would open an incident) while nothing can be stored, then one
    // once PostgreSQL stores pings again.
    let refused = reqwest::get(app.url(&format!("{path}/fail"))).await.unwrap();
    let refused_status = refused.status().as_u16();
    let refused_body: Value = refused.json().await.unwrap();
    let during = state().await;
    sqlx::raw_sql("drop trigger refuse_pings on heartbeat_pings")
        .execute(&app.pg.pool)
        .await
        .unwrap();
    let after_status = ping(&app, &path).await;

    // Assert: 503 (curl --retry retries it) with a JSON error that does not show PostgreSQL's
    // message; the heartbeat, its deadline and its log exactly as before; the next ping is
    // stored by the writer as usual (on another connection: it drops the one that failed).
    assert_eq!(refused_status, 503);
    assert_eq!(refused_body["error"]["code"], "unavailable", "{refused_body}");
    assert!(
        !refused_body.to_string().contains("no space left"),
        "the database's message stays in the log: {refused_body}"
    );
    assert_eq!(during, before, "the failed batch wrote nothing");
    assert_eq!(after_status, 200);
    let after = state().await;
    assert_eq!(
        (after.0, after.3),
        (before.0 + 1, before.3 + 1),
        "the next ping is stored"
    );
}

#[tokio::test]
async fn a_heartbeat_keeps_its_newest_pings_and_pruning_leaves_other_heartbeats_alone() {
    // Arrange: two heartbeats; `KEEP_PINGS` = 100 are kept, pruned each `PRUNE_EVERY` = 50.
    let app = spawn_app().await;
    let c = app.user("prune@example.com").await;
    let spec = json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 60});
    let (busy, busy_path) = heartbeat(&app, &c, "busy", spec.clone()).await;
    let (quiet, quiet_path) = heartbeat(&app, &c, "quiet", spec).await;
    let client = reqwest::Client::new();
    // A `/log` ping with this body; its status.
    let log = |path: &str, body: String| {
        let request = client.post(app.url(&format!("{path}/log"))).body(body).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    for k in 0..3 {
        assert_eq!(log(&quiet_path, format!("quiet {k}")).await, 200);
    }

    // Act: 160 log pings of one heartbeat, one after another (numbered in their bodies), so
    // that it crosses 50, 100 and 150 pings.
    for k in 0..160 {
        assert_eq!(log(&busy_path, k.to_string()).await, 200, "ping {k}");
    }

    // Assert: the pruning at 150 kept the newest 100, and the 10 since stay: pings 50..160.
    let kept: Vec<String> = sqlx::query_scalar("select body from heartbeat_pings where target_id = $1 order by id")
        .bind(busy)
        .fetch_all(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(kept, (50..160).map(|k| k.to_string()).collect::<Vec<_>>());
    let others: i64 = sqlx::query_scalar("select count(*) from heartbeat_pings where target_id = $1")
        .bind(quiet)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(others, 3);
    // The count of pings received is not the count kept.
    let count: i64 = sqlx::query_scalar("select pings from heartbeats where target_id = $1")
        .bind(busy)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(count, 160);
}

#[tokio::test]
async fn a_log_ping_that_waited_for_another_writer_keeps_the_deadline_that_writer_set() {
    // Arrange: an armed heartbeat, and another writer (as the deadline watch is) holding its
    // row locked while it moves the deadline a day on.
    let app = spawn_app().await;
    let c = app.user("race@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "race",
        json!({"kind": "heartbeat", "period_seconds": 3600, "grace_seconds": 60}),
    )
    .await;
    assert_eq!(ping(&app, &path).await, 200);
    let mut other = app.pg.pool.begin().await.unwrap();
    sqlx::query("select 1 from heartbeats where target_id = $1 for update")
        .bind(id)
        .execute(&mut *other)
        .await
        .unwrap();
    let moved: DateTime<Utc> = sqlx::query_scalar(
        "update heartbeat_deadlines set alert_at = alert_at + interval '1 day' where target_id = $1 returning alert_at",
    )
    .bind(id)
    .fetch_one(&mut *other)
    .await
    .unwrap();

    // Act: a log ping (it keeps the deadline) waits for the lock; the other writer commits.
    let url = app.url(&format!("{path}/log"));
    let log = tokio::spawn(async move { reqwest::get(url).await.unwrap().status().as_u16() });
    let pool = app.pg.pool.clone();
    eventually(10, "the ping's writer to wait for the lock", || {
        let pool = pool.clone();
        async move {
            let waiting: i64 = sqlx::query_scalar(
                "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            (waiting > 0).then_some(())
        }
    })
    .await;
    other.commit().await.unwrap();

    // Assert: the ping is stored, and the deadline is the one the other writer left.
    assert_eq!(log.await.unwrap(), 200);
    let now: DateTime<Utc> = sqlx::query_scalar("select alert_at from heartbeat_deadlines where target_id = $1")
        .bind(id)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(now, moved);
    let pings = get_json(&c, app.url(&format!("/api/targets/{id}/pings"))).await;
    assert_eq!(pings["items"][0]["event"], "log");
}

#[tokio::test]
async fn the_ping_endpoint_refuses_what_it_should_and_ignores_sessions_and_origins() {
    let app = spawn_app_with(|c| c.edge.ping_rate_limit = 5).await;
    let c = app.user("edge@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "edge",
        json!({"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 30}),
    )
    .await;

    // Unknown tokens, suffixes and shapes: 404 with the JSON error.
    let token = "00000000-0000-0000-0000-000000000000";
    for unknown in [
        format!("/ping/{token}"),
        format!("{path}/stop"),
        format!("{path}/256"),
        "/ping/a/b/c/d".to_owned(),
    ] {
        assert_error(reqwest::get(app.url(&unknown)).await.unwrap(), 404, "not_found", None).await;
    }

    // A signed-in browser's cross-site form post is still a ping (no CSRF rule applies).
    let r = c
        .post(app.url(&path))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "OK");

    // The per-heartbeat limit (5 per minute): the sixth and later are 429 with Retry-After.
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(ping(&app, &path).await);
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 4, "{codes:?}");
    let r = reqwest::get(app.url(&path)).await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "rate_limited", None).await;

    // Another user cannot read the pings or rotate the token: 404.
    let other = app.user("other@example.com").await;
    assert_error(
        other
            .get(app.url(&format!("/api/targets/{id}/pings")))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
        None,
    )
    .await;
    assert_error(
        other
            .post(app.url(&format!("/api/targets/{id}/ping-token")))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
        None,
    )
    .await;

    // A new token: the old URL stops working (within the lookup cache's seconds).
    let rotated: Value = c
        .post(app.url(&format!("/api/targets/{id}/ping-token")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_url = rotated["ping_url"].as_str().unwrap();
    assert!(!new_url.ends_with(&path));
    eventually(10, "the old token to be refused", || async {
        (ping(&app, &path).await == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_token_is_resolved_with_its_ping_so_rotation_pause_and_deletion_apply_at_once() {
    // Arrange: two heartbeats, each pinged once (any cache of a lookup would hold them now).
    let app = spawn_app().await;
    let c = app.user("at-once@example.com").await;
    let spec = json!({"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 30});
    let (id, path) = heartbeat(&app, &c, "rotated", spec.clone()).await;
    let (other, other_path) = heartbeat(&app, &c, "deleted", spec.clone()).await;
    assert_eq!(ping(&app, &path).await, 200);
    assert_eq!(ping(&app, &other_path).await, 200);

    // Unknown tokens stored in the same batches as known ones: each answered for itself.
    let unknown = format!("/ping/{}", backend::heartbeats::new_token());
    let codes = futures::future::join_all((0..40).map(|i| {
        let path = if i % 2 == 0 { &other_path } else { &unknown };
        ping(&app, path)
    }))
    .await;
    let expected: Vec<u16> = (0..40).map(|i| if i % 2 == 0 { 200 } else { 404 }).collect();
    assert_eq!(codes, expected);
    assert_error(reqwest::get(app.url(&unknown)).await.unwrap(), 404, "not_found", None).await;

    // A new token: the old URL is refused at once, the new one works at once.
    let rotated: Value = c
        .post(app.url(&format!("/api/targets/{id}/ping-token")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = rotated["ping_url"].as_str().unwrap();
    let new_path = &url[url.find("/ping/").unwrap()..];
    assert_eq!(ping(&app, &path).await, 404);
    assert_eq!(ping(&app, new_path).await, 200);

    // Paused: the very next ping is logged without a result; resumed: the next has one.
    let last_result = || async {
        let pings = get_json(&c, app.url(&format!("/api/targets/{id}/pings?limit=1"))).await;
        pings["items"][0]["result_id"].clone()
    };
    for (paused, has_result) in [(true, false), (false, true)] {
        let r = c
            .put(app.url(&format!("/api/targets/{id}")))
            .json(&json!({"name": "rotated", "spec": spec, "paused": paused}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(ping(&app, new_path).await, 200);
        assert_eq!(!last_result().await.is_null(), has_result, "paused: {paused}");
    }

    // Deleted: its token is refused at once.
    let r = c
        .delete(app.url(&format!("/api/targets/{other}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(ping(&app, &other_path).await, 404);
}

#[tokio::test]
async fn heartbeat_specs_are_validated_field_by_field() {
    let app = spawn_app().await;
    let c = app.user("valid@example.com").await;
    let post = |spec: Value| {
        let c = c.clone();
        let url = app.url("/api/targets");
        async move {
            c.post(url)
                .json(&json!({"name": "hb", "spec": spec}))
                .send()
                .await
                .unwrap()
        }
    };
    for (spec, field) in [
        (json!({"kind": "heartbeat", "grace_seconds": 60}), "spec.period_seconds"),
        (json!({"kind": "heartbeat", "period_seconds": 5}), "spec.period_seconds"),
        (
            json!({"kind": "heartbeat", "period_seconds": 60, "cron": "* * * * *"}),
            "spec.cron",
        ),
        (json!({"kind": "heartbeat", "cron": "0 2 * *"}), "spec.cron"),
        (
            json!({"kind": "heartbeat", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}),
            "spec.timezone",
        ),
        (
            json!({"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 0}),
            "spec.grace_seconds",
        ),
        (
            json!({"kind": "heartbeat", "period_seconds": 60, "slug": "Not A Slug"}),
            "spec.slug",
        ),
    ] {
        assert_error(post(spec.clone()).await, 422, "validation", Some(field)).await;
    }
    // A slug is unique per owner.
    let ok = post(json!({"kind": "heartbeat", "period_seconds": 60, "slug": "nightly"})).await;
    assert_eq!(ok.status(), 201);
    let again = c
        .post(app.url("/api/targets"))
        .json(&json!({"name": "hb2", "spec": {"kind": "heartbeat", "period_seconds": 60, "slug": "nightly"}}))
        .send()
        .await
        .unwrap();
    assert_error(again, 422, "validation", Some("spec.slug")).await;
    // "Test now" does not apply.
    let t: Value = ok.json().await.unwrap();
    let r = c
        .post(app.url(&format!("/api/targets/{}/test", t["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_error(r, 422, "validation", Some("spec.kind")).await;
    // Heartbeats export and import with their schedule.
    let doc = get_json(&c, app.url("/api/targets/export")).await;
    assert_eq!(doc["targets"][0]["spec"]["slug"], "nightly");
}

#[tokio::test]
async fn a_paused_heartbeat_keeps_its_pings_but_has_no_deadline() {
    let (app, clock) = accelerated_app().await;
    let c = app.user("paused@example.com").await;
    let (id, path) = heartbeat(
        &app,
        &c,
        "paused",
        json!({"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 30}),
    )
    .await;
    assert_eq!(ping(&app, &path).await, 200);
    let r = c
        .put(app.url(&format!("/api/targets/{id}")))
        .json(&json!({"name": "paused", "spec": {"kind": "heartbeat", "period_seconds": 60, "grace_seconds": 30}, "paused": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let paused = r.json::<Value>().await.unwrap();
    assert!(paused["heartbeat"]["expected_at"].is_null());
    let since = clock.now();
    // Three silent periods: nothing is missed.
    until(clock, since + chrono::Duration::seconds(200)).await;
    assert!(incidents(&app, &c, id).await.is_empty());
    // A ping while paused is logged, and changes nothing else (the lookup cache may still hold
    // the unpaused target for a moment: wait until the endpoint sees the pause).
    eventually(10, "the pause to reach the ping endpoint", || async {
        assert_eq!(ping(&app, &path).await, 200);
        let pings = get_json(&c, app.url(&format!("/api/targets/{id}/pings?limit=1"))).await;
        pings["items"][0]["result_id"].is_null().then_some(())
    })
    .await;
    let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
    assert!(target["heartbeat"]["expected_at"].is_null());
}

#[tokio::test]
async fn cron_deadlines_in_the_running_backend_are_exact_across_time_zones_and_daylight_saving() {
    // (clock origin, cron time zone, the deadline a ping at the origin must arm)
    let cases = [
        // Moscow has no daylight saving: 02:00 MSK is 23:00 UTC the day before.
        ("2026-07-01T12:00:00Z", "Europe/Moscow", "2026-07-01T23:00:00Z"),
        // Berlin, spring: 02:00 does not exist on 29 March; the slot is 03:00 CEST (01:00 UTC).
        ("2026-03-28T23:59:00Z", "Europe/Berlin", "2026-03-29T01:00:00Z"),
        // Berlin, autumn: a ping in the repeated hour (02:30 CET) expects the next day's 02:00 CET.
        ("2026-10-25T01:30:00Z", "Europe/Berlin", "2026-10-26T01:00:00Z"),
    ];
    for (origin, zone, expected) in cases {
        let origin: DateTime<Utc> = origin.parse().unwrap();
        let expected: DateTime<Utc> = expected.parse().unwrap();
        let clock = Clock::accelerated(origin, 600.0);
        let app = spawn_app_with(|c| {
            c.api.clock = clock;
            c.api.heartbeat_poll = Duration::from_millis(50);
            c.api.heartbeat_settle = Duration::from_millis(100);
        })
        .await;
        let c = app.user("cron@example.com").await;
        let (id, path) = heartbeat(
            &app,
            &c,
            "nightly",
            json!({"kind": "heartbeat", "cron": "0 2 * * *", "timezone": zone, "grace_seconds": 60}),
        )
        .await;
        assert_eq!(ping(&app, &path).await, 200);
        let target = get_json(&c, app.url(&format!("/api/targets/{id}"))).await;
        assert_eq!(
            at(&target["heartbeat"]["expected_at"]),
            expected,
            "{zone} from {origin}"
        );
        if zone == "Europe/Berlin" && expected.format("%m").to_string() == "03" {
            // Silence past the spring slot: the missed result names that exact slot.
            let opened = eventually(30, "the missed slot's incident", || async {
                incidents(&app, &c, id).await.into_iter().next()
            })
            .await;
            let detail = get_json(
                &c,
                app.url(&format!("/api/incidents/{}", opened["id"].as_str().unwrap())),
            )
            .await;
            let evidence = detail["evidence"].to_string();
            assert!(evidence.contains("2026-03-29T01:00:00Z"), "{evidence}");
            let opened_at = at(&opened["opened_at"]);
            assert!(opened_at >= expected + chrono::Duration::seconds(60), "{opened_at}");
        }
        app.stop().await;
    }
}
