//! Per-organisation quotas and the private-targets permission: defaults from configuration
//! (`PINGTOWER_QUOTA_*`), overrides per organisation in `organisations.quota_overrides`, set by
//! an installation admin through `/api/admin/users` for a user's personal organisation
//! ([`crate::http::admin`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use crate::config::QuotaConfig;

/// Largest value an admin may set for any quota.
pub const MAX_QUOTA_VALUE: u32 = 100_000_000;

/// One user's effective quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quotas {
    /// Targets.
    pub max_targets: u32,
    /// Shortest check interval, seconds.
    pub min_interval_seconds: u32,
    /// Longest check timeout, seconds (and always shorter than the interval).
    pub max_timeout_seconds: u32,
    /// Headers per HTTP check.
    pub max_headers: u32,
    /// Bytes of a check's header names and values.
    pub max_header_bytes: u32,
    /// Bytes of a check's request body.
    pub max_body_bytes: u32,
    /// Assertions per HTTP check.
    pub max_assertions: u32,
    /// Bytes of a spec as JSON.
    pub max_spec_bytes: u32,
    /// Maintenance windows.
    pub max_maintenance_windows: u32,
    /// Status pages.
    pub max_status_pages: u32,
    /// Targets per status page.
    pub max_targets_per_page: u32,
    /// Notification channels.
    pub max_channels: u32,
    /// "Test now" calls per minute.
    pub test_now_per_minute: u32,
}

/// The quota names, as in [`Quotas`].
pub const QUOTA_KEYS: [&str; 13] = [
    "max_targets",
    "min_interval_seconds",
    "max_timeout_seconds",
    "max_headers",
    "max_header_bytes",
    "max_body_bytes",
    "max_assertions",
    "max_spec_bytes",
    "max_maintenance_windows",
    "max_status_pages",
    "max_targets_per_page",
    "max_channels",
    "test_now_per_minute",
];

/// Per-user overrides: each key of [`Quotas`], an integer or null (the default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaOverrides {
    /// Targets.
    #[schema(maximum = 100_000_000)]
    pub max_targets: Option<u32>,
    /// Shortest check interval, seconds.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub min_interval_seconds: Option<u32>,
    /// Longest check timeout, seconds.
    #[schema(maximum = 100_000_000)]
    pub max_timeout_seconds: Option<u32>,
    /// Headers per HTTP check.
    #[schema(maximum = 100_000_000)]
    pub max_headers: Option<u32>,
    /// Bytes of a check's header names and values.
    #[schema(maximum = 100_000_000)]
    pub max_header_bytes: Option<u32>,
    /// Bytes of a check's request body.
    #[schema(maximum = 100_000_000)]
    pub max_body_bytes: Option<u32>,
    /// Assertions per HTTP check.
    #[schema(maximum = 100_000_000)]
    pub max_assertions: Option<u32>,
    /// Bytes of a spec as JSON.
    #[schema(maximum = 100_000_000)]
    pub max_spec_bytes: Option<u32>,
    /// Maintenance windows.
    #[schema(maximum = 100_000_000)]
    pub max_maintenance_windows: Option<u32>,
    /// Status pages.
    #[schema(maximum = 100_000_000)]
    pub max_status_pages: Option<u32>,
    /// Targets per status page.
    #[schema(maximum = 100_000_000)]
    pub max_targets_per_page: Option<u32>,
    /// Notification channels.
    #[schema(maximum = 100_000_000)]
    pub max_channels: Option<u32>,
    /// "Test now" calls per minute.
    #[schema(maximum = 100_000_000)]
    pub test_now_per_minute: Option<u32>,
}

/// The installation's default quotas.
pub fn defaults(state: &AppState) -> Quotas {
    let q = &state.config.api.quotas;
    Quotas {
        max_targets: q.max_targets,
        min_interval_seconds: state.config.api.min_interval_seconds,
        max_timeout_seconds: q.max_timeout_seconds,
        max_headers: q.max_headers,
        max_header_bytes: q.max_header_bytes,
        max_body_bytes: q.max_body_bytes,
        max_assertions: q.max_assertions,
        max_spec_bytes: q.max_spec_bytes,
        max_maintenance_windows: q.max_maintenance_windows,
        max_status_pages: q.max_status_pages,
        max_targets_per_page: q.max_targets_per_page,
        max_channels: q.max_channels,
        test_now_per_minute: q.test_now_per_minute,
    }
}

/// The defaults with the stored overrides (a JSON object) laid over them.
pub fn effective(state: &AppState, overrides: &Value) -> Quotas {
    let mut base = serde_json::to_value(defaults(state)).expect("quotas serialise");
    if let (Some(b), Some(o)) = (base.as_object_mut(), overrides.as_object()) {
        for (k, v) in o {
            if b.contains_key(k) && v.as_u64().is_some() {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(base).unwrap_or_else(|_| defaults(state))
}

/// The overrides as the API shows them (unknown keys dropped).
pub fn overrides_view(overrides: &Value) -> QuotaOverrides {
    let mut map = serde_json::Map::new();
    if let Some(o) = overrides.as_object() {
        for k in QUOTA_KEYS {
            if let Some(v) = o.get(k).filter(|v| v.as_u64().is_some()) {
                map.insert(k.to_owned(), v.clone());
            }
        }
    }
    serde_json::from_value(Value::Object(map)).unwrap_or_default()
}

/// A user's quotas and permission, as stored.
#[derive(Debug, Clone)]
pub struct UserLimits {
    /// Effective quotas.
    pub quotas: Quotas,
    /// Effective private-targets permission (installation switch && (admin || granted)).
    pub may_private_targets: bool,
}

/// Loads `user`'s effective quotas and permission.
pub async fn load(state: &AppState, user: Uuid) -> ApiResult<UserLimits> {
    let row = sqlx::query!(
        r#"select pingtower_may_private(id) as "may!", quota_overrides from organisations where id = $1"#,
        user
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    let (may, overrides) = (row.may, row.quota_overrides);
    Ok(UserLimits {
        quotas: effective(state, &overrides),
        may_private_targets: state.guard.allow_private_targets() && may,
    })
}

/// Refuses when `existing + adding` would pass `limit` (422 naming `field` and the limit).
pub fn check_count(field: &str, what: &str, existing: i64, adding: i64, limit: u32) -> Result<(), ApiError> {
    // Adding nothing never fails (an owner above a lowered quota may still update).
    if adding > 0 && existing + adding > i64::from(limit) {
        return Err(ApiError::validation(
            field,
            format!("the quota of {limit} {what} would be exceeded (you have {existing})"),
        ));
    }
    Ok(())
}

/// Rows a user owns whose number a quota bounds.
#[derive(Debug, Clone, Copy)]
pub enum Counted {
    /// `targets`.
    Targets,
    /// `maintenance_windows`.
    MaintenanceWindows,
    /// `status_pages`.
    StatusPages,
    /// `notification_channels`.
    Channels,
}

impl Counted {
    /// How many of these rows `owner` has.
    async fn count(self, tx: &mut sqlx::PgConnection, owner: Uuid) -> sqlx::Result<i64> {
        // `$rows` names the table and the owner column; each query is checked at build time.
        macro_rules! count {
            ($rows:literal) => {
                sqlx::query_scalar!(r#"select count(*) as "n!" from "# + $rows, owner)
                    .fetch_one(tx)
                    .await
            };
        }
        match self {
            Counted::Targets => count!("targets where owner_id = $1"),
            Counted::MaintenanceWindows => count!("maintenance_windows where owner_id = $1"),
            Counted::StatusPages => count!("status_pages where owner_id = $1"),
            Counted::Channels => count!("notification_channels where owner_id = $1"),
        }
    }

    /// The quota's key (the `field` of a refusal) and what it counts.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Counted::Targets => ("max_targets", "targets"),
            Counted::MaintenanceWindows => ("max_maintenance_windows", "maintenance windows"),
            Counted::StatusPages => ("max_status_pages", "status pages"),
            Counted::Channels => ("max_channels", "notification channels"),
        }
    }

    fn limit(self, q: &Quotas) -> u32 {
        match self {
            Counted::Targets => q.max_targets,
            Counted::MaintenanceWindows => q.max_maintenance_windows,
            Counted::StatusPages => q.max_status_pages,
            Counted::Channels => q.max_channels,
        }
    }
}

/// Inside the transaction that inserts them: locks `owner`'s row and refuses `adding` more
/// rows of `what` over the owner's quota (422 naming the quota and its limit). The lock holds
/// until commit, so concurrent creates count one after the other.
pub async fn reserve(
    tx: &mut sqlx::PgConnection,
    state: &AppState,
    owner: Uuid,
    what: Counted,
    adding: i64,
) -> ApiResult<()> {
    let overrides: Value = sqlx::query_scalar!(
        "select quota_overrides from organisations where id = $1 for update",
        owner
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    let existing = what.count(tx, owner).await?;
    let (field, noun) = what.names();
    check_count(field, noun, existing, adding, what.limit(&effective(state, &overrides)))
}

/// Refuses a status page with more targets than the owner's quota allows.
pub async fn check_page_targets(state: &AppState, owner: Uuid, count: usize) -> ApiResult<()> {
    let limit = load(state, owner).await?.quotas.max_targets_per_page;
    if count > limit as usize {
        return Err(ApiError::validation(
            "targets",
            format!("a status page may show at most {limit} targets (your quota)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_settings_parse_from_the_command_line_beside_every_other_setting() {
        use clap::{CommandFactory, Parser};
        crate::config::Cli::command().debug_assert();
        let cli = crate::config::Cli::try_parse_from([
            "backend",
            "--quota-max-targets",
            "7",
            "--quota-test-now-per-minute",
            "3",
            "--allow-private-targets",
            "true",
        ])
        .unwrap();
        assert_eq!(cli.config.api.quotas.max_targets, 7);
        assert_eq!(cli.config.api.quotas.test_now_per_minute, 3);
        assert_eq!(cli.config.api.quotas.max_headers, QuotaConfig::default().max_headers);
        assert!(cli.config.guard.allow_private_targets);
    }
}
