//! The sending side of the channel model: every kind — Telegram, email and the HTTP kinds of
//! `crates/channels` — is one [`Transport`]. A transport renders a kind-neutral
//! [`Notice`] (alert, reminder, digest, test…) into its own form, sends it with its
//! protocol's crate (teloxide, lettre, reqwest), and classifies the outcome as delivered,
//! transient, permanent, or the recipient gone ([`SendError`]). Routing, pacing, the
//! notification log and auto-disabling are the same for all of them (`deliver`).

use channels::{Notice, Request};
use teloxide::types::InlineKeyboardMarkup;
use uuid::Uuid;

use crate::email::{Mail, Mailer};
use crate::http_kinds::HttpKinds;
use crate::store::Recipient;
use crate::telegram::{SendError, Telegram};
use crate::text;

/// One message to one channel, before its kind renders it.
pub(crate) struct Outgoing<'a> {
    /// What it says.
    pub notice: &'a Notice,
    /// The key and log kind it is sent under (a mail's Message-ID is made from them).
    pub key: (Uuid, &'a str),
    /// The service's id of the message it follows (a Telegram reply, a mail's In-Reply-To).
    pub parent: Option<String>,
    /// Telegram: the buttons under it.
    pub buttons: Option<InlineKeyboardMarkup>,
    /// Email: the channel's unsubscribe link.
    pub unsubscribe: Option<String>,
}

/// One kind's way of saying and sending a [`Notice`].
pub(crate) trait Transport {
    /// The rendered message.
    type Message;

    /// Renders `out` for `r`: the message, and what the notification log keeps of it (the
    /// Telegram text, the mail subject, the title). A channel whose settings cannot say it is
    /// a permanent failure; a malformed address, an unreachable recipient.
    fn render(&self, r: &Recipient, out: &Outgoing<'_>) -> Result<(Self::Message, String), SendError>;

    /// Sends a rendered message and classifies the outcome; answers the service's id of it.
    async fn deliver(&self, r: &Recipient, message: Self::Message) -> Result<String, SendError>;

    /// Renders and sends `out`: the outcome and what the log keeps.
    async fn send_notice(&self, r: &Recipient, out: &Outgoing<'_>) -> (Result<String, SendError>, String) {
        match self.render(r, out) {
            Ok((message, content)) => (self.deliver(r, message).await, content),
            Err(e) => (Err(e), out.notice.title()),
        }
    }
}

/// A Telegram message: chat, HTML text, buttons, the message it answers.
pub(crate) struct TelegramMessage {
    chat: i64,
    text: String,
    buttons: Option<InlineKeyboardMarkup>,
    reply_to: Option<i32>,
}

impl Transport for Telegram {
    type Message = TelegramMessage;

    fn render(&self, r: &Recipient, out: &Outgoing<'_>) -> Result<(TelegramMessage, String), SendError> {
        let chat = parse_chat(&r.address)?;
        let text = text::notice_telegram(out.notice);
        let message = TelegramMessage {
            chat,
            text: text.clone(),
            buttons: out.buttons.clone(),
            reply_to: out.parent.as_deref().and_then(|p| p.parse().ok()),
        };
        Ok((message, text))
    }

    async fn deliver(&self, _: &Recipient, m: TelegramMessage) -> Result<String, SendError> {
        self.send(m.chat, &m.text, m.buttons, m.reply_to)
            .await
            .map(|id| id.to_string())
    }
}

impl Transport for Mailer {
    type Message = Mail;

    fn render(&self, r: &Recipient, out: &Outgoing<'_>) -> Result<(Mail, String), SendError> {
        let unsubscribe = out.unsubscribe.as_deref().unwrap_or_default();
        let (subject, text, html) = text::notice_mail(out.notice, unsubscribe);
        let mail = Mail {
            to: r.address.clone(),
            subject: subject.clone(),
            text,
            html,
            message_id: self.message_id(out.key.0, out.key.1, r.channel_id),
            in_reply_to: out.parent.clone(),
        };
        Ok((mail, subject))
    }

    async fn deliver(&self, _: &Recipient, mail: Mail) -> Result<String, SendError> {
        self.send(&mail).await
    }
}

impl Transport for HttpKinds {
    type Message = Request;

    fn render(&self, r: &Recipient, out: &Outgoing<'_>) -> Result<(Request, String), SendError> {
        let secrets = self.secrets(r)?;
        let request = channels::render(r.kind, &r.settings, &secrets, out.notice)
            .map_err(|e| SendError::Permanent(format!("the channel's settings cannot say this message: {e}")))?;
        Ok((request, out.notice.title()))
    }

    async fn deliver(&self, r: &Recipient, request: Request) -> Result<String, SendError> {
        self.send_request(r, &request).await
    }
}

/// A Telegram chat id from a channel's address.
pub(crate) fn parse_chat(address: &str) -> Result<i64, SendError> {
    address
        .trim()
        .parse()
        .map_err(|_| SendError::Unreachable(format!("not a Telegram chat id: {address:?}")))
}
