//! Single sign-on routes: `GET /api/auth/oidc/login` sends the browser to the OpenID provider
//! and `GET /api/auth/oidc/callback` signs it in when it comes back.
//!
//! A sign-in in progress is a row of `oidc_logins`, keyed by the SHA-256 of its `state` and
//! deleted by the first callback that names it, so a `state` is used once at most (a replay
//! finds nothing) and expires after [`SIGN_IN_TTL`]. The PKCE verifier stays in the browser
//! that started the sign-in, in the `pt_oidc` cookie (HttpOnly, only sent to these routes);
//! the row keeps its hash, so a callback from another browser (login CSRF) is refused too.
//!
//! The account: the (issuer, subject) identity's linked account; else the account with the
//! same email, only when the provider verified the email; else a new account without a
//! password (unless `PINGTOWER_OIDC_SIGN_UP=false`). An unverified email that belongs to an
//! account is refused, never matched. The role the provider's claim maps to is stored in
//! `users.oidc_role` at every sign-in.
//!
//! Every callback ends in a redirect: to `/` with the session cookie, or to
//! `/login?error=<code>` (the codes are [`crate::oidc::SignInError::code`] and those of
//! [`Refusal`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Query};
use crate::http::accounts::{create_account, start_session};
use crate::http::auth::{cookie_in, hash_secret};
use crate::oidc::{Identity, Provider};
use crate::ratelimit::{ClientIp, RateLimiter};
use crate::state::AppState;
use crate::validate::normalise_email;

/// The cookie that holds a sign-in's PKCE verifier between the two routes.
pub const SIGN_IN_COOKIE: &str = "pt_oidc";
/// How long a sign-in may take at the provider.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(600);
/// Sign-ins in progress at most (a flood of starts cannot grow the table without bound).
pub const MAX_PENDING_SIGN_INS: i64 = 10_000;
/// Sign-ins one client address may start per minute.
pub const SIGN_INS_PER_MINUTE: u32 = 30;
/// Longest `code` and `state` read from the callback.
const MAX_CODE_BYTES: usize = 4096;
const MAX_STATE_BYTES: usize = 512;

/// What the routes share: the provider (none: single sign-on is not configured) and the limit
/// of starts per client.
struct Sso {
    provider: Option<Provider>,
    limiter: RateLimiter,
}

/// The single sign-on routes for `state`'s configuration.
pub fn router(state: &AppState) -> Router<AppState> {
    let api = &state.config.api;
    let provider = match Provider::new(&api.sign_in, &api.public_url, api.clock) {
        Ok(provider) => provider,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "single sign-on is configured but cannot start"
            );
            None
        }
    };
    if provider.is_none() && !api.sign_in.password_login {
        tracing::warn!("PINGTOWER_PASSWORD_LOGIN=false without single sign-on: nobody can sign in");
    }
    let sso = Arc::new(Sso {
        provider,
        limiter: RateLimiter::new(SIGN_INS_PER_MINUTE, Duration::from_secs(60)),
    });
    Router::new()
        .route("/api/auth/oidc/login", get(start_sign_in))
        .route("/api/auth/oidc/callback", get(finish_sign_in))
        .layer(Extension(sso))
}

fn not_configured() -> ApiError {
    ApiError {
        message: "single sign-on is not configured on this installation".into(),
        ..ApiError::not_found()
    }
}

/// The `pt_oidc` cookie carrying `value` for `max_age` (zero: removed).
fn sign_in_cookie(state: &AppState, value: &str, max_age: Duration) -> HeaderValue {
    let secure = if state.config.api.cookie_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SIGN_IN_COOKIE}={value}; Path=/api/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    ))
    .expect("a cookie of URL-safe characters")
}

fn redirect(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = (StatusCode::FOUND, [(header::CACHE_CONTROL, "no-store")]).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(location).expect("a location of URL-safe characters"),
    );
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    response
}

/// The sign-in page with `code` (and the sign-in cookie removed).
fn refused(state: &AppState, code: &str) -> Response {
    redirect(
        &format!("/login?error={code}"),
        &[sign_in_cookie(state, "", Duration::ZERO)],
    )
}

#[utoipa::path(get, path = "/api/auth/oidc/login", tag = "accounts",
    summary = "Start single sign-on: redirects to the OpenID provider",
    responses(
        (status = 302, description = "to the provider's authorization endpoint (code flow, PKCE S256, state, nonce), \
            setting the `pt_oidc` cookie; or, when the provider cannot be reached, to `/login?error=provider_unavailable`",
            headers(("Location" = String, description = "where to go"))),
        (status = 404, description = "single sign-on is not configured"),
        (status = 429, description = "too many sign-ins started from this client; see Retry-After"),
        (status = 503, description = "too many sign-ins in progress; try again")))]
async fn start_sign_in(
    State(state): State<AppState>,
    Extension(sso): Extension<Arc<Sso>>,
    client: ClientIp,
) -> ApiResult<Response> {
    let Some(provider) = &sso.provider else {
        return Err(not_configured());
    };
    if let Err(wait) = sso.limiter.check(&client.key()) {
        return Err(ApiError::rate_limited(wait.as_secs().max(1)));
    }
    let started = match provider.start().await {
        Ok(started) => started,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on cannot start");
            return Ok(refused(&state, error.code()));
        }
    };
    sqlx::query!("delete from oidc_logins where expires_at < now()")
        .execute(&state.pool)
        .await?;
    let stored = sqlx::query!(
        "insert into oidc_logins (state_hash, browser_hash, nonce, expires_at) \
         select $1, $2, $3, now() + make_interval(secs => $4) \
         where (select count(*) from oidc_logins) < $5",
        hash_secret(&started.state),
        hash_secret(&started.pkce_verifier),
        started.nonce,
        SIGN_IN_TTL.as_secs_f64(),
        MAX_PENDING_SIGN_INS,
    )
    .execute(&state.pool)
    .await?;
    if stored.rows_affected() == 0 {
        return Err(ApiError::unavailable(
            "too many sign-ins in progress; try again in a few minutes",
        ));
    }
    Ok(redirect(
        started.url.as_str(),
        &[sign_in_cookie(&state, &started.pkce_verifier, SIGN_IN_TTL)],
    ))
}

/// What the provider sends the browser back with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Callback {
    /// The authorization code.
    #[param(max_length = 4096)]
    code: Option<String>,
    /// The `state` of the sign-in.
    #[param(max_length = 512)]
    state: Option<String>,
    /// The provider's error (the user refused, ...), instead of a code.
    #[param(max_length = 256)]
    error: Option<String>,
    /// The issuer that answers (RFC 9207); when present it must be the configured one.
    #[param(max_length = 2048)]
    iss: Option<String>,
}

/// A callback refused before or after the provider's checks; its code is the sign-in page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No code or state, or one too long.
    InvalidRequest,
    /// The provider answered with an error (the user refused, ...).
    Denied,
    /// The state is unknown, used already or expired.
    InvalidState,
    /// The sign-in was started by another browser (no or another `pt_oidc` cookie).
    BrowserMismatch,
    /// The answer names another issuer.
    IssuerMismatch,
    /// The provider gave no email for an identity that is not linked yet.
    EmailMissing,
    /// The provider's email is not an email address.
    EmailInvalid,
    /// The email belongs to an account but the provider has not verified it.
    EmailNotVerified,
    /// The account of the verified email is linked to another identity of this provider.
    AccountLinked,
    /// No account matches and sign-ups by single sign-on are off.
    SignUpClosed,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Denied => "access_denied",
            Self::InvalidState => "invalid_state",
            Self::BrowserMismatch => "browser_mismatch",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::EmailMissing => "email_missing",
            Self::EmailInvalid => "email_invalid",
            Self::EmailNotVerified => "email_not_verified",
            Self::AccountLinked => "account_linked",
            Self::SignUpClosed => "sign_up_closed",
        }
    }
}

#[utoipa::path(get, path = "/api/auth/oidc/callback", tag = "accounts",
    summary = "Finish single sign-on (the provider redirects the browser here)",
    params(Callback),
    responses(
        (status = 302, description = "signed in: to `/` with the session cookie; refused: to `/login?error=<code>` \
            (invalid_request, access_denied, invalid_state, browser_mismatch, issuer_mismatch, provider_unavailable, \
            token_exchange_failed, id_token_missing, id_token_signature, id_token_expired, id_token_nonce, \
            id_token_invalid, userinfo_failed, email_missing, email_invalid, email_not_verified, account_linked, \
            sign_up_closed)",
            headers(("Location" = String, description = "where to go"))),
        (status = 404, description = "single sign-on is not configured")))]
async fn finish_sign_in(
    State(state): State<AppState>,
    Extension(sso): Extension<Arc<Sso>>,
    client: ClientIp,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> ApiResult<Response> {
    let Some(provider) = &sso.provider else {
        return Err(not_configured());
    };
    match sign_in(&state, provider, &callback, &headers).await? {
        Ok(user_id) => {
            let session = start_session(&state, user_id, &headers, client.0).await?;
            tracing::info!(user_id = %user_id, "signed in with single sign-on");
            Ok(redirect("/", &[session, sign_in_cookie(&state, "", Duration::ZERO)]))
        }
        Err(code) => Ok(refused(&state, code)),
    }
}

/// The account the callback signs in to, or the code of its refusal.
async fn sign_in(
    state: &AppState,
    provider: &Provider,
    callback: &Callback,
    headers: &HeaderMap,
) -> ApiResult<Result<Uuid, &'static str>> {
    let Some(sent_state) = callback
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= MAX_STATE_BYTES)
    else {
        return Ok(Err(Refusal::InvalidRequest.code()));
    };
    // The sign-in is consumed whatever follows: its state is good for one callback.
    let pending = sqlx::query!(
        r#"delete from oidc_logins where state_hash = $1
           returning browser_hash, nonce, expires_at > now() as "live!""#,
        hash_secret(sent_state),
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(pending) = pending.filter(|p| p.live) else {
        return Ok(Err(Refusal::InvalidState.code()));
    };
    let verifier = cookie_in(headers, SIGN_IN_COOKIE).unwrap_or_default();
    if verifier.is_empty() || hash_secret(verifier) != pending.browser_hash {
        return Ok(Err(Refusal::BrowserMismatch.code()));
    }
    if callback.error.is_some() {
        return Ok(Err(Refusal::Denied.code()));
    }
    if callback.iss.as_deref().is_some_and(|iss| iss != provider.issuer()) {
        return Ok(Err(Refusal::IssuerMismatch.code()));
    }
    let Some(code) = callback
        .code
        .clone()
        .filter(|c| !c.is_empty() && c.len() <= MAX_CODE_BYTES)
    else {
        return Ok(Err(Refusal::InvalidRequest.code()));
    };
    let identity = match provider.finish(code, verifier.to_owned(), pending.nonce).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on refused");
            return Ok(Err(error.code()));
        }
    };
    Ok(account(state, &identity).await?.map_err(Refusal::code))
}

/// The account `identity` signs in to (linked, matched by a verified email, or created), with
/// its mapped role stored.
async fn account(state: &AppState, identity: &Identity) -> ApiResult<Result<Uuid, Refusal>> {
    let mut tx = state.pool.begin().await?;
    // One single sign-on decision at a time: two first sign-ins of one identity make one account.
    sqlx::query!("select from pg_advisory_xact_lock(hashtext('pingtower.oidc'))")
        .execute(&mut *tx)
        .await?;
    let email = match identity.email.as_deref().map(normalise_email) {
        Some(Ok(email)) => Some(email),
        Some(Err(_)) => None,
        None => None,
    };
    let linked = sqlx::query_scalar!(
        "update oidc_identities set last_login_at = now(), email = $3 \
         where issuer = $1 and subject = $2 returning user_id",
        identity.issuer,
        identity.subject,
        email,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let user_id = match linked {
        Some(user_id) => user_id,
        None => {
            let Some(email) = email else {
                return Ok(Err(if identity.email.is_some() {
                    Refusal::EmailInvalid
                } else {
                    Refusal::EmailMissing
                }));
            };
            let existing = sqlx::query_scalar!("select id from users where email = $1", email)
                .fetch_optional(&mut *tx)
                .await?;
            let user_id = match existing {
                Some(user_id) if identity.email_verified => user_id,
                Some(_) => return Ok(Err(Refusal::EmailNotVerified)),
                None if !state.config.api.sign_in.oidc_sign_up => return Ok(Err(Refusal::SignUpClosed)),
                None => match create_account(&mut tx, &email, None, true).await {
                    Ok(user) => {
                        tracing::info!(user_id = %user.id, is_admin = user.is_admin, "user registered by single sign-on");
                        user.id
                    }
                    // Registered with a password meanwhile: not verified as theirs.
                    Err(e) if e.status == StatusCode::CONFLICT => return Ok(Err(Refusal::EmailNotVerified)),
                    Err(e) => return Err(e),
                },
            };
            let linked = sqlx::query!(
                "insert into oidc_identities (issuer, subject, user_id, email) values ($1, $2, $3, $4) \
                 on conflict do nothing",
                identity.issuer,
                identity.subject,
                user_id,
                email,
            )
            .execute(&mut *tx)
            .await?;
            if linked.rows_affected() == 0 {
                return Ok(Err(Refusal::AccountLinked));
            }
            user_id
        }
    };
    sqlx::query!(
        "update users set oidc_role = $2, updated_at = now() where id = $1",
        user_id,
        identity.role,
    )
    .execute(&mut *tx)
    .await?;
    if let Some(org) = state.config.api.sign_in.oidc_organisation {
        map_membership(&mut tx, org, user_id, identity.role).await?;
    }
    tx.commit().await?;
    Ok(Ok(user_id))
}

/// Makes `user`'s membership of the team organisation `org` follow the provider's mapped
/// `role`: joined or changed with one (never to owner: at most admin), removed without one. The
/// organisation's owner keeps ownership; a personal organisation is never touched.
async fn map_membership(
    tx: &mut sqlx::PgConnection,
    org: Uuid,
    user: Uuid,
    role: Option<&'static str>,
) -> Result<(), sqlx::Error> {
    match role.map(|r| if r == "owner" { "admin" } else { r }) {
        Some(role) => {
            sqlx::query!(
                "insert into memberships (org_id, user_id, role) \
                 select id, $2, $3 from organisations where id = $1 and not personal \
                 on conflict (org_id, user_id) do update set role = excluded.role where memberships.role <> 'owner'",
                org,
                user,
                role
            )
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query!(
                "delete from memberships where org_id = $1 and user_id = $2 and role <> 'owner' \
                 and not exists (select 1 from organisations where id = $1 and personal)",
                org,
                user
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(start_sign_in, finish_sign_in))]
pub struct Doc;
