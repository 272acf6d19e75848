//! What several kinds share beyond [`api`](super::api): the webhook URL kept as the secret
//! (Slack, Mattermost, Discord, Teams, Google Chat), the notice's links, the choice of a
//! value by severity, tags; and, for the fakes and tests, the checks of a request's method
//! and content type and the building of samples.

use url::Url;

use crate::http::{check_short, parse_url};
use crate::{FieldError, Notice, SecretField, Secrets, Severity};

/// The one secret of the webhook kinds: the webhook URL.
pub const URL_SECRET: &[SecretField] = &[SecretField {
    name: "url",
    required: true,
}];

/// The webhook URL kept in the secret `url` (errors name `secrets.url`).
pub fn secret_url(secrets: &Secrets) -> Result<Url, FieldError> {
    parse_url("secrets.url", secrets.required("url")?)
}

/// One of a notice's links: the dashboard's, or (`ack`) the acknowledgement's.
pub struct Link<'a> {
    /// Where it leads.
    pub url: &'a str,
    /// Its label, unescaped.
    pub label: String,
    /// Whether it acknowledges the incident.
    pub ack: bool,
}

/// The notice's links: the dashboard's first, then the acknowledgement's.
pub fn links(n: &Notice) -> Vec<Link<'_>> {
    let open = n.link.as_deref().map(|url| Link {
        url,
        label: n.open_label(),
        ack: false,
    });
    let ack = n.ack_link.as_deref().map(|url| Link {
        url,
        label: n.ack_label(),
        ack: true,
    });
    open.into_iter().chain(ack).collect()
}

/// The notice's links, each written by `write`, joined by ` · ` (empty without links).
pub fn link_line(n: &Notice, write: impl Fn(&Link<'_>) -> String) -> String {
    links(n).iter().map(write).collect::<Vec<_>>().join(" · ")
}

/// The notice's links as Markdown `[label](url)`, labels escaped by `escape`, joined by ` · `.
pub fn markdown_links(n: &Notice, escape: impl Fn(&str) -> String) -> String {
    link_line(n, |l| format!("[{}]({})", escape(&l.label), l.url))
}

/// The value of `[critical, warning, info]` for `n`'s severity.
pub fn by_severity<T>(n: &Notice, [critical, warning, info]: [T; 3]) -> T {
    match n.severity {
        Severity::Critical => critical,
        Severity::Warning => warning,
        Severity::Info => info,
    }
}

/// Checks the tags a channel adds: at most [`limits::TAGS`](crate::limits::TAGS), each
/// 1–`max` characters (and, `without_commas`, no comma). Errors name `settings.tags` or
/// `settings.tags[i]`.
pub fn check_tags(tags: &[String], max: usize, without_commas: bool) -> Result<(), FieldError> {
    let most = crate::limits::TAGS;
    if tags.len() > most {
        return Err(FieldError::new("settings.tags", format!("at most {most} tags")));
    }
    for (i, tag) in tags.iter().enumerate() {
        let field = format!("settings.tags[{i}]");
        check_short(&field, tag)?;
        if tag.trim().is_empty() || tag.chars().count() > max || (without_commas && tag.contains(',')) {
            let rule = if without_commas { " without commas" } else { "" };
            return Err(FieldError::new(field, format!("must be 1–{max} characters{rule}")));
        }
    }
    Ok(())
}

/// Secrets of `(name, value)` pairs (samples and tests).
#[cfg(any(test, feature = "testing"))]
pub fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    Secrets(
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
    )
}

/// What the fakes share.
#[cfg(feature = "testing")]
pub mod fake {
    use serde_json::{Value, json};

    use super::secrets;
    use crate::Secrets;
    use crate::testing::Received;

    /// The content type of a JSON body.
    pub const JSON: &str = "application/json";
    /// The content type of a form body.
    pub const FORM: &str = "application/x-www-form-urlencoded";

    /// A JSON string's length in characters (0 for anything else).
    pub fn chars(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    /// Whether `r`'s content type is `mime` (its parameters aside).
    pub fn has_content_type(r: &Received, mime: &str) -> bool {
        r.header("content-type").is_some_and(|c| c.starts_with(mime))
    }

    /// The problems of a webhook request that must be a JSON POST (to any path).
    pub fn json_post(r: &Received) -> Vec<String> {
        if r.method != "POST" || !has_content_type(r, JSON) {
            return vec!["must be a JSON POST".into()];
        }
        Vec::new()
    }

    /// The problems of an API request that must be a POST to `path` (else `calls`, followed
    /// by the method and path received) with a body of `mime` (else `body`).
    pub fn post_to(r: &Received, path: &str, calls: &str, mime: &str, body: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if r.method != "POST" || r.path != path {
            problems.push(format!("{calls}, not {} {}", r.method, r.path));
        }
        if !has_content_type(r, mime) {
            problems.push(body.to_owned());
        }
        problems
    }

    /// A webhook kind without settings posting to `url` (its secret).
    pub fn url_sample(url: &str) -> (Value, Secrets) {
        (json!({}), secrets(&[("url", url)]))
    }
}

/// What the kinds' unit tests share.
#[cfg(test)]
pub mod test {
    use crate::Response;

    /// A service's answer: `status`, `headers`, `body`.
    pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.into(),
        }
    }
}
