//! The job handler: run each job of a message (or report a stale job as skipped), publish
//! each result with confirms (or answer a "Test now" request on its reply queue), and only
//! then ack the message.

use std::time::Duration;

use bus::{DeliveryInfo, HandlerError, PublishError, Publisher};
use chrono::Utc;
use common::messages::{CheckJob, CheckJobs, Envelope};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::canary::Canaries;
use crate::engine::Engine;
use crate::report::{self, Identity};
use crate::share::{Refusal, Slots};
use crate::telemetry;

/// Everything a job handler needs. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    /// Runs the checks.
    pub engine: Engine,
    /// Publishes results.
    pub publisher: Publisher,
    /// Region and pinger id.
    pub identity: Identity,
    /// The egress canaries' verdict.
    pub canaries: Canaries,
    /// Metric handles, registered once.
    pub metrics: telemetry::Handles,
    /// The check slots and each owner's share of them.
    pub slots: Slots,
    /// Ends the waits for a slot when the pinger stops.
    pub shutdown: CancellationToken,
}

/// Decrements the in-flight gauge when a check ends, however it ends.
struct InFlight<'a>(&'a metrics::Gauge);

impl<'a> InFlight<'a> {
    fn start(gauge: &'a metrics::Gauge) -> Self {
        gauge.increment(1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl Worker {
    /// Runs one job to its published result.
    pub async fn run_job(&self, job: &CheckJob) -> common::messages::CheckResult {
        let now = Utc::now();
        if now >= job.deadline {
            self.metrics.skipped.increment(1);
            return report::skipped(job, &self.identity, now);
        }
        let lag = (now - job.scheduled_for).num_milliseconds() as f64 / 1000.0;
        self.metrics.lag.record(lag.max(0.0));
        let until_deadline = (job.deadline - now).to_std().unwrap_or_default();
        let budget = Duration::from_millis(u64::from(job.spec.timeout_ms())).min(until_deadline);
        let _in_flight = InFlight::start(&self.metrics.in_flight);
        let started = Utc::now();
        // Boxed: the check's state machine is large, and inline it would be copied into
        // every delivery's task, stale jobs included.
        let report = Box::pin(self.engine.run_as(&job.spec, budget, job.allow_private)).await;
        let result = report.into_result(job, &self.identity, started, Utc::now(), self.canaries.degraded());
        self.metrics.record(&result);
        result
    }

    /// Waits for a check slot within the owner's share. Err(Some) is the skipped result to
    /// publish instead of running the job; Err(None) means the pinger is shutting down.
    async fn take_slot(&self, job: &CheckJob) -> Result<crate::share::Slot, Option<common::messages::CheckResult>> {
        let now = Utc::now();
        if now >= job.deadline {
            self.metrics.skipped.increment(1);
            return Err(Some(report::skipped(job, &self.identity, now)));
        }
        let held_back = || self.metrics.share_waited.increment(1);
        let reason = match self
            .slots
            .acquire(job.owner_id, job.deadline, &self.shutdown, held_back)
            .await
        {
            Ok(slot) => return Ok(slot),
            Err(Refusal::ShuttingDown) => return Err(None),
            Err(Refusal::OverShare { limit }) => {
                self.metrics.share_refused.increment(1);
                format!("the owner is over its share of this pinger ({limit} of its jobs already in hand)")
            }
            Err(Refusal::Deadline { for_share: true }) => {
                "the owner's other checks held its share of this pinger's slots until the deadline".to_owned()
            }
            Err(Refusal::Deadline { for_share: false }) => {
                "every check slot of this pinger was busy until the deadline".to_owned()
            }
        };
        self.metrics.skipped.increment(1);
        Err(Some(report::skipped_because(job, &self.identity, Utc::now(), &reason)))
    }

    /// The consumer's handler: runs every job of the message at once (each within its
    /// owner's share of the slots), publishes each result with confirms as soon as it is
    /// ready, and acks the message when every result is confirmed.
    ///
    /// A failed publish fails the whole message transiently: it is requeued and every job
    /// runs again, and the results that were already confirmed are published again under the
    /// same ids, which every consumer of results takes once.
    pub async fn handle(&self, envelope: Envelope<CheckJobs>, info: DeliveryInfo) -> Result<(), HandlerError> {
        let batch = &envelope.payload;
        if let Err(problem) = batch.validate() {
            return Err(HandlerError::permanent(anyhow::anyhow!(
                "a malformed jobs message: {problem}"
            )));
        }
        if info.redelivered {
            debug!(jobs = batch.jobs.len(), "redelivered jobs");
        }
        let outcomes = futures::future::join_all(
            batch
                .jobs
                .iter()
                .map(|job| self.handle_job(job, envelope.correlation_id, &info)),
        )
        .await;
        // A permanent failure (a result that cannot be encoded) sends the message to the
        // dead-letter queue; any other failure requeues it.
        let mut failure: Option<HandlerError> = None;
        for e in outcomes.into_iter().filter_map(Result::err) {
            if failure.is_none() || matches!(e, HandlerError::Permanent(_)) {
                failure = Some(e);
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Runs one job of a message (or reports it skipped) and publishes its result.
    async fn handle_job(
        &self,
        job: &CheckJob,
        correlation_id: uuid::Uuid,
        info: &DeliveryInfo,
    ) -> Result<(), HandlerError> {
        let result = match self.take_slot(job).await {
            Ok(slot) => {
                let result = self.run_job(job).await;
                drop(slot);
                result
            }
            Err(Some(skipped)) => skipped,
            // Requeued by the consumer: another pinger (or this one, restarted) runs it.
            Err(None) => {
                return Err(HandlerError::transient(anyhow::anyhow!(
                    "shutting down before the job got a slot"
                )));
            }
        };
        let id = result.result_id;
        let out = Envelope::caused_by(correlation_id, result).with_message_id(id);
        match self.publisher.answer(info, &out).await {
            Ok(()) => Ok(()),
            // The requester gave up and its reply queue is gone: nobody wants the answer.
            Err(PublishError::Unroutable { .. }) if info.reply_to.is_some() => {
                warn!(job_id = %job.job_id, queue = info.reply_to.as_deref(), "the reply queue is gone; dropping the answer");
                Ok(())
            }
            Err(PublishError::Encode(e)) => Err(HandlerError::permanent(e)),
            Err(e) => Err(HandlerError::transient(e)),
        }
    }
}
