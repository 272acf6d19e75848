//! Two-factor sign-in over HTTP: enrolment and management under `/api/account/2fa` (for the
//! signed-in user, by session or API token) and the login's second step,
//! `POST /api/auth/login/2fa`. The logic is [`crate::twofactor`]; the rows are `user_totp`,
//! `user_recovery_codes` and `login_challenges`.
//!
//! - Setup stores a pending secret (sealed) and shows it once; enabling needs a first correct
//!   code, answers the recovery codes once and revokes every other session of the user (API
//!   tokens stay valid: they never passed a second factor).
//! - A login whose password is right answers a challenge instead of a session
//!   ([`login_challenge`]); the second step trades the challenge and a code (or a recovery
//!   code) for the session.
//! - A code's time step is accepted once (a replay within its window is refused); a recovery
//!   code works once. Wrong codes are counted before they are checked: per challenge (in the
//!   database), and per client and per (account, client) in the login limiter.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Json};
use crate::http::accounts::{self, User};
use crate::http::auth::{self, Caller, CurrentUser};
use crate::passwords::{MAX_PASSWORD_LEN, verify_password};
use crate::ratelimit::{ClientIp, Reservation};
use crate::secrets::SecretKey;
use crate::state::AppState;
use crate::twofactor::{self, CHALLENGE_ATTEMPTS, CHALLENGE_TTL, MAX_CODE_LEN, TotpSecret};

/// The two-factor routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/account/2fa", get(get_two_factor))
        .route("/api/account/2fa/setup", post(setup_two_factor))
        .route("/api/account/2fa/enable", post(enable_two_factor))
        .route("/api/account/2fa/disable", post(disable_two_factor))
        .route("/api/account/2fa/recovery-codes", post(regenerate_recovery_codes))
        .route("/api/auth/login/2fa", post(login_second_factor))
}

/// Longest challenge read (they are 43 characters).
const MAX_CHALLENGE_LEN: usize = 128;

/// `GET /api/account/2fa`: whether two-factor sign-in is on. Never the secret.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TwoFactorStatus {
    /// Whether sign-in asks for a code.
    pub enabled: bool,
    /// When it was enabled.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
}

/// `POST /api/account/2fa/setup`: the new secret, shown this once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TwoFactorSetup {
    /// The secret in base32 (RFC 4648, no padding), for typing into an app by hand.
    pub secret: String,
    /// `otpauth://totp/PingTower:{email}?secret=…&issuer=PingTower` (SHA-1, 6 digits, 30 s).
    pub otpauth_url: String,
    /// The otpauth URL as a QR code: an SVG document.
    pub qr_svg: String,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TwoFactorCode {
    /// The app's current 6-digit code (spaces allowed).
    #[schema(max_length = 64, example = "123456")]
    pub code: String,
}

/// `POST /api/account/2fa/enable`: enabled; the recovery codes, shown this once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TwoFactorEnabled {
    /// When it was enabled.
    pub enabled_at: DateTime<Utc>,
    /// 10 single-use codes (`xxxx-xxxx-xxxx-xxxx`) for signing in without the app.
    pub recovery_codes: Vec<String>,
}

/// New recovery codes, shown this once (the old ones no longer work).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// 10 single-use codes (`xxxx-xxxx-xxxx-xxxx`).
    pub recovery_codes: Vec<String>,
}

/// `POST /api/account/2fa/disable`: the password and a second factor.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TwoFactorDisable {
    /// The account's password.
    #[schema(max_length = 1024)]
    pub password: String,
    /// The app's current code; or else `recovery_code`.
    #[schema(max_length = 64)]
    pub code: Option<String>,
    /// An unused recovery code (used up by this), instead of `code`.
    #[schema(max_length = 64)]
    pub recovery_code: Option<String>,
}

/// `POST /api/auth/login/2fa`: the login's challenge and a second factor.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SecondFactor {
    /// The `challenge` the login answered.
    #[schema(max_length = 128)]
    pub challenge: String,
    /// The app's current code; or else `recovery_code`.
    #[schema(max_length = 64)]
    pub code: Option<String>,
    /// An unused recovery code (used up by this), instead of `code`.
    #[schema(max_length = 64)]
    pub recovery_code: Option<String>,
}

/// The login's answer for an account with two-factor sign-in: no session yet, a challenge for
/// `POST /api/auth/login/2fa` (valid 5 minutes, used once, for 5 codes at most).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TwoFactorChallenge {
    /// Always `true`.
    pub two_factor_required: bool,
    /// Opaque token for the second step.
    pub challenge: String,
}

/// `POST /api/auth/login`'s 200: the user with a session cookie, or (two-factor accounts) a
/// challenge and no cookie.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// Signed in: the session cookie is set.
    SignedIn(User),
    /// A second factor is needed: no cookie yet.
    TwoFactorRequired(TwoFactorChallenge),
}

/// The challenge to answer instead of a session when `user_id` has two-factor sign-in on
/// (the login calls this once the password is right); `None` otherwise.
pub async fn login_challenge(state: &AppState, user_id: Uuid) -> ApiResult<Option<TwoFactorChallenge>> {
    let enabled = sqlx::query_scalar!(
        r#"select exists (select 1 from user_totp where user_id = $1 and enabled_at is not null) as "enabled!""#,
        user_id
    )
    .fetch_one(&state.pool)
    .await?;
    if !enabled {
        return Ok(None);
    }
    // Expired challenges (anyone's) go as new ones come.
    sqlx::query!("delete from login_challenges where expires_at < now() - interval '1 hour'")
        .execute(&state.pool)
        .await?;
    let challenge = auth::new_secret();
    sqlx::query!(
        "insert into login_challenges (id, user_id, token_hash, expires_at) \
         values ($1, $2, $3, now() + make_interval(secs => $4))",
        Uuid::now_v7(),
        user_id,
        auth::hash_secret(&challenge),
        CHALLENGE_TTL.as_secs_f64(),
    )
    .execute(&state.pool)
    .await?;
    Ok(Some(TwoFactorChallenge {
        two_factor_required: true,
        challenge,
    }))
}

/// A second factor as sent: a code or a recovery code.
#[derive(Debug, Clone, Copy)]
enum Factor<'a> {
    Code(&'a str),
    Recovery(&'a str),
}

impl Factor<'_> {
    /// The request field it came in.
    fn field(self) -> &'static str {
        match self {
            Factor::Code(_) => "code",
            Factor::Recovery(_) => "recovery_code",
        }
    }
}

/// The one factor of `code` and `recovery_code`: 422 naming the field when neither, both, or
/// an overlong one is sent.
fn factor<'a>(code: &'a Option<String>, recovery_code: &'a Option<String>) -> ApiResult<Factor<'a>> {
    let factor = match (code.as_deref(), recovery_code.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "recovery_code",
                "send either code or recovery_code, not both",
            ));
        }
        (Some(c), None) => Factor::Code(c),
        (None, Some(r)) => Factor::Recovery(r),
        (None, None) => {
            return Err(ApiError::validation(
                "code",
                "the code from your authenticator app (or a recovery_code) is required",
            ));
        }
    };
    let (Factor::Code(text) | Factor::Recovery(text)) = factor;
    check_len(factor.field(), text)?;
    Ok(factor)
}

fn check_len(field: &str, value: &str) -> ApiResult<()> {
    if value.len() > MAX_CODE_LEN {
        return Err(ApiError::validation(
            field,
            format!("at most {MAX_CODE_LEN} characters"),
        ));
    }
    Ok(())
}

fn wrong_factor(factor: Factor<'_>) -> String {
    match factor {
        Factor::Code(_) => {
            "the code is wrong, expired or already used; enter the current code from your authenticator app".into()
        }
        Factor::Recovery(_) => "the recovery code is wrong or already used".into(),
    }
}

/// The key that seals TOTP secrets; 503 when the installation has none.
fn sealing_key(state: &AppState) -> ApiResult<&SecretKey> {
    state.secret_key.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "two-factor sign-in needs PINGTOWER_SECRET_KEY (base64 of 32 bytes) to be configured on the server",
        )
    })
}

/// Opens a stored TOTP secret (an internal error without the key: recovery codes still work).
fn open_secret(state: &AppState, sealed: &[u8]) -> ApiResult<TotpSecret> {
    let key = state
        .secret_key
        .as_ref()
        .ok_or_else(|| ApiError::internal("a TOTP secret is sealed but PINGTOWER_SECRET_KEY is not set"))?;
    Ok(key.open(sealed)?)
}

/// Reserves one code attempt of the signed-in `user` from `client`: wrong codes count as
/// failed logins of the account from that client, like wrong current passwords, so a borrowed
/// session is no way to guess codes.
fn reserve_code_attempt(state: &AppState, user: &CurrentUser, client: &ClientIp) -> ApiResult<(Reservation, String)> {
    let account_key = format!("account:{}|{}", user.email, client.key());
    let attempt = state
        .edge
        .login_limiter
        .reserve(&[(account_key.clone(), state.edge.login_account_limit)])
        .map_err(|wait| ApiError::rate_limited(wait.as_secs().max(1)))?;
    Ok((attempt, account_key))
}

/// A user's TOTP row, locked for the transaction that read it.
struct TotpRow {
    secret: Vec<u8>,
    enabled_at: Option<DateTime<Utc>>,
    last_step: Option<i64>,
}

async fn lock_totp(conn: &mut sqlx::PgConnection, user_id: Uuid) -> ApiResult<Option<TotpRow>> {
    Ok(sqlx::query_as!(
        TotpRow,
        "select secret, enabled_at, last_step from user_totp where user_id = $1 for update",
        user_id
    )
    .fetch_optional(conn)
    .await?)
}

/// Whether `factor` is right for the user of `totp` (enabled) now. What it used is used up:
/// the code's time step (this one and every earlier one), or the recovery code.
async fn check_factor(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    totp: &TotpRow,
    factor: Factor<'_>,
) -> ApiResult<bool> {
    match factor {
        Factor::Code(code) => {
            let secret = open_secret(state, &totp.secret)?;
            let Some(step) = twofactor::verify_code(&secret, code, state.config.api.clock.now())? else {
                return Ok(false);
            };
            if totp.last_step.is_some_and(|last| step <= last) {
                return Ok(false);
            }
            sqlx::query!(
                "update user_totp set last_step = $2, updated_at = now() where user_id = $1",
                user_id,
                step
            )
            .execute(conn)
            .await?;
            Ok(true)
        }
        Factor::Recovery(typed) => {
            let Some(hash) = twofactor::recovery_code_hash(typed) else {
                return Ok(false);
            };
            let used = sqlx::query!(
                "update user_recovery_codes set used_at = now() \
                 where user_id = $1 and code_hash = $2 and used_at is null",
                user_id,
                hash
            )
            .execute(conn)
            .await?;
            Ok(used.rows_affected() == 1)
        }
    }
}

/// Replaces the user's recovery codes with fresh ones; the new codes.
async fn replace_recovery_codes(conn: &mut sqlx::PgConnection, user_id: Uuid) -> ApiResult<Vec<String>> {
    let codes = twofactor::generate_recovery_codes();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| {
            twofactor::recovery_code_hash(c).ok_or_else(|| ApiError::internal("a new recovery code does not read back"))
        })
        .collect::<ApiResult<_>>()?;
    let ids: Vec<Uuid> = codes.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query!("delete from user_recovery_codes where user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "insert into user_recovery_codes (id, user_id, code_hash) \
         select id, $1, code_hash from unnest($2::uuid[], $3::bytea[]) as u(id, code_hash)",
        user_id,
        &ids,
        &hashes,
    )
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

/// An answer that carries a secret: never cached.
fn no_store(body: impl Serialize) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

fn not_enabled() -> ApiError {
    ApiError::conflict("two-factor sign-in is not enabled")
}

#[utoipa::path(get, path = "/api/account/2fa", tag = "accounts",
    responses((status = 200, body = TwoFactorStatus)))]
async fn get_two_factor(Caller { state, user }: Caller) -> ApiResult<Json<TwoFactorStatus>> {
    let row = sqlx::query!(
        r#"select (select enabled_at from user_totp where user_id = $1) as enabled_at,
                  (select count(*) from user_recovery_codes where user_id = $1 and used_at is null) as "left!""#,
        user.id
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(TwoFactorStatus {
        enabled: row.enabled_at.is_some(),
        enabled_at: row.enabled_at,
        recovery_codes_left: row.left,
    }))
}

#[utoipa::path(post, path = "/api/account/2fa/setup", tag = "accounts",
    description = "Starts (or restarts) enrolment: a new secret, pending until `enable` receives a correct code. \
        The secret is shown only here; it is stored encrypted.",
    responses((status = 200, body = TwoFactorSetup, description = "the pending secret, its otpauth URL and QR code (`Cache-Control: no-store`)"),
        (status = 409, description = "two-factor sign-in is already enabled (disable it first)"),
        (status = 503, description = "the server has no PINGTOWER_SECRET_KEY to encrypt the secret with, or the database is unavailable")))]
async fn setup_two_factor(Caller { state, user }: Caller) -> ApiResult<Response> {
    let key = sealing_key(&state)?;
    let secret = TotpSecret::generate();
    let otpauth_url = twofactor::otpauth_url(&secret, &user.email)?;
    let qr_svg = twofactor::qr_svg(&otpauth_url)?;
    let stored = sqlx::query_scalar!(
        "insert into user_totp (user_id, secret) values ($1, $2) \
         on conflict (user_id) do update set secret = excluded.secret, last_step = null, updated_at = now() \
         where user_totp.enabled_at is null returning user_id",
        user.id,
        key.seal(&secret),
    )
    .fetch_optional(&state.pool)
    .await?;
    if stored.is_none() {
        return Err(ApiError::conflict(
            "two-factor sign-in is already enabled; disable it before enrolling another authenticator",
        ));
    }
    Ok(no_store(TwoFactorSetup {
        secret: secret.base32().to_owned(),
        otpauth_url,
        qr_svg,
    }))
}

#[utoipa::path(post, path = "/api/account/2fa/enable", tag = "accounts", request_body = TwoFactorCode,
    description = "Enables two-factor sign-in with a first code of the pending secret. Every other session of the \
        user is revoked (the caller's own session stays); API tokens are not affected.",
    responses((status = 200, body = TwoFactorEnabled, description = "enabled; the 10 recovery codes, shown only here (`Cache-Control: no-store`)"),
        (status = 409, description = "already enabled, or no setup to enable (call setup first)"),
        (status = 422, description = "the code is wrong or outside the window (`field: code`)"),
        (status = 429, description = "too many wrong codes or passwords of this account from this client; see Retry-After")))]
async fn enable_two_factor(
    Caller { state, user }: Caller,
    client: ClientIp,
    Json(body): Json<TwoFactorCode>,
) -> ApiResult<Response> {
    check_len("code", &body.code)?;
    let mut tx = state.pool.begin().await?;
    let Some(totp) = lock_totp(&mut tx, user.id).await? else {
        return Err(ApiError::conflict(
            "no two-factor setup to enable: start with POST /api/account/2fa/setup",
        ));
    };
    if totp.enabled_at.is_some() {
        return Err(ApiError::conflict("two-factor sign-in is already enabled"));
    }
    let (attempt, account_key) = reserve_code_attempt(&state, &user, &client)?;
    let secret = open_secret(&state, &totp.secret)?;
    let Some(step) = twofactor::verify_code(&secret, &body.code, state.config.api.clock.now())? else {
        attempt.failed();
        return Err(ApiError::validation("code", wrong_factor(Factor::Code(&body.code))));
    };
    attempt.succeeded(&account_key);
    let enabled_at = sqlx::query_scalar!(
        r#"update user_totp set enabled_at = now(), last_step = $2, updated_at = now()
           where user_id = $1 returning enabled_at as "enabled_at!""#,
        user.id,
        step
    )
    .fetch_one(&mut *tx)
    .await?;
    let recovery_codes = replace_recovery_codes(&mut tx, user.id).await?;
    // Sessions made before enrolment end: whoever held one never passed the second factor.
    crate::http::accounts::revoke_other_sessions(&mut tx, &user).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "two-factor sign-in enabled");
    Ok(no_store(TwoFactorEnabled {
        enabled_at,
        recovery_codes,
    }))
}

#[utoipa::path(post, path = "/api/account/2fa/disable", tag = "accounts", request_body = TwoFactorDisable,
    description = "Turns two-factor sign-in off: the password and a current code (or a recovery code) are needed. \
        The secret and the recovery codes are deleted.",
    responses((status = 204, description = "disabled"),
        (status = 401, description = "not signed in, or the password is wrong (`field: password`)"),
        (status = 409, description = "two-factor sign-in is not enabled"),
        (status = 422, description = "no factor, both, or a wrong one (`field: code` or `recovery_code`)"),
        (status = 429, description = "too many wrong codes or passwords of this account from this client; see Retry-After"),
        (status = 503, description = "the password hash queue is full (see Retry-After), or the database is unavailable")))]
async fn disable_two_factor(
    Caller { state, user }: Caller,
    client: ClientIp,
    Json(body): Json<TwoFactorDisable>,
) -> ApiResult<StatusCode> {
    let factor = factor(&body.code, &body.recovery_code)?;
    let wrong_password = || ApiError {
        field: Some("password".into()),
        ..ApiError::unauthorized_because("the password is wrong")
    };
    let enabled = sqlx::query_scalar!(
        r#"select exists (select 1 from user_totp where user_id = $1 and enabled_at is not null) as "enabled!""#,
        user.id
    )
    .fetch_one(&state.pool)
    .await?;
    if !enabled {
        return Err(not_enabled());
    }
    let (attempt, account_key) = reserve_code_attempt(&state, &user, &client)?;
    if body.password.chars().count() > MAX_PASSWORD_LEN {
        attempt.failed();
        return Err(wrong_password());
    }
    // An account without a password (single sign-on) has none to give: refused like a wrong one.
    let hash: String = sqlx::query_scalar!("select password_hash from users where id = $1", user.id)
        .fetch_one(&state.pool)
        .await?
        .unwrap_or_else(|| crate::passwords::DUMMY_HASH.to_owned());
    if !verify_password(&state, body.password, hash).await? {
        attempt.failed();
        return Err(wrong_password());
    }
    let mut tx = state.pool.begin().await?;
    let Some(totp) = lock_totp(&mut tx, user.id).await?.filter(|t| t.enabled_at.is_some()) else {
        return Err(not_enabled());
    };
    if !check_factor(&state, &mut tx, user.id, &totp, factor).await? {
        attempt.failed();
        return Err(ApiError::validation(factor.field(), wrong_factor(factor)));
    }
    attempt.succeeded(&account_key);
    sqlx::query!("delete from user_totp where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("delete from user_recovery_codes where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("delete from login_challenges where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "two-factor sign-in disabled");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/account/2fa/recovery-codes", tag = "accounts", request_body = TwoFactorCode,
    description = "Replaces the recovery codes with 10 new ones (the old ones stop working); needs a current code.",
    responses((status = 200, body = RecoveryCodes, description = "the new codes, shown only here (`Cache-Control: no-store`)"),
        (status = 409, description = "two-factor sign-in is not enabled"),
        (status = 422, description = "the code is wrong, outside the window or already used (`field: code`)"),
        (status = 429, description = "too many wrong codes or passwords of this account from this client; see Retry-After")))]
async fn regenerate_recovery_codes(
    Caller { state, user }: Caller,
    client: ClientIp,
    Json(body): Json<TwoFactorCode>,
) -> ApiResult<Response> {
    check_len("code", &body.code)?;
    let mut tx = state.pool.begin().await?;
    let Some(totp) = lock_totp(&mut tx, user.id).await?.filter(|t| t.enabled_at.is_some()) else {
        return Err(not_enabled());
    };
    let (attempt, account_key) = reserve_code_attempt(&state, &user, &client)?;
    let factor = Factor::Code(&body.code);
    if !check_factor(&state, &mut tx, user.id, &totp, factor).await? {
        attempt.failed();
        return Err(ApiError::validation("code", wrong_factor(factor)));
    }
    attempt.succeeded(&account_key);
    let recovery_codes = replace_recovery_codes(&mut tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "recovery codes replaced");
    Ok(no_store(RecoveryCodes { recovery_codes }))
}

#[utoipa::path(post, path = "/api/auth/login/2fa", tag = "accounts", request_body = SecondFactor,
    description = "The login's second step, for accounts with two-factor sign-in: the challenge the login answered \
        and a current code (each time step is accepted once) or an unused recovery code. Answers like a login \
        without two-factor sign-in. A challenge lasts 5 minutes, is used once, and takes 5 codes at most.",
    responses((status = 200, body = User, description = "signed in: the session cookie is set",
            headers(("Set-Cookie" = String, description = "the session cookie `pt_session`"))),
        (status = 401, description = "the challenge is unknown, used, expired or out of attempts (`field: challenge`: sign in with \
            the password again), or the factor is wrong (`field: code` or `recovery_code`)"),
        (status = 422, description = "no factor, both, or an overlong one; `field` names it"),
        (status = 429, description = "too many wrong codes from this client (for this account); see Retry-After")))]
async fn login_second_factor(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Json(body): Json<SecondFactor>,
) -> ApiResult<Response> {
    let factor = factor(&body.code, &body.recovery_code)?;
    let bad_challenge = |message: &str| ApiError {
        field: Some("challenge".into()),
        ..ApiError::unauthorized_because(message)
    };
    let unknown = "this sign-in is unknown, used or expired; sign in with your password again";
    if body.challenge.len() > MAX_CHALLENGE_LEN {
        return Err(bad_challenge(unknown));
    }
    let challenge_hash = auth::hash_secret(&body.challenge);
    let user_id = sqlx::query_scalar!(
        "select user_id from login_challenges where token_hash = $1 and used_at is null and expires_at > now()",
        challenge_hash
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| bad_challenge(unknown))?;
    // Wrong codes are counted before the code is checked, as passwords are: per client and per
    // (account, client) here, never per account alone (no lockout of the owner)…
    let edge = &state.edge;
    let account_key = format!("2fa-account:{user_id}|{}", client.key());
    let attempt = edge
        .login_limiter
        .reserve(&[
            (format!("2fa-client:{}", client.key()), edge.login_client_limit),
            (account_key.clone(), edge.login_account_limit),
        ])
        .map_err(|wait| {
            metrics::counter!(crate::telemetry::LOGIN_RATE_LIMITED).increment(1);
            ApiError::rate_limited(wait.as_secs().max(1))
        })?;
    // … and per challenge in the database (whichever backend answers): then the password again.
    let claimed = sqlx::query_scalar!(
        "update login_challenges set attempts = attempts + 1 \
         where token_hash = $1 and used_at is null and expires_at > now() and attempts < $2 returning id",
        challenge_hash,
        CHALLENGE_ATTEMPTS,
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(challenge_id) = claimed else {
        return Err(bad_challenge(
            "too many wrong codes for this sign-in; sign in with your password again",
        ));
    };
    let mut tx = state.pool.begin().await?;
    let Some(totp) = lock_totp(&mut tx, user_id).await?.filter(|t| t.enabled_at.is_some()) else {
        // Disabled since the password was checked: the challenge means nothing now.
        return Err(bad_challenge(unknown));
    };
    if !check_factor(&state, &mut tx, user_id, &totp, factor).await? {
        attempt.failed();
        return Err(ApiError {
            field: Some(factor.field().into()),
            ..ApiError::unauthorized_because(wrong_factor(factor))
        });
    }
    let used = sqlx::query!(
        "update login_challenges set used_at = now() where id = $1 and used_at is null",
        challenge_id
    )
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() == 0 {
        // Another request completed this sign-in first.
        return Err(bad_challenge(unknown));
    }
    tx.commit().await?;
    attempt.succeeded(&account_key);
    let cookie = accounts::start_session(&state, user_id, &headers, client.0).await?;
    let user = accounts::load_user(&state, user_id).await?;
    Ok(([(header::SET_COOKIE, cookie)], Json(user)).into_response())
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        get_two_factor,
        setup_two_factor,
        enable_two_factor,
        disable_two_factor,
        regenerate_recovery_codes,
        login_second_factor
    ),
    components(schemas(
        TwoFactorStatus,
        TwoFactorSetup,
        TwoFactorCode,
        TwoFactorEnabled,
        RecoveryCodes,
        TwoFactorDisable,
        SecondFactor,
        TwoFactorChallenge,
        LoginAnswer
    ))
)]
pub struct Doc;
