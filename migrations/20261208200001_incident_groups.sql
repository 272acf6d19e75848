-- Cause correlation (backend/src/incidents/correlate.rs): incidents of one organisation that
-- open close together and share a cause signal are members of one group incident. Each member
-- keeps its own incident, timeline and uptime; the group resolves with its last member.
create table incident_groups (
    id          uuid primary key,
    owner_id    uuid not null references organisations (id) on delete cascade,
    -- The shared signal, e.g. `ip:203.0.113.7:connect_refused` (see correlate::signals).
    cause       text not null check (length(cause) between 1 and 300),
    -- What the members have in common, in words.
    summary     text not null check (length(summary) between 1 and 300),
    members     integer not null default 0 check (members >= 0),
    opened_at   timestamptz not null,
    resolved_at timestamptz,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
-- One open group per cause and organisation.
create unique index incident_groups_open_cause on incident_groups (owner_id, cause) where resolved_at is null;
create index incident_groups_owner_idx on incident_groups (owner_id, opened_at desc, id desc);

alter table incidents
    add column group_id uuid references incident_groups (id) on delete set null,
    -- The incident's cause signals when it opened, most specific first (at most five).
    add column signals text[] not null default '{}' check (cardinality(signals) <= 5);
create index incidents_group_idx on incidents (group_id) where group_id is not null;
create index incidents_open_owner_idx on incidents (owner_id, opened_at) where resolved_at is null;
