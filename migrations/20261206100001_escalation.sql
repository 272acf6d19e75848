-- Escalation policies: ordered steps ("Telegram now, PagerDuty after 10 min unacknowledged,
-- the team's Slack after 30 min") and reminders while an incident stays open and
-- unacknowledged; attached to targets (escalation_policy_targets) or to tags.
create table escalation_policies (
    id               uuid primary key,
    owner_id         uuid not null references users (id) on delete cascade,
    name             text not null check (length(name) between 1 and 100),
    -- [{"after_minutes": 0, "channel_ids": ["…"]}, …]: 1 to 10 steps, minutes increasing.
    steps            jsonb not null check (jsonb_typeof(steps) = 'array'),
    -- Reminders every N minutes to the channels reached so far (null: none).
    reminder_minutes integer check (reminder_minutes between 5 and 1440),
    tags             text[] not null default '{}',
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index escalation_policies_owner_idx on escalation_policies (owner_id, created_at);

create table escalation_policy_targets (
    policy_id uuid not null references escalation_policies (id) on delete cascade,
    target_id uuid not null references targets (id) on delete cascade,
    primary key (policy_id, target_id)
);
create index escalation_policy_targets_target_idx on escalation_policy_targets (target_id);

-- One policy running for one incident. The steps are the policy's when the incident opened:
-- editing a policy does not change runs under way; deleting it stops them.
create table escalation_runs (
    incident_id      uuid not null references incidents (id) on delete cascade,
    policy_id        uuid not null references escalation_policies (id) on delete cascade,
    policy_name      text not null,
    steps            jsonb not null,
    reminder_minutes integer,
    started_at       timestamptz not null,
    -- The incident's opened event (common::messages::IncidentEvent): what steps say.
    event            jsonb not null,
    -- The next step to send and when (null: every step is sent).
    next_step        integer not null default 0,
    step_due_at      timestamptz,
    reminders_sent   integer not null default 0,
    reminder_due_at  timestamptz,
    -- Acknowledged, resolved, or the policy emptied: nothing more is sent.
    stopped_at       timestamptz,
    stopped_reason   text,
    primary key (incident_id, policy_id)
);
create index escalation_runs_step_due_idx on escalation_runs (step_due_at) where stopped_at is null;
create index escalation_runs_reminder_due_idx on escalation_runs (reminder_due_at) where stopped_at is null;
