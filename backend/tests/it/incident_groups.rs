//! `GET /api/incident-groups`: the organisation's group incidents, newest first, with their
//! member counts and first members; the state filter, keyset pages, bounded parameters, and
//! another organisation's groups never shown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_error, create_target, get_json, http_target, id_of, spawn_app};

/// `n` targets of `c` named `{prefix}-0`…; their ids and their organisation.
async fn targets(app: &TestApp, c: &reqwest::Client, prefix: &str, n: usize) -> (Vec<Uuid>, Uuid) {
    let mut ids = Vec::new();
    for k in 0..n {
        let t = create_target(
            app,
            c,
            &http_target(&format!("{prefix}-{k}"), &format!("https://{prefix}{k}.example.com/")),
        )
        .await;
        ids.push(id_of(&t));
    }
    let owner = sqlx::query_scalar("select owner_id from targets where id = $1")
        .bind(ids[0])
        .fetch_one(&app.pg.pool)
        .await
        .unwrap();
    (ids, owner)
}

/// One member of a seeded group: its target and whether its incident is still open.
struct Member {
    target: Uuid,
    open: bool,
}

/// A group of `owner` opened at `at` whose members opened a minute apart in the given order;
/// resolved (an hour after it opened) when no member is open. Its id and its members' incidents.
async fn group(pool: &PgPool, owner: Uuid, at: DateTime<Utc>, cause: &str, members: &[Member]) -> (Uuid, Vec<Uuid>) {
    let id = Uuid::now_v7();
    let resolved = members.iter().all(|m| !m.open).then(|| at + Duration::hours(1));
    sqlx::query(
        "insert into incident_groups (id, owner_id, cause, summary, opened_at, resolved_at, members)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(owner)
    .bind(cause)
    .bind(format!("all share {cause}"))
    .bind(at)
    .bind(resolved)
    .bind(members.len() as i32)
    .execute(pool)
    .await
    .unwrap();
    let mut incidents = Vec::new();
    for (k, m) in members.iter().enumerate() {
        let incident = Uuid::now_v7();
        let opened = at + Duration::minutes(k as i64);
        sqlx::query(
            "insert into incidents (id, target_id, owner_id, opened_at, resolved_at, group_id, failure_kind)
             values ($1, $2, $3, $4, $5, $6, 'connect_refused')",
        )
        .bind(incident)
        .bind(m.target)
        .bind(owner)
        .bind(opened)
        .bind((!m.open).then(|| opened + Duration::minutes(30)))
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
        incidents.push(incident);
    }
    (id, incidents)
}

fn ids(page: &Value) -> Vec<Uuid> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn groups_are_listed_newest_first_with_their_counts_and_first_five_members() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let (t, owner) = targets(&app, &a, "shop", 7).await;
    let now = Utc::now();
    let (old, _) = group(
        &app.pg.pool,
        owner,
        now - Duration::hours(5),
        "ip:192.0.2.1:connect_refused",
        &[
            Member {
                target: t[0],
                open: false,
            },
            Member {
                target: t[1],
                open: false,
            },
        ],
    )
    .await;
    // Seven members, three still open; the targets join in reverse order of their names.
    let members: Vec<Member> = (0..7)
        .map(|k| Member {
            target: t[6 - k],
            open: k % 2 == 0 && k < 6,
        })
        .collect();
    let (new, incidents) = group(
        &app.pg.pool,
        owner,
        now - Duration::hours(1),
        "host:shop.example.com:timeout",
        &members,
    )
    .await;

    let page = get_json(&a, app.url("/api/incident-groups")).await;
    assert_eq!(ids(&page), vec![new, old], "newest first: {page}");
    assert_eq!(page["total"], 2);
    assert!(page["next_cursor"].is_null(), "{page}");
    let g = &page["items"][0];
    assert_eq!(g["cause"], "host:shop.example.com:timeout");
    assert_eq!(g["summary"], "all share host:shop.example.com:timeout");
    assert_eq!(g["member_count"], 7);
    assert_eq!(g["open_member_count"], 3);
    assert!(g["resolved_at"].is_null());
    let opened: DateTime<Utc> = g["opened_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(opened.timestamp_micros(), (now - Duration::hours(1)).timestamp_micros());
    let first = g["first_members"].as_array().unwrap();
    let names: Vec<&str> = first.iter().map(|m| m["target_name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["shop-6", "shop-5", "shop-4", "shop-3", "shop-2"],
        "in the order they opened"
    );
    let links: Vec<&str> = first.iter().map(|m| m["incident_id"].as_str().unwrap()).collect();
    let expected: Vec<String> = incidents[..5].iter().map(Uuid::to_string).collect();
    assert_eq!(links, expected);
    assert_eq!(first[0]["target_id"], t[6].to_string());

    let g = &page["items"][1];
    assert_eq!(g["member_count"], 2);
    assert_eq!(g["open_member_count"], 0);
    assert!(g["resolved_at"].is_string(), "{g}");
    assert_eq!(g["first_members"].as_array().unwrap().len(), 2);

    // Each listed group is the one its detail shows.
    let detail = get_json(&a, app.url(&format!("/api/incident-groups/{new}"))).await;
    assert_eq!(detail["members"].as_array().unwrap().len(), 7);
    assert_eq!(detail["cause"], page["items"][0]["cause"]);
}

#[tokio::test]
async fn the_state_filter_lists_open_resolved_or_all_groups() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let (t, owner) = targets(&app, &a, "api", 3).await;
    let now = Utc::now();
    let (resolved, _) = group(
        &app.pg.pool,
        owner,
        now - Duration::hours(3),
        "dns:192.0.2.53:SERVFAIL",
        &[Member {
            target: t[0],
            open: false,
        }],
    )
    .await;
    let (open, _) = group(
        &app.pg.pool,
        owner,
        now - Duration::hours(2),
        "ip:192.0.2.7:connect_timeout",
        &[
            Member {
                target: t[1],
                open: true,
            },
            Member {
                target: t[2],
                open: false,
            },
        ],
    )
    .await;

    let page = get_json(&a, app.url("/api/incident-groups?state=open")).await;
    assert_eq!(ids(&page), vec![open]);
    assert_eq!(page["total"], 1);
    let page = get_json(&a, app.url("/api/incident-groups?state=resolved")).await;
    assert_eq!(ids(&page), vec![resolved]);
    assert_eq!(page["total"], 1);
    for all in ["?state=all", "?state=", ""] {
        let page = get_json(&a, app.url(&format!("/api/incident-groups{all}"))).await;
        assert_eq!(ids(&page), vec![open, resolved], "{all}");
        assert_eq!(page["total"], 2, "{all}");
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats_while_new_groups_open() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let (t, owner) = targets(&app, &a, "db", 1).await;
    let now = Utc::now();
    let mut seeded = Vec::new();
    // Seven groups; three share one opening time (the id orders them).
    for k in 0..7i64 {
        let at = now - Duration::hours(10) + Duration::hours(k.min(4));
        let (g, _) = group(
            &app.pg.pool,
            owner,
            at,
            &format!("ip:192.0.2.{k}:connect_refused"),
            &[Member {
                target: t[0],
                open: false,
            }],
        )
        .await;
        seeded.push((at, g));
    }
    seeded.sort_by(|x, y| y.cmp(x));
    let expected: Vec<Uuid> = seeded.iter().map(|(_, g)| *g).collect();

    let mut seen = Vec::new();
    let mut url = app.url("/api/incident-groups?limit=2");
    let mut pages = 0;
    loop {
        let page = get_json(&a, url.clone()).await;
        assert_eq!(page["total"], if pages == 0 { 7 } else { 8 }, "{page}");
        let items = ids(&page);
        assert!(items.len() <= 2);
        seen.extend(items);
        pages += 1;
        if pages == 1 {
            // A group opening now lands before the first page, not in the ones after it.
            group(
                &app.pg.pool,
                owner,
                now,
                "ip:192.0.2.99:timeout",
                &[Member {
                    target: t[0],
                    open: true,
                }],
            )
            .await;
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = app.url(&format!("/api/incident-groups?limit=2&cursor={c}")),
            None => break,
        }
        assert!(pages < 10, "the pages end");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 4);

    // The filter applies on every page.
    let first = get_json(&a, app.url("/api/incident-groups?state=resolved&limit=3")).await;
    let c = first["next_cursor"].as_str().unwrap();
    let second = get_json(
        &a,
        app.url(&format!("/api/incident-groups?state=resolved&limit=3&cursor={c}")),
    )
    .await;
    let mut both = ids(&first);
    both.extend(ids(&second));
    assert_eq!(both, expected[..6]);
    // limit=100 takes them all at once.
    let all = get_json(&a, app.url("/api/incident-groups?limit=100")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    assert!(all["next_cursor"].is_null());
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_field() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let offset_cursor = URL_SAFE_NO_PAD.encode("o:5");
    let wrong_id = URL_SAFE_NO_PAD.encode("g:1700000000000000:not-a-uuid");
    let cases = [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("state=closed", "state"),
        ("state=OPEN", "state"),
        ("cursor=%21%21", "cursor"),
        (&format!("cursor={offset_cursor}"), "cursor"),
        (&format!("cursor={wrong_id}"), "cursor"),
    ];
    for (query, field) in cases {
        let r = a
            .get(app.url(&format!("/api/incident-groups?{query}")))
            .send()
            .await
            .unwrap();
        let body = assert_error(r, 422, "validation", Some(field)).await;
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{query}");
    }
    // The bounds themselves are fine.
    for query in ["limit=1", "limit=100", "state=open", "cursor="] {
        let r = a
            .get(app.url(&format!("/api/incident-groups?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{query}");
    }
    // Signed out: 401.
    let r = reqwest::get(app.url("/api/incident-groups")).await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn another_organisation_sees_none_of_the_groups() {
    let app = spawn_app().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let (ta, owner_a) = targets(&app, &a, "alpha", 1).await;
    let (tb, owner_b) = targets(&app, &b, "bravo", 1).await;
    let now = Utc::now();
    let (theirs, _) = group(
        &app.pg.pool,
        owner_a,
        now - Duration::minutes(5),
        "ip:192.0.2.1:connect_refused",
        &[Member {
            target: ta[0],
            open: true,
        }],
    )
    .await;
    // B's own group, opened earlier: A's cursor past it must not reach B's either.
    let (ours, _) = group(
        &app.pg.pool,
        owner_b,
        now - Duration::hours(1),
        "ip:192.0.2.1:connect_refused",
        &[Member {
            target: tb[0],
            open: true,
        }],
    )
    .await;

    for state in ["", "?state=open", "?state=all", "?state=resolved"] {
        let page = get_json(&b, app.url(&format!("/api/incident-groups{state}"))).await;
        assert!(!page.to_string().contains(&theirs.to_string()), "{state}: {page}");
        assert!(!page.to_string().contains("alpha-0"), "{state}: {page}");
    }
    let page = get_json(&b, app.url("/api/incident-groups")).await;
    assert_eq!(ids(&page), vec![ours]);
    assert_eq!(page["total"], 1);
    let page = get_json(&a, app.url("/api/incident-groups")).await;
    assert_eq!(ids(&page), vec![theirs]);
    assert_eq!(page["total"], 1);
    // A cursor made from A's group lists only B's own after it.
    let page = get_json(&a, app.url("/api/incident-groups?limit=1")).await;
    assert!(page["next_cursor"].is_null());
    let cursor = URL_SAFE_NO_PAD.encode(format!(
        "g:{}:{theirs}",
        (now + Duration::minutes(1)).timestamp_micros()
    ));
    let page = get_json(&b, app.url(&format!("/api/incident-groups?cursor={cursor}"))).await;
    assert_eq!(ids(&page), vec![ours]);
    let r = b
        .get(app.url(&format!("/api/incident-groups/{theirs}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
