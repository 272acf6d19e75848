//! Masking of credentials that ride in URLs, before any text leaves for a provider or a
//! report.
//!
//! Owners put API keys in query strings (`?api_key=…`), user info (`https://user:pass@…`) and
//! fragments (`#access_token=…`). Those URLs come back in the evidence: the target address,
//! every redirect hop and `Location`, failure messages, even an error page that echoes the
//! request. Three layers, each cheap:
//! 1. every URL we know is a URL is masked structurally ([`mask_url`]): each query and
//!    fragment value becomes `***` (a parameter without `=` is masked whole), user info too;
//! 2. free text is searched for URLs, paths with a query, and `secret-looking-name=value`
//!    pairs, which are masked the same way ([`mask_text`]);
//! 3. the values found in the evidence's own URLs are scrubbed wherever else they appear
//!    ([`Redactor`]), so an error page saying "invalid key SECRET123" does not leak it either.
//!
//! A heartbeat's ping body is the output of the owner's own job (a backup script's log, a
//! `pg_dump` error), where credentials come as `PGPASSWORD=…`, `api_key: …`, `"token": "…"`
//! or `Authorization: Bearer …`: [`mask_output`] masks those forms too.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Shortest query value scrubbed from free text; shorter ones (`page=2`) would blank out
/// ordinary words and numbers. They are still masked inside URLs.
const MIN_SCRUBBED_LEN: usize = 4;
/// Most distinct values one event's redactor scrubs (bounds the work per string).
const MAX_SCRUBBED: usize = 64;

/// An absolute URL inside free text.
static URL_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>`]+"#).expect("valid regex"));
/// A relative reference with a query or fragment inside free text (`/login?next=…`).
static PATH_WITH_QUERY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(^|[\s"'(=:,])(/[^\s?#"'<>`]*[?#][^\s"'<>`]*)"#).expect("valid regex"));
/// A `name=value` pair whose name says it holds a credential, anywhere in free text.
static SECRET_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b([a-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|auth|sig(?:nature)?|session|credential)[a-z0-9_.\-]*)(\s*=\s*)([^\s&;,"'<>`]+)"#,
    )
    .expect("valid regex")
});
/// A `name: value` field whose name says it holds a credential (logs, YAML, JSON).
static SECRET_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b([a-z0-9_.\-]*(?:key|token|secret|passw(?:or)?d|pwd|auth|sig(?:nature)?|session|credential)[a-z0-9_.\-]*)("?\s*:\s*"?)([^\s&;,"'<>`]+)"#,
    )
    .expect("valid regex")
});
/// The credential of an HTTP authorization scheme (`Bearer eyJ…`, `Basic dXNlcjpw…`).
static AUTH_SCHEME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9._~+/\-]{8,}=*)").expect("valid regex"));
/// A parameter name kept in clear: short and plain.
static PLAIN_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.\-\[\]]{1,32}$").expect("valid regex"));

/// `raw` with every query and fragment value, and the user info, replaced by [`MASK`].
/// Works on absolute URLs and on relative references (a `Location` may be either).
pub fn mask_url(raw: &str) -> String {
    if let Ok(mut url) = url::Url::parse(raw)
        && !url.cannot_be_a_base()
    {
        if url.username().is_empty() && url.password().is_none() && url.query().is_none() && url.fragment().is_none() {
            // Nothing to mask: the URL as written (parsing would normalise it).
            return raw.to_owned();
        }
        if !url.username().is_empty() {
            let _ = url.set_username(MASK);
        }
        if url.password().is_some() {
            let _ = url.set_password(Some(MASK));
        }
        if let Some(query) = url.query().map(mask_pairs) {
            url.set_query(Some(&query));
        }
        if let Some(fragment) = url.fragment().map(mask_pairs) {
            url.set_fragment(Some(&fragment));
        }
        return url.to_string();
    }
    mask_reference(raw)
}

/// A relative reference (or anything that did not parse) masked after its first `?` or `#`,
/// and its user info (`//user:pass@host`) masked.
fn mask_reference(raw: &str) -> String {
    let (head, tail) = match raw.find(['?', '#']) {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    };
    let head = match head.find("//") {
        Some(start) => {
            let authority_end = head[start + 2..].find('/').map_or(head.len(), |e| start + 2 + e);
            match head[start + 2..authority_end].rfind('@') {
                Some(at) => format!("{}{MASK}{}", &head[..start + 2], &head[start + 2 + at..]),
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    if tail.is_empty() {
        return head;
    }
    let mut out = head;
    let mut rest = tail;
    // `?query#fragment`: each part masked on its own.
    while let Some(sep) = rest.chars().next() {
        let body = &rest[1..];
        let end = if sep == '?' {
            body.find('#').unwrap_or(body.len())
        } else {
            body.len()
        };
        out.push(sep);
        out.push_str(&mask_pairs(&body[..end]));
        rest = &body[end..];
    }
    out
}

/// `a=1&b&c=2` → `a=***&***&c=***`; names that are not short and plain are masked too.
fn mask_pairs(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            _ if pair.is_empty() => String::new(),
            Some((name, _)) if PLAIN_NAME.is_match(name) => format!("{name}={MASK}"),
            _ => MASK.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Free text with every URL, every path with a query, and every credential-looking
/// `name=value` pair masked.
pub fn mask_text(text: &str) -> String {
    let urls = URL_IN_TEXT.replace_all(text, |c: &Captures<'_>| mask_url(&c[0]));
    let paths = PATH_WITH_QUERY.replace_all(&urls, |c: &Captures<'_>| format!("{}{}", &c[1], mask_reference(&c[2])));
    SECRET_PAIR
        .replace_all(&paths, |c: &Captures<'_>| {
            if c[3].starts_with(MASK) {
                c[0].to_owned()
            } else {
                format!("{}{}{MASK}", &c[1], &c[2])
            }
        })
        .into_owned()
}

/// A job's output (a heartbeat's ping body) masked like free text ([`mask_text`]), and also
/// every credential-looking `name: value` field and authorization scheme's credential.
pub fn mask_output(text: &str) -> String {
    let masked = mask_text(text);
    let schemes = AUTH_SCHEME.replace_all(&masked, |c: &Captures<'_>| {
        // "Bearer …" and "Basic …" are always credentials; "token validation failed" is prose,
        // so after "token" only what has digits or is long is one.
        let credential = &c[3];
        let prose = c[1].eq_ignore_ascii_case("token")
            && !credential.bytes().any(|b| b.is_ascii_digit())
            && credential.len() < 20;
        if !prose {
            format!("{}{}{MASK}", &c[1], &c[2])
        } else {
            c[0].to_owned()
        }
    });
    SECRET_FIELD
        .replace_all(&schemes, |c: &Captures<'_>| {
            if c[3].starts_with(MASK) || c[3].eq_ignore_ascii_case("bearer") || c[3].eq_ignore_ascii_case("basic") {
                c[0].to_owned()
            } else {
                format!("{}{}{MASK}", &c[1], &c[2])
            }
        })
        .into_owned()
}

/// The credential values of one event's URLs, scrubbed from any text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Values to scrub, longest first so a value containing another goes whole.
    values: Vec<String>,
}

impl Redactor {
    /// A redactor for the values found in `urls` (query and fragment values, user info),
    /// both as written and percent-decoded.
    pub fn from_urls<'a>(urls: impl IntoIterator<Item = &'a str>) -> Self {
        let mut values: Vec<String> = Vec::new();
        for raw in urls {
            let (auth, tail) = split_secret_parts(raw);
            let candidates = tail
                .split(['?', '#', '&'])
                .map(|pair| pair.split_once('=').map_or(pair, |(_, v)| v))
                .chain(auth.split(':'));
            for value in candidates {
                for form in [value.to_owned(), decode(value)] {
                    if form.chars().count() >= MIN_SCRUBBED_LEN && !values.contains(&form) {
                        values.push(form);
                    }
                }
            }
        }
        values.truncate(MAX_SCRUBBED);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Self { values }
    }

    /// `text` with URLs masked ([`mask_text`]) and every known value replaced by [`MASK`].
    pub fn clean(&self, text: &str) -> String {
        let mut out = mask_text(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    /// The URL `raw` masked ([`mask_url`]), then cleaned of known values.
    pub fn url(&self, raw: &str) -> String {
        self.clean(&mask_url(raw))
    }
}

/// `(user info, query-and-fragment)` of a URL or reference; either may be empty.
fn split_secret_parts(raw: &str) -> (&str, &str) {
    let (head, tail) = match raw.find(['?', '#']) {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    };
    let auth = head
        .find("//")
        .map(|s| {
            let authority = &head[s + 2..];
            let end = authority.find('/').unwrap_or(authority.len());
            authority[..end].rfind('@').map_or("", |at| &authority[..at])
        })
        .unwrap_or("");
    (auth, tail)
}

fn decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_fragment_values_and_user_info_are_masked_in_urls() {
        assert_eq!(
            mask_url("https://x.example/y?token=abc&page=2"),
            "https://x.example/y?token=***&page=***"
        );
        assert_eq!(
            mask_url("https://user:pa55@x.example/y#access_token=abc"),
            "https://***:***@x.example/y#access_token=***"
        );
        assert_eq!(mask_url("https://x.example/y?SECRET123"), "https://x.example/y?***");
        assert_eq!(mask_url("https://x.example/y"), "https://x.example/y");
        assert_eq!(mask_url("/login?next=%2Fa&key=s3cr3t#f"), "/login?next=***&key=***#***");
        assert_eq!(mask_url("//u:p@cdn.example/a?k=v"), "//***@cdn.example/a?k=***");
    }

    #[test]
    fn urls_paths_and_credential_pairs_in_free_text_are_masked() {
        let text = "redirect to https://a.example/b?api_key=SECRET123. then /c?sig=XYZ1 and password=hunter22, ok=1";
        let masked = mask_text(text);
        for secret in ["SECRET123", "XYZ1", "hunter22"] {
            assert!(!masked.contains(secret), "{masked}");
        }
        assert!(masked.contains("https://a.example/b?api_key=***"), "{masked}");
        assert!(masked.contains("ok=1"), "ordinary pairs outside URLs stay: {masked}");
    }

    #[test]
    fn credentials_in_a_jobs_output_are_masked_in_every_usual_form() {
        let output = "pg_dump -h db.internal\nPGPASSWORD=hunter22 api_key: AKIAXYZ123\n\
            {\"token\": \"tok-98765\"}\nAuthorization: Bearer eyJhbGciOi.abc.def\n\
            curl https://u:pa55w0rd@backup.example/upload?sig=SIG4567\ndumped 1234 rows in 14 min";
        let masked = mask_output(output);
        for secret in [
            "hunter22",
            "AKIAXYZ123",
            "tok-98765",
            "eyJhbGciOi",
            "pa55w0rd",
            "SIG4567",
        ] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        assert!(masked.contains("Authorization: Bearer ***"), "{masked}");
        assert!(masked.contains("\"token\": \"***\""), "{masked}");
        assert!(
            masked.contains("dumped 1234 rows in 14 min"),
            "ordinary output stays: {masked}"
        );
        assert!(masked.contains("pg_dump -h db.internal"), "{masked}");
        assert_eq!(mask_output("token validation failed"), "token validation failed");
    }

    #[test]
    fn values_of_the_events_urls_are_scrubbed_from_any_text() {
        let redactor = Redactor::from_urls([
            "https://a.example/b?api_key=SECRET%2F123&p=1",
            "https://u:pa55w0rd@c.example/",
        ]);
        let cleaned = redactor.clean("the key SECRET/123 is invalid; SECRET%2F123; user pa55w0rd; page 1");
        assert_eq!(cleaned, "the key *** is invalid; ***; user ***; page 1");
        assert_eq!(
            redactor.url("https://a.example/b?x=SECRET%2F123"),
            "https://a.example/b?x=***"
        );
    }
}
