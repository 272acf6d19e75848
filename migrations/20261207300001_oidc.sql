-- Single sign-on with OpenID Connect: accounts without a password, the provider identities
-- linked to accounts, and the sign-ins in progress.

-- An account made by single sign-on has no password; password sign-in refuses it.
alter table users alter column password_hash drop not null;
-- The organisation role the provider's claim mapped to at the account's last single sign-on
-- (PINGTOWER_OIDC_ROLE_CLAIM through PINGTOWER_OIDC_ROLE_MAP); null: none.
alter table users add column oidc_role text
    check (oidc_role in ('viewer', 'editor', 'admin', 'owner'));

-- A provider identity (issuer, subject) and the account it signs in to. Later sign-ins match
-- by subject first, whatever email the provider reports then. One identity per account and
-- issuer.
create table oidc_identities (
    issuer        text not null check (length(issuer) between 1 and 2048),
    subject       text not null check (length(subject) between 1 and 255),
    user_id       uuid not null references users (id) on delete cascade,
    -- The email the provider reported at the last sign-in (for the operator; never matched).
    email         text check (length(email) <= 254),
    created_at    timestamptz not null default now(),
    last_login_at timestamptz not null default now(),
    primary key (issuer, subject)
);
create unique index oidc_identities_user_issuer_key on oidc_identities (user_id, issuer);

-- A sign-in between `GET /api/auth/oidc/login` and its callback: keyed by the SHA-256 of its
-- `state`, consumed (deleted) by the first callback that names it. `browser_hash` is the
-- SHA-256 of the PKCE verifier, which only the browser that started the sign-in holds (in a
-- cookie); the nonce is not secret.
create table oidc_logins (
    state_hash   bytea primary key,
    browser_hash bytea not null,
    nonce        text not null check (length(nonce) <= 256),
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null
);
create index oidc_logins_expires_idx on oidc_logins (expires_at);
