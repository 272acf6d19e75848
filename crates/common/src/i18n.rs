//! What PingTower says to people, in every language it speaks: the [`Language`] type, the
//! message catalogs, and the one duration formatter.
//!
//! Code decides *what* to say: a [`Msg`] is a message id and its arguments (names, numbers,
//! other messages), free of any language. The Fluent catalogs say *how*, one folder per
//! language under `crates/common/locales/`:
//!
//! - `common.ftl`: counts (days, hops), durations, failure kinds: shared by every text;
//! - `report.ftl`: the llm-service's rule reports;
//! - `notify.ftl`: the notifier's alerts and mails;
//! - `bot.ftl`: the Telegram bot's replies.
//!
//! # Why the catalogs live in `common`
//! One home, not one per crate: the `Language` type, the plural rules and the duration
//! formatter are shared by the llm-service and the notifier, a translator finds every text of
//! a language in one folder, and one test ([`tests`]) proves that every message exists in
//! every language with the same variables. The catalogs are compiled into the binary
//! (`fluent-templates`' `static_loader!`), so a service never starts without its texts.
//!
//! Plurals follow CLDR through Fluent's selectors: English `one`/`other`, Russian
//! `one`/`few`/`many`/`other` (1 день, 2 дня, 5 дней, 21 день, 1,5 дня). A number reaches a
//! selector only as [`Arg::Number`].
//!
//! Catalogs hold no secrets and arguments are rendered as given: callers pass values already
//! redacted (the llm-service masks credentials in URLs before a value becomes an argument).

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, langid};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent wraps each placeable in Unicode isolation marks (FSI…PDI) by default; our
        // texts go to Telegram, mail and JSON, where those invisible characters only get in
        // the way of people copying a host name or an address.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language PingTower writes in. Stored and sent as its lowercase tag (`"en"`, `"ru"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// English (the default and the fallback).
    #[default]
    En,
    /// Russian.
    Ru,
}

static EN: LanguageIdentifier = langid!("en");
static RU: LanguageIdentifier = langid!("ru");

impl Language {
    /// Every language with a catalog.
    pub const ALL: [Language; 2] = [Language::En, Language::Ru];

    /// The lowercase tag stored in `users.language` and sent in reports.
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ru => "ru",
        }
    }

    /// The language of a tag (`en`, `ru`, `ru-RU`, ` RU `): its primary subtag decides;
    /// unknown tags fall back to English.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("ru") {
            Language::Ru
        } else {
            Language::En
        }
    }

    /// The language's name in English (for an LLM prompt).
    pub fn english_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Ru => "Russian",
        }
    }

    /// The message `id` (one without arguments) in this language.
    pub fn text(self, id: &'static str) -> String {
        Msg::new(id).render(self)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Language::En => &EN,
            Language::Ru => &RU,
        }
    }
}

/// One argument of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text shown as it is (a name, an address, a date).
    Text(String),
    /// A number: shown as digits, and selects plural forms.
    Number(f64),
    /// Another message, rendered in the same language first.
    Msg(Box<Msg>),
    /// Messages rendered in the same language and joined by the separator.
    Join(Vec<Msg>, &'static str),
}

/// A value that can be a message argument; [`msg!`](crate::msg) takes any of them.
pub trait ToArg {
    /// The argument.
    fn to_arg(&self) -> Arg;
}

impl ToArg for str {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.to_owned())
    }
}

impl ToArg for String {
    fn to_arg(&self) -> Arg {
        Arg::Text(self.clone())
    }
}

impl ToArg for Msg {
    fn to_arg(&self) -> Arg {
        Arg::Msg(Box::new(self.clone()))
    }
}

impl ToArg for Arg {
    fn to_arg(&self) -> Arg {
        self.clone()
    }
}

impl<T: ToArg + ?Sized> ToArg for &T {
    fn to_arg(&self) -> Arg {
        (**self).to_arg()
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_arg(&self) -> Arg {
                Arg::Number(*self as f64)
            }
        }
    )*};
}
number_args!(u8, u16, u32, u64, usize, i16, i32, i64, f64);

/// A message: what to say, in no language yet. [`Msg::render`] says it in one.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    id: &'static str,
    args: Vec<(&'static str, Arg)>,
}

/// Why a message could not be rendered in a language.
#[derive(Debug, thiserror::Error)]
#[error("message {id:?} in {lang:?}: {detail}")]
pub struct RenderError {
    /// The message id.
    pub id: &'static str,
    /// The language asked for.
    pub lang: Language,
    /// What went wrong (missing message, missing variable…).
    pub detail: String,
}

impl Msg {
    /// The message `id` without arguments.
    pub fn new(id: &'static str) -> Self {
        Self { id, args: Vec::new() }
    }

    /// Adds the argument `name` (the catalogs' `$name`).
    pub fn arg(mut self, name: &'static str, value: impl ToArg) -> Self {
        self.args.push((name, value.to_arg()));
        self
    }

    /// The message id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The names of the arguments, in the order given.
    pub fn arg_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.args.iter().map(|(name, _)| *name)
    }

    /// The message in `lang`. A message missing from `lang`'s catalog (the catalog test
    /// forbids it) is logged and said in English; missing from English too, its id is shown.
    pub fn render(&self, lang: Language) -> String {
        match self.try_render(lang) {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(%error, "message catalog incomplete");
                if lang != Language::En
                    && let Ok(text) = self.try_render(Language::En)
                {
                    return text;
                }
                self.id.to_owned()
            }
        }
    }

    /// The message in `lang`, or why not (a missing message or variable, in this message or
    /// in one it contains).
    pub fn try_render(&self, lang: Language) -> Result<String, RenderError> {
        let mut args: HashMap<&'static str, FluentValue<'static>> = HashMap::with_capacity(self.args.len());
        for (name, value) in &self.args {
            let value = match value {
                Arg::Text(s) => FluentValue::String(Cow::Owned(s.clone())),
                Arg::Number(n) => FluentValue::from(*n),
                Arg::Msg(m) => FluentValue::String(Cow::Owned(m.try_render(lang)?)),
                Arg::Join(ms, sep) => {
                    let parts = ms.iter().map(|m| m.try_render(lang)).collect::<Result<Vec<_>, _>>()?;
                    FluentValue::String(Cow::Owned(parts.join(sep)))
                }
            };
            args.insert(name, value);
        }
        LOCALES
            .lookup_single_language(lang.id(), self.id, Some(&args))
            .map_err(|e| RenderError {
                id: self.id,
                lang,
                detail: e.to_string(),
            })
    }
}

/// Whether message `id` is in the catalog of every language (for tests that scan the ids a
/// crate uses).
pub fn has_message(id: &str) -> bool {
    Language::ALL.iter().all(|lang| {
        let no_args: Option<&HashMap<&str, FluentValue<'_>>> = None;
        match LOCALES.lookup_single_language(lang.id(), id, no_args) {
            Ok(_) => true,
            // The message is there but needs its arguments. fluent-templates does not export
            // its error type, so the variant is told by its debug name.
            Err(e) => format!("{e:?}").starts_with("FluentError("),
        }
    })
}

/// The message ids a source text names: the literals of `msg!("…"` and `Msg::new("…"`, and
/// every other string literal that looks like an id of `prefixes` (`"kind-…"`).
pub fn ids_in_source<'s>(source: &'s str, prefixes: &[&str]) -> Vec<&'s str> {
    let mut ids = Vec::new();
    for (i, _) in source.match_indices('"') {
        let rest = &source[i + 1..];
        let Some(end) = rest.find('"') else { break };
        let literal = &rest[..end];
        let before = source[..i].trim_end();
        let named = before.ends_with("msg!(") || before.ends_with("Msg::new(");
        let prefixed = prefixes
            .iter()
            .any(|p| literal.len() > p.len() && literal.starts_with(p));
        let id_like = !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if (named || prefixed) && id_like {
            ids.push(literal);
        }
    }
    ids
}

/// A [`Msg`] with arguments: `msg!("tls-expired-summary", head, host, when = date(t))`.
/// A bare name passes the variable of that name as the argument of that name.
#[macro_export]
macro_rules! msg {
    ($id:literal $(, $name:ident $(= $value:expr)?)* $(,)?) => {
        $crate::i18n::Msg::new($id)
            $(.arg(stringify!($name), $crate::msg!(@value $name $(= $value)?)))*
    };
    (@value $name:ident) => { &$name };
    (@value $name:ident = $value:expr) => { $value };
}

/// A duration in words, its two largest units and zeros left out: `2 h 5 min`, `45 s`,
/// `3 d 4 h` (`2 ч 5 мин`). Negative durations count as zero.
pub fn duration(secs: i64) -> Msg {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let unit = |id: &'static str, n: i64| Msg::new(id).arg("n", n);
    let parts = if d > 0 {
        [unit("duration-days", d), unit("duration-hours", h)]
    } else if h > 0 {
        [unit("duration-hours", h), unit("duration-minutes", m)]
    } else if m > 0 {
        [unit("duration-minutes", m), unit("duration-seconds", s)]
    } else {
        return unit("duration-seconds", s);
    };
    let nonzero: Vec<Msg> = parts
        .into_iter()
        .filter(|p| !matches!(p.args.first(), Some((_, Arg::Number(n))) if *n == 0.0))
        .collect();
    Msg::new("duration").arg("parts", Arg::Join(nonzero, " "))
}

/// A count of days with its noun: `1 day`, `3 days`; `1 день`, `3 дня`, `11 дней`.
pub fn days(n: i64) -> Msg {
    Msg::new("count-days").arg("n", n)
}

/// A group incident's cause signal (`ip:203.0.113.7:connect_refused`, `host:…`, `dns:…`,
/// `cert:…`, `region:…`; see the backend's `incidents::correlate`) in words: "all resolve to
/// 203.0.113.7 (connect_refused)". `None` for a cause this build cannot read.
pub fn cause_msg(cause: &str) -> Option<Msg> {
    let (kind, rest) = cause.split_once(':')?;
    Some(match kind {
        "ip" => {
            let (address, failure) = rest.rsplit_once(':')?;
            Msg::new("cause-ip").arg("address", address).arg("kind", failure)
        }
        "host" => {
            let (host, failure) = rest.rsplit_once(':')?;
            Msg::new("cause-host").arg("host", host).arg("kind", failure)
        }
        "dns" => {
            let (resolver, rcode) = rest.rsplit_once(':')?;
            Msg::new("cause-dns").arg("resolver", resolver).arg("rcode", rcode)
        }
        "cert" => Msg::new("cause-cert").arg("fingerprint", rest.chars().take(16).collect::<String>()),
        "region" => {
            let mut parts = rest.rsplitn(3, ':');
            let (phase, failure, region) = (parts.next()?, parts.next()?, parts.next()?);
            Msg::new("cause-region")
                .arg("region", region)
                .arg("kind", failure)
                .arg("phase", phase)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
