//! Golden tests of the rule writer: one realistic event per failure kind and per event kind,
//! in every language. The snapshots are the specification of the rule reports.

use chrono::{DateTime, TimeZone, Utc};
use common::messages::*;
use uuid::Uuid;

use crate::language::Language;
use crate::rules;

/// Every failure kind; [`kind_is_listed`] breaks the build when one is added and not listed.
pub const ALL_KINDS: [FailureKind; 32] = [
    FailureKind::DnsNxdomain,
    FailureKind::DnsServfail,
    FailureKind::DnsTimeout,
    FailureKind::DnsNoRecords,
    FailureKind::DnsUnexpectedAnswer,
    FailureKind::DnsError,
    FailureKind::ConnectRefused,
    FailureKind::ConnectTimeout,
    FailureKind::ConnectError,
    FailureKind::TlsExpired,
    FailureKind::TlsNotYetValid,
    FailureKind::TlsUntrusted,
    FailureKind::TlsHostname,
    FailureKind::TlsExpiring,
    FailureKind::TlsHandshake,
    FailureKind::HttpStatus,
    FailureKind::HttpProtocol,
    FailureKind::AssertionFailed,
    FailureKind::RedirectLoop,
    FailureKind::TooManyRedirects,
    FailureKind::InsecureRedirect,
    FailureKind::UnexpectedFinalUrl,
    FailureKind::SlowResponse,
    FailureKind::BannerMismatch,
    FailureKind::PacketLoss,
    FailureKind::HeartbeatMissed,
    FailureKind::HeartbeatFailed,
    FailureKind::HeartbeatLate,
    FailureKind::Timeout,
    FailureKind::BlockedAddress,
    FailureKind::Internal,
    FailureKind::Other,
];

#[allow(dead_code)]
fn kind_is_listed(k: FailureKind) -> usize {
    // No catch-all: a new kind must be added here and to ALL_KINDS.
    match k {
        FailureKind::DnsNxdomain
        | FailureKind::DnsServfail
        | FailureKind::DnsTimeout
        | FailureKind::DnsNoRecords
        | FailureKind::DnsUnexpectedAnswer
        | FailureKind::DnsError
        | FailureKind::ConnectRefused
        | FailureKind::ConnectTimeout
        | FailureKind::ConnectError
        | FailureKind::TlsExpired
        | FailureKind::TlsNotYetValid
        | FailureKind::TlsUntrusted
        | FailureKind::TlsHostname
        | FailureKind::TlsExpiring
        | FailureKind::TlsHandshake
        | FailureKind::HttpStatus
        | FailureKind::HttpProtocol
        | FailureKind::AssertionFailed
        | FailureKind::RedirectLoop
        | FailureKind::TooManyRedirects
        | FailureKind::InsecureRedirect
        | FailureKind::UnexpectedFinalUrl
        | FailureKind::SlowResponse
        | FailureKind::BannerMismatch
        | FailureKind::PacketLoss
        | FailureKind::HeartbeatMissed
        | FailureKind::HeartbeatFailed
        | FailureKind::HeartbeatLate
        | FailureKind::Timeout
        | FailureKind::BlockedAddress
        | FailureKind::Internal
        | FailureKind::Other => ALL_KINDS.len(),
    }
}

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + secs, 0).single().unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn hop(url: &str, status: Option<u16>, location: Option<&str>) -> HttpHop {
    HttpHop {
        url: url.into(),
        status,
        resolved_ip: Some("93.184.216.34".parse().unwrap()),
        location: location.map(Into::into),
        http_version: status.map(|_| "HTTP/1.1".into()),
        timings: PhaseTimings {
            dns_ms: Some(10.0),
            connect_ms: Some(20.0),
            tls_ms: url.starts_with("https").then_some(40.0),
            ttfb_ms: status.map(|_| 60.0),
            transfer_ms: status.map(|_| 1.0),
        },
    }
}

fn tls(days_left: i64) -> TlsInfo {
    let not_after = at(86_400 * days_left);
    // The shared sample's certificate, issued by a public CA 90 days before it expires.
    let sample = common::samples::check_result().tls.expect("the sample result has TLS");
    TlsInfo {
        issuer: "C=US, O=Let's Encrypt, CN=R11".into(),
        not_before: not_after - chrono::Duration::days(90),
        not_after,
        days_left,
        ..sample
    }
}

/// The sample certificate with `days_left`, changed by `change` and failing validation with
/// `error`.
fn invalid_tls(days_left: i64, error: &str, change: impl FnOnce(&mut TlsInfo)) -> TlsInfo {
    let mut t = tls(days_left);
    change(&mut t);
    t.validation_error = Some(error.into());
    t
}

fn dns(rcode: &str, answers: &[(&str, &str)]) -> DnsInfo {
    DnsInfo {
        rcode: Some(rcode.into()),
        resolver: "system".into(),
        answers: answers
            .iter()
            .map(|(t, v)| DnsAnswer {
                record_type: (*t).into(),
                value: (*v).into(),
                ttl: 300,
            })
            .collect(),
        duration_ms: 14.0,
    }
}

/// A DNS failure: nothing was resolved, so the result has no hops and no address.
fn unresolved(r: &mut CheckResult, dns: DnsInfo) {
    r.hops.clear();
    r.resolved_ip = None;
    r.dns = Some(dns);
}

/// A UTC time of the heartbeat examples (`2026-11-17 23:00` is 02:00 in Moscow).
fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).single().unwrap()
}

/// The nightly backup's heartbeat: `0 2 * * *` in Moscow, last success on the 17th at
/// 02:14 MSK after a run of 14 min.
fn nightly_backup(event: HeartbeatEvent) -> HeartbeatInfo {
    HeartbeatInfo {
        event,
        exit_status: None,
        expected_at: Some(utc(17, 23, 0)),
        last_success_at: Some(utc(16, 23, 14)),
        started_at: None,
        run_duration_ms: Some(14 * 60_000),
        schedule: "0 2 * * * (Europe/Moscow)".into(),
        timezone: Some("Europe/Moscow".into()),
        body: None,
    }
}

/// `r` made a heartbeat result of the nightly backup seen at `seen`: no HTTP, no address.
fn make_heartbeat(r: &mut CheckResult, info: HeartbeatInfo, seen: DateTime<Utc>) {
    r.check_kind = CheckKind::Heartbeat;
    r.started_at = seen;
    r.finished_at = seen;
    r.duration_ms = 0;
    r.status_code = None;
    r.hops.clear();
    r.resolved_ip = None;
    r.tls = None;
    r.body_excerpt = None;
    r.heartbeat = Some(info);
}

/// A failing HTTPS result of kind `kind` with the facts a pinger would attach (for heartbeat
/// kinds, the result the backend records for the nightly backup).
pub fn failing_result(kind: FailureKind) -> CheckResult {
    let url = "https://shop.example.com/health";
    let mut r = common::samples::check_result();
    r.result_id = id(3);
    r.duration_ms = 180;
    r.status_code = None;
    r.hops = vec![hop(url, None, None)];
    r.tls = None;
    r.dns = None;
    r.body_excerpt = None;
    let (phase, message) = match kind {
        FailureKind::DnsNxdomain => {
            unresolved(&mut r, dns("NXDOMAIN", &[]));
            (Phase::Dns, "shop.example.com: no such domain (NXDOMAIN)")
        }
        FailureKind::DnsServfail => {
            unresolved(&mut r, dns("SERVFAIL", &[]));
            (Phase::Dns, "shop.example.com: SERVFAIL from the resolver")
        }
        FailureKind::DnsTimeout => {
            unresolved(
                &mut r,
                DnsInfo {
                    rcode: None,
                    resolver: "9.9.9.9:53".into(),
                    answers: vec![],
                    duration_ms: 5000.0,
                },
            );
            (Phase::Dns, "no answer from 9.9.9.9:53 within 5 s")
        }
        FailureKind::DnsNoRecords => {
            unresolved(&mut r, dns("NOERROR", &[]));
            (Phase::Dns, "shop.example.com has no AAAA records")
        }
        FailureKind::DnsUnexpectedAnswer => {
            r.hops.clear();
            r.dns = Some(dns("NOERROR", &[("A", "203.0.113.66")]));
            (Phase::Validation, "expected A 93.184.216.34, got 203.0.113.66")
        }
        FailureKind::DnsError => {
            unresolved(&mut r, dns("REFUSED", &[]));
            (Phase::Dns, "REFUSED")
        }
        FailureKind::ConnectRefused => (Phase::Connect, "connection refused by 93.184.216.34:443"),
        FailureKind::ConnectTimeout => {
            r.duration_ms = 10_000;
            (Phase::Connect, "connect to 93.184.216.34:443 timed out after 10 s")
        }
        FailureKind::ConnectError => (Phase::Connect, "network unreachable"),
        FailureKind::TlsExpired => {
            r.tls = Some(invalid_tls(-3, "certificate expired", |t| t.chain_valid = false));
            (Phase::Tls, "certificate expired on 2026-11-15")
        }
        FailureKind::TlsNotYetValid => {
            r.tls = Some(invalid_tls(120, "certificate not valid yet", |t| {
                t.not_before = at(86_400 * 2);
                t.chain_valid = false;
            }));
            (Phase::Tls, "certificate not valid before 2026-11-21")
        }
        FailureKind::TlsUntrusted => {
            r.tls = Some(invalid_tls(200, "self-signed certificate", |t| {
                t.issuer = "CN=shop.example.com".into();
                t.chain_valid = false;
            }));
            (Phase::Tls, "invalid peer certificate: UnknownIssuer")
        }
        FailureKind::TlsHostname => {
            let error = "certificate not valid for name shop.example.com";
            r.tls = Some(invalid_tls(60, error, |t| {
                t.subject = "CN=old.example.net".into();
                t.sans = vec!["old.example.net".into(), "www.old.example.net".into()];
                t.hostname_matches = false;
            }));
            (Phase::Tls, "certificate is not valid for shop.example.com")
        }
        FailureKind::TlsExpiring => {
            r.status_code = Some(200);
            r.hops = vec![hop(url, Some(200), None)];
            r.tls = Some(tls(9));
            (Phase::Tls, "certificate expires in 9 days")
        }
        FailureKind::TlsHandshake => (Phase::Tls, "peer sent alert: HandshakeFailure"),
        FailureKind::HttpStatus => {
            r.status_code = Some(500);
            r.hops = vec![hop(url, Some(500), None)];
            (Phase::Validation, "HTTP 500 Internal Server Error; expected 200-399")
        }
        FailureKind::HttpProtocol => (Phase::Ttfb, "invalid HTTP status line"),
        FailureKind::AssertionFailed => {
            r.status_code = Some(200);
            r.hops = vec![hop(url, Some(200), None)];
            r.body_excerpt = Some("{\"status\":\"degraded\",\"db\":\"down\"}".into());
            (Phase::Validation, "$.status is \"degraded\", expected \"ok\"")
        }
        FailureKind::RedirectLoop => {
            r.status_code = Some(301);
            r.hops = vec![
                hop(
                    "https://shop.example.com/health",
                    Some(301),
                    Some("https://www.shop.example.com/health"),
                ),
                hop(
                    "https://www.shop.example.com/health",
                    Some(301),
                    Some("https://shop.example.com/health"),
                ),
            ];
            (Phase::Redirect, "redirect loop back to https://shop.example.com/health")
        }
        FailureKind::TooManyRedirects => {
            r.status_code = Some(302);
            r.hops = (0..11)
                .map(|i| {
                    hop(
                        &format!("https://shop.example.com/health?r={i}"),
                        Some(302),
                        Some(&format!("/health?r={}", i + 1)),
                    )
                })
                .collect();
            (Phase::Redirect, "more than 10 redirects")
        }
        FailureKind::InsecureRedirect => {
            r.status_code = Some(200);
            r.hops = vec![
                hop(url, Some(301), Some("http://shop.example.com/login")),
                hop(
                    "http://shop.example.com/login",
                    Some(301),
                    Some("https://shop.example.com/login"),
                ),
                hop("https://shop.example.com/login", Some(200), None),
            ];
            (Phase::Redirect, "hop 2 is plain http: http://shop.example.com/login")
        }
        FailureKind::UnexpectedFinalUrl => {
            r.status_code = Some(200);
            r.hops = vec![
                hop(url, Some(302), Some("https://shop.example.com/maintenance")),
                hop("https://shop.example.com/maintenance", Some(200), None),
            ];
            (
                Phase::Validation,
                "final URL https://shop.example.com/maintenance, expected https://shop.example.com/health",
            )
        }
        FailureKind::SlowResponse => {
            r.status_code = Some(200);
            r.duration_ms = 2_450;
            r.hops = vec![hop(url, Some(200), None)];
            (Phase::Validation, "response took 2450 ms, above 2000 ms")
        }
        FailureKind::BannerMismatch => {
            r.check_kind = CheckKind::Tcp;
            r.hops.clear();
            r.banner = Some("SSH-2.0-OpenSSH_9.6".into());
            (Phase::Validation, "banner does not contain \"220 \"")
        }
        FailureKind::PacketLoss => {
            r.check_kind = CheckKind::Icmp;
            r.hops.clear();
            r.tls = None;
            r.status_code = None;
            r.icmp = Some(IcmpInfo {
                socket: "dgram".into(),
                sent: 10,
                received: 6,
                loss_percent: 40.0,
                rtt_min_ms: Some(11.2),
                rtt_avg_ms: Some(12.5),
                rtt_max_ms: Some(14.9),
                echoes: Vec::new(),
            });
            (
                Phase::Validation,
                "4 of 10 echo requests to 93.184.216.34 lost (40 % loss), above 20 %",
            )
        }
        FailureKind::HeartbeatMissed => {
            // Due at 02:00 MSK, down at 02:05 after a grace time of 5 min.
            make_heartbeat(&mut r, nightly_backup(HeartbeatEvent::Missed), utc(17, 23, 5));
            (Phase::Schedule, "no ping within 300 s of 2026-11-17T23:00:00Z")
        }
        FailureKind::HeartbeatFailed => {
            // Started at 02:00 MSK, failed at 02:14 with exit status 1 and its output attached.
            let mut info = nightly_backup(HeartbeatEvent::ExitStatus);
            info.exit_status = Some(1);
            info.started_at = Some(utc(17, 23, 0));
            info.expected_at = Some(utc(18, 23, 0));
            info.body = Some(
                "pg_dump: error: connection to server at \"db.internal\" failed: FATAL: password authentication \
                 failed for user \"backup\"\nPGPASSWORD=hunter22 pg_dump -h db.internal shop"
                    .into(),
            );
            make_heartbeat(&mut r, info, utc(17, 23, 14));
            (Phase::Schedule, "the job exited with status 1")
        }
        FailureKind::HeartbeatLate => {
            // Started at 02:00 MSK, still not finished at 02:30 after a grace time of 30 min.
            let mut info = nightly_backup(HeartbeatEvent::Late);
            info.started_at = Some(utc(17, 23, 0));
            make_heartbeat(&mut r, info, utc(17, 23, 30));
            (
                Phase::Schedule,
                "the run started at 2026-11-17T23:00:00Z did not finish within 1800 s",
            )
        }
        FailureKind::Timeout => {
            r.duration_ms = 10_000;
            (Phase::Ttfb, "no response within 10 s")
        }
        FailureKind::BlockedAddress => {
            r.hops.clear();
            r.resolved_ip = Some("10.0.0.5".parse().unwrap());
            (Phase::Setup, "10.0.0.5 is a private address")
        }
        FailureKind::Internal => (Phase::Setup, "invalid regex in assertion"),
        FailureKind::Other => (Phase::Ttfb, "quantum flux"),
    };
    r.outcome = match kind {
        FailureKind::TlsExpiring | FailureKind::SlowResponse | FailureKind::PacketLoss => Outcome::Degraded,
        _ => Outcome::Down,
    };
    r.failure = Some(Failure {
        kind,
        phase,
        message: message.into(),
    });
    r
}

/// An `opened` event resting on two results of the same failure.
pub fn opened(result: CheckResult) -> IncidentEvent {
    let mut event = common::samples::incident_event();
    let kind = result.failure.as_ref().map(|f| f.kind).unwrap();
    let is_tcp = result.check_kind == CheckKind::Tcp;
    let heartbeat = result.heartbeat.clone();
    event.state = match result.outcome {
        Outcome::Degraded => TargetStatus::Degraded,
        _ => TargetStatus::Down,
    };
    let mut first = result.clone();
    first.result_id = id(6);
    first.started_at = at(-60);
    event.evidence.results = vec![first, result];
    event.evidence.failure_kinds_by_region = [(DEFAULT_REGION.to_owned(), vec![kind])].into();
    let mut good = common::samples::check_result();
    good.result_id = id(7);
    good.outcome = Outcome::Up;
    good.failure = None;
    good.status_code = Some(200);
    good.duration_ms = 118;
    event.evidence.last_good = Some(good);
    event.evidence.baseline_latency_ms = Some(120.0);
    if let Some(target) = &mut event.target
        && is_tcp
    {
        target.check_kind = CheckKind::Tcp;
        target.address = "shop.example.com:25".into();
        target.name = "Shop mail".into();
    }
    if let Some(info) = heartbeat {
        // The incident began with the failing result; the last good one is its success ping.
        event.started_at = event.evidence.results[1].started_at;
        event.evidence.results[0].started_at = event.started_at - chrono::Duration::seconds(60);
        let success = HeartbeatInfo {
            event: HeartbeatEvent::Success,
            exit_status: Some(0),
            started_at: None,
            body: None,
            ..info.clone()
        };
        let mut good = common::samples::check_result();
        make_heartbeat(&mut good, success, info.last_success_at.unwrap_or(event.started_at));
        good.result_id = id(7);
        good.outcome = Outcome::Up;
        good.failure = None;
        event.evidence.last_good = Some(good);
        if let Some(target) = &mut event.target {
            target.check_kind = CheckKind::Heartbeat;
            target.address = info.schedule.clone();
            target.name = "Nightly backup".into();
        }
    }
    event
}

/// The report of `event` as plain text, for review.
pub fn render(report: &IncidentReport) -> String {
    let mut out = format!(
        "source: {}\nlanguage: {}\nevent: {}\nsummary: {}\nprobable cause: {}\nimpact: {}\nactions:\n",
        report.source,
        report.language,
        report.event_kind.as_str(),
        report.summary,
        report.probable_cause,
        report.impact
    );
    for a in &report.recommended_actions {
        out.push_str(&format!("- {a}\n"));
    }
    out.push_str("claims:\n");
    for c in &report.claims {
        let ids: Vec<String> = c.result_ids.iter().map(|i| i.to_string()[32..].to_owned()).collect();
        out.push_str(&format!("- {} [{}]\n", c.text, ids.join(", ")));
    }
    out
}

fn snapshot(name: &str, event: &IncidentEvent) {
    for lang in Language::ALL {
        let report = rules::write(event, lang, at(3));
        assert_eq!(report.source, "rules");
        assert_eq!(report.language, lang.tag());
        assert_eq!(report.incident_id, event.incident_id);
        assert!(!report.recommended_actions.is_empty(), "{name}: actions");
        insta::with_settings!({ snapshot_suffix => lang.tag(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name.to_owned(), render(&report));
        });
    }
}

#[test]
fn every_failure_kind_has_a_specific_report_in_every_language() {
    for kind in ALL_KINDS {
        let mut event = opened(failing_result(kind));
        // Latency well under the baseline's double: no slow-down except where the kind says so.
        event.evidence.baseline_latency_ms = Some(if kind == FailureKind::SlowResponse {
            240.0
        } else {
            150.0
        });
        snapshot(&format!("opened_{}", kind.as_str()), &event);
    }
}

#[test]
fn status_codes_get_their_own_explanations() {
    for code in [400u16, 403, 404, 429, 500, 502, 503, 504, 302] {
        let mut r = failing_result(FailureKind::HttpStatus);
        r.status_code = Some(code);
        r.hops[0].status = Some(code);
        r.duration_ms = 140;
        let event = opened(r);
        snapshot(&format!("opened_http_status_{code}"), &event);
    }
}

#[test]
fn a_503_after_a_slow_down_says_so() {
    let mut r = failing_result(FailureKind::HttpStatus);
    r.status_code = Some(503);
    r.hops[0].status = Some(503);
    r.duration_ms = 2_900;
    let event = opened(r);
    let report = rules::write(&event, Language::En, at(3));
    assert!(
        report.summary.contains("503 Service Unavailable after a slow-down"),
        "{}",
        report.summary
    );
    assert!(
        report.summary.contains("2900 ms against a usual 120 ms"),
        "{}",
        report.summary
    );
    snapshot("opened_http_status_503_after_slowdown", &event);
}

#[test]
fn an_expired_certificate_says_when_and_which_host() {
    let event = opened(failing_result(FailureKind::TlsExpired));
    let report = rules::write(&event, Language::En, at(3));
    assert!(report.summary.contains("shop.example.com"));
    assert!(report.summary.contains("expired on 2026-11-15"), "{}", report.summary);
    assert!(report.summary.contains("3 days ago"), "{}", report.summary);
}

#[test]
fn nxdomain_says_the_name_does_not_exist() {
    let event = opened(failing_result(FailureKind::DnsNxdomain));
    let en = rules::write(&event, Language::En, at(3));
    assert!(
        en.summary.contains("the name shop.example.com does not exist"),
        "{}",
        en.summary
    );
    let ru = rules::write(&event, Language::Ru, at(3));
    assert!(
        ru.summary.contains("имя shop.example.com не существует"),
        "{}",
        ru.summary
    );
}

#[test]
fn claims_rest_only_on_evidence_results() {
    for kind in ALL_KINDS {
        let event = opened(failing_result(kind));
        let report = rules::write(&event, Language::En, at(3));
        let facts = crate::facts::Facts::of(&event);
        assert!(!report.claims.is_empty());
        for c in &report.claims {
            assert!(!c.result_ids.is_empty());
            assert!(c.result_ids.iter().all(|i| facts.evidence_ids.contains(i)), "{kind:?}");
        }
    }
}

/// A `resolved` event after 2 h 5 min of a 502.
pub fn resolved_event() -> IncidentEvent {
    let mut r = failing_result(FailureKind::HttpStatus);
    r.status_code = Some(502);
    let mut event = opened(r);
    event.kind = IncidentEventKind::Resolved;
    event.state = TargetStatus::Up;
    event.started_at = at(0);
    event.resolved_at = Some(at(7_500));
    let mut up = common::samples::check_result();
    up.result_id = id(8);
    up.outcome = Outcome::Up;
    up.failure = None;
    up.status_code = Some(200);
    event.evidence.results = vec![up];
    event
}

#[test]
fn other_events_have_their_own_reports() {
    snapshot("resolved", &resolved_event());

    let mut cert = opened(failing_result(FailureKind::TlsExpiring));
    cert.kind = IncidentEventKind::CertExpiring;
    cert.state = TargetStatus::Up;
    cert.evidence.certificate = Some(tls(13));
    cert.evidence.threshold_days = Some(14);
    snapshot("cert_expiring", &cert);

    let mut flap = opened(failing_result(FailureKind::ConnectTimeout));
    flap.kind = IncidentEventKind::Flapping;
    flap.state = TargetStatus::Flapping;
    flap.evidence.failure_kinds_by_region = [
        ("default".to_owned(), vec![FailureKind::ConnectTimeout]),
        ("eu".to_owned(), vec![FailureKind::HttpStatus]),
    ]
    .into();
    flap.regions = vec!["default".into(), "eu".into()];
    snapshot("flapping", &flap);

    let mut probe = common::samples::incident_event();
    probe.kind = IncidentEventKind::ProbeDegraded;
    probe.target = None;
    probe.state = TargetStatus::Unknown;
    probe.pinger_id = Some("pinger-eu-2".into());
    probe.regions = vec!["eu".into()];
    let mut canary = common::samples::check_result();
    canary.probe_degraded = true;
    canary.failure = Some(Failure {
        kind: FailureKind::ConnectTimeout,
        phase: Phase::Connect,
        message: "canary 1.1.1.1:443 timed out".into(),
    });
    probe.evidence = Evidence {
        results: vec![canary],
        ..Evidence::default()
    };
    snapshot("probe_degraded", &probe);
}

#[test]
fn a_host_that_answers_no_echo_request_is_reported_unreachable() {
    let mut r = failing_result(FailureKind::PacketLoss);
    r.outcome = Outcome::Down;
    if let Some(i) = &mut r.icmp {
        i.received = 0;
        i.loss_percent = 100.0;
        (i.rtt_min_ms, i.rtt_avg_ms, i.rtt_max_ms) = (None, None, None);
    }
    let event = opened(r);
    for lang in Language::ALL {
        let report = rules::write(&event, lang, at(3));
        let (all, some) = match lang.tag() {
            "ru" => ("ни на один из 10 эхо-запросов", "остались без ответа"),
            _ => ("answered none of 10 echo requests", "went unanswered"),
        };
        assert!(report.summary.contains(all), "{}", report.summary);
        assert!(!report.summary.contains(some), "{}", report.summary);
    }
}

#[test]
fn a_missed_heartbeat_says_when_it_was_due_in_its_own_zone_and_what_the_last_run_did() {
    let event = opened(failing_result(FailureKind::HeartbeatMissed));
    for lang in Language::ALL {
        let report = rules::write(&event, lang, at(3));
        let expected: &[&str] = match lang.tag() {
            "ru" => &[
                "Задание «Nightly backup» не отчиталось о запуске, назначенном на 02:00 MSK",
                "последний успешный запуск — 2026-11-17 02:14 MSK",
                "длительность последнего запуска — 14 мин",
            ],
            _ => &[
                "Nightly backup did not report for its run due at 02:00 MSK",
                "its last success was at 2026-11-17 02:14 MSK",
                "its last run took 14 min",
            ],
        };
        for part in expected {
            assert!(report.summary.contains(part), "{part} in {}", report.summary);
        }
        assert!(!report.summary.contains("UTC"), "{}", report.summary);
        assert!(
            report.probable_cause.contains("0 2 * * * (Europe/Moscow)"),
            "{}",
            report.probable_cause
        );
        let actions = report.recommended_actions.join("\n");
        for tool in ["crontab -l", "systemctl list-timers", "journalctl", "curl"] {
            assert!(actions.contains(tool), "{tool} in {actions}");
        }
    }
}

#[test]
fn a_heartbeat_on_a_period_shows_its_times_in_utc_and_says_when_it_never_succeeded() {
    let mut r = failing_result(FailureKind::HeartbeatMissed);
    if let Some(h) = &mut r.heartbeat {
        h.schedule = "every 3600 s".into();
        h.timezone = None;
        h.last_success_at = None;
        h.run_duration_ms = None;
    }
    let event = opened(r);
    let en = rules::write(&event, Language::En, at(3));
    assert!(
        en.summary
            .ends_with("did not report for its run due at 23:00 UTC; it has not reported a success yet."),
        "{}",
        en.summary
    );
    let ru = rules::write(&event, Language::Ru, at(3));
    assert!(
        ru.summary
            .ends_with("назначенном на 23:00 UTC; об успешном запуске оно ещё ни разу не сообщало."),
        "{}",
        ru.summary
    );
}

#[test]
fn a_failed_heartbeat_gives_its_exit_status_and_never_quotes_the_jobs_output() {
    let event = opened(failing_result(FailureKind::HeartbeatFailed));
    for lang in Language::ALL {
        let report = rules::write(&event, lang, at(3));
        let (summary, attached) = match lang.tag() {
            "ru" => (
                "Задание «Nightly backup» в 02:14 MSK сообщило о сбое (код завершения 1); запуск длился 14 мин.",
                "приложило к сигналу",
            ),
            _ => (
                "Nightly backup reported at 02:14 MSK that its run failed (exit status 1); the run took 14 min.",
                "attached to its ping",
            ),
        };
        assert_eq!(report.summary, summary);
        assert!(
            report.recommended_actions[0].contains(attached),
            "{:?}",
            report.recommended_actions
        );
        let text = serde_json::to_string(&report).unwrap();
        for output in ["hunter22", "pg_dump", "db.internal", "password authentication"] {
            assert!(!text.contains(output), "{output} in {text}");
        }
    }
}

#[test]
fn a_fail_ping_without_status_and_a_killed_job_get_their_own_causes() {
    let mut fail = failing_result(FailureKind::HeartbeatFailed);
    if let Some(h) = &mut fail.heartbeat {
        h.event = HeartbeatEvent::Fail;
        h.exit_status = None;
        h.body = None;
    }
    let report = rules::write(&opened(fail), Language::En, at(3));
    assert_eq!(
        report.summary,
        "Nightly backup reported at 02:14 MSK that its run failed; the run took 14 min."
    );
    assert!(report.probable_cause.contains("/fail"), "{}", report.probable_cause);
    assert!(
        !report.recommended_actions.iter().any(|a| a.contains("attached")),
        "no output, no action about it: {:?}",
        report.recommended_actions
    );

    let mut killed = failing_result(FailureKind::HeartbeatFailed);
    if let Some(h) = &mut killed.heartbeat {
        h.exit_status = Some(137);
    }
    let event = opened(killed);
    let en = rules::write(&event, Language::En, at(3));
    assert!(en.summary.contains("(exit status 137)"), "{}", en.summary);
    assert!(
        en.probable_cause.contains("out-of-memory killer"),
        "{}",
        en.probable_cause
    );
    let ru = rules::write(&event, Language::Ru, at(3));
    assert!(ru.probable_cause.contains("нехватки памяти"), "{}", ru.probable_cause);
}

#[test]
fn a_late_heartbeat_says_when_the_run_started_and_that_it_did_not_finish_in_time() {
    let event = opened(failing_result(FailureKind::HeartbeatLate));
    for lang in Language::ALL {
        let report = rules::write(&event, lang, at(3));
        let summary = match lang.tag() {
            "ru" => {
                "Задание «Nightly backup» запустилось в 02:00 MSK, но не завершилось за допустимое время \
                 (через 30 мин оно всё ещё выполнялось); предыдущий запуск длился 14 мин."
            }
            _ => {
                "Nightly backup started a run at 02:00 MSK and did not finish it within the grace time \
                 (still running after 30 min); the previous run took 14 min."
            }
        };
        assert_eq!(report.summary, summary);
    }
}

#[test]
fn a_heartbeat_back_reports_again_and_asks_about_the_missed_runs_not_users() {
    let mut event = opened(failing_result(FailureKind::HeartbeatMissed));
    event.kind = IncidentEventKind::Resolved;
    event.state = TargetStatus::Up;
    event.started_at = at(0);
    event.resolved_at = Some(at(7_500));
    for lang in Language::ALL {
        let report = rules::write(&event, lang, at(7_600));
        let (reports, missed, users) = match lang.tag() {
            "ru" => ("снова отчитывается", "пропущенные", "пользовател"),
            _ => ("reports again", "runs missed", "users"),
        };
        assert!(report.impact.contains(reports), "{}", report.impact);
        let actions = report.recommended_actions.join("\n");
        assert!(actions.contains(missed), "{actions}");
        assert!(!actions.contains(users), "{actions}");
    }
    // Any other target keeps the service wording.
    let service = rules::write(&resolved_event(), Language::En, at(7_600));
    assert!(
        service.impact.contains("works again for everyone"),
        "{}",
        service.impact
    );
}

#[test]
fn a_group_member_names_the_shared_cause_and_the_members_in_both_languages() {
    let mut event = opened(failing_result(FailureKind::ConnectRefused));
    let alone = rules::write(&event, Language::En, at(3));
    event.group = Some(common::messages::GroupRef {
        id: id(77),
        cause: "ip:203.0.113.7:connect_refused".into(),
        members: 30,
        open: 30,
        names: (0..25).map(|n| format!("svc-{n:02}")).collect(),
        resolved: false,
    });
    let en = rules::write(&event, Language::En, at(3));
    assert!(
        en.probable_cause
            .starts_with("30 of your targets are down together: all resolve to 203.0.113.7 (connect_refused).")
            && en.probable_cause.ends_with(&alone.probable_cause),
        "the shared cause first, then the target's own: {}",
        en.probable_cause
    );
    assert!(
        en.impact.contains("svc-00, svc-01") && en.impact.contains("svc-24 and 5 more"),
        "{}",
        en.impact
    );
    assert_eq!(
        en.recommended_actions[0],
        "Fix the shared cause first (all resolve to 203.0.113.7 (connect_refused)); the other 29 targets should recover with it."
    );
    assert_eq!(en.summary, alone.summary, "the summary stays the target's own");
    let ru = rules::write(&event, Language::Ru, at(3));
    assert!(
        ru.probable_cause
            .starts_with("Недоступны сразу 30 ваших целей: все разрешаются в 203.0.113.7"),
        "{}",
        ru.probable_cause
    );
    assert!(ru.impact.contains("svc-24 и ещё 5"), "{}", ru.impact);

    // The last member's resolution says the outage is over; an earlier one, how many are left.
    let mut resolved = resolved_event();
    let mut group = event.group.clone().unwrap();
    group.open = 12;
    resolved.group = Some(group.clone());
    let left = rules::write(&resolved, Language::En, at(3));
    assert!(
        left.probable_cause.contains("12 of them are still down"),
        "{}",
        left.probable_cause
    );
    group.open = 0;
    group.resolved = true;
    resolved.group = Some(group);
    let over = rules::write(&resolved, Language::En, at(3));
    assert!(
        over.probable_cause
            .starts_with("The outage of 30 targets (all resolve to 203.0.113.7 (connect_refused)) is over"),
        "{}",
        over.probable_cause
    );

    // A cause this build cannot read leaves the report as it is.
    event.group.as_mut().unwrap().cause = "weather:rain".into();
    assert_eq!(
        rules::write(&event, Language::En, at(3)).probable_cause,
        alone.probable_cause
    );
}
