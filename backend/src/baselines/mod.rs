//! Latency baselines: what a target's latency usually is at each hour of the week, and the
//! slow-response judgement that makes a target degraded when it stays well above it.
//!
//! - **The baseline**: per target, p50 and p95 for each of the 168 hours of the week (UTC),
//!   from the hourly rollups of the last four weeks ([`store::WINDOW_DAYS`]), read across the
//!   archive seam like every history read ([`crate::history::Store::buckets`]). A bucket's
//!   p50 (p95) is the sample-weighted median of its hours' p50s (p95s): with four weeks each
//!   bucket has four hours, and one bad week (an incident, a deploy) does not move it. A bucket
//!   with fewer than [`band::MIN_BUCKET_SAMPLES`] samples falls back to the all-hours baseline;
//!   with fewer than [`band::MIN_ALL_SAMPLES`] overall there is no baseline and no judgement.
//! - **Stored, refreshed hourly by one backend**: the scheduler's leader recomputes every
//!   baseline each [`REFRESH_EVERY`] into `latency_baselines` (one row per target, the
//!   buckets as arrays) — rather than computing on demand — because the incident engine needs
//!   the baselines of every target of every batch: reading four weeks of rollups from
//!   ClickHouse there would cost a query per target per batch, while the stored rows cost one
//!   indexed read per batch, survive restarts, are shared by every backend, and serve the
//!   dashboard's band too. Baselines move slowly; an hour's delay is immaterial.
//! - **In the engine**: a batch reads its targets' settings and `computed_at` (one query) and
//!   the baselines themselves only when they changed, into a [`store::Cache`]; judging a
//!   result is a hash lookup and a comparison ([`judge`]).
//! - **The judgement**: a result is slow above max(p95 × factor, p95 + min increase) of its
//!   hour. K slow results in a row (K = the target's failure threshold) make a region slow, M
//!   under the limit (its success threshold) normal again; when the engine's quorum of regions
//!   is slow the target is degraded and a degraded incident opens with the failure kind
//!   `slow_response`, its message quoting the baseline ("p95 for Tuesday 14:00 UTC is 22 ms;
//!   now 210 ms for 3 checks"). An outage takes over from it ([`incident::supersede`]).
//! - **Settings** ([`settings`]): per target `enabled` (true, false, or null = automatic: on
//!   once a week of history exists), `factor` (1.5–20, default 3) and `min_increase_ms`
//!   (default 100). Targets that existed before baselines were opted out by the migration.
//!
//! # Layout
//! - [`band`]: the bucket math (pure).
//! - [`judge`]: the per-region streaks and their effects (pure).
//! - [`incident`]: degraded incidents in the engine's transaction.
//! - [`store`]: `latency_baselines`: refresh, the engine's cache, settings.
//! - [`settings`]: the settings as written, validated and shown.
//! - The API is [`crate::http::baselines`].

pub mod band;
pub mod incident;
pub mod judge;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use band::{Baseline, Reference};
pub use judge::{Active, SlowState, Verdict};
pub use settings::{BaselineInput, BaselineSettings, BaselineView};
pub use store::{Cache, refresh};

use crate::state::AppState;

/// How often the baselines are recomputed.
pub const REFRESH_EVERY: Duration = Duration::from_secs(3600);
/// How often the refresher looks whether a refresh is due.
const REFRESH_POLL: Duration = Duration::from_secs(60);

/// Starts the refresher: while this backend's scheduler leads (`stats.leading`), it
/// recomputes every baseline once the last refresh (any backend's, as stored) is
/// [`REFRESH_EVERY`] old. Ends after `shutdown`.
pub fn spawn_refresher(
    state: AppState,
    stats: Arc<crate::scheduler::Stats>,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let store = crate::history::Store {
            pg: state.read_pool.clone(),
            ch: state.clickhouse.clone(),
        };
        let every = chrono::Duration::from_std(REFRESH_EVERY).unwrap_or_else(|_| chrono::Duration::hours(1));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_POLL) => {}
            }
            if !stats.leading.load(Ordering::SeqCst) {
                continue;
            }
            let now = state.config.api.clock.now();
            match store::last_refresh(&state.pool).await {
                Ok(Some(last)) if now - last < every => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "latency baselines: last refresh unknown");
                    continue;
                }
            }
            let started = std::time::Instant::now();
            match refresh(&state.pool, &store, now).await {
                Ok(done) => tracing::info!(
                    targets = done.targets,
                    with_history = done.with_history,
                    seconds = started.elapsed().as_secs_f64(),
                    "latency baselines refreshed"
                ),
                Err(error) => tracing::warn!(error = %format!("{error:#}"), "latency baselines not refreshed"),
            }
        }
    })
}
