//! Routing rules of one channel: which events it takes, from which severity, for which tags,
//! and its quiet hours (in the channel's time zone). Quiet hours hold everything except
//! "down": held messages go out when the quiet hours end.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::{Event, FieldError, Severity};

/// Permanent failures in a row after which a channel is disabled.
pub const DISABLE_AFTER: i32 = 3;
/// Tags per list.
const MAX_TAGS: usize = 50;
/// A tag's length.
const MAX_TAG: usize = 64;

/// The events a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoutedEvent {
    /// An incident opened.
    Opened,
    /// It resolved.
    Resolved,
    /// Its report.
    Report,
    /// A certificate expires soon.
    Certificate,
    /// A target flaps.
    Flapping,
    /// Still open and unacknowledged.
    Reminder,
}

/// Quiet hours: from `start` to `end` (local times; `end` before `start` spans midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`.
    pub end: String,
    /// An IANA time zone (`Europe/Moscow`); UTC when absent.
    #[serde(default = "utc")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// A channel's routing rules. The default takes everything, always.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// The events it takes (all when absent).
    #[serde(default = "all_events")]
    pub events: Vec<RoutedEvent>,
    /// The least severity it takes: `info` (everything), `warning` (degraded, certificates,
    /// flapping, down) or `critical` (down only). Resolutions and reports follow the alert
    /// they answer.
    #[serde(default = "info")]
    pub min_severity: Severity,
    /// Only targets with one of these tags (any target when empty).
    #[serde(default)]
    pub tags_include: Vec<String>,
    /// Never targets with one of these tags.
    #[serde(default)]
    pub tags_exclude: Vec<String>,
    /// Hold everything but "down" during these hours.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

fn all_events() -> Vec<RoutedEvent> {
    vec![
        RoutedEvent::Opened,
        RoutedEvent::Resolved,
        RoutedEvent::Report,
        RoutedEvent::Certificate,
        RoutedEvent::Flapping,
        RoutedEvent::Reminder,
    ]
}

fn info() -> Severity {
    Severity::Info
}

impl Default for Routing {
    fn default() -> Self {
        Self {
            events: all_events(),
            min_severity: Severity::Info,
            tags_include: Vec::new(),
            tags_exclude: Vec::new(),
            quiet_hours: None,
        }
    }
}

/// What a rule says of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send it now.
    Send,
    /// Send it when the quiet hours end.
    Hold {
        /// When they end.
        until: DateTime<Utc>,
    },
    /// This channel does not take it.
    Skip,
}

fn parse_time(field: &str, value: &str) -> Result<NaiveTime, FieldError> {
    NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| FieldError::new(field, "must be a time as HH:MM"))
}

impl Routing {
    /// The rules stored as `value` (`{}` and null are the default); unreadable rules are the
    /// default too (they were validated when written).
    pub fn from_stored(value: &serde_json::Value) -> Self {
        if value.is_null() {
            return Self::default();
        }
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    /// Checks the rules: tag counts and lengths, times, the time zone.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (name, tags) in [
            ("routing.tags_include", &self.tags_include),
            ("routing.tags_exclude", &self.tags_exclude),
        ] {
            if tags.len() > MAX_TAGS {
                return Err(FieldError::new(name, format!("at most {MAX_TAGS} tags")));
            }
            if tags.iter().any(|t| t.is_empty() || t.chars().count() > MAX_TAG) {
                return Err(FieldError::new(name, format!("tags are 1–{MAX_TAG} characters")));
            }
        }
        if let Some(q) = &self.quiet_hours {
            let (start, end) = (
                parse_time("routing.quiet_hours.start", &q.start)?,
                parse_time("routing.quiet_hours.end", &q.end)?,
            );
            if start == end {
                return Err(FieldError::new("routing.quiet_hours.end", "must differ from start"));
            }
            q.timezone
                .parse::<chrono_tz::Tz>()
                .map_err(|_| FieldError::new("routing.quiet_hours.timezone", "is not an IANA time zone"))?;
        }
        Ok(())
    }

    /// What to do with a message of `event` at `severity` for a target with `tags` at `now`.
    /// `opened_severity` is the severity of the alert a resolution or report answers.
    pub fn verdict(&self, event: Event, severity: Severity, tags: &[String], now: DateTime<Utc>) -> Verdict {
        let routed = match event {
            Event::Opened | Event::Digest => Some(RoutedEvent::Opened),
            Event::Resolved => Some(RoutedEvent::Resolved),
            Event::Report => Some(RoutedEvent::Report),
            Event::Certificate => Some(RoutedEvent::Certificate),
            Event::Flapping => Some(RoutedEvent::Flapping),
            Event::Reminder => Some(RoutedEvent::Reminder),
            // Tests and pinger alarms are not routed.
            Event::Test | Event::Probe => None,
        };
        let Some(routed) = routed else { return Verdict::Send };
        if event == Event::Digest && self.events.contains(&RoutedEvent::Resolved) {
            // A digest of resolutions is taken by a channel taking resolutions.
        } else if !self.events.contains(&routed) {
            return Verdict::Skip;
        }
        // Resolutions and reports follow the alert they answer, whatever their own severity.
        if severity < self.min_severity && !matches!(event, Event::Resolved | Event::Report) {
            return Verdict::Skip;
        }
        if !self.tags_include.is_empty() && !tags.iter().any(|t| self.tags_include.contains(t)) {
            return Verdict::Skip;
        }
        if tags.iter().any(|t| self.tags_exclude.contains(t)) {
            return Verdict::Skip;
        }
        let down = matches!(event, Event::Opened | Event::Digest | Event::Reminder) && severity == Severity::Critical;
        match self.quiet_until(now) {
            Some(until) if !down => Verdict::Hold { until },
            _ => Verdict::Send,
        }
    }

    /// When the quiet hours around `now` end, if `now` is in them.
    pub fn quiet_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let q = self.quiet_hours.as_ref()?;
        let (start, end) = (
            NaiveTime::parse_from_str(&q.start, "%H:%M").ok()?,
            NaiveTime::parse_from_str(&q.end, "%H:%M").ok()?,
        );
        let tz: chrono_tz::Tz = q.timezone.parse().ok()?;
        let local = now.with_timezone(&tz);
        let t = local.time();
        let inside = if start < end {
            t >= start && t < end
        } else {
            t >= start || t < end
        };
        if !inside {
            return None;
        }
        let mut day = local.date_naive();
        if t >= end {
            day = day.succ_opt()?;
        }
        // The first valid local instant at `end` (a DST gap moves it on by an hour).
        let naive = day.and_time(end);
        let end_at = tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())?;
        Some(end_at.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn quiet(start: &str, end: &str, tz: &str) -> Routing {
        Routing {
            quiet_hours: Some(QuietHours {
                start: start.into(),
                end: end.into(),
                timezone: tz.into(),
            }),
            ..Routing::default()
        }
    }

    #[test]
    fn the_default_takes_everything_at_once() {
        let r = Routing::from_stored(&serde_json::json!({}));
        for e in [
            Event::Opened,
            Event::Resolved,
            Event::Report,
            Event::Certificate,
            Event::Flapping,
            Event::Reminder,
        ] {
            assert_eq!(
                r.verdict(e, Severity::Info, &[], at("2026-12-05T03:00:00Z")),
                Verdict::Send
            );
        }
    }

    #[test]
    fn events_severity_and_tags_filter() {
        let r = Routing {
            events: vec![RoutedEvent::Opened],
            min_severity: Severity::Critical,
            tags_include: vec!["prod".into()],
            tags_exclude: vec!["noisy".into()],
            quiet_hours: None,
        };
        let now = at("2026-12-05T12:00:00Z");
        let prod = ["prod".to_owned()];
        assert_eq!(r.verdict(Event::Opened, Severity::Critical, &prod, now), Verdict::Send);
        assert_eq!(r.verdict(Event::Opened, Severity::Warning, &prod, now), Verdict::Skip);
        assert_eq!(
            r.verdict(Event::Resolved, Severity::Critical, &prod, now),
            Verdict::Skip
        );
        let all = Routing {
            min_severity: Severity::Critical,
            ..Routing::default()
        };
        assert_eq!(all.verdict(Event::Resolved, Severity::Info, &[], now), Verdict::Send);
        assert_eq!(
            all.verdict(Event::Certificate, Severity::Warning, &[], now),
            Verdict::Skip
        );
        assert_eq!(
            r.verdict(Event::Opened, Severity::Critical, &["dev".into()], now),
            Verdict::Skip
        );
        assert_eq!(
            r.verdict(Event::Opened, Severity::Critical, &["prod".into(), "noisy".into()], now),
            Verdict::Skip
        );
        assert_eq!(r.verdict(Event::Test, Severity::Info, &[], now), Verdict::Send);
    }

    #[test]
    fn quiet_hours_hold_all_but_down_until_they_end_in_the_channels_time_zone() {
        // 22:00–07:00 Moscow (UTC+3): 23:30 UTC is 02:30 there.
        let r = quiet("22:00", "07:00", "Europe/Moscow");
        let now = at("2026-12-05T23:30:00Z");
        assert_eq!(
            r.verdict(Event::Resolved, Severity::Info, &[], now),
            Verdict::Hold {
                until: at("2026-12-06T04:00:00Z")
            }
        );
        assert_eq!(r.verdict(Event::Opened, Severity::Critical, &[], now), Verdict::Send);
        assert!(matches!(
            r.verdict(Event::Opened, Severity::Warning, &[], now),
            Verdict::Hold { .. }
        ));
        // 19:30 UTC is 22:30 in Moscow: held until 07:00 the next morning.
        assert_eq!(
            r.quiet_until(at("2026-12-05T19:30:00Z")),
            Some(at("2026-12-06T04:00:00Z"))
        );
        // 12:00 UTC is 15:00: not quiet.
        assert_eq!(
            r.verdict(Event::Resolved, Severity::Info, &[], at("2026-12-05T12:00:00Z")),
            Verdict::Send
        );
        // Within one day.
        let day = quiet("09:00", "17:00", "UTC");
        assert_eq!(
            day.quiet_until(at("2026-12-05T10:00:00Z")),
            Some(at("2026-12-05T17:00:00Z"))
        );
        assert_eq!(day.quiet_until(at("2026-12-05T17:00:00Z")), None);
    }

    #[test]
    fn bad_rules_name_their_field() {
        assert_eq!(
            quiet("25:00", "07:00", "UTC").validate().unwrap_err().field,
            "routing.quiet_hours.start"
        );
        assert_eq!(
            quiet("22:00", "07:00", "Mars/Base").validate().unwrap_err().field,
            "routing.quiet_hours.timezone"
        );
        assert_eq!(
            quiet("22:00", "22:00", "UTC").validate().unwrap_err().field,
            "routing.quiet_hours.end"
        );
        let many = Routing {
            tags_include: (0..51).map(|i| i.to_string()).collect(),
            ..Routing::default()
        };
        assert_eq!(many.validate().unwrap_err().field, "routing.tags_include");
        assert!(serde_json::from_value::<Routing>(serde_json::json!({"colour": 1})).is_err());
    }
}
