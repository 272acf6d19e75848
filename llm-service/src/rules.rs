//! The rule-based writer: the built-in default and the fallback of the LLM.
//!
//! One explanation per failure kind and per event kind, built only from the evidence (never
//! from the page body or a heartbeat's ping body, which are untrusted). The match on
//! [`FailureKind`] has no catch-all arm, so a new kind does not compile until it is explained.
//!
//! This module decides *what* to say: each part of a report is a [`Msg`] (a message id of
//! `crates/common/locales/*/report.ftl` and the facts it needs), free of any language. The
//! catalogs say *how*, in English and Russian; [`write`] renders the parts in the owner's
//! language. Values from the monitored world reach a message only through [`quoted`] (one
//! line, credentials masked) or the masked address of [`Facts`].

use chrono::{DateTime, Utc};
use common::i18n::{self, Arg, Language, Msg};
use common::messages::{
    CheckKind, CheckResult, FailureKind, GroupRef, HeartbeatInfo, IncidentEvent, IncidentEventKind, IncidentReport,
    Phase, ReportClaim, TargetStatus,
};
use common::msg;

use crate::facts::Facts;

/// The `source` of rule reports.
pub const SOURCE: &str = "rules";

/// The four parts of a report, in no language yet.
#[derive(Debug, Clone, PartialEq)]
struct Draft {
    summary: Msg,
    cause: Msg,
    impact: Msg,
    actions: Vec<Msg>,
}

/// Writes the report of `event` in `lang`, stamped `now`.
pub fn write(event: &IncidentEvent, lang: Language, now: DateTime<Utc>) -> IncidentReport {
    let facts = Facts::of(event);
    let draft = match event.kind {
        IncidentEventKind::Opened => opened(&facts),
        IncidentEventKind::Resolved => resolved(&facts),
        IncidentEventKind::CertExpiring => cert_expiring(&facts),
        IncidentEventKind::Flapping => flapping(&facts),
        IncidentEventKind::ProbeDegraded => probe_degraded(&facts),
    };
    let draft = match &event.group {
        Some(group) if group.members >= 2 && event.target.is_some() => grouped(draft, group, &facts),
        _ => draft,
    };
    let summary = draft.summary.render(lang);
    let mut claims = Vec::new();
    let rests_on = if facts.failing_ids.is_empty() {
        facts.evidence_ids.iter().copied().collect()
    } else {
        facts.failing_ids.clone()
    };
    if !rests_on.is_empty() {
        claims.push(ReportClaim {
            text: summary.clone(),
            result_ids: rests_on,
        });
    }
    if event.kind == IncidentEventKind::Opened
        && let Some((latency, baseline)) = facts.slowdown()
    {
        let baseline = baseline.round();
        let mut ids = facts.failing_ids.clone();
        ids.extend(event.evidence.last_good.as_ref().map(|r| r.result_id));
        claims.push(ReportClaim {
            text: msg!("claim-slowdown", latency, baseline).render(lang),
            result_ids: ids,
        });
    }
    IncidentReport {
        incident_id: event.incident_id,
        event_kind: event.kind,
        language: lang.tag().to_owned(),
        summary,
        probable_cause: draft.cause.render(lang),
        impact: draft.impact.render(lang),
        recommended_actions: draft.actions.iter().map(|a| a.render(lang)).collect(),
        source: SOURCE.to_owned(),
        claims,
        generated_at: now,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared phrases
// ---------------------------------------------------------------------------------------------

/// "Shop is down" / "Сервис «Shop» недоступен", after the event's state.
fn headline(f: &Facts<'_>) -> Msg {
    let name = &f.name;
    match f.state() {
        TargetStatus::Degraded => msg!("headline-degraded", name),
        TargetStatus::Down => msg!("headline-down", name),
        _ => msg!("headline-problem", name),
    }
}

/// Who is affected when the target does not answer, plus the regions that saw it.
fn unreachable_impact(f: &Facts<'_>) -> Msg {
    let address = &f.address;
    with_regions(msg!("impact-unreachable", address), f)
}

/// `impact`, followed by the regions that saw the failure when the event names any.
fn with_regions(impact: Msg, f: &Facts<'_>) -> Msg {
    let regions = &f.event.regions;
    if regions.is_empty() {
        return impact;
    }
    msg!("impact-seen-from", impact, regions = regions.join(", "))
}

fn port_of(f: &Facts<'_>) -> String {
    f.port.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
}

fn ip_of(r: Option<&CheckResult>) -> Option<String> {
    r.and_then(|r| r.resolved_ip.or_else(|| r.hops.last().and_then(|h| h.resolved_ip)))
        .map(|ip| ip.to_string())
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "?" where a fact is missing; it reads the same in every language.
fn unknown() -> Arg {
    Arg::Text("?".into())
}

/// The reason phrase of a status code, in English (it is what servers send).
fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn status_text(code: u16) -> String {
    match reason(code) {
        "" => code.to_string(),
        r => format!("{code} {r}"),
    }
}

/// A failure kind in a few words (`kind-*` in the catalogs).
pub fn kind_phrase(kind: FailureKind) -> Msg {
    use FailureKind as K;
    Msg::new(match kind {
        K::DnsNxdomain => "kind-dns-nxdomain",
        K::DnsServfail => "kind-dns-servfail",
        K::DnsTimeout => "kind-dns-timeout",
        K::DnsNoRecords => "kind-dns-no-records",
        K::DnsUnexpectedAnswer => "kind-dns-unexpected-answer",
        K::DnsError => "kind-dns-error",
        K::ConnectRefused => "kind-connect-refused",
        K::ConnectTimeout => "kind-connect-timeout",
        K::ConnectError => "kind-connect-error",
        K::TlsExpired => "kind-tls-expired",
        K::TlsNotYetValid => "kind-tls-not-yet-valid",
        K::TlsUntrusted => "kind-tls-untrusted",
        K::TlsHostname => "kind-tls-hostname",
        K::TlsExpiring => "kind-tls-expiring",
        K::TlsHandshake => "kind-tls-handshake",
        K::HttpStatus => "kind-http-status",
        K::HttpProtocol => "kind-http-protocol",
        K::AssertionFailed => "kind-assertion-failed",
        K::RedirectLoop => "kind-redirect-loop",
        K::TooManyRedirects => "kind-too-many-redirects",
        K::InsecureRedirect => "kind-insecure-redirect",
        K::UnexpectedFinalUrl => "kind-unexpected-final-url",
        K::SlowResponse => "kind-slow-response",
        K::BannerMismatch => "kind-banner-mismatch",
        K::PacketLoss => "kind-packet-loss",
        K::HeartbeatMissed => "kind-heartbeat-missed",
        K::HeartbeatFailed => "kind-heartbeat-failed",
        K::HeartbeatLate => "kind-heartbeat-late",
        K::Timeout => "kind-timeout",
        K::BlockedAddress => "kind-blocked-address",
        K::Internal => "kind-internal",
        K::Other => "kind-other",
    })
}

/// The failure kinds of the evidence as one list ("DNS timeout, connection refused").
fn kinds_list(f: &Facts<'_>) -> Option<Arg> {
    let kinds: Vec<Msg> = f.failure_kinds().into_iter().map(kind_phrase).collect();
    (!kinds.is_empty()).then_some(Arg::Join(kinds, ", "))
}

/// A value from the untrusted world (banner, validation error), shortened and on one line,
/// with credentials in URLs masked (reports reach chats and mailboxes).
fn quoted(s: &str) -> String {
    let one_line: String = crate::redact::mask_text(s)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    one_line.trim().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Group incidents
// ---------------------------------------------------------------------------------------------

/// A member of a group incident (cause correlation): the cause names what the members share,
/// the impact lists them, and fixing the shared cause comes first. The target's own
/// explanation stays, after the shared cause. A cause signal this build cannot read leaves
/// the draft as it is.
fn grouped(draft: Draft, group: &GroupRef, f: &Facts<'_>) -> Draft {
    let Some(shared) = i18n::cause_msg(&group.cause) else {
        return draft;
    };
    let count = i64::from(group.members);
    let names: Vec<String> = group.names.iter().map(|n| quoted(n)).collect();
    let more = i64::from(group.members).saturating_sub(names.len() as i64);
    let members = msg!("group-members", names = names.join(", "), more);
    if f.event.kind == IncidentEventKind::Resolved {
        let open = i64::from(group.open);
        let cause = if group.resolved {
            msg!("group-resolved-over-cause", count, shared, own = draft.cause)
        } else {
            msg!("group-resolved-open-cause", count, shared, open, own = draft.cause)
        };
        return Draft {
            cause,
            impact: msg!("group-impact", impact = draft.impact, members),
            ..draft
        };
    }
    let others = count - 1;
    let mut actions = vec![msg!("group-action", shared, others)];
    actions.extend(draft.actions.into_iter().take(3));
    Draft {
        summary: draft.summary,
        cause: msg!("group-cause", count, shared, own = draft.cause),
        impact: msg!("group-impact", impact = draft.impact, members),
        actions,
    }
}

// ---------------------------------------------------------------------------------------------
// Opened
// ---------------------------------------------------------------------------------------------

fn opened(f: &Facts<'_>) -> Draft {
    let Some(kind) = f.failure_kind() else {
        let head = headline(f);
        return Draft {
            summary: msg!("no-details-summary", head),
            cause: msg!("no-details-cause"),
            impact: unreachable_impact(f),
            actions: vec![msg!("no-details-action-1")],
        };
    };
    failure(f, kind)
}

/// The explanation of one failure kind: one function per kind, named after it.
fn failure(f: &Facts<'_>, kind: FailureKind) -> Draft {
    match kind {
        FailureKind::DnsNxdomain => dns_nxdomain(f),
        FailureKind::DnsServfail => dns_servfail(f),
        FailureKind::DnsTimeout => dns_timeout(f),
        FailureKind::DnsNoRecords => dns_no_records(f),
        FailureKind::DnsUnexpectedAnswer => dns_unexpected_answer(f),
        FailureKind::DnsError => dns_error(f),
        FailureKind::ConnectRefused => connect_refused(f),
        FailureKind::ConnectTimeout => connect_timeout(f),
        FailureKind::ConnectError => connect_error(f),
        FailureKind::TlsExpired => tls_expired(f),
        FailureKind::TlsNotYetValid => tls_not_yet_valid(f),
        FailureKind::TlsUntrusted => tls_untrusted(f),
        FailureKind::TlsHostname => tls_hostname(f),
        FailureKind::TlsExpiring => tls_expiring(f),
        FailureKind::TlsHandshake => tls_handshake(f),
        FailureKind::HttpStatus => http_status(f),
        FailureKind::HttpProtocol => http_protocol(f),
        FailureKind::AssertionFailed => assertion_failed(f),
        FailureKind::RedirectLoop => redirect_loop(f),
        FailureKind::TooManyRedirects => too_many_redirects(f),
        FailureKind::InsecureRedirect => insecure_redirect(f),
        FailureKind::UnexpectedFinalUrl => unexpected_final_url(f),
        FailureKind::SlowResponse => slow_response(f),
        FailureKind::BannerMismatch => banner_mismatch(f),
        FailureKind::PacketLoss => packet_loss(f),
        FailureKind::HeartbeatMissed => heartbeat_missed(f),
        FailureKind::HeartbeatFailed => heartbeat_failed(f),
        FailureKind::HeartbeatLate => heartbeat_late(f),
        FailureKind::Timeout => timeout(f),
        FailureKind::BlockedAddress => blocked_address(f),
        FailureKind::Internal => internal(f),
        FailureKind::Other => other(f),
    }
}

/// The failure's own message, quoted (one line, credentials masked); empty when none.
fn failure_message(f: &Facts<'_>) -> String {
    f.primary
        .and_then(|r| r.failure.as_ref())
        .map(|x| quoted(&x.message))
        .unwrap_or_default()
}

// One function a failure kind, alike in shape on purpose: each picks its own messages and facts.
/// The explanation of [`FailureKind::DnsNxdomain`].
fn dns_nxdomain(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    Draft {
        summary: msg!("dns-nxdomain-summary", head, host),
        cause: msg!("dns-nxdomain-cause", host),
        impact: msg!("dns-nxdomain-impact", address),
        actions: vec![
            msg!("dns-nxdomain-action-1"),
            msg!("dns-nxdomain-action-2", host),
            msg!("dns-nxdomain-action-3"),
        ],
    }
}

/// The explanation of [`FailureKind::DnsServfail`].
fn dns_servfail(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    Draft {
        summary: msg!("dns-servfail-summary", head, host),
        cause: msg!("dns-servfail-cause"),
        impact: unreachable_impact(f),
        actions: vec![msg!("dns-servfail-action-1", host), msg!("dns-servfail-action-2")],
    }
}

/// The explanation of [`FailureKind::DnsTimeout`].
fn dns_timeout(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let r = f.primary;
    let resolver = r
        .and_then(|r| r.dns.as_ref())
        .map(|d| d.resolver.clone())
        .unwrap_or_else(|| "system".into());
    Draft {
        summary: msg!("dns-timeout-summary", head, host),
        cause: msg!("dns-timeout-cause", resolver),
        impact: unreachable_impact(f),
        actions: vec![msg!("dns-timeout-action-1", host), msg!("dns-timeout-action-2")],
    }
}

/// The explanation of [`FailureKind::DnsNoRecords`].
fn dns_no_records(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    Draft {
        summary: msg!("dns-no-records-summary", head, host),
        cause: msg!("dns-no-records-cause"),
        impact: msg!("dns-no-records-impact", address),
        actions: vec![msg!("dns-no-records-action-1", host)],
    }
}

/// The explanation of [`FailureKind::DnsUnexpectedAnswer`].
fn dns_unexpected_answer(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let answers = r
        .and_then(|r| r.dns.as_ref())
        .map(|d| d.answers.iter().map(|a| a.value.clone()).collect::<Vec<_>>().join(", "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into());
    Draft {
        summary: msg!("dns-unexpected-answer-summary", head, host, answers),
        cause: msg!("dns-unexpected-answer-cause"),
        impact: msg!("dns-unexpected-answer-impact", address),
        actions: vec![
            msg!("dns-unexpected-answer-action-1", host),
            msg!("dns-unexpected-answer-action-2"),
        ],
    }
}

/// The explanation of [`FailureKind::DnsError`].
fn dns_error(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let message = failure_message(f);
    Draft {
        summary: msg!("dns-error-summary", head, host, message),
        cause: msg!("dns-error-cause"),
        impact: unreachable_impact(f),
        actions: vec![msg!("dns-error-action-1", host)],
    }
}

/// The explanation of [`FailureKind::ConnectRefused`].
fn connect_refused(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let r = f.primary;
    let port = port_of(f);
    let at = ip_of(r).map(|ip| format!(" ({ip})")).unwrap_or_default();
    Draft {
        summary: msg!("connect-refused-summary", head, host, at, port),
        cause: msg!("connect-refused-cause", port),
        impact: unreachable_impact(f),
        actions: vec![
            msg!("connect-refused-action-1"),
            msg!("connect-refused-action-2", port),
            msg!("connect-refused-action-3", port),
        ],
    }
}

/// The explanation of [`FailureKind::ConnectTimeout`].
fn connect_timeout(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let r = f.primary;
    let port = port_of(f);
    let at = ip_of(r).map(|ip| format!(" ({ip})")).unwrap_or_default();
    Draft {
        summary: msg!("connect-timeout-summary", head, host, at, port),
        cause: msg!("connect-timeout-cause"),
        impact: unreachable_impact(f),
        actions: vec![
            msg!("connect-timeout-action-1", host),
            msg!("connect-timeout-action-2", port),
        ],
    }
}

/// The explanation of [`FailureKind::ConnectError`].
fn connect_error(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let message = failure_message(f);
    Draft {
        summary: msg!("connect-error-summary", head, host, message),
        cause: msg!("connect-error-cause"),
        impact: unreachable_impact(f),
        actions: vec![msg!("connect-error-action-1", host)],
    }
}

/// The explanation of [`FailureKind::TlsExpired`].
fn tls_expired(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let tls = r.and_then(|r| r.tls.as_ref());
    let (when, ago) = tls
        .map(|t| {
            (
                Arg::Text(date(t.not_after)),
                Arg::Msg(Box::new(i18n::days(-t.days_left))),
            )
        })
        .unwrap_or_else(|| (unknown(), unknown()));
    Draft {
        summary: msg!("tls-expired-summary", head, host, when, ago),
        cause: msg!("tls-expired-cause"),
        impact: msg!("impact-certificate-rejected", address),
        actions: vec![msg!("tls-expired-action-1", host), msg!("tls-expired-action-2")],
    }
}

/// The explanation of [`FailureKind::TlsNotYetValid`].
fn tls_not_yet_valid(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let tls = r.and_then(|r| r.tls.as_ref());
    let from = tls.map(|t| date(t.not_before)).unwrap_or_else(|| "?".into());
    Draft {
        summary: msg!("tls-not-yet-valid-summary", head, host, from),
        cause: msg!("tls-not-yet-valid-cause"),
        impact: msg!("impact-certificate-rejected", address),
        actions: vec![
            msg!("tls-not-yet-valid-action-1", host),
            msg!("tls-not-yet-valid-action-2"),
        ],
    }
}

/// The explanation of [`FailureKind::TlsUntrusted`].
fn tls_untrusted(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let message = failure_message(f);
    let tls = r.and_then(|r| r.tls.as_ref());
    let issuer = tls.map(|t| quoted(&t.issuer)).unwrap_or_else(|| "?".into());
    let why = tls
        .and_then(|t| t.validation_error.as_deref())
        .map(quoted)
        .unwrap_or_else(|| message.clone());
    Draft {
        summary: msg!("tls-untrusted-summary", head, host, why),
        cause: msg!("tls-untrusted-cause", issuer),
        impact: msg!("impact-certificate-rejected", address),
        actions: vec![msg!("tls-untrusted-action-1"), msg!("action-verify-with-openssl", host)],
    }
}

/// The explanation of [`FailureKind::TlsHostname`].
fn tls_hostname(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let tls = r.and_then(|r| r.tls.as_ref());
    let sans = tls
        .map(|t| t.sans.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into());
    Draft {
        summary: msg!("tls-hostname-summary", head, host, sans),
        cause: msg!("tls-hostname-cause"),
        impact: msg!("impact-certificate-rejected", address),
        actions: vec![
            msg!("tls-hostname-action-1", host),
            msg!("action-verify-with-openssl", host),
        ],
    }
}

/// The explanation of [`FailureKind::TlsExpiring`].
fn tls_expiring(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let tls = r.and_then(|r| r.tls.as_ref());
    let (when, left) = tls
        .map(|t| {
            (
                Arg::Text(date(t.not_after)),
                Arg::Msg(Box::new(i18n::days(t.days_left))),
            )
        })
        .unwrap_or_else(|| (unknown(), unknown()));
    Draft {
        summary: msg!("tls-expiring-summary", head, host, when, left),
        cause: msg!("tls-expiring-cause"),
        impact: msg!("tls-expiring-impact", when, address),
        actions: vec![msg!("tls-expiring-action-1", host, when), msg!("tls-expiring-action-2")],
    }
}

/// The explanation of [`FailureKind::TlsHandshake`].
fn tls_handshake(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let message = failure_message(f);
    Draft {
        summary: msg!("tls-handshake-summary", head, host, message),
        cause: msg!("tls-handshake-cause"),
        impact: unreachable_impact(f),
        actions: vec![msg!("tls-handshake-action-1"), msg!("action-verify-with-openssl", host)],
    }
}

/// The explanation of [`FailureKind::HttpProtocol`].
fn http_protocol(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let message = failure_message(f);
    Draft {
        summary: msg!("http-protocol-summary", head, host, message),
        cause: msg!("http-protocol-cause"),
        impact: unreachable_impact(f),
        actions: vec![msg!("http-protocol-action-1")],
    }
}

/// The explanation of [`FailureKind::AssertionFailed`].
fn assertion_failed(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let r = f.primary;
    let message = failure_message(f);
    let code = r
        .and_then(|r| r.status_code)
        .map(status_text)
        .unwrap_or_else(|| "-".into());
    Draft {
        summary: msg!("assertion-failed-summary", head, address, code, message),
        cause: msg!("assertion-failed-cause"),
        impact: msg!("assertion-failed-impact", address),
        actions: vec![
            msg!("assertion-failed-action-1", address),
            msg!("assertion-failed-action-2"),
        ],
    }
}

/// The explanation of [`FailureKind::RedirectLoop`].
fn redirect_loop(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let looped = r
        .and_then(|r| r.hops.last())
        .map(|h| quoted(h.location.as_deref().unwrap_or(&h.url)))
        .unwrap_or_else(|| address.clone());
    let n = r.map(|r| r.hops.len()).unwrap_or(0);
    Draft {
        summary: msg!("redirect-loop-summary", head, n, looped),
        cause: msg!("redirect-loop-cause"),
        impact: msg!("redirect-loop-impact", address),
        actions: vec![
            msg!("redirect-loop-action-1", host),
            msg!("redirect-loop-action-2", address),
        ],
    }
}

/// The explanation of [`FailureKind::TooManyRedirects`].
fn too_many_redirects(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let r = f.primary;
    let n = r.map(|r| r.hops.len()).unwrap_or(0);
    Draft {
        summary: msg!(
            "too-many-redirects-summary",
            head,
            address,
            hops = msg!("count-hops", n)
        ),
        cause: msg!("too-many-redirects-cause"),
        impact: msg!("too-many-redirects-impact", address),
        actions: vec![msg!("too-many-redirects-action-1", address)],
    }
}

/// The explanation of [`FailureKind::InsecureRedirect`].
fn insecure_redirect(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let r = f.primary;
    let message = failure_message(f);
    let plain = r
        .and_then(|r| r.hops.iter().find(|h| h.url.starts_with("http://")))
        .map(|h| quoted(&h.url))
        .unwrap_or_else(|| message.clone());
    Draft {
        summary: msg!("insecure-redirect-summary", head, plain),
        cause: msg!("insecure-redirect-cause"),
        impact: msg!("insecure-redirect-impact", address),
        actions: vec![msg!("insecure-redirect-action-1")],
    }
}

/// The explanation of [`FailureKind::UnexpectedFinalUrl`].
fn unexpected_final_url(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let r = f.primary;
    let ended = r
        .and_then(|r| r.hops.last())
        .map(|h| quoted(&h.url))
        .unwrap_or_else(|| "-".into());
    Draft {
        summary: msg!("unexpected-final-url-summary", head, ended),
        cause: msg!("unexpected-final-url-cause"),
        impact: msg!("unexpected-final-url-impact", address),
        actions: vec![msg!("unexpected-final-url-action-1", address)],
    }
}

/// The explanation of [`FailureKind::SlowResponse`].
fn slow_response(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let r = f.primary;
    let took = r.map(|r| r.duration_ms).unwrap_or(0);
    let usual = f
        .event
        .evidence
        .baseline_latency_ms
        .map(|b| Arg::Msg(Box::new(msg!("slow-response-usual", baseline = b.round()))))
        .unwrap_or_else(|| Arg::Text(String::new()));
    Draft {
        summary: msg!("slow-response-summary", head, address, took, usual),
        cause: msg!("slow-response-cause"),
        impact: with_regions(msg!("slow-response-impact", address), f),
        actions: vec![msg!("slow-response-action-1"), msg!("slow-response-action-2")],
    }
}

/// The explanation of [`FailureKind::BannerMismatch`].
fn banner_mismatch(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let r = f.primary;
    let banner = r
        .and_then(|r| r.banner.as_deref())
        .map(quoted)
        .unwrap_or_else(|| "-".into());
    let port = port_of(f);
    Draft {
        summary: msg!("banner-mismatch-summary", head, host, port, banner),
        cause: msg!("banner-mismatch-cause"),
        impact: msg!("banner-mismatch-impact", host, port),
        actions: vec![msg!("banner-mismatch-action-1", port)],
    }
}

/// The explanation of [`FailureKind::PacketLoss`]: some echo requests lost (degraded) or
/// all of them (down).
fn packet_loss(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let icmp = f.primary.and_then(|r| r.icmp.as_ref());
    let loss = icmp.map(|i| i.loss_percent.round()).unwrap_or(100.0);
    let sent = icmp.map(|i| i.sent).unwrap_or(0);
    let lost = icmp.map(|i| i.sent - i.received).unwrap_or(0);
    if loss >= 100.0 {
        Draft {
            summary: msg!("packet-loss-all-summary", head, host, sent),
            cause: msg!("packet-loss-all-cause"),
            impact: unreachable_impact(f),
            actions: vec![msg!("packet-loss-action-1", host), msg!("packet-loss-action-2")],
        }
    } else {
        Draft {
            summary: msg!("packet-loss-summary", head, host, lost, sent, loss),
            cause: msg!("packet-loss-cause"),
            impact: with_regions(msg!("packet-loss-impact", host), f),
            actions: vec![msg!("packet-loss-action-1", host), msg!("packet-loss-action-2")],
        }
    }
}

/// A heartbeat's time in the job's own time zone: `02:00 MSK`, with the date when it is not
/// the day the incident began.
fn job_time(f: &Facts<'_>, t: Option<DateTime<Utc>>) -> Arg {
    t.map(|t| Arg::Text(f.local_time_short(t))).unwrap_or_else(unknown)
}

/// A run's duration in words (`14 min`), from milliseconds.
fn run_duration(ms: u64) -> Msg {
    i18n::duration(i64::try_from(ms.saturating_add(500) / 1000).unwrap_or(i64::MAX))
}

/// The schedule as the owner wrote it (a cron expression is theirs), quoted.
fn schedule_of(h: Option<&HeartbeatInfo>) -> String {
    h.map(|h| quoted(&h.schedule))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// What is known of the runs before a missed ping: the last success and the last run's
/// duration ("; its last success was at 2026-11-17 02:14 MSK, and its last run took 14 min").
fn heartbeat_history(f: &Facts<'_>, h: Option<&HeartbeatInfo>) -> Msg {
    let success = h.and_then(|h| h.last_success_at);
    let took = h.and_then(|h| h.run_duration_ms).map(run_duration);
    match (success, took) {
        (Some(_), Some(took)) => msg!("heartbeat-last-success-and-run", when = job_time(f, success), took),
        (Some(_), None) => msg!("heartbeat-last-success", when = job_time(f, success)),
        (None, Some(took)) => msg!("heartbeat-last-run", took),
        (None, None) => msg!("heartbeat-no-success"),
    }
}

/// The explanation of [`FailureKind::HeartbeatMissed`]: no ping by the schedule's deadline.
fn heartbeat_missed(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let h = f.heartbeat();
    let expected = job_time(f, h.and_then(|h| h.expected_at));
    let history = heartbeat_history(f, h);
    let schedule = schedule_of(h);
    Draft {
        summary: msg!("heartbeat-missed-summary", name, expected, history),
        cause: msg!("heartbeat-missed-cause", schedule),
        impact: msg!("heartbeat-missed-impact", name),
        actions: vec![
            msg!("heartbeat-action-scheduler"),
            msg!("heartbeat-action-logs"),
            msg!("heartbeat-action-reach"),
        ],
    }
}

/// The explanation of [`FailureKind::HeartbeatFailed`]: the job reported a failure (`/fail`
/// or a non-zero exit status); the usual exit statuses of a shell get their own causes. The
/// job's output is never quoted: the report only says that one is attached.
fn heartbeat_failed(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let h = f.heartbeat();
    let at = job_time(f, f.primary.map(|r| r.started_at));
    let code = h.and_then(|h| h.exit_status);
    let status = code
        .map(|code| Arg::Msg(Box::new(msg!("heartbeat-exit-status", code))))
        .unwrap_or_else(|| Arg::Text(String::new()));
    let took = h
        .and_then(|h| h.run_duration_ms)
        .map(|ms| Arg::Msg(Box::new(msg!("heartbeat-run-took", took = run_duration(ms)))))
        .unwrap_or_else(|| Arg::Text(String::new()));
    let cause = match code {
        None => msg!("heartbeat-failed-cause"),
        Some(126) => msg!("heartbeat-failed-126-cause"),
        Some(127) => msg!("heartbeat-failed-127-cause"),
        Some(137) => msg!("heartbeat-failed-137-cause"),
        Some(143) => msg!("heartbeat-failed-143-cause"),
        Some(code) => msg!("heartbeat-failed-status-cause", code),
    };
    let mut actions = Vec::new();
    if h.and_then(|h| h.body.as_deref()).is_some_and(|b| !b.trim().is_empty()) {
        actions.push(msg!("heartbeat-action-output"));
    }
    actions.push(msg!("heartbeat-action-logs"));
    actions.push(msg!("heartbeat-failed-action-rerun"));
    Draft {
        summary: msg!("heartbeat-failed-summary", name, at, status, took),
        cause,
        impact: msg!("heartbeat-failed-impact", name),
        actions,
    }
}

/// The explanation of [`FailureKind::HeartbeatLate`]: a run started and did not finish
/// within the grace time.
fn heartbeat_late(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let h = f.heartbeat();
    let run_start = h.and_then(|h| h.started_at);
    let started = job_time(f, run_start);
    // How long the run had gone on when the deadline passed (the result's time).
    let running = match (run_start, f.primary.map(|r| r.started_at)) {
        (Some(start), Some(seen)) if seen > start => Arg::Msg(Box::new(msg!(
            "heartbeat-late-running",
            running = i18n::duration((seen - start).num_seconds())
        ))),
        _ => Arg::Text(String::new()),
    };
    let usual = h
        .and_then(|h| h.run_duration_ms)
        .map(|ms| Arg::Msg(Box::new(msg!("heartbeat-late-previous", took = run_duration(ms)))))
        .unwrap_or_else(|| Arg::Text(String::new()));
    Draft {
        summary: msg!("heartbeat-late-summary", name, started, running, usual),
        cause: msg!("heartbeat-late-cause"),
        impact: msg!("heartbeat-late-impact", name),
        actions: vec![
            msg!("heartbeat-late-action-1"),
            msg!("heartbeat-action-logs"),
            msg!("heartbeat-action-reach"),
        ],
    }
}

/// The explanation of [`FailureKind::Timeout`].
fn timeout(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let r = f.primary;
    let took = r.map(|r| r.duration_ms).unwrap_or(0);
    let phase = r.and_then(|r| r.failure.as_ref()).map(|x| x.phase);
    let (cause, action) = match phase {
        Some(Phase::Ttfb) => (msg!("timeout-ttfb-cause"), msg!("timeout-ttfb-action")),
        Some(Phase::Transfer) => (msg!("timeout-transfer-cause"), msg!("timeout-transfer-action")),
        _ => (msg!("timeout-other-cause"), msg!("timeout-other-action")),
    };
    Draft {
        summary: msg!("timeout-summary", head, address, took),
        cause,
        impact: unreachable_impact(f),
        actions: vec![action],
    }
}

/// The explanation of [`FailureKind::BlockedAddress`].
fn blocked_address(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let host = f.failing_host();
    let address = &f.address;
    let r = f.primary;
    let message = failure_message(f);
    let ip = ip_of(r).unwrap_or_else(|| message.clone());
    Draft {
        summary: msg!("blocked-address-summary", head, host, ip),
        cause: msg!("blocked-address-cause", host),
        impact: msg!("blocked-address-impact", address),
        actions: vec![msg!("blocked-address-action-1", host), msg!("blocked-address-action-2")],
    }
}

/// The explanation of [`FailureKind::Internal`].
fn internal(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let message = failure_message(f);
    Draft {
        summary: msg!("internal-summary", name, message),
        cause: msg!("internal-cause", name),
        impact: msg!("internal-impact", name),
        actions: vec![msg!("internal-action-1"), msg!("internal-action-2")],
    }
}

/// The explanation of [`FailureKind::Other`].
fn other(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let message = failure_message(f);
    Draft {
        summary: msg!("other-summary", head, message),
        cause: msg!("other-cause"),
        impact: unreachable_impact(f),
        actions: vec![msg!("other-action-1", address)],
    }
}

/// An unexpected status code: 5xx, 4xx, anything else; with the slow-down when there was one.
fn http_status(f: &Facts<'_>) -> Draft {
    let head = headline(f);
    let address = &f.address;
    let code = f.primary.and_then(|r| r.status_code).unwrap_or(0);
    let status = status_text(code);
    let slow = f.slowdown();
    let summary = match slow {
        Some((latency, baseline)) if (500..600).contains(&code) => {
            let baseline = baseline.round();
            msg!("http-status-slow-summary", head, status, latency, baseline)
        }
        _ => msg!("http-status-summary", head, status),
    };
    let (cause, actions) = match code {
        500..=599 if slow.is_some() => (
            msg!("http-status-500-599-slow-cause"),
            vec![
                msg!("http-status-500-599-slow-action-1"),
                msg!("http-status-500-599-slow-action-2"),
            ],
        ),
        502 => (
            msg!("http-status-502-cause"),
            vec![msg!("http-status-502-action-1"), msg!("http-status-502-action-2")],
        ),
        503 => (
            msg!("http-status-503-cause"),
            vec![msg!("http-status-503-action-1"), msg!("http-status-503-action-2")],
        ),
        504 => (
            msg!("http-status-504-cause"),
            vec![msg!("http-status-504-action-1"), msg!("http-status-504-action-2")],
        ),
        500..=599 => (
            msg!("http-status-500-599-cause"),
            vec![
                msg!("http-status-500-599-action-1"),
                msg!("http-status-500-599-action-2"),
            ],
        ),
        401 | 403 => (
            msg!("http-status-401-403-cause"),
            vec![
                msg!("http-status-401-403-action-1"),
                msg!("http-status-401-403-action-2"),
            ],
        ),
        404 | 410 => (
            msg!("http-status-404-410-cause"),
            vec![
                msg!("http-status-404-410-action-1", address),
                msg!("http-status-404-410-action-2"),
            ],
        ),
        429 => (msg!("http-status-429-cause"), vec![msg!("http-status-429-action-1")]),
        400..=499 => (
            msg!("http-status-400-499-cause"),
            vec![msg!("http-status-400-499-action-1")],
        ),
        _ => (
            msg!("http-status-other-cause", status),
            vec![msg!("http-status-other-action-1")],
        ),
    };
    let impact = match code {
        500..=599 => unreachable_impact(f),
        _ => with_regions(msg!("http-status-impact", address, status), f),
    };
    Draft {
        summary,
        cause,
        impact,
        actions,
    }
}

// ---------------------------------------------------------------------------------------------
// Other events
// ---------------------------------------------------------------------------------------------

fn resolved(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let address = &f.address;
    let ev = f.event;
    let end = ev.resolved_at.unwrap_or(ev.started_at);
    let lasted = i18n::duration((end - ev.started_at).num_seconds());
    let since = date(ev.started_at);
    let until = date(end);
    let cause = match kinds_list(f) {
        None => msg!("resolved-cause-unknown"),
        Some(kinds) => msg!("resolved-cause", kinds),
    };
    let heartbeat = f.event.target.as_ref().map(|t| t.check_kind) == Some(CheckKind::Heartbeat);
    if heartbeat {
        // A job, not a service: nobody was turned away, but its missed runs may still be missing.
        return Draft {
            summary: msg!("resolved-summary", name, lasted, since, until),
            cause,
            impact: msg!("resolved-impact-heartbeat", name, lasted),
            actions: vec![msg!("resolved-action-1"), msg!("resolved-action-heartbeat")],
        };
    }
    Draft {
        summary: msg!("resolved-summary", name, lasted, since, until),
        cause,
        impact: msg!("resolved-impact", address, lasted),
        actions: vec![msg!("resolved-action-1"), msg!("resolved-action-2")],
    }
}

fn cert_expiring(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let address = &f.address;
    let cert = f
        .event
        .evidence
        .certificate
        .as_ref()
        .or_else(|| f.primary.and_then(|r| r.tls.as_ref()));
    let host = f.host.clone().unwrap_or_else(|| address.clone());
    let (when, left, issuer) = cert
        .map(|c| {
            (
                Arg::Text(date(c.not_after)),
                Arg::Msg(Box::new(i18n::days(c.days_left))),
                Arg::Text(quoted(&c.issuer)),
            )
        })
        .unwrap_or_else(|| (unknown(), unknown(), unknown()));
    let threshold = f
        .event
        .evidence
        .threshold_days
        .map(|t| {
            Arg::Msg(Box::new(msg!(
                "cert-expiring-threshold",
                days = i18n::days(i64::from(t))
            )))
        })
        .unwrap_or_else(|| Arg::Text(String::new()));
    Draft {
        summary: msg!("cert-expiring-summary", name, host, when, left, threshold),
        cause: msg!("cert-expiring-cause", issuer),
        impact: msg!("tls-expiring-impact", when, address),
        actions: vec![msg!("tls-expiring-action-1", host, when), msg!("tls-expiring-action-2")],
    }
}

fn flapping(f: &Facts<'_>) -> Draft {
    let name = &f.name;
    let address = &f.address;
    let seen = match kinds_list(f) {
        None => Arg::Text(String::new()),
        Some(kinds) => Arg::Msg(Box::new(msg!("flapping-seen", kinds))),
    };
    Draft {
        summary: msg!("flapping-summary", name),
        cause: msg!("flapping-cause", seen),
        impact: with_regions(msg!("flapping-impact", address), f),
        actions: vec![msg!("flapping-action-1"), msg!("flapping-action-2")],
    }
}

fn probe_degraded(f: &Facts<'_>) -> Draft {
    let pinger = f.event.pinger_id.clone().unwrap_or_else(|| "?".into());
    let regions = if f.event.regions.is_empty() {
        "-".to_owned()
    } else {
        f.event.regions.join(", ")
    };
    Draft {
        summary: msg!("probe-degraded-summary", pinger, regions),
        cause: msg!("probe-degraded-cause"),
        impact: msg!("probe-degraded-impact", regions),
        actions: vec![msg!("probe-degraded-action-1", pinger), msg!("probe-degraded-action-2")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_the_rules_name_is_in_every_catalog() {
        let ids = i18n::ids_in_source(include_str!("rules.rs"), &["kind-"]);
        assert!(ids.len() > 150, "the scan found too few ids: {}", ids.len());
        let missing: Vec<_> = ids.into_iter().filter(|id| !i18n::has_message(id)).collect();
        assert!(missing.is_empty(), "not in every catalog: {missing:?}");
    }

    #[test]
    fn rule_reports_do_not_echo_credentials_of_urls() {
        use common::messages::HttpHop;
        let mut event = common::samples::incident_event();
        event.target.as_mut().unwrap().address = "https://shop.example.com/health?api_key=SECRET123".into();
        let r = &mut event.evidence.results[0];
        r.failure.as_mut().unwrap().kind = FailureKind::TooManyRedirects;
        r.failure.as_mut().unwrap().message = "too many redirects: https://shop.example.com/a?token=TOKEN456".into();
        r.hops = vec![HttpHop {
            url: "https://shop.example.com/health?api_key=SECRET123".into(),
            status: Some(302),
            resolved_ip: None,
            location: Some("/a?token=TOKEN456".into()),
            http_version: None,
            timings: Default::default(),
        }];
        for lang in Language::ALL {
            let report = write(&event, lang, chrono::Utc::now());
            let text = serde_json::to_string(&report).unwrap();
            assert!(text.contains("shop.example.com/health?api_key=***"), "{text}");
            assert!(!text.contains("SECRET123") && !text.contains("TOKEN456"), "{text}");
        }
    }
}
