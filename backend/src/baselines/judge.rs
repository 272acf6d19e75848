//! The slow-response judgement, pure: each result's latency against its reference, and the
//! per-region streaks that make a target degraded.
//!
//! Per region: K results in a row over the limit (K = the target's failure threshold) make it
//! slow; M in a row under it (M = the success threshold) make it normal again. The target is
//! slow when the engine's quorum of its regions is slow (like down), and then a degraded
//! incident opens — unless an outage incident is open, the target is flapping or a
//! maintenance window covers the result. Results that are down, taken by a degraded probe or
//! from a region the target is not checked from say nothing about latency and change nothing.

use std::collections::BTreeMap;

use common::messages::{CheckResult, Outcome};
use serde::{Deserialize, Serialize};

use super::band::{Baseline, Reference, limit_ms};
use crate::incidents::machine::Thresholds;

/// What one result says about latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The target has no active baseline (turned off, or too little history).
    Off,
    /// The result says nothing about latency (down, probe degraded, foreign region).
    Silent,
    /// Under the limit.
    Under,
    /// Over the limit.
    Over(Quote),
}

/// The numbers of a result over its limit, for the incident's message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    /// What it was judged against.
    pub reference: Reference,
    /// The limit (ms).
    pub limit_ms: f64,
    /// Its latency (ms).
    pub latency_ms: f64,
}

/// A target's active baseline and its settings, as the engine holds it for a batch.
#[derive(Debug, Clone)]
pub struct Active {
    /// The baseline.
    pub baseline: std::sync::Arc<Baseline>,
    /// How many times the p95 is slow.
    pub factor: f64,
    /// The least increase over the p95 that is slow (ms).
    pub min_increase_ms: f64,
}

impl Active {
    /// The verdict on `result` of a target checked from `regions`.
    pub fn verdict(&self, result: &CheckResult, regions: &[String]) -> Verdict {
        if result.outcome == Outcome::Down || result.probe_degraded || !regions.contains(&result.region) {
            return Verdict::Silent;
        }
        let Some(reference) = self.baseline.reference(result.started_at) else {
            return Verdict::Off;
        };
        let limit = limit_ms(reference.p95_ms, self.factor, self.min_increase_ms);
        let latency = f64::from(result.duration_ms);
        if latency > limit {
            Verdict::Over(Quote {
                reference,
                limit_ms: limit,
                latency_ms: latency,
            })
        } else {
            Verdict::Under
        }
    }
}

/// The verdict on `result` given the target's active baseline, if any.
pub fn verdict(active: Option<&Active>, result: &CheckResult, regions: &[String]) -> Verdict {
    match active {
        Some(a) => a.verdict(result, regions),
        None if result.outcome == Outcome::Down || result.probe_degraded => Verdict::Silent,
        None => Verdict::Off,
    }
}

/// One region's latency streaks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowRegion {
    /// K results in a row over the limit, and not yet M under it since.
    #[serde(default)]
    pub slow: bool,
    /// Results over the limit in a row.
    #[serde(default)]
    pub over: u32,
    /// Results under the limit in a row, while slow.
    #[serde(default)]
    pub under: u32,
}

impl SlowRegion {
    fn is_idle(&self) -> bool {
        *self == Self::default()
    }
}

/// What the judgement remembers of a target (in the engine's machine state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowState {
    /// Regions with a streak; idle regions are left out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regions: BTreeMap<String, SlowRegion>,
    /// Whether a degraded (slow-response) incident is open.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incident_open: bool,
}

/// Something the engine must do.
#[derive(Debug, Clone, PartialEq)]
pub enum SlowEffect {
    /// Open a degraded incident.
    Open {
        /// The slow regions.
        regions: Vec<String>,
        /// The result's numbers, when it was over the limit.
        quote: Option<Quote>,
        /// Results over the limit in a row in the result's region.
        over: u32,
    },
    /// Resolve the degraded incident.
    Resolve {
        /// The baseline was turned off (or lost), rather than latency back to normal.
        off: bool,
    },
}

/// What surrounds a result.
#[derive(Debug, Clone, Copy)]
pub struct Ground<'a> {
    /// The target's regions.
    pub regions: &'a [String],
    /// Whether a degraded incident may open now (no outage incident open, not flapping, no
    /// maintenance window).
    pub may_open: bool,
}

impl SlowState {
    /// Nothing to remember (left out of the stored state).
    pub fn is_idle(&self) -> bool {
        self.regions.is_empty() && !self.incident_open
    }

    /// Whether some region is slow (the target shows as degraded).
    pub fn is_slow(&self) -> bool {
        self.regions.values().any(|r| r.slow)
    }

    /// The slow regions, sorted.
    pub fn slow_regions(&self) -> Vec<String> {
        self.regions
            .iter()
            .filter(|(_, r)| r.slow)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Applies the verdict on one result from `region`.
    pub fn step(&mut self, t: &Thresholds, g: Ground<'_>, region: &str, verdict: &Verdict) -> Option<SlowEffect> {
        self.regions.retain(|name, _| g.regions.iter().any(|r| r == name));
        let mut over = 0;
        match verdict {
            Verdict::Silent => return None,
            Verdict::Off => {
                self.regions.clear();
                if self.incident_open {
                    self.incident_open = false;
                    return Some(SlowEffect::Resolve { off: true });
                }
                return None;
            }
            Verdict::Over(_) => {
                let r = self.regions.entry(region.to_owned()).or_default();
                r.over = r.over.saturating_add(1);
                r.under = 0;
                if r.over >= t.failures.max(1) {
                    r.slow = true;
                }
                over = r.over;
            }
            Verdict::Under => {
                if let Some(r) = self.regions.get_mut(region) {
                    r.over = 0;
                    if r.slow {
                        r.under = r.under.saturating_add(1);
                        if r.under >= t.successes.max(1) {
                            r.slow = false;
                            r.under = 0;
                        }
                    }
                    if r.is_idle() {
                        self.regions.remove(region);
                    }
                }
            }
        }
        let slow = self.regions.values().filter(|r| r.slow).count();
        let target_slow = slow > 0 && slow >= t.quorum.required(g.regions.len());
        if target_slow && !self.incident_open && g.may_open {
            self.incident_open = true;
            let quote = match verdict {
                Verdict::Over(q) => Some(*q),
                _ => None,
            };
            return Some(SlowEffect::Open {
                regions: self.slow_regions(),
                quote,
                over,
            });
        }
        if !target_slow && self.incident_open {
            self.incident_open = false;
            return Some(SlowEffect::Resolve { off: false });
        }
        None
    }
}

/// The status users see: a healthy target with a slow region shows as degraded.
pub fn status(machine: common::messages::TargetStatus, slow: &SlowState) -> common::messages::TargetStatus {
    use common::messages::TargetStatus;
    if machine == TargetStatus::Up && slow.is_slow() {
        TargetStatus::Degraded
    } else {
        machine
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use common::messages::TargetStatus;

    use super::super::band::HourSample;
    use super::*;

    fn monday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
    }

    /// Two weeks at 20 ms (p95 24 ms): the limit is max(72, 124) = 124 ms.
    fn active() -> Active {
        let hours: Vec<HourSample> = (0..2 * 168)
            .map(|i| HourSample {
                start: monday() + Duration::hours(i),
                samples: 12,
                p50_ms: 20.0,
                p95_ms: 24.0,
            })
            .collect();
        Active {
            baseline: Arc::new(Baseline::compute(&hours)),
            factor: 3.0,
            min_increase_ms: 100.0,
        }
    }

    fn result(region: &str, minute: i64, ms: u32, outcome: Outcome) -> CheckResult {
        let mut r = common::samples::check_result();
        r.region = region.into();
        r.started_at = monday() + Duration::weeks(3) + Duration::hours(14) + Duration::minutes(minute);
        r.duration_ms = ms;
        r.outcome = outcome;
        r.probe_degraded = false;
        r
    }

    fn regions(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Runs `(region, ms)` results (0 ms: down) through a fresh state; returns the effects.
    fn run(state: &mut SlowState, regs: &[String], may_open: bool, seq: &[(&str, u32)]) -> Vec<SlowEffect> {
        let a = active();
        let t = Thresholds::default();
        let g = Ground {
            regions: regs,
            may_open,
        };
        seq.iter()
            .enumerate()
            .filter_map(|(i, (region, ms))| {
                let outcome = if *ms == 0 { Outcome::Down } else { Outcome::Up };
                let r = result(region, i as i64, *ms, outcome);
                state.step(&t, g, region, &a.verdict(&r, regs))
            })
            .collect()
    }

    #[test]
    fn the_verdict_compares_with_the_hours_limit() {
        let a = active();
        let regs = regions(&["eu"]);
        assert_eq!(a.verdict(&result("eu", 0, 124, Outcome::Up), &regs), Verdict::Under);
        let Verdict::Over(q) = a.verdict(&result("eu", 0, 210, Outcome::Degraded), &regs) else {
            panic!("over")
        };
        assert_eq!(
            (q.limit_ms, q.latency_ms, q.reference.hour_of_week),
            (124.0, 210.0, Some(14))
        );
        assert_eq!(
            super::super::incident::summary(&q, 3),
            "p95 for Monday 14:00 UTC is 24 ms; now 210 ms for 3 checks"
        );
        assert_eq!(a.verdict(&result("eu", 0, 0, Outcome::Down), &regs), Verdict::Silent);
        assert_eq!(a.verdict(&result("us", 0, 500, Outcome::Up), &regs), Verdict::Silent);
        let mut probe = result("eu", 0, 500, Outcome::Up);
        probe.probe_degraded = true;
        assert_eq!(a.verdict(&probe, &regs), Verdict::Silent);
        assert_eq!(verdict(None, &result("eu", 0, 500, Outcome::Up), &regs), Verdict::Off);
    }

    #[test]
    fn k_slow_results_open_one_incident_and_m_normal_ones_resolve_it() {
        let regs = regions(&["eu"]);
        let mut s = SlowState::default();
        assert!(run(&mut s, &regs, true, &[("eu", 20), ("eu", 210), ("eu", 220)]).is_empty());
        assert!(!s.is_slow(), "two of three");
        let opened = run(&mut s, &regs, true, &[("eu", 230), ("eu", 240), ("eu", 250)]);
        assert!(
            matches!(opened.as_slice(), [SlowEffect::Open { regions, quote: Some(q), over: 3 }]
                if regions == &regs && q.latency_ms == 230.0),
            "{opened:?}"
        );
        assert_eq!(status(TargetStatus::Up, &s), TargetStatus::Degraded);
        // A failure says nothing about latency: the streak goes on.
        assert!(run(&mut s, &regs, true, &[("eu", 0), ("eu", 260), ("eu", 20)]).is_empty());
        assert_eq!(
            run(&mut s, &regs, true, &[("eu", 20)]),
            vec![SlowEffect::Resolve { off: false }]
        );
        assert!(s.is_idle(), "{s:?}");
        assert_eq!(status(TargetStatus::Up, &s), TargetStatus::Up);
    }

    #[test]
    fn nothing_opens_while_it_may_not_and_it_opens_once_it_may() {
        let regs = regions(&["eu"]);
        let mut s = SlowState::default();
        assert!(
            run(
                &mut s,
                &regs,
                false,
                &[("eu", 300), ("eu", 300), ("eu", 300), ("eu", 300)]
            )
            .is_empty()
        );
        assert!(s.is_slow());
        let opened = run(&mut s, &regs, true, &[("eu", 300)]);
        assert!(
            matches!(opened.as_slice(), [SlowEffect::Open { over: 5, .. }]),
            "{opened:?}"
        );
    }

    #[test]
    fn one_slow_region_of_two_is_degraded_but_not_an_incident() {
        let regs = regions(&["eu", "us"]);
        let mut s = SlowState::default();
        let seq: Vec<(&str, u32)> = (0..5).flat_map(|_| [("eu", 300), ("us", 20)]).collect();
        assert!(run(&mut s, &regs, true, &seq).is_empty());
        assert_eq!(s.slow_regions(), vec!["eu".to_owned()]);
        assert_eq!(status(TargetStatus::Up, &s), TargetStatus::Degraded);
        assert_eq!(status(TargetStatus::Down, &s), TargetStatus::Down);
        let opened = run(&mut s, &regs, true, &[("us", 300), ("us", 300), ("us", 300)]);
        assert!(
            matches!(opened.as_slice(), [SlowEffect::Open { regions, .. }] if regions.len() == 2),
            "{opened:?}"
        );
    }

    #[test]
    fn turning_the_baseline_off_resolves_and_forgets() {
        let regs = regions(&["eu"]);
        let mut s = SlowState::default();
        assert_eq!(
            run(&mut s, &regs, true, &[("eu", 300), ("eu", 300), ("eu", 300)]).len(),
            1
        );
        let t = Thresholds::default();
        let g = Ground {
            regions: &regs,
            may_open: true,
        };
        assert_eq!(
            s.step(&t, g, "eu", &Verdict::Off),
            Some(SlowEffect::Resolve { off: true })
        );
        assert!(s.is_idle());
        assert_eq!(s.step(&t, g, "eu", &Verdict::Off), None);
    }

    #[test]
    fn the_state_is_left_out_of_the_machine_json_when_idle() {
        let mut m = crate::incidents::machine::MachineState::default();
        assert!(!serde_json::to_string(&m).unwrap().contains("slow"));
        m.slow.incident_open = true;
        let json = serde_json::to_string(&m).unwrap();
        let back: crate::incidents::machine::MachineState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        // States stored before baselines read as idle.
        let old: crate::incidents::machine::MachineState = serde_json::from_str("{}").unwrap();
        assert!(old.slow.is_idle());
    }
}
