-- Issue 24: organisations. Every resource belongs to an organisation; users are its members
-- with a role. Each user's personal organisation has the user's id, so the existing `owner_id`
-- columns keep their values: they now name the owning organisation.

create table organisations (
    id                  uuid primary key,
    name                text not null check (length(name) between 1 and 100),
    -- A user's own organisation, made at registration: never deleted apart from its user,
    -- never shared (teams are separate organisations).
    personal            boolean not null default false,
    -- Reports and alerts of the organisation's incidents are written in this language.
    language            text not null default 'en' check (language in ('en', 'ru')),
    -- Quotas and the private-targets permission moved here from `users` (tenant safety).
    may_private_targets boolean not null default false,
    quota_overrides     jsonb not null default '{}'::jsonb check (jsonb_typeof(quota_overrides) = 'object'),
    -- Members must have two-factor sign-in to reach the organisation.
    require_2fa         boolean not null default false,
    -- The key of slug ping URLs (`/ping/{ping_key}/{slug}`), made with the first heartbeat.
    ping_key            text unique check (length(ping_key) = 22),
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now()
);

create table memberships (
    org_id     uuid not null references organisations (id) on delete cascade,
    user_id    uuid not null references users (id) on delete cascade,
    role       text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
    created_at timestamptz not null default now(),
    primary key (org_id, user_id)
);
create index memberships_user_idx on memberships (user_id);
-- Exactly one owner per organisation.
create unique index memberships_one_owner on memberships (org_id) where role = 'owner';

-- Single-use invitation links (stored as SHA-256), valid 7 days.
create table invitations (
    id          uuid primary key,
    org_id      uuid not null references organisations (id) on delete cascade,
    email       text not null check (email = lower(email) and length(email) between 3 and 254),
    role        text not null check (role in ('admin', 'editor', 'viewer')),
    token_hash  bytea not null unique,
    invited_by  uuid references users (id) on delete set null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    accepted_at timestamptz,
    accepted_by uuid references users (id) on delete set null,
    revoked_at  timestamptz
);
create index invitations_org_idx on invitations (org_id, created_at desc);

-- Every user's personal organisation, with the user's id, quotas, permission and ping key.
insert into organisations (id, name, personal, language, may_private_targets, quota_overrides, ping_key, created_at)
    select id, 'Personal', true, language, may_private_targets, quota_overrides, ping_key, created_at from users;
insert into memberships (org_id, user_id, role, created_at)
    select id, id, 'owner', created_at from users;

-- The owning columns now reference organisations.
alter table targets drop constraint targets_owner_id_fkey,
    add constraint targets_owner_id_fkey foreign key (owner_id) references organisations (id) on delete cascade;
alter table incidents drop constraint incidents_owner_id_fkey,
    add constraint incidents_owner_id_fkey foreign key (owner_id) references organisations (id) on delete cascade;
alter table maintenance_windows drop constraint maintenance_windows_owner_id_fkey,
    add constraint maintenance_windows_owner_id_fkey foreign key (owner_id) references organisations (id) on delete cascade;
alter table status_pages drop constraint status_pages_owner_id_fkey,
    add constraint status_pages_owner_id_fkey foreign key (owner_id) references organisations (id) on delete cascade;
alter table escalation_policies drop constraint escalation_policies_owner_id_fkey,
    add constraint escalation_policies_owner_id_fkey foreign key (owner_id) references organisations (id) on delete cascade;
alter table heartbeats drop constraint heartbeats_owner_id_fkey,
    add constraint heartbeats_owner_id_fkey foreign key (owner_id) references organisations (id) on delete cascade;

-- Channels belong to an organisation; `user_id` stays the person who made (and, for Telegram
-- and email, is reached by) the channel.
alter table notification_channels add column owner_id uuid references organisations (id) on delete cascade;
update notification_channels set owner_id = user_id;
alter table notification_channels alter column owner_id set not null;
create index notification_channels_owner_idx on notification_channels (owner_id);

-- API tokens belong to an organisation and carry a role no higher than their creator's.
alter table api_tokens add column owner_id uuid references organisations (id) on delete cascade;
alter table api_tokens add column role text check (role in ('owner', 'admin', 'editor', 'viewer'));
update api_tokens set owner_id = user_id, role = case when scope = 'write' then 'admin' else 'viewer' end;
alter table api_tokens alter column owner_id set not null, alter column role set not null;

-- The organisation a browser session works in (switched in the dashboard).
alter table sessions add column org_id uuid references organisations (id) on delete set null;

-- Moved to organisations.
alter table users drop column ping_key;
drop trigger users_notify_permission on users;
drop function pingtower_notify_owner_change();
alter table users drop column may_private_targets, drop column quota_overrides;

-- The scheduler learns of a changed permission (every job carries its organisation's): the
-- payload `owner:<id>` reloads that organisation's targets. An installation admin owning an
-- organisation lends it the permission, so a change of `is_admin` reloads theirs.
create function pingtower_notify_org_change() returns trigger
language plpgsql as $$
begin
    if new.may_private_targets is distinct from old.may_private_targets then
        perform pg_notify('pingtower_targets', 'owner:' || new.id::text);
    end if;
    return new;
end;
$$;
create trigger organisations_notify_permission
    after update of may_private_targets on organisations
    for each row execute function pingtower_notify_org_change();

create function pingtower_notify_admin_change() returns trigger
language plpgsql as $$
declare
    org uuid;
begin
    if new.is_admin is distinct from old.is_admin then
        for org in select org_id from memberships where user_id = new.id and role = 'owner' loop
            perform pg_notify('pingtower_targets', 'owner:' || org::text);
        end loop;
    end if;
    return new;
end;
$$;
create trigger users_notify_admin
    after update of is_admin on users
    for each row execute function pingtower_notify_admin_change();

-- A change of owner changes whether an admin lends the permission.
create function pingtower_notify_owner_role() returns trigger
language plpgsql as $$
begin
    perform pg_notify('pingtower_targets', 'owner:' || coalesce(new.org_id, old.org_id)::text);
    return null;
end;
$$;
create trigger memberships_notify_owner
    after insert or update of role or delete on memberships
    for each row execute function pingtower_notify_owner_role();

-- The audit log: who did what to which resource, when and from where, with the changed fields'
-- names (never secrets' values). Kept `PINGTOWER_AUDIT_RETENTION_DAYS`.
create table audit_log (
    id          bigint generated always as identity primary key,
    org_id      uuid not null references organisations (id) on delete cascade,
    user_id     uuid references users (id) on delete set null,
    actor_email text not null,
    token_id    uuid,
    action      text not null,
    resource    text not null,
    resource_id text,
    status      smallint not null,
    client_ip   text,
    fields      jsonb not null default '{}'::jsonb,
    at          timestamptz not null default now()
);
create index audit_log_org_idx on audit_log (org_id, at desc);
create index audit_log_at_idx on audit_log (at);

-- A channel made without an organisation (the notifier's Telegram link, which knows only the
-- person) lands in that person's personal organisation.
create function pingtower_channel_owner() returns trigger
language plpgsql as $$
begin
    new.owner_id := coalesce(new.owner_id, new.user_id);
    return new;
end;
$$;
create trigger notification_channels_owner
    before insert on notification_channels
    for each row execute function pingtower_channel_owner();

-- Whether an organisation may monitor private addresses (effective only when the installation
-- allows private targets): granted by an installation admin, or lent by an admin owner.
create function pingtower_may_private(org uuid) returns boolean
language sql stable as $$
    select coalesce((select o.may_private_targets from organisations o where o.id = org), false)
        or exists (select 1 from memberships m join users u on u.id = m.user_id
                   where m.org_id = org and m.role = 'owner' and u.is_admin)
$$;

-- Every user has their personal organisation, with their id, from the moment they exist
-- (registration, single sign-on, or a row written by hand).
create function pingtower_personal_organisation() returns trigger
language plpgsql as $$
begin
    insert into organisations (id, name, personal, language) values (new.id, 'Personal', true, new.language)
        on conflict (id) do nothing;
    insert into memberships (org_id, user_id, role) values (new.id, new.id, 'owner')
        on conflict do nothing;
    return new;
end;
$$;
create trigger users_personal_organisation
    after insert on users
    for each row execute function pingtower_personal_organisation();
