-- Heartbeat targets (`kind: heartbeat`, common::messages::HeartbeatSpec): the monitored job
-- pings `/ping/{token}`; the scheduler's leader watches the deadlines.

alter table targets drop constraint targets_kind_check;
alter table targets add constraint targets_kind_check
    check (kind in ('http', 'tcp', 'dns', 'tls', 'icmp', 'heartbeat'));

-- The key of an owner's slug ping URLs (`/ping/{ping_key}/{slug}`), made with their first
-- heartbeat: 22 URL-safe characters (128 bits).
alter table users add column ping_key text unique check (length(ping_key) = 22);

-- One row per heartbeat target: its ping token, slug and where its schedule stands.
create table heartbeats (
    target_id        uuid primary key references targets (id) on delete cascade,
    owner_id         uuid not null references users (id) on delete cascade,
    -- 128 random bits as a hyphenated hex string (the shape of Healthchecks' UUIDs).
    token            text not null unique check (length(token) = 36),
    slug             text check (slug ~ '^[a-z0-9][a-z0-9_-]{0,99}$'),
    -- The last ping of any kind but `log`, the last success, an open run's start.
    last_ping_at     timestamptz,
    last_success_at  timestamptz,
    started_at       timestamptz,
    -- The last finished run's duration (a start then a success or failure).
    last_duration_ms bigint,
    -- The next expected ping (none before the first ping) and when silence becomes a failure:
    -- the earlier of expected_at + grace and started_at + grace.
    expected_at      timestamptz,
    alert_at         timestamptz,
    pings            bigint not null default 0,
    unique (owner_id, slug)
);
create index heartbeats_alert_idx on heartbeats (alert_at) where alert_at is not null;

-- The last pings of each heartbeat (about 100 kept), with their bodies.
create table heartbeat_pings (
    id           bigint generated always as identity primary key,
    target_id    uuid not null references targets (id) on delete cascade,
    received_at  timestamptz not null,
    event        text not null check (event in ('success', 'start', 'fail', 'exit_status', 'log')),
    exit_status  smallint check (exit_status between 0 and 255),
    method       text not null check (method in ('GET', 'HEAD', 'POST')),
    client_ip    text not null check (length(client_ip) <= 64),
    user_agent   text check (length(user_agent) <= 200),
    -- Up to 10 KiB of a POST body.
    body         text check (octet_length(body) <= 10240),
    -- A finish after a start: the run's duration.
    duration_ms  bigint,
    -- The result this ping became (none for start and log).
    result_id    uuid
);
create index heartbeat_pings_target_idx on heartbeat_pings (target_id, id desc);
