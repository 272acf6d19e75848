//! One row of ClickHouse's `check_results`, made from a [`CheckResult`].
//!
//! The flat columns are what queries filter and aggregate on; `detail` keeps the whole
//! result as JSON. Phase timings are sums over the redirect hops, absent values are `0` or
//! `''` (ClickHouse columns are not nullable, PostgreSQL's archive turns them back into NULL).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::messages::{CheckResult, Outcome};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The earliest `started_at` accepted (anything older is a broken clock, not a result).
const EARLIEST: i64 = 946_684_800; // 2000-01-01T00:00:00Z
/// The first instant not accepted (ClickHouse's `DateTime` ends in 2106).
const LATEST: i64 = 4_102_444_800; // 2100-01-01T00:00:00Z

/// A row of `check_results` (every column but `inserted_at`, in table order).
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Serialize, Deserialize)]
pub struct ResultRow {
    /// The result's id; duplicates collapse on it.
    #[serde(with = "clickhouse::serde::uuid")]
    pub result_id: Uuid,
    /// The job it answers.
    #[serde(with = "clickhouse::serde::uuid")]
    pub job_id: Uuid,
    /// The target checked.
    #[serde(with = "clickhouse::serde::uuid")]
    pub target_id: Uuid,
    /// Pinger region.
    pub region: String,
    /// Pinger id.
    pub pinger_id: String,
    /// `http`, `tcp`, `dns` or `tls`.
    pub check_kind: String,
    /// `started_at`, in seconds since the epoch (`DateTime`).
    pub checked_at: u32,
    /// `finished_at`, in seconds since the epoch.
    pub finished_at: u32,
    /// Total duration.
    pub duration_ms: u32,
    /// `Enum8('up' = 1, 'degraded' = 2, 'down' = 3)`.
    pub outcome: i8,
    /// Failure kind code, `''` when none.
    pub failure_kind: String,
    /// Failure phase, `''` when none.
    pub failure_phase: String,
    /// Failure message, `''` when none.
    pub failure_message: String,
    /// Final HTTP status, `0` when none.
    pub status_code: u16,
    /// Sum over hops of the DNS phase.
    pub dns_ms: f32,
    /// Sum over hops of the connect phase.
    pub connect_ms: f32,
    /// Sum over hops of the TLS phase.
    pub tls_ms: f32,
    /// Sum over hops of the time to first byte.
    pub ttfb_ms: f32,
    /// Sum over hops of the body transfer.
    pub transfer_ms: f32,
    /// Address connected to, `''` when none.
    pub resolved_ip: String,
    /// Days until the certificate expires.
    pub tls_days_left: Option<i32>,
    /// The pinger's own connectivity was degraded (0/1).
    pub probe_degraded: u8,
    /// The whole result as JSON.
    pub detail: String,
}

/// Why a result cannot become a row (the message is poison: dead-lettered).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RowError {
    /// `started_at` is outside 2000–2100.
    #[error("started_at {0} is out of range")]
    OutOfRange(DateTime<Utc>),
}

impl ResultRow {
    /// The row of `result`.
    pub fn from_result(result: &CheckResult) -> Result<Self, RowError> {
        let checked_at = epoch_seconds(result.started_at)?;
        let finished_at = epoch_seconds(result.finished_at).unwrap_or(checked_at);
        let mut timings = [0f64; 5];
        for hop in &result.hops {
            let t = &hop.timings;
            for (sum, v) in timings
                .iter_mut()
                .zip([t.dns_ms, t.connect_ms, t.tls_ms, t.ttfb_ms, t.transfer_ms])
            {
                *sum += v.filter(|v| v.is_finite()).unwrap_or(0.0);
            }
        }
        let (failure_kind, failure_phase, failure_message) = match &result.failure {
            Some(f) => (
                f.kind.as_str().to_owned(),
                serde_json::to_value(f.phase)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                clean(&f.message),
            ),
            None => Default::default(),
        };
        Ok(Self {
            result_id: result.result_id,
            job_id: result.job_id,
            target_id: result.target_id,
            region: clean(&result.region),
            pinger_id: clean(&result.pinger_id),
            check_kind: result.check_kind.as_str().to_owned(),
            checked_at,
            finished_at,
            duration_ms: result.duration_ms,
            outcome: outcome_code(result.outcome),
            failure_kind,
            failure_phase,
            failure_message,
            status_code: result.status_code.unwrap_or(0),
            dns_ms: timings[0] as f32,
            connect_ms: timings[1] as f32,
            tls_ms: timings[2] as f32,
            ttfb_ms: timings[3] as f32,
            transfer_ms: timings[4] as f32,
            resolved_ip: result.resolved_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            tls_days_left: result
                .tls
                .as_ref()
                .map(|t| t.days_left.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
            probe_degraded: u8::from(result.probe_degraded),
            detail: detail_json(result),
        })
    }

    /// The UTC day the row belongs to (its ClickHouse partition; the server runs in UTC).
    pub fn day(&self) -> NaiveDate {
        day_of(self.checked_at)
    }

    /// `checked_at` as an instant.
    pub fn checked_at_utc(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(i64::from(self.checked_at), 0)
            .single()
            .unwrap_or_default()
    }

    /// `finished_at` as an instant.
    pub fn finished_at_utc(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(i64::from(self.finished_at), 0)
            .single()
            .unwrap_or_default()
    }

    /// The outcome's name.
    pub fn outcome_str(&self) -> &'static str {
        match self.outcome {
            2 => "degraded",
            3 => "down",
            _ => "up",
        }
    }
}

/// The UTC day of an epoch second.
pub fn day_of(epoch_seconds: u32) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(i64::from(epoch_seconds), 0)
        .unwrap_or_default()
        .date_naive()
}

/// The `Enum8` code of an outcome.
pub fn outcome_code(outcome: Outcome) -> i8 {
    match outcome {
        Outcome::Up => 1,
        Outcome::Degraded => 2,
        Outcome::Down => 3,
    }
}

fn epoch_seconds(at: DateTime<Utc>) -> Result<u32, RowError> {
    let s = at.timestamp();
    if (EARLIEST..LATEST).contains(&s) {
        Ok(s as u32)
    } else {
        Err(RowError::OutOfRange(at))
    }
}

/// Text without NUL characters, which PostgreSQL's `text` refuses.
fn clean(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "")
    } else {
        s.to_owned()
    }
}

/// The result as JSON, without `\u0000` escapes (PostgreSQL's `jsonb` refuses them).
fn detail_json(result: &CheckResult) -> String {
    let json = serde_json::to_string(result).unwrap_or_else(|_| "{}".to_owned());
    if !json.contains("\\u0000") {
        return json;
    }
    let mut value = serde_json::to_value(result).unwrap_or_default();
    strip_nuls(&mut value);
    value.to_string()
}

fn strip_nuls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = clean(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nuls),
        serde_json::Value::Object(map) => {
            let entries: Vec<(String, serde_json::Value)> = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    strip_nuls(&mut v);
                    (clean(&k), v)
                })
                .collect();
            map.extend(entries);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use common::samples;

    use super::*;

    #[test]
    fn a_result_maps_to_flat_columns_with_phase_sums_over_hops() {
        // Arrange
        let result = samples::check_result();

        // Act
        let row = ResultRow::from_result(&result).unwrap();

        // Assert
        assert_eq!(row.result_id, result.result_id);
        assert_eq!(i64::from(row.checked_at), result.started_at.timestamp());
        assert_eq!(row.outcome, 3);
        assert_eq!(row.outcome_str(), "down");
        assert_eq!(row.failure_kind, "http_status");
        assert_eq!(row.failure_phase, "validation");
        assert_eq!(row.status_code, 503);
        assert_eq!(row.dns_ms, 12.6);
        assert_eq!(row.connect_ms, 41.0);
        assert_eq!(row.tls_ms, 45.0);
        assert_eq!(row.ttfb_ms, 690.0);
        assert_eq!(row.transfer_ms, 3.5);
        assert_eq!(row.resolved_ip, "93.184.216.34");
        assert_eq!(row.tls_days_left, Some(30));
        assert_eq!(row.probe_degraded, 0);
        let detail: CheckResult = serde_json::from_str(&row.detail).unwrap();
        assert_eq!(detail, result);
    }

    #[test]
    fn absent_values_become_zero_or_empty() {
        let mut result = samples::check_result();
        result.failure = None;
        result.status_code = None;
        result.hops.clear();
        result.resolved_ip = None;
        result.tls = None;
        result.outcome = Outcome::Up;

        let row = ResultRow::from_result(&result).unwrap();

        assert_eq!((row.failure_kind.as_str(), row.failure_phase.as_str()), ("", ""));
        assert_eq!(row.failure_message, "");
        assert_eq!(row.status_code, 0);
        assert_eq!(
            row.dns_ms + row.connect_ms + row.tls_ms + row.ttfb_ms + row.transfer_ms,
            0.0
        );
        assert_eq!(row.resolved_ip, "");
        assert_eq!(row.tls_days_left, None);
        assert_eq!(row.outcome, 1);
    }

    #[test]
    fn nul_characters_are_removed_from_text_and_detail() {
        let mut result = samples::check_result();
        result.body_excerpt = Some("a\0b".into());
        result.failure.as_mut().unwrap().message = "x\0y".into();

        let row = ResultRow::from_result(&result).unwrap();

        assert_eq!(row.failure_message, "xy");
        assert!(!row.detail.contains("\\u0000"), "{}", row.detail);
        assert!(row.detail.contains("\"ab\""));
    }

    #[test]
    fn a_start_outside_2000_to_2100_is_refused() {
        let mut result = samples::check_result();
        result.started_at = Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap();

        assert!(matches!(ResultRow::from_result(&result), Err(RowError::OutOfRange(_))));
    }

    #[test]
    fn the_day_is_the_utc_day_of_the_start() {
        let mut result = samples::check_result();
        result.started_at = Utc.with_ymd_and_hms(2026, 10, 1, 23, 59, 59).unwrap();

        let row = ResultRow::from_result(&result).unwrap();

        assert_eq!(row.day(), NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
    }
}
