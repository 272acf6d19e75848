//! The compact archive's row: every result of one target on one UTC day (`archive_days`).
//!
//! A row holds one typed array per field, element `i` of each being result `i` (results in
//! time order), so PostgreSQL can `unnest` them for counts, rollups and latency series. Small
//! texts (region, pinger, check kind, address, failure kind and phase) are 1-based indexes
//! into the row's own dictionary `strs` (`0` = none). The full result JSON (`detail`) is kept
//! only where it explains something ([`keep_details`]): every result that is not up, the first
//! of the row, and the first after a change of outcome, of TLS certificate or of redirect
//! chain. Kept details are one zstd block (`details`), in the order of `detail_at` (1-based
//! positions of the results that keep theirs).
//!
//! The archiver builds rows ([`DayRow::build`]) and merges late results into them
//! ([`DayRow::entries`] then build again); the backend lists them ([`DayRow::entries`],
//! [`Entry::to_json`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// zstd level of the details block: level 3 is zstd's default, fast enough to archive a day of
/// a thousand targets in seconds.
const ZSTD_LEVEL: i32 = 3;
/// Most distinct texts one row's dictionary holds (its indexes are `smallint`).
const MAX_STRS: usize = i16::MAX as usize;

/// One archived result, as the compact layout keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The result's id.
    pub result_id: Uuid,
    /// The job it answered.
    pub job_id: Uuid,
    /// Pinger region.
    pub region: String,
    /// Pinger id.
    pub pinger_id: String,
    /// `http`, `tcp`, `dns`, `tls`, `icmp` or `heartbeat`.
    pub check_kind: String,
    /// `started_at`, milliseconds since the epoch.
    pub started_ms: i64,
    /// `finished_at - started_at`, milliseconds.
    pub took_ms: i32,
    /// Total duration.
    pub duration_ms: i32,
    /// 1 up, 2 degraded, 3 down.
    pub outcome: i16,
    /// Final HTTP status, 0 when none.
    pub status_code: i16,
    /// Failure kind code, `""` when none.
    pub failure_kind: String,
    /// Failure phase, `""` when none.
    pub failure_phase: String,
    /// Failure message, `""` when none (kept in the row only for results whose detail is
    /// dropped; the others have it in their detail).
    pub failure_message: String,
    /// Phase sums over the hops: DNS, connect, TLS, time to first byte, transfer.
    pub timings: [f32; 5],
    /// Address connected to, `""` when none.
    pub resolved_ip: String,
    /// Days until the certificate expires.
    pub tls_days_left: Option<i32>,
    /// The pinger's own connectivity was degraded.
    pub probe_degraded: bool,
    /// [`signature`] of the TLS fingerprint and redirect chain.
    pub sig: i32,
    /// The whole result as JSON, when kept.
    pub detail: Option<String>,
}

impl Entry {
    /// `checked_at` in epoch seconds (ClickHouse's, truncated).
    pub fn checked_at(&self) -> i64 {
        self.started_ms.div_euclid(1000)
    }

    /// The outcome's name.
    pub fn outcome_str(&self) -> &'static str {
        outcome_str(self.outcome)
    }

    /// The listing's JSON of this result: its detail when kept (with `detail_dropped: false`),
    /// else a `CheckResult` rebuilt from the kept fields with `detail: null` and
    /// `detail_dropped: true` (the hops, TLS, DNS and body facts are gone; `timings` holds the
    /// phase sums and `tls_days_left` what the certificate had).
    pub fn to_json(&self, target_id: Uuid) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        if let Some(detail) = &self.detail
            && let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(detail)
        {
            map.insert("detail_dropped".into(), Value::Bool(false));
            return Value::Object(map);
        }
        let at = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        };
        let mut map = Map::new();
        map.insert("result_id".into(), json!(self.result_id));
        map.insert("job_id".into(), json!(self.job_id));
        map.insert("target_id".into(), json!(target_id));
        map.insert("region".into(), json!(self.region));
        map.insert("pinger_id".into(), json!(self.pinger_id));
        map.insert("check_kind".into(), json!(self.check_kind));
        map.insert("started_at".into(), json!(at(self.started_ms)));
        map.insert(
            "finished_at".into(),
            json!(at(self.started_ms + i64::from(self.took_ms))),
        );
        map.insert("duration_ms".into(), json!(self.duration_ms));
        map.insert("outcome".into(), json!(self.outcome_str()));
        if !self.failure_kind.is_empty() {
            map.insert(
                "failure".into(),
                json!({"kind": self.failure_kind, "phase": self.failure_phase, "message": self.failure_message}),
            );
        }
        if self.status_code != 0 {
            map.insert("status_code".into(), json!(self.status_code as u16));
        }
        if !self.resolved_ip.is_empty() {
            map.insert("resolved_ip".into(), json!(self.resolved_ip));
        }
        map.insert("probe_degraded".into(), json!(self.probe_degraded));
        let names = ["dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms"];
        let timings: Map<String, Value> = names
            .iter()
            .zip(self.timings)
            .filter(|(_, v)| *v > 0.0)
            .map(|(k, v)| ((*k).to_owned(), json!(f64::from(v))))
            .collect();
        map.insert("timings".into(), Value::Object(timings));
        if let Some(days) = self.tls_days_left {
            map.insert("tls_days_left".into(), json!(days));
        }
        map.insert("detail".into(), Value::Null);
        map.insert("detail_dropped".into(), Value::Bool(true));
        Value::Object(map)
    }
}

/// The name of an outcome code.
pub fn outcome_str(code: i16) -> &'static str {
    match code {
        2 => "degraded",
        3 => "down",
        _ => "up",
    }
}

/// What the keep rules and the exact times need from a result's JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Peek {
    /// `started_at` in epoch milliseconds.
    pub started_ms: Option<i64>,
    /// `finished_at` in epoch milliseconds.
    pub finished_ms: Option<i64>,
    /// [`signature`] of the TLS fingerprint and redirect chain.
    pub sig: i32,
}

/// Reads [`Peek`] from a result's JSON (what cannot be read is left out; the signature of
/// unreadable JSON is that of no certificate and no hops).
pub fn peek(detail: &str) -> Peek {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Tls {
        fingerprint_sha256: String,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Hop {
        url: String,
        location: Option<String>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Fields {
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
        tls: Option<Tls>,
        hops: Vec<Hop>,
    }
    let f: Fields = serde_json::from_str(detail).unwrap_or_default();
    let chain: Vec<&str> = f
        .hops
        .iter()
        .flat_map(|h| [h.url.as_str(), h.location.as_deref().unwrap_or("")])
        .collect();
    Peek {
        started_ms: f.started_at.map(|t| t.timestamp_millis()),
        finished_ms: f.finished_at.map(|t| t.timestamp_millis()),
        sig: signature(f.tls.as_ref().map(|t| t.fingerprint_sha256.as_str()), &chain),
    }
}

/// A stable 32-bit hash (FNV-1a) of a certificate fingerprint and a redirect chain: two
/// results with the same certificate and chain have the same signature.
pub fn signature(fingerprint: Option<&str>, chain: &[&str]) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    eat(fingerprint.unwrap_or("-").as_bytes());
    for part in chain {
        eat(b"\n");
        eat(part.as_bytes());
    }
    h as i32
}

/// Applies the keep rules to `entries` (sorted by time): the detail of a result that is up
/// is dropped unless it is the first, or the first after a change of outcome or signature.
/// Details already dropped stay dropped.
pub fn keep_details(entries: &mut [Entry]) {
    let mut prev: Option<(i16, i32)> = None;
    for e in entries.iter_mut() {
        let keep = match prev {
            None => true,
            Some((outcome, sig)) => e.outcome != 1 || outcome != e.outcome || sig != e.sig,
        };
        prev = Some((e.outcome, e.sig));
        if !keep {
            e.detail = None;
        }
    }
}

/// Sorts entries by time then id, keeping one entry per result id (the first seen wins).
pub fn sort_unique(entries: &mut Vec<Entry>) {
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    entries.retain(|e| seen.insert(e.result_id));
    entries.sort_by_key(|e| (e.started_ms, e.result_id));
}

/// Why a row cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The arrays have different lengths.
    #[error("archive_days row {day} {target_id}: arrays of different lengths")]
    Lengths {
        /// The row's day.
        day: NaiveDate,
        /// The row's target.
        target_id: Uuid,
    },
    /// The details block is not what was written.
    #[error("archive_days row {day} {target_id}: details block unreadable")]
    Details {
        /// The row's day.
        day: NaiveDate,
        /// The row's target.
        target_id: Uuid,
    },
}

/// One row of `archive_days`, column by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayRow {
    /// The UTC day.
    pub day: NaiveDate,
    /// The target.
    pub target_id: Uuid,
    /// Results in the row.
    pub n: i32,
    /// The dictionary of small texts.
    pub strs: Vec<String>,
    /// Result ids.
    pub result_ids: Vec<Uuid>,
    /// Job ids.
    pub job_ids: Vec<Uuid>,
    /// `started_at`, milliseconds since the day's midnight.
    pub at_ms: Vec<i32>,
    /// `finished_at - started_at`, milliseconds.
    pub took_ms: Vec<i32>,
    /// Total durations.
    pub duration_ms: Vec<i32>,
    /// Outcome codes.
    pub outcome: Vec<i16>,
    /// Final HTTP statuses (0: none).
    pub status_code: Vec<i16>,
    /// Regions (dictionary indexes).
    pub region_i: Vec<i16>,
    /// Pinger ids (dictionary indexes).
    pub pinger_i: Vec<i16>,
    /// Check kinds (dictionary indexes).
    pub kind_i: Vec<i16>,
    /// Addresses (dictionary indexes).
    pub ip_i: Vec<i16>,
    /// Failure kinds (dictionary indexes).
    pub failure_kind_i: Vec<i16>,
    /// Failure phases (dictionary indexes).
    pub failure_phase_i: Vec<i16>,
    /// Failure messages of results whose detail is dropped (dictionary indexes).
    pub failure_msg_i: Vec<i16>,
    /// DNS phase sums.
    pub dns_ms: Vec<f32>,
    /// Connect phase sums.
    pub connect_ms: Vec<f32>,
    /// TLS phase sums.
    pub tls_ms: Vec<f32>,
    /// Time to first byte sums.
    pub ttfb_ms: Vec<f32>,
    /// Transfer sums.
    pub transfer_ms: Vec<f32>,
    /// Days until the certificate expires.
    pub tls_days_left: Vec<Option<i32>>,
    /// Probe-degraded flags.
    pub probe_degraded: Vec<bool>,
    /// Signatures.
    pub sig: Vec<i32>,
    /// 1-based positions of the results whose detail is kept.
    pub detail_at: Vec<i32>,
    /// The kept details, zstd-compressed, each as a little-endian `u32` length and its bytes.
    pub details: Vec<u8>,
}

/// The dictionary being built.
#[derive(Default)]
struct Strs {
    list: Vec<String>,
    index: std::collections::HashMap<String, i16>,
}

impl Strs {
    /// The 1-based index of `s` (0 for `""`, and when the dictionary is full).
    fn intern(&mut self, s: &str) -> i16 {
        if s.is_empty() {
            return 0;
        }
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        if self.list.len() >= MAX_STRS {
            return 0;
        }
        self.list.push(s.to_owned());
        let i = self.list.len() as i16;
        self.index.insert(s.to_owned(), i);
        i
    }
}

impl DayRow {
    /// The row of `entries` (sorted by time, their details decided): `entries` must be
    /// non-empty and all of `day`.
    pub fn build(day: NaiveDate, target_id: Uuid, entries: &[Entry]) -> std::io::Result<Self> {
        let midnight_ms = day
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis();
        let mut strs = Strs::default();
        let mut row = DayRow {
            day,
            target_id,
            n: entries.len() as i32,
            ..Default::default()
        };
        let mut block = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            row.result_ids.push(e.result_id);
            row.job_ids.push(e.job_id);
            row.at_ms.push((e.started_ms - midnight_ms).clamp(0, 86_399_999) as i32);
            row.took_ms.push(e.took_ms);
            row.duration_ms.push(e.duration_ms);
            row.outcome.push(e.outcome);
            row.status_code.push(e.status_code);
            row.region_i.push(strs.intern(&e.region));
            row.pinger_i.push(strs.intern(&e.pinger_id));
            row.kind_i.push(strs.intern(&e.check_kind));
            row.ip_i.push(strs.intern(&e.resolved_ip));
            row.failure_kind_i.push(strs.intern(&e.failure_kind));
            row.failure_phase_i.push(strs.intern(&e.failure_phase));
            let message = if e.detail.is_some() { "" } else { &e.failure_message };
            row.failure_msg_i.push(strs.intern(message));
            row.dns_ms.push(e.timings[0]);
            row.connect_ms.push(e.timings[1]);
            row.tls_ms.push(e.timings[2]);
            row.ttfb_ms.push(e.timings[3]);
            row.transfer_ms.push(e.timings[4]);
            row.tls_days_left.push(e.tls_days_left);
            row.probe_degraded.push(e.probe_degraded);
            row.sig.push(e.sig);
            if let Some(detail) = &e.detail {
                row.detail_at.push(i as i32 + 1);
                block.extend_from_slice(&(detail.len() as u32).to_le_bytes());
                block.extend_from_slice(detail.as_bytes());
            }
        }
        row.strs = strs.list;
        row.details = zstd::bulk::compress(&block, ZSTD_LEVEL)?;
        Ok(row)
    }

    fn lengths_ok(&self) -> bool {
        let n = self.n as usize;
        [
            self.result_ids.len(),
            self.job_ids.len(),
            self.at_ms.len(),
            self.took_ms.len(),
            self.duration_ms.len(),
            self.outcome.len(),
            self.status_code.len(),
            self.region_i.len(),
            self.pinger_i.len(),
            self.kind_i.len(),
            self.ip_i.len(),
            self.failure_kind_i.len(),
            self.failure_phase_i.len(),
            self.failure_msg_i.len(),
            self.dns_ms.len(),
            self.connect_ms.len(),
            self.tls_ms.len(),
            self.ttfb_ms.len(),
            self.transfer_ms.len(),
            self.tls_days_left.len(),
            self.probe_degraded.len(),
            self.sig.len(),
        ]
        .iter()
        .all(|l| *l == n)
    }

    /// The kept details, in the order of `detail_at`.
    pub fn details(&self) -> Result<Vec<String>, DecodeError> {
        let bad = || DecodeError::Details {
            day: self.day,
            target_id: self.target_id,
        };
        if self.detail_at.is_empty() {
            return Ok(Vec::new());
        }
        let block = zstd::stream::decode_all(self.details.as_slice()).map_err(|_| bad())?;
        let mut out = Vec::with_capacity(self.detail_at.len());
        let mut rest = block.as_slice();
        while rest.len() >= 4 {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            rest = &rest[4..];
            let text = rest.get(..len).ok_or_else(bad)?;
            out.push(String::from_utf8(text.to_vec()).map_err(|_| bad())?);
            rest = &rest[len..];
        }
        if out.len() != self.detail_at.len() {
            return Err(bad());
        }
        Ok(out)
    }

    /// Every result of the row, in time order, with its detail when kept.
    pub fn entries(&self) -> Result<Vec<Entry>, DecodeError> {
        if !self.lengths_ok() {
            return Err(DecodeError::Lengths {
                day: self.day,
                target_id: self.target_id,
            });
        }
        let mut details = self.details()?.into_iter();
        let mut kept = self.detail_at.iter().peekable();
        let midnight_ms = self
            .day
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis();
        let s = |i: i16| -> String {
            usize::try_from(i)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| self.strs.get(i))
                .cloned()
                .unwrap_or_default()
        };
        let mut out = Vec::with_capacity(self.n as usize);
        for i in 0..self.n as usize {
            let detail = if kept.peek().is_some_and(|k| **k as usize == i + 1) {
                kept.next();
                details.next()
            } else {
                None
            };
            out.push(Entry {
                result_id: self.result_ids[i],
                job_id: self.job_ids[i],
                region: s(self.region_i[i]),
                pinger_id: s(self.pinger_i[i]),
                check_kind: s(self.kind_i[i]),
                started_ms: midnight_ms + i64::from(self.at_ms[i]),
                took_ms: self.took_ms[i],
                duration_ms: self.duration_ms[i],
                outcome: self.outcome[i],
                status_code: self.status_code[i],
                failure_kind: s(self.failure_kind_i[i]),
                failure_phase: s(self.failure_phase_i[i]),
                failure_message: s(self.failure_msg_i[i]),
                timings: [
                    self.dns_ms[i],
                    self.connect_ms[i],
                    self.tls_ms[i],
                    self.ttfb_ms[i],
                    self.transfer_ms[i],
                ],
                resolved_ip: s(self.ip_i[i]),
                tls_days_left: self.tls_days_left[i],
                probe_degraded: self.probe_degraded[i],
                sig: self.sig[i],
                detail,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64, outcome: i16, sig: i32) -> Entry {
        Entry {
            result_id: Uuid::from_u128(i as u128 + 1),
            job_id: Uuid::from_u128(1000 + i as u128),
            region: "eu".into(),
            pinger_id: "p1".into(),
            check_kind: "http".into(),
            started_ms: 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000 + i * 60_000 + 123,
            took_ms: 250,
            duration_ms: 240,
            outcome,
            status_code: if outcome == 1 { 200 } else { 503 },
            failure_kind: if outcome == 1 { "" } else { "http_status" }.into(),
            failure_phase: if outcome == 1 { "" } else { "validation" }.into(),
            failure_message: String::new(),
            timings: [1.5, 2.0, 0.0, 30.25, 1.0],
            resolved_ip: "192.0.2.1".into(),
            tls_days_left: Some(30),
            probe_degraded: false,
            sig,
            detail: Some(format!("{{\"n\":{i}}}")),
        }
    }

    #[test]
    fn details_are_kept_for_failures_the_first_and_the_first_after_each_change() {
        let outcomes = [1, 1, 3, 3, 1, 1, 1, 1, 2, 1];
        let sigs = [7, 7, 7, 7, 7, 7, 8, 8, 8, 8];
        let mut entries: Vec<Entry> = (0..10)
            .map(|i| entry(i, outcomes[i as usize], sigs[i as usize]))
            .collect();

        keep_details(&mut entries);

        let kept: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.detail.is_some())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(kept, vec![0, 2, 3, 4, 6, 8, 9]);
    }

    #[test]
    fn a_row_reads_back_every_result_and_every_kept_detail() {
        let mut entries: Vec<Entry> = (0..50).map(|i| entry(i, if i % 7 == 0 { 3 } else { 1 }, 1)).collect();
        entries[5].tls_days_left = None;
        entries[9].resolved_ip = String::new();
        keep_details(&mut entries);
        let day = DateTime::<Utc>::from_timestamp_millis(entries[0].started_ms)
            .unwrap()
            .date_naive();

        let row = DayRow::build(day, Uuid::from_u128(9), &entries).unwrap();
        let back = row.entries().unwrap();

        assert_eq!(back, entries);
        assert!(row.detail_at.len() < entries.len());
    }

    #[test]
    fn a_dropped_result_lists_its_fields_with_a_null_detail() {
        let mut e = entry(3, 1, 1);
        e.detail = None;

        let json = e.to_json(Uuid::from_u128(9));

        assert_eq!(json["detail_dropped"], true);
        assert!(json["detail"].is_null());
        assert_eq!(json["status_code"], 200);
        assert_eq!(json["outcome"], "up");
        assert_eq!(json["timings"]["ttfb_ms"], 30.25);
        assert_eq!(json["result_id"], e.result_id.to_string());
    }

    #[test]
    fn the_signature_changes_with_the_certificate_or_the_chain() {
        let base = signature(Some("ab"), &["http://a/", "https://a/", "https://a/", ""]);
        assert_eq!(
            base,
            signature(Some("ab"), &["http://a/", "https://a/", "https://a/", ""])
        );
        assert_ne!(
            base,
            signature(Some("ac"), &["http://a/", "https://a/", "https://a/", ""])
        );
        assert_ne!(base, signature(Some("ab"), &["https://a/", ""]));
    }

    #[test]
    fn peek_reads_exact_times_and_the_signature() {
        let json = r#"{"started_at":"2026-10-01T00:00:01.250Z","finished_at":"2026-10-01T00:00:01.500Z",
            "tls":{"fingerprint_sha256":"ab"},"hops":[{"url":"https://a/","timings":{}}],"other":1}"#;
        let p = peek(json);
        assert_eq!(p.started_ms, Some(1_790_812_801_250));
        assert_eq!(p.finished_ms, Some(1_790_812_801_500));
        assert_eq!(p.sig, signature(Some("ab"), &["https://a/", ""]));
    }
}
