//! The history API: overview, results, uptime (by time), daily bars and latency series of a
//! target, merged across ClickHouse and the PostgreSQL archive (see [`store`]).

use std::collections::BTreeMap;

use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult};
use crate::error::{Json, Path, Query};
use crate::history::{Bucket, Fields, Granularity, Seam, Store};
use crate::http::auth::Caller;
use crate::http::pagination::page_of;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/targets/{id}/overview", get(get_overview))
        .route("/api/targets/{id}/results", get(list_results))
        .route("/api/targets/{id}/uptime", get(get_uptime))
        .route("/api/targets/{id}/uptime/daily", get(get_daily_uptime))
        .route("/api/targets/{id}/latency", get(get_latency))
        .route("/api/overview/sparklines", get(get_sparklines))
        .route("/api/overview/uptime", get(get_overview_uptime))
}

/// The store of `state`: archived results and rollups are read from the read pool (the
/// replica when one is configured); which days are archived, from the primary.
pub fn store(state: &AppState) -> Store {
    Store {
        pg: state.read_pool.clone(),
        ch: state.clickhouse.clone(),
    }
}

/// The target if `owner` owns it, else 404: `(paused)`.
pub async fn owned_target(state: &AppState, owner: Uuid, id: Uuid) -> ApiResult<bool> {
    sqlx::query_scalar!("select paused from targets where id = $1 and owner_id = $2", id, owner)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Start of the hour of `at`.
pub fn hour_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0)
        .and_then(|a| a.with_second(0))
        .and_then(|a| a.with_minute(0))
        .unwrap_or(at)
}

/// Midnight (UTC) of `day`.
pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// Uptime by time over buckets of `g`: `1 - downtime / observed`, `None` without checks;
/// returns `(uptime, downtime_seconds, checks, failures)`.
pub fn uptime_of<'a>(buckets: impl IntoIterator<Item = &'a Bucket>, g: Granularity) -> (Option<f64>, f64, u64, u64) {
    let len = g.seconds() as f64;
    let (mut down, mut observed, mut checks, mut failures) = (0.0, 0.0, 0, 0);
    for b in buckets {
        if b.checks == 0 {
            continue;
        }
        down += b.downtime_seconds(len);
        observed += len;
        checks += b.checks;
        failures += b.failures;
    }
    let uptime = (observed > 0.0).then(|| (1.0 - down / observed).clamp(0.0, 1.0));
    (uptime, down, checks, failures)
}

/// Daily bars of `targets` for the `days` days ending today: `date → bucket` (counts only).
pub async fn daily_bars(
    store: &Store,
    seam: &Seam,
    targets: &[Uuid],
    days: i64,
) -> Result<BTreeMap<Uuid, BTreeMap<NaiveDate, Bucket>>, crate::history::store::ReadError> {
    let today = Utc::now().date_naive();
    let from = midnight(today - Duration::days(days - 1));
    let to = midnight(today + Duration::days(1));
    let mut out: BTreeMap<Uuid, BTreeMap<NaiveDate, Bucket>> = BTreeMap::new();
    for (t, b) in store
        .buckets(seam, targets, Granularity::Day, Fields::Counts, from, to)
        .await?
    {
        out.entry(t).or_default().insert(b.start.date_naive(), b);
    }
    Ok(out)
}

/// Buckets grouped by target (the store returns them sorted by target, then start).
fn by_target(buckets: Vec<(Uuid, Bucket)>) -> BTreeMap<Uuid, Vec<Bucket>> {
    let mut out: BTreeMap<Uuid, Vec<Bucket>> = BTreeMap::new();
    for (t, b) in buckets {
        out.entry(t).or_default().push(b);
    }
    out
}

/// What the overviews show of `targets`: the hourly counts of the last 24 hours, and the
/// daily bars of the last `days` days, read at once.
async fn recent_counts(
    store: &Store,
    seam: &Seam,
    targets: &[Uuid],
    days: i64,
) -> Result<(BTreeMap<Uuid, Vec<Bucket>>, BTreeMap<Uuid, BTreeMap<NaiveDate, Bucket>>), crate::history::store::ReadError>
{
    let now = Utc::now();
    let hourly = store.buckets(
        seam,
        targets,
        Granularity::Hour,
        Fields::Counts,
        hour_floor(now) - Duration::hours(23),
        now,
    );
    let (hourly, daily) = tokio::try_join!(hourly, daily_bars(store, seam, targets, days))?;
    Ok((by_target(hourly), daily))
}

/// One day of the bars.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Day {
    /// The UTC date.
    pub date: NaiveDate,
    /// Uptime by time, null without checks.
    #[schema(required = true)]
    pub uptime: Option<f64>,
    /// Seconds down.
    pub downtime_seconds: f64,
    /// Results.
    pub checks: u64,
}

/// The `days` bars ending today, every day present (null uptime when nothing was checked).
pub fn bars(by_day: Option<&BTreeMap<NaiveDate, Bucket>>, days: i64) -> Vec<Day> {
    let today = Utc::now().date_naive();
    (0..days)
        .rev()
        .map(|back| {
            let date = today - Duration::days(back);
            let b = by_day.and_then(|m| m.get(&date));
            let (uptime, downtime_seconds, checks, _) = uptime_of(b, Granularity::Day);
            Day {
                date,
                uptime,
                downtime_seconds,
                checks,
            }
        })
        .collect()
}

/// `GET /api/targets/{id}/uptime/daily`: the bars, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DailyUptime {
    /// One bar a day, today last.
    pub days: Vec<Day>,
}

/// Uptime by time over the windows ending now; null without checks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uptimes {
    /// The last 24 hours.
    #[schema(required = true)]
    pub h24: Option<f64>,
    /// The last 7 days (today included).
    #[schema(required = true)]
    pub d7: Option<f64>,
    /// The last 30 days.
    #[schema(required = true)]
    pub d30: Option<f64>,
    /// The last 90 days.
    #[schema(required = true)]
    pub d90: Option<f64>,
}

/// `GET /api/targets/{id}/overview`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    /// `unknown|up|pending|degraded|down|flapping|paused`.
    #[schema(value_type = common::messages::TargetStatus)]
    pub state: String,
    /// Since when (null before the first result).
    #[schema(required = true)]
    pub since: Option<DateTime<Utc>>,
    /// Uptime over 24 hours, 7, 30 and 90 days.
    pub uptime: Uptimes,
    /// Total latency of the last result.
    #[schema(required = true)]
    pub last_latency_ms: Option<i32>,
}

/// A check result: the JSON of a `CheckResult` (crates/common, `messages`), as stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = common::messages::CheckResult)]
pub struct CheckResultJson(pub Value);

/// A listed check result: the JSON of a `CheckResult` with `detail_dropped`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = ListedResult)]
pub struct ListedResultJson(pub Value);

/// One result of `GET /api/targets/{id}/results`: a `CheckResult`, and whether the archive
/// kept its detail. The compact archive keeps the detail (hops, TLS, DNS, ICMP facts, body
/// excerpt) of every result that is not up, of the first of a target's day, and of the first
/// after a change of outcome, TLS certificate or redirect chain; for other archived results it
/// lists the fields it kept (ids, times, outcome, status, failure, address, phase timing sums,
/// certificate days left) with `detail: null` and `detail_dropped: true`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListedResult {
    /// The result (without `hops`, `tls`, `dns`, `icmp`, `heartbeat`, `banner` and
    /// `body_excerpt` when `detail_dropped`).
    #[serde(flatten)]
    pub result: common::messages::CheckResult,
    /// Whether the archive dropped this result's detail.
    pub detail_dropped: bool,
    /// Present (and null) only when `detail_dropped`: the detail is gone.
    #[schema(nullable = true, value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    /// Present only when `detail_dropped`: the phase timings summed over the hops.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<common::messages::PhaseTimings>,
    /// Present only when `detail_dropped`: days until the certificate expired.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_days_left: Option<i32>,
}

page_of!(
    /// `GET /api/targets/{id}/results`: check results, newest first.
    ResultPage,
    ListedResultJson
);

/// `GET /api/targets/{id}/uptime`: the range's uptime by time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UptimeSummary {
    /// `1 - downtime / observed`; null without checks.
    #[schema(required = true)]
    pub uptime: Option<f64>,
    /// Seconds down.
    pub downtime_seconds: f64,
    /// Results.
    pub checks: u64,
    /// Results that were down.
    pub failures: u64,
}

/// One step of a latency series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LatencyPoint)]
pub struct TimedLatencyPoint {
    /// Start of the step.
    pub t: DateTime<Utc>,
    /// Quantiles of the total and of each phase.
    #[serde(flatten)]
    pub point: crate::history::store::LatencyPoint,
}

/// `GET /api/targets/{id}/latency`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LatencySeries {
    /// Seconds a step.
    pub step_seconds: i64,
    /// One point a step that has results, oldest first.
    pub points: Vec<TimedLatencyPoint>,
}

/// Uptime over the last 24 hours and 30 days of one target.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowUptime {
    /// The last 24 hours.
    #[schema(required = true)]
    pub h24: Option<f64>,
    /// The last 30 days.
    #[schema(required = true)]
    pub d30: Option<f64>,
}

/// `GET /api/overview/uptime`: by target id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct RowUptimes(pub BTreeMap<Uuid, RowUptime>);

/// `GET /api/overview/sparklines`: by target id, 24 hourly average latencies (ms), oldest
/// first, null for an hour without results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Sparklines(pub BTreeMap<Uuid, Vec<Option<f64>>>);

/// A target's current state, as the overview shows it.
struct StateRow {
    status: String,
    since: DateTime<Utc>,
    last_latency_ms: Option<i32>,
}

#[utoipa::path(get, path = "/api/targets/{id}/overview", tag = "history", params(("id" = Uuid, Path, description = "the target's id")),
    responses((status = 200, body = Overview, description = "state, uptime over 24 h/7 d/30 d/90 d, last latency"), (status = 404, description = "no such target of yours")))]
async fn get_overview(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Overview>> {
    let org = user.may(Action::Read)?;
    let paused = owned_target(&state, org, id).await?;
    let row = sqlx::query_as!(
        StateRow,
        "select status, since, last_latency_ms from target_state where target_id = $1",
        id,
    )
    .fetch_optional(&state.pool);
    let (row, seam) = tokio::try_join!(row, Seam::load(&state.pool))?;
    let (hourly, daily) = recent_counts(&store(&state), &seam, &[id], 90).await?;
    let now = Utc::now();
    let days = daily.get(&id);
    let over = |n: i64| uptime_over_days(days, now, n);
    let (status, since, latency) = match row {
        Some(r) => (r.status, Some(r.since), r.last_latency_ms),
        None => ("unknown".to_owned(), None, None),
    };
    Ok(Json(Overview {
        state: if paused { "paused".to_owned() } else { status },
        since,
        uptime: Uptimes {
            h24: uptime_of(hourly.get(&id).into_iter().flatten(), Granularity::Hour).0,
            d7: over(7),
            d30: over(30),
            d90: over(90),
        },
        last_latency_ms: latency,
    }))
}

/// Uptime over the last `n` days (today included) of a target's daily buckets.
fn uptime_over_days(days: Option<&BTreeMap<NaiveDate, Bucket>>, now: DateTime<Utc>, n: i64) -> Option<f64> {
    let since = now.date_naive() - Duration::days(n - 1);
    uptime_of(
        days.into_iter().flat_map(|m| m.range(since..)).map(|(_, b)| b),
        Granularity::Day,
    )
    .0
}

/// `?from=&to=` of the history routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// Start (inclusive), RFC 3339.
    #[param(
        pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d)$"
    )]
    pub from: Option<DateTime<Utc>>,
    /// End (exclusive), RFC 3339.
    #[param(
        pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d)$"
    )]
    pub to: Option<DateTime<Utc>>,
    /// Page size.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Opaque cursor.
    pub cursor: Option<String>,
    /// Latency step (`60s`, `5m`, `1h`, `1d`).
    pub step: Option<String>,
}

impl Range {
    fn bounds(&self, default_span: Duration) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or(to - default_span);
        if from > to {
            return Err(ApiError::validation("from", "from must not be after to"));
        }
        Ok((from, to))
    }
}

fn encode_cursor(at: i64, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("r:{at}:{id}"))
}

fn decode_cursor(c: &str) -> ApiResult<(i64, Uuid)> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let mut parts = s.splitn(3, ':');
            (parts.next()? == "r").then_some(())?;
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .ok_or_else(|| ApiError::validation("cursor", "invalid cursor"))
}

#[utoipa::path(get, path = "/api/targets/{id}/results", tag = "history", params(("id" = Uuid, Path, description = "the target's id"), Range),
    responses((status = 200, body = ResultPage, description = "check results, newest first"), (status = 400), (status = 404, description = "no such target of yours"), (status = 422)))]
async fn list_results(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<Range>,
) -> ApiResult<Json<ResultPage>> {
    let org = user.may(Action::Read)?;
    owned_target(&state, org, id).await?;
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n as usize,
        Some(_) => return Err(ApiError::validation("limit", "limit must be between 1 and 500")),
    };
    let cursor = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let (from, to) = q.bounds(Duration::days(3650))?;
    let store = store(&state);
    let seam = Seam::load(&state.pool).await?;
    let mut rows = store.results(&seam, id, from, to, cursor, limit + 1).await?;
    let next_cursor = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().map(|(at, id, _)| encode_cursor(*at, *id))
    });
    let total = store.count(&seam, id, from, to).await?;
    Ok(Json(ResultPage {
        items: rows
            .into_iter()
            .map(|(_, _, mut v)| {
                if let Value::Object(map) = &mut v {
                    map.entry("detail_dropped").or_insert(Value::Bool(false));
                }
                ListedResultJson(v)
            })
            .collect(),
        total: i64::try_from(total).unwrap_or(i64::MAX),
        next_cursor: next_cursor.flatten(),
    }))
}

#[utoipa::path(get, path = "/api/targets/{id}/uptime", tag = "history", params(("id" = Uuid, Path, description = "the target's id"), Range),
    responses((status = 200, body = UptimeSummary, description = "uptime, downtime, checks and failures in the range"), (status = 400), (status = 404, description = "no such target of yours"), (status = 422)))]
async fn get_uptime(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<Range>,
) -> ApiResult<Json<UptimeSummary>> {
    let org = user.may(Action::Read)?;
    owned_target(&state, org, id).await?;
    let (from, to) = q.bounds(Duration::hours(24))?;
    let seam = Seam::load(&state.pool).await?;
    let buckets = store(&state)
        .buckets(&seam, &[id], Granularity::Hour, Fields::Counts, hour_floor(from), to)
        .await?;
    let (uptime, downtime_seconds, checks, failures) = uptime_of(buckets.iter().map(|(_, b)| b), Granularity::Hour);
    Ok(Json(UptimeSummary {
        uptime,
        downtime_seconds,
        checks,
        failures,
    }))
}

/// `?days=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysQuery {
    /// Days ending today (default 90, 1..=366).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

#[utoipa::path(get, path = "/api/targets/{id}/uptime/daily", tag = "history", params(("id" = Uuid, Path, description = "the target's id"), DaysQuery),
    responses((status = 200, body = DailyUptime, description = "uptime per day"), (status = 400), (status = 404, description = "no such target of yours"), (status = 422)))]
async fn get_daily_uptime(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<DaysQuery>,
) -> ApiResult<Json<DailyUptime>> {
    let org = user.may(Action::Read)?;
    owned_target(&state, org, id).await?;
    let days = q.days.unwrap_or(90);
    if !(1..=366).contains(&days) {
        return Err(ApiError::validation("days", "days must be between 1 and 366"));
    }
    let seam = Seam::load(&state.pool).await?;
    let daily = daily_bars(&store(&state), &seam, &[id], days).await?;
    Ok(Json(DailyUptime {
        days: bars(daily.get(&id), days),
    }))
}

/// Parses a latency step: 60 s to 1 day.
pub fn parse_step(step: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> ApiResult<i64> {
    let seconds = match step {
        Some(s) => humantime::parse_duration(s)
            .map_err(|_| ApiError::validation("step", "step is a duration such as 60s, 5m, 1h or 1d"))?
            .as_secs() as i64,
        None => {
            // About 300 points by default.
            let span = (to - from).num_seconds().max(60);
            [60, 300, 900, 3600, 21_600, 86_400]
                .into_iter()
                .find(|s| span / s <= 300)
                .unwrap_or(86_400)
        }
    };
    if !(60..=86_400).contains(&seconds) {
        return Err(ApiError::validation("step", "step must be between 60s and 1d"));
    }
    if (to - from).num_seconds() / seconds > 10_000 {
        return Err(ApiError::validation("step", "too many points: use a larger step"));
    }
    Ok(seconds)
}

#[utoipa::path(get, path = "/api/targets/{id}/latency", tag = "history", params(("id" = Uuid, Path, description = "the target's id"), Range),
    responses((status = 200, body = LatencySeries, description = "latency percentiles by phase per step"), (status = 400), (status = 404, description = "no such target of yours"), (status = 422)))]
async fn get_latency(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<Range>,
) -> ApiResult<Json<LatencySeries>> {
    let org = user.may(Action::Read)?;
    owned_target(&state, org, id).await?;
    let (from, to) = q.bounds(Duration::hours(24))?;
    let step = parse_step(q.step.as_deref(), from, to)?;
    let seam = Seam::load(&state.pool).await?;
    let points = store(&state).latency(&seam, id, from, to, step).await?;
    let points = points
        .into_iter()
        .filter_map(|point| {
            Some(TimedLatencyPoint {
                t: Utc.timestamp_opt(point.t, 0).single()?,
                point,
            })
        })
        .collect();
    Ok(Json(LatencySeries {
        step_seconds: step,
        points,
    }))
}

/// `?ids=a,b,c`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IdsQuery {
    /// Comma-separated target ids (at most 500).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}){0,499})?$"
    )]
    pub ids: Option<String>,
}

/// Most ids one `?ids=` request may name.
const MAX_IDS: usize = 500;

/// The ids of `?ids=` that `owner` owns (others are left out, as if they did not exist).
async fn owned_ids(state: &AppState, owner: Uuid, q: &IdsQuery) -> ApiResult<Vec<Uuid>> {
    let mut asked = Vec::new();
    for s in q.ids.as_deref().unwrap_or_default().split(',').map(str::trim) {
        if s.is_empty() {
            continue;
        }
        let id = s
            .parse::<Uuid>()
            .map_err(|_| ApiError::validation("ids", format!("not a target id: {s:?}")))?;
        asked.push(id);
    }
    if asked.len() > MAX_IDS {
        return Err(ApiError::validation("ids", format!("at most {MAX_IDS} ids at once")));
    }
    Ok(sqlx::query_scalar!(
        "select id from targets where id = any($1) and owner_id = $2",
        &asked,
        owner
    )
    .fetch_all(&state.pool)
    .await?)
}

/// Uptime over the last 24 hours and 30 days of many targets at once (the overview list asks
/// for its visible rows in one call instead of one overview each).
#[utoipa::path(get, path = "/api/overview/uptime", tag = "history", params(IdsQuery),
    responses((status = 200, body = RowUptimes, description = "uptime over 24 hours and 30 days per target"), (status = 400), (status = 422)))]
async fn get_overview_uptime(Caller { state, user }: Caller, Query(q): Query<IdsQuery>) -> ApiResult<Json<RowUptimes>> {
    let org = user.may(Action::Read)?;
    let owned = owned_ids(&state, org, &q).await?;
    if owned.is_empty() {
        return Ok(Json(RowUptimes(BTreeMap::new())));
    }
    let seam = Seam::load(&state.pool).await?;
    let (hourly, daily) = recent_counts(&store(&state), &seam, &owned, 30).await?;
    let now = Utc::now();
    let mut out = BTreeMap::new();
    for t in &owned {
        let h24 = uptime_of(hourly.get(t).into_iter().flatten(), Granularity::Hour).0;
        let d30 = uptime_over_days(daily.get(t), now, 30);
        out.insert(*t, RowUptime { h24, d30 });
    }
    Ok(Json(RowUptimes(out)))
}

#[utoipa::path(get, path = "/api/overview/sparklines", tag = "history", params(IdsQuery),
    responses((status = 200, body = Sparklines, description = "24 hourly latency points per target"), (status = 400), (status = 422)))]
async fn get_sparklines(Caller { state, user }: Caller, Query(q): Query<IdsQuery>) -> ApiResult<Json<Sparklines>> {
    let org = user.may(Action::Read)?;
    let owned = owned_ids(&state, org, &q).await?;
    let seam = Seam::load(&state.pool).await?;
    let start = hour_floor(Utc::now()) - Duration::hours(23);
    let buckets = by_target(
        store(&state)
            .buckets(&seam, &owned, Granularity::Hour, Fields::All, start, Utc::now())
            .await?,
    );
    let mut out = BTreeMap::new();
    for t in &owned {
        let mut points = vec![None; 24];
        for b in buckets.get(t).into_iter().flatten() {
            let i = (b.start - start).num_hours();
            if let (Ok(i), Some(avg)) = (usize::try_from(i), b.latency_avg)
                && i < 24
            {
                points[i] = Some(avg.round());
            }
        }
        out.insert(*t, points);
    }
    Ok(Json(Sparklines(out)))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    get_overview,
    list_results,
    get_uptime,
    get_daily_uptime,
    get_latency,
    get_overview_uptime,
    get_sparklines
))]
pub struct Doc;
