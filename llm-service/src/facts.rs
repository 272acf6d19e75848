//! What an incident event says, read once: the target's name and host, the result the report
//! rests on, the ids of the evidence, the latency against the baseline, a heartbeat's times in
//! its own time zone. Shared by the rule writer, the prompt and the validator so that all three
//! see the same facts.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use common::messages::{CheckKind, CheckResult, FailureKind, HeartbeatInfo, IncidentEvent, TargetStatus};
use uuid::Uuid;

use crate::redact::Redactor;

/// A latency rise counts as a slow-down when the failing checks took at least this many
/// times the baseline…
const SLOWDOWN_FACTOR: f64 = 2.0;
/// …and at least this many milliseconds more.
const SLOWDOWN_MIN_MS: f64 = 200.0;

/// The facts of one event.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The event.
    pub event: &'a IncidentEvent,
    /// The target's name (empty for operator events).
    pub name: String,
    /// What is checked: URL (credentials masked, see [`crate::redact`]), `host:port` or DNS name.
    pub address: String,
    /// The host of the address, lowercase.
    pub host: Option<String>,
    /// The port of the address, when it has one (the URL scheme's default included).
    pub port: Option<u16>,
    /// The newest result with a failure, else the newest result.
    pub primary: Option<&'a CheckResult>,
    /// Ids of the results with a failure, in evidence order.
    pub failing_ids: Vec<Uuid>,
    /// Every result id the evidence holds (results and the last good one).
    pub evidence_ids: BTreeSet<Uuid>,
    /// Scrubs the credential values of the event's URLs from any text.
    pub redactor: Redactor,
}

impl<'a> Facts<'a> {
    /// Reads the facts of `event`.
    pub fn of(event: &'a IncidentEvent) -> Self {
        let (name, address) = event
            .target
            .as_ref()
            .map(|t| (t.name.clone(), t.address.clone()))
            .unwrap_or_default();
        let is_heartbeat = event.target.as_ref().map(|t| t.check_kind) == Some(CheckKind::Heartbeat);
        // A heartbeat is pushed to PingTower: there is no host of the job to name or to link.
        let (host, port) = if is_heartbeat {
            (None, None)
        } else {
            host_and_port(&address)
        };
        let redactor = Redactor::from_urls(
            std::iter::once(address.as_str()).chain(
                event
                    .evidence
                    .results
                    .iter()
                    .chain(event.evidence.last_good.as_ref())
                    .flat_map(|r| &r.hops)
                    .flat_map(|h| std::iter::once(h.url.as_str()).chain(h.location.as_deref())),
            ),
        );
        let address = redactor.url(&address);
        let results = &event.evidence.results;
        let primary = results
            .iter()
            .rev()
            .find(|r| r.failure.is_some())
            .or_else(|| results.last());
        let failing_ids = results
            .iter()
            .filter(|r| r.failure.is_some())
            .map(|r| r.result_id)
            .collect();
        let evidence_ids = results
            .iter()
            .chain(event.evidence.last_good.as_ref())
            .map(|r| r.result_id)
            .collect();
        Self {
            event,
            name,
            address,
            host,
            port,
            primary,
            failing_ids,
            evidence_ids,
            redactor,
        }
    }

    /// The failure kind the report is about.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        self.primary.and_then(|r| r.failure.as_ref()).map(|f| f.kind)
    }

    /// Every failure kind in the evidence (results and by-region summary).
    pub fn failure_kinds(&self) -> BTreeSet<FailureKind> {
        let mut kinds: BTreeSet<FailureKind> = self
            .event
            .evidence
            .results
            .iter()
            .filter_map(|r| r.failure.as_ref().map(|f| f.kind))
            .collect();
        kinds.extend(self.event.evidence.failure_kinds_by_region.values().flatten().copied());
        kinds
    }

    /// Every HTTP status code the evidence holds (final and per hop, last good included).
    pub fn status_codes(&self) -> BTreeSet<u16> {
        self.event
            .evidence
            .results
            .iter()
            .chain(self.event.evidence.last_good.as_ref())
            .flat_map(|r| r.status_code.into_iter().chain(r.hops.iter().filter_map(|h| h.status)))
            .collect()
    }

    /// The host the failure happened on: the last hop's for HTTP chains, else the target's.
    pub fn failing_host(&self) -> String {
        self.primary
            .and_then(|r| r.hops.last())
            .and_then(|h| host_and_port(&h.url).0)
            .or_else(|| self.host.clone())
            .unwrap_or_else(|| self.address.clone())
    }

    /// The heartbeat facts of the result the report rests on (heartbeat targets).
    pub fn heartbeat(&self) -> Option<&'a HeartbeatInfo> {
        self.primary.and_then(|r| r.heartbeat.as_ref())
    }

    /// The time zone the report's heartbeat times are shown in ([`heartbeat_zone`]; UTC when
    /// the result is no heartbeat).
    pub fn time_zone(&self) -> Tz {
        self.heartbeat().map(heartbeat_zone).unwrap_or(Tz::UTC)
    }

    /// `t` in [`Facts::time_zone`], with its date and the zone's abbreviation ([`zoned`]).
    pub fn local_time(&self, t: DateTime<Utc>) -> String {
        zoned(t, self.time_zone())
    }

    /// `t` in [`Facts::time_zone`] without its date when it falls on the day the incident
    /// began there (`02:00 MSK`), else with it (`2026-11-17 02:14 MSK`).
    pub fn local_time_short(&self, t: DateTime<Utc>) -> String {
        let zone = self.time_zone();
        let local = t.with_timezone(&zone);
        if local.date_naive() == self.event.started_at.with_timezone(&zone).date_naive() {
            local.format("%H:%M %Z").to_string()
        } else {
            local.format("%Y-%m-%d %H:%M %Z").to_string()
        }
    }

    /// The state the target is in after the event.
    pub fn state(&self) -> TargetStatus {
        self.event.state
    }

    /// `(latency of the failing checks in ms, baseline in ms)` when the latency rose well
    /// above the baseline before or while failing.
    pub fn slowdown(&self) -> Option<(u32, f64)> {
        let baseline = self.event.evidence.baseline_latency_ms?;
        let latency = self.event.evidence.results.iter().map(|r| r.duration_ms).max()?;
        let l = f64::from(latency);
        (baseline > 0.0 && l >= baseline * SLOWDOWN_FACTOR && l - baseline >= SLOWDOWN_MIN_MS)
            .then_some((latency, baseline))
    }

    /// Hosts the evidence names (target, hops, certificate names, DNS answers): the only
    /// host names a report may mention.
    pub fn known_hosts(&self) -> BTreeSet<String> {
        let mut hosts: BTreeSet<String> = self.host.iter().cloned().collect();
        let results = self
            .event
            .evidence
            .results
            .iter()
            .chain(self.event.evidence.last_good.as_ref());
        for r in results {
            for hop in &r.hops {
                hosts.extend(host_and_port(&hop.url).0);
                if let Some(loc) = &hop.location {
                    hosts.extend(host_and_port(loc).0);
                }
            }
            if let Some(tls) = &r.tls {
                hosts.extend(tls.sans.iter().map(|s| s.trim_start_matches("*.").to_ascii_lowercase()));
            }
            if let Some(dns) = &r.dns {
                hosts.extend(
                    dns.answers
                        .iter()
                        .filter_map(|a| a.value.split_whitespace().last())
                        .map(|v| v.trim_end_matches('.').to_ascii_lowercase()),
                );
            }
        }
        // A group's shared host or address may be named (it is what the members share).
        if let Some(group) = &self.event.group {
            let (kind, rest) = group.cause.split_once(':').unwrap_or_default();
            if matches!(kind, "ip" | "host")
                && let Some((host, _)) = rest.rsplit_once(':')
            {
                hosts.insert(host.to_ascii_lowercase());
            }
        }
        if let Some(cert) = &self.event.evidence.certificate {
            hosts.extend(
                cert.sans
                    .iter()
                    .map(|s| s.trim_start_matches("*.").to_ascii_lowercase()),
            );
        }
        hosts
    }
}

/// The time zone a heartbeat's times are shown in: its schedule's (cron), else UTC. A name
/// chrono-tz does not know counts as UTC.
pub fn heartbeat_zone(h: &HeartbeatInfo) -> Tz {
    h.timezone
        .as_deref()
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

/// `t` in `zone`, with its date and the zone's abbreviation: `2026-11-18 02:00 MSK`.
pub fn zoned(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// Host and port of a URL, `host:port` or bare name.
pub fn host_and_port(address: &str) -> (Option<String>, Option<u16>) {
    let address = address.trim();
    if address.is_empty() {
        return (None, None);
    }
    if address.contains("://")
        && let Ok(url) = url::Url::parse(address)
    {
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase());
        return (host, url.port_or_known_default());
    }
    if let Some((h, p)) = address.rsplit_once(':')
        && let Ok(port) = p.parse::<u16>()
        && !h.is_empty()
    {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        return (Some(h.to_ascii_lowercase()), Some(port));
    }
    (Some(address.trim_end_matches('.').to_ascii_lowercase()), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_are_read_from_every_address_form() {
        assert_eq!(
            host_and_port("https://Shop.Example.com/health"),
            (Some("shop.example.com".into()), Some(443))
        );
        assert_eq!(
            host_and_port("db.example.com:5432"),
            (Some("db.example.com".into()), Some(5432))
        );
        assert_eq!(
            host_and_port("[2001:db8::1]:22"),
            (Some("2001:db8::1".into()), Some(22))
        );
        assert_eq!(host_and_port("example.org."), (Some("example.org".into()), None));
        assert_eq!(host_and_port(""), (None, None));
    }

    #[test]
    fn heartbeat_times_are_read_in_the_schedules_zone_and_an_unknown_zone_is_utc() {
        use common::messages::FailureKind;
        let mut event = crate::golden::opened(crate::golden::failing_result(FailureKind::HeartbeatMissed));
        let due = event.evidence.results[1]
            .heartbeat
            .as_ref()
            .and_then(|h| h.expected_at)
            .unwrap();
        let day_before = due - chrono::Duration::hours(23);
        let facts = Facts::of(&event);
        assert_eq!(facts.time_zone(), Tz::Europe__Moscow);
        assert_eq!(facts.local_time(due), "2026-11-18 02:00 MSK");
        assert_eq!(facts.local_time_short(due), "02:00 MSK");
        assert_eq!(facts.local_time_short(day_before), "2026-11-17 03:00 MSK");
        assert_eq!(facts.host, None, "a heartbeat has no host of its own");

        event.evidence.results[1].heartbeat.as_mut().unwrap().timezone = Some("Mars/Olympus".into());
        let facts = Facts::of(&event);
        assert_eq!(facts.time_zone(), Tz::UTC);
        assert_eq!(facts.local_time(due), "2026-11-17 23:00 UTC");
    }

    #[test]
    fn a_503_well_above_the_baseline_is_a_slowdown() {
        let event = common::samples::incident_event();
        let facts = Facts::of(&event);
        assert_eq!(facts.slowdown(), Some((812, 120.0)));
        let mut calm = event.clone();
        calm.evidence.baseline_latency_ms = Some(700.0);
        assert_eq!(Facts::of(&calm).slowdown(), None);
    }
}
