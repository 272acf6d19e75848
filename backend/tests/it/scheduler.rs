use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backend::scheduler::{self, Clock};
use chrono::Utc;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{collect_jobs, create_target, http_target, insert_targets, spawn_app_with, test_config};

async fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// How many targets have a job for a slot after `after`.
fn targets_published_after(jobs: &[common::messages::CheckJob], after: chrono::DateTime<Utc>) -> usize {
    jobs.iter()
        .filter(|j| j.scheduled_for > after)
        .map(|j| j.target_id)
        .collect::<HashSet<_>>()
        .len()
}

#[tokio::test]
async fn a_thousand_targets_are_each_scheduled_the_expected_number_of_times_evenly_spread() {
    // Arrange: 1,000 targets with intervals 10..=60 s; a clock 4× real time (a stall would
    // need 2.5 s of real time to skip a slot, so a busy test machine does not skew counts).
    let (config, pg, broker, _ch) = test_config().await;
    let intervals: Vec<i32> = (0..1000).map(|i| 10 + (i % 51)).collect();
    let ids = insert_targets(&pg.pool, &intervals).await;
    let interval_of: HashMap<_, _> = ids.iter().copied().zip(intervals.iter().copied()).collect();
    let shutdown = CancellationToken::new();
    // The watcher outlives the scheduler: it still takes the jobs published before the stop.
    let watching = CancellationToken::new();
    let _watched = watching.clone().drop_guard();
    let seen = collect_jobs(&broker, watching).await;
    let state = backend::AppState::new(config, shutdown.clone()).unwrap();
    let clock = Clock::accelerated(Utc::now(), 4.0);
    let deps = backend::scheduler_deps(&state, clock).unwrap();
    let stats = deps.stats.clone();

    // Act: two minutes of schedule from the moment the plan is loaded (30 s real), until a
    // job of a slot past them arrives (ticks publish one after the other, each every slot due
    // by then: the window's are all out), then every job the stopped scheduler published.
    let task = tokio::spawn(scheduler::run(deps, shutdown.clone()));
    assert!(wait_until(Duration::from_secs(30), || stats.ready.load(Ordering::SeqCst)).await);
    let t0 = clock.now();
    let window = chrono::Duration::seconds(120);
    let past_window = wait_until(Duration::from_secs(60), || {
        seen.lock().unwrap().iter().any(|j| j.scheduled_for >= t0 + window)
    })
    .await;
    assert!(past_window, "the scheduler got past the window");
    shutdown.cancel();
    let _ = task.await;
    let published = stats.published.load(Ordering::SeqCst);
    let all_seen = wait_until(Duration::from_secs(30), || {
        seen.lock().unwrap().len() as u64 >= published
    })
    .await;
    assert!(
        all_seen,
        "{published} jobs published, {} seen",
        seen.lock().unwrap().len()
    );

    // Assert
    let jobs = seen.lock().unwrap().clone();
    let in_window: Vec<_> = jobs
        .iter()
        .filter(|j| j.scheduled_for >= t0 && j.scheduled_for < t0 + window)
        .collect();
    let mut per_target: HashMap<uuid::Uuid, u32> = HashMap::new();
    let mut slots = HashSet::new();
    for j in &jobs {
        assert!(
            slots.insert((j.target_id, j.scheduled_for)),
            "slot published twice: {j:?}"
        );
    }
    for j in &in_window {
        *per_target.entry(j.target_id).or_default() += 1;
    }
    for (id, interval) in &interval_of {
        let expected = 120.0 / f64::from(*interval);
        let got = f64::from(per_target.get(id).copied().unwrap_or(0));
        assert!(
            (got - expected).abs() <= 1.0,
            "target every {interval}s ran {got} times, expected {expected:.1}"
        );
    }
    let mut per_second = vec![0u32; 120];
    for j in &in_window {
        per_second[(j.scheduled_for - t0).num_seconds().clamp(0, 119) as usize] += 1;
    }
    let mean = in_window.len() as f64 / 120.0;
    let max = *per_second.iter().max().unwrap() as f64;
    assert!(
        max <= mean * 3.0,
        "no thundering herd: busiest second {max}, mean {mean:.1}"
    );
    assert_eq!(stats.publish_failures.load(Ordering::Relaxed), 0);
    // At 4× speed 2.5 s of real stall (first broker connection and topology declaration on a
    // busy machine) would skip a 10 s slot; allow a handful.
    let missed = stats.missed.load(Ordering::Relaxed);
    assert!(missed <= 20, "{missed} slots skipped");
}

#[tokio::test]
async fn a_standby_takes_over_within_ten_seconds_and_no_slot_is_published_twice() {
    // Arrange: 200 targets every 10 s; a clock 5× real time; scheduler A leads, B stands by.
    let (config, pg, broker, _ch) = test_config().await;
    let ids = insert_targets(&pg.pool, &[10; 200]).await;
    let stop_all = CancellationToken::new();
    let seen = collect_jobs(&broker, stop_all.clone()).await;
    let clock = Clock::accelerated(Utc::now(), 5.0);
    let kill_a = CancellationToken::new();
    let state_a = backend::AppState::new(config.clone(), kill_a.clone()).unwrap();
    let deps_a = backend::scheduler_deps(&state_a, clock).unwrap();
    let stats_a = deps_a.stats.clone();
    let a = tokio::spawn(scheduler::run(deps_a, kill_a.clone()));
    assert!(wait_until(Duration::from_secs(10), || stats_a.leading.load(Ordering::SeqCst)).await);
    let state_b = backend::AppState::new(config, stop_all.clone()).unwrap();
    let deps_b = backend::scheduler_deps(&state_b, clock).unwrap();
    let stats_b = deps_b.stats.clone();
    let b = tokio::spawn(scheduler::run(deps_b, stop_all.clone()));
    // A whole interval of the leader's jobs since the standby started (2 s real: the standby
    // tried for the lock twice meanwhile).
    let b_started = clock.now();
    let a_round = wait_until(Duration::from_secs(15), || {
        targets_published_after(&seen.lock().unwrap(), b_started) == ids.len()
    })
    .await;
    assert!(a_round, "the leader publishes every target");
    assert!(!stats_b.leading.load(Ordering::SeqCst), "one leader at a time");
    let before_kill = seen.lock().unwrap().len();
    assert!(before_kill > 0, "the leader publishes");

    // Act: kill the leader — its process stops and its database session is terminated.
    let terminated: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and objid::bigint = $1 \
         and database = (select oid from pg_database where datname = current_database())",
    )
    .bind(scheduler::LOCK_KEY & 0xffff_ffff)
    .fetch_all(&pg.pool)
    .await
    .unwrap();
    kill_a.cancel();
    assert_eq!(terminated, vec![true], "the leader's lock session is killed");
    let killed_at = Instant::now();
    let killed_clock = clock.now();
    let took_over = wait_until(Duration::from_secs(10), || stats_b.leading.load(Ordering::SeqCst)).await;
    let takeover = killed_at.elapsed();
    let _ = a.await;
    // A whole interval of the new leader's jobs.
    let b_round = wait_until(Duration::from_secs(20), || {
        targets_published_after(&seen.lock().unwrap(), killed_clock) == ids.len()
    })
    .await;
    stop_all.cancel();
    let _ = b.await;

    // Assert
    assert!(took_over, "standby took over within 10 s");
    assert!(b_round, "the new leader publishes every target");
    assert!(takeover <= Duration::from_secs(10), "takeover took {takeover:?}");
    let jobs = seen.lock().unwrap().clone();
    assert!(jobs.len() > before_kill, "the new leader publishes");
    let mut slots = HashSet::new();
    for j in &jobs {
        assert!(
            slots.insert((j.target_id, j.scheduled_for)),
            "slot published twice: {j:?}"
        );
    }
    // The new leader continued each target's grid from the stored slot: no gaps of more
    // than one interval.
    let mut by_target: HashMap<uuid::Uuid, Vec<_>> = HashMap::new();
    for j in &jobs {
        by_target.entry(j.target_id).or_default().push(j.scheduled_for);
    }
    assert_eq!(by_target.len(), ids.len());
    for (id, mut times) in by_target {
        times.sort();
        for w in times.windows(2) {
            let gap = (w[1] - w[0]).num_milliseconds();
            assert!(gap % 10_000 == 0 && gap <= 20_000, "target {id}: gap {gap} ms");
        }
    }
}

#[tokio::test]
async fn an_interval_change_takes_effect_within_two_seconds() {
    // Arrange: a target every 60 s, scheduled by the app's own scheduler (real clock). A
    // sentinel target every second, created after it: the scheduler takes changes in order, so
    // once a job of the sentinel shows, the 60 s target is in its plan.
    let app = spawn_app_with(|c| c.api.min_interval_seconds = 1).await;
    let stop = CancellationToken::new();
    let seen = collect_jobs(&app.broker, stop.clone()).await;
    let c = app.user("a@example.com").await;
    let t = create_target(&app, &c, &http_target("t", "https://example.com/")).await;
    let id: uuid::Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let mut sentinel = http_target("sentinel", "https://sentinel.example.com/");
    sentinel["interval_seconds"] = json!(1);
    sentinel["timeout_seconds"] = json!(0.5);
    let sentinel: uuid::Uuid = create_target(&app, &c, &sentinel).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let scheduled = wait_until(Duration::from_secs(20), || {
        seen.lock().unwrap().iter().any(|j| j.target_id == sentinel)
    })
    .await;
    assert!(scheduled, "the scheduler leads and has both targets");

    // Act: every 10 s instead.
    let mut body: Value = http_target("t", "https://example.com/");
    body["interval_seconds"] = json!(10);
    body["timeout_seconds"] = json!(5);
    let changed_at = Utc::now();
    let r = c
        .put(app.url(&format!("/api/targets/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Assert: the next job is on the 10 s grid, at the latest the first slot of that grid
    // after the change plus two seconds, and it is observed by then (plus publishing slack).
    let latest_slot = scheduler::slot_after(
        id,
        10_000,
        (changed_at + chrono::Duration::seconds(2)).timestamp_millis(),
    );
    let ok = wait_until(Duration::from_secs(15), || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|j| j.target_id == id && j.scheduled_for > changed_at)
    })
    .await;
    let observed_at = Utc::now();
    assert!(ok, "a job at the new interval arrives");
    let jobs = seen.lock().unwrap().clone();
    let first = jobs
        .iter()
        .find(|j| j.target_id == id && j.scheduled_for > changed_at)
        .unwrap();
    let slot = first.scheduled_for.timestamp_millis();
    assert!(scheduler::on_grid(id, 10_000, slot), "on the new grid");
    assert!(first.scheduled_for - changed_at <= chrono::Duration::seconds(12));
    assert!(
        slot <= latest_slot,
        "the change took effect within two seconds: first slot {slot}, latest allowed {latest_slot}"
    );
    assert!(
        observed_at.timestamp_millis() <= latest_slot + 3_000,
        "observed at {observed_at}, slot {slot}"
    );
    stop.cancel();
}

#[tokio::test]
async fn with_the_broker_unreachable_slots_are_counted_missed_and_skipped_not_piled_up() {
    // Arrange: 50 targets every 10 s; the broker URL points at a closed port; clock 10×.
    let (mut config, pg, _broker, _ch) = test_config().await;
    config.amqp.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".to_owned().into();
    insert_targets(&pg.pool, &[10; 50]).await;
    let shutdown = CancellationToken::new();
    let state = backend::AppState::new(config, shutdown.clone()).unwrap();
    let clock = Clock::accelerated(Utc::now(), 10.0);
    let deps = backend::scheduler_deps(&state, clock).unwrap();
    let stats = deps.stats.clone();

    // Act: three rounds of slots come due and are missed (about 30 s of schedule). (A batch
    // may be waiting out the 2 s publish timeout when the shutdown comes; the scheduler
    // finishes it, so "now" is read once it has stopped.)
    let started = clock.now();
    let task = tokio::spawn(scheduler::run(deps, shutdown.clone()));
    let rounds = wait_until(Duration::from_secs(20), || stats.missed.load(Ordering::Relaxed) >= 150).await;
    shutdown.cancel();
    let _ = task.await;
    let now = clock.now();

    // Assert: nothing published; every slot that came due counted missed exactly once; and
    // every target's next slot is current (no backlog waiting to be replayed when the broker
    // returns).
    assert!(rounds, "slots came due and were counted missed");
    assert_eq!(stats.published.load(Ordering::Relaxed), 0);
    let missed = stats.missed.load(Ordering::Relaxed) as i64;
    let nexts: Vec<chrono::DateTime<Utc>> = sqlx::query_scalar("select next_run_at from targets")
        .fetch_all(&pg.pool)
        .await
        .unwrap();
    assert_eq!(nexts.len(), 50);
    // Slots of a target on its 10 s grid strictly between `started` and its next slot: an upper
    // bound of what it can have missed, and (the scheduler loads its targets within moments of
    // starting) at most two more than what it did miss.
    let passed: Vec<i64> = nexts
        .iter()
        .map(|next| ((*next - started).num_milliseconds() as f64 / 10_000.0).ceil() as i64 - 1)
        .collect();
    let most: i64 = passed.iter().sum();
    let least: i64 = passed.iter().map(|n| (n - 2).max(0)).sum();
    assert!(missed <= most, "each slot counted once at most: {missed} > {most}");
    assert!(
        missed >= least,
        "about 50 × 3 slots missed, counted {missed} (at least {least})"
    );
    let behind = nexts
        .iter()
        .filter(|n| **n < now - chrono::Duration::seconds(10))
        .count();
    assert_eq!(behind, 0, "no target is more than one interval behind");
}
