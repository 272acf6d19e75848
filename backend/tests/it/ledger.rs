//! The incident engine's result-id ledger forgets old ids without letting old results back in.

use std::time::Duration;

use backend::clock::Clock;
use backend::incidents::{Engine, EngineSettings};
use common::messages::Outcome;

use crate::incidents::{Harness, result};

#[tokio::test]
async fn forgotten_ids_are_pruned_and_their_redelivery_changes_nothing() {
    // Arrange: a short retention, and a target the engine took down with three fresh failures.
    let settings = EngineSettings {
        ledger_retention: Duration::from_secs(3),
        ..EngineSettings::default()
    };
    let h = Harness::with(settings.clone()).await;
    let engine = Engine::new(h.pg.pool.clone(), h.ch.client.clone(), settings);
    let target = h.target(&["default"], &[]).await;
    let now = (chrono::Utc::now() - crate::incidents::t0()).num_seconds();
    let failures: Vec<_> = (0..3)
        .map(|i| result(target, "default", Outcome::Down, now + i))
        .collect();
    assert_eq!(engine.apply(&failures).await.unwrap(), 3);
    let (status, version) = h.status(target).await;
    assert_eq!(status, "down");

    // Act: the retention passes (the engine's clock is moved 8 s on), the ledger is pruned,
    // then the same results come again together with two successes as old as they are.
    let engine = engine.with_clock(Clock::starting_at(chrono::Utc::now() + chrono::Duration::seconds(8)));
    let pruned = engine.prune_ledger().await.unwrap();
    let successes: Vec<_> = (3..5)
        .map(|i| result(target, "default", Outcome::Up, now + i))
        .collect();
    let redelivered = engine
        .apply(&failures.iter().chain(&successes).cloned().collect::<Vec<_>>())
        .await
        .unwrap();

    // Assert
    assert_eq!(pruned, 3, "the three ids are forgotten");
    let left: i64 = sqlx::query_scalar("select count(*) from processed_results")
        .fetch_one(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "nothing old is remembered again");
    assert_eq!(redelivered, 0, "results older than the retention are ignored");
    assert_eq!(
        h.status(target).await,
        (status, version),
        "the target's state is untouched"
    );
    let open: i64 = sqlx::query_scalar("select count(*) from incidents where target_id = $1 and resolved_at is null")
        .bind(target)
        .fetch_one(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(open, 1, "the incident stays open: old successes do not resolve it");
}

#[tokio::test]
async fn fresh_ids_survive_a_prune() {
    // Arrange
    let h = Harness::new().await;
    let engine = Engine::new(h.pg.pool.clone(), h.ch.client.clone(), EngineSettings::default());
    let target = h.target(&["default"], &[]).await;
    let down = result(target, "default", Outcome::Down, 0);
    assert_eq!(engine.apply(std::slice::from_ref(&down)).await.unwrap(), 1);

    // Act
    let pruned = engine.prune_ledger().await.unwrap();
    let again = engine.apply(std::slice::from_ref(&down)).await.unwrap();

    // Assert
    assert_eq!(pruned, 0);
    assert_eq!(again, 0, "a redelivery within the retention is still recognised");
}
