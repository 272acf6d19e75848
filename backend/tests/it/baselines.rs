//! Latency baselines against the real PostgreSQL, ClickHouse and RabbitMQ: weeks of history
//! generated inside ClickHouse (the rollups fill themselves), baselines refreshed from those
//! rollups, then results driven through the incident engine; and the API of the band and the
//! settings.

use backend::baselines::band::{describe_hour, hour_of_week};
use backend::history::Store;
use chrono::{DateTime, Duration, Utc};
use common::messages::{CheckResult, FailureKind, IncidentEventKind, Outcome, TargetStatus};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{assert_error, client, create_target, get_json, http_target, send_json, spawn_app};
use crate::incidents::{Harness, result, t0};

/// Latency of UTC hour `hour` in a pattern: `day` from 08:00 to 20:00, `night` otherwise.
fn pattern(hour: i64, day: u32, night: u32) -> u32 {
    if (8..20).contains(&hour) { day } else { night }
}

/// `days` days of results of `target` before `end`, one every 5 minutes from region
/// `default`, at the pattern's latency ±10 %, generated inside ClickHouse.
async fn history(h: &Harness, target: Uuid, end: DateTime<Utc>, days: i64, day: u32, night: u32) {
    let n = days * 288;
    let start = end.timestamp() - n * 300;
    // The hour of the day is taken from epoch seconds (UTC whatever the server's time zone).
    let sql = format!(
        "INSERT INTO check_results (result_id, job_id, target_id, region, pinger_id, check_kind, checked_at,
             finished_at, duration_ms, outcome, failure_kind, failure_phase, failure_message, status_code,
             dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms, resolved_ip, tls_days_left, probe_degraded, detail)
         SELECT generateUUIDv4(), generateUUIDv4(), toUUID('{target}'), 'default', 'history', 'http',
             toDateTime({start} + number * 300) AS at, at + 1,
             toUInt32(if(intDiv(({start} + number * 300) % 86400, 3600) BETWEEN 8 AND 19, {day}, {night})
                      * (90 + cityHash64(number) % 21) / 100) AS ms,
             CAST('up' AS Enum8('up' = 1, 'degraded' = 2, 'down' = 3)), '', '', '', toUInt16(200),
             ms * 0.05, ms * 0.15, ms * 0.2, ms * 0.5, ms * 0.1, '93.184.216.34', CAST(NULL AS Nullable(Int32)),
             0, '{{}}'
         FROM numbers({n})"
    );
    h.ch.client.query(&sql).execute().await.expect("generated history");
}

/// Recomputes every baseline now.
async fn refresh(h: &Harness) -> backend::baselines::store::Refreshed {
    let store = Store {
        pg: h.pg.pool.clone(),
        ch: std::sync::Arc::new(h.ch.client.clone()),
    };
    backend::baselines::refresh(&h.pg.pool, &store, Utc::now())
        .await
        .expect("baselines refresh")
}

/// A result of `target` at `t0 + seconds` that took `ms`.
fn took(target: Uuid, seconds: i64, ms: u32) -> CheckResult {
    let mut r = result(target, "default", Outcome::Up, seconds);
    r.duration_ms = ms;
    r
}

/// Sets a target's baseline settings as the API stores them.
async fn settings(h: &Harness, target: Uuid, factor: f64, min_increase_ms: u32) {
    let mut conn = h.pg.pool.acquire().await.unwrap();
    let s = backend::baselines::BaselineSettings {
        enabled: None,
        factor,
        min_increase_ms,
    };
    backend::baselines::store::save_settings(&mut conn, target, &s)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_step_from_20_to_200_ms_opens_one_degraded_incident_quoting_the_baseline() {
    // Arrange: two weeks at 20 ms, no latency threshold in the spec, default settings.
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;
    history(&h, target, t0() - Duration::hours(1), 14, 20, 20).await;
    let done = refresh(&h).await;
    assert_eq!((done.targets, done.with_history), (1, 1));

    // Act: normal, then 200 ms for six checks, then normal again.
    h.send(&[took(target, 0, 20), took(target, 60, 21)]).await;
    h.send(&[took(target, 120, 200), took(target, 180, 205)]).await;
    assert!(h.events().await.is_empty(), "two slow checks are not K");
    let third = took(target, 240, 210);
    h.send(std::slice::from_ref(&third)).await;
    let opened = h.events().await;
    let (status_while_slow, _) = h.status(target).await;
    h.send(&[took(target, 300, 200), took(target, 360, 200), took(target, 420, 200)])
        .await;
    assert!(h.events().await.is_empty(), "still the same incident");
    h.send(&[took(target, 480, 20)]).await;
    assert!(h.events().await.is_empty(), "one normal check is not M");
    h.send(&[took(target, 540, 19)]).await;
    let resolved = h.events().await;

    // Assert
    assert_eq!(opened.len(), 1, "{opened:?}");
    let o = &opened[0];
    assert_eq!((o.kind, o.state), (IncidentEventKind::Opened, TargetStatus::Degraded));
    assert_eq!(o.regions, vec!["default".to_owned()]);
    let b = o.evidence.latency_baseline.as_ref().expect("the baseline is quoted");
    let hour = hour_of_week(third.started_at);
    assert_eq!(b.hour_of_week, Some(hour as u16));
    assert!((18.0..=22.0).contains(&b.p50_ms), "p50 {}", b.p50_ms);
    assert!((19.0..=23.0).contains(&b.p95_ms), "p95 {}", b.p95_ms);
    assert_eq!(b.limit_ms, b.p95_ms + 100.0, "3 × p95 is less than p95 + 100 ms");
    assert_eq!((b.latency_ms, b.checks), (210.0, 3));
    let quote = format!(
        "p95 for {} is {} ms; now 210 ms for 3 checks",
        describe_hour(hour),
        b.p95_ms.round()
    );
    assert_eq!(b.summary, quote);
    let failure = o.evidence.results[0].failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::SlowResponse);
    assert!(failure.message.starts_with(&quote), "{}", failure.message);
    assert_eq!(
        o.evidence.failure_kinds_by_region["default"],
        vec![FailureKind::SlowResponse]
    );
    assert_eq!(status_while_slow, "degraded");

    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(
        (resolved[0].kind, resolved[0].incident_id),
        (IncidentEventKind::Resolved, o.incident_id)
    );
    let (count, severity, kind, resolved_at, message): (i64, String, String, Option<DateTime<Utc>>, String) =
        sqlx::query_as(
            "select (select count(*) from incidents), i.severity, i.failure_kind, i.resolved_at,
                    (select message from incident_timeline where incident_id = i.id and kind = 'opened')
             from incidents i",
        )
        .fetch_one(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(
        (count, severity.as_str(), kind.as_str()),
        (1, "degraded", "slow_response")
    );
    assert!(resolved_at.is_some());
    assert!(message.contains(&quote), "{message}");
    assert_eq!(h.status(target).await.0, "up");
}

#[tokio::test]
async fn a_daily_pattern_in_the_history_opens_no_incident_when_results_follow_it() {
    // Arrange: two weeks fast at night (20 ms) and three times slower by day (60 ms), for a
    // target with the default settings and one with tight ones (1.5 × p95, +10 ms: the day
    // would be slow against the night's band). A control target whose history is flat at
    // the night's latency, with the tight settings: the same day is slow for it.
    let mut h = Harness::new().await;
    let (usual, tight, control) = (
        h.target(&["default"], &[]).await,
        h.target(&["default"], &[]).await,
        h.target(&["default"], &[]).await,
    );
    let end = t0() - Duration::hours(24);
    history(&h, usual, end, 14, 60, 20).await;
    history(&h, tight, end, 14, 60, 20).await;
    history(&h, control, end, 14, 20, 20).await;
    settings(&h, tight, 1.5, 10).await;
    settings(&h, control, 1.5, 10).await;
    assert_eq!(refresh(&h).await.with_history, 3);

    // Act: the next 24 hours follow the pattern, a check every 10 minutes (±10 %).
    let mut results = Vec::new();
    for i in 0..144 {
        let seconds = -23 * 3600 + i * 600;
        let at = t0() + Duration::seconds(seconds);
        let hour = at.timestamp().rem_euclid(86_400) / 3600;
        let jitter = 90 + (i * 7 % 21) as u32;
        for target in [usual, tight, control] {
            results.push(took(target, seconds, pattern(hour, 60, 20) * jitter / 100));
        }
    }
    h.send(&results).await;
    let events = h.events().await;

    // Assert: no incident for the pattern; the control sees the day as slow (once or twice:
    // the 24 hours hold one or two stretches of day).
    let incidents: Vec<(Uuid, String)> = sqlx::query_as("select distinct target_id, severity from incidents")
        .fetch_all(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(incidents, vec![(control, "degraded".to_owned())], "{events:?}");
    assert_eq!(h.status(usual).await.0, "up");
    assert_eq!(h.status(tight).await.0, "up");
}

#[tokio::test]
async fn an_outage_takes_over_from_a_slow_response_incident() {
    // Arrange: slow for K checks (a degraded incident is open).
    let mut h = Harness::new().await;
    let target = h.target(&["default"], &[]).await;
    history(&h, target, t0() - Duration::hours(1), 8, 20, 20).await;
    refresh(&h).await;
    h.send(&[took(target, 0, 300), took(target, 60, 300), took(target, 120, 300)])
        .await;
    let slow = h.events().await;

    // Act: down K times, then back at normal speed.
    let down: Vec<CheckResult> = (3..6)
        .map(|i| result(target, "default", Outcome::Down, i * 60))
        .collect();
    h.send(&down).await;
    let outage = h.events().await;
    h.send(&[took(target, 360, 20), took(target, 420, 20)]).await;
    let recovered = h.events().await;

    // Assert: the outage alerts as its own incident; the degraded one was closed quietly.
    assert_eq!(slow.len(), 1);
    assert_eq!(outage.len(), 1, "{outage:?}");
    assert_eq!(
        (outage[0].kind, outage[0].state),
        (IncidentEventKind::Opened, TargetStatus::Down)
    );
    assert_ne!(outage[0].incident_id, slow[0].incident_id);
    assert_eq!(recovered.len(), 1);
    assert_eq!(
        (recovered[0].kind, recovered[0].incident_id),
        (IncidentEventKind::Resolved, outage[0].incident_id)
    );
    let rows: Vec<(String, bool)> =
        sqlx::query_as("select severity, resolved_at is not null from incidents order by opened_at")
            .fetch_all(&h.pg.pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![("degraded".into(), true), ("down".into(), true)]);
}

#[tokio::test]
async fn without_a_week_of_history_an_automatic_baseline_does_not_judge() {
    // Arrange: five days of history (automatic settings wait for seven), and a second target
    // with the same history turned on explicitly.
    let mut h = Harness::new().await;
    let (auto, on) = (h.target(&["default"], &[]).await, h.target(&["default"], &[]).await);
    history(&h, auto, t0() - Duration::hours(1), 5, 20, 20).await;
    history(&h, on, t0() - Duration::hours(1), 5, 20, 20).await;
    sqlx::query("insert into latency_baselines (target_id, enabled) values ($1, true)")
        .bind(on)
        .execute(&h.pg.pool)
        .await
        .unwrap();
    refresh(&h).await;

    // Act
    let slow: Vec<CheckResult> = (0..4)
        .flat_map(|i| [took(auto, i * 60, 400), took(on, i * 60, 400)])
        .collect();
    h.send(&slow).await;
    h.events().await;

    // Assert
    let opened: Vec<Uuid> = sqlx::query_scalar("select target_id from incidents")
        .fetch_all(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(opened, vec![on]);
}

#[tokio::test]
async fn the_baseline_api_shows_the_band_and_takes_bounded_settings() {
    // Arrange
    let app = spawn_app().await;
    let c = app.user("owner@example.com").await;
    let mut body = http_target("api", "https://api.example.com/health");
    body["baseline"] = json!({"factor": 2.5});
    let target = create_target(&app, &c, &body).await;
    let id = target["id"].as_str().unwrap().to_owned();
    let stranger = app.user("stranger@example.com").await;

    // Act: the created target, bad settings, a day of history and a refresh.
    let shown = target["baseline"].clone();
    let bad = |field: &str, value: Value| {
        let mut b = http_target("api", "https://api.example.com/health");
        b["baseline"] = Value::Object([(field.to_owned(), value)].into_iter().collect());
        b
    };
    let refusals = [
        (bad("factor", json!(1.2)), "baseline.factor"),
        (bad("factor", json!(25)), "baseline.factor"),
        (bad("factor", json!("fast")), "baseline.factor"),
        (bad("min_increase_ms", json!(60_001)), "baseline.min_increase_ms"),
        (bad("enabled", json!("yes")), "baseline.enabled"),
    ];
    for (b, field) in &refusals {
        let r = send_json(c.put(app.url(&format!("/api/targets/{id}"))), b).await;
        assert_error(r, 422, "validation", Some(field)).await;
    }
    let uuid: Uuid = id.parse().unwrap();
    // A day of results at 30–34 ms, ending at the start of this hour (the refresh reads whole hours).
    let start = Utc::now().timestamp() / 3600 * 3600 - 86_400;
    let rows: Vec<String> = (0..288)
        .map(|i| {
            format!(
                "(toUUID('{}'), toUUID('{}'), toUUID('{uuid}'), 'default', 'p', 'http', toDateTime({at}), \
                 toDateTime({at}), {ms}, 'up', '', '', '', 200, 0, 0, 0, 0, 0, '', NULL, 0, '{{}}')",
                Uuid::new_v4(),
                Uuid::new_v4(),
                at = start + i * 300,
                ms = 30 + i % 5
            )
        })
        .collect();
    crate::helpers::insert_check_rows(&app.ch.client, &rows).await;
    let store = Store {
        pg: app.pg.pool.clone(),
        ch: std::sync::Arc::new(app.ch.client.clone()),
    };
    backend::baselines::refresh(&app.pg.pool, &store, Utc::now())
        .await
        .unwrap();
    // Left out of a PUT, the settings stay.
    let r = send_json(
        c.put(app.url(&format!("/api/targets/{id}"))),
        http_target("api v2", "https://api.example.com/health"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let band = get_json(&c, app.url(&format!("/api/targets/{id}/baseline"))).await;
    let foreign = stranger
        .get(app.url(&format!("/api/targets/{id}/baseline")))
        .send()
        .await
        .unwrap();
    let unknown = c
        .get(app.url(&format!("/api/targets/{}/baseline", Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    let exported = get_json(&c, app.url("/api/targets/export")).await;
    let anonymous = client()
        .get(app.url(&format!("/api/targets/{id}/baseline")))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(
        shown,
        json!({"enabled": null, "factor": 2.5, "min_increase_ms": 100, "active": false})
    );
    assert_eq!(
        band["settings"],
        json!({"enabled": null, "factor": 2.5, "min_increase_ms": 100, "active": false}),
        "automatic, and a day is less than a week"
    );
    assert!(band["computed_at"].is_string());
    let hours = band["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 168);
    let all = &band["all_hours"];
    assert_eq!(all["samples"], 288);
    let p95 = all["p95_ms"].as_f64().unwrap();
    assert!((30.0..=35.0).contains(&p95), "{all}");
    // The day's 24 hours have 12 samples each; the others fall back to all hours.
    let own: Vec<&Value> = hours.iter().filter(|h| h["fallback"] == false).collect();
    assert_eq!(own.len(), 24);
    assert!(own.iter().all(|h| h["samples"] == 12), "{own:?}");
    for h in hours {
        let p95 = h["p95_ms"].as_f64().unwrap();
        assert_eq!(h["limit_ms"].as_f64().unwrap(), p95 + 100.0, "{h}");
    }
    assert_eq!(foreign.status(), 404);
    assert_eq!(unknown.status(), 404);
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        exported["targets"][0]["baseline"],
        json!({"enabled": null, "factor": 2.5, "min_increase_ms": 100})
    );
}
