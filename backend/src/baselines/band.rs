//! The bucket math, pure: hours of the week, a baseline from hourly rollups, the reference a
//! result is judged against and its limit.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Hours in a week: the baseline's buckets.
pub const HOURS_PER_WEEK: usize = 168;
/// A bucket is used when it holds at least this many latency samples; below, the all-hours
/// baseline stands in.
pub const MIN_BUCKET_SAMPLES: u64 = 5;
/// The all-hours baseline exists when it holds at least this many samples; below, there is no
/// baseline (and no judgement).
pub const MIN_ALL_SAMPLES: u64 = 30;

/// The hour of the week of `at`, in UTC: 0 is Monday 00:00–01:00, 167 Sunday 23:00–24:00.
pub fn hour_of_week(at: DateTime<Utc>) -> usize {
    at.weekday().num_days_from_monday() as usize * 24 + at.hour() as usize
}

/// `Tuesday 14:00 UTC` for the hour of the week `hour` (taken modulo a week).
pub fn describe_hour(hour: usize) -> String {
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let hour = hour % HOURS_PER_WEEK;
    format!("{} {:02}:00 UTC", DAYS[hour / 24], hour % 24)
}

/// One hour of a target's rollups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourSample {
    /// Start of the hour.
    pub start: DateTime<Utc>,
    /// Latency samples in it (results that were not down).
    pub samples: u64,
    /// Their median (ms).
    pub p50_ms: f64,
    /// Their 95th percentile (ms).
    pub p95_ms: f64,
}

/// The latency of a set of hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Usual latency (ms).
    pub p50_ms: f64,
    /// Slow-but-normal latency (ms).
    pub p95_ms: f64,
    /// Latency samples behind it.
    pub samples: u64,
}

/// A target's baseline: a level per hour of the week and over all hours.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    /// Per hour of the week ([`hour_of_week`]); `None` where there was no sample.
    pub hours: Vec<Option<Level>>,
    /// Over every hour; `None` without samples.
    pub all: Option<Level>,
    /// The oldest hour with samples.
    pub history_from: Option<DateTime<Utc>>,
}

/// What a result is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reference {
    /// The hour of the week whose bucket it is; `None` for the all-hours fallback.
    pub hour_of_week: Option<usize>,
    /// Usual latency (ms).
    pub p50_ms: f64,
    /// Slow-but-normal latency (ms).
    pub p95_ms: f64,
}

impl Reference {
    /// `p95 for Tuesday 14:00 UTC is 22 ms` (or `p95 over all hours is 22 ms`).
    pub fn describe(&self) -> String {
        match self.hour_of_week {
            Some(h) => format!("p95 for {} is {} ms", describe_hour(h), self.p95_ms.round()),
            None => format!("p95 over all hours is {} ms", self.p95_ms.round()),
        }
    }
}

/// The latency above which a check is slow: the p95 times `factor`, and at least
/// `min_increase_ms` above it.
pub fn limit_ms(p95_ms: f64, factor: f64, min_increase_ms: f64) -> f64 {
    (p95_ms * factor).max(p95_ms + min_increase_ms)
}

/// The value at which the cumulative weight reaches half the total; `None` without weight.
fn weighted_median(values: &mut Vec<(f64, u64)>) -> Option<f64> {
    values.retain(|(v, w)| v.is_finite() && *w > 0);
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: u64 = values.iter().map(|(_, w)| w).sum();
    let mut seen = 0;
    for (v, w) in values.iter() {
        seen += w;
        if seen * 2 >= total {
            return Some(*v);
        }
    }
    None
}

/// The level of `hours`: the sample-weighted median of their p50s and of their p95s.
fn level_of<'a>(hours: impl Iterator<Item = &'a HourSample> + Clone) -> Option<Level> {
    let samples: u64 = hours.clone().map(|h| h.samples).sum();
    let mut p50: Vec<(f64, u64)> = hours.clone().map(|h| (h.p50_ms, h.samples)).collect();
    let mut p95: Vec<(f64, u64)> = hours.map(|h| (h.p95_ms, h.samples)).collect();
    Some(Level {
        p50_ms: weighted_median(&mut p50)?,
        p95_ms: weighted_median(&mut p95)?,
        samples,
    })
}

impl Baseline {
    /// The baseline of these hours (any order; hours without samples are ignored).
    pub fn compute(hours: &[HourSample]) -> Self {
        let mut by_hour: Vec<Vec<HourSample>> = vec![Vec::new(); HOURS_PER_WEEK];
        let useful: Vec<HourSample> = hours
            .iter()
            .filter(|h| h.samples > 0 && h.p50_ms.is_finite() && h.p95_ms.is_finite())
            .copied()
            .collect();
        for h in &useful {
            by_hour[hour_of_week(h.start)].push(*h);
        }
        Self {
            hours: by_hour.iter().map(|hs| level_of(hs.iter())).collect(),
            all: level_of(useful.iter()),
            history_from: useful.iter().map(|h| h.start).min(),
        }
    }

    /// What a result at `at` is judged against: its hour's bucket when it has enough samples,
    /// else the all-hours baseline when that has enough, else nothing.
    pub fn reference(&self, at: DateTime<Utc>) -> Option<Reference> {
        let hour = hour_of_week(at);
        if let Some(Some(l)) = self.hours.get(hour)
            && l.samples >= MIN_BUCKET_SAMPLES
        {
            return Some(Reference {
                hour_of_week: Some(hour),
                p50_ms: l.p50_ms,
                p95_ms: l.p95_ms,
            });
        }
        self.all.filter(|l| l.samples >= MIN_ALL_SAMPLES).map(|l| Reference {
            hour_of_week: None,
            p50_ms: l.p50_ms,
            p95_ms: l.p95_ms,
        })
    }

    /// The reference of each hour of the week, [`Baseline::reference`] for a time in it.
    pub fn references(&self) -> Vec<Option<Reference>> {
        // 2024-01-01 was a Monday: hour h of the week is h hours after its midnight.
        let monday = DateTime::<Utc>::from_timestamp(1_704_067_200, 0).unwrap_or_default();
        (0..HOURS_PER_WEEK)
            .map(|h| self.reference(monday + chrono::Duration::hours(h as i64)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn monday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
    }

    /// `weeks` weeks of hours from a Monday, each with 12 samples at `latency(hour of day)`
    /// (p95 = 1.2 × p50).
    fn history(weeks: i64, latency: impl Fn(i64) -> f64) -> Vec<HourSample> {
        (0..weeks * 168)
            .map(|i| {
                let p50 = latency(i % 24);
                HourSample {
                    start: monday() + Duration::hours(i),
                    samples: 12,
                    p50_ms: p50,
                    p95_ms: p50 * 1.2,
                }
            })
            .collect()
    }

    #[test]
    fn hours_of_the_week_start_on_monday_midnight_utc() {
        assert_eq!(hour_of_week(monday()), 0);
        assert_eq!(hour_of_week(monday() + Duration::minutes(59)), 0);
        assert_eq!(
            hour_of_week(monday() + Duration::hours(24 + 14) + Duration::minutes(30)),
            38
        );
        assert_eq!(hour_of_week(monday() + Duration::hours(167)), 167);
        assert_eq!(hour_of_week(monday() + Duration::hours(168)), 0);
        assert_eq!(describe_hour(38), "Tuesday 14:00 UTC");
        assert_eq!(describe_hour(167), "Sunday 23:00 UTC");
    }

    #[test]
    fn a_daily_pattern_gets_a_band_per_hour() {
        // Fast at night (20 ms), three times slower from 08:00 to 20:00.
        let b = Baseline::compute(&history(4, |h| if (8..20).contains(&h) { 60.0 } else { 20.0 }));
        let night = b.reference(monday() + Duration::days(1) + Duration::hours(3)).unwrap();
        let day = b.reference(monday() + Duration::days(1) + Duration::hours(14)).unwrap();
        assert_eq!(night.hour_of_week, Some(27));
        assert_eq!((night.p50_ms, night.p95_ms), (20.0, 24.0));
        assert_eq!((day.p50_ms, day.p95_ms), (60.0, 72.0));
        assert_eq!(day.describe(), "p95 for Tuesday 14:00 UTC is 72 ms");
        assert_eq!(b.all.unwrap().samples, 4 * 168 * 12);
        assert_eq!(b.history_from, Some(monday()));
        // The day's latency stays under the day's limit, not under the night's.
        assert!(60.0 < limit_ms(day.p95_ms, 1.5, 0.0));
        assert!(60.0 > limit_ms(night.p95_ms, 1.5, 0.0));
    }

    #[test]
    fn one_bad_week_does_not_move_the_median_of_four() {
        let mut hours = history(4, |_| 20.0);
        for h in hours.iter_mut().filter(|h| h.start >= monday() + Duration::weeks(3)) {
            h.p50_ms = 500.0;
            h.p95_ms = 900.0;
        }
        let b = Baseline::compute(&hours);
        let r = b.reference(monday() + Duration::hours(5)).unwrap();
        assert_eq!((r.p50_ms, r.p95_ms), (20.0, 24.0));
    }

    #[test]
    fn a_thin_bucket_falls_back_to_all_hours_and_no_history_means_no_baseline() {
        let mut hours = history(1, |_| 20.0);
        // Hour 10 of Monday: two samples only, and very slow.
        hours[10].samples = 2;
        hours[10].p50_ms = 300.0;
        hours[10].p95_ms = 400.0;
        let b = Baseline::compute(&hours);
        let r = b
            .reference(monday() + Duration::weeks(3) + Duration::hours(10))
            .unwrap();
        assert_eq!(r.hour_of_week, None, "fell back");
        assert_eq!((r.p50_ms, r.p95_ms), (20.0, 24.0));
        assert_eq!(r.describe(), "p95 over all hours is 24 ms");

        let empty = Baseline::compute(&[]);
        assert_eq!(empty.reference(monday()), None);
        assert_eq!(empty.history_from, None);
        // Too little for the fallback too.
        let thin = Baseline::compute(&history(1, |_| 20.0)[..2]);
        assert_eq!(thin.reference(monday() + Duration::hours(50)), None);
        assert!(thin.reference(monday()).is_some(), "its own bucket has 12 samples");
    }

    #[test]
    fn the_limit_is_the_factor_or_the_minimum_increase_whichever_is_higher() {
        assert_eq!(limit_ms(22.0, 3.0, 100.0), 122.0);
        assert_eq!(limit_ms(200.0, 3.0, 100.0), 600.0);
        assert_eq!(limit_ms(50.0, 1.5, 0.0), 75.0);
    }

    #[test]
    fn references_cover_each_hour_of_the_week() {
        let b = Baseline::compute(&history(2, |h| 10.0 + h as f64));
        let refs = b.references();
        assert_eq!(refs.len(), HOURS_PER_WEEK);
        for (h, r) in refs.iter().enumerate() {
            let r = r.unwrap();
            assert_eq!(r.hour_of_week, Some(h));
            assert_eq!(r.p50_ms, 10.0 + (h % 24) as f64);
        }
    }

    proptest! {
        #[test]
        fn a_bucket_level_lies_within_its_hours(
            values in prop::collection::vec((1.0f64..5_000.0, 1u64..100), 1..40),
        ) {
            let hours: Vec<HourSample> = values
                .iter()
                .enumerate()
                .map(|(i, (p50, n))| HourSample {
                    start: monday() + Duration::weeks(i as i64),
                    samples: *n,
                    p50_ms: *p50,
                    p95_ms: p50 * 2.0,
                })
                .collect();
            let b = Baseline::compute(&hours);
            let l = b.hours[0].unwrap();
            let lo = values.iter().map(|v| v.0).fold(f64::MAX, f64::min);
            let hi = values.iter().map(|v| v.0).fold(0.0, f64::max);
            prop_assert!(l.p50_ms >= lo && l.p50_ms <= hi);
            prop_assert!(l.p95_ms >= l.p50_ms);
            prop_assert_eq!(l.samples, values.iter().map(|v| v.1).sum::<u64>());
            prop_assert_eq!(b.all, Some(l));
            prop_assert!(b.hours.iter().skip(1).all(Option::is_none));
        }
    }
}
