-- The incident engine, the incident timeline and notes, certificate warnings, probe health,
-- the event outbox, status page groups and badge tokens (issue 6).

-- What happened to an incident, in order (opened, flapping, resolved, acknowledged, ...).
create table incident_timeline (
    id          bigserial primary key,
    incident_id uuid not null references incidents (id) on delete cascade,
    at          timestamptz not null,
    kind        text not null,
    message     text not null,
    created_at  timestamptz not null default now()
);
create index incident_timeline_incident_idx on incident_timeline (incident_id, at, id);

-- Notes people add to an incident.
create table incident_notes (
    id          uuid primary key,
    incident_id uuid not null references incidents (id) on delete cascade,
    author_id   uuid references users (id) on delete set null,
    text        text not null check (length(text) between 1 and 10000),
    created_at  timestamptz not null default now()
);
create index incident_notes_incident_idx on incident_notes (incident_id, created_at);

-- One certificate warning per target, certificate and threshold.
create table cert_warnings (
    target_id      uuid not null references targets (id) on delete cascade,
    fingerprint    text not null,
    threshold_days integer not null,
    warned_at      timestamptz not null default now(),
    primary key (target_id, fingerprint, threshold_days)
);

-- Pingers whose own connectivity canaries fail; one probe_degraded event per episode.
create table probe_health (
    pinger_id   text primary key,
    region      text not null,
    degraded    boolean not null,
    incident_id uuid,
    since       timestamptz not null,
    updated_at  timestamptz not null default now()
);

-- Incident events written in the same transaction as their cause and published after it
-- commits (deleted once the broker confirmed): no event is lost between commit and publish.
create table incident_outbox (
    id         uuid primary key,
    seq        bigserial not null,
    envelope   jsonb not null,
    created_at timestamptz not null default now()
);
create index incident_outbox_seq_idx on incident_outbox (seq);

-- The incident engine's machine state per target (regions, flapping) and its evidence
-- (recent failing results, last good result).
alter table target_state add column machine jsonb not null default '{}';
alter table target_state add column recent_results jsonb not null default '[]';
alter table target_state add column last_good jsonb;

-- Status page grouping.
alter table status_page_targets add column group_name text;

-- Badge tokens: unguessable, stored as SHA-256, one per target at a time.
create table badge_tokens (
    token_hash bytea primary key,
    target_id  uuid not null unique references targets (id) on delete cascade,
    created_at timestamptz not null default now()
);
