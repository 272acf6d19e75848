-- Latency baselines (backend::baselines). One row per target: the settings of its
-- slow-response judgement, and the rolling baseline the scheduler's leader computes every hour
-- from the hourly rollups of the last four weeks: p50 and p95 per hour of the week
-- (index 1 = Monday 00:00 UTC … 168 = Sunday 23:00 UTC) and over all hours.
-- A target without a row has the default settings and no baseline yet.
create table latency_baselines (
    target_id        uuid primary key references targets (id) on delete cascade,
    -- Settings. `enabled`: true, false, or null = automatic (on once a week of history exists).
    enabled          boolean,
    factor           double precision not null default 3 check (factor >= 1.5 and factor <= 20),
    min_increase_ms  integer not null default 100 check (min_increase_ms between 0 and 60000),
    -- The baseline, null until first computed. Arrays hold 168 entries (null: no samples).
    computed_at      timestamptz,
    history_from     timestamptz,
    p50_ms           real[],
    p95_ms           real[],
    samples          integer[],
    all_p50_ms       real,
    all_p95_ms       real,
    all_samples      integer not null default 0,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    check (p50_ms is null or cardinality(p50_ms) = 168),
    check (p95_ms is null or cardinality(p95_ms) = 168),
    check (samples is null or cardinality(samples) = 168)
);

-- Targets that existed before baselines opt in; new targets are automatic.
insert into latency_baselines (target_id, enabled) select id, false from targets;
