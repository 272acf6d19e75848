//! Accounts: registration, login and logout, the current user, password change and
//! `GET /api/config`.

use std::net::IpAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Role;
use crate::error::{ApiError, ApiResult, Json};
use crate::http::auth::{self, Caller, CurrentUser, SESSION_COOKIE};
use crate::passwords::{DUMMY_HASH, MAX_PASSWORD_LEN, check_password, hash_password, verify_password};
use crate::quotas::Quotas;
use crate::ratelimit::ClientIp;
use crate::state::AppState;
use crate::validate::normalise_email;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/config", get(get_config))
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(get_me).patch(update_me))
        .route("/api/auth/password", post(change_password))
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Normalised (lowercase) email.
    pub email: String,
    /// The installation's admin (the first user).
    pub is_admin: bool,
    /// Preferred language: `en` or `ru`.
    pub language: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// `GET /api/auth/me`: the user, their permission and their quotas.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Me {
    /// The user's fields.
    #[serde(flatten)]
    pub user: User,
    /// May monitor private addresses (admins always, unless the installation allows none).
    pub may_private_targets: bool,
    /// Effective quotas (of the current organisation).
    pub quotas: Quotas,
    /// The organisation the caller works in.
    pub organisation_id: Uuid,
    /// Their role there.
    pub role: Role,
}

/// A language of texts and reports.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    En,
    /// Russian.
    Ru,
}

/// Public installation facts the dashboard needs before login.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicConfig {
    /// Whether sign-ups are open.
    pub registration_open: bool,
    /// The Telegram bot's user name, if the notifier has one.
    pub telegram_bot_username: Option<String>,
    /// Known pinger regions.
    pub regions: Vec<String>,
    /// Shortest check interval allowed.
    pub min_interval_seconds: u32,
    /// Whether private/loopback targets are allowed.
    pub allow_private_targets: bool,
    /// Whether users may sign in (and register) with a password.
    pub password_login: bool,
    /// Whether single sign-on is configured: the sign-in page offers it at
    /// `GET /api/auth/oidc/login`.
    pub oidc: bool,
}

/// Register or log in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// Email (normalised: trimmed, lowercased).
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f.][^@\s\x00-\x1f\x7f-\x9f]*\.[^@\s\x00-\x1f\x7f-\x9f]*[^@\s\x00-\x1f\x7f-\x9f.]$"
    )]
    pub email: String,
    /// Password, 10 to 1024 characters.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
}

/// Change of profile.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateMe {
    /// `en` or `ru`.
    #[schema(value_type = Option<Language>)]
    pub language: Option<String>,
}

/// Password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The current password.
    #[schema(max_length = 1024)]
    pub current_password: String,
    /// The new one, 10 to 1024 characters.
    #[schema(min_length = 10, max_length = 1024)]
    pub new_password: String,
}

pub async fn registration_open(state: &AppState) -> ApiResult<bool> {
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar!("select value from app_settings where key = 'registration_open'")
            .fetch_optional(&state.pool)
            .await?;
    Ok(match stored.and_then(|v| v.as_bool()) {
        Some(open) => open,
        None => state.config.api.registration == crate::config::Registration::Open,
    })
}

#[utoipa::path(get, path = "/api/config", tag = "accounts", responses((status = 200, body = PublicConfig)))]
async fn get_config(State(state): State<AppState>) -> ApiResult<Json<PublicConfig>> {
    Ok(Json(PublicConfig {
        registration_open: registration_open(&state).await?,
        telegram_bot_username: state.config.api.telegram_bot_username.clone(),
        regions: state.known_regions(),
        min_interval_seconds: state.config.api.min_interval_seconds,
        allow_private_targets: state.guard.allow_private_targets(),
        password_login: state.config.api.sign_in.password_login,
        oidc: state.config.api.sign_in.oidc_enabled(),
    }))
}

/// Starts a session for `user_id`; the `Set-Cookie` header that carries it.
pub(crate) async fn start_session(
    state: &AppState,
    user_id: Uuid,
    headers: &HeaderMap,
    ip: IpAddr,
) -> ApiResult<HeaderValue> {
    let secret = auth::new_secret();
    let ttl = state.config.api.session_ttl;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(300).collect::<String>());
    sqlx::query!(
        "insert into sessions (id, user_id, token_hash, user_agent, ip, expires_at) \
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
        Uuid::now_v7(),
        user_id,
        auth::hash_secret(&secret),
        user_agent,
        ip.to_string(),
        ttl.as_secs_f64(),
    )
    .execute(&state.pool)
    .await?;
    session_cookie(state, &secret, ttl)
}

fn session_cookie(state: &AppState, value: &str, ttl: Duration) -> ApiResult<HeaderValue> {
    let secure = if state.config.api.cookie_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        ttl.as_secs()
    ))
    .map_err(ApiError::internal)
}

/// A query into [`User`]s: `$head` and `$tail` around the user columns (one list for the
/// insert, the login and the profile, checked at build time).
macro_rules! query_users {
    ($out:ident, $head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!($out, $head + "id, email, is_admin, language, created_at" + $tail $(, $arg)*)
    };
}

/// 403 when password sign-in is turned off (`PINGTOWER_PASSWORD_LOGIN=false`).
fn check_password_login(state: &AppState) -> ApiResult<()> {
    if state.config.api.sign_in.password_login {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "password sign-in is turned off on this installation: sign in with single sign-on",
        ))
    }
}

/// Creates the account `email` in `tx`: the installation's first account becomes its admin;
/// any other needs `anyone` (sign-ups open), else 403. `password_hash` is `None` for an
/// account that signs in with single sign-on only. 409 naming `email` when it is taken.
pub(crate) async fn create_account(
    tx: &mut sqlx::PgConnection,
    email: &str,
    password_hash: Option<String>,
    anyone: bool,
) -> ApiResult<User> {
    // Serialise account creation so exactly one first user becomes admin.
    sqlx::query!("select from pg_advisory_xact_lock(hashtext('pingtower.register'))")
        .execute(&mut *tx)
        .await?;
    let users: i64 = sqlx::query_scalar!(r#"select count(*) as "count!" from users"#)
        .fetch_one(&mut *tx)
        .await?;
    if users > 0 && !anyone {
        return Err(ApiError::forbidden("registration is closed on this installation"));
    }
    let user: Option<User> = query_users!(
        User,
        "insert into users (id, email, password_hash, is_admin) values ($1, $2, $3, $4) \
         on conflict (email) do nothing returning ",
        "",
        Uuid::now_v7(),
        email,
        password_hash,
        users == 0,
    )
    .fetch_optional(&mut *tx)
    .await?;
    user.ok_or_else(|| ApiError {
        field: Some("email".into()),
        ..ApiError::conflict("an account with this email exists")
    })
}

#[utoipa::path(post, path = "/api/auth/register", tag = "accounts", request_body = Credentials,
    responses((status = 201, body = User), (status = 403, description = "registration closed, or password sign-in turned off"), (status = 409), (status = 422),
        (status = 429, description = "too many registrations from this client; see Retry-After"),
        (status = 503, description = "the password hash queue is full; see Retry-After")))]
async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    check_password_login(&state)?;
    if let Err(wait) = state.edge.register_limiter.check(&client.key()) {
        metrics::counter!("pingtower_backend_register_rate_limited_total").increment(1);
        return Err(ApiError::rate_limited(wait.as_secs().max(1)));
    }
    let email = normalise_email(&body.email)?;
    check_password("password", &body.password)?;
    let open = registration_open(&state).await?;
    // Closed: refused before any hashing (only the very first user may still register).
    if !open
        && sqlx::query_scalar!(r#"select exists (select 1 from users) as "exists!""#)
            .fetch_one(&state.pool)
            .await?
    {
        return Err(ApiError::forbidden("registration is closed on this installation"));
    }
    let hash = hash_password(&state, body.password).await?;
    let mut tx = state.pool.begin().await?;
    let user = create_account(&mut tx, &email, Some(hash), open).await?;
    tx.commit().await?;
    let cookie = start_session(&state, user.id, &headers, client.0).await?;
    tracing::info!(user_id = %user.id, is_admin = user.is_admin, "user registered");
    Ok((StatusCode::CREATED, [(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

struct LoginRow {
    id: Uuid,
    email: String,
    is_admin: bool,
    language: String,
    created_at: DateTime<Utc>,
    /// `None`: the account signs in with single sign-on only.
    password_hash: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = Credentials,
    responses((status = 200, body = crate::http::twofactor::LoginAnswer,
            description = "signed in (`User`, the session cookie set), or the account has two-factor sign-in \
                (`TwoFactorChallenge`, no cookie: continue with POST /api/auth/login/2fa)"),
        (status = 401),
        (status = 403, description = "password sign-in is turned off on this installation"),
        (status = 429, description = "too many failed logins from this client (for this account); see Retry-After"),
        (status = 503, description = "the password hash queue is full; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    check_password_login(&state)?;
    let email = body.email.trim().to_lowercase();
    if email.len() > 254 || body.password.chars().count() > MAX_PASSWORD_LEN {
        return Err(ApiError::unauthorized_because("wrong email or password"));
    }
    // The attempt is counted *before* the password is verified, so a parallel burst is
    // evaluated at most the limit. Per client and per (account, client), never per account
    // alone: a burst from one client cannot lock the owner out of their account elsewhere.
    let client_key = format!("client:{}", client.key());
    let account_key = format!("account:{email}|{}", client.key());
    let edge = &state.edge;
    let attempt = edge
        .login_limiter
        .reserve(&[
            (client_key, edge.login_client_limit),
            (account_key.clone(), edge.login_account_limit),
        ])
        .map_err(|wait| {
            metrics::counter!("pingtower_backend_login_rate_limited_total").increment(1);
            ApiError::rate_limited(wait.as_secs().max(1))
        })?;
    let row: Option<LoginRow> = query_users!(
        LoginRow,
        "select ",
        ", password_hash from users where email = $1",
        &email
    )
    .fetch_optional(&state.pool)
    .await?;
    // An unknown email and an account without a password verify the dummy hash: the answer
    // takes as long, and is the same, as a wrong password's.
    let hash = row.as_ref().and_then(|r| r.password_hash.clone());
    let has_password = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
    let ok = verify_password(&state, body.password, hash).await? && has_password;
    let Some(row) = row.filter(|_| ok) else {
        attempt.failed();
        metrics::counter!("pingtower_backend_login_failures_total").increment(1);
        return Err(ApiError::unauthorized_because("wrong email or password"));
    };
    attempt.succeeded(&account_key);
    // Two-factor accounts get a challenge for `POST /api/auth/login/2fa`, no session yet.
    if let Some(challenge) = crate::http::twofactor::login_challenge(&state, row.id).await? {
        return Ok(Json(challenge).into_response());
    }
    let cookie = start_session(&state, row.id, &headers, client.0).await?;
    let user = User {
        id: row.id,
        email: row.email,
        is_admin: row.is_admin,
        language: row.language,
        created_at: row.created_at,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts", responses((status = 204)))]
async fn logout(Caller { state, user }: Caller) -> ApiResult<Response> {
    if let Some(session) = user.session_id() {
        sqlx::query!(
            "update sessions set revoked_at = now() where id = $1 and user_id = $2",
            session,
            user.id
        )
        .execute(&state.pool)
        .await?;
    }
    let cookie = session_cookie(&state, "", Duration::ZERO)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The user `id` as the API shows it.
pub(crate) async fn load_user(state: &AppState, id: Uuid) -> ApiResult<User> {
    Ok(query_users!(User, "select ", " from users where id = $1", id)
        .fetch_one(&state.pool)
        .await?)
}

#[utoipa::path(get, path = "/api/auth/me", tag = "accounts", responses((status = 200, body = Me), (status = 401)))]
async fn get_me(Caller { state, user }: Caller) -> ApiResult<Json<Me>> {
    let limits = crate::quotas::load(&state, user.current_org()).await?;
    Ok(Json(Me {
        user: load_user(&state, user.id).await?,
        may_private_targets: limits.may_private_targets,
        quotas: limits.quotas,
        organisation_id: user.current_org(),
        role: user.role,
    }))
}

#[utoipa::path(patch, path = "/api/auth/me", tag = "accounts", request_body = UpdateMe, responses((status = 200, body = User), (status = 422)))]
async fn update_me(Caller { state, user }: Caller, Json(body): Json<UpdateMe>) -> ApiResult<Json<User>> {
    if let Some(language) = body.language {
        if !matches!(language.as_str(), "en" | "ru") {
            return Err(ApiError::validation("language", "language must be en or ru"));
        }
        // The personal organisation's reports follow its user's language.
        sqlx::query!(
            "with u as (update users set language = $1, updated_at = now() where id = $2) \
             update organisations set language = $1, updated_at = now() where id = $2 and personal",
            language,
            user.id
        )
        .execute(&state.pool)
        .await?;
    }
    Ok(Json(load_user(&state, user.id).await?))
}

/// Revokes every session of `user` but the one they call from (if any): after a change of
/// password or of sign-in factors, whoever held another session did not prove the new ones.
pub(crate) async fn revoke_other_sessions(tx: &mut sqlx::PgConnection, user: &CurrentUser) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update sessions set revoked_at = now() where user_id = $1 and revoked_at is null \
         and ($2::uuid is null or id <> $2)",
        user.id,
        user.session_id(),
    )
    .execute(tx)
    .await?;
    Ok(())
}

#[utoipa::path(post, path = "/api/auth/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204), (status = 401), (status = 422),
        (status = 429, description = "too many wrong current passwords from this client; see Retry-After"),
        (status = 503, description = "the password hash queue is full; see Retry-After")))]
async fn change_password(
    Caller { state, user }: Caller,
    client: ClientIp,
    Json(body): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    check_password("new_password", &body.new_password)?;
    // A borrowed session must not become a way to guess the password: wrong current
    // passwords count as failed logins of this account from this client.
    let account_key = format!("account:{}|{}", user.email, client.key());
    let attempt = state
        .edge
        .login_limiter
        .reserve(&[(account_key.clone(), state.edge.login_account_limit)])
        .map_err(|wait| ApiError::rate_limited(wait.as_secs().max(1)))?;
    // An account without a password (single sign-on) has no current password to give.
    let hash: String = sqlx::query_scalar!("select password_hash from users where id = $1", user.id)
        .fetch_one(&state.pool)
        .await?
        .unwrap_or_else(|| DUMMY_HASH.to_owned());
    if !verify_password(&state, body.current_password, hash).await? {
        attempt.failed();
        return Err(ApiError {
            field: Some("current_password".into()),
            ..ApiError::unauthorized_because("the current password is wrong")
        });
    }
    attempt.succeeded(&account_key);
    let new_hash = hash_password(&state, body.new_password).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "update users set password_hash = $1, updated_at = now() where id = $2",
        new_hash,
        user.id
    )
    .execute(&mut *tx)
    .await?;
    // Every other session ends: whoever had the old password is logged out.
    revoke_other_sessions(&mut tx, &user).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(get_config, register, login, logout, get_me, update_me, change_password),
    components(schemas(User, PublicConfig, Credentials, UpdateMe, PasswordChange, Me, Language))
)]
pub struct Doc;
