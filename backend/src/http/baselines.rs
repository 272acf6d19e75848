//! A target's latency baseline: its 168 hourly buckets (the band the dashboard draws on the
//! latency chart) and its settings. The settings are written with the target
//! (`baseline` of a target input); see [`crate::baselines`].

use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Action;
use crate::baselines::band::{self, MIN_BUCKET_SAMPLES};
use crate::baselines::{BaselineView, store};
use crate::error::{ApiResult, Json, Path};
use crate::http::auth::Caller;
use crate::http::targets::Target;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/targets/{id}/baseline", get(get_baseline))
}

/// The latency of a set of hours.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LevelView {
    /// Usual latency (ms).
    pub p50_ms: f64,
    /// The 95th percentile (ms).
    pub p95_ms: f64,
    /// Latency samples behind it.
    pub samples: u64,
}

/// One hour of the week of a baseline: what a result then is judged against.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HourBand {
    /// 0 = Monday 00:00–01:00 UTC … 167 = Sunday 23:00–24:00 UTC.
    pub hour_of_week: u16,
    /// Usual latency (ms); null without a baseline.
    #[schema(required = true)]
    pub p50_ms: Option<f64>,
    /// The 95th percentile (ms); null without a baseline.
    #[schema(required = true)]
    pub p95_ms: Option<f64>,
    /// Latency above this is slow (ms); null without a baseline.
    #[schema(required = true)]
    pub limit_ms: Option<f64>,
    /// Samples of this hour itself.
    pub samples: u64,
    /// The hour has too few samples of its own: the all-hours baseline stands in.
    pub fallback: bool,
}

/// A target's latency baseline.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BaselineBand {
    /// The settings, and whether they judge now.
    pub settings: BaselineView,
    /// When the baseline was last computed (hourly); null: not yet.
    #[schema(required = true)]
    pub computed_at: Option<DateTime<Utc>>,
    /// The oldest hour of history it rests on (within the last four weeks).
    #[schema(required = true)]
    pub history_from: Option<DateTime<Utc>>,
    /// Over all hours; null without enough samples.
    #[schema(required = true)]
    pub all_hours: Option<LevelView>,
    /// The 168 hours of the week, from Monday 00:00 UTC.
    pub hours: Vec<HourBand>,
}

#[utoipa::path(get, path = "/api/targets/{id}/baseline", tag = "targets", params(("id" = Uuid, Path, description = "the target's id")),
    responses((status = 200, body = BaselineBand, description = "the baseline by hour of the week, and its settings"),
        (status = 404, description = "no such target of yours")))]
async fn get_baseline(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<BaselineBand>> {
    let org = user.may(Action::Read)?;
    crate::http::history::owned_target(&state, org, id).await?;
    let stored = store::load(&state.pool, id).await?;
    let now = state.config.api.clock.now();
    let active = stored.is_active(now);
    let b = &stored.baseline;
    let (factor, min_increase) = (stored.settings.factor, f64::from(stored.settings.min_increase_ms));
    let hours = b
        .references()
        .into_iter()
        .enumerate()
        .map(|(h, r)| {
            let own = b.hours.get(h).copied().flatten();
            HourBand {
                hour_of_week: h as u16,
                p50_ms: r.map(|r| r.p50_ms),
                p95_ms: r.map(|r| r.p95_ms),
                limit_ms: r.map(|r| band::limit_ms(r.p95_ms, factor, min_increase)),
                samples: own.map_or(0, |l| l.samples),
                fallback: own.is_none_or(|l| l.samples < MIN_BUCKET_SAMPLES),
            }
        })
        .collect();
    Ok(Json(BaselineBand {
        settings: BaselineView::of(&stored.settings, active),
        computed_at: stored.computed_at,
        history_from: b.history_from,
        all_hours: b.all.filter(|l| l.samples >= band::MIN_ALL_SAMPLES).map(|l| LevelView {
            p50_ms: l.p50_ms,
            p95_ms: l.p95_ms,
            samples: l.samples,
        }),
        hours,
    }))
}

/// Fills the `baseline` of `targets` (one query).
pub(crate) async fn attach(state: &AppState, targets: &mut [Target]) -> ApiResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = targets.iter().map(|t| t.id).collect();
    let now = state.config.api.clock.now();
    let stored = store::settings_many(&state.pool, &ids, now).await?;
    for t in targets {
        if let Some((settings, active)) = stored.get(&t.id) {
            t.baseline = BaselineView::of(settings, *active && t.kind != "heartbeat");
        }
    }
    Ok(())
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_baseline),
    components(schemas(BaselineBand, HourBand, LevelView, BaselineView))
)]
pub struct Doc;
