//! Channels of the HTTP kinds (webhook, Slack, ntfy…): creation with their settings, sealed
//! secrets and routing; every channel's changes (label, mute, settings, secrets, routing,
//! enabled); the kinds and the secrets each takes.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use channels::{FieldError, Kind, Routing, Secrets};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{Channel, ChannelRow};
use crate::access::Action;
use crate::error::{ApiError, ApiResult, Json, Path};
use crate::http::auth::Caller;
use crate::state::AppState;

/// Longest label.
const MAX_LABEL: usize = 100;
/// Most secrets one channel takes (a webhook's custom headers and its URL).
const MAX_SECRETS: usize = channels::limits::HEADERS + 8;
/// Longest secret name (`header:X-Api-Key`).
const MAX_SECRET_NAME: usize = 256;
/// Largest settings object, as JSON.
const MAX_SETTINGS_BYTES: usize = 64 * 1024;
/// What `disabled_reason` says of a channel its owner disabled.
const DISABLED_BY_OWNER: &str = "disabled by its owner";

/// A new channel of an HTTP kind (Telegram and email have their own routes).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewChannel {
    /// Its kind (not `telegram` or `email`).
    #[schema(value_type = Kind)]
    pub kind: String,
    /// Optional label (at most 100 characters, no control characters).
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub label: Option<String>,
    /// The kind's settings (see its documentation; `{}` when absent).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Its secrets by name (`GET /api/channels/kinds` lists them): stored sealed, never
    /// returned.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub secrets: Option<BTreeMap<String, String>>,
    /// Routing rules (everything, always, when absent).
    #[serde(default)]
    #[schema(value_type = Option<Routing>)]
    pub routing: Option<Value>,
}

/// A channel change: absent fields keep their value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChannelPatch {
    /// New label (empty clears it; at most 100 characters, no control characters).
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub label: Option<String>,
    /// Hold alerts until then (null: unmute).
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>, pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d)$")]
    pub muted_until: Option<Option<DateTime<Utc>>>,
    /// New settings (HTTP kinds), validated with the secrets.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Secrets to set (a string) or remove (null); names not given keep their stored value
    /// (HTTP kinds).
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, Option<String>>>)]
    pub secrets: Option<BTreeMap<String, Option<String>>>,
    /// New routing rules.
    #[serde(default)]
    #[schema(value_type = Option<Routing>)]
    pub routing: Option<Value>,
    /// `true` re-enables a disabled channel (its failure count starts again); `false`
    /// disables it.
    #[serde(default)]
    pub enabled: Option<bool>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// A kind and the secrets it takes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KindInfo {
    /// The kind.
    pub kind: Kind,
    /// Its secrets (`header:*`: any number of `header:<Name>` secrets).
    pub secrets: Vec<SecretFieldInfo>,
}

/// One secret of a kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretFieldInfo {
    /// Its name in `secrets`.
    pub name: String,
    /// Whether a channel of the kind needs it.
    pub required: bool,
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::validation(e.field, e.message)
    }
}

/// The kind named `name` (422 on `kind`).
fn parse_kind(name: &str) -> ApiResult<Kind> {
    Kind::parse(name).ok_or_else(|| ApiError::validation("kind", "unknown kind of channel"))
}

/// A label: blank is none (`Ok(None)`).
fn label(value: Option<&str>) -> ApiResult<Option<String>> {
    match value {
        Some(l) if !l.trim().is_empty() => Ok(Some(crate::validate::text("label", l, MAX_LABEL)?)),
        _ => Ok(None),
    }
}

/// Settings must be a bounded object.
fn check_settings(settings: &Value) -> ApiResult<()> {
    if !settings.is_object() {
        return Err(ApiError::validation("settings", "must be an object"));
    }
    if serde_json::to_vec(settings).map_or(usize::MAX, |v| v.len()) > MAX_SETTINGS_BYTES {
        return Err(ApiError::validation(
            "settings",
            format!("must be at most {MAX_SETTINGS_BYTES} bytes as JSON"),
        ));
    }
    Ok(())
}

/// Bounds the names and count of secrets given (their values are bounded by the kind's
/// validation).
fn check_secret_names<'a>(names: impl ExactSizeIterator<Item = &'a String>) -> ApiResult<()> {
    if names.len() > MAX_SECRETS {
        return Err(ApiError::validation(
            "secrets",
            format!("at most {MAX_SECRETS} secrets"),
        ));
    }
    for name in names {
        if name.is_empty() || name.len() > MAX_SECRET_NAME || name.chars().any(char::is_control) {
            return Err(ApiError::validation(
                "secrets",
                format!("secret names are 1–{MAX_SECRET_NAME} bytes without control characters"),
            ));
        }
    }
    Ok(())
}

/// Routing rules read and checked (errors name `routing.<field>`).
fn parse_routing(value: &Value) -> ApiResult<Routing> {
    let routing: Routing = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "routing".to_owned()
        } else {
            format!("routing.{path}")
        };
        // serde's message names what was expected, never a secret (routing holds none).
        ApiError::validation(field, e.inner().to_string())
    })?;
    routing.validate()?;
    Ok(routing)
}

/// The secrets sealed for storage: `None` when there are none; refused (on `secrets`) without
/// a key.
fn seal(state: &AppState, secrets: &Secrets) -> ApiResult<Option<Vec<u8>>> {
    if secrets.0.is_empty() {
        return Ok(None);
    }
    let key = state.secret_key.as_ref().ok_or_else(|| {
        ApiError::validation(
            "secrets",
            "storing secrets needs PINGTOWER_SECRET_KEY (base64 of 32 bytes) to be configured on the server",
        )
    })?;
    Ok(Some(key.seal(secrets)))
}

/// Secrets with a value (a blank value is no secret).
fn non_blank(map: BTreeMap<String, String>) -> Secrets {
    Secrets(map.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect())
}

#[utoipa::path(post, path = "/api/channels", tag = "channels", request_body = NewChannel,
    responses((status = 201, body = Channel, description = "created (verified: no confirmation needed)"),
        (status = 422, description = "a field is invalid (named by `field`: `kind`, `label`, `settings.<name>`, \
         `secrets.<name>`, `routing.<name>`), secrets without PINGTOWER_SECRET_KEY on the server, or over the \
         channel quota (`field` max_channels)")))]
pub(super) async fn create_channel(
    Caller { state, user }: Caller,
    body: Result<Json<NewChannel>, ApiError>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let kind = parse_kind(&body.kind)?;
    let label = label(body.label.as_deref())?;
    let settings = body.settings.unwrap_or_else(|| Value::Object(Default::default()));
    check_settings(&settings)?;
    let secrets = body.secrets.unwrap_or_default();
    check_secret_names(secrets.keys())?;
    let secrets = non_blank(secrets);
    let routing = parse_routing(&body.routing.unwrap_or_else(|| Value::Object(Default::default())))?;
    let valid = channels::validate(kind, &settings, &secrets)?;
    let sealed = seal(&state, &secrets)?;
    let names: Vec<String> = secrets.0.keys().cloned().collect();
    let routing = serde_json::to_value(&routing).map_err(ApiError::internal)?;
    let mut tx = state.pool.begin().await?;
    crate::quotas::reserve(&mut tx, &state, org, crate::quotas::Counted::Channels, 1).await?;
    let row: ChannelRow = query_channels!(
        "insert into notification_channels \
         (id, owner_id, kind, address, label, settings, secrets, secret_names, routing, verified_at, user_id) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10) returning ",
        "",
        Uuid::now_v7(),
        org,
        kind.as_str(),
        &valid.summary,
        label,
        &valid.settings,
        sealed,
        &names,
        &routing,
        user.id
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[utoipa::path(get, path = "/api/channels/kinds", tag = "channels",
    responses((status = 200, body = Vec<KindInfo>, description = "every kind and the secrets it takes")))]
pub(super) async fn list_kinds(Caller { .. }: Caller) -> Json<Vec<KindInfo>> {
    Json(
        Kind::ALL
            .iter()
            .map(|&kind| KindInfo {
                kind,
                secrets: kind
                    .secrets()
                    .iter()
                    .map(|s| SecretFieldInfo {
                        name: s.name.to_owned(),
                        required: s.required,
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// What a patch writes besides label, mute and enabled: `None` keeps the stored value.
#[derive(Debug, Default)]
struct KindChange {
    settings: Option<Value>,
    address: Option<String>,
    /// `Some(sealed)`: the secrets change (to none when `sealed` is `None`).
    secrets: Option<Option<Vec<u8>>>,
    secret_names: Option<Vec<String>>,
}

/// Merges the patch's settings and secrets into the stored ones of an HTTP kind's channel and
/// validates the result.
fn merge_kind_change(
    state: &AppState,
    kind: Kind,
    stored_settings: Value,
    stored_secrets: Option<&[u8]>,
    settings: Option<Value>,
    secrets: Option<BTreeMap<String, Option<String>>>,
) -> ApiResult<KindChange> {
    if settings.is_none() && secrets.is_none() {
        return Ok(KindChange::default());
    }
    if !kind.is_http() {
        let field = if settings.is_some() { "settings" } else { "secrets" };
        return Err(ApiError::validation(
            field,
            "Telegram and email channels take no settings or secrets",
        ));
    }
    let mut merged = match stored_secrets {
        None => Secrets::default(),
        Some(bytes) => {
            let key = state.secret_key.as_ref().ok_or_else(|| {
                ApiError::validation(
                    "secrets",
                    "this channel's secrets are sealed but PINGTOWER_SECRET_KEY is not configured on the server",
                )
            })?;
            key.open::<Secrets>(bytes).map_err(ApiError::internal)?
        }
    };
    if let Some(changes) = secrets {
        check_secret_names(changes.keys())?;
        for (name, value) in changes {
            match value {
                Some(v) if !v.trim().is_empty() => {
                    merged.0.insert(name, v);
                }
                _ => {
                    merged.0.remove(&name);
                }
            }
        }
    }
    let settings = settings.unwrap_or(stored_settings);
    check_settings(&settings)?;
    let valid = channels::validate(kind, &settings, &merged)?;
    Ok(KindChange {
        settings: Some(valid.settings),
        address: Some(valid.summary),
        secrets: Some(seal(state, &merged)?),
        secret_names: Some(merged.0.keys().cloned().collect()),
    })
}

#[utoipa::path(patch, path = "/api/channels/{id}", tag = "channels", params(("id" = Uuid, Path)), request_body = ChannelPatch,
    responses((status = 200, body = Channel), (status = 404),
        (status = 422, description = "a field is invalid (named by `field`), settings or secrets of a Telegram or \
         email channel, or re-enabling an address that unsubscribed")))]
pub(super) async fn update_channel(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
    body: Result<Json<ChannelPatch>, ApiError>,
) -> ApiResult<Json<Channel>> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let label = match body.label.as_deref() {
        None => None,
        Some(l) if l.trim().is_empty() => Some(None),
        Some(l) => Some(Some(crate::validate::text("label", l, MAX_LABEL)?)),
    };
    let routing = match &body.routing {
        Some(r) => Some(serde_json::to_value(parse_routing(r)?).map_err(ApiError::internal)?),
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    // Foreign ids are 404 before any validation detail is revealed.
    let stored = sqlx::query!(
        "select kind, settings, secrets, disabled_reason from notification_channels \
         where id = $1 and owner_id = $2 for update",
        id,
        org
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let kind = parse_kind(&stored.kind)?;
    if body.enabled == Some(true) && stored.disabled_reason.as_deref() == Some("unsubscribed") {
        return Err(ApiError::validation(
            "enabled",
            "the address unsubscribed: only its mailbox can subscribe again (add the address again)",
        ));
    }
    let change = merge_kind_change(
        &state,
        kind,
        stored.settings,
        stored.secrets.as_deref(),
        body.settings,
        body.secrets,
    )?;
    let row: Option<ChannelRow> = query_channels!(
        "update notification_channels set \
         label = case when $3 then $4 else label end, \
         muted_until = case when $5 then $6 else muted_until end, \
         settings = coalesce($7, settings), address = coalesce($8, address), \
         secrets = case when $9 then $10 else secrets end, secret_names = coalesce($11, secret_names), \
         routing = coalesce($12, routing), \
         disabled_at = case when $13::boolean is null then disabled_at when $13 then null \
                            else coalesce(disabled_at, now()) end, \
         disabled_reason = case when $13::boolean is null then disabled_reason when $13 then null \
                                else coalesce(disabled_reason, $14) end, \
         permanent_failures = case when $13::boolean then 0 else permanent_failures end, \
         updated_at = now() \
         where id = $1 and owner_id = $2 returning ",
        "",
        id,
        org,
        label.is_some(),
        label.flatten(),
        body.muted_until.is_some(),
        body.muted_until.flatten(),
        change.settings,
        change.address,
        change.secrets.is_some(),
        change.secrets.flatten(),
        change.secret_names.as_deref(),
        routing,
        body.enabled,
        DISABLED_BY_OWNER
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(row.ok_or_else(ApiError::not_found)?.into()))
}
