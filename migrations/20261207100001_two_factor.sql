-- Two-factor sign-in (backend::twofactor): a user's TOTP secret (RFC 6238), the recovery codes
-- that stand in for it, and the short-lived challenges between a password and a code.

-- One row per user who started enrolment. The secret is sealed (nonce ‖ ChaCha20-Poly1305
-- under PINGTOWER_SECRET_KEY, common::sealed); the row is pending until a first correct code
-- sets `enabled_at`.
create table user_totp (
    user_id    uuid primary key references users (id) on delete cascade,
    secret     bytea not null,
    enabled_at timestamptz,
    -- The last time step (Unix seconds / 30) a code was accepted for: a code of this step or
    -- an earlier one is refused, so a code works once (RFC 6238 §5.2).
    last_step  bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Recovery codes: SHA-256 of each (80 random bits), each good for one sign-in.
create table user_recovery_codes (
    id         uuid primary key,
    user_id    uuid not null references users (id) on delete cascade,
    code_hash  bytea not null,
    used_at    timestamptz,
    created_at timestamptz not null default now(),
    unique (user_id, code_hash)
);

-- A password accepted for an account with two-factor sign-in: the challenge the second step
-- presents (SHA-256 of a random token), valid 5 minutes, used once, for a few attempts.
create table login_challenges (
    id         uuid primary key,
    user_id    uuid not null references users (id) on delete cascade,
    token_hash bytea not null unique,
    -- Codes tried with it, counted before each is checked.
    attempts   integer not null default 0,
    expires_at timestamptz not null,
    used_at    timestamptz,
    created_at timestamptz not null default now()
);
create index login_challenges_expires_idx on login_challenges (expires_at);
create index login_challenges_user_idx on login_challenges (user_id);
