//! Cause correlation: incidents of one organisation that open close together and share a
//! cause signal become members of one **group incident**.
//!
//! - [`signals`] reads an opening incident's cause signals from the result that opened it:
//!   the certificate (expired, not yet valid or untrusted), the DNS resolver failing with an
//!   rcode, the resolved address with the failure kind, the host name with the failure kind,
//!   and the failure kind and phase of the only region down while the target's other regions
//!   see it up. Each is a short string (`ip:203.0.113.7:connect_refused`) stored with the
//!   incident (`incidents.signals`), most specific first.
//! - [`attach`] runs in the engine's transaction right after an incident is inserted. It joins
//!   the owner's open group whose cause is one of the incident's signals; otherwise, when other
//!   open, ungrouped incidents of the owner opened within the correlation window share a
//!   signal, it opens a group on the most specific signal shared by the most of them and
//!   attaches them all. An advisory lock per owner makes concurrent batches agree, and a
//!   unique index allows one open group per (owner, cause).
//! - [`member_resolved`] resolves the group with its last member. Every member keeps its own
//!   incident, timeline and uptime; a group never mixes owners (organisations).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::messages::{CheckResult, FailureKind, GROUP_NAMES_LIMIT, GroupRef, Phase};
use sqlx::PgConnection;
use uuid::Uuid;

/// Longest signal kept (longer ones, e.g. an absurd host name, are cut).
const MAX_SIGNAL: usize = 300;

/// One cause signal of an incident, most specific kinds first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// `cert:…`, `dns:…`, `ip:…`, `host:…` or `region:…`.
    pub key: String,
    /// What members sharing it have in common, in words: "all resolve to 203.0.113.7, which
    /// refuses connections".
    pub summary: String,
}

/// The failure kinds a shared certificate explains.
fn certificate_failure(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::TlsExpired | FailureKind::TlsNotYetValid | FailureKind::TlsUntrusted
    )
}

/// The failure kinds a resolver (not a name) explains.
fn resolver_failure(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::DnsServfail | FailureKind::DnsTimeout | FailureKind::DnsError
    )
}

/// A failure kind as a sentence ending: "refuses connections".
fn what_it_does(kind: FailureKind) -> String {
    match kind {
        FailureKind::ConnectRefused => "refuses connections".to_owned(),
        FailureKind::ConnectTimeout => "does not accept connections in time".to_owned(),
        FailureKind::ConnectError => "cannot be connected to".to_owned(),
        FailureKind::Timeout => "does not answer in time".to_owned(),
        FailureKind::HttpStatus => "answers with an error status".to_owned(),
        FailureKind::TlsHandshake => "fails the TLS handshake".to_owned(),
        FailureKind::TlsHostname => "presents a certificate for another name".to_owned(),
        other => format!("fails with {}", other.as_str()),
    }
}

/// A phase's stable code (`connect`).
fn phase_code(phase: Phase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{phase:?}").to_lowercase())
}

/// The host of a target's address: a URL's host, else the part before a port.
fn host_of(address: &str) -> Option<String> {
    if let Ok(url) = url::Url::parse(address)
        && let Some(host) = url.host_str()
    {
        return Some(host.trim_matches(['[', ']']).to_lowercase());
    }
    let host = address
        .rsplit_once(':')
        .filter(|(h, port)| !h.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .map_or(address, |(h, _)| h);
    let host = host.trim().trim_matches(['[', ']']).to_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Cuts `s` to [`MAX_SIGNAL`] bytes on a character boundary.
fn bounded(mut s: String) -> String {
    if s.len() > MAX_SIGNAL {
        let mut end = MAX_SIGNAL;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The cause signals of an incident opened by `result` on a target at `address` checked from
/// `target_regions`, down in `down_regions`; most specific first. None without a failure.
pub fn signals(result: &CheckResult, address: &str, target_regions: &[String], down_regions: &[String]) -> Vec<Signal> {
    let Some(failure) = &result.failure else {
        return Vec::new();
    };
    let kind = failure.kind;
    let mut out = Vec::new();
    if certificate_failure(kind)
        && let Some(tls) = &result.tls
        && !tls.fingerprint_sha256.is_empty()
    {
        let fp = &tls.fingerprint_sha256;
        let short: String = fp.chars().take(16).collect();
        let state = match kind {
            FailureKind::TlsExpired => "expired",
            FailureKind::TlsNotYetValid => "not yet valid",
            _ => "untrusted",
        };
        out.push(Signal {
            key: format!("cert:{fp}"),
            summary: format!("all present the certificate {short}…, which is {state}"),
        });
    }
    if resolver_failure(kind)
        && let Some(dns) = &result.dns
        && !dns.resolver.is_empty()
    {
        let rcode = dns.rcode.clone().unwrap_or_else(|| kind.as_str().to_owned());
        out.push(Signal {
            key: format!("dns:{}:{rcode}", dns.resolver),
            summary: format!("the resolver {} fails with {rcode}", dns.resolver),
        });
    }
    if let Some(ip) = result.resolved_ip {
        out.push(Signal {
            key: format!("ip:{ip}:{}", kind.as_str()),
            summary: format!("all resolve to {ip}, which {}", what_it_does(kind)),
        });
    }
    if let Some(host) = host_of(address) {
        out.push(Signal {
            key: format!("host:{host}:{}", kind.as_str()),
            summary: format!("all are on {host}, which {}", what_it_does(kind)),
        });
    }
    if target_regions.len() > 1 && down_regions.len() == 1 {
        let region = &down_regions[0];
        let phase = phase_code(failure.phase);
        out.push(Signal {
            key: format!("region:{region}:{}:{phase}", kind.as_str()),
            summary: format!(
                "all fail from {region} only ({} in the {phase} phase) while the other regions see them up",
                kind.as_str()
            ),
        });
    }
    for s in &mut out {
        s.key = bounded(std::mem::take(&mut s.key));
        s.summary = bounded(std::mem::take(&mut s.summary));
    }
    out.dedup_by(|a, b| a.key == b.key);
    out
}

/// What [`attach`] did with an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// No open group and no recent incident shares a signal: it stands alone.
    Alone,
    /// It joined the open group `0`.
    Joined(Uuid),
    /// It opened group `group` together with `others` incidents opened before it.
    Opened {
        /// The new group.
        group: Uuid,
        /// The earlier incidents attached with it.
        others: Vec<Uuid>,
    },
}

/// Stores `incident`'s `signals` and attaches it to a group as the module describes. `owner`
/// is the incident's organisation, `at` when it opened, `window` how far back an ungrouped
/// incident still counts as "close together".
pub async fn attach(
    tx: &mut PgConnection,
    owner: Uuid,
    incident: Uuid,
    at: DateTime<Utc>,
    signals: &[Signal],
    window: chrono::Duration,
) -> Result<Attached, sqlx::Error> {
    if signals.is_empty() {
        return Ok(Attached::Alone);
    }
    let keys: Vec<String> = signals.iter().map(|s| s.key.clone()).collect();
    sqlx::query!("update incidents set signals = $2 where id = $1", incident, &keys)
        .execute(&mut *tx)
        .await?;
    // One decision at a time per organisation: two batches opening incidents of the same
    // owner see each other's groups.
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended('incident_groups:' || $1::uuid::text, 0))",
        owner
    )
    .execute(&mut *tx)
    .await?;
    // An open group of one of these causes: join it (the most specific cause first).
    let open: Vec<(Uuid, String)> = sqlx::query!(
        "select id, cause from incident_groups where owner_id = $1 and resolved_at is null and cause = any($2)",
        owner,
        &keys
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.id, r.cause))
    .collect();
    if let Some((group, cause)) = keys.iter().find_map(|k| open.iter().find(|(_, c)| c == k)).cloned() {
        join(tx, group, incident, at, &cause).await?;
        return Ok(Attached::Joined(group));
    }
    // Other open, ungrouped incidents of the owner, opened close before, sharing a signal.
    let peers = sqlx::query!(
        "select id, signals, opened_at from incidents
         where owner_id = $1 and id <> $2 and resolved_at is null and group_id is null
           and opened_at >= $3 and opened_at <= $4 and signals && $5
         order by opened_at, id
         limit 1000",
        owner,
        incident,
        at - window,
        at,
        &keys
    )
    .fetch_all(&mut *tx)
    .await?;
    if peers.is_empty() {
        return Ok(Attached::Alone);
    }
    // The signal shared by the most peers; on a tie, the more specific one.
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for p in &peers {
        for (i, k) in keys.iter().enumerate() {
            if p.signals.contains(k) {
                *counts.entry(i).or_default() += 1;
            }
        }
    }
    let Some((best, _)) = counts
        .iter()
        .max_by(|(ia, ca), (ib, cb)| ca.cmp(cb).then(ib.cmp(ia)))
        .map(|(i, c)| (*i, *c))
    else {
        return Ok(Attached::Alone);
    };
    let signal = &signals[best];
    let group = Uuid::now_v7();
    let first_opened = peers.iter().map(|p| p.opened_at).min().unwrap_or(at);
    sqlx::query!(
        "insert into incident_groups (id, owner_id, cause, summary, opened_at) values ($1, $2, $3, $4, $5)",
        group,
        owner,
        signal.key,
        signal.summary,
        first_opened.min(at)
    )
    .execute(&mut *tx)
    .await?;
    let others: Vec<Uuid> = peers
        .iter()
        .filter(|p| p.signals.contains(&signal.key))
        .map(|p| p.id)
        .collect();
    for &other in &others {
        join(tx, group, other, at, &signal.key).await?;
    }
    join(tx, group, incident, at, &signal.key).await?;
    Ok(Attached::Opened { group, others })
}

/// Attaches `incident` to `group` and says so in its timeline.
async fn join(
    tx: &mut PgConnection,
    group: Uuid,
    incident: Uuid,
    at: DateTime<Utc>,
    cause: &str,
) -> Result<(), sqlx::Error> {
    let summary = sqlx::query_scalar!(
        "with joined as (update incidents set group_id = $1 where id = $2 and group_id is null returning id)
         update incident_groups g set updated_at = now(),
                members = members + (select count(*) from joined)::int
         where g.id = $1 returning summary",
        group,
        incident
    )
    .fetch_one(&mut *tx)
    .await?;
    common::db::timeline(
        tx,
        incident,
        at,
        "grouped",
        &format!("Part of a group incident ({cause}): {summary}."),
    )
    .await
}

/// Resolves the group of the just resolved `incident` when no member is open any more; the
/// group's resolution time is its last member's.
pub async fn member_resolved(
    tx: &mut PgConnection,
    incident: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "update incident_groups g set resolved_at = greatest($2, g.opened_at), updated_at = now()
         where g.id = (select group_id from incidents where id = $1) and g.resolved_at is null
           and not exists (select 1 from incidents i where i.group_id = g.id and i.resolved_at is null)
         returning g.id",
        incident,
        at
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The group `incident` is a member of, as its events carry it (`None`: it is not grouped).
pub async fn group_ref(tx: &mut PgConnection, incident: Uuid) -> Result<Option<GroupRef>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select g.id, g.cause, g.members, g.resolved_at is not null as "resolved!",
                  (select count(*) from incidents i where i.group_id = g.id and i.resolved_at is null) as "open!",
                  array(select t.name from incidents i join targets t on t.id = i.target_id
                        where i.group_id = g.id
                        order by (i.resolved_at is null) desc, i.opened_at, i.id
                        limit $2) as "names!"
           from incident_groups g where g.id = (select group_id from incidents where id = $1)"#,
        incident,
        GROUP_NAMES_LIMIT as i64
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| GroupRef {
        id: r.id,
        cause: r.cause,
        members: u32::try_from(r.members).unwrap_or(0),
        open: u32::try_from(r.open).unwrap_or(u32::MAX),
        names: r.names,
        resolved: r.resolved,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_urls_and_host_ports() {
        assert_eq!(
            host_of("https://Shop.Example.com:8443/a").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(host_of("db.example.com:5432").as_deref(), Some("db.example.com"));
        assert_eq!(host_of("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(host_of("example.com").as_deref(), Some("example.com"));
        assert_eq!(host_of(""), None);
    }

    #[test]
    fn long_signals_are_cut_on_a_character_boundary() {
        let s = bounded("я".repeat(400));
        assert!(s.len() <= MAX_SIGNAL && s.chars().all(|c| c == 'я'));
    }
}
