//! A target's baseline settings: as written in a target's `baseline`, validated, and as shown.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Default of `factor`.
pub const DEFAULT_FACTOR: f64 = 3.0;
/// Smallest `factor`.
pub const MIN_FACTOR: f64 = 1.5;
/// Largest `factor`.
pub const MAX_FACTOR: f64 = 20.0;
/// Default of `min_increase_ms`.
pub const DEFAULT_MIN_INCREASE_MS: u32 = 100;
/// Largest `min_increase_ms` (the longest check timeout).
pub const MAX_MIN_INCREASE_MS: u32 = 60_000;
/// History an automatic baseline (`enabled: null`) waits for before it judges.
pub const AUTO_AFTER_DAYS: i64 = 7;

/// The `baseline` of a target input: when its latency counts as slow. Omitted from a PUT or
/// an import: the stored settings stay; omitted at creation: the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BaselineInput {
    /// `true` (judge latency), `false` (never), or null/absent: automatic, on once the target
    /// has a week of history.
    #[serde(default)]
    #[schema(required = false)]
    pub enabled: Option<bool>,
    /// Slow is above the hour's p95 × `factor` (1.5–20, default 3)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1.5, maximum = 20)]
    pub factor: Option<f64>,
    /// …and at least `min_increase_ms` above it (0–60000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0, maximum = 60000)]
    pub min_increase_ms: Option<u32>,
}

/// Validated baseline settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineSettings {
    /// `Some(on)`, or `None`: automatic.
    pub enabled: Option<bool>,
    /// Within [`MIN_FACTOR`]..=[`MAX_FACTOR`].
    pub factor: f64,
    /// At most [`MAX_MIN_INCREASE_MS`].
    pub min_increase_ms: u32,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        Self {
            enabled: None,
            factor: DEFAULT_FACTOR,
            min_increase_ms: DEFAULT_MIN_INCREASE_MS,
        }
    }
}

impl BaselineSettings {
    /// The settings as a target input writes them (`None` for the defaults).
    pub fn as_input(&self) -> Option<BaselineInput> {
        (*self != Self::default()).then_some(BaselineInput {
            enabled: self.enabled,
            factor: Some(self.factor),
            min_increase_ms: Some(self.min_increase_ms),
        })
    }

    /// Whether latency is judged, given the oldest hour of history at `now`.
    pub fn is_on(&self, history_from: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match self.enabled {
            Some(on) => on,
            None => history_from.is_some_and(|from| from <= now - chrono::Duration::days(AUTO_AFTER_DAYS)),
        }
    }
}

/// Validates `input` (the `baseline` of a target input; `prefix` is prepended to field names).
/// A heartbeat has no latency: it may not turn the baseline on.
pub fn validate(
    prefix: &str,
    input: Option<BaselineInput>,
    heartbeat: bool,
) -> Result<Option<BaselineSettings>, ApiError> {
    let Some(input) = input else { return Ok(None) };
    let f = |name: &str| format!("{prefix}baseline.{name}");
    if heartbeat && input.enabled == Some(true) {
        return Err(ApiError::validation(
            f("enabled"),
            "a heartbeat has no latency to compare with a baseline",
        ));
    }
    let factor = input.factor.unwrap_or(DEFAULT_FACTOR);
    if !factor.is_finite() || !(MIN_FACTOR..=MAX_FACTOR).contains(&factor) {
        return Err(ApiError::validation(
            f("factor"),
            format!("the factor must be between {MIN_FACTOR} and {MAX_FACTOR}"),
        ));
    }
    let min_increase_ms = input.min_increase_ms.unwrap_or(DEFAULT_MIN_INCREASE_MS);
    if min_increase_ms > MAX_MIN_INCREASE_MS {
        return Err(ApiError::validation(
            f("min_increase_ms"),
            format!("the minimum increase must be between 0 and {MAX_MIN_INCREASE_MS} ms"),
        ));
    }
    Ok(Some(BaselineSettings {
        enabled: input.enabled,
        factor,
        min_increase_ms,
    }))
}

/// A target's baseline settings and whether they judge now (the `baseline` of a target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BaselineView {
    /// `true`, `false`, or null: automatic (on once the target has a week of history).
    #[schema(required = true)]
    pub enabled: Option<bool>,
    /// Slow is above the hour's p95 × `factor`…
    pub factor: f64,
    /// …and at least this many milliseconds above it.
    pub min_increase_ms: u32,
    /// Whether latency is judged now: on (or automatic with a week of history) and a baseline
    /// computed.
    pub active: bool,
}

impl Default for BaselineView {
    fn default() -> Self {
        Self::of(&BaselineSettings::default(), false)
    }
}

impl BaselineView {
    /// The view of `settings`.
    pub fn of(settings: &BaselineSettings, active: bool) -> Self {
        Self {
            enabled: settings.enabled,
            factor: settings.factor,
            min_increase_ms: settings.min_increase_ms,
            active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: serde_json::Value) -> Option<BaselineInput> {
        Some(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn defaults_fill_what_is_left_out_and_bounds_name_the_field() {
        assert_eq!(validate("", None, false).unwrap(), None);
        assert_eq!(
            validate("", input(serde_json::json!({})), false).unwrap(),
            Some(BaselineSettings::default())
        );
        let s = validate(
            "",
            input(serde_json::json!({"enabled": true, "factor": 1.5, "min_increase_ms": 0})),
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!((s.enabled, s.factor, s.min_increase_ms), (Some(true), 1.5, 0));
        for (body, field) in [
            (serde_json::json!({"factor": 1.4}), "targets[2].baseline.factor"),
            (serde_json::json!({"factor": 20.5}), "targets[2].baseline.factor"),
            (
                serde_json::json!({"min_increase_ms": 60001}),
                "targets[2].baseline.min_increase_ms",
            ),
        ] {
            let e = validate("targets[2].", input(body), false).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field));
            assert_eq!(e.status, 422);
        }
        let e = validate("", input(serde_json::json!({"enabled": true})), true).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("baseline.enabled"));
        assert!(validate("", input(serde_json::json!({"enabled": false})), true).is_ok());
    }

    #[test]
    fn automatic_settings_wait_for_a_week_of_history() {
        let now = Utc::now();
        let auto = BaselineSettings::default();
        assert!(!auto.is_on(None, now));
        assert!(!auto.is_on(Some(now - chrono::Duration::days(6)), now));
        assert!(auto.is_on(Some(now - chrono::Duration::days(7)), now));
        let off = BaselineSettings {
            enabled: Some(false),
            ..auto
        };
        assert!(!off.is_on(Some(now - chrono::Duration::days(30)), now));
        let on = BaselineSettings {
            enabled: Some(true),
            ..auto
        };
        assert!(on.is_on(None, now));
        assert_eq!(auto.as_input(), None);
        assert_eq!(on.as_input().unwrap().enabled, Some(true));
    }
}
