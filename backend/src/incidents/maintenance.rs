//! Maintenance windows: one-off or recurring (daily, weekly), for a target or every target
//! with a tag. Inside one, results are recorded and the state machine runs, but no incident
//! opens.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// How a window repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    /// Once.
    Once,
    /// Every day at the same time.
    Daily,
    /// Every week at the same time.
    Weekly,
}

impl Recurrence {
    /// From the column (`null`, `daily`, `weekly`).
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("daily") => Recurrence::Daily,
            Some("weekly") => Recurrence::Weekly,
            _ => Recurrence::Once,
        }
    }

    fn period(self) -> Option<Duration> {
        match self {
            Recurrence::Once => None,
            Recurrence::Daily => Some(Duration::days(1)),
            Recurrence::Weekly => Some(Duration::weeks(1)),
        }
    }
}

/// One maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Owner.
    pub owner_id: Uuid,
    /// The target it covers, if any.
    pub target_id: Option<Uuid>,
    /// The tag whose targets it covers, if any.
    pub tag: Option<String>,
    /// First start.
    pub starts_at: DateTime<Utc>,
    /// First end.
    pub ends_at: DateTime<Utc>,
    /// Repetition.
    pub recurrence: Recurrence,
}

impl Window {
    /// Whether the window is on at `at` (start included, end excluded).
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        if at < self.starts_at {
            return false;
        }
        let length = self.ends_at - self.starts_at;
        match self.recurrence.period() {
            None => at < self.ends_at,
            Some(period) => {
                let since = (at - self.starts_at).num_seconds();
                since.rem_euclid(period.num_seconds().max(1)) < length.num_seconds()
            }
        }
    }

    /// Whether the window covers `target` (of `owner`, with `tags`) at `at`.
    pub fn covers(&self, owner: Uuid, target: Uuid, tags: &[String], at: DateTime<Utc>) -> bool {
        self.owner_id == owner
            && (self.target_id == Some(target) || self.tag.as_ref().is_some_and(|t| tags.contains(t)))
            && self.active_at(at)
    }

    /// Every window of these owners.
    pub async fn load_for_owners(conn: &mut PgConnection, owners: &[Uuid]) -> Result<Vec<Window>, sqlx::Error> {
        let rows = sqlx::query!(
            "select owner_id, target_id, tag, starts_at, ends_at, recurrence from maintenance_windows
             where owner_id = any($1)",
            owners
        )
        .fetch_all(conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Window {
                owner_id: r.owner_id,
                target_id: r.target_id,
                tag: r.tag,
                starts_at: r.starts_at,
                ends_at: r.ends_at,
                recurrence: Recurrence::parse(r.recurrence.as_deref()),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn one_off_and_recurring_windows_cover_the_right_instants() {
        let w = Window {
            owner_id: Uuid::nil(),
            target_id: Some(Uuid::nil()),
            tag: None,
            starts_at: t("2026-11-01T02:00:00Z"),
            ends_at: t("2026-11-01T03:00:00Z"),
            recurrence: Recurrence::Once,
        };
        assert!(w.active_at(t("2026-11-01T02:00:00Z")));
        assert!(w.active_at(t("2026-11-01T02:59:59Z")));
        assert!(!w.active_at(t("2026-11-01T03:00:00Z")));
        assert!(!w.active_at(t("2026-11-02T02:30:00Z")));
        let recurring = |recurrence| Window {
            recurrence,
            ..w.clone()
        };
        let daily = recurring(Recurrence::Daily);
        assert!(daily.active_at(t("2026-11-09T02:30:00Z")));
        assert!(!daily.active_at(t("2026-11-09T03:30:00Z")));
        assert!(!daily.active_at(t("2026-10-31T02:30:00Z")));
        let weekly = recurring(Recurrence::Weekly);
        assert!(weekly.active_at(t("2026-11-08T02:30:00Z")));
        assert!(!weekly.active_at(t("2026-11-09T02:30:00Z")));
        let tagged = Window {
            target_id: None,
            tag: Some("db".into()),
            ..w
        };
        let other = Uuid::from_u128(7);
        assert!(tagged.covers(Uuid::nil(), other, &["db".into()], t("2026-11-01T02:10:00Z")));
        assert!(!tagged.covers(Uuid::nil(), other, &["web".into()], t("2026-11-01T02:10:00Z")));
        assert!(!tagged.covers(other, other, &["db".into()], t("2026-11-01T02:10:00Z")));
    }
}
