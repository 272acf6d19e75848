//! Conditions on the final HTTP response, a tiny JSON path, and the body excerpt.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use common::messages::{Assertion, Failure, FailureKind, Phase};
use http::HeaderMap;
use serde_json::Value;

use crate::report::failure;

/// Largest body excerpt kept for reports.
pub const EXCERPT_CAP: usize = 1024;

/// Largest compiled form of a user's regular expression (and of its lazy DFA's cache): a
/// pattern such as `\w{1000}{1000}` would otherwise take the pinger's memory and CPU.
pub const REGEX_SIZE_LIMIT: usize = 1024 * 1024;

/// Patterns kept compiled; beyond this the oldest is compiled again when next used.
pub const REGEX_CACHE_CAP: usize = 4096;

/// Why a user's pattern cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// Its compiled form exceeds [`REGEX_SIZE_LIMIT`].
    TooBig,
    /// It is not a regular expression.
    Invalid(String),
}

/// Compiled patterns by their text: each pattern is compiled once, not on every check.
struct RegexCache {
    compiled: HashMap<String, Result<Arc<regex::Regex>, PatternError>>,
    order: VecDeque<String>,
}

static REGEXES: LazyLock<Mutex<RegexCache>> = LazyLock::new(|| {
    Mutex::new(RegexCache {
        compiled: HashMap::new(),
        order: VecDeque::new(),
    })
});

/// `pattern` compiled within [`REGEX_SIZE_LIMIT`], from the cache when it was seen before.
pub fn compiled(pattern: &str) -> Result<Arc<regex::Regex>, PatternError> {
    if let Some(hit) = REGEXES.lock().unwrap_or_else(|p| p.into_inner()).compiled.get(pattern) {
        return hit.clone();
    }
    // Compiled outside the lock: a large pattern must not stall every other check.
    let built = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Arc::new)
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => PatternError::TooBig,
            other => PatternError::Invalid(other.to_string()),
        });
    let mut cache = REGEXES.lock().unwrap_or_else(|p| p.into_inner());
    if !cache.compiled.contains_key(pattern) {
        while cache.order.len() >= REGEX_CACHE_CAP {
            if let Some(old) = cache.order.pop_front() {
                cache.compiled.remove(&old);
            }
        }
        cache.order.push_back(pattern.to_owned());
        cache.compiled.insert(pattern.to_owned(), built.clone());
    }
    built
}

/// A pattern as messages show it: at most 100 characters.
fn shown(pattern: &str) -> String {
    match pattern.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &pattern[..at]),
        None => pattern.to_owned(),
    }
}

/// The first failed assertion, if any.
pub fn evaluate(assertions: &[Assertion], body: &[u8], headers: &HeaderMap) -> Option<Failure> {
    if assertions.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let mut json: Option<Result<Value, String>> = None;
    let mut json_of = || {
        json.get_or_insert_with(|| serde_json::from_slice::<Value>(body).map_err(|e| e.to_string()))
            .clone()
    };
    for a in assertions {
        let fail = |m: String| Some(failure(FailureKind::AssertionFailed, Phase::Validation, m));
        match a {
            Assertion::BodyContains { value } => {
                if !text.contains(value.as_str()) {
                    return fail(format!("the body does not contain {value:?}"));
                }
            }
            Assertion::BodyNotContains { value } => {
                if text.contains(value.as_str()) {
                    return fail(format!("the body contains {value:?}"));
                }
            }
            Assertion::BodyMatches { pattern } => match compiled(pattern) {
                Ok(re) if re.is_match(&text) => {}
                Ok(_) => return fail(format!("the body does not match /{}/", shown(pattern))),
                Err(PatternError::TooBig) => {
                    return fail(format!(
                        "the regular expression /{}/ is too large to run: its compiled form exceeds {} KiB",
                        shown(pattern),
                        REGEX_SIZE_LIMIT / 1024
                    ));
                }
                Err(PatternError::Invalid(e)) => {
                    return Some(failure(
                        FailureKind::Internal,
                        Phase::Setup,
                        format!("invalid regular expression /{}/: {e}", shown(pattern)),
                    ));
                }
            },
            Assertion::JsonPathEquals { path, value } => match json_of() {
                Err(e) => return fail(format!("the body is not JSON ({e}), so {path} cannot equal {value}")),
                Ok(doc) => match select(&doc, path) {
                    Some(found) if found == value => {}
                    Some(found) => return fail(format!("{path} is {found}, expected {value}")),
                    None => return fail(format!("{path} is absent, expected {value}")),
                },
            },
            Assertion::JsonPathExists { path } => match json_of() {
                Err(e) => return fail(format!("the body is not JSON ({e}), so {path} does not exist")),
                Ok(doc) => {
                    if select(&doc, path).is_none() {
                        return fail(format!("{path} does not exist in the body"));
                    }
                }
            },
            Assertion::HeaderEquals { name, value } => {
                let got = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
                if got != Some(value.as_str()) {
                    return fail(format!("header {name} is {got:?}, expected {value:?}"));
                }
            }
        }
    }
    None
}

/// Selects a value by a simple JSON path: `$`, `.key`, `['key']`, `["key"]`, `[index]`.
pub fn select<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut rest = path.trim().strip_prefix('$').unwrap_or(path.trim());
    let mut cur = doc;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() {
                return None;
            }
            cur = cur.get(key)?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            cur = if let Some(q) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                cur.get(q)?
            } else if let Some(q) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                cur.get(q)?
            } else {
                cur.get(inner.parse::<usize>().ok()?)?
            };
            rest = &r[end + 1..];
        } else {
            // A bare leading key (`status.code`).
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            cur = cur.get(&rest[..end])?;
            rest = &rest[end..];
        }
    }
    Some(cur)
}

/// A tag-stripped, whitespace-collapsed excerpt of ≤ [`EXCERPT_CAP`] bytes (scripts and
/// styles removed, a few entities decoded). `None` for an empty body.
pub fn excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let mut out = String::with_capacity(EXCERPT_CAP);
    let lower = text.to_ascii_lowercase();
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            // Drop the contents of script and style elements entirely.
            let skip_to = ["script", "style"].iter().find_map(|tag| {
                lower[i + 1..]
                    .starts_with(tag)
                    .then(|| lower[i..].find(&format!("</{tag}")).map(|p| i + p))
                    .flatten()
            });
            let from = skip_to.unwrap_or(i);
            match text[from..].find('>') {
                Some(p) => {
                    i = from + p + 1;
                    out.push(' ');
                    continue;
                }
                None => break,
            }
        }
        let ch = text[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut collapsed = String::with_capacity(EXCERPT_CAP);
    for word in decoded.split_whitespace() {
        let sep = usize::from(!collapsed.is_empty());
        if collapsed.len() + sep + word.len() <= EXCERPT_CAP {
            if sep == 1 {
                collapsed.push(' ');
            }
            collapsed.push_str(word);
            continue;
        }
        if collapsed.len() + sep < EXCERPT_CAP {
            if sep == 1 {
                collapsed.push(' ');
            }
            for ch in word.chars() {
                if collapsed.len() + ch.len_utf8() > EXCERPT_CAP {
                    break;
                }
                collapsed.push(ch);
            }
        }
        break;
    }
    (!collapsed.is_empty()).then_some(collapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_select_keys_and_indexes() {
        let doc: Value = serde_json::json!({"status": "ok", "items": [{"name": "a"}, {"name": "b"}], "a.b": 1});
        assert_eq!(select(&doc, "$.status"), Some(&Value::from("ok")));
        assert_eq!(select(&doc, "$.items[1].name"), Some(&Value::from("b")));
        assert_eq!(select(&doc, "$['a.b']"), Some(&Value::from(1)));
        assert_eq!(select(&doc, "items[0].name"), Some(&Value::from("a")));
        assert_eq!(select(&doc, "$.missing"), None);
        assert_eq!(select(&doc, "$.items[5]"), None);
    }

    #[test]
    fn excerpts_drop_tags_scripts_and_stay_within_the_cap() {
        let html = b"<html><head><style>p{}</style><script>alert(1)</script></head><body><h1>Bad&nbsp;Gateway</h1>\n\n<p>nginx</p></body></html>";
        assert_eq!(excerpt(html).as_deref(), Some("Bad Gateway nginx"));
        let long = "word ".repeat(1000);
        let e = excerpt(long.as_bytes()).unwrap();
        assert!(e.len() <= EXCERPT_CAP, "{}", e.len());
        assert!(excerpt(b"   ").is_none());
        let utf = "ж".repeat(2000);
        assert!(excerpt(utf.as_bytes()).unwrap().len() <= EXCERPT_CAP);
    }

    #[test]
    fn an_over_size_regex_is_a_clear_assertion_failure() {
        let huge = [Assertion::BodyMatches {
            pattern: r"\w{1000}{1000}".into(),
        }];
        let f = evaluate(&huge, b"anything", &HeaderMap::new()).expect("refused");
        assert_eq!(f.kind, FailureKind::AssertionFailed);
        assert!(f.message.contains("too large to run"), "{}", f.message);
        assert_eq!(compiled(r"\w{1000}{1000}").err(), Some(PatternError::TooBig));
    }

    #[test]
    fn each_pattern_is_compiled_once_and_the_cache_stays_bounded() {
        let pattern = format!("once-{}", uuid::Uuid::now_v7());
        let first = compiled(&pattern).unwrap();
        let second = compiled(&pattern).unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second use takes the compiled pattern"
        );
        for i in 0..REGEX_CACHE_CAP + 10 {
            compiled(&format!("fill-{i}")).unwrap();
        }
        let cache = REGEXES.lock().unwrap();
        assert!(cache.compiled.len() <= REGEX_CACHE_CAP, "{}", cache.compiled.len());
        assert_eq!(cache.compiled.len(), cache.order.len());
    }

    #[test]
    fn assertions_report_the_first_failure() {
        let headers = HeaderMap::new();
        let body = br#"{"status":"ok","n":3}"#;
        let ok = [
            Assertion::BodyContains { value: "ok".into() },
            Assertion::BodyNotContains { value: "error".into() },
            Assertion::BodyMatches {
                pattern: r#""n":\d"#.into(),
            },
            Assertion::JsonPathEquals {
                path: "$.n".into(),
                value: 3.into(),
            },
            Assertion::JsonPathExists {
                path: "$.status".into(),
            },
        ];
        assert!(evaluate(&ok, body, &headers).is_none());
        let bad = [Assertion::JsonPathEquals {
            path: "$.status".into(),
            value: "down".into(),
        }];
        let f = evaluate(&bad, body, &headers).unwrap();
        assert_eq!(f.kind, FailureKind::AssertionFailed);
        assert!(f.message.contains("$.status"), "{}", f.message);
    }
}
