//! Cause correlation in the incident engine, against the real PostgreSQL: incidents of one
//! organisation sharing a cause signal become one group incident; unrelated failures do not;
//! groups resolve with their last member; and, over random interleavings of member results,
//! the group invariants hold.

use std::net::IpAddr;

use backend::incidents::{Engine, EngineSettings};
use common::messages::{CheckResult, Failure, FailureKind, Outcome, Phase};
use proptest::prelude::*;
use sqlx::PgPool;
use uuid::Uuid;

use crate::incidents::{Harness, result};

/// K: failures in a row that take a target down (the engine's default threshold is the
/// target's `failure_threshold`, 3 unless set).
const K: i64 = 3;

/// A target of `owner` at `url`, checked from one region.
async fn target(pool: &PgPool, owner: Uuid, name: &str, url: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds, regions, paused)
         values ($1, $2, $3, 'http', $4, 60, '{default}', true)",
    )
    .bind(id)
    .bind(owner)
    .bind(name)
    .bind(serde_json::json!({"kind": "http", "url": url}))
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A result of `target` at `t0 + seconds`: up, or failing with `kind` after resolving `ip`.
fn check(target: Uuid, seconds: i64, ip: &str, kind: Option<FailureKind>) -> CheckResult {
    let mut r = result(target, "default", Outcome::Up, seconds);
    r.resolved_ip = Some(ip.parse::<IpAddr>().unwrap());
    if let Some(kind) = kind {
        r.outcome = Outcome::Down;
        r.status_code = None;
        r.failure = Some(Failure {
            kind,
            phase: if kind == FailureKind::HttpStatus {
                Phase::Ttfb
            } else {
                Phase::Connect
            },
            message: kind.as_str().to_owned(),
        });
    }
    r
}

/// The groups of `owner`: (id, cause, members, resolved).
async fn groups(pool: &PgPool, owner: Uuid) -> Vec<(Uuid, String, i32, bool)> {
    sqlx::query_as(
        "select id, cause, members, resolved_at is not null from incident_groups where owner_id = $1 order by opened_at, id",
    )
    .bind(owner)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Each incident of `owner`: (target, group, open).
async fn incidents(pool: &PgPool, owner: Uuid) -> Vec<(Uuid, Option<Uuid>, bool)> {
    sqlx::query_as(
        "select target_id, group_id, resolved_at is null from incidents where owner_id = $1 order by opened_at, id",
    )
    .bind(owner)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn engine(h: &Harness) -> Engine {
    Engine::new(h.pg.pool.clone(), h.ch.client.clone(), EngineSettings::default())
}

#[tokio::test]
async fn twenty_targets_on_one_refusing_address_make_one_group_that_resolves_with_the_last() {
    // Arrange: 20 targets on one address, each checked every minute at its own offset.
    let h = Harness::new().await;
    let engine = engine(&h);
    let mut targets = Vec::new();
    for n in 0..20 {
        let url = format!("http://127.0.0.1:{}/svc{n}", 18000 + n);
        targets.push(target(&h.pg.pool, h.owner, &format!("svc{n}"), &url).await);
    }
    let offset = |n: usize| (n as i64) * 3;

    // Act: the process behind the address dies; K failures each, in time order.
    let mut failing = Vec::new();
    for round in 0..K {
        for (n, t) in targets.iter().enumerate() {
            failing.push(check(
                *t,
                60 * round + offset(n),
                "127.0.0.1",
                Some(FailureKind::ConnectRefused),
            ));
        }
    }
    for chunk in failing.chunks(7) {
        engine.apply(chunk).await.unwrap();
    }

    // Assert: one group of all 20, named by the address and what it does.
    let g = groups(&h.pg.pool, h.owner).await;
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0].1, "ip:127.0.0.1:connect_refused");
    assert_eq!(g[0].2, 20);
    assert!(!g[0].3);
    let summary: String = sqlx::query_scalar("select summary from incident_groups where id = $1")
        .bind(g[0].0)
        .fetch_one(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(summary, "all resolve to 127.0.0.1, which refuses connections");
    let members = incidents(&h.pg.pool, h.owner).await;
    assert_eq!(members.len(), 20);
    assert!(members.iter().all(|(_, group, open)| *group == Some(g[0].0) && *open));

    // The process is back: the group stays open until its last member recovers.
    let back = 60 * K + 100;
    for (n, t) in targets.iter().enumerate().take(19) {
        let ups: Vec<_> = (0..2)
            .map(|i| check(*t, back + 60 * i + offset(n), "127.0.0.1", None))
            .collect();
        engine.apply(&ups).await.unwrap();
    }
    assert!(!groups(&h.pg.pool, h.owner).await[0].3, "one member is still down");
    let last = targets[19];
    let ups: Vec<_> = (0..2)
        .map(|i| check(last, back + 60 * i + 57, "127.0.0.1", None))
        .collect();
    engine.apply(&ups).await.unwrap();
    let g = groups(&h.pg.pool, h.owner).await;
    assert!(g[0].3, "resolved with its last member");
    // Each member kept its own incident and timeline.
    let grouped: i64 = sqlx::query_scalar(
        "select count(distinct incident_id) from incident_timeline where kind = 'grouped' and message like '%127.0.0.1%'",
    )
    .fetch_one(&h.pg.pool)
    .await
    .unwrap();
    assert_eq!(grouped, 20);
    assert!(incidents(&h.pg.pool, h.owner).await.iter().all(|(_, _, open)| !open));
}

#[tokio::test]
async fn only_the_failing_address_targets_are_grouped_and_unrelated_failures_stay_apart() {
    // Arrange: ten targets on two addresses, and two unrelated ones.
    let h = Harness::new().await;
    let engine = engine(&h);
    let mut on_a = Vec::new();
    let mut on_b = Vec::new();
    for n in 0..5 {
        on_a.push(
            target(
                &h.pg.pool,
                h.owner,
                &format!("a{n}"),
                &format!("https://a{n}.example.com/"),
            )
            .await,
        );
        on_b.push(
            target(
                &h.pg.pool,
                h.owner,
                &format!("b{n}"),
                &format!("https://b{n}.example.com/"),
            )
            .await,
        );
    }
    let shop = target(&h.pg.pool, h.owner, "shop", "https://shop.example.net/").await;
    let blog = target(&h.pg.pool, h.owner, "blog", "https://blog.example.org/").await;

    // Act: address A refuses connections while B answers; in the same minute the shop answers
    // 500 and the blog's own address times out.
    let mut batch = Vec::new();
    for round in 0..K {
        for (n, t) in on_a.iter().enumerate() {
            batch.push(check(
                *t,
                60 * round + n as i64,
                "192.0.2.1",
                Some(FailureKind::ConnectRefused),
            ));
        }
        for (n, t) in on_b.iter().enumerate() {
            batch.push(check(*t, 60 * round + n as i64, "192.0.2.2", None));
        }
        batch.push(check(
            shop,
            60 * round + 20,
            "198.51.100.7",
            Some(FailureKind::HttpStatus),
        ));
        batch.push(check(
            blog,
            60 * round + 21,
            "203.0.113.9",
            Some(FailureKind::ConnectTimeout),
        ));
    }
    batch.sort_by_key(|r| r.started_at);
    engine.apply(&batch).await.unwrap();

    // Assert: one group of A's five targets only; the shop and the blog stand alone.
    let g = groups(&h.pg.pool, h.owner).await;
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!((g[0].1.as_str(), g[0].2), ("ip:192.0.2.1:connect_refused", 5));
    let all = incidents(&h.pg.pool, h.owner).await;
    assert_eq!(all.len(), 7);
    for (t, group, _) in &all {
        if on_a.contains(t) {
            assert_eq!(*group, Some(g[0].0));
        } else {
            assert!(
                [shop, blog].contains(t),
                "only A's targets, the shop and the blog failed"
            );
            assert_eq!(*group, None, "an unrelated failure stays its own incident");
        }
    }
}

#[tokio::test]
async fn a_group_never_mixes_organisations() {
    let h = Harness::new().await;
    let engine = engine(&h);
    let other: Uuid = Uuid::now_v7();
    sqlx::query("insert into users (id, email, password_hash) values ($1, $2, 'x')")
        .bind(other)
        .bind(format!("{other}@example.com"))
        .execute(&h.pg.pool)
        .await
        .unwrap();
    let mine = [
        target(&h.pg.pool, h.owner, "m1", "https://m1.example.com/").await,
        target(&h.pg.pool, h.owner, "m2", "https://m2.example.com/").await,
    ];
    let theirs = target(&h.pg.pool, other, "t1", "https://t1.example.com/").await;
    let mut batch = Vec::new();
    for round in 0..K {
        for (n, t) in mine.iter().chain([&theirs]).enumerate() {
            batch.push(check(
                *t,
                60 * round + n as i64,
                "192.0.2.50",
                Some(FailureKind::ConnectRefused),
            ));
        }
    }
    engine.apply(&batch).await.unwrap();
    let g = groups(&h.pg.pool, h.owner).await;
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].2, 2, "only my two targets");
    assert!(
        groups(&h.pg.pool, other).await.is_empty(),
        "their lone incident is not grouped"
    );
    assert_eq!(incidents(&h.pg.pool, other).await[0].1, None);
}

/// One step of a random interleaving: target `n` (of six: 0–2 on address A, 3–5 on B)
/// reports a failure or a success.
#[derive(Debug, Clone)]
struct Step {
    target: usize,
    fails: bool,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0usize..6, prop::bool::weighted(0.6)).prop_map(|(target, fails)| Step { target, fails }),
        10..60,
    )
}

/// The group invariants, checked against the database.
async fn invariants(pool: &PgPool, owner: Uuid) -> Result<(), String> {
    // An open incident's group is open, and every open group has an open member.
    let bad: i64 = sqlx::query_scalar(
        "select count(*) from incidents i join incident_groups g on g.id = i.group_id
         where i.resolved_at is null and g.resolved_at is not null",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    if bad > 0 {
        return Err(format!("{bad} open incidents in resolved groups"));
    }
    let empty: i64 = sqlx::query_scalar(
        "select count(*) from incident_groups g where g.resolved_at is null
         and not exists (select 1 from incidents i where i.group_id = g.id and i.resolved_at is null)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    if empty > 0 {
        return Err(format!("{empty} open groups without an open member"));
    }
    // Members share the group's cause and owner; the member count is right.
    let strays: i64 = sqlx::query_scalar(
        "select count(*) from incidents i join incident_groups g on g.id = i.group_id
         where not (g.cause = any(i.signals)) or g.owner_id <> i.owner_id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    if strays > 0 {
        return Err(format!("{strays} members without the group's cause or owner"));
    }
    let miscounted: i64 = sqlx::query_scalar(
        "select count(*) from incident_groups g
         where g.members <> (select count(*) from incidents i where i.group_id = g.id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    if miscounted > 0 {
        return Err(format!("{miscounted} groups with a wrong member count"));
    }
    let _ = owner;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_interleavings_keep_every_group_sound_and_all_resolve(steps in steps()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let outcome: Result<(), String> = rt.block_on(async {
            let h = Harness::new().await;
            // No flapping hold: the interleavings change health often, and every recovery here
            // must resolve at once.
            let settings = EngineSettings { flap_transitions: 10_000, ..EngineSettings::default() };
            let engine = Engine::new(h.pg.pool.clone(), h.ch.client.clone(), settings);
            let mut targets = Vec::new();
            for n in 0..6 {
                targets.push(target(&h.pg.pool, h.owner, &format!("t{n}"), &format!("https://t{n}.example.com/")).await);
            }
            let ip = |n: usize| if n < 3 { "192.0.2.1" } else { "192.0.2.2" };
            for (i, s) in steps.iter().enumerate() {
                let kind = s.fails.then_some(FailureKind::ConnectRefused);
                let r = check(targets[s.target], 10 * i as i64, ip(s.target), kind);
                engine.apply(&[r]).await.map_err(|e| e.to_string())?;
                invariants(&h.pg.pool, h.owner).await?;
            }
            // Everything recovers: every group resolves.
            let end = 10 * steps.len() as i64;
            for (n, t) in targets.iter().enumerate() {
                let ups: Vec<_> = (0..3).map(|i| check(*t, end + 10 * i + n as i64, ip(n), None)).collect();
                engine.apply(&ups).await.map_err(|e| e.to_string())?;
            }
            invariants(&h.pg.pool, h.owner).await?;
            let still = incidents(&h.pg.pool, h.owner).await.into_iter().filter(|i| i.2).count();
            if still > 0 {
                return Err(format!("{still} incidents still open after every target recovered"));
            }
            let open = groups(&h.pg.pool, h.owner).await.into_iter().filter(|g| !g.3).count();
            if open > 0 {
                return Err(format!("{open} groups still open after every member recovered"));
            }
            Ok(())
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}

#[tokio::test]
async fn the_api_shows_a_group_with_its_members_to_its_organisation_only() {
    use crate::helpers::{assert_error, create_target, get_json, http_target, spawn_app};
    let app = spawn_app().await;
    let ann = app.user("ann@example.com").await;
    let eve = app.user("eve@example.com").await;
    // The engine groups two of Ann's targets.
    let mut ids = Vec::new();
    for n in 0..2 {
        let t = create_target(
            &app,
            &ann,
            &http_target(&format!("svc{n}"), &format!("https://svc{n}.example.com/")),
        )
        .await;
        ids.push(t["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let engine = Engine::new(app.pg.pool.clone(), app.ch.client.clone(), EngineSettings::default());
    let mut batch = Vec::new();
    for round in 0..K {
        for (n, t) in ids.iter().enumerate() {
            batch.push(check(
                *t,
                60 * round + n as i64,
                "192.0.2.77",
                Some(FailureKind::ConnectTimeout),
            ));
        }
    }
    engine.apply(&batch).await.unwrap();
    let incident = get_json(&ann, app.url("/api/incidents?status=open")).await;
    let group = incident["items"][0]["group_id"].as_str().expect("grouped").to_owned();

    let g = get_json(&ann, app.url(&format!("/api/incident-groups/{group}"))).await;
    assert_eq!(g["cause"], "ip:192.0.2.77:connect_timeout");
    assert_eq!(
        g["summary"],
        "all resolve to 192.0.2.77, which does not accept connections in time"
    );
    assert_eq!(g["resolved_at"], serde_json::Value::Null);
    let names: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svc0", "svc1"]);
    assert!(
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["group_id"] == group.as_str())
    );

    let r = eve
        .get(app.url(&format!("/api/incident-groups/{group}")))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found", None).await;
}
