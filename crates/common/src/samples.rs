//! Fixed sample messages, for contract snapshots and for tests of every crate.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::messages::*;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + secs, 0)
        .single()
        .expect("valid instant")
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

/// A message of the sample job.
pub fn check_jobs() -> CheckJobs {
    CheckJobs::one(check_job())
}

/// An HTTP check job with most options set.
pub fn check_job() -> CheckJob {
    let mut spec = HttpSpec::get("https://shop.example.com/health");
    spec.headers.push(HttpHeader::new("Accept", "application/json"));
    spec.assertions.push(Assertion::JsonPathEquals {
        path: "$.status".into(),
        value: serde_json::json!("ok"),
    });
    spec.degraded_above_ms = Some(2000);
    CheckJob {
        job_id: id(1),
        target_id: id(2),
        owner_id: Some(id(9)),
        allow_private: false,
        region: DEFAULT_REGION.into(),
        scheduled_for: at(0),
        deadline: at(60),
        spec: CheckSpec::Http(spec),
    }
}

/// A failed HTTPS check: 503 after a redirect, with TLS facts.
pub fn check_result() -> CheckResult {
    CheckResult {
        result_id: id(3),
        job_id: id(1),
        target_id: id(2),
        region: DEFAULT_REGION.into(),
        pinger_id: "pinger-1".into(),
        check_kind: CheckKind::Http,
        started_at: at(1),
        finished_at: at(2),
        duration_ms: 812,
        outcome: Outcome::Down,
        failure: Some(Failure {
            kind: FailureKind::HttpStatus,
            phase: Phase::Validation,
            message: "HTTP 503 Service Unavailable; expected 200-399".into(),
        }),
        status_code: Some(503),
        hops: vec![
            HttpHop {
                url: "http://shop.example.com/health".into(),
                status: Some(301),
                resolved_ip: Some("93.184.216.34".parse().unwrap()),
                location: Some("https://shop.example.com/health".into()),
                http_version: Some("HTTP/1.1".into()),
                timings: PhaseTimings {
                    dns_ms: Some(12.5),
                    connect_ms: Some(20.0),
                    tls_ms: None,
                    ttfb_ms: Some(40.0),
                    transfer_ms: Some(0.5),
                },
            },
            HttpHop {
                url: "https://shop.example.com/health".into(),
                status: Some(503),
                resolved_ip: Some("93.184.216.34".parse().unwrap()),
                location: None,
                http_version: Some("HTTP/2.0".into()),
                timings: PhaseTimings {
                    dns_ms: Some(0.1),
                    connect_ms: Some(21.0),
                    tls_ms: Some(45.0),
                    ttfb_ms: Some(650.0),
                    transfer_ms: Some(3.0),
                },
            },
        ],
        resolved_ip: Some("93.184.216.34".parse().unwrap()),
        tls: Some(TlsInfo {
            subject: "CN=shop.example.com".into(),
            issuer: "CN=Example CA".into(),
            sans: vec!["shop.example.com".into()],
            not_before: at(-86_400 * 60),
            not_after: at(86_400 * 30),
            days_left: 30,
            fingerprint_sha256: "ab".repeat(32),
            version: Some("TLSv1.3".into()),
            cipher: Some("TLS13_AES_128_GCM_SHA256".into()),
            chain_valid: true,
            hostname_matches: true,
            validation_error: None,
        }),
        dns: None,
        icmp: None,
        heartbeat: None,
        banner: None,
        body_excerpt: Some("Service temporarily unavailable".into()),
        probe_degraded: false,
    }
}

/// An `opened` incident event resting on [`check_result`].
pub fn incident_event() -> IncidentEvent {
    let mut by_region = BTreeMap::new();
    by_region.insert(DEFAULT_REGION.to_owned(), vec![FailureKind::HttpStatus]);
    IncidentEvent {
        incident_id: id(4),
        kind: IncidentEventKind::Opened,
        target: Some(TargetRef {
            id: id(2),
            owner_id: id(5),
            name: "Shop health".into(),
            check_kind: CheckKind::Http,
            address: "https://shop.example.com/health".into(),
        }),
        state: TargetStatus::Down,
        regions: vec![DEFAULT_REGION.into()],
        started_at: at(2),
        resolved_at: None,
        pinger_id: None,
        evidence: Evidence {
            results: vec![check_result()],
            last_good: None,
            baseline_latency_ms: Some(120.0),
            failure_kinds_by_region: by_region,
            certificate: None,
            threshold_days: None,
            latency_baseline: None,
        },
        caused_by: None,
        group: None,
    }
}

/// The rule-based report of [`incident_event`].
pub fn incident_report() -> IncidentReport {
    IncidentReport {
        incident_id: id(4),
        event_kind: IncidentEventKind::Opened,
        language: "en".into(),
        summary: "Shop health is down: the server answers 503 Service Unavailable.".into(),
        probable_cause: "The application behind the load balancer is not serving requests.".into(),
        impact: "Visitors of https://shop.example.com/health get an error page.".into(),
        recommended_actions: vec!["Check the application servers and their logs.".into()],
        source: "rules".into(),
        claims: vec![ReportClaim {
            text: "The server answered 503.".into(),
            result_ids: vec![id(3)],
        }],
        generated_at: at(3),
    }
}

/// Wraps a sample in a fixed envelope.
pub fn envelope<T: Message>(payload: T) -> Envelope<T> {
    Envelope {
        message_id: id(100),
        correlation_id: id(1),
        occurred_at: at(0),
        schema_version: SCHEMA_VERSION,
        payload,
    }
}
