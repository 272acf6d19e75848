-- The mass-outage digest: opened and resolved events wait here for their owner's window; the
-- notifier then sends one message per channel listing them (or the single event as usual).
create table notification_pending (
    incident_id uuid not null,
    kind        text not null check (kind in ('opened', 'resolved')),
    owner_id    uuid not null,
    -- The IncidentEvent as published.
    event       jsonb not null,
    occurred_at timestamptz not null,
    received_at timestamptz not null default now(),
    primary key (incident_id, kind)
);
create index notification_pending_owner on notification_pending (owner_id, kind, received_at);
