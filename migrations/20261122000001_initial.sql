-- PingTower's PostgreSQL schema: accounts, targets, incidents, notifications, status pages,
-- the month-partitioned archive of old check results, rollups and the archiver's ledger.

-- Accounts ------------------------------------------------------------------------------------

create table users (
    id            uuid primary key,
    email         text not null check (email = lower(email) and length(email) between 3 and 254),
    password_hash text not null,
    is_admin      boolean not null default false,
    language      text not null default 'en' check (language in ('en', 'ru')),
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create unique index users_email_key on users (email);

create table sessions (
    id           uuid primary key,
    user_id      uuid not null references users (id) on delete cascade,
    token_hash   bytea not null unique,
    user_agent   text,
    ip           text,
    created_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at   timestamptz not null,
    revoked_at   timestamptz
);
create index sessions_user_idx on sessions (user_id) where revoked_at is null;

create table api_tokens (
    id           uuid primary key,
    user_id      uuid not null references users (id) on delete cascade,
    name         text not null check (length(name) between 1 and 100),
    scope        text not null check (scope in ('read', 'write')),
    token_hash   bytea not null unique,
    prefix       text not null,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
create index api_tokens_user_idx on api_tokens (user_id);

-- Installation-wide settings an admin can change (e.g. registration open or closed).
create table app_settings (
    key        text primary key,
    value      jsonb not null,
    updated_at timestamptz not null default now()
);

-- Targets -------------------------------------------------------------------------------------

create table targets (
    id                uuid primary key,
    owner_id          uuid not null references users (id) on delete cascade,
    name              text not null check (length(name) between 1 and 200),
    kind              text not null check (kind in ('http', 'tcp', 'dns', 'tls')),
    spec              jsonb not null,
    interval_seconds  integer not null check (interval_seconds between 1 and 86400),
    regions           text[] not null default '{default}',
    tags              text[] not null default '{}',
    failure_threshold integer not null default 3 check (failure_threshold between 1 and 100),
    success_threshold integer not null default 2 check (success_threshold between 1 and 100),
    paused            boolean not null default false,
    next_run_at       timestamptz not null default now(),
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);
create index targets_owner_name_idx on targets (owner_id, name, id);
create index targets_due_idx on targets (next_run_at) where not paused;
create index targets_tags_idx on targets using gin (tags);

-- The incident engine's view of each target; `version` increases with every change.
create table target_state (
    target_id             uuid primary key references targets (id) on delete cascade,
    status                text not null default 'unknown'
        check (status in ('unknown', 'up', 'pending', 'degraded', 'down', 'flapping', 'paused')),
    since                 timestamptz not null default now(),
    last_checked_at       timestamptz,
    last_result_id        uuid,
    last_latency_ms       integer,
    last_failure          jsonb,
    consecutive_failures  integer not null default 0,
    consecutive_successes integer not null default 0,
    region_states         jsonb not null default '{}',
    transitions           jsonb not null default '[]',
    version               bigint not null default 0,
    updated_at            timestamptz not null default now()
);
create index target_state_status_idx on target_state (status);

-- Incidents -----------------------------------------------------------------------------------

create table incidents (
    id              uuid primary key,
    target_id       uuid not null references targets (id) on delete cascade,
    owner_id        uuid not null references users (id) on delete cascade,
    severity        text not null default 'down' check (severity in ('down', 'degraded')),
    opened_at       timestamptz not null,
    resolved_at     timestamptz,
    regions         text[] not null default '{}',
    failure_kind    text,
    evidence        jsonb not null default '{}',
    acknowledged_at timestamptz,
    acknowledged_by uuid references users (id) on delete set null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    check (resolved_at is null or resolved_at >= opened_at)
);
-- At most one open incident per target.
create unique index incidents_one_open_per_target on incidents (target_id) where resolved_at is null;
create index incidents_owner_idx on incidents (owner_id, opened_at desc);
create index incidents_target_idx on incidents (target_id, opened_at desc);

-- One report per incident and event kind (opened, resolved, ...).
create table incident_reports (
    id          uuid primary key,
    incident_id uuid not null references incidents (id) on delete cascade,
    event_kind  text not null,
    language    text not null,
    source      text not null,
    report      jsonb not null,
    created_at  timestamptz not null default now(),
    unique (incident_id, event_kind)
);

-- Results the incident engine has already applied (idempotency ledger).
create table processed_results (
    result_id    uuid primary key,
    processed_at timestamptz not null default now()
);
create index processed_results_age_idx on processed_results (processed_at);

-- Notifications -------------------------------------------------------------------------------

create table notification_channels (
    id                      uuid primary key,
    user_id                 uuid not null references users (id) on delete cascade,
    kind                    text not null check (kind in ('telegram', 'email')),
    address                 text not null,
    label                   text,
    verified_at             timestamptz,
    verification_token_hash bytea,
    verification_expires_at timestamptz,
    unsubscribe_token_hash  bytea,
    disabled_at             timestamptz,
    disabled_reason         text,
    muted_until             timestamptz,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    unique (user_id, kind, address)
);

-- Per-target routing: when a target has rows here, only these channels get its alerts.
create table target_channels (
    target_id  uuid not null references targets (id) on delete cascade,
    channel_id uuid not null references notification_channels (id) on delete cascade,
    primary key (target_id, channel_id)
);

create table telegram_link_tokens (
    token_hash bytea primary key,
    user_id    uuid not null references users (id) on delete cascade,
    expires_at timestamptz not null,
    used_at    timestamptz,
    created_at timestamptz not null default now()
);

-- Exactly one notification per (incident, channel, kind). `incident_id` has no foreign key:
-- operator events (probe_degraded) have no incident row.
create table notification_log (
    id          uuid primary key,
    incident_id uuid not null,
    channel_id  uuid not null references notification_channels (id) on delete cascade,
    kind        text not null,
    status      text not null check (status in ('sending', 'sent', 'failed')),
    external_id text,
    attempts    integer not null default 0,
    last_error  text,
    created_at  timestamptz not null default now(),
    sent_at     timestamptz,
    unique (incident_id, channel_id, kind)
);

-- Maintenance and status pages ----------------------------------------------------------------

create table maintenance_windows (
    id               uuid primary key,
    owner_id         uuid not null references users (id) on delete cascade,
    name             text not null,
    target_id        uuid references targets (id) on delete cascade,
    tag              text,
    starts_at        timestamptz not null,
    ends_at          timestamptz not null,
    -- null: one-off; 'daily' or 'weekly': repeats from starts_at with the same length.
    recurrence       text check (recurrence in ('daily', 'weekly')),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    check (ends_at > starts_at),
    check (target_id is not null or tag is not null)
);
create index maintenance_owner_idx on maintenance_windows (owner_id);

create table status_pages (
    id          uuid primary key,
    owner_id    uuid not null references users (id) on delete cascade,
    slug        text not null unique check (slug ~ '^[a-z0-9](?:[a-z0-9-]{1,62}[a-z0-9])$'),
    title       text not null,
    description text,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table status_page_targets (
    status_page_id uuid not null references status_pages (id) on delete cascade,
    target_id      uuid not null references targets (id) on delete cascade,
    position       integer not null default 0,
    display_name   text,
    primary key (status_page_id, target_id)
);

-- Archive -------------------------------------------------------------------------------------

-- Check results older than the ClickHouse retention, partitioned by month. No foreign key to
-- targets: history is removed together with its target by the application.
create table archived_results (
    result_id       uuid not null,
    target_id       uuid not null,
    job_id          uuid not null,
    region          text not null,
    pinger_id       text not null,
    check_kind      text not null,
    checked_at      timestamptz not null,
    finished_at     timestamptz not null,
    duration_ms     integer not null,
    outcome         text not null check (outcome in ('up', 'degraded', 'down')),
    failure_kind    text,
    failure_phase   text,
    failure_message text,
    status_code     integer,
    dns_ms          real,
    connect_ms      real,
    tls_ms          real,
    ttfb_ms         real,
    transfer_ms     real,
    resolved_ip     text,
    tls_days_left   integer,
    probe_degraded  boolean not null default false,
    detail          jsonb not null,
    primary key (checked_at, result_id)
) partition by range (checked_at);
create index archived_results_target_idx on archived_results (target_id, checked_at desc);

-- Creates (if needed) the month partition holding `day` and returns its name.
create function ensure_archive_partition(day date) returns text
language plpgsql as $$
declare
    month_start date := date_trunc('month', day)::date;
    part        text := format('archived_results_%s', to_char(month_start, 'YYYY_MM'));
begin
    execute format(
        'create table if not exists %I partition of archived_results for values from (%L) to (%L)',
        part,
        format('%s 00:00:00+00', month_start),
        format('%s 00:00:00+00', (month_start + interval '1 month')::date));
    return part;
end;
$$;

-- Hourly and daily summaries per target, for fast long-range reads of archived days.
create table result_rollups (
    target_id        uuid not null,
    granularity      text not null check (granularity in ('hour', 'day')),
    bucket           timestamptz not null,
    checks           integer not null,
    failures         integer not null,
    degraded         integer not null,
    downtime_seconds double precision not null default 0,
    latency_avg_ms   double precision,
    latency_p50_ms   double precision,
    latency_p95_ms   double precision,
    latency_p99_ms   double precision,
    latency_max_ms   double precision,
    primary key (target_id, granularity, bucket)
);

-- The archiver's ledger: one row per day moved from ClickHouse to PostgreSQL.
create table archive_batches (
    day         date primary key,
    state       text not null check (state in ('copying', 'copied', 'verified', 'dropped', 'done')),
    ch_rows     bigint,
    pg_rows     bigint,
    ch_checksum text,
    pg_checksum text,
    attempts    integer not null default 0,
    last_error  text,
    started_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    finished_at timestamptz
);
