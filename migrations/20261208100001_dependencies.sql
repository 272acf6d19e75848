-- Explicit dependencies: a target, or every target carrying a tag, depends on other targets of
-- its organisation. While a dependency's incident is open, a dependant's new incident is linked
-- to it (`incidents.caused_by`) and held: stored and shown, not notified. When the cause
-- resolves and the dependant is still down, it is notified then, once. The API keeps the graph
-- acyclic and within one organisation.

-- Target → target.
create table target_dependencies (
    target_id  uuid not null references targets (id) on delete cascade,
    depends_on uuid not null references targets (id) on delete cascade,
    -- The order the user gave.
    position   integer not null default 0,
    created_at timestamptz not null default now(),
    primary key (target_id, depends_on),
    check (target_id <> depends_on)
);
create index target_dependencies_depends_on_idx on target_dependencies (depends_on);

-- Tag → target: every target of the organisation carrying `tag` depends on `depends_on`.
create table tag_dependencies (
    owner_id   uuid not null references organisations (id) on delete cascade,
    tag        text not null check (length(tag) between 1 and 64),
    depends_on uuid not null references targets (id) on delete cascade,
    position   integer not null default 0,
    created_at timestamptz not null default now(),
    primary key (owner_id, tag, depends_on)
);
create index tag_dependencies_depends_on_idx on tag_dependencies (depends_on);

-- The incident that explains this one (a dependency's, open when this one opened or went
-- down with it). Kept for display after both resolve; a later correlation of incidents may
-- link them the same way.
alter table incidents add column caused_by uuid references incidents (id) on delete set null;
create index incidents_caused_by_idx on incidents (caused_by) where caused_by is not null;

-- Whether the owner was told of the incident:
--   notified  when it opened (every incident before this migration);
--   held      not yet: it waits for its cause (`caused_by`) to resolve;
--   released  its cause resolved while it stayed open: notified then, once;
--   silent    it resolved while held: nothing about it is ever sent.
alter table incidents add column notify_state text not null default 'notified'
    check (notify_state in ('notified', 'held', 'released', 'silent'));
alter table incidents add column released_at timestamptz;
create index incidents_held_idx on incidents (caused_by) where notify_state = 'held';
