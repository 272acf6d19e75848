//! The incident state machine: pure, no I/O and no clock (time is the results' own).
//!
//! Per target and region: up → pending (first failure) → down after K consecutive failures;
//! down → up after M consecutive successes. A degraded result (slow, certificate expiring)
//! counts as a success for up/down and only colours the status. The target is down when a
//! quorum of its configured regions is down; then an incident opens. Results taken while the
//! probe was degraded never count. More than N changes of the target's health within a
//! window make it *flapping*: one `flapping` effect, and opens/resolves are held until no
//! change happened for a whole window. A maintenance window suppresses opening.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use common::messages::{Outcome, TargetStatus};
use serde::{Deserialize, Serialize};

/// How a target's results turn into incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// Consecutive failures in a region before it is down (K, ≥ 1).
    pub failures: u32,
    /// Consecutive successes in a down region before it is up again (M, ≥ 1).
    pub successes: u32,
    /// Health changes within `flap_window` above which the target is flapping (N).
    pub flap_transitions: usize,
    /// The flapping window; also how long a flapping target must be stable to calm down.
    pub flap_window: Duration,
    /// How many of the target's regions must be down for the target to be down.
    pub quorum: Quorum,
}

/// How many of a target's regions must see it down before it is down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Quorum {
    /// More than half (the default: one region's network trouble is not an outage).
    #[default]
    Majority,
    /// Every region.
    All,
    /// Any one region.
    Any,
    /// At least this many (at most all, at least one).
    AtLeast(usize),
}

impl Quorum {
    /// Regions that must be down out of `regions` configured.
    pub fn required(self, regions: usize) -> usize {
        match self {
            Quorum::Majority => majority(regions),
            Quorum::All => regions.max(1),
            Quorum::Any => 1,
            Quorum::AtLeast(n) => n.clamp(1, regions.max(1)),
        }
    }
}

impl std::str::FromStr for Quorum {
    type Err = String;

    /// `majority`, `all`, `any` or a number of regions.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "majority" => Ok(Quorum::Majority),
            "all" => Ok(Quorum::All),
            "any" => Ok(Quorum::Any),
            n => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Quorum::AtLeast(n)),
                _ => Err(format!("{s:?} is not majority, all, any or a number of regions ≥ 1")),
            },
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            failures: 3,
            successes: 2,
            flap_transitions: 5,
            flap_window: Duration::minutes(30),
            quorum: Quorum::Majority,
        }
    }
}

/// Regions that must be down for the target to be down: a majority of `regions`.
pub fn majority(regions: usize) -> usize {
    regions / 2 + 1
}

/// One region's view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionStatus {
    /// Nothing seen yet.
    #[default]
    Unknown,
    /// Healthy.
    Up,
    /// Working but slow or close to a limit.
    Degraded,
    /// Failing, fewer than K times in a row.
    Pending,
    /// Failing K times in a row (and not yet M successes since).
    Down,
}

/// The state of one region of a target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionState {
    /// Current status.
    pub status: RegionStatus,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Successes (up or degraded) in a row.
    pub consecutive_successes: u32,
    /// Time of the last counted result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<DateTime<Utc>>,
}

/// The target's health class, whose changes count towards flapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Nothing seen yet.
    #[default]
    Unknown,
    /// Up or degraded (a minority of regions may be down).
    Healthy,
    /// Some region is failing, not confirmed.
    Pending,
    /// A quorum of regions is down.
    Down,
}

/// Everything the machine remembers about one target (stored as JSON in `target_state`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineState {
    /// Per region.
    #[serde(default)]
    pub regions: BTreeMap<String, RegionState>,
    /// Health after the last counted result.
    #[serde(default)]
    pub health: Health,
    /// Whether the machine has an incident open.
    #[serde(default)]
    pub incident_open: bool,
    /// Whether the target is flapping (opens and resolves are held).
    #[serde(default)]
    pub flapping: bool,
    /// When the health changed, within the flapping window, oldest first.
    #[serde(default)]
    pub transitions: Vec<DateTime<Utc>>,
    /// Latency streaks against the target's baseline ([`crate::baselines::judge`]).
    #[serde(default, skip_serializing_if = "crate::baselines::SlowState::is_idle")]
    pub slow: crate::baselines::SlowState,
}

/// One result as the machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Region of the pinger.
    pub region: String,
    /// When the check ran.
    pub at: DateTime<Utc>,
    /// Its verdict.
    pub outcome: Outcome,
    /// The pinger's own connectivity was degraded: the result says nothing.
    pub probe_degraded: bool,
}

/// What surrounds a result: the target's regions and whether it is in maintenance.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Regions the target is checked from (results from others are ignored).
    pub regions: &'a [String],
    /// A maintenance window covers the result: no incident opens.
    pub in_maintenance: bool,
}

/// Something the engine must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open an incident; the regions that are down.
    Open {
        /// Regions down when it opened.
        regions: Vec<String>,
    },
    /// Resolve the open incident.
    Resolve,
    /// The target started flapping: alerts are held.
    FlappingStarted,
    /// The target is stable again.
    FlappingEnded,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Whether the result counted (false: probe degraded or a foreign region).
    pub counted: bool,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

impl MachineState {
    /// Applies one result.
    pub fn step(&mut self, t: &Thresholds, ctx: Context<'_>, obs: &Observation) -> Step {
        if obs.probe_degraded || !ctx.regions.contains(&obs.region) {
            return Step {
                counted: false,
                effects: Vec::new(),
            };
        }
        self.regions.retain(|name, _| ctx.regions.contains(name));
        let region = self.regions.entry(obs.region.clone()).or_default();
        region.step(t, obs);

        let mut effects = Vec::new();
        let health = self.health_of(ctx.regions, t.quorum);
        if health != self.health {
            if self.health != Health::Unknown {
                self.transitions.push(obs.at);
            }
            self.health = health;
        }
        let horizon = obs.at - t.flap_window;
        self.transitions.retain(|at| *at > horizon);
        if !self.flapping && self.transitions.len() > t.flap_transitions {
            self.flapping = true;
            effects.push(Effect::FlappingStarted);
        } else if self.flapping && self.transitions.is_empty() {
            self.flapping = false;
            effects.push(Effect::FlappingEnded);
        }

        if !self.flapping {
            let down = self.health == Health::Down;
            if down && !self.incident_open && !ctx.in_maintenance {
                self.incident_open = true;
                effects.push(Effect::Open {
                    regions: self.down_regions(),
                });
            } else if !down && self.incident_open {
                self.incident_open = false;
                effects.push(Effect::Resolve);
            }
        }
        Step { counted: true, effects }
    }

    /// Regions currently down, sorted.
    pub fn down_regions(&self) -> Vec<String> {
        self.regions
            .iter()
            .filter(|(_, r)| r.status == RegionStatus::Down)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Regions currently failing (pending or down), sorted.
    pub fn failing_regions(&self) -> Vec<String> {
        self.regions
            .iter()
            .filter(|(_, r)| matches!(r.status, RegionStatus::Down | RegionStatus::Pending))
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn health_of(&self, configured: &[String], quorum: Quorum) -> Health {
        let down = self.regions.values().filter(|r| r.status == RegionStatus::Down).count();
        if down >= quorum.required(configured.len()) {
            Health::Down
        } else if self.regions.values().any(|r| r.status == RegionStatus::Pending) {
            Health::Pending
        } else if self.regions.values().any(|r| r.status != RegionStatus::Unknown) {
            Health::Healthy
        } else {
            Health::Unknown
        }
    }

    /// The status users see.
    pub fn status(&self) -> TargetStatus {
        if self.flapping {
            return TargetStatus::Flapping;
        }
        match self.health {
            Health::Unknown => TargetStatus::Unknown,
            Health::Down => TargetStatus::Down,
            Health::Pending => TargetStatus::Pending,
            Health::Healthy => {
                let degraded = self
                    .regions
                    .values()
                    .any(|r| matches!(r.status, RegionStatus::Degraded | RegionStatus::Down));
                if degraded {
                    TargetStatus::Degraded
                } else {
                    TargetStatus::Up
                }
            }
        }
    }
}

impl RegionState {
    fn step(&mut self, t: &Thresholds, obs: &Observation) {
        self.last_at = Some(obs.at);
        if obs.outcome == Outcome::Down {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
            self.consecutive_successes = 0;
            if self.status != RegionStatus::Down {
                self.status = if self.consecutive_failures >= t.failures.max(1) {
                    RegionStatus::Down
                } else {
                    RegionStatus::Pending
                };
            }
        } else {
            self.consecutive_successes = self.consecutive_successes.saturating_add(1);
            self.consecutive_failures = 0;
            let healthy = if obs.outcome == Outcome::Degraded {
                RegionStatus::Degraded
            } else {
                RegionStatus::Up
            };
            if self.status != RegionStatus::Down || self.consecutive_successes >= t.successes.max(1) {
                self.status = healthy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    const REGIONS: [&str; 3] = ["eu", "us", "asia"];

    fn regions(n: usize) -> Vec<String> {
        REGIONS[..n].iter().map(|r| (*r).to_owned()).collect()
    }

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z").unwrap().to_utc()
    }

    fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![Just(Outcome::Up), Just(Outcome::Degraded), Just(Outcome::Down)]
    }

    /// (region index, outcome, probe degraded), 30 s apart.
    fn results(n_regions: usize, max: usize) -> impl Strategy<Value = Vec<Observation>> {
        prop::collection::vec((0..n_regions, outcome(), prop::bool::weighted(0.1)), 0..max).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (r, outcome, probe_degraded))| Observation {
                    region: REGIONS[r].to_owned(),
                    at: start() + Duration::seconds(30 * i as i64),
                    outcome,
                    probe_degraded,
                })
                .collect()
        })
    }

    fn thresholds(flapping: bool) -> impl Strategy<Value = Thresholds> {
        (1u32..5, 1u32..5).prop_map(move |(failures, successes)| Thresholds {
            failures,
            successes,
            flap_transitions: if flapping { 5 } else { usize::MAX },
            flap_window: Duration::minutes(30),
            quorum: Quorum::Majority,
        })
    }

    fn run(t: &Thresholds, regs: &[String], seq: &[Observation]) -> (MachineState, Vec<Effect>) {
        let mut m = MachineState::default();
        let ctx = Context {
            regions: regs,
            in_maintenance: false,
        };
        let effects = seq.iter().flat_map(|o| m.step(t, ctx, o).effects).collect();
        (m, effects)
    }

    proptest! {
        #[test]
        fn no_incident_opens_before_k_consecutive_failures_in_a_quorum_of_regions(
            n in 1usize..=3, t in thresholds(true), seq in results(3, 200),
        ) {
            let regs = regions(n);
            let mut m = MachineState::default();
            // An independent model: a region is down once it failed K times in a row, until it
            // succeeded M times in a row.
            let mut model: BTreeMap<String, (u32, u32, bool)> = BTreeMap::new();
            let ctx = Context { regions: &regs, in_maintenance: false };
            for o in &seq {
                if !o.probe_degraded && regs.contains(&o.region) {
                    let (f, s, down) = model.entry(o.region.clone()).or_default();
                    if o.outcome == Outcome::Down { *f += 1; *s = 0; } else { *s += 1; *f = 0; }
                    if *f >= t.failures { *down = true; }
                    if *s >= t.successes { *down = false; }
                }
                for e in m.step(&t, ctx, o).effects {
                    if let Effect::Open { regions: down } = e {
                        prop_assert!(down.len() >= majority(n));
                        for r in &down {
                            prop_assert!(model[r].2, "{r} opened an incident without K failures in a row");
                        }
                    }
                }
            }
        }

        #[test]
        fn at_most_one_incident_is_open_at_a_time(
            n in 1usize..=3, t in thresholds(true), seq in results(3, 300),
        ) {
            let (m, effects) = run(&t, &regions(n), &seq);
            let mut open = false;
            for e in effects {
                match e {
                    Effect::Open { .. } => { prop_assert!(!open, "opened twice"); open = true; }
                    Effect::Resolve => { prop_assert!(open, "resolved nothing"); open = false; }
                    _ => {}
                }
            }
            prop_assert_eq!(open, m.incident_open);
        }

        #[test]
        fn every_incident_resolves_after_m_successes_in_every_region(
            n in 1usize..=3, t in thresholds(false), seq in results(3, 200),
        ) {
            let regs = regions(n);
            let (mut m, _) = run(&t, &regs, &seq);
            let was_open = m.incident_open;
            let ctx = Context { regions: &regs, in_maintenance: false };
            let mut effects = Vec::new();
            let mut at = start() + Duration::days(1);
            for _ in 0..t.successes {
                for r in &regs {
                    at += Duration::seconds(30);
                    let o = Observation { region: r.clone(), at, outcome: Outcome::Up, probe_degraded: false };
                    effects.extend(m.step(&t, ctx, &o).effects);
                }
            }
            prop_assert!(!m.incident_open);
            prop_assert_eq!(effects.contains(&Effect::Resolve), was_open);
            prop_assert_eq!(m.status(), TargetStatus::Up);
        }

        #[test]
        fn probe_degraded_results_never_count(
            n in 1usize..=3, t in thresholds(true), seq in results(3, 200),
        ) {
            let regs = regions(n);
            let (with, effects_with) = run(&t, &regs, &seq);
            let honest: Vec<_> = seq.iter().filter(|o| !o.probe_degraded).cloned().collect();
            let (without, effects_without) = run(&t, &regs, &honest);
            prop_assert_eq!(with, without);
            prop_assert_eq!(effects_with, effects_without);
            let only_degraded: Vec<_> = seq.iter().cloned().map(|o| Observation { probe_degraded: true, ..o }).collect();
            let (m, effects) = run(&t, &regs, &only_degraded);
            prop_assert!(effects.is_empty());
            prop_assert_eq!(m, MachineState::default());
        }

        #[test]
        fn replaying_any_prefix_of_applied_results_changes_nothing(
            n in 1usize..=3, t in thresholds(true), seq in results(3, 150), cut in 0usize..150,
        ) {
            // The engine applies a result only if its id is not in the ledger yet.
            let regs = regions(n);
            let ctx = Context { regions: &regs, in_maintenance: false };
            let mut ledger = HashSet::new();
            let mut m = MachineState::default();
            for (id, o) in seq.iter().enumerate() {
                if ledger.insert(id) { m.step(&t, ctx, o); }
            }
            let before = m.clone();
            let mut effects = Vec::new();
            for (id, o) in seq.iter().enumerate().take(cut) {
                if ledger.insert(id) { effects.extend(m.step(&t, ctx, o).effects); }
            }
            prop_assert!(effects.is_empty());
            prop_assert_eq!(m, before);
        }

        #[test]
        fn a_maintenance_window_suppresses_every_incident(
            n in 1usize..=3, t in thresholds(true), seq in results(3, 200),
        ) {
            let regs = regions(n);
            let mut m = MachineState::default();
            let ctx = Context { regions: &regs, in_maintenance: true };
            for o in &seq {
                let effects = m.step(&t, ctx, o).effects;
                let opened = effects.iter().any(|e| matches!(e, Effect::Open { .. }));
                prop_assert!(!opened, "an incident opened in maintenance");
            }
        }

        #[test]
        fn a_flapping_target_raises_one_flapping_event_and_holds_alerts(
            k in 1u32..4, m_ in 1u32..4, burst in 1usize..4,
        ) {
            // Bursts of `burst` failures and `burst` successes for 10 minutes, 10 s apart; the
            // health flips on every burst (a burst either stays under K or recovers with M).
            prop_assume!((burst as u32) < k || burst as u32 >= m_);
            let t = Thresholds { failures: k, successes: m_, ..Thresholds::default() };
            let regs = regions(1);
            let seq: Vec<Observation> = (0..60).map(|i| Observation {
                region: "eu".into(),
                at: start() + Duration::seconds(10 * i),
                outcome: if (i as usize / burst).is_multiple_of(2) { Outcome::Down } else { Outcome::Up },
                probe_degraded: false,
            }).collect();
            let (m, effects) = run(&t, &regs, &seq);
            prop_assert!(m.flapping);
            let flapping_at = effects.iter().position(|e| *e == Effect::FlappingStarted);
            prop_assert!(flapping_at.is_some(), "{effects:?}");
            let flapping_at = flapping_at.unwrap_or_default();
            // One flapping event, and nothing after it: alerts are held.
            prop_assert_eq!(flapping_at, effects.len() - 1, "{:?}", effects);
            prop_assert!(flapping_at <= t.flap_transitions + 1);
            if burst < k as usize {
                // Failures never reach K: the only event is the flapping one.
                prop_assert_eq!(effects, vec![Effect::FlappingStarted]);
            }
        }
    }

    #[test]
    fn a_target_goes_pending_then_down_after_k_failures_and_up_after_m_successes() {
        let t = Thresholds::default();
        let regs = regions(1);
        let ctx = Context {
            regions: &regs,
            in_maintenance: false,
        };
        let mut m = MachineState::default();
        let obs = |i: i64, outcome| Observation {
            region: "eu".into(),
            at: start() + Duration::minutes(i),
            outcome,
            probe_degraded: false,
        };
        assert!(m.step(&t, ctx, &obs(0, Outcome::Up)).effects.is_empty());
        assert_eq!(m.status(), TargetStatus::Up);
        m.step(&t, ctx, &obs(1, Outcome::Down));
        assert_eq!(m.status(), TargetStatus::Pending);
        m.step(&t, ctx, &obs(2, Outcome::Down));
        let opened = m.step(&t, ctx, &obs(3, Outcome::Down)).effects;
        assert_eq!(
            opened,
            vec![Effect::Open {
                regions: vec!["eu".into()]
            }]
        );
        assert_eq!(m.status(), TargetStatus::Down);
        assert!(m.step(&t, ctx, &obs(4, Outcome::Up)).effects.is_empty());
        assert_eq!(m.status(), TargetStatus::Down);
        assert_eq!(
            m.step(&t, ctx, &obs(5, Outcome::Degraded)).effects,
            vec![Effect::Resolve]
        );
        assert_eq!(m.status(), TargetStatus::Degraded);
    }

    /// One result a minute for each `(region, outcome)`, over the minutes `minutes`.
    fn each_minute(minutes: std::ops::Range<i64>, outcomes: &[(&str, Outcome)]) -> Vec<Observation> {
        minutes
            .flat_map(|i| {
                outcomes.iter().map(move |&(r, outcome)| Observation {
                    region: r.into(),
                    at: start() + Duration::minutes(i),
                    outcome,
                    probe_degraded: false,
                })
            })
            .collect()
    }

    #[test]
    fn one_region_of_two_down_is_degraded_not_an_incident() {
        let seq = each_minute(0..10, &[("eu", Outcome::Down), ("us", Outcome::Up)]);
        let (m, effects) = run(&Thresholds::default(), &regions(2), &seq);
        assert!(effects.is_empty());
        assert_eq!(m.status(), TargetStatus::Degraded);
        assert_eq!(m.down_regions(), vec!["eu".to_owned()]);
    }

    #[test]
    fn the_quorum_says_how_many_regions_must_be_down() {
        assert_eq!([1, 2, 3, 4, 5].map(|n| Quorum::Majority.required(n)), [1, 2, 2, 3, 3]);
        assert_eq!([1, 3].map(|n| Quorum::All.required(n)), [1, 3]);
        assert_eq!([1, 3].map(|n| Quorum::Any.required(n)), [1, 1]);
        assert_eq!([1, 2, 5].map(|n| Quorum::AtLeast(2).required(n)), [1, 2, 2]);
        assert_eq!("Majority".parse(), Ok(Quorum::Majority));
        assert_eq!(" any ".parse(), Ok(Quorum::Any));
        assert_eq!("all".parse(), Ok(Quorum::All));
        assert_eq!("2".parse(), Ok(Quorum::AtLeast(2)));
        assert!("0".parse::<Quorum>().is_err());
        assert!("most".parse::<Quorum>().is_err());
    }

    #[test]
    fn with_a_quorum_of_one_a_single_failing_region_opens_the_incident() {
        let t = Thresholds {
            quorum: Quorum::Any,
            ..Thresholds::default()
        };
        let seq = each_minute(0..4, &[("eu", Outcome::Down), ("us", Outcome::Up)]);
        let (m, effects) = run(&t, &regions(2), &seq);
        assert!(
            matches!(effects.as_slice(), [Effect::Open { regions, .. }] if regions == &vec!["eu".to_owned()]),
            "{effects:?}"
        );
        assert_eq!(m.status(), TargetStatus::Down);
    }

    proptest! {
        #[test]
        fn a_quorum_asks_for_at_least_one_region_and_never_more_than_there_are(
            regions in 1usize..20,
            n in 1usize..40,
        ) {
            for q in [Quorum::Majority, Quorum::All, Quorum::Any, Quorum::AtLeast(n)] {
                let required = q.required(regions);
                prop_assert!((1..=regions).contains(&required), "{q:?} of {regions}: {required}");
            }
            prop_assert_eq!(Quorum::AtLeast(n).required(regions), n.min(regions));
            prop_assert!(2 * Quorum::Majority.required(regions) > regions, "more than half");
        }
    }

    #[test]
    fn with_the_quorum_all_three_regions_must_fail_before_the_target_is_down() {
        let t = Thresholds {
            quorum: Quorum::All,
            ..Thresholds::default()
        };
        let regs = regions(3);
        let mut seq = each_minute(
            0..4,
            &[("eu", Outcome::Down), ("us", Outcome::Down), ("asia", Outcome::Up)],
        );
        let (m, effects) = run(&t, &regs, &seq);
        assert!(effects.is_empty(), "two regions of three are not all: {effects:?}");
        assert_eq!(m.status(), TargetStatus::Degraded);
        // The same results, then asia down too (the machine is deterministic: a replay is the same).
        seq.extend(each_minute(4..7, &[("asia", Outcome::Down)]));
        let (m, effects) = run(&t, &regs, &seq);
        assert!(
            matches!(effects.as_slice(), [Effect::Open { regions, .. }] if regions.len() == 3),
            "{effects:?}"
        );
        assert_eq!(m.status(), TargetStatus::Down);
    }
}
