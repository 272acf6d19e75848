//! Mail over SMTP (lettre): alerts, threaded follow-ups and verification mails.
//!
//! Every header is set through lettre's typed headers; addresses are parsed with
//! [`Address`]; subjects lose every control character first ([`header_safe`]). Bodies are
//! multipart/alternative: plain text and HTML with every user value escaped.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{EmailConfig, SmtpTls};
use crate::telegram::SendError;
use crate::text::header_safe;

/// One mail to send.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient address (parsed with [`Address`] before use).
    pub to: String,
    /// Subject (made header-safe on sending).
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// `Message-ID`, with angle brackets.
    pub message_id: String,
    /// The mail this one answers (`In-Reply-To` and `References`).
    pub in_reply_to: Option<String>,
}

/// An SMTP sender. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
    unsubscribe_key: Vec<u8>,
}

impl Mailer {
    /// A mailer for `config`; `unsubscribe_key` derives the per-channel unsubscribe tokens.
    pub fn new(config: &EmailConfig, unsubscribe_key: Vec<u8>) -> anyhow::Result<Self> {
        let builder = if let Some(url) = &config.smtp_url {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret()).context("PINGTOWER_SMTP_URL")?
        } else {
            let host = config.smtp_host.as_deref().context("no SMTP host configured")?;
            let (builder, default_port) = match config.smtp_tls {
                SmtpTls::None => (AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host), 25),
                SmtpTls::Starttls => (
                    AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).context("SMTP STARTTLS")?,
                    587,
                ),
                SmtpTls::Tls => (
                    AsyncSmtpTransport::<Tokio1Executor>::relay(host).context("SMTP TLS")?,
                    465,
                ),
            };
            let mut builder = builder.port(config.smtp_port.unwrap_or(default_port));
            if let Some(user) = &config.smtp_user {
                let password = config
                    .smtp_password
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned())
                    .unwrap_or_default();
                builder = builder.credentials(Credentials::new(user.clone(), password));
            }
            builder
        };
        let transport = builder.timeout(Some(Duration::from_secs(30))).build();
        let from: Mailbox = config.mail_from.parse().context("PINGTOWER_MAIL_FROM")?;
        let domain = from.email.domain().to_owned();
        Ok(Self {
            transport,
            from,
            domain,
            unsubscribe_key,
        })
    }

    /// The deterministic `Message-ID` of one notification: a resend carries the same id.
    pub fn message_id(&self, incident_id: Uuid, kind: &str, channel_id: Uuid) -> String {
        let kind: String = kind
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        format!("<{incident_id}.{kind}.{channel_id}@{}>", self.domain)
    }

    /// The unsubscribe token of a channel (128 bits, derived, so every mail carries the same
    /// link) and the SHA-256 the backend looks it up by.
    pub fn unsubscribe_token(&self, channel_id: Uuid) -> (String, Vec<u8>) {
        let mut h = Sha256::new();
        h.update(&self.unsubscribe_key);
        h.update(b"unsubscribe:");
        h.update(channel_id.as_bytes());
        let token = hex::encode(&h.finalize()[..16]);
        let hash = Sha256::digest(token.as_bytes()).to_vec();
        (token, hash)
    }

    /// Sends one mail; returns its `Message-ID`.
    pub async fn send(&self, mail: &Mail) -> Result<String, SendError> {
        let to: Address = mail
            .to
            .trim()
            .parse()
            .map_err(|e| SendError::Unreachable(format!("invalid address: {e}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(header_safe(&mail.subject))
            .message_id(Some(mail.message_id.clone()))
            .date_now();
        if let Some(parent) = &mail.in_reply_to {
            builder = builder.in_reply_to(parent.clone()).references(parent.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| SendError::Permanent(format!("could not build the mail: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(mail.message_id.clone()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        let mut config = crate::Config::new(
            common::config::AmqpConfig {
                amqp_url: String::new().into(),
                regions: vec![],
                management_url: "http://127.0.0.1".parse().unwrap(),
            },
            common::config::PgConfig {
                database_url: String::new().into(),
                max_connections: 1,
            },
        )
        .email;
        config.smtp_host = Some("127.0.0.1".into());
        config.smtp_tls = SmtpTls::None;
        config.mail_from = "PingTower <alerts@example.org>".into();
        Mailer::new(&config, vec![1; 32]).unwrap()
    }

    #[tokio::test]
    async fn message_ids_are_deterministic_and_in_the_senders_domain() {
        let m = mailer();
        let (i, c) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(m.message_id(i, "opened", c), m.message_id(i, "opened", c));
        assert!(m.message_id(i, "opened", c).ends_with("@example.org>"));
    }

    #[tokio::test]
    async fn unsubscribe_tokens_are_128_bit_stable_and_per_channel() {
        let m = mailer();
        let (a, ha) = m.unsubscribe_token(Uuid::from_u128(1));
        let (b, _) = m.unsubscribe_token(Uuid::from_u128(2));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(m.unsubscribe_token(Uuid::from_u128(1)).1, ha);
    }
}
