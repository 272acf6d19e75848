//! Degraded (slow-response) incidents: opened and resolved by the judgement's effects, and
//! closed quietly when an outage of the same target takes over (the outage then opens its own
//! incident and alerts as one). Runs inside the engine's batch transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::messages::{
    CheckResult, Evidence, Failure, FailureKind, IncidentEvent, IncidentEventKind, LatencyBaseline, Outcome, Phase,
    TargetRef, TargetStatus,
};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::judge::{Active, Quote, SlowEffect, SlowState};
use crate::incidents::engine::{EngineError, outbox, timeline};

/// The target an effect is about, as the engine holds it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The target.
    pub target: &'a TargetRef,
    /// Its status after the result.
    pub status: TargetStatus,
    /// Its last good result.
    pub last_good: Option<&'a CheckResult>,
    /// Its active baseline, if any.
    pub active: Option<&'a Active>,
}

/// `p95 for Tuesday 14:00 UTC is 22 ms; now 210 ms for 3 checks`.
pub fn summary(quote: &Quote, over: u32) -> String {
    let checks = if over == 1 { "check" } else { "checks" };
    format!(
        "{}; now {} ms for {over} {checks}",
        quote.reference.describe(),
        quote.latency_ms.round()
    )
}

/// Carries out `effect`, caused by `result`.
pub async fn apply(
    tx: &mut PgConnection,
    s: Subject<'_>,
    effect: SlowEffect,
    result: &CheckResult,
) -> Result<(), EngineError> {
    match effect {
        SlowEffect::Open { regions, quote, over } => open(tx, s, &regions, quote.as_ref(), over, result).await,
        SlowEffect::Resolve { off } => resolve(tx, s, off, result).await,
    }
}

async fn open(
    tx: &mut PgConnection,
    s: Subject<'_>,
    regions: &[String],
    quote: Option<&Quote>,
    over: u32,
    result: &CheckResult,
) -> Result<(), EngineError> {
    let at = result.started_at;
    let mut annotated = result.clone();
    let baseline = quote.map(|q| {
        let (factor, min_increase_ms) = s.active.map_or((0.0, 0.0), |a| (a.factor, a.min_increase_ms));
        LatencyBaseline {
            hour_of_week: q.reference.hour_of_week.and_then(|h| u16::try_from(h).ok()),
            p50_ms: q.reference.p50_ms,
            p95_ms: q.reference.p95_ms,
            limit_ms: q.limit_ms,
            factor,
            min_increase_ms,
            latency_ms: q.latency_ms,
            checks: over,
            summary: summary(q, over),
        }
    });
    let said = match &baseline {
        Some(b) => format!("{} (limit {} ms)", b.summary, b.limit_ms.round()),
        None => "latency above its baseline's limit".to_owned(),
    };
    // The result as judged: degraded, for the reason the baseline gives.
    annotated.outcome = Outcome::Degraded;
    annotated.failure = Some(Failure {
        kind: FailureKind::SlowResponse,
        phase: Phase::Validation,
        message: said.clone(),
    });
    let by_region: BTreeMap<String, Vec<FailureKind>> = regions
        .iter()
        .map(|r| (r.clone(), vec![FailureKind::SlowResponse]))
        .collect();
    let evidence = Evidence {
        results: vec![annotated],
        last_good: s.last_good.cloned(),
        baseline_latency_ms: baseline.as_ref().map(|b| b.p50_ms),
        failure_kinds_by_region: by_region,
        latency_baseline: baseline,
        ..Evidence::default()
    };
    let id = Uuid::now_v7();
    let inserted = sqlx::query!(
        "insert into incidents (id, target_id, owner_id, severity, opened_at, regions, failure_kind, evidence)
         values ($1, $2, $3, 'degraded', $4, $5, $6, $7)
         on conflict (target_id) where resolved_at is null do nothing",
        id,
        s.target.id,
        s.target.owner_id,
        at,
        regions,
        FailureKind::SlowResponse.as_str(),
        Json(&evidence) as _
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Another incident is open (state lost meanwhile): it stands.
        return Ok(());
    }
    timeline(
        tx,
        id,
        at,
        "opened",
        &format!("Slow in {}: {said}.", regions.join(", ")),
    )
    .await?;
    let event = IncidentEvent {
        incident_id: id,
        kind: IncidentEventKind::Opened,
        target: Some(s.target.clone()),
        state: TargetStatus::Degraded,
        regions: regions.to_vec(),
        started_at: at,
        resolved_at: None,
        pinger_id: None,
        caused_by: None,
        group: None,
        evidence,
    };
    outbox(tx, result, event).await
}

async fn resolve(tx: &mut PgConnection, s: Subject<'_>, off: bool, result: &CheckResult) -> Result<(), EngineError> {
    let at = result.started_at;
    let Some(row) = close(tx, s.target.id, at).await? else {
        return Ok(());
    };
    let message = if off {
        "The latency baseline no longer applies (turned off, or too little history)."
    } else {
        "Latency is back under the baseline's limit."
    };
    timeline(tx, row.id, at, "resolved", message).await?;
    let event = IncidentEvent {
        incident_id: row.id,
        kind: IncidentEventKind::Resolved,
        target: Some(s.target.clone()),
        state: s.status,
        regions: row.regions,
        started_at: row.opened_at,
        resolved_at: Some(at.max(row.opened_at)),
        pinger_id: None,
        caused_by: None,
        group: None,
        evidence: Evidence {
            results: vec![result.clone()],
            last_good: Some(result.clone()),
            baseline_latency_ms: row.evidence.0.baseline_latency_ms,
            latency_baseline: row.evidence.0.latency_baseline,
            ..Evidence::default()
        },
    };
    outbox(tx, result, event).await
}

/// A closed degraded incident.
struct Closed {
    id: Uuid,
    opened_at: DateTime<Utc>,
    regions: Vec<String>,
    evidence: Json<Evidence>,
}

async fn close(tx: &mut PgConnection, target: Uuid, at: DateTime<Utc>) -> Result<Option<Closed>, sqlx::Error> {
    sqlx::query_as!(
        Closed,
        r#"update incidents set resolved_at = greatest($2, opened_at), updated_at = now()
           where target_id = $1 and resolved_at is null and severity = 'degraded'
           returning id, opened_at, regions, evidence as "evidence: Json<Evidence>""#,
        target,
        at
    )
    .fetch_optional(&mut *tx)
    .await
}

/// An outage is about to open: the open degraded incident of the target, if any, is closed
/// without a `resolved` event (the outage's alert follows at once) and `slow` forgets it.
pub async fn supersede(
    tx: &mut PgConnection,
    slow: &mut SlowState,
    target: Uuid,
    at: DateTime<Utc>,
) -> Result<(), EngineError> {
    if !slow.incident_open {
        return Ok(());
    }
    slow.incident_open = false;
    if let Some(row) = close(tx, target, at).await? {
        timeline(
            tx,
            row.id,
            at,
            "superseded",
            "The target went down: an outage incident takes over.",
        )
        .await?;
    }
    Ok(())
}
