//! History API across the archive seam, status pages, and owner isolation.

use chrono::{Duration, DurationRound, NaiveDate, Utc};
use common::messages::Outcome;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{create_target, get_json, http_target, id_of, insert_check_rows, send_json, spawn_app};

fn midnight(d: NaiveDate) -> chrono::DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// Results of `target` in ClickHouse: `(started at, outcome, duration in ms)`; the same
/// tuple twice is one result delivered twice (same result id).
async fn insert_fresh(app: &crate::helpers::TestApp, target: Uuid, results: &[(chrono::DateTime<Utc>, Outcome, i64)]) {
    let mut ids = std::collections::HashMap::new();
    let values: Vec<String> = results
        .iter()
        .map(|&(started, outcome, duration)| {
            let (result_id, job_id) = *ids
                .entry((started, outcome.as_str(), duration))
                .or_insert_with(|| (Uuid::now_v7(), Uuid::now_v7()));
            let mut r = common::samples::check_result();
            r.result_id = result_id;
            r.target_id = target;
            r.started_at = started;
            r.outcome = outcome;
            let at = started.timestamp();
            format!(
                "(toUUID('{result_id}'), toUUID('{job_id}'), toUUID('{target}'), 'default', 'p', 'http', toDateTime({at}), toDateTime({at}), {duration}, '{}', '', '', '', 200, 10, 20, 0, 50, 0, '', NULL, 0, '{}')",
                outcome.as_str(),
                serde_json::to_string(&r)
                    .unwrap()
                    .replace('\\', "\\\\")
                    .replace('\'', "\\'")
            )
        })
        .collect();
    insert_check_rows(&app.ch.client, &values).await;
}

/// An app, Alice's session and her target "shop".
async fn alice_with_shop() -> (crate::helpers::TestApp, reqwest::Client, Uuid) {
    let app = spawn_app().await;
    let c = app.user("alice@example.com").await;
    let target = id_of(&create_target(&app, &c, &http_target("shop", "http://127.0.0.1:9/")).await);
    (app, c, target)
}

/// Three days of hourly results: two archived days (PostgreSQL) and one fresh (ClickHouse).
/// Failures: archived day 1 at 03:00 and 04:00, fresh day at 05:00.
async fn seed(app: &crate::helpers::TestApp, target: Uuid) -> NaiveDate {
    let d1 = Utc::now().date_naive() - Duration::days(40);
    let pool = &app.pg.pool;
    for day in [d1, d1 + Duration::days(1)] {
        sqlx::query("select ensure_archive_partition($1)")
            .bind(day)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query("insert into archive_batches (day, state) values ($1, 'done')")
            .bind(day)
            .execute(pool)
            .await
            .unwrap();
        for h in 0..24 {
            let at = midnight(day) + Duration::hours(h);
            let down = day == d1 && (h == 3 || h == 4);
            let mut r = common::samples::check_result();
            r.result_id = Uuid::now_v7();
            r.target_id = target;
            r.started_at = at;
            r.outcome = if down { Outcome::Down } else { Outcome::Up };
            sqlx::query(
                "insert into archived_results (result_id, target_id, job_id, region, pinger_id, check_kind, checked_at,
                     finished_at, duration_ms, outcome, dns_ms, connect_ms, ttfb_ms, detail)
                 values ($1, $2, $3, 'default', 'p', 'http', $4, $4, $5, $6, 10, 20, 50, $7)",
            )
            .bind(r.result_id)
            .bind(target)
            .bind(Uuid::now_v7())
            .bind(at)
            .bind(100 + h as i32)
            .bind(r.outcome.as_str())
            .bind(serde_json::to_value(&r).unwrap())
            .execute(pool)
            .await
            .unwrap();
        }
        // The archiver's rollups of the day.
        sqlx::query(
            "insert into result_rollups (target_id, granularity, bucket, checks, failures, degraded, downtime_seconds,
                 latency_avg_ms, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms)
             select target_id, g, b, count(*)::int4, (count(*) filter (where outcome = 'down'))::int4, 0,
                    0, avg(duration_ms), 1, 1, 1, 1
             from (select target_id, outcome, duration_ms, 'hour' as g, date_trunc('hour', checked_at, 'UTC') as b
                   from archived_results where target_id = $1 and checked_at >= $2 and checked_at < $3
                   union all
                   select target_id, outcome, duration_ms, 'day', $2 from archived_results
                   where target_id = $1 and checked_at >= $2 and checked_at < $3) x
             group by target_id, g, b",
        )
        .bind(target)
        .bind(midnight(day))
        .bind(midnight(day + Duration::days(1)))
        .execute(pool)
        .await
        .unwrap();
    }
    let d3 = d1 + Duration::days(2);
    let mut results: Vec<_> = (0..24)
        .map(|h| {
            let outcome = if h == 5 { Outcome::Down } else { Outcome::Up };
            (midnight(d3) + Duration::hours(h), outcome, 100 + h)
        })
        .collect();
    // One result delivered twice: the read side must not count it twice.
    results.insert(10, results[10]);
    insert_fresh(app, target, &results).await;
    d1
}

#[tokio::test]
async fn history_ranges_across_the_archive_seam_are_seamless() {
    // Arrange
    let (app, c, target) = alice_with_shop().await;
    let d1 = seed(&app, target).await;
    let (from, to) = (midnight(d1), midnight(d1 + Duration::days(3)));
    let range = format!("from={}&to={}", from.to_rfc3339(), to.to_rfc3339()).replace('+', "%2B");

    // Act: every page of results.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/targets/{target}/results?{range}&limit=10&cursor={cursor}");
        let page = get_json(&c, app.url(&path)).await;
        assert_eq!(page["total"], 72, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["started_at"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let uptime = get_json(&c, app.url(&format!("/api/targets/{target}/uptime?{range}"))).await;
    let latency = get_json(&c, app.url(&format!("/api/targets/{target}/latency?{range}&step=1d"))).await;
    let daily = get_json(&c, app.url(&format!("/api/targets/{target}/uptime/daily?days=90"))).await;

    // Assert: 72 results, newest first, none twice, from both sides of the seam.
    assert_eq!(seen.len(), 72);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no duplicates");
    assert_eq!(uptime["checks"], 72, "{uptime}");
    assert_eq!(uptime["failures"], 3, "{uptime}");
    assert_eq!(uptime["downtime_seconds"], 3.0 * 3600.0, "{uptime}");
    let u = uptime["uptime"].as_f64().unwrap();
    assert!((u - (1.0 - 3.0 / 72.0)).abs() < 1e-9, "{u}");
    let points = latency["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{latency}");
    for p in points {
        assert!(p["total"]["p50"].as_f64().unwrap() > 100.0, "{p}");
        assert!(p["connect"]["p50"].as_f64().unwrap() > 0.0, "{p}");
    }
    let days = daily["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    let by_date = |d: NaiveDate| days.iter().find(|x| x["date"] == d.to_string()).unwrap().clone();
    assert_eq!(by_date(d1)["checks"], 24);
    assert_eq!(by_date(d1 + Duration::days(2))["checks"], 24);
    assert!((by_date(d1)["uptime"].as_f64().unwrap() - 22.0 / 24.0).abs() < 1e-9);
    assert!(by_date(d1 - Duration::days(1))["uptime"].is_null());
}

#[tokio::test]
async fn another_user_gets_404_for_every_id_and_a_status_page_shows_only_public_fields() {
    // Arrange: alice has a target, an incident, a window and a status page; bob has nothing.
    let app = spawn_app().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let secret_url = "http://127.0.0.1:9/secret-path";
    let target = create_target(&app, &alice, &http_target("shop", secret_url)).await;
    let hidden = create_target(&app, &alice, &http_target("hidden", "http://127.0.0.1:9/hidden")).await;
    let target: Uuid = target["id"].as_str().unwrap().parse().unwrap();
    let owner: Uuid = sqlx::query_scalar("select owner_id from targets where id = $1")
        .bind(target)
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    let incident = Uuid::now_v7();
    sqlx::query(
        "insert into incidents (id, target_id, owner_id, opened_at, regions, evidence)
         values ($1, $2, $3, now(), '{default}', '{\"secret\": true}')",
    )
    .bind(incident)
    .bind(target)
    .bind(owner)
    .execute(&app.pg.pool)
    .await
    .unwrap();
    let window = json!({"name": "upgrade", "target_id": target, "starts_at": "2026-01-01T00:00:00Z",
                        "ends_at": "2026-01-01T01:00:00Z", "recurrence": "weekly"});
    let window: Value = send_json(alice.post(app.url("/api/maintenance")), window)
        .await
        .json()
        .await
        .unwrap();
    let page = json!({"slug": "acme", "title": "Acme", "targets": [
        {"target_id": target, "display_name": "Shop", "position": 1, "group": "Web"}]});
    let r = send_json(alice.post(app.url("/api/status-pages")), page).await;
    assert_eq!(r.status(), 201);
    let page: Value = r.json().await.unwrap();
    let badge_token = app.url(&format!("/api/targets/{target}/badge-token"));
    let token: Value = alice.post(badge_token).send().await.unwrap().json().await.unwrap();

    // Act + Assert: bob sees none of it.
    let page_id = page["id"].as_str().unwrap();
    let window_id = window["id"].as_str().unwrap();
    for path in [
        format!("/api/targets/{target}/overview"),
        format!("/api/targets/{target}/results"),
        format!("/api/targets/{target}/uptime"),
        format!("/api/targets/{target}/uptime/daily"),
        format!("/api/targets/{target}/latency"),
        format!("/api/targets/{target}/incidents"),
        format!("/api/incidents/{incident}"),
        format!("/api/maintenance/{window_id}"),
        format!("/api/status-pages/{page_id}"),
    ] {
        let r = bob.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "GET {path}");
        let r = alice.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "alice GET {path}");
    }
    for path in [
        format!("/api/incidents/{incident}/ack"),
        format!("/api/targets/{target}/badge-token"),
    ] {
        assert_eq!(
            bob.post(app.url(&path)).send().await.unwrap().status(),
            404,
            "POST {path}"
        );
    }
    let notes = app.url(&format!("/api/incidents/{incident}/notes"));
    let note = send_json(bob.post(notes.clone()), json!({"text": "mine"})).await;
    assert_eq!(note.status(), 404);
    for path in [
        format!("/api/maintenance/{window_id}"),
        format!("/api/status-pages/{page_id}"),
    ] {
        let del = bob.delete(app.url(&path)).send().await.unwrap();
        assert_eq!(del.status(), 404, "DELETE {path}");
    }
    let list = get_json(&bob, app.url("/api/incidents")).await;
    assert_eq!(list["total"], 0);
    let spark = get_json(&bob, app.url(&format!("/api/overview/sparklines?ids={target}"))).await;
    assert_eq!(spark, json!({}));

    // Alice acknowledges and notes; the detail shows both on the timeline.
    let ack = app.url(&format!("/api/incidents/{incident}/ack"));
    alice.post(ack).send().await.unwrap();
    // A NUL (PostgreSQL refuses it in text) is a 422 naming the field; line breaks are kept.
    let nul = send_json(alice.post(notes.clone()), json!({"text": "a\u{0}b"})).await;
    crate::helpers::assert_error(nul, 422, "validation", Some("text")).await;
    let detail: Value = send_json(alice.post(notes), json!({"text": "looking"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(detail["acknowledged_at"].is_string(), "{detail}");
    assert_eq!(detail["timeline"][0]["kind"], "acknowledged");
    assert_eq!(detail["notes"][0]["text"], "looking");

    // The public page: no auth, only what is on it, no private field.
    let public = reqwest::get(app.url("/status/acme")).await.unwrap();
    assert_eq!(public.status(), 200);
    let text = public.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["targets"].as_array().unwrap().len(), 1);
    assert_eq!(body["targets"][0]["name"], "Shop");
    assert_eq!(body["targets"][0]["group"], "Web");
    assert_eq!(body["targets"][0]["days"].as_array().unwrap().len(), 90);
    assert_eq!(body["incidents"].as_array().unwrap().len(), 1);
    for secret in [
        target.to_string(),
        owner.to_string(),
        incident.to_string(),
        secret_url.to_owned(),
        "hidden".to_owned(),
        hidden["id"].as_str().unwrap().to_owned(),
        "alice".to_owned(),
        "evidence".to_owned(),
    ] {
        assert!(!text.contains(&secret), "the public page leaks {secret}: {text}");
    }
    assert_eq!(reqwest::get(app.url("/status/nope")).await.unwrap().status(), 404);

    // Badges: SVG behind the token, 404 for a guess.
    let token = token["token"].as_str().unwrap();
    for file in ["status.svg", "uptime.svg", "response.svg"] {
        let r = reqwest::get(app.url(&format!("/badge/{token}/{file}"))).await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(r.text().await.unwrap().starts_with("<svg"));
    }
    let guess = reqwest::get(app.url(&format!("/badge/{}/status.svg", "0".repeat(48))))
        .await
        .unwrap();
    assert_eq!(guess.status(), 404);
}

#[tokio::test]
async fn the_overview_list_gets_the_uptime_of_many_targets_in_one_call() {
    // Arrange: "shop" failed 1 of its 4 checks within the last hour (one hour, so one day);
    // "blog" was checked 5 days ago only, all up; "quiet" never was; Bob owns "other".
    let app = spawn_app().await;
    let (alice, bob) = (app.user("alice@example.com").await, app.user("bob@example.com").await);
    let id = |v: Value| v["id"].as_str().unwrap().parse::<Uuid>().unwrap();
    let shop = id(create_target(&app, &alice, &http_target("shop", "http://127.0.0.1:9/")).await);
    let blog = id(create_target(&app, &alice, &http_target("blog", "http://127.0.0.1:9/")).await);
    let quiet = id(create_target(&app, &alice, &http_target("quiet", "http://127.0.0.1:9/")).await);
    let other = id(create_target(&app, &bob, &http_target("other", "https://other.example.com/")).await);
    let now = Utc::now() - Duration::minutes(10);
    let hour = now.duration_trunc(Duration::hours(1)).unwrap();
    let minute = |m| hour + Duration::minutes(m);
    insert_fresh(
        &app,
        shop,
        &[
            (minute(1), Outcome::Up, 100),
            (minute(2), Outcome::Down, 100),
            (minute(3), Outcome::Up, 100),
            (minute(4), Outcome::Up, 100),
        ],
    )
    .await;
    let five_days_ago = now - Duration::days(5);
    insert_fresh(
        &app,
        blog,
        &[
            (five_days_ago, Outcome::Up, 90),
            (five_days_ago + Duration::minutes(1), Outcome::Up, 90),
        ],
    )
    .await;

    // Act
    let uptime = |ids: String| {
        let alice = alice.clone();
        let url = app.url(&format!("/api/overview/uptime?ids={ids}"));
        async move { alice.get(url).send().await.unwrap() }
    };
    let all = uptime(format!("{shop},{blog},{quiet},{other}")).await;
    let bad = uptime(format!("{shop},not-an-id")).await;
    let too_many = uptime(vec![shop.to_string(); 501].join(",")).await;
    let single = get_json(&alice, app.url(&format!("/api/targets/{shop}/overview"))).await;

    // Assert
    assert_eq!(all.status(), 200);
    let all: Value = all.json().await.unwrap();
    let map = all.as_object().unwrap();
    assert_eq!(map.len(), 3, "Bob's target is left out: {all}");
    assert_eq!(all[shop.to_string()], json!({"h24": 0.75, "d30": 0.75}), "{all}");
    assert_eq!(all[blog.to_string()], json!({"h24": null, "d30": 1.0}), "{all}");
    assert_eq!(all[quiet.to_string()], json!({"h24": null, "d30": null}), "{all}");
    assert_eq!(
        single["uptime"]["h24"],
        all[shop.to_string()]["h24"],
        "the same figures as the overview"
    );
    assert_eq!(single["uptime"]["d30"], all[shop.to_string()]["d30"]);
    for (response, what) in [(bad, "a bad id"), (too_many, "501 ids")] {
        assert_eq!(response.status(), 422, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "ids", "{what}: {body}");
    }
}

#[tokio::test]
async fn sealed_days_read_from_postgres_give_the_same_bars_and_follow_a_late_result() {
    // Arrange: a fresh (ClickHouse) day three days ago, 1 of 4 checks down; bars and overview
    // before the archiver seals it.
    let (app, c, target) = alice_with_shop().await;
    let day = Utc::now().date_naive() - Duration::days(3);
    let at = |h| midnight(day) + Duration::hours(h);
    let results = [
        (at(1), Outcome::Up, 100),
        (at(2), Outcome::Down, 100),
        (at(3), Outcome::Up, 100),
        (at(4), Outcome::Up, 100),
    ];
    // One result delivered twice.
    insert_fresh(&app, target, &[&results[..], &results[..1]].concat()).await;
    let read = || async {
        let daily = get_json(&c, app.url(&format!("/api/targets/{target}/uptime/daily?days=7"))).await;
        let overview = get_json(&c, app.url(&format!("/api/targets/{target}/overview"))).await;
        let bar = daily["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["date"] == day.to_string())
            .unwrap()
            .clone();
        (bar, overview["uptime"]["d7"].clone())
    };
    let before = read().await;
    let never = tokio_util::sync::CancellationToken::new();
    let seal = || archiver::seal::seal_days(&app.ch.client, &app.pg.pool, &never);

    // Act
    let sealed = seal().await.unwrap();
    let after = read().await;

    // Assert: the same figures, and they come from PostgreSQL's sealed row.
    assert_eq!(sealed.sealed, vec![day], "{sealed:?}");
    assert_eq!(before.0["checks"], 4, "{before:?}");
    assert_eq!(before.0["uptime"], 0.75, "{before:?}");
    assert_eq!(after, before, "sealing changes no figure");
    let sealed_failures: i32 = sqlx::query_scalar(
        "select failures from result_rollups where target_id = $1 and granularity = 'day' and bucket = $2",
    )
    .bind(target)
    .bind(midnight(day))
    .fetch_one(&app.pg.pool)
    .await
    .unwrap();
    assert_eq!(sealed_failures, 1);

    // Act: a late result of the sealed day, then the archiver's next pass.
    insert_fresh(&app, target, &[(at(5), Outcome::Down, 100)]).await;
    let resealed = seal().await.unwrap();
    let late = read().await;

    // Assert
    assert_eq!(resealed.sealed, vec![day], "{resealed:?}");
    assert_eq!(late.0["checks"], 5, "{late:?}");
    assert_eq!(late.0["uptime"], 0.6, "{late:?}");

    // The bar of a sealed day is PostgreSQL's row, not ClickHouse's states: a changed row
    // shows (only a test changes it).
    sqlx::query("update result_rollups set failures = 0 where target_id = $1 and granularity = 'day'")
        .bind(target)
        .execute(&app.pg.pool)
        .await
        .unwrap();
    assert_eq!(read().await.0["uptime"], 1.0);
}

/// Two old-layout days (as an archiver before the compact layout left them: `archived_results`
/// rows, rollups, ledger `rows`) of results every 20 minutes at odd milliseconds, with a failure
/// stretch, a certificate change and a redirect-chain change; and one fresh day in ClickHouse.
async fn seed_old_layout(app: &crate::helpers::TestApp, target: Uuid) -> (NaiveDate, NaiveDate) {
    let d1 = Utc::now().date_naive() - Duration::days(40);
    let pool = &app.pg.pool;
    for day in [d1, d1 + Duration::days(1)] {
        let mut conn = pool.acquire().await.unwrap();
        archiver::ledger::ensure_partition(&mut conn, day).await.unwrap();
        let rows: Vec<archiver::row::ResultRow> = (0..72)
            .map(|i| {
                let mut r = common::samples::check_result();
                r.result_id = Uuid::new_v4();
                r.job_id = Uuid::new_v4();
                r.target_id = target;
                r.started_at = midnight(day) + Duration::minutes(20 * i) + Duration::milliseconds(137 * i + 5);
                r.duration_ms = 90 + (i as u32 * 7) % 50;
                r.finished_at = r.started_at + Duration::milliseconds(i64::from(r.duration_ms));
                if i >= 30 {
                    r.tls.as_mut().unwrap().fingerprint_sha256 = "cd".repeat(32);
                }
                if i >= 50 {
                    r.hops.remove(0);
                }
                if !(10..13).contains(&i) {
                    (r.outcome, r.failure, r.status_code, r.body_excerpt) = (Outcome::Up, None, Some(200), None);
                }
                archiver::row::ResultRow::from_result(&r).unwrap()
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        archiver::ledger::insert_archived(&mut tx, &rows).await.unwrap();
        archiver::ledger::refresh_rollups(&mut tx, day, None).await.unwrap();
        sqlx::query("insert into archive_batches (day, state, layout) values ($1, 'done', 'rows')")
            .bind(day)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let d3 = d1 + Duration::days(2);
    let results: Vec<_> = (0..24)
        .map(|h| {
            let outcome = if h == 5 { Outcome::Down } else { Outcome::Up };
            (midnight(d3) + Duration::hours(h), outcome, 100 + h)
        })
        .collect();
    insert_fresh(app, target, &results).await;
    (d1, d3)
}

/// Every page of results of `target` in `range`, and the totals each page gave.
async fn all_results(
    app: &crate::helpers::TestApp,
    c: &reqwest::Client,
    target: Uuid,
    range: &str,
) -> (Vec<Value>, Vec<Value>) {
    let (mut items, mut totals) = (Vec::new(), Vec::new());
    let mut cursor = String::new();
    loop {
        let page = get_json(
            c,
            app.url(&format!(
                "/api/targets/{target}/results?{range}&limit=25&cursor={cursor}"
            )),
        )
        .await;
        totals.push(page["total"].clone());
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    (items, totals)
}

#[tokio::test]
async fn a_range_across_the_seam_reads_the_same_before_and_after_the_archive_moves_to_the_compact_layout() {
    // Arrange: a range from the middle of the first old-layout day into the fresh day.
    let (app, c, target) = alice_with_shop().await;
    let (d1, d3) = seed_old_layout(&app, target).await;
    let (from, to) = (midnight(d1) + Duration::hours(2), midnight(d3) + Duration::hours(12));
    let range = format!("from={}&to={}", from.to_rfc3339(), to.to_rfc3339()).replace('+', "%2B");
    let read = || async {
        let (items, totals) = all_results(&app, &c, target, &range).await;
        let latency = get_json(&c, app.url(&format!("/api/targets/{target}/latency?{range}&step=1h"))).await;
        let uptime = get_json(&c, app.url(&format!("/api/targets/{target}/uptime?{range}"))).await;
        (items, totals, latency, uptime)
    };
    let (before, before_totals, before_latency, before_uptime) = read().await;

    // Act: move both days, one at a time, reading between the two.
    archiver::days::migrate_day(&app.pg.pool, d1, None).await.unwrap();
    let (half, half_totals, half_latency, _) = read().await;
    archiver::days::migrate_day(&app.pg.pool, d1 + Duration::days(1), None)
        .await
        .unwrap();
    let (after, after_totals, after_latency, after_uptime) = read().await;

    // Assert: 66 + 72 archived and 12 fresh results, the same ones in the same order, before,
    // half-way and after; the same counts, latency series and uptime.
    assert_eq!(before.len(), 66 + 72 + 12);
    for totals in [&before_totals, &half_totals, &after_totals] {
        assert!(totals.iter().all(|t| *t == json!(150)), "{totals:?}");
    }
    assert_eq!(half_latency, before_latency);
    assert_eq!(after_latency, before_latency);
    assert_eq!(after_uptime, before_uptime);
    let fields = [
        "result_id",
        "job_id",
        "target_id",
        "region",
        "pinger_id",
        "check_kind",
        "started_at",
        "finished_at",
        "duration_ms",
        "outcome",
        "status_code",
        "failure",
        "resolved_ip",
        "probe_degraded",
    ];
    let mut dropped = 0;
    for listing in [&half, &after] {
        assert_eq!(listing.len(), before.len());
        for (b, a) in before.iter().zip(listing.iter()) {
            assert_eq!(b["detail_dropped"], false, "{b}");
            if a["detail_dropped"] == true {
                dropped += 1;
                assert!(a["detail"].is_null(), "{a}");
                assert_eq!(a["outcome"], "up", "only up results lose their detail: {a}");
                for f in fields {
                    assert_eq!(a[f], b[f], "{f} of {}", b["result_id"]);
                }
                let ttfb: f64 = b["hops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["timings"]["ttfb_ms"].as_f64().unwrap_or(0.0))
                    .sum();
                assert_eq!(a["timings"]["ttfb_ms"].as_f64().unwrap(), ttfb);
            } else {
                assert_eq!(a, b, "a kept result is listed as it was");
            }
        }
    }
    assert!(
        dropped > 100,
        "most up results of the archived days lose their detail ({dropped})"
    );
    // Kept on each archived day: the first, the failures and the first after them, the first
    // with the new certificate and the first with the new chain.
    let kept_on = |day: NaiveDate| -> Vec<String> {
        after
            .iter()
            .filter(|r| r["detail_dropped"] == false && r["started_at"].as_str().unwrap().starts_with(&day.to_string()))
            .map(|r| r["started_at"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        kept_on(d1 + Duration::days(1)).len(),
        7,
        "{:?}",
        kept_on(d1 + Duration::days(1))
    );
}
