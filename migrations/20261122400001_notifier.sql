-- The notifier's own state: per-chat language, per-channel target mutes and the secret from
-- which per-channel unsubscribe tokens are derived.

-- Language a Telegram chat chose with /lang (null: the user's language).
alter table notification_channels
    add column language text check (language in ('en', 'ru'));

-- A channel does not get alerts of one target until `muted_until` (/mute, "Mute 1 h").
create table notification_mutes (
    channel_id  uuid not null references notification_channels (id) on delete cascade,
    target_id   uuid not null references targets (id) on delete cascade,
    muted_until timestamptz not null,
    created_at  timestamptz not null default now(),
    primary key (channel_id, target_id)
);

-- Installation secrets the notifier generates once (e.g. the unsubscribe-token key).
create table notifier_secrets (
    name       text primary key,
    value      bytea not null,
    created_at timestamptz not null default now()
);

-- What a notification said (Telegram: the HTML text, so that the report can be added to it by
-- an edit; email: the subject, so that the follow-up answers it).
alter table notification_log
    add column content text;
