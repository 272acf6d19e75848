//! Two incident engines over the same targets: every result counts once, none is lost to a
//! concurrent write of the state.

use backend::incidents::{Engine, EngineError, EngineSettings};
use common::messages::{CheckResult, Outcome};
use uuid::Uuid;

use crate::incidents::{Harness, result};

/// Applies `batch`, retrying (as the consumer's requeue would) while another engine changed
/// one of its targets meanwhile or PostgreSQL broke a deadlock; returns the retries.
async fn apply_until_written(engine: &Engine, batch: &[CheckResult]) -> usize {
    let mut conflicts = 0;
    loop {
        match engine.apply(batch).await {
            Ok(_) => return conflicts,
            Err(EngineError::Conflict(_)) => conflicts += 1,
            Err(EngineError::Db(sqlx::Error::Database(db))) if db.code().as_deref() == Some("40P01") => conflicts += 1,
            Err(e) => panic!("apply failed: {e}"),
        }
    }
}

#[tokio::test]
async fn two_engines_writing_the_same_targets_at_once_lose_no_result() {
    // Arrange: 40 targets; each engine gets its own 15 batches holding one failure of each.
    let h = Harness::new().await;
    let mut targets: Vec<Uuid> = Vec::new();
    for _ in 0..40 {
        targets.push(h.target(&["default"], &[]).await);
    }
    let batches = |first: i64| -> Vec<Vec<CheckResult>> {
        (0..15)
            .map(|b| {
                targets
                    .iter()
                    .map(|t| result(*t, "default", Outcome::Down, first + 2 * b))
                    .collect()
            })
            .collect()
    };
    let (a_batches, b_batches) = (batches(0), batches(1));
    let a = Engine::new(h.pg.pool.clone(), h.ch.client.clone(), EngineSettings::default());
    let b = Engine::new(h.pg.pool.clone(), h.ch.client.clone(), EngineSettings::default());

    // Act
    let run = |engine: Engine, batches: Vec<Vec<CheckResult>>| async move {
        let mut conflicts = 0;
        for batch in &batches {
            conflicts += apply_until_written(&engine, batch).await;
        }
        conflicts
    };
    let (a_conflicts, b_conflicts) = tokio::join!(run(a, a_batches), run(b, b_batches));

    // Assert: 30 failures counted for every target, in 30 writes, and one incident each.
    let rows: Vec<(Uuid, i32, i64, String)> = sqlx::query_as(
        "select target_id, consecutive_failures, version, status from target_state where target_id = any($1)",
    )
    .bind(&targets)
    .fetch_all(&h.pg.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), targets.len());
    for (target, failures, version, status) in rows {
        assert_eq!(
            failures, 30,
            "{target}: every failure counted ({a_conflicts} + {b_conflicts} conflicts)"
        );
        assert_eq!(version, 30, "{target}: one write per batch");
        assert_eq!(status, "down");
    }
    let incidents: i64 = sqlx::query_scalar("select count(*) from incidents where target_id = any($1)")
        .bind(&targets)
        .fetch_one(&h.pg.pool)
        .await
        .unwrap();
    assert_eq!(incidents, 40, "one incident per target");
}
