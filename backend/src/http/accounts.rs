//! Accounts: registration, login and logout, the current user, password change, API tokens,
//! installation settings and `GET /api/config`.

use std::net::IpAddr;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Json, Path, no_content_or_not_found};
use crate::http::auth::{self, CurrentUser, SESSION_COOKIE, Scope, TOKEN_PREFIX};
use crate::ratelimit::ClientIp;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted (hashing cost is bounded).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/config", get(get_config))
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(get_me).patch(update_me))
        .route("/api/auth/password", post(change_password))
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/admin/settings", put(update_settings).get(get_settings))
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
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
}

/// Register or log in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    /// Email (normalised: trimmed, lowercased).
    pub email: String,
    /// Password, at least 10 characters.
    pub password: String,
}

/// Change of profile.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UpdateMe {
    /// `en` or `ru`.
    pub language: Option<String>,
}

/// Password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new one, at least 10 characters.
    pub new_password: String,
}

/// A new API token's name and scope.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// A name to recognise it by.
    pub name: String,
    /// `read` (GET only) or `write`.
    pub scope: Scope,
    /// When it stops working (must be in the future); absent: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API token as listed (never the secret).
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last request made with it.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working; null: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A freshly created API token: the only time the secret is shown.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// The first characters of the token.
    pub prefix: String,
    /// The token itself: `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working; null: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Installation settings an admin can change.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settings {
    /// Whether anyone may sign up.
    pub registration_open: bool,
}

/// A list page.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenList {
    /// The tokens.
    pub items: Vec<ApiToken>,
    /// How many there are.
    pub total: i64,
    /// Always null: the list is not paginated.
    pub next_cursor: Option<String>,
}

/// Normalises and checks an email address.
pub fn normalise_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let bad = |m: &str| ApiError::validation("email", m);
    if email.len() < 3 || email.len() > 254 {
        return Err(bad("email must be between 3 and 254 characters"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("email must not contain spaces or control characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(bad("email must look like name@example.com"));
    };
    if local.is_empty()
        || domain.is_empty()
        || local.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad("email must look like name@example.com"));
    }
    Ok(email)
}

fn check_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(ApiError::validation(
            field,
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(ApiError::validation(
            field,
            format!("password must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id (OWASP parameters) off the async threads; 503 with
/// `Retry-After` when the hash queue is full.
pub async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    let _permit = state.edge.hash_queue.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

/// Verifies a password against a stored hash off the async threads; 503 with `Retry-After`
/// when the hash queue is full.
pub async fn verify_password(state: &AppState, password: String, hash: String) -> ApiResult<bool> {
    let _permit = state.edge.hash_queue.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .map_err(ApiError::internal)
}

/// A hash nobody's password matches, verified for unknown emails so that timing does not
/// tell which emails have accounts.
static DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yb0oCqr/dbmyTyhnn3Lzh0fqZg+0nZfYTcuMPYkAwJw";

async fn registration_open(state: &AppState) -> ApiResult<bool> {
    let stored: Option<serde_json::Value> =
        sqlx::query_scalar("select value from app_settings where key = 'registration_open'")
            .fetch_optional(&state.pool)
            .await?;
    Ok(match stored.and_then(|v| v.as_bool()) {
        Some(open) => open,
        None => state.config.api.registration == crate::config::Registration::Open,
    })
}

/// The regions users may pick (the configured pinger regions).
pub fn known_regions(state: &AppState) -> Vec<String> {
    let regions: Vec<String> = state
        .config
        .amqp
        .regions
        .iter()
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    if regions.is_empty() {
        vec![common::messages::DEFAULT_REGION.to_owned()]
    } else {
        regions
    }
}

#[utoipa::path(get, path = "/api/config", tag = "accounts", responses((status = 200, body = PublicConfig)))]
async fn get_config(State(state): State<AppState>) -> ApiResult<Json<PublicConfig>> {
    Ok(Json(PublicConfig {
        registration_open: registration_open(&state).await?,
        telegram_bot_username: state.config.api.telegram_bot_username.clone(),
        regions: known_regions(&state),
        min_interval_seconds: state.config.api.min_interval_seconds,
        allow_private_targets: state.guard.allow_private_targets(),
    }))
}

/// Starts a session for `user_id`; the `Set-Cookie` header that carries it.
async fn start_session(state: &AppState, user_id: Uuid, headers: &HeaderMap, ip: IpAddr) -> ApiResult<HeaderValue> {
    let secret = auth::new_secret();
    let ttl = state.config.api.session_ttl;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(300).collect::<String>());
    sqlx::query(
        "insert into sessions (id, user_id, token_hash, user_agent, ip, expires_at) \
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(auth::hash_secret(&secret))
    .bind(user_agent)
    .bind(ip.to_string())
    .bind(ttl.as_secs_f64())
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

const USER_COLUMNS: &str = "id, email, is_admin, language, created_at";

#[utoipa::path(post, path = "/api/auth/register", tag = "accounts", request_body = Credentials,
    responses((status = 201, body = User), (status = 403, description = "registration closed"), (status = 409), (status = 422),
        (status = 429, description = "too many registrations from this client; see Retry-After"),
        (status = 503, description = "the password hash queue is full; see Retry-After")))]
async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    if let Err(wait) = state.edge.register_limiter.check(&client.key()) {
        metrics::counter!("pingtower_backend_register_rate_limited_total").increment(1);
        return Err(ApiError::rate_limited(wait.as_secs().max(1)));
    }
    let email = normalise_email(&body.email)?;
    check_password("password", &body.password)?;
    let open = registration_open(&state).await?;
    // Closed: refused before any hashing (only the very first user may still register).
    if !open
        && sqlx::query_scalar::<_, bool>("select exists (select 1 from users)")
            .fetch_one(&state.pool)
            .await?
    {
        return Err(ApiError::forbidden("registration is closed on this installation"));
    }
    let hash = hash_password(&state, body.password).await?;
    let mut tx = state.pool.begin().await?;
    // Serialise registrations so exactly one first user becomes admin.
    sqlx::query("select pg_advisory_xact_lock(hashtext('pingtower.register'))")
        .execute(&mut *tx)
        .await?;
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&mut *tx)
        .await?;
    if users > 0 && !open {
        return Err(ApiError::forbidden("registration is closed on this installation"));
    }
    let user: Option<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into users (id, email, password_hash, is_admin) values ($1, $2, $3, $4) \
         on conflict (email) do nothing returning {USER_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(&email)
    .bind(hash)
    .bind(users == 0)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user) = user else {
        return Err(ApiError {
            field: Some("email".into()),
            ..ApiError::conflict("an account with this email exists")
        });
    };
    tx.commit().await?;
    let cookie = start_session(&state, user.id, &headers, client.0).await?;
    tracing::info!(user_id = %user.id, is_admin = user.is_admin, "user registered");
    Ok((StatusCode::CREATED, [(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: Uuid,
    email: String,
    is_admin: bool,
    language: String,
    created_at: DateTime<Utc>,
    password_hash: String,
}

#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = Credentials,
    responses((status = 200, body = User), (status = 401),
        (status = 429, description = "too many failed logins from this client (for this account); see Retry-After"),
        (status = 503, description = "the password hash queue is full; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
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
    let row: Option<LoginRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {USER_COLUMNS}, password_hash from users where email = $1"
    )))
    .bind(&email)
    .fetch_optional(&state.pool)
    .await?;
    let hash = row
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |r| r.password_hash.clone());
    let ok = verify_password(&state, body.password, hash).await? && row.is_some();
    let Some(row) = row.filter(|_| ok) else {
        attempt.failed();
        metrics::counter!("pingtower_backend_login_failures_total").increment(1);
        return Err(ApiError::unauthorized_because("wrong email or password"));
    };
    attempt.succeeded(&account_key);
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
async fn logout(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Response> {
    if let Some(session) = user.session_id() {
        sqlx::query("update sessions set revoked_at = now() where id = $1 and user_id = $2")
            .bind(session)
            .bind(user.id)
            .execute(&state.pool)
            .await?;
    }
    let cookie = session_cookie(&state, "", Duration::ZERO)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn load_user(state: &AppState, id: Uuid) -> ApiResult<User> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {USER_COLUMNS} from users where id = $1"
    )))
    .bind(id)
    .fetch_one(&state.pool)
    .await?)
}

#[utoipa::path(get, path = "/api/auth/me", tag = "accounts", responses((status = 200, body = crate::quotas::Me), (status = 401)))]
async fn get_me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<crate::quotas::Me>> {
    let limits = crate::quotas::load(&state, user.id).await?;
    Ok(Json(crate::quotas::Me {
        user: load_user(&state, user.id).await?,
        may_private_targets: limits.may_private_targets,
        quotas: limits.quotas,
    }))
}

#[utoipa::path(patch, path = "/api/auth/me", tag = "accounts", request_body = UpdateMe, responses((status = 200, body = User), (status = 422)))]
async fn update_me(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Json<User>> {
    if let Some(language) = body.language {
        if !matches!(language.as_str(), "en" | "ru") {
            return Err(ApiError::validation("language", "language must be en or ru"));
        }
        sqlx::query("update users set language = $1, updated_at = now() where id = $2")
            .bind(language)
            .bind(user.id)
            .execute(&state.pool)
            .await?;
    }
    Ok(Json(load_user(&state, user.id).await?))
}

#[utoipa::path(post, path = "/api/auth/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204), (status = 401), (status = 422),
        (status = 429, description = "too many wrong current passwords from this client; see Retry-After"),
        (status = 503, description = "the password hash queue is full; see Retry-After")))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
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
    let hash: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&state.pool)
        .await?;
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
    sqlx::query("update users set password_hash = $1, updated_at = now() where id = $2")
        .bind(new_hash)
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    // Every other session ends: whoever had the old password is logged out.
    sqlx::query(
        "update sessions set revoked_at = now() where user_id = $1 and revoked_at is null \
         and ($2::uuid is null or id <> $2)",
    )
    .bind(user.id)
    .bind(user.session_id())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/tokens", tag = "accounts", responses((status = 200, body = TokenList)))]
async fn list_tokens(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<TokenList>> {
    let items: Vec<ApiToken> = sqlx::query_as(
        "select id, name, scope, prefix, created_at, last_used_at, expires_at from api_tokens \
         where user_id = $1 and revoked_at is null order by created_at desc",
    )
    .bind(user.id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(TokenList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/tokens", tag = "accounts", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 403, description = "tokens are created from a session only"), (status = 422)))]
async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    // A leaked token must not be able to outlive its revocation by minting others.
    if user.session_id().is_none() {
        return Err(ApiError::forbidden(
            "API tokens can only be created from a signed-in session",
        ));
    }
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::validation("expires_at", "expires_at must be in the future"));
    }
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "name must be 1 to 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name",
            "name must not contain control characters (CR, LF…)",
        ));
    }
    let token = format!("{TOKEN_PREFIX}{}", auth::new_secret());
    let prefix: String = token.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into api_tokens (id, user_id, name, scope, token_hash, prefix, expires_at) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(user.id)
    .bind(&name)
    .bind(body.scope.as_str())
    .bind(auth::hash_secret(&token))
    .bind(&prefix)
    .bind(body.expires_at)
    .execute(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            name,
            scope: body.scope.as_str().to_owned(),
            prefix,
            token,
            expires_at: body.expires_at,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "accounts", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
async fn revoke_token(State(state): State<AppState>, user: CurrentUser, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    no_content_or_not_found(
        sqlx::query("update api_tokens set revoked_at = now() where id = $1 and user_id = $2 and revoked_at is null")
            .bind(id)
            .bind(user.id)
            .execute(&state.pool)
            .await?,
    )
}

#[utoipa::path(get, path = "/api/admin/settings", tag = "accounts", responses((status = 200, body = Settings), (status = 403)))]
async fn get_settings(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Settings>> {
    user.require_admin()?;
    Ok(Json(Settings {
        registration_open: registration_open(&state).await?,
    }))
}

#[utoipa::path(put, path = "/api/admin/settings", tag = "accounts", request_body = Settings, responses((status = 204), (status = 403)))]
async fn update_settings(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<Settings>,
) -> ApiResult<StatusCode> {
    user.require_admin()?;
    sqlx::query(
        "insert into app_settings (key, value) values ('registration_open', $1) \
         on conflict (key) do update set value = excluded.value, updated_at = now()",
    )
    .bind(serde_json::Value::Bool(body.registration_open))
    .execute(&state.pool)
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(normalise_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
    }

    #[test]
    fn malformed_emails_name_the_field() {
        for bad in [
            "",
            "a",
            "no-at.example.com",
            "a@b",
            "a b@example.com",
            "@example.com",
            "a@.com",
        ] {
            let e = normalise_email(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("email"), "{bad}");
        }
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        get_config,
        register,
        login,
        logout,
        get_me,
        update_me,
        change_password,
        list_tokens,
        create_token,
        revoke_token,
        get_settings,
        update_settings
    ),
    components(schemas(
        User,
        PublicConfig,
        Credentials,
        UpdateMe,
        PasswordChange,
        NewToken,
        ApiToken,
        CreatedToken,
        Settings,
        TokenList,
        Scope
    ))
)]
pub struct Doc;
