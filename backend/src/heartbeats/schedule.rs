//! When a heartbeat's next ping is expected: a period after the last one, or the cron
//! expression's next slot after it, read in the heartbeat's time zone.
//!
//! Cron expressions have five fields (minute to weekday) and are parsed by `croner`, which
//! follows Vixie cron across daylight saving changes: a slot in the hour that the spring change
//! skips falls at the first minute after the change; a slot in the hour that the autumn change
//! repeats falls once, at its first occurrence.

use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use common::messages::{HeartbeatSpec, heartbeat_bounds};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A heartbeat's schedule, parsed.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A ping is expected this long after the last one.
    Period(chrono::Duration),
    /// A ping is expected at the expression's first slot after the last one.
    Cron {
        /// The expression.
        cron: Box<Cron>,
        /// The time zone it is read in.
        tz: Tz,
    },
}

/// Why a schedule is refused: the field at fault (under `spec`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `period_seconds`, `cron`, `timezone` or `grace_seconds`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// Parses a five-field cron expression.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
    parser.parse(expression).map_err(|e| e.to_string())
}

impl Schedule {
    /// The schedule of `spec`, or the field that makes it invalid (the grace time included).
    pub fn of(spec: &HeartbeatSpec) -> Result<Self, Invalid> {
        if !heartbeat_bounds::GRACE_SECONDS.contains(&spec.grace_seconds) {
            return Err(invalid(
                "grace_seconds",
                format!(
                    "must be between {} and {} seconds",
                    heartbeat_bounds::GRACE_SECONDS.start(),
                    heartbeat_bounds::GRACE_SECONDS.end()
                ),
            ));
        }
        if let Some(tz) = &spec.timezone
            && tz.len() > heartbeat_bounds::TIMEZONE_LEN
        {
            return Err(invalid(
                "timezone",
                format!("at most {} bytes", heartbeat_bounds::TIMEZONE_LEN),
            ));
        }
        match (spec.period_seconds, &spec.cron) {
            (Some(_), Some(_)) => Err(invalid("cron", "give period_seconds or cron, not both")),
            (None, None) => Err(invalid("period_seconds", "give period_seconds or cron")),
            (Some(p), None) => {
                if !heartbeat_bounds::PERIOD_SECONDS.contains(&p) {
                    return Err(invalid(
                        "period_seconds",
                        format!(
                            "must be between {} and {} seconds",
                            heartbeat_bounds::PERIOD_SECONDS.start(),
                            heartbeat_bounds::PERIOD_SECONDS.end()
                        ),
                    ));
                }
                if spec.timezone.is_some() {
                    return Err(invalid("timezone", "a time zone applies to a cron schedule only"));
                }
                Ok(Schedule::Period(chrono::Duration::seconds(i64::from(p))))
            }
            (None, Some(expression)) => {
                if expression.len() > heartbeat_bounds::CRON_LEN {
                    return Err(invalid("cron", format!("at most {} bytes", heartbeat_bounds::CRON_LEN)));
                }
                if expression.split_whitespace().count() != 5 {
                    return Err(invalid(
                        "cron",
                        "five fields are expected: minute, hour, day of month, month, day of week",
                    ));
                }
                let cron =
                    parse_cron(expression).map_err(|e| invalid("cron", format!("not a valid cron expression: {e}")))?;
                let tz = Tz::from_str(spec.timezone())
                    .map_err(|_| invalid("timezone", format!("unknown time zone {:?}", spec.timezone())))?;
                let schedule = Schedule::Cron {
                    cron: Box::new(cron),
                    tz,
                };
                // An expression that never matches (30 February) has no deadline to watch.
                if schedule.next_after(Utc::now()).is_none() {
                    return Err(invalid("cron", "the expression never matches"));
                }
                Ok(schedule)
            }
        }
    }

    /// The first expected time strictly after `t` (none: a cron expression with no slot
    /// within the search's reach).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Period(p) => Some(t + *p),
            // croner keeps the start's fraction of a second; slots are on whole minutes.
            Schedule::Cron { cron, tz } => cron
                .find_next_occurrence(&t.trunc_subsecs(0).with_timezone(tz), false)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
        }
    }

    /// The schedule for people: `every 3600 s` or `0 2 * * * (Europe/Moscow)`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Period(p) => format!("every {} s", p.num_seconds()),
            Schedule::Cron { cron, tz } => format!("{} ({})", cron.pattern.as_str(), tz.name()),
        }
    }

    /// The time zone of a cron schedule.
    pub fn timezone(&self) -> Option<&'static str> {
        match self {
            Schedule::Period(_) => None,
            Schedule::Cron { tz, .. } => Some(tz.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Duration, LocalResult, NaiveDate, TimeZone};

    use super::*;

    fn cron(expression: &str, tz: &str) -> Schedule {
        Schedule::of(&HeartbeatSpec::cron(expression, tz, 900)).expect("valid")
    }

    /// `02:00` local on `day` computed by chrono-tz alone: the earlier instant when the hour
    /// repeats, the first minute after the change when it is skipped.
    fn two_am(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
        let naive = day.and_hms_opt(2, 0, 0).unwrap();
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(early, _) => early.with_timezone(&Utc),
            LocalResult::None => {
                let mut m = naive;
                loop {
                    m += Duration::minutes(1);
                    if let LocalResult::Single(t) = tz.from_local_datetime(&m) {
                        return t.with_timezone(&Utc);
                    }
                }
            }
        }
    }

    /// Pings a few minutes after every slot of a year, and checks that each next deadline is
    /// exactly the next day's 02:00 in `tz`.
    fn daily_deadlines_are_exact(tz_name: &str, year: i32) -> usize {
        let tz = Tz::from_str(tz_name).unwrap();
        let schedule = cron("0 2 * * *", tz_name);
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let mut checked = 0;
        while day.year() == year {
            let slot = two_am(tz, day);
            let next = two_am(tz, day.succ_opt().unwrap());
            // A run that reports 14 minutes after its slot, and one that reports just before it.
            assert_eq!(
                schedule.next_after(slot + Duration::minutes(14)),
                Some(next),
                "{tz_name} {day}"
            );
            assert_eq!(
                schedule.next_after(slot - Duration::seconds(1)),
                Some(slot),
                "{tz_name} {day}"
            );
            checked += 1;
            day = day.succ_opt().unwrap();
        }
        checked
    }

    #[test]
    fn a_cron_slot_is_on_the_whole_minute_whatever_the_pings_fraction_of_a_second() {
        let s = cron("0 2 * * *", "UTC");
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap() + Duration::milliseconds(921);
        assert_eq!(
            s.next_after(t),
            Some(Utc.with_ymd_and_hms(2026, 7, 2, 2, 0, 0).unwrap())
        );
        let at_slot = Utc.with_ymd_and_hms(2026, 7, 2, 2, 0, 0).unwrap() + Duration::milliseconds(500);
        assert_eq!(
            s.next_after(at_slot),
            Some(Utc.with_ymd_and_hms(2026, 7, 3, 2, 0, 0).unwrap())
        );
    }

    #[test]
    fn a_period_is_counted_from_the_last_ping() {
        let s = Schedule::of(&HeartbeatSpec::every(60, 30)).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(s.next_after(t), Some(t + Duration::seconds(60)));
        assert_eq!(s.describe(), "every 60 s");
    }

    #[test]
    fn cron_in_moscow_across_a_year_without_daylight_saving_is_exact() {
        assert_eq!(daily_deadlines_are_exact("Europe/Moscow", 2026), 365);
        // And it is 23:00 UTC the day before, every day.
        let s = cron("0 2 * * *", "Europe/Moscow");
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(
            s.next_after(t),
            Some(Utc.with_ymd_and_hms(2026, 7, 1, 23, 0, 0).unwrap())
        );
    }

    #[test]
    fn cron_in_berlin_across_both_daylight_saving_changes_is_exact() {
        assert_eq!(daily_deadlines_are_exact("Europe/Berlin", 2026), 365);
        let s = cron("0 2 * * *", "Europe/Berlin");
        // Spring (29 March 2026): 02:00 does not exist; the slot is 03:00 CEST, 01:00 UTC.
        let before = Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap();
        assert_eq!(
            s.next_after(before),
            Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap())
        );
        // Autumn (25 October 2026): 02:00 happens twice; the slot is the first, 00:00 UTC, and
        // a ping during the repeated hour expects the next day's 02:00 CET (01:00 UTC).
        let before = Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap();
        assert_eq!(
            s.next_after(before),
            Some(Utc.with_ymd_and_hms(2026, 10, 25, 0, 0, 0).unwrap())
        );
        let repeated = Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap();
        assert_eq!(
            s.next_after(repeated),
            Some(Utc.with_ymd_and_hms(2026, 10, 26, 1, 0, 0).unwrap())
        );
    }

    #[test]
    fn invalid_schedules_name_their_field() {
        let field = |spec: HeartbeatSpec| Schedule::of(&spec).unwrap_err().field;
        assert_eq!(field(HeartbeatSpec::every(5, 30)), "period_seconds");
        assert_eq!(field(HeartbeatSpec::every(60, 0)), "grace_seconds");
        assert_eq!(field(HeartbeatSpec::cron("0 2 * *", "UTC", 60)), "cron");
        assert_eq!(field(HeartbeatSpec::cron("0 25 * * *", "UTC", 60)), "cron");
        assert_eq!(field(HeartbeatSpec::cron("0 0 30 2 *", "UTC", 60)), "cron");
        assert_eq!(field(HeartbeatSpec::cron("0 2 * * *", "Mars/Olympus", 60)), "timezone");
        let both = HeartbeatSpec {
            period_seconds: Some(60),
            ..HeartbeatSpec::cron("0 2 * * *", "UTC", 60)
        };
        assert_eq!(field(both), "cron");
        let neither = HeartbeatSpec {
            period_seconds: None,
            cron: None,
            timezone: None,
            grace_seconds: 60,
            slug: None,
        };
        assert_eq!(field(neither), "period_seconds");
        assert_eq!(cron("*/5 * * * *", "UTC").describe(), "*/5 * * * * (UTC)");
    }
}
