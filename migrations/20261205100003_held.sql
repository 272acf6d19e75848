-- Messages a channel's quiet hours hold (everything but "down"): sent when the hours end.
create table notification_held (
    incident_id uuid not null,
    channel_id  uuid not null references notification_channels (id) on delete cascade,
    -- The notification log's kind (`resolved`, `cert_expiring`, `report:opened`…).
    kind        text not null,
    due_at      timestamptz not null,
    -- The IncidentEvent or IncidentReport as published.
    message     jsonb not null,
    occurred_at timestamptz not null,
    primary key (incident_id, channel_id, kind)
);
create index notification_held_due on notification_held (due_at);
