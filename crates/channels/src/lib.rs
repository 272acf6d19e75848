//! The kinds of notification channel: what each needs (settings, secrets), what it says for
//! every message, and what the service's answers mean.
//!
//! Each kind is one module under [`kinds`] behind one trait, [`Channel`]:
//! - **validate** its settings and secrets (the backend, before it stores a channel);
//! - **render** every message ([`Notice`]: opened, resolved, report, certificate, flapping,
//!   reminder, digest, test) into the request its service documents;
//! - **classify** the answer as delivered, rate limited (with `Retry-After`), transient or
//!   permanent.
//!
//! Sending is the same for every HTTP kind: [`send::HttpSender`] (feature `send`, the
//! notifier's), behind the address guard. Telegram and email keep their protocols' crates in
//! the notifier (teloxide, lettre); their modules here validate and name them. In the
//! notifier every kind — these twelve, Telegram and email — is one `transport::Transport`:
//! the same [`Notice`] rendered in the kind's form, sent, and its outcome classified.
//!
//! Texts arrive in a [`Notice`] already written in the recipient's language (the notifier
//! builds it from the message catalogs); a kind adds only its own labels, from the same
//! catalogs.
//!
//! Nothing here logs or returns a secret: [`Request`]'s `Debug` shows the host only, and
//! errors name fields, never values.

pub mod http;
pub mod kinds;
pub mod notice;
pub mod routing;
#[cfg(feature = "send")]
pub mod send;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use http::{Disposition, Request, Response};
pub use notice::{DigestItem, Event, Notice, Severity};
pub use routing::{Routing, Verdict};

/// The secret values of one channel, by field name (`url`, `token`, `header:X-Key`…): stored
/// sealed, opened only by the notifier. Its `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Secrets(pub BTreeMap<String, String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    /// The value of `name`, if set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// The value of a required secret, or the error naming it.
    pub fn required(&self, name: &str) -> Result<&str, FieldError> {
        self.get(name)
            .ok_or_else(|| FieldError::new(format!("secrets.{name}"), "is required"))
    }
}

/// A setting or secret that is missing or wrong: the field (`settings.url`,
/// `secrets.token`) and what is wrong with it, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field's path in the channel's JSON.
    pub field: String,
    /// What is wrong, in English.
    pub message: String,
}

impl FieldError {
    /// An error of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One secret a kind takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SecretField {
    /// Its name in `secrets`.
    pub name: &'static str,
    /// Whether a channel of the kind needs it.
    pub required: bool,
}

/// Limits every kind's settings share.
pub mod limits {
    /// A URL's length.
    pub const URL: usize = 2048;
    /// A short setting (a room id, a tag, a device name…).
    pub const SHORT: usize = 256;
    /// A secret's length.
    pub const SECRET: usize = 4096;
    /// A webhook body template's length.
    pub const TEMPLATE: usize = 16 * 1024;
    /// Custom headers of a webhook.
    pub const HEADERS: usize = 20;
    /// Tags of a message (ntfy, Opsgenie).
    pub const TAGS: usize = 20;
}

/// A kind of channel: one module, one implementation.
pub trait Channel {
    /// Its name in the API.
    const KIND: Kind;
    /// The secrets it takes.
    const SECRETS: &'static [SecretField];
    /// Its settings (not secret; returned by the API as stored).
    type Settings: Serialize + DeserializeOwned;

    /// Checks settings and secrets beyond their types (URL schemes, ranges, lengths).
    fn validate(settings: &Self::Settings, secrets: &Secrets) -> Result<(), FieldError>;

    /// What the dashboard shows as the channel's address: never a secret.
    fn summary(settings: &Self::Settings) -> String;

    /// The request that says `notice`.
    fn render(settings: &Self::Settings, secrets: &Secrets, notice: &Notice) -> Result<Request, FieldError>;

    /// What the service's answer means.
    fn classify(response: &Response) -> Disposition {
        http::classify(response)
    }
}

/// Defines [`Kind`] and the dispatch of the trait by kind from one list.
macro_rules! kinds {
    ($( $variant:ident => $name:literal, $module:ident :: $ty:ident; )*) => {
        /// Every kind of channel, by its API name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            /// A Telegram chat (linked through the bot).
            Telegram,
            /// A mailbox (verified by a link).
            Email,
            $(
                #[doc = concat!("`", $name, "`.")]
                $variant,
            )*
        }

        impl Kind {
            /// Every kind.
            pub const ALL: &'static [Kind] = &[Kind::Telegram, Kind::Email, $(Kind::$variant,)*];
            /// The kinds sent over HTTP by [`send::HttpSender`](crate::send) (all but Telegram
            /// and email).
            pub const HTTP: &'static [Kind] = &[$(Kind::$variant,)*];

            /// Its API and database name.
            pub fn as_str(self) -> &'static str {
                match self {
                    Kind::Telegram => "telegram",
                    Kind::Email => "email",
                    $(Kind::$variant => $name,)*
                }
            }

            /// The kind named `s`.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.as_str() == s)
            }

            /// Whether the notifier sends it over HTTP (not Telegram or email).
            pub fn is_http(self) -> bool {
                !matches!(self, Kind::Telegram | Kind::Email)
            }

            /// The secrets it takes (none for Telegram and email).
            pub fn secrets(self) -> &'static [SecretField] {
                match self {
                    Kind::Telegram | Kind::Email => &[],
                    $(Kind::$variant => <kinds::$module::$ty as Channel>::SECRETS,)*
                }
            }
        }

        /// Validates `settings` and `secrets` of a channel of `kind`; answers the settings as
        /// they are stored (defaults filled in, unknown fields refused) and the summary shown as
        /// its address.
        pub fn validate(kind: Kind, settings: &Value, secrets: &Secrets) -> Result<Validated, FieldError> {
            match kind {
                Kind::Telegram | Kind::Email => Err(FieldError::new(
                    "kind",
                    "Telegram and email channels are added through their own routes (link the bot, verify the address)",
                )),
                $(Kind::$variant => check::<kinds::$module::$ty>(settings, secrets),)*
            }
        }

        /// The request that says `notice` on a channel of `kind` (HTTP kinds only).
        pub fn render(kind: Kind, settings: &Value, secrets: &Secrets, notice: &Notice) -> Result<Request, FieldError> {
            match kind {
                Kind::Telegram | Kind::Email => Err(FieldError::new("kind", "not sent over HTTP")),
                $(Kind::$variant => {
                    let s = parse::<kinds::$module::$ty>(settings)?;
                    <kinds::$module::$ty as Channel>::render(&s, secrets, notice)
                })*
            }
        }

        /// What `response` from a channel of `kind` means.
        pub fn classify(kind: Kind, response: &Response) -> Disposition {
            match kind {
                Kind::Telegram | Kind::Email => http::classify(response),
                $(Kind::$variant => <kinds::$module::$ty as Channel>::classify(response),)*
            }
        }
    };
}

kinds! {
    Slack => "slack", slack::Slack;
    Mattermost => "mattermost", slack::Mattermost;
    Webhook => "webhook", webhook::Webhook;
    Discord => "discord", discord::Discord;
    Teams => "teams", teams::Teams;
    GoogleChat => "google_chat", google_chat::GoogleChat;
    Ntfy => "ntfy", ntfy::Ntfy;
    Gotify => "gotify", gotify::Gotify;
    Pushover => "pushover", pushover::Pushover;
    Pagerduty => "pagerduty", pagerduty::PagerDuty;
    Opsgenie => "opsgenie", opsgenie::Opsgenie;
    Matrix => "matrix", matrix::Matrix;
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel's settings as stored, and its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The settings, normalised.
    pub settings: Value,
    /// What the dashboard shows as its address.
    pub summary: String,
}

fn parse<C: Channel>(settings: &Value) -> Result<C::Settings, FieldError> {
    let value = if settings.is_null() {
        Value::Object(Default::default())
    } else {
        settings.clone()
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "settings".to_owned()
        } else {
            format!("settings.{path}")
        };
        // serde's message names the expected type or the unknown field, never the value.
        let message = e.inner().to_string();
        FieldError::new(field, strip_value(&message))
    })
}

/// serde_json's messages may quote a string value (`invalid value: string "…"`): keep the
/// part that says what was expected.
fn strip_value(message: &str) -> String {
    match message.find(", expected") {
        Some(i) if message.starts_with("invalid") => format!("invalid value{}", &message[i..]),
        _ => message.to_owned(),
    }
}

fn check<C: Channel>(settings: &Value, secrets: &Secrets) -> Result<Validated, FieldError> {
    let parsed = parse::<C>(settings)?;
    for (name, value) in &secrets.0 {
        let known = C::SECRETS.iter().any(|s| s.name == name)
            || (C::SECRETS.iter().any(|s| s.name == "header:*") && name.starts_with("header:"));
        if !known {
            return Err(FieldError::new(
                format!("secrets.{name}"),
                "is not a secret of this kind",
            ));
        }
        if value.len() > limits::SECRET {
            return Err(FieldError::new(
                format!("secrets.{name}"),
                format!("is longer than {} bytes", limits::SECRET),
            ));
        }
    }
    for s in C::SECRETS.iter().filter(|s| s.required) {
        secrets.required(s.name)?;
    }
    C::validate(&parsed, secrets)?;
    Ok(Validated {
        settings: serde_json::to_value(&parsed).expect("settings serialise"),
        summary: C::summary(&parsed),
    })
}
