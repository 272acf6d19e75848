-- The compact archive: one row per target and UTC day instead of one row per result.
--
-- Every result stays listable: its id, job, times, outcome, status, failure, phase timings,
-- address and certificate days are typed arrays, one element per result in time order (element
-- i of every array is result i). Small texts (region, pinger, check kind, address, failure
-- kind/phase/message) are indexes into the row's own dictionary `strs` (1-based, 0 = none).
-- The full result JSON is kept only for the results that explain something: every result that
-- is not up, the first of the target's day, and the first after a change of outcome, of TLS
-- certificate or of redirect chain. Those details are one zstd block per row (`details`), in
-- the order of `detail_at` (1-based positions of the results whose detail is kept).
--
-- Partitioned by month of `day`, like archived_results, so that a retention job drops whole
-- months; `ensure_archive_days_partition(day)` creates the month holding `day`.
create table archive_days (
    day              date not null,
    target_id        uuid not null,
    -- Results in the row (the length of every per-result array).
    n                integer not null check (n > 0),
    strs             text[] not null,
    result_ids       uuid[] not null,
    job_ids          uuid[] not null,
    -- started_at in milliseconds since the day's midnight (UTC); ascending.
    at_ms            integer[] not null,
    -- finished_at - started_at in milliseconds.
    took_ms          integer[] not null,
    duration_ms      integer[] not null,
    -- 1 up, 2 degraded, 3 down (ClickHouse's codes).
    outcome          smallint[] not null,
    -- Final HTTP status, 0 when none.
    status_code      smallint[] not null,
    region_i         smallint[] not null,
    pinger_i         smallint[] not null,
    kind_i           smallint[] not null,
    ip_i             smallint[] not null,
    failure_kind_i   smallint[] not null,
    failure_phase_i  smallint[] not null,
    failure_msg_i    smallint[] not null,
    dns_ms           real[] not null,
    connect_ms       real[] not null,
    tls_ms           real[] not null,
    ttfb_ms          real[] not null,
    transfer_ms      real[] not null,
    tls_days_left    integer[] not null,
    probe_degraded   boolean[] not null,
    -- Hash of the TLS fingerprint and the redirect chain: what "a change" compares.
    sig              integer[] not null,
    detail_at        integer[] not null,
    details          bytea not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (day, target_id)
) partition by range (day);
create index archive_days_target_idx on archive_days (target_id, day);

-- Creates (if needed) the month partition of archive_days holding `day`; returns its name.
create function ensure_archive_days_partition(day date) returns text
language plpgsql as $$
declare
    month_start date := date_trunc('month', day)::date;
    part        text := format('archive_days_%s', to_char(month_start, 'YYYY_MM'));
begin
    execute format(
        'create table if not exists %I partition of archive_days for values from (%L) to (%L)',
        part,
        month_start,
        (month_start + interval '1 month')::date);
    return part;
end;
$$;

-- Which layout holds an archived day: `rows` (archived_results, before this migration) or
-- `days` (archive_days). The archiver moves `rows` days to `days` in the background, one day
-- per transaction; readers read a day from the table its ledger row names. Days the archive
-- job opens from now on are `days` (it says so when it opens them).
alter table archive_batches add column layout text not null default 'rows'
    check (layout in ('rows', 'days'));
alter table archive_batches add column migrated_at timestamptz;
