//! "Send a test message": the backend asks the notifier (request/reply on the broker) to send
//! a test message through one channel and answers with what happened.

use common::messages::{ChannelTest, ChannelTestResult, Envelope};
use uuid::Uuid;

use crate::access::Action;
use crate::error::{ApiError, ApiResult, Json, Path};
use crate::http::auth::Caller;

/// Longest notifier error passed on.
const MAX_ERROR: usize = 1000;

#[utoipa::path(post, path = "/api/channels/{id}/test", tag = "channels", params(("id" = Uuid, Path)),
    responses((status = 200, body = ChannelTestResult, description = "the notifier sent the test message, or says why not"),
        (status = 404),
        (status = 429, description = "this channel was tested less than 10 s ago; see Retry-After"),
        (status = 503, description = "the notifier did not answer in time (PINGTOWER_CHANNEL_TEST_TIMEOUT, 15 s by default) \
         or the message broker is unavailable")))]
pub(super) async fn test_channel(
    Caller { state, user }: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<ChannelTestResult>> {
    let org = user.may(Action::Manage)?;
    let found: Option<Uuid> = sqlx::query_scalar!(
        "select id from notification_channels where id = $1 and owner_id = $2",
        id,
        org
    )
    .fetch_optional(&state.pool)
    .await?;
    found.ok_or_else(ApiError::not_found)?;
    state
        .channel_test_limiter
        .check(&id.to_string())
        .map_err(|wait| ApiError::rate_limited(wait.as_secs_f64().ceil() as u64))?;
    let wait = state.config.api.channel_test_timeout;
    let envelope = Envelope::new(ChannelTest {
        channel_id: id,
        owner_id: org,
        language: user.language.clone(),
    });
    match bus::request::<ChannelTest, ChannelTestResult>(&state.publisher, &envelope, wait).await {
        Ok(reply) => {
            let mut result = reply.payload;
            result.error = result.error.map(|e| e.chars().take(MAX_ERROR).collect());
            Ok(Json(result))
        }
        Err(bus::RequestError::Timeout(d)) => Err(ApiError::unavailable(format!(
            "the notifier did not answer within {}s; is it running?",
            d.as_secs_f64()
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "channel test failed");
            Err(ApiError::unavailable("the message broker is unavailable"))
        }
    }
}
