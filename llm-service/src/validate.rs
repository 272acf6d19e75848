//! Validation of the model's answer before it may become a report.
//!
//! 1. Schema: one JSON object with the four parts and claims; plain text (no HTML, no fence
//!    marker of the prompt copied from its data); sane lengths.
//! 2. Grounding: every claim rests on result ids of the evidence.
//! 3. Links: no URL or domain name other than the target's own host (and hosts the
//!    evidence itself names, like redirect hops or certificate names, for bare names).
//! 4. Facts: no "all is fine" for an opened incident, no "still down" for a resolved one,
//!    no HTTP status code absent from the evidence, no failure kind the evidence does not show.
//!
//! Any failure rejects the whole answer; the caller then uses the rule report.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use common::messages::{FailureKind, IncidentEvent, IncidentEventKind, IncidentReport, ReportClaim, TargetStatus};
use regex::Regex;
use serde::Deserialize;
use uuid::Uuid;

use crate::facts::{Facts, host_and_port};
use crate::language::Language;

/// Longest summary, in characters.
const MAX_SUMMARY: usize = 600;
/// Longest cause, impact, action or claim, in characters.
const MAX_PART: usize = 1200;
/// Most recommended actions.
const MAX_ACTIONS: usize = 8;
/// Most claims.
const MAX_CLAIMS: usize = 12;

/// Why an answer was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not the JSON object asked for.
    #[error("malformed: {0}")]
    Malformed(String),
    /// JSON of the right shape, but empty, too long or not plain text.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A claim rests on no result or on results not in the evidence.
    #[error("ungrounded: {0}")]
    Ungrounded(String),
    /// A link or domain other than the target's.
    #[error("foreign link: {0}")]
    ForeignLink(String),
    /// A statement the evidence contradicts.
    #[error("contradiction: {0}")]
    Contradiction(String),
}

impl Rejection {
    /// Short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::Invalid(_) => "invalid",
            Rejection::Ungrounded(_) => "ungrounded",
            Rejection::ForeignLink(_) => "foreign_link",
            Rejection::Contradiction(_) => "contradiction",
        }
    }
}

/// What the model must answer.
#[derive(Debug, Clone, Deserialize)]
struct Draft {
    summary: String,
    probable_cause: String,
    impact: String,
    recommended_actions: Vec<String>,
    claims: Vec<DraftClaim>,
}

#[derive(Debug, Clone, Deserialize)]
struct DraftClaim {
    text: String,
    result_ids: Vec<String>,
}

/// Validates the model's `answer` for `event` and turns it into a report.
pub fn check(
    answer: &str,
    event: &IncidentEvent,
    lang: Language,
    model: &str,
    now: DateTime<Utc>,
) -> Result<IncidentReport, Rejection> {
    let draft = parse(answer)?;
    let facts = Facts::of(event);
    schema(&draft)?;
    let claims = grounding(&draft, &facts)?;
    let texts: Vec<&str> = std::iter::once(draft.summary.as_str())
        .chain([draft.probable_cause.as_str(), draft.impact.as_str()])
        .chain(draft.recommended_actions.iter().map(String::as_str))
        .chain(draft.claims.iter().map(|c| c.text.as_str()))
        .collect();
    for text in &texts {
        links(text, &facts)?;
        contradictions(text, &facts)?;
    }
    Ok(IncidentReport {
        incident_id: event.incident_id,
        event_kind: event.kind,
        language: lang.tag().to_owned(),
        summary: draft.summary.trim().to_owned(),
        probable_cause: draft.probable_cause.trim().to_owned(),
        impact: draft.impact.trim().to_owned(),
        recommended_actions: draft.recommended_actions.iter().map(|a| a.trim().to_owned()).collect(),
        source: format!("llm:{model}"),
        claims,
        generated_at: now,
    })
}

fn parse(answer: &str) -> Result<Draft, Rejection> {
    // Some local models wrap JSON mode output in a Markdown code fence anyway.
    let trimmed = answer.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(trimmed);
    serde_json::from_str::<Draft>(body.trim()).map_err(|e| Rejection::Malformed(e.to_string()))
}

fn schema(d: &Draft) -> Result<(), Rejection> {
    let part = |name: &str, text: &str, max: usize| -> Result<(), Rejection> {
        let n = text.trim().chars().count();
        if n == 0 {
            return Err(Rejection::Invalid(format!("{name} is empty")));
        }
        if n > max {
            return Err(Rejection::Invalid(format!(
                "{name} has {n} characters, more than {max}"
            )));
        }
        // A fence marker in the answer means the model copied fenced data verbatim.
        if text.chars().any(|c| c.is_control() && c != '\n') || HTML.is_match(text) || FENCE_MARK.is_match(text) {
            return Err(Rejection::Invalid(format!("{name} is not plain text")));
        }
        Ok(())
    };
    part("summary", &d.summary, MAX_SUMMARY)?;
    part("probable_cause", &d.probable_cause, MAX_PART)?;
    part("impact", &d.impact, MAX_PART)?;
    if d.recommended_actions.is_empty() || d.recommended_actions.len() > MAX_ACTIONS {
        return Err(Rejection::Invalid(format!(
            "{} recommended actions",
            d.recommended_actions.len()
        )));
    }
    for a in &d.recommended_actions {
        part("recommended action", a, MAX_PART)?;
    }
    if d.claims.is_empty() || d.claims.len() > MAX_CLAIMS {
        return Err(Rejection::Invalid(format!("{} claims", d.claims.len())));
    }
    for c in &d.claims {
        part("claim", &c.text, MAX_PART)?;
    }
    Ok(())
}

fn grounding(d: &Draft, f: &Facts<'_>) -> Result<Vec<ReportClaim>, Rejection> {
    d.claims
        .iter()
        .map(|c| {
            if c.result_ids.is_empty() {
                return Err(Rejection::Ungrounded(format!("claim {:?} names no result", c.text)));
            }
            let ids = c
                .result_ids
                .iter()
                .map(|s| {
                    Uuid::parse_str(s.trim())
                        .ok()
                        .filter(|id| f.evidence_ids.contains(id))
                        .ok_or_else(|| Rejection::Ungrounded(format!("result id {s:?} is not in the evidence")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ReportClaim {
                text: c.text.trim().to_owned(),
                result_ids: ids,
            })
        })
        .collect()
}

/// A fence marker of the prompt ([`crate::prompt::Fence`]).
static FENCE_MARK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[\[/?data:").expect("valid regex"));
static HTML: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)</?[a-z][a-z0-9]*[\s/>]|\]\(").expect("valid regex"));
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>()\[\]{}'`]+").expect("valid regex"));
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24}))\b").expect("valid regex")
});
/// Top-level domains whose bare names are taken for domain names (file names like
/// `nginx.conf` are not): the common generic ones, the ones phishing likes, a few countries,
/// and the reserved example/test names.
const TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "co", "app", "dev", "ai", "me", "xyz", "top", "site", "online", "click",
    "link", "live", "shop", "store", "club", "icu", "tk", "ml", "ga", "cf", "gq", "ru", "su", "ua", "by", "kz", "de",
    "uk", "fr", "nl", "cn", "us", "eu", "tv", "cc", "ws", "to", "ly", "gg", "example", "test", "invalid", "local",
    "onion",
];

fn links(text: &str, f: &Facts<'_>) -> Result<(), Rejection> {
    let own = f.host.clone().unwrap_or_default();
    for m in URL.find_iter(text) {
        let raw = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', '"']);
        let with_scheme = if raw.to_ascii_lowercase().starts_with("www.") {
            format!("http://{raw}")
        } else {
            raw.to_owned()
        };
        let host = host_and_port(&with_scheme).0.unwrap_or_default();
        if host.is_empty() || host != own {
            return Err(Rejection::ForeignLink(raw.to_owned()));
        }
    }
    let known = f.known_hosts();
    for c in DOMAIN.captures_iter(text) {
        let name = c[1].to_ascii_lowercase();
        let tld = c[2].to_ascii_lowercase();
        if TLDS.contains(&tld.as_str()) && !known.contains(&name) {
            return Err(Rejection::ForeignLink(name));
        }
    }
    Ok(())
}

static ALL_FINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \ball\s+(?:is|are|systems?\s+(?:are|is))\s+(?:fine|ok|okay|well|good|normal|operational|green)\b
        | \beverything\s+(?:is\s+|looks\s+|seems\s+)?(?:fine|ok|okay|good|normal|working|operational|up)\b
        | \bno\s+(?:issues?|problems?|incidents?|outages?|errors?|action\s+(?:is\s+)?(?:needed|required))\b
        | \bnothing\s+(?:is\s+)?(?:wrong|broken)\b
        | \bfalse\s+(?:alarm|positive)\b
        | \b(?:is|are)\s+(?:fully\s+|now\s+|currently\s+)?(?:up\s+and\s+running|operational|healthy|working\s+(?:fine|normally|properly))\b
        | все\s+в\s+порядке | всё\s+в\s+порядке | вс[её]\s+хорошо | вс[её]\s+работает
        | проблем\s+нет | нет\s+проблем | работает\s+(?:нормально|штатно|исправно)
        | ложн\w+\s+(?:тревог\w*|срабатывани\w*)
        | ничего\s+делать\s+не\s+нужно | действий\s+не\s+требуется",
    )
    .expect("valid regex")
});
static STILL_DOWN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?:is|remains|still)\s+(?:still\s+)?(?:down|unreachable|unavailable|offline)\b
        | (?:вс[её]\s+ещё|по-прежнему|до\s+сих\s+пор)\s+(?:не\s*доступ\w*|не\s+работает|лежит)",
    )
    .expect("valid regex")
});
static STATUS_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?:\bhttp(?:/\d(?:\.\d)?)?|\bstatus(?:\s+code)?|\bcode|\berror|\bresponse|\bответ\w*|\bкод\w*|\bошибк\w*|\bстатус\w*)
        [\s:=\x22'(-]{0,4}([1-5]\d\d)\b
        | \b([1-5]\d\d)\s+(?:ok|created|moved|found|not\s+modified|bad\s+request|unauthorized|forbidden|not\s+found|gone|too\s+many|internal|not\s+implemented|bad\s+gateway|service\s+unavailable|gateway\s+time-?out|errors?)\b",
    )
    .expect("valid regex")
});

/// Statements that name a failure kind, and the kinds of the evidence that justify them.
static KIND_CLAIMS: LazyLock<Vec<(Regex, &'static [FailureKind])>> = LazyLock::new(|| {
    use FailureKind as K;
    let table: &[(&str, &'static [FailureKind])] = &[
        (
            r"(?i)nxdomain|does\s+not\s+exist\s+in\s+dns|domain\s+(?:name\s+)?does\s+not\s+exist|не\s+существует",
            &[K::DnsNxdomain],
        ),
        (r"(?i)servfail", &[K::DnsServfail]),
        (
            r"(?i)connection\s+(?:was\s+)?refused|refus\w+\s+(?:the\s+)?connection|отклон\w+\s+соединени|соединени\w+\s+отклон",
            &[K::ConnectRefused],
        ),
        (
            r"(?i)certificate\s+(?:has\s+)?expired|expired\s+(?:tls\s+|ssl\s+)?certificate|сертификат\w*\s+(?:уже\s+)?истёк|сертификат\w*\s+(?:уже\s+)?истек|истёкш\w+\s+сертификат|истекш\w+\s+сертификат",
            &[K::TlsExpired],
        ),
        (
            r"(?i)redirect\s+loop|loop\w*\s+redirect|петл\w+\s+перенаправлени|циклическ\w+\s+перенаправлени",
            &[K::RedirectLoop, K::TooManyRedirects],
        ),
        (
            r"(?i)timed?\s*-?out|time\s+limit|таймаут|тайм-аут|истекло\s+время|превышен\w*\s+(?:время|тайм)",
            &[
                K::DnsTimeout,
                K::ConnectTimeout,
                K::Timeout,
                K::SlowResponse,
                K::HeartbeatMissed,
                K::HeartbeatLate,
            ],
        ),
    ];
    table
        .iter()
        .map(|(re, kinds)| (Regex::new(re).expect("valid regex"), *kinds))
        .collect()
});

fn contradictions(text: &str, f: &Facts<'_>) -> Result<(), Rejection> {
    let event = f.event.kind;
    let bad_state = matches!(
        f.state(),
        TargetStatus::Down | TargetStatus::Degraded | TargetStatus::Flapping
    );
    if (matches!(event, IncidentEventKind::Opened | IncidentEventKind::Flapping) || bad_state)
        && let Some(m) = ALL_FINE.find(text)
    {
        return Err(Rejection::Contradiction(format!(
            "says {:?} while the target is {}",
            m.as_str(),
            f.state().as_str()
        )));
    }
    if event == IncidentEventKind::Resolved
        && let Some(m) = STILL_DOWN.find(text)
    {
        return Err(Rejection::Contradiction(format!(
            "says {:?} about a resolved incident",
            m.as_str()
        )));
    }
    let codes = f.status_codes();
    for c in STATUS_CODE.captures_iter(text) {
        // "exit status 127" and "exit code 137" are a job's, not HTTP's (heartbeats).
        let before = text[..c.get(0).map_or(0, |m| m.start())].trim_end();
        if before
            .get(before.len().saturating_sub(4)..)
            .is_some_and(|word| word.eq_ignore_ascii_case("exit"))
        {
            continue;
        }
        let Some(code) = c
            .get(1)
            .or_else(|| c.get(2))
            .and_then(|m| m.as_str().parse::<u16>().ok())
        else {
            continue;
        };
        if !codes.contains(&code) {
            return Err(Rejection::Contradiction(format!(
                "names status {code}; the evidence has {codes:?}"
            )));
        }
    }
    let kinds: BTreeSet<FailureKind> = f.failure_kinds();
    for (re, justified_by) in KIND_CLAIMS.iter() {
        if let Some(m) = re.find(text)
            && !justified_by.iter().any(|k| kinds.contains(k))
        {
            return Err(Rejection::Contradiction(format!(
                "says {:?}; the evidence shows {:?}",
                m.as_str(),
                kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::samples;
    use serde_json::json;

    fn answer(summary: &str) -> String {
        json!({
            "summary": summary,
            "probable_cause": "The application servers behind the load balancer are overloaded.",
            "impact": "Visitors of https://shop.example.com/health get an error page.",
            "recommended_actions": ["Check the application servers and their logs."],
            "claims": [{"text": "The server answered 503.", "result_ids": [samples::check_result().result_id.to_string()]}],
        })
        .to_string()
    }

    fn verdict(summary: &str) -> Result<IncidentReport, Rejection> {
        check(
            &answer(summary),
            &samples::incident_event(),
            Language::En,
            "m",
            Utc::now(),
        )
    }

    #[test]
    fn a_grounded_answer_becomes_an_llm_report() {
        let report = verdict("Shop health is down: it answers HTTP 503 Service Unavailable.").unwrap();
        assert_eq!(report.source, "llm:m");
        assert_eq!(report.claims[0].result_ids, vec![samples::check_result().result_id]);
    }

    #[test]
    fn answers_that_contradict_the_evidence_are_rejected() {
        for (summary, reason) in [
            ("All is fine, no action needed.", "contradiction"),
            ("Всё в порядке, сервис работает нормально.", "contradiction"),
            ("The server answers 502 Bad Gateway.", "contradiction"),
            ("The TLS certificate has expired.", "contradiction"),
            ("The domain name does not exist (NXDOMAIN).", "contradiction"),
            ("The connection was refused.", "contradiction"),
            ("Visit http://evil.example for details.", "foreign_link"),
            ("See evil.com for details.", "foreign_link"),
            ("See https://shop.example.com.evil.com/x.", "foreign_link"),
            ("<a href=x>Down</a>", "invalid"),
            (
                "Down: [[data:0123456789abcdef]]HTTP 503[[/data:0123456789abcdef]].",
                "invalid",
            ),
        ] {
            let got = verdict(summary).expect_err(summary);
            assert_eq!(got.reason(), reason, "{summary}: {got}");
        }
    }

    #[test]
    fn links_to_the_target_itself_and_file_names_are_fine() {
        verdict("https://shop.example.com/health answers 503; see nginx.conf and the error log.").unwrap();
    }

    #[test]
    fn claims_must_rest_on_evidence_results() {
        let event = samples::incident_event();
        let mut v: serde_json::Value = serde_json::from_str(&answer("Down: HTTP 503.")).unwrap();
        v["claims"][0]["result_ids"] = json!([Uuid::new_v4().to_string()]);
        let got = check(&v.to_string(), &event, Language::En, "m", Utc::now()).unwrap_err();
        assert_eq!(got.reason(), "ungrounded");
        v["claims"][0]["result_ids"] = json!([]);
        let got = check(&v.to_string(), &event, Language::En, "m", Utc::now()).unwrap_err();
        assert_eq!(got.reason(), "ungrounded");
    }

    #[test]
    fn malformed_answers_are_rejected() {
        let event = samples::incident_event();
        for bad in ["not json", "{\"summary\": \"x\"}", "[1,2]", ""] {
            let got = check(bad, &event, Language::En, "m", Utc::now()).unwrap_err();
            assert_eq!(got.reason(), "malformed", "{bad}");
        }
        let fenced = format!("```json\n{}\n```", answer("Down: HTTP 503."));
        check(&fenced, &event, Language::En, "m", Utc::now()).unwrap();
    }

    #[test]
    fn a_heartbeat_report_may_give_exit_statuses_and_say_a_run_timed_out() {
        let event = crate::golden::opened(crate::golden::failing_result(FailureKind::HeartbeatLate));
        let result_id = event.evidence.results[1].result_id.to_string();
        let verdict = |summary: &str| {
            let answer = json!({
                "summary": summary,
                "probable_cause": "The backup hangs on a lock.",
                "impact": "Tonight's backup is not done yet.",
                "recommended_actions": ["Check whether the backup still runs (ps)."],
                "claims": [{"text": summary, "result_ids": [result_id]}],
            });
            check(&answer.to_string(), &event, Language::En, "m", Utc::now())
        };

        verdict("Nightly backup timed out: its run did not finish; the last one ended with exit status 137.").unwrap();
        verdict("Nightly backup's last run ended with exit code 143.").unwrap();
        let got = verdict("Nightly backup's endpoint returned status 502.").unwrap_err();
        assert_eq!(got.reason(), "contradiction", "{got}");
    }

    #[test]
    fn a_resolved_incident_may_not_be_called_still_down() {
        let mut event = samples::incident_event();
        event.kind = IncidentEventKind::Resolved;
        event.state = TargetStatus::Up;
        let got = check(
            &answer("The shop is still down."),
            &event,
            Language::En,
            "m",
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(got.reason(), "contradiction");
    }
}
