-- Channels of every kind (crates/channels): webhook, Slack, Mattermost, Discord, Teams, Google
-- Chat, ntfy, Gotify, Pushover, PagerDuty, Opsgenie and Matrix beside Telegram and email.

alter table notification_channels drop constraint notification_channels_kind_check;
alter table notification_channels add constraint notification_channels_kind_check check (kind in (
    'telegram', 'email', 'webhook', 'slack', 'mattermost', 'discord', 'teams', 'google_chat',
    'ntfy', 'gotify', 'pushover', 'pagerduty', 'opsgenie', 'matrix'));

alter table notification_channels
    -- The kind's settings, validated by its module (never a secret).
    add column settings           jsonb not null default '{}'::jsonb,
    -- nonce ‖ ChaCha20-Poly1305 ciphertext of the secrets' JSON map under PINGTOWER_SECRET_KEY
    -- (common::sealed); opened only by the notifier.
    add column secrets            bytea,
    -- Which secrets are set (the API says so, never their values).
    add column secret_names       text[] not null default '{}',
    -- Routing rules (channels::routing::Routing): event kinds, minimum severity, tags, quiet hours.
    add column routing            jsonb not null default '{}'::jsonb,
    -- Permanent failures in a row; at channels::routing::DISABLE_AFTER the channel is disabled.
    add column permanent_failures integer not null default 0,
    add column last_error         text,
    add column last_error_at      timestamptz;

-- A Telegram chat or a mailbox is one channel per user; the address of the other kinds is only
-- what the dashboard shows (the URL itself is a secret), and two may share it.
alter table notification_channels drop constraint notification_channels_user_id_kind_address_key;
create unique index notification_channels_chat_or_mailbox
    on notification_channels (user_id, kind, address) where kind in ('telegram', 'email');
