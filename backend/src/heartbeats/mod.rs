//! Heartbeat targets: the monitored job pings PingTower, and silence is the alarm.
//!
//! - [`schedule`]: when the next ping is expected (a period, or cron in a time zone).
//! - [`Beat`] and [`Ping`]: where a heartbeat's schedule stands, and what one ping does to it
//!   ([`Beat::ping`]) — pure, so every rule is tested without a server.
//! - [`recorder`]: the ping endpoint's writer. Pings are applied to their heartbeats in
//!   batches, one transaction each, and only then does the result go to the broker: a ping that
//!   was answered 200 is in PostgreSQL, so no leader, old or new, can miss it.
//! - [`watch`]: the scheduler leader's deadline watch ([`Beat::due`]): a missed deadline or a
//!   late run becomes a down result. Its result id is derived from the deadline, so a leader
//!   that dies between publishing and storing the next deadline makes its successor publish
//!   the same result again, which the result ledger drops.
//!
//! Pings and deadlines become ordinary [`CheckResult`]s (region [`REGION`]): history, uptime,
//! incidents, reports and channels treat them like any other check's. A heartbeat opens an
//! incident on its first failure and resolves on its first success.

pub mod recorder;
pub mod schedule;
pub mod store;
pub mod watch;

use chrono::{DateTime, Utc};
use common::messages::{CheckKind, CheckResult, Failure, FailureKind, HeartbeatEvent, HeartbeatInfo, Outcome, Phase};
use rand::RngCore;
use uuid::Uuid;

pub use schedule::Schedule;

/// The region heartbeat results carry (and heartbeat targets are "checked" in).
pub const REGION: &str = "heartbeat";
/// The `pinger_id` of heartbeat results.
pub const PINGER_ID: &str = "heartbeat";
/// Pings kept per heartbeat: the oldest beyond this are pruned every [`PRUNE_EVERY`] pings.
pub const KEEP_PINGS: i64 = 100;
/// How often (in pings of one heartbeat) its old pings are pruned.
pub const PRUNE_EVERY: i64 = 50;

/// A new ping token: 128 random bits, hyphenated like a UUID (the shape of Healthchecks' ping
/// URLs, so scripts and tools that expect one accept it).
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    Uuid::from_bytes(bytes).hyphenated().to_string()
}

/// A new ping key for slug URLs: 128 random bits as 22 URL-safe characters.
pub fn new_ping_key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` has the shape of a ping token (36 characters, hyphenated lowercase hex).
pub fn is_token(s: &str) -> bool {
    s.len() == 36 && Uuid::try_parse(s).is_ok() && !s.bytes().any(|b| b.is_ascii_uppercase())
}

/// Whether `s` is a valid slug: lowercase letters, digits, `-` and `_`, 1–100 characters,
/// starting with a letter or digit.
pub fn is_slug(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    /// `/ping/{token}`, or exit status 0.
    Success,
    /// `/start`: a run began.
    Start,
    /// `/fail`.
    Fail,
    /// `/{status}` with a non-zero status (0 is [`Ping::Success`]).
    Exit(u8),
    /// `/log`: kept, no change of state.
    Log,
}

impl Ping {
    /// The ping of a URL's last segment after the token or slug (`None` for the segment: plain
    /// success); `None` for a segment that is none of `start`, `fail`, `log` or 0–255.
    pub fn parse(action: Option<&str>) -> Option<Self> {
        match action {
            None | Some("") => Some(Ping::Success),
            Some("start") => Some(Ping::Start),
            Some("fail") => Some(Ping::Fail),
            Some("log") => Some(Ping::Log),
            Some(n) if n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()) => match n.parse::<u8>() {
                Ok(0) => Some(Ping::Success),
                Ok(code) => Some(Ping::Exit(code)),
                Err(_) => None,
            },
            Some(_) => None,
        }
    }

    /// The event recorded for this ping.
    pub fn event(self) -> HeartbeatEvent {
        match self {
            Ping::Success => HeartbeatEvent::Success,
            Ping::Start => HeartbeatEvent::Start,
            Ping::Fail => HeartbeatEvent::Fail,
            Ping::Exit(_) => HeartbeatEvent::ExitStatus,
            Ping::Log => HeartbeatEvent::Log,
        }
    }

    /// The exit status it reports.
    pub fn exit_status(self) -> Option<u8> {
        match self {
            Ping::Exit(code) => Some(code),
            _ => None,
        }
    }
}

/// Where a heartbeat's schedule stands (a row of `heartbeats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Beat {
    /// The last ping of any kind but `log`.
    pub last_ping_at: Option<DateTime<Utc>>,
    /// The last success.
    pub last_success_at: Option<DateTime<Utc>>,
    /// An open run's start.
    pub started_at: Option<DateTime<Utc>>,
    /// The last finished run's duration.
    pub last_duration_ms: Option<i64>,
    /// The next expected ping (none before the first ping, and while paused).
    pub expected_at: Option<DateTime<Utc>>,
    /// When silence becomes a failure: the earlier of `expected_at` and `started_at`, each
    /// plus the grace time.
    pub alert_at: Option<DateTime<Utc>>,
}

/// What a ping or a deadline turned into: the facts of its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Up or down.
    pub outcome: Outcome,
    /// Why it is down.
    pub failure: Option<Failure>,
    /// The heartbeat facts.
    pub info: HeartbeatInfo,
}

/// A deadline that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The run started at this time did not finish within the grace time.
    Late(DateTime<Utc>),
    /// No ping came for the one expected at this time.
    Missed(DateTime<Utc>),
}

/// The furthest a deadline watch skips over missed slots at once (cron every minute, a week
/// without a leader: the rest is skipped in one step).
const MAX_SKIPPED_SLOTS: usize = 10_000;

fn millis(d: chrono::Duration) -> i64 {
    d.num_milliseconds().max(0)
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

impl Beat {
    /// Sets `alert_at` from `expected_at`, `started_at` and the grace time.
    fn rearm(&mut self, grace: chrono::Duration) {
        let by_schedule = self.expected_at.map(|e| e + grace);
        let by_run = self.started_at.map(|s| s + grace);
        self.alert_at = match (by_schedule, by_run) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Re-arms the deadlines after the target's schedule or pause changed: none while paused
    /// (a resumed heartbeat waits for its first ping again, as a new one does), else the next
    /// expected ping counted from the last one by the (possibly new) schedule.
    pub fn reschedule(&mut self, schedule: &Schedule, grace: chrono::Duration, paused: bool) {
        if paused {
            self.started_at = None;
            self.expected_at = None;
        } else if self.expected_at.is_some()
            && let Some(last) = self.last_ping_at
        {
            self.expected_at = schedule.next_after(last);
        }
        self.rearm(grace);
    }

    /// Applies a ping received at `now`; the verdict of its result, or `None` for a start or a
    /// log ping (no result of their own).
    pub fn ping(
        &mut self,
        schedule: &Schedule,
        grace: chrono::Duration,
        ping: Ping,
        now: DateTime<Utc>,
        body: Option<&str>,
    ) -> Option<Verdict> {
        match ping {
            Ping::Log => None,
            Ping::Start => {
                self.last_ping_at = Some(now);
                self.started_at = Some(now);
                self.rearm(grace);
                None
            }
            Ping::Success | Ping::Fail | Ping::Exit(_) => {
                let started_at = self.started_at.take().filter(|s| *s <= now);
                let duration = started_at.map(|s| millis(now - s));
                if duration.is_some() {
                    self.last_duration_ms = duration;
                }
                let last_success_at = self.last_success_at;
                self.last_ping_at = Some(now);
                if ping == Ping::Success {
                    self.last_success_at = Some(now);
                }
                self.expected_at = schedule.next_after(now);
                self.rearm(grace);
                let info = HeartbeatInfo {
                    event: ping.event(),
                    exit_status: ping.exit_status(),
                    expected_at: self.expected_at,
                    last_success_at,
                    started_at,
                    run_duration_ms: duration.map(|d| d as u64),
                    schedule: schedule.describe(),
                    timezone: schedule.timezone().map(str::to_owned),
                    body: body.map(str::to_owned),
                };
                let failure = match ping {
                    Ping::Success => None,
                    Ping::Exit(code) => Some(Failure {
                        kind: FailureKind::HeartbeatFailed,
                        phase: Phase::Schedule,
                        message: format!("the job reported exit status {code}"),
                    }),
                    _ => Some(Failure {
                        kind: FailureKind::HeartbeatFailed,
                        phase: Phase::Schedule,
                        message: "the job reported a failure".to_owned(),
                    }),
                };
                Some(Verdict {
                    outcome: if failure.is_some() { Outcome::Down } else { Outcome::Up },
                    failure,
                    info,
                })
            }
        }
    }

    /// The deadline that has passed at `now`, if one has.
    pub fn due(&self, grace: chrono::Duration, now: DateTime<Utc>) -> Option<Due> {
        if self.alert_at.is_none_or(|a| a > now) {
            return None;
        }
        if let Some(s) = self.started_at
            && s + grace <= now
        {
            return Some(Due::Late(s));
        }
        match self.expected_at {
            Some(e) if e + grace <= now => Some(Due::Missed(e)),
            _ => None,
        }
    }

    /// Records that `due` was reported at `now`, and arms the next deadline: a late run is
    /// forgotten; after a missed ping the next slot is expected, skipping the slots whose
    /// grace time has passed too (a leader that was away reports the silence once).
    pub fn passed(&mut self, schedule: &Schedule, grace: chrono::Duration, due: Due, now: DateTime<Utc>) -> Verdict {
        let last_success_at = self.last_success_at;
        let (event, failure, started_at, expected_at) = match due {
            Due::Late(started) => {
                self.started_at = None;
                let failure = Failure {
                    kind: FailureKind::HeartbeatLate,
                    phase: Phase::Schedule,
                    message: format!(
                        "the run started at {} did not finish within {} s",
                        when(started),
                        grace.num_seconds()
                    ),
                };
                (HeartbeatEvent::Late, failure, Some(started), self.expected_at)
            }
            Due::Missed(expected) => {
                let mut next = schedule.next_after(expected);
                for _ in 0..MAX_SKIPPED_SLOTS {
                    match next {
                        Some(n) if n + grace <= now => next = schedule.next_after(n),
                        _ => break,
                    }
                }
                if next.is_some_and(|n| n + grace <= now) {
                    next = schedule.next_after(now - grace);
                }
                self.expected_at = next;
                let since = match self.last_ping_at {
                    Some(t) => format!("no ping since {}", when(t)),
                    None => "no ping yet".to_owned(),
                };
                let failure = Failure {
                    kind: FailureKind::HeartbeatMissed,
                    phase: Phase::Schedule,
                    message: format!(
                        "{since}; one was expected at {} ({} s grace)",
                        when(expected),
                        grace.num_seconds()
                    ),
                };
                (HeartbeatEvent::Missed, failure, self.started_at, Some(expected))
            }
        };
        self.rearm(grace);
        Verdict {
            outcome: Outcome::Down,
            failure: Some(failure),
            info: HeartbeatInfo {
                event,
                exit_status: None,
                expected_at,
                last_success_at,
                started_at,
                run_duration_ms: self.last_duration_ms.map(|d| d.max(0) as u64),
                schedule: schedule.describe(),
                timezone: schedule.timezone().map(str::to_owned),
                body: None,
            },
        }
    }
}

/// The result id of a passed deadline: the same for every leader that reports it.
pub fn due_result_id(target_id: Uuid, due: Due) -> Uuid {
    let name = match due {
        Due::Late(t) => format!("late/{}", t.timestamp_millis()),
        Due::Missed(t) => format!("missed/{}", t.timestamp_millis()),
    };
    Uuid::new_v5(&target_id, name.as_bytes())
}

/// The [`CheckResult`] of a verdict for `target_id` at `at`: it starts and finishes at `at` (the
/// ping's arrival or the deadline's report, the moment incidents are dated by), and its
/// duration is the run's, when a start came before.
pub fn result(target_id: Uuid, result_id: Uuid, verdict: Verdict, at: DateTime<Utc>) -> CheckResult {
    CheckResult {
        result_id,
        job_id: result_id,
        target_id,
        region: REGION.to_owned(),
        pinger_id: PINGER_ID.to_owned(),
        check_kind: CheckKind::Heartbeat,
        started_at: at,
        finished_at: at,
        duration_ms: verdict
            .info
            .run_duration_ms
            .filter(|_| verdict.info.event != HeartbeatEvent::Missed)
            .map_or(0, |d| u32::try_from(d).unwrap_or(u32::MAX)),
        outcome: verdict.outcome,
        failure: verdict.failure,
        status_code: None,
        hops: Vec::new(),
        resolved_ip: None,
        tls: None,
        dns: None,
        icmp: None,
        heartbeat: Some(verdict.info),
        banner: None,
        body_excerpt: None,
        probe_degraded: false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use common::messages::HeartbeatSpec;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    fn every_minute() -> (Schedule, Duration) {
        (
            Schedule::of(&HeartbeatSpec::every(60, 30)).unwrap(),
            Duration::seconds(30),
        )
    }

    #[test]
    fn urls_last_segment_is_a_ping_kind() {
        assert_eq!(Ping::parse(None), Some(Ping::Success));
        assert_eq!(Ping::parse(Some("0")), Some(Ping::Success));
        assert_eq!(Ping::parse(Some("1")), Some(Ping::Exit(1)));
        assert_eq!(Ping::parse(Some("255")), Some(Ping::Exit(255)));
        assert_eq!(Ping::parse(Some("256")), None);
        assert_eq!(Ping::parse(Some("start")), Some(Ping::Start));
        assert_eq!(Ping::parse(Some("fail")), Some(Ping::Fail));
        assert_eq!(Ping::parse(Some("log")), Some(Ping::Log));
        assert_eq!(Ping::parse(Some("-1")), None);
        assert_eq!(Ping::parse(Some("stop")), None);
    }

    #[test]
    fn tokens_and_keys_are_random_and_well_formed() {
        let (a, b) = (new_token(), new_token());
        assert!(is_token(&a) && is_token(&b) && a != b);
        assert_eq!(new_ping_key().len(), 22);
        assert!(is_slug("nightly-backup_2") && !is_slug("-x") && !is_slug("Nightly") && !is_slug(""));
    }

    #[test]
    fn nothing_is_due_before_the_first_ping() {
        let (_, grace) = every_minute();
        assert_eq!(Beat::default().due(grace, t0() + Duration::days(9)), None);
    }

    #[test]
    fn a_success_arms_the_next_deadline_and_silence_misses_it_after_the_grace_time() {
        let (s, grace) = every_minute();
        let mut beat = Beat::default();
        let v = beat.ping(&s, grace, Ping::Success, t0(), None).unwrap();
        assert_eq!(v.outcome, Outcome::Up);
        assert_eq!(beat.expected_at, Some(t0() + Duration::seconds(60)));
        assert_eq!(beat.alert_at, Some(t0() + Duration::seconds(90)));
        assert_eq!(beat.due(grace, t0() + Duration::seconds(89)), None);
        let due = beat.due(grace, t0() + Duration::seconds(90)).unwrap();
        assert_eq!(due, Due::Missed(t0() + Duration::seconds(60)));
        let v = beat.passed(&s, grace, due, t0() + Duration::seconds(91));
        assert_eq!(v.outcome, Outcome::Down);
        assert_eq!(v.failure.unwrap().kind, FailureKind::HeartbeatMissed);
        // The next slot, once.
        assert_eq!(beat.expected_at, Some(t0() + Duration::seconds(120)));
        assert_eq!(beat.due(grace, t0() + Duration::seconds(91)), None);
    }

    #[test]
    fn a_returning_leader_reports_a_long_silence_once() {
        let (s, grace) = every_minute();
        let mut beat = Beat::default();
        beat.ping(&s, grace, Ping::Success, t0(), None);
        let now = t0() + Duration::hours(5);
        let due = beat.due(grace, now).unwrap();
        beat.passed(&s, grace, due, now);
        assert_eq!(beat.due(grace, now), None);
        assert!(beat.expected_at.unwrap() + grace > now);
    }

    #[test]
    fn a_start_without_a_finish_is_late_after_the_grace_time_and_a_finish_has_a_duration() {
        let (s, grace) = every_minute();
        let mut beat = Beat::default();
        beat.ping(&s, grace, Ping::Success, t0(), None);
        let start = t0() + Duration::seconds(50);
        assert_eq!(beat.ping(&s, grace, Ping::Start, start, None), None);
        assert_eq!(beat.alert_at, Some(start + grace));
        assert_eq!(beat.due(grace, start + grace), Some(Due::Late(start)));
        let v = beat.passed(&s, grace, Due::Late(start), start + grace);
        assert_eq!(v.failure.unwrap().kind, FailureKind::HeartbeatLate);
        assert_eq!(beat.started_at, None);

        let start = t0() + Duration::seconds(200);
        beat.ping(&s, grace, Ping::Start, start, None);
        let v = beat
            .ping(&s, grace, Ping::Success, start + Duration::seconds(14), Some("done"))
            .unwrap();
        assert_eq!(v.info.run_duration_ms, Some(14_000));
        assert_eq!(v.info.body.as_deref(), Some("done"));
        assert_eq!(beat.last_duration_ms, Some(14_000));
    }

    #[test]
    fn fail_and_a_non_zero_exit_status_are_failures_and_log_changes_nothing() {
        let (s, grace) = every_minute();
        let mut beat = Beat::default();
        let v = beat.ping(&s, grace, Ping::Fail, t0(), None).unwrap();
        assert_eq!(
            (v.outcome, v.failure.unwrap().kind),
            (Outcome::Down, FailureKind::HeartbeatFailed)
        );
        let v = beat.ping(&s, grace, Ping::Exit(1), t0(), None).unwrap();
        assert_eq!(v.info.exit_status, Some(1));
        assert_eq!(v.outcome, Outcome::Down);
        let before = beat.clone();
        assert_eq!(
            beat.ping(&s, grace, Ping::Log, t0() + Duration::seconds(5), Some("x")),
            None
        );
        assert_eq!(beat, before);
    }

    #[test]
    fn deadline_results_have_one_id_per_deadline() {
        let id = Uuid::now_v7();
        let d = Due::Missed(t0());
        assert_eq!(due_result_id(id, d), due_result_id(id, d));
        assert_ne!(due_result_id(id, d), due_result_id(id, Due::Late(t0())));
    }
}
