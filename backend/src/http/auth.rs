//! Who is calling: the [`CurrentUser`] extractor (session cookie or bearer API token) and the
//! secrets behind both (random, shown once, stored as SHA-256).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::{self, Action, Role};
use crate::error::ApiError;
use crate::http::audit;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "pt_session";
/// Prefix of every API token.
pub const TOKEN_PREFIX: &str = "pt_";

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// GET (and HEAD) only.
    Read,
    /// Everything the user may do.
    Write,
}

impl Scope {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A browser session.
    Session {
        /// The session's row id.
        session_id: Uuid,
    },
    /// An API token.
    Token {
        /// The token's row id.
        token_id: Uuid,
        /// What it may do.
        scope: Scope,
    },
}

/// The authenticated caller. Extracting it answers 401 without valid credentials and 403 when a
/// read-scoped token attempts a write (any method but GET/HEAD).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// User id (their own account, sessions and tokens); the id of their personal organisation.
    pub id: Uuid,
    /// The organisation the caller works in (a session's current one, a token's own). Handlers
    /// scope by the value [`CurrentUser::may`] returns, never by this field directly.
    org: Uuid,
    /// Their role there (a token's: no higher than its creator's, checked on every request).
    pub role: Role,
    /// The organisation requires two-factor sign-in and this session's user has none: every
    /// action there is refused until they enrol (their account's routes still answer).
    lacks_2fa: bool,
    /// Normalised email.
    pub email: String,
    /// The installation's admin.
    pub is_admin: bool,
    /// Preferred language (`en`, `ru`).
    pub language: String,
    /// How they authenticated.
    pub auth: AuthMethod,
}

impl CurrentUser {
    /// The current session id, when authenticated by cookie.
    pub fn session_id(&self) -> Option<Uuid> {
        match self.auth {
            AuthMethod::Session { session_id } => Some(session_id),
            AuthMethod::Token { .. } => None,
        }
    }

    /// Whether the caller may do `action` in their current organisation: the organisation's id
    /// to scope every query with, or 403. The one question every handler asks ([`access`]).
    pub fn may(&self, action: Action) -> Result<Uuid, ApiError> {
        if self.lacks_2fa {
            return Err(ApiError::forbidden(
                "this organisation requires two-factor sign-in: enable it for your account first",
            ));
        }
        access::allow(self.role, action)?;
        Ok(self.org)
    }

    /// The organisation the caller works in, for answers that name it (not for scoping).
    pub fn current_org(&self) -> Uuid {
        self.org
    }

    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only the admin may do this"))
        }
    }
}

/// A fresh random secret: 32 bytes, URL-safe base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random secret of 128 bits (link tokens).
pub fn new_short_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_in(&parts.headers, name)
}

/// The value of cookie `name` in `headers`.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The bearer token of the `Authorization` header, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// The bearer token of the `Authorization` header in `headers`, if any.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The app's state and the signed-in caller: the first two extractors of an authenticated
/// handler, in one (`Caller { state, user }: Caller`).
pub struct Caller {
    /// The app's state.
    pub state: AppState,
    /// Who is calling (401 when no one is signed in).
    pub user: CurrentUser,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            state: state.clone(),
            user: CurrentUser::from_request_parts(parts, state).await?,
        })
    }
}

/// The user behind a token or a session, with the organisation they work in (the CTE's columns
/// are named, their nullability is stated: PostgreSQL does not tell it through `with`).
struct Row {
    id: Uuid,
    email: String,
    is_admin: bool,
    language: String,
    auth_id: Uuid,
    scope: Option<String>,
    org: Uuid,
    role: String,
    token_role: Option<String>,
    lacks_2fa: bool,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, state).await?;
        // The audit layer records who made this request.
        if let Some(slot) = parts.extensions.get::<audit::Slot>() {
            let _ = slot.0.set(audit::Actor {
                user: user.id,
                email: user.email.clone(),
                org: user.org,
                token: match user.auth {
                    AuthMethod::Token { token_id, .. } => Some(token_id),
                    AuthMethod::Session { .. } => None,
                },
            });
        }
        Ok(user)
    }
}

/// The caller behind the request's token or session cookie.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
    if let Some(token) = bearer(parts) {
        // A token acts in its organisation while its creator is a member there, with the
        // lower of its role and theirs: a removed member's tokens stop on the next request.
        let row: Option<Row> = sqlx::query_as!(
            Row,
            r#"with hit as (select u.id, u.email, u.is_admin, u.language, t.id as auth_id, t.scope,
                      t.owner_id as org, m.role, t.role as token_role
               from api_tokens t join users u on u.id = t.user_id
               join memberships m on m.org_id = t.owner_id and m.user_id = t.user_id
               where t.token_hash = $1 and t.revoked_at is null
               and (t.expires_at is null or t.expires_at > now())),
             touch as (update api_tokens set last_used_at = now()
               where id = (select auth_id from hit)
               and (last_used_at is null or last_used_at < now() - interval '10 seconds'))
             select id as "id!", email as "email!", is_admin as "is_admin!", language as "language!",
                    auth_id as "auth_id!", scope as "scope?", org as "org!", role as "role!",
                    token_role as "token_role?", false as "lacks_2fa!" from hit"#,
            hash_secret(token),
        )
        .fetch_optional(&state.pool)
        .await?;
        let row = row.ok_or_else(|| ApiError::unauthorized_because("invalid, revoked or expired API token"))?;
        let scope = if row.scope.as_deref() == Some("write") {
            Scope::Write
        } else {
            Scope::Read
        };
        if scope == Scope::Read && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(ApiError::forbidden("this API token is read-only"));
        }
        let role = Role::parse(&row.role).min(Role::parse(row.token_role.as_deref().unwrap_or("viewer")));
        return Ok(CurrentUser {
            id: row.id,
            email: row.email,
            is_admin: row.is_admin,
            language: row.language,
            org: row.org,
            role,
            lacks_2fa: false,
            auth: AuthMethod::Token {
                token_id: row.auth_id,
                scope,
            },
        });
    }
    let Some(session) = cookie(parts, SESSION_COOKIE) else {
        return Err(ApiError::unauthorized());
    };
    // The session's organisation while the user is a member there, else their personal one
    // (whose membership they always have).
    let row: Option<Row> = sqlx::query_as!(
        Row,
        r#"with hit as (select u.id, u.email, u.is_admin, u.language, s.id as auth_id, s.org_id
           from sessions s join users u on u.id = s.user_id
           where s.token_hash = $1 and s.revoked_at is null and s.expires_at > now()),
         touch as (update sessions set last_seen_at = now()
           where id = (select auth_id from hit) and last_seen_at < now() - interval '1 minute')
         select h.id as "id!", h.email as "email!", h.is_admin as "is_admin!", h.language as "language!",
                h.auth_id as "auth_id!", null::text as "scope?", m.org_id as "org!", m.role as "role!",
                null::text as "token_role?",
                (o.require_2fa and not exists (select 1 from user_totp t
                    where t.user_id = h.id and t.enabled_at is not null)) as "lacks_2fa!"
         from hit h cross join lateral (select org_id, role from memberships
             where user_id = h.id and org_id in (h.org_id, h.id)
             order by org_id = h.id limit 1) m
         join organisations o on o.id = m.org_id"#,
        hash_secret(session),
    )
    .fetch_optional(&state.pool)
    .await?;
    let row = row.ok_or_else(ApiError::unauthorized)?;
    Ok(CurrentUser {
        id: row.id,
        email: row.email,
        is_admin: row.is_admin,
        language: row.language,
        org: row.org,
        role: Role::parse(&row.role),
        lacks_2fa: row.lacks_2fa,
        auth: AuthMethod::Session {
            session_id: row.auth_id,
        },
    })
}
