//! The one error type of the API: every failure answers `{"error": {"code", "message", "field"?}}`.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API failure: a status, a stable code, a human message and optionally the field at fault.
///
/// Database and internal errors become an opaque 500; their chain is logged, never sent.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code (`validation`, `unauthorized`, …).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault (`spec.url`), for validation errors.
    pub field: Option<String>,
    /// Seconds to wait before retrying (429).
    pub retry_after: Option<u64>,
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// The answer to a deletion scoped to its owner: 204 when it touched a row, 404 when nothing
/// of this owner matched (another user's id looks exactly like an unknown one).
pub fn no_content_or_not_found(done: sqlx::postgres::PgQueryResult) -> ApiResult<StatusCode> {
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Defines `$name`, the handler of an organisation-scoped delete: `$sql` runs with `$1` the path's
/// id and `$2` the caller's organisation, when they may do `$action`, and answers as
/// [`no_content_or_not_found`]. `$attr` are the handler's attributes (its OpenAPI description).
macro_rules! owned_delete {
    ($action:expr, $(#[$attr:meta])* $name:ident, $sql:literal) => {
        $(#[$attr])*
        async fn $name(
            $crate::http::auth::Caller { state, user }: $crate::http::auth::Caller,
            $crate::error::Path(id): $crate::error::Path<uuid::Uuid>,
        ) -> $crate::error::ApiResult<axum::http::StatusCode> {
            let org = user.may($action)?;
            $crate::error::no_content_or_not_found(sqlx::query!($sql, id, org).execute(&state.pool).await?)
        }
    };
}
pub(crate) use owned_delete;

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 422: `field` is invalid.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", message)
        }
    }

    /// 422 without a particular field (a malformed body).
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", message)
    }

    /// 413 naming `field`: a byte size over its limit or quota.
    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(StatusCode::PAYLOAD_TOO_LARGE, "validation", message)
        }
    }

    // One named constructor a status: each call site says which answer it gives, in one word.
    /// 415: a body of a media type the route does not read.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "validation", message)
    }

    /// 400: a malformed request (bad query string, bad path).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation", message)
    }

    /// 401: not logged in.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "authentication required")
    }

    /// 401 with a specific message (wrong password).
    pub fn unauthorized_because(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: logged in but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: absent, or belongs to someone else.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    /// 409: conflicts with existing data.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 410: existed, but is no longer valid (an expired acknowledgement link).
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "gone", message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts; try again later",
            )
        }
    }

    /// 503: a dependency is down.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 504: no answer in time (Test now).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "unavailable", message)
    }

    /// 500; `error` is logged with its chain and not shown.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::not_found(),
            sqlx::Error::PoolTimedOut => {
                tracing::warn!(error = %e, "database pool timed out");
                Self::unavailable("the database is not answering")
            }
            other => Self::internal(format_args!("database: {other:#}")),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(format_args!("{e:#}"))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "validation",
                "expected Content-Type: application/json",
            ),
            other => Self::invalid_body(other.body_text()),
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        match r {
            FormRejection::InvalidFormContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "validation",
                "expected Content-Type: application/x-www-form-urlencoded",
            ),
            other => Self::invalid_body(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // A malformed id can name nothing the caller owns.
        Self::not_found()
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s. A body must be a JSON object (serde would
/// otherwise read a struct from an array of its fields); a failing field is named by its path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(mut value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(Self::Rejection::invalid_body("the body must be a JSON object"));
        }
        whole_numbers_as_integers(&mut value);
        serde_path_to_error::deserialize(value).map(Json).map_err(|e| {
            Self::Rejection::invalid_body(format!("Failed to deserialize the JSON body into the target type: {e}"))
        })
    }
}

/// JSON (and JSON Schema) has one number type: `3.0` is the integer 3. serde reads an integer
/// field only from an integer token, so whole floats become integers before the body is read.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                if f >= 0.0 && f <= u64::MAX as f64 {
                    *value = Value::from(f as u64);
                } else if f < 0.0 && f >= i64::MIN as f64 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::Form` whose rejections are [`ApiError`]s (the mail link pages' buttons).
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Form), rejection(ApiError))]
pub struct Form<T>(pub T);

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` whose rejections are [`ApiError`]s (a malformed id is a 404).
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
