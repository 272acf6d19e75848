//! Sending to Telegram within its limits: per-chat pacing, a global rate, 429 `retry_after`
//! honoured, long texts split, and errors sorted into retry / give up / chat blocked.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, LinkPreviewOptions, MessageId, ParseMode, ReplyParameters};

use crate::pacer::Pacer;
use crate::telemetry;
use crate::text::split_telegram;

/// How many 429 answers one call sits out before it gives up (the message is then retried
/// by the consumer).
const MAX_RATE_LIMITED: u32 = 5;

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later (network, rate limit, server error).
    #[error("transient: {0}")]
    Transient(String),
    /// The request can never succeed (bad request, bad address).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The recipient cannot be reached any more (bot blocked, chat gone): disable the channel.
    #[error("recipient unreachable: {0}")]
    Unreachable(String),
}

/// A Telegram bot with pacing. Cheap to clone.
#[derive(Clone)]
pub struct Telegram {
    bot: Bot,
    pacer: Arc<Pacer<i64>>,
}

impl Telegram {
    /// A sender for `bot`: at most one message per `chat_interval` per chat and
    /// `global_rate` a second in all (0: no global limit).
    pub fn new(bot: Bot, chat_interval: Duration, global_rate: u32) -> Self {
        Self {
            bot,
            pacer: Arc::new(Pacer::new(chat_interval, global_rate)),
        }
    }

    /// The bot.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Sends HTML `text` (split when over 4,096 characters), `markup` on the last part;
    /// returns the first part's message id.
    pub async fn send(
        &self,
        chat: i64,
        text: &str,
        markup: Option<InlineKeyboardMarkup>,
        reply_to: Option<i32>,
    ) -> Result<i32, SendError> {
        let parts = split_telegram(text);
        let last = parts.len() - 1;
        let mut first = None;
        for (i, part) in parts.into_iter().enumerate() {
            let markup = if i == last { markup.clone() } else { None };
            let id = self
                .call(chat, || {
                    let mut req = self
                        .bot
                        .send_message(ChatId(chat), part.clone())
                        .parse_mode(ParseMode::Html)
                        .link_preview_options(no_preview());
                    if let Some(m) = markup.clone() {
                        req = req.reply_markup(m);
                    }
                    if let Some(to) = reply_to {
                        req = req.reply_parameters(ReplyParameters {
                            allow_sending_without_reply: Some(true),
                            ..ReplyParameters::new(MessageId(to))
                        });
                    }
                    async move { req.await }
                })
                .await?;
            first.get_or_insert(id.id.0);
        }
        Ok(first.unwrap_or_default())
    }

    /// Replaces the text of message `message_id` (an unchanged text counts as done).
    pub async fn edit(
        &self,
        chat: i64,
        message_id: i32,
        text: &str,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Result<(), SendError> {
        let result = self
            .call(chat, || {
                let mut req = self
                    .bot
                    .edit_message_text(ChatId(chat), MessageId(message_id), text.to_owned())
                    .parse_mode(ParseMode::Html)
                    .link_preview_options(no_preview());
                if let Some(m) = markup.clone() {
                    req = req.reply_markup(m);
                }
                async move { req.await }
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SendError::Permanent(e)) if e.contains("message is not modified") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Answers a button press (the small toast in the client).
    pub async fn answer_callback(&self, id: String, text: &str) -> Result<(), SendError> {
        self.bot
            .answer_callback_query(teloxide::types::CallbackQueryId(id))
            .text(text.to_owned())
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// Runs one request within the limits: waits for the chat's and the global slot, and
    /// sits out 429 answers (`retry_after`) up to [`MAX_RATE_LIMITED`] times.
    async fn call<T, F, Fut>(&self, chat: i64, request: F) -> Result<T, SendError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RequestError>>,
    {
        let mut limited = 0;
        loop {
            self.pacer.wait(chat).await;
            match request().await {
                Ok(v) => return Ok(v),
                Err(RequestError::RetryAfter(after)) if limited < MAX_RATE_LIMITED => {
                    limited += 1;
                    metrics::counter!(telemetry::RETRIED, "channel" => "telegram", "reason" => "rate_limited")
                        .increment(1);
                    tracing::info!(chat, retry_after_s = after.seconds(), "Telegram asked to slow down");
                    self.pacer.hold(chat, after.duration());
                }
                Err(e) => return Err(classify(e)),
            }
        }
    }
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

/// Sorts a Bot API error.
pub fn classify(e: RequestError) -> SendError {
    match e {
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::UserDeactivated
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::ChatNotFound => SendError::Unreachable(api.to_string()),
            ApiError::Unknown(desc) => {
                if desc.starts_with("Forbidden") {
                    SendError::Unreachable(desc)
                } else if desc.starts_with("Bad Request") {
                    SendError::Permanent(desc)
                } else {
                    SendError::Transient(desc)
                }
            }
            other => SendError::Permanent(other.to_string()),
        },
        RequestError::RetryAfter(after) => SendError::Transient(format!("rate limited for {}s", after.seconds())),
        RequestError::MigrateToChatId(id) => SendError::Unreachable(format!("chat migrated to {id}")),
        other => SendError::Transient(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_bot_makes_the_recipient_unreachable() {
        assert!(matches!(
            classify(RequestError::Api(ApiError::BotBlocked)),
            SendError::Unreachable(_)
        ));
        assert!(matches!(
            classify(RequestError::Api(ApiError::Unknown(
                "Bad Request: can't parse entities".into()
            ))),
            SendError::Permanent(_)
        ));
    }
}
