//! API tokens: list, create (from a signed-in session only) and revoke. A token belongs to its
//! creator and the organisation they made it in, with a role no higher than theirs.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Action, Role};
use crate::error::{ApiError, ApiResult, Json, Path, no_content_or_not_found};
use crate::http::auth::{self, Caller, Scope, TOKEN_PREFIX};
use crate::http::pagination::page_of;
use crate::state::AppState;

/// The token routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
}

/// A new API token's name and scope.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// A name to recognise it by (1 to 100 characters, no control characters).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// `read` (GET only) or `write`.
    pub scope: Scope,
    /// Its role in the organisation, at most the creator's (which also bounds it on every
    /// request). Absent: `viewer` for a read token, else the creator's role (at most `admin`).
    #[serde(default)]
    pub role: Option<Role>,
    /// When it stops working (must be in the future); absent: never.
    #[serde(default)]
    #[schema(
        pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d)$"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An API token as listed (never the secret).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Its role (`owner`, `admin`, `editor`, `viewer`).
    pub role: String,
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
    /// Its role.
    pub role: Role,
    /// The first characters of the token.
    pub prefix: String,
    /// The token itself: `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working; null: never.
    pub expires_at: Option<DateTime<Utc>>,
}

page_of!(
    /// The tokens (not paginated).
    TokenList,
    ApiToken
);

#[utoipa::path(get, path = "/api/tokens", tag = "tokens", responses((status = 200, body = TokenList)))]
async fn list_tokens(Caller { state, user }: Caller) -> ApiResult<Json<TokenList>> {
    let org = user.may(Action::Read)?;
    let items: Vec<ApiToken> = sqlx::query_as!(
        ApiToken,
        "select id, name, scope, role, prefix, created_at, last_used_at, expires_at from api_tokens \
         where user_id = $1 and owner_id = $2 and revoked_at is null order by created_at desc",
        user.id,
        org,
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(TokenList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 403, description = "tokens are created from a session only"),
        (status = 422, description = "a field is invalid (`name`, `expires_at`, or a `role` above yours)")))]
async fn create_token(
    Caller { state, user }: Caller,
    body: Result<Json<NewToken>, ApiError>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    // Any member may make tokens for themselves; the token can do no more than its creator.
    let org = user.may(Action::Read)?;
    let Json(body) = body?;
    let role = match (body.role, body.scope) {
        (Some(r), _) if r > user.role => {
            return Err(ApiError::validation(
                "role",
                format!("a token's role is at most yours ({})", user.role.as_str()),
            ));
        }
        (Some(r), _) => r,
        (None, Scope::Read) => Role::Viewer,
        (None, Scope::Write) => user.role.min(Role::Admin),
    };
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
    sqlx::query!(
        "insert into api_tokens (id, user_id, name, scope, token_hash, prefix, expires_at, owner_id, role) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id,
        user.id,
        &name,
        body.scope.as_str(),
        auth::hash_secret(&token),
        &prefix,
        body.expires_at,
        org,
        role.as_str()
    )
    .execute(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            name,
            scope: body.scope.as_str().to_owned(),
            role,
            prefix,
            token,
            expires_at: body.expires_at,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "no such token of yours in this organisation")))]
async fn revoke_token(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let org = user.may(Action::Read)?;
    no_content_or_not_found(
        sqlx::query!(
            "update api_tokens set revoked_at = now() \
             where id = $1 and user_id = $2 and owner_id = $3 and revoked_at is null",
            id,
            user.id,
            org
        )
        .execute(&state.pool)
        .await?,
    )
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_tokens, create_token, revoke_token),
    components(schemas(NewToken, ApiToken, CreatedToken, TokenList, Scope))
)]
pub struct Doc;
