//! The handler of `incidents.llm`: one event in, one report stored and published.
//!
//! Idempotent on (incident, event kind):
//! 1. A report already stored and published → nothing to do (a redelivery).
//! 2. A report stored but not published (a crash, a broker hiccup) → publish that one.
//! 3. Otherwise write one (LLM or rules), store it (`on conflict do nothing`: a concurrent
//!    copy may win, and then the winner's report is the one published), publish it, mark it.
//!
//! Every publication carries the report id as message id, so the rare double publication
//! (a crash between the broker's confirm and the mark) is harmless downstream.
//!
//! The incident row is written by the incident engine, which may lag behind its own event:
//! when the row is missing, the event is retried (`Transient`) up to
//! `missing_incident_retries` times, keeping the written report so the LLM is asked once;
//! then the report is published without being stored (logged, counted): the owner still gets
//! it. Operator events without a target (`probe_degraded`) are not waited for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bus::{HandlerError, Publisher};
use common::messages::{Envelope, IncidentEvent, IncidentReport};
use sqlx::PgPool;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::language::owner_language;
use crate::store::{self, Stored};
use crate::telemetry;
use crate::writer::Writer;

/// Reports written but not stored yet because their incident row is missing.
#[derive(Debug, Default)]
struct Pending {
    attempts: u32,
    report: Option<IncidentReport>,
}

/// The handler's state. Cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    pool: PgPool,
    publisher: Publisher,
    writer: Writer,
    missing_incident_retries: u32,
    pending: Arc<Mutex<HashMap<Uuid, Pending>>>,
}

impl Reporter {
    /// A handler storing in `pool`, publishing with `publisher`, writing with `writer`.
    pub fn new(pool: PgPool, publisher: Publisher, writer: Writer, missing_incident_retries: u32) -> Self {
        Self {
            pool,
            publisher,
            writer,
            missing_incident_retries,
            pending: Arc::default(),
        }
    }

    /// Handles one event.
    #[tracing::instrument(skip_all, fields(incident_id = %envelope.payload.incident_id, event = envelope.payload.kind.as_str()))]
    pub async fn handle(&self, envelope: Envelope<IncidentEvent>) -> Result<(), HandlerError> {
        let event = &envelope.payload;
        let id = store::report_id(event.incident_id, event.kind);

        if let Some(stored) = store::find(&self.pool, event.incident_id, event.kind)
            .await
            .map_err(HandlerError::transient)?
        {
            if stored.published {
                debug!("report already stored and published; nothing to do");
                return Ok(());
            }
            return self.publish(&envelope, id, stored.report, true).await;
        }

        let report = match self.take_pending(id) {
            Some(report) => report,
            None => {
                let target = event.target.as_ref();
                let lang = owner_language(
                    &self.pool,
                    event.incident_id,
                    target.map(|t| t.id),
                    target.map(|t| t.owner_id),
                )
                .await
                .map_err(HandlerError::transient)?;
                self.writer.write(event, lang).await
            }
        };

        match store::store(&self.pool, &report).await {
            Ok(Stored::Row(stored)) => {
                self.forget(id);
                if let Some(group) = &event.group {
                    store::store_group_report(&self.pool, group.id, &stored.report)
                        .await
                        .map_err(HandlerError::transient)?;
                }
                if stored.published {
                    return Ok(());
                }
                self.publish(&envelope, id, stored.report, true).await
            }
            Ok(Stored::IncidentMissing) => {
                let attempts = self.keep_pending(id, report.clone());
                if event.target.is_some() && attempts <= self.missing_incident_retries {
                    return Err(HandlerError::transient(anyhow::anyhow!(
                        "incident row not written yet (attempt {attempts} of {})",
                        self.missing_incident_retries
                    )));
                }
                warn!(
                    attempts,
                    "incident row missing; publishing the report without storing it"
                );
                telemetry::unstored();
                self.forget(id);
                self.publish(&envelope, id, report, false).await
            }
            Err(error) => {
                // Keep the report: the retry stores it without asking the LLM again.
                self.keep_pending(id, report);
                self.unbump(id);
                Err(HandlerError::transient(error))
            }
        }
    }

    async fn publish(
        &self,
        cause: &Envelope<IncidentEvent>,
        id: Uuid,
        report: IncidentReport,
        stored: bool,
    ) -> Result<(), HandlerError> {
        let source = report.source.clone();
        let event = cause.payload.kind.as_str();
        let envelope = Envelope::caused_by(cause.correlation_id, report).with_message_id(id);
        self.publisher
            .publish(&envelope)
            .await
            .map_err(HandlerError::transient)?;
        telemetry::published(&source, event);
        info!(%source, message_id = %id, "report published");
        if stored {
            // Best effort: if this fails, a redelivery publishes the same report again (same id).
            if let Err(error) = store::mark_published(&self.pool, cause.payload.incident_id, cause.payload.kind).await {
                warn!(%error, "could not mark the report published");
            }
        }
        Ok(())
    }

    fn take_pending(&self, id: Uuid) -> Option<IncidentReport> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.get_mut(&id).and_then(|p| p.report.take())
    }

    /// Keeps `report` for the next attempt; returns how many attempts found no incident row.
    fn keep_pending(&self, id: Uuid, report: IncidentReport) -> u32 {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let p = pending.entry(id).or_default();
        p.attempts += 1;
        p.report = Some(report);
        p.attempts
    }

    /// Undoes the attempt count of [`Self::keep_pending`] (a database error is not a missing row).
    fn unbump(&self, id: Uuid) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pending.get_mut(&id) {
            p.attempts = p.attempts.saturating_sub(1);
        }
    }

    fn forget(&self, id: Uuid) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}
