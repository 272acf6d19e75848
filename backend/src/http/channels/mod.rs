//! Notification channels: the list, Telegram link tokens, email channels with their
//! verification and unsubscribe links, per-target routing; channels of the other kinds and
//! every change ([`edit`]); a test message through the notifier ([`test`]). The notifier
//! reads these tables and does the sending.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, patch, post};
use channels::Routing;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::access::Action;
use crate::error::owned_delete;
use crate::error::{ApiError, ApiResult, Form, Json, Path, Query};
use crate::http::auth::{self, Caller};
use crate::http::pagination::page_of;
use crate::state::AppState;

/// The shortest time between two tests of one channel.
pub const TEST_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a Telegram link token is valid.
pub const LINK_TOKEN_TTL_MINUTES: i64 = 10;

/// The channel routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/channels", get(list_channels).post(edit::create_channel))
        .route("/api/channels/kinds", get(edit::list_kinds))
        .route("/api/channels/telegram/link", post(create_link_token))
        .route("/api/channels/email", post(create_email_channel))
        .route("/api/channels/verify", get(verify_page).post(verify_email))
        .route("/api/channels/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/api/channels/{id}", patch(edit::update_channel).delete(delete_channel))
        .route("/api/channels/{id}/test", post(test::test_channel))
        .route(
            "/api/targets/{id}/channels",
            get(get_target_channels).put(put_target_channels),
        )
}

/// A notification channel.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Channel {
    /// Id.
    pub id: Uuid,
    /// Its kind.
    #[schema(value_type = channels::Kind)]
    pub kind: String,
    /// Chat id or email address; for the other kinds what the dashboard shows (never a
    /// secret: the webhook URL itself is one).
    pub address: String,
    /// A label to recognise it by.
    pub label: Option<String>,
    /// Whether alerts may be sent (email verified; the other kinds always).
    pub verified: bool,
    /// Whether it is enabled (not disabled by an unsubscribe, a blocked bot, repeated
    /// permanent failures or its owner).
    pub enabled: bool,
    /// Why it is disabled (unsubscribed, bot blocked…), if it is.
    pub disabled_reason: Option<String>,
    /// Alerts are held until then.
    pub muted_until: Option<DateTime<Utc>>,
    /// The kind's settings as stored (`{}` for Telegram and email).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// The names of the secrets that are set (never their values).
    pub secrets: Vec<String>,
    /// Its routing rules.
    pub routing: Routing,
    /// The last failure of a send, if any.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A [`Channel`] as read from its row.
#[derive(Debug)]
struct ChannelRow {
    id: Uuid,
    kind: String,
    address: String,
    label: Option<String>,
    verified: bool,
    enabled: bool,
    disabled_reason: Option<String>,
    muted_until: Option<DateTime<Utc>>,
    settings: Value,
    secrets: Vec<String>,
    routing: Value,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            address: r.address,
            label: r.label,
            verified: r.verified,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            muted_until: r.muted_until,
            settings: r.settings,
            secrets: r.secrets,
            routing: Routing::from_stored(&r.routing),
            last_error: r.last_error,
            last_error_at: r.last_error_at,
            created_at: r.created_at,
        }
    }
}

/// A query into [`ChannelRow`]s: `$head` and `$tail` around the channel columns (one list for
/// the select, the insert and the update, checked at build time).
macro_rules! query_channels {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            ChannelRow,
            $head
                + r#"id, kind, address, label, verified_at is not null as "verified!",
                   disabled_at is null as "enabled!",
                   case when disabled_at is not null then coalesce(disabled_reason, 'disabled') end as disabled_reason,
                   muted_until, settings, secret_names as secrets, routing, last_error, last_error_at, created_at "#
                + $tail
            $(, $arg)*
        )
    };
}

mod edit;
mod test;

page_of!(
    /// The channels (not paginated).
    ChannelList,
    Channel
);

#[utoipa::path(get, path = "/api/channels", tag = "channels", responses((status = 200, body = ChannelList)))]
async fn list_channels(Caller { state, user }: Caller) -> ApiResult<Json<ChannelList>> {
    let org = user.may(Action::Read)?;
    let items: Vec<Channel> = query_channels!(
        "select ",
        "from notification_channels where owner_id = $1 order by created_at",
        org
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(Channel::from)
    .collect();
    Ok(Json(ChannelList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

/// A Telegram link token.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkToken {
    /// The token (128-bit, single use).
    pub token: String,
    /// `https://t.me/<bot>?start=<token>`.
    pub link: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A single-use link for the Telegram bot: the chat that opens it becomes a channel of the
/// current organisation (of a personal organisation: a personal channel).
#[utoipa::path(post, path = "/api/channels/telegram/link", tag = "channels",
    responses((status = 201, body = LinkToken), (status = 422, description = "the channel quota is reached (`field` max_channels)"),
        (status = 503, description = "no Telegram bot configured")))]
async fn create_link_token(Caller { state, user }: Caller) -> ApiResult<(StatusCode, Json<LinkToken>)> {
    let org = user.may(Action::Manage)?;
    let Some(bot) = state.config.api.telegram_bot_username.as_deref() else {
        return Err(ApiError::unavailable(
            "no Telegram bot is configured (PINGTOWER_TELEGRAM_BOT_USERNAME)",
        ));
    };
    let bot = bot.trim_start_matches('@');
    // A linked chat becomes a channel: no link once the channel quota is reached.
    let mut tx = state.pool.begin().await?;
    crate::quotas::reserve(&mut tx, &state, org, crate::quotas::Counted::Channels, 1).await?;
    tx.rollback().await?;
    let token = auth::new_short_secret();
    let expires_at: DateTime<Utc> = sqlx::query_scalar!(
        "insert into telegram_link_tokens (token_hash, user_id, org_id, expires_at) \
         values ($1, $2, $4, now() + make_interval(mins => $3)) returning expires_at",
        auth::hash_secret(&token),
        user.id,
        LINK_TOKEN_TTL_MINUTES as i32,
        org
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(LinkToken {
            link: format!("https://t.me/{bot}?start={token}"),
            token,
            expires_at,
        }),
    ))
}

/// A new email channel.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewEmailChannel {
    /// The address.
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f.][^@\s\x00-\x1f\x7f-\x9f]*\.[^@\s\x00-\x1f\x7f-\x9f]*[^@\s\x00-\x1f\x7f-\x9f.]$"
    )]
    pub address: String,
    /// Optional label (at most 100 characters, no control characters).
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub label: Option<String>,
}

#[utoipa::path(post, path = "/api/channels/email", tag = "channels", request_body = NewEmailChannel,
    responses((status = 201, body = Channel), (status = 409),
        (status = 422, description = "invalid, or over the channel quota (`field` max_channels)")))]
async fn create_email_channel(
    Caller { state, user }: Caller,
    body: Result<Json<NewEmailChannel>, ApiError>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let address =
        crate::validate::normalise_email(&body.address).map_err(|e| ApiError::validation("address", e.message))?;
    let label = match body.label.as_deref() {
        Some(l) if !l.trim().is_empty() => Some(crate::validate::text("label", l, 100)?),
        _ => None,
    };
    let mut tx = state.pool.begin().await?;
    crate::quotas::reserve(&mut tx, &state, org, crate::quotas::Counted::Channels, 1).await?;
    let channel: Option<ChannelRow> = query_channels!(
        "insert into notification_channels (id, user_id, kind, address, label, owner_id) values ($1, $2, 'email', $3, $4, $5) \
         on conflict (user_id, kind, address) where kind in ('telegram', 'email') do nothing returning ",
        "",
        Uuid::now_v7(),
        user.id,
        &address,
        label,
        org
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let channel = channel.ok_or_else(|| ApiError {
        field: Some("address".into()),
        ..ApiError::conflict("you have this address already")
    })?;
    Ok((StatusCode::CREATED, Json(channel.into())))
}

/// A token from a mail.
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The token of the mail's link.
    #[schema(min_length = 1, max_length = 256)]
    #[param(min_length = 1, max_length = 256)]
    pub token: String,
}

/// Longest mail link token read (ours are 22 characters).
const MAX_LINK_TOKEN: usize = 256;

/// A small page (no script, no inline style: it works under the dashboard's CSP). `form` is
/// `(action, token, button)`: a button that POSTs the token back.
fn page(title: &str, text: &str, form: Option<(&str, &str, &str)>, status: StatusCode) -> Response {
    let form = form.map_or_else(String::new, |(action, token, button)| {
        format!(
            "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button type=\"submit\">{button}</button></form>",
            common::html::escape(token)
        )
    });
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>PingTower — {title}</title></head><body><h1>{title}</h1><p>{text}</p>{form}\
         <p><a href=\"/\">PingTower</a></p></body></html>"
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn link_token(raw: &str) -> Option<&str> {
    let token = raw.trim();
    (!token.is_empty() && token.len() <= MAX_LINK_TOKEN).then_some(token)
}

/// The two links of a mail and their pages.
#[derive(Debug, Clone, Copy)]
enum MailLink {
    /// Confirms a new email channel.
    Verification,
    /// Stops alerts to an address.
    Unsubscribe,
}

impl MailLink {
    /// The page the link opens: a button that POSTs its token (opening it changes nothing).
    fn landing(self, raw_token: &str) -> Response {
        let Some(token) = link_token(raw_token) else {
            return self.outcome(false);
        };
        let (title, text, action, button) = match self {
            MailLink::Verification => (
                "Confirm this address",
                "Press the button to receive PingTower alerts at this address.",
                "verify",
                "Confirm address",
            ),
            MailLink::Unsubscribe => (
                "Unsubscribe",
                "Press the button to stop PingTower alerts to this address.",
                "unsubscribe",
                "Unsubscribe",
            ),
        };
        // Relative: the page is served where the mail's link points, under any path prefix.
        page(title, text, Some((action, token, button)), StatusCode::OK)
    }

    /// The POST of the landing page's button: verifies the address, or unsubscribes it, whose
    /// link carries `raw_token`.
    async fn redeem(self, state: &AppState, raw_token: &str) -> ApiResult<Response> {
        let Some(token) = link_token(raw_token) else {
            return Ok(self.outcome(false));
        };
        let matched = match self {
            MailLink::Verification => {
                sqlx::query!(
                    "update notification_channels set verified_at = now(), verification_token_hash = null, updated_at = now() \
                     where verification_token_hash = $1 and verified_at is null \
                     and (verification_expires_at is null or verification_expires_at > now())",
                    auth::hash_secret(token)
                )
                .execute(&state.pool)
                .await?
                .rows_affected()
                    == 1
            }
            MailLink::Unsubscribe => {
                sqlx::query!(
                    "update notification_channels set disabled_at = coalesce(disabled_at, now()), disabled_reason = 'unsubscribed', \
                     updated_at = now() where unsubscribe_token_hash = $1", auth::hash_secret(token)
                )
                .execute(&state.pool)
                .await?
                .rows_affected()
                    >= 1
            }
        };
        Ok(self.outcome(matched))
    }

    /// The page after the POST: done when the token matched, else the invalid-link page.
    fn outcome(self, matched: bool) -> Response {
        let (what, title, text) = match self {
            MailLink::Verification => (
                "verification",
                "Address verified",
                "Alerts will now reach this address.",
            ),
            MailLink::Unsubscribe => (
                "unsubscribe",
                "Unsubscribed",
                "This address gets no more PingTower alerts.",
            ),
        };
        if matched {
            page(title, text, None, StatusCode::OK)
        } else {
            invalid_link(what)
        }
    }
}

fn invalid_link(what: &str) -> Response {
    page(
        "Link not valid",
        &format!("This {what} link is unknown, used or expired. Add the address again in PingTower to get a new one."),
        None,
        StatusCode::NOT_FOUND,
    )
}

/// The page a verification mail links to. Opening it changes nothing (mail scanners follow
/// links); its button POSTs the token.
#[utoipa::path(get, path = "/api/channels/verify", tag = "channels", params(TokenQuery),
    responses((status = 200, content_type = "text/html", body = String, description = "a page whose button confirms the address (POST)"),
        (status = 400, description = "no `token`"), (status = 404, content_type = "text/html", body = String, description = "an empty or overlong token")))]
async fn verify_page(Query(q): Query<TokenQuery>) -> Response {
    MailLink::Verification.landing(&q.token)
}

#[utoipa::path(post, path = "/api/channels/verify", tag = "channels",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String, description = "verified"), (status = 404, content_type = "text/html", body = String, description = "unknown or expired link")))]
async fn verify_email(State(state): State<AppState>, Form(q): Form<TokenQuery>) -> ApiResult<Response> {
    MailLink::Verification.redeem(&state, &q.token).await
}

/// The page an alert mail's unsubscribe link opens. Opening it changes nothing; its button
/// POSTs the token.
#[utoipa::path(get, path = "/api/channels/unsubscribe", tag = "channels", params(TokenQuery),
    responses((status = 200, content_type = "text/html", body = String, description = "a page whose button unsubscribes (POST)"),
        (status = 400, description = "no `token`"), (status = 404, content_type = "text/html", body = String, description = "an empty or overlong token")))]
async fn unsubscribe_page(Query(q): Query<TokenQuery>) -> Response {
    MailLink::Unsubscribe.landing(&q.token)
}

#[utoipa::path(post, path = "/api/channels/unsubscribe", tag = "channels",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", body = String, description = "unsubscribed"), (status = 404, content_type = "text/html", body = String, description = "unknown link")))]
async fn unsubscribe(State(state): State<AppState>, Form(q): Form<TokenQuery>) -> ApiResult<Response> {
    MailLink::Unsubscribe.redeem(&state, &q.token).await
}

owned_delete!(
    crate::access::Action::Manage,
    #[utoipa::path(delete, path = "/api/channels/{id}", tag = "channels", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404)))]
    delete_channel,
    "delete from notification_channels where id = $1 and owner_id = $2"
);

/// A target's alert routing.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetChannels {
    /// Channels that get this target's alerts; empty = all verified channels.
    pub channel_ids: Vec<Uuid>,
}

async fn owned_target(state: &AppState, org: Uuid, id: Uuid) -> ApiResult<()> {
    let found: Option<Uuid> = sqlx::query_scalar!("select id from targets where id = $1 and owner_id = $2", id, org)
        .fetch_optional(&state.pool)
        .await?;
    found.map(|_| ()).ok_or_else(ApiError::not_found)
}

async fn routing(state: &AppState, target: Uuid) -> ApiResult<TargetChannels> {
    let channel_ids: Vec<Uuid> = sqlx::query_scalar!(
        "select channel_id from target_channels where target_id = $1 order by channel_id",
        target
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(TargetChannels { channel_ids })
}

#[utoipa::path(get, path = "/api/targets/{id}/channels", tag = "channels", params(("id" = Uuid, Path)),
    responses((status = 200, body = TargetChannels), (status = 404)))]
async fn get_target_channels(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<TargetChannels>> {
    let org = user.may(Action::Read)?;
    owned_target(&state, org, id).await?;
    Ok(Json(routing(&state, id).await?))
}

#[utoipa::path(put, path = "/api/targets/{id}/channels", tag = "channels", params(("id" = Uuid, Path)), request_body = TargetChannels,
    responses((status = 200, body = TargetChannels), (status = 404), (status = 422)))]
async fn put_target_channels(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<TargetChannels>, ApiError>,
) -> ApiResult<Json<TargetChannels>> {
    let org = user.may(Action::Edit)?;
    let Json(body) = body?;
    owned_target(&state, org, id).await?;
    let owned: Vec<Uuid> = sqlx::query_scalar!(
        "select id from notification_channels where owner_id = $1 and id = any($2)",
        org,
        &body.channel_ids
    )
    .fetch_all(&state.pool)
    .await?;
    if let Some((i, _)) = body.channel_ids.iter().enumerate().find(|(_, c)| !owned.contains(c)) {
        return Err(ApiError::validation(format!("channel_ids[{i}]"), "no such channel"));
    }
    let mut tx = state.pool.begin().await?;
    sqlx::query!("delete from target_channels where target_id = $1", id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into target_channels (target_id, channel_id) select $1, unnest($2::uuid[]) on conflict do nothing",
        id,
        &body.channel_ids
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(routing(&state, id).await?))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_channels,
        create_link_token,
        create_email_channel,
        verify_page,
        verify_email,
        unsubscribe_page,
        unsubscribe,
        edit::create_channel,
        edit::list_kinds,
        edit::update_channel,
        test::test_channel,
        delete_channel,
        get_target_channels,
        put_target_channels
    ),
    components(schemas(
        Channel,
        ChannelList,
        LinkToken,
        NewEmailChannel,
        edit::NewChannel,
        edit::ChannelPatch,
        edit::KindInfo,
        edit::SecretFieldInfo,
        common::messages::ChannelTestResult,
        channels::Kind,
        channels::Routing,
        channels::routing::QuietHours,
        channels::routing::RoutedEvent,
        channels::Severity,
        TargetChannels,
        TokenQuery
    ))
)]
pub struct Doc;
