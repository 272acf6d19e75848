-- Rollups of check_results per target, per hour and per day, kept up to date on every insert
-- by materialized views. Counts are uniqExact states of result_id, so a redelivered result
-- inserted twice is still counted once (the base table collapses duplicates only at merge
-- time). Read them with the -Merge combinators and GROUP BY (no FINAL needed):
--
--   SELECT target_id, hour,
--          uniqExactMerge(checks) AS checks,
--          uniqExactIfMerge(failures) AS failures,
--          uniqExactIfMerge(degraded) AS degraded,
--          avgIfMerge(latency_avg_ms) AS latency_avg_ms,
--          arrayMap(x -> toFloat64(x),
--                   quantilesIfMerge(0.5, 0.95, 0.99)(latency_quantiles_ms)) AS latency_p50_p95_p99_ms,
--          maxIfMerge(latency_max_ms) AS latency_max_ms
--   FROM check_rollups_hourly
--   WHERE target_id = {target} AND hour >= {from} AND hour < {to}
--   GROUP BY target_id, hour ORDER BY hour
--
-- (Quantiles are Array(UInt32) on 18.16 and Array(Float64) on current releases: arrayMap
-- gives one type everywhere.)
--
-- Definitions (the archiver writes PostgreSQL's result_rollups with the same ones):
--   checks    every result;
--   failures  outcome 'down', except results taken while the pinger's own connectivity was
--             degraded (probe_degraded = 1);
--   degraded  outcome 'degraded';
--   latency   duration_ms of results that are not 'down' (quantiles are approximate here,
--             exact in PostgreSQL);
--   downtime  bucket seconds x failures / checks (computed when read).
--
-- Partitioned by day like check_results, so the archiver drops a day from all three tables.
-- Small index granules: a row holds uniqExact states (16 bytes per result id: ~1 KB per hour,
-- ~23 KB per day of a target checked every minute), and reading one target must not
-- deserialize the states of the thousands of targets that share a default 8,192-row granule.
-- Valid on ClickHouse 18.16 and current releases.
CREATE TABLE IF NOT EXISTS check_rollups_hourly
(
    target_id            UUID,
    hour                 DateTime,
    checks               AggregateFunction(uniqExact, UUID),
    failures             AggregateFunction(uniqExactIf, UUID, UInt8),
    degraded             AggregateFunction(uniqExactIf, UUID, UInt8),
    latency_avg_ms       AggregateFunction(avgIf, UInt32, UInt8),
    latency_quantiles_ms AggregateFunction(quantilesIf(0.5, 0.95, 0.99), UInt32, UInt8),
    latency_max_ms       AggregateFunction(maxIf, UInt32, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(hour)
ORDER BY (target_id, hour)
SETTINGS index_granularity = 256;

-- The daily table repeats the hourly one's columns on purpose: `CREATE TABLE ... AS` would copy its partitioning and granularity too.
CREATE TABLE IF NOT EXISTS check_rollups_daily
(
    target_id            UUID,
    day                  Date,
    checks               AggregateFunction(uniqExact, UUID),
    failures             AggregateFunction(uniqExactIf, UUID, UInt8),
    degraded             AggregateFunction(uniqExactIf, UUID, UInt8),
    latency_avg_ms       AggregateFunction(avgIf, UInt32, UInt8),
    latency_quantiles_ms AggregateFunction(quantilesIf(0.5, 0.95, 0.99), UInt32, UInt8),
    latency_max_ms       AggregateFunction(maxIf, UInt32, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMMDD(day)
ORDER BY (target_id, day)
SETTINGS index_granularity = 8;

CREATE MATERIALIZED VIEW IF NOT EXISTS check_rollups_hourly_mv TO check_rollups_hourly
AS SELECT
    target_id,
    toStartOfHour(checked_at) AS hour,
    uniqExactState(result_id) AS checks,
    uniqExactIfState(result_id, toUInt8(outcome = 'down' AND probe_degraded = 0)) AS failures,
    uniqExactIfState(result_id, toUInt8(outcome = 'degraded')) AS degraded,
    avgIfState(duration_ms, toUInt8(outcome != 'down')) AS latency_avg_ms,
    quantilesIfState(0.5, 0.95, 0.99)(duration_ms, toUInt8(outcome != 'down')) AS latency_quantiles_ms,
    maxIfState(duration_ms, toUInt8(outcome != 'down')) AS latency_max_ms
FROM check_results
GROUP BY target_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS check_rollups_daily_mv TO check_rollups_daily
AS SELECT
    target_id,
    toDate(checked_at) AS day,
    uniqExactState(result_id) AS checks,
    uniqExactIfState(result_id, toUInt8(outcome = 'down' AND probe_degraded = 0)) AS failures,
    uniqExactIfState(result_id, toUInt8(outcome = 'degraded')) AS degraded,
    avgIfState(duration_ms, toUInt8(outcome != 'down')) AS latency_avg_ms,
    quantilesIfState(0.5, 0.95, 0.99)(duration_ms, toUInt8(outcome != 'down')) AS latency_quantiles_ms,
    maxIfState(duration_ms, toUInt8(outcome != 'down')) AS latency_max_ms
FROM check_results
GROUP BY target_id, day;
