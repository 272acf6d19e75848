-- Closed days still in ClickHouse whose daily rollups are also in result_rollups ("sealed"):
-- a long-range read (90-day bars, 30-day uptime) takes those days from PostgreSQL's plain
-- counts instead of merging a day of uniqExact states per target in ClickHouse.
--
-- `fingerprint` identifies the set of ClickHouse parts of the day's daily rollups the seal
-- was computed from; any later insert (a late result) or merge changes it, and the day is
-- sealed again. Rows here are written in the same transaction as the day's rollups.
create table sealed_days (
    day         date primary key,
    fingerprint bigint not null,
    targets     integer not null,
    sealed_at   timestamptz not null default now()
);
