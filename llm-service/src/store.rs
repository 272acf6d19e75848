//! Reports in PostgreSQL: one per incident and event kind (`incident_reports`, unique
//! `(incident_id, event_kind)`), marked once their publication is confirmed.
//!
//! The row id is also the published message id: a UUID v5 of the incident and the event kind,
//! so every copy of a report, whoever writes or re-publishes it, carries the same id.

use common::messages::{IncidentEventKind, IncidentReport};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

/// Namespace of report ids (a fixed random UUID).
const REPORT_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_2b8e_7f4a_4c1e_9b3d_0a6e_8f21_c947);

/// The id of the report of `incident_id`'s `kind` event: stored row id and message id.
pub fn report_id(incident_id: Uuid, kind: IncidentEventKind) -> Uuid {
    Uuid::new_v5(&REPORT_NAMESPACE, format!("{incident_id}/{}", kind.as_str()).as_bytes())
}

/// A stored report and whether its publication was confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    /// The report.
    pub report: IncidentReport,
    /// Its publication was confirmed before.
    pub published: bool,
}

/// What storing a report did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// It is stored now (or was already: then the stored one is returned, not the new one).
    Row(StoredReport),
    /// The incident has no row (yet): nothing was stored.
    IncidentMissing,
}

/// A report's row.
struct ReportRow {
    report: Json<IncidentReport>,
    published: bool,
}

/// The stored report of `incident_id`'s `kind` event, if any.
pub async fn find(
    pool: &PgPool,
    incident_id: Uuid,
    kind: IncidentEventKind,
) -> Result<Option<StoredReport>, sqlx::Error> {
    let row = sqlx::query_as!(
        ReportRow,
        r#"select report as "report: Json<IncidentReport>", published_at is not null as "published!"
         from incident_reports where incident_id = $1 and event_kind = $2"#,
        incident_id,
        kind.as_str()
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| StoredReport {
        report: r.report.0,
        published: r.published,
    }))
}

/// Stores `report` unless its incident already has one for this event kind; returns the one
/// that is stored.
pub async fn store(pool: &PgPool, report: &IncidentReport) -> Result<Stored, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into incident_reports (id, incident_id, event_kind, language, source, report)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (incident_id, event_kind) do nothing",
        report_id(report.incident_id, report.event_kind),
        report.incident_id,
        report.event_kind.as_str(),
        &report.language,
        &report.source,
        Json(report) as _
    )
    .execute(pool)
    .await;
    match inserted {
        Ok(done) if done.rows_affected() == 1 => Ok(Stored::Row(StoredReport {
            report: report.clone(),
            published: false,
        })),
        Ok(_) => find(pool, report.incident_id, report.event_kind)
            .await?
            .map(Stored::Row)
            .ok_or(sqlx::Error::RowNotFound),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(Stored::IncidentMissing),
        Err(e) => Err(e),
    }
}

/// Keeps `report` as the report of `group` unless the group has a newer one (members' reports
/// arrive in any order; the newest knows the most members).
pub async fn store_group_report(pool: &PgPool, group: Uuid, report: &IncidentReport) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update incident_groups set report = $2, report_at = $3, updated_at = now()
         where id = $1 and (report_at is null or report_at <= $3)",
        group,
        Json(report) as _,
        report.generated_at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records that the report's publication was confirmed.
pub async fn mark_published(pool: &PgPool, incident_id: Uuid, kind: IncidentEventKind) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update incident_reports set published_at = now()
         where incident_id = $1 and event_kind = $2 and published_at is null",
        incident_id,
        kind.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ids_are_deterministic_per_incident_and_kind() {
        let incident = Uuid::from_u128(42);
        assert_eq!(
            report_id(incident, IncidentEventKind::Opened),
            report_id(incident, IncidentEventKind::Opened)
        );
        assert_ne!(
            report_id(incident, IncidentEventKind::Opened),
            report_id(incident, IncidentEventKind::Resolved)
        );
        assert_eq!(report_id(incident, IncidentEventKind::Opened).get_version_num(), 5);
    }
}
