//! What the bus tests share: a publisher, fresh jobs, and a consumer that records the id of
//! every job it handles, to tell that nothing published was lost.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::testing::TestBroker;
use bus::{ConsumerOptions, HandlerError, Publisher, consume};
use common::messages::*;
use common::samples;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The queue the recorded jobs travel through.
pub const JOBS_QUEUE: &str = "jobs.default";

/// Job ids seen by a consumer.
pub type Ledger = Arc<Mutex<HashSet<Uuid>>>;
/// A running consumer.
pub type Consuming = tokio::task::JoinHandle<Result<(), bus::AmqpError>>;

/// A publisher named `test-publisher` whose publications time out after 20 s, stopped by
/// `shutdown`.
pub fn publisher(broker: &TestBroker, shutdown: &CancellationToken) -> Publisher {
    Publisher::new(
        broker.broker("test-publisher", shutdown.clone()),
        Duration::from_secs(20),
    )
}

/// A consumer of `jobs.default` recording every job id it handles.
pub fn record_jobs(broker: &TestBroker, shutdown: &CancellationToken) -> (Ledger, Consuming) {
    let options = ConsumerOptions::new(JOBS_QUEUE).concurrency(8);
    record::<CheckJobs>(broker, shutdown, options, |jobs| jobs.jobs[0].job_id, |_| Ok(()))
}

/// A consumer of `T` recording the id (`id_of`) of every message that `judge` lets through;
/// what it refuses fails with its error, what it panics on panics the handler.
pub fn record<T: Message>(
    broker: &TestBroker,
    shutdown: &CancellationToken,
    options: ConsumerOptions,
    id_of: fn(&T) -> Uuid,
    judge: impl Fn(Uuid) -> Result<(), HandlerError> + Clone + Send + Sync + 'static,
) -> (Ledger, Consuming) {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let consumer_broker = broker.broker("test-consumer", shutdown.clone());
    let handler_seen = seen.clone();
    let shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        consume::<T, _, _>(&consumer_broker, options, shutdown, move |env, _| {
            let (seen, judge) = (handler_seen.clone(), judge.clone());
            async move {
                let id = id_of(&env.payload);
                judge(id)?;
                seen.lock().unwrap().insert(id);
                Ok(())
            }
        })
        .await
    });
    (seen, task)
}

/// A message of one job with an id of its own.
pub fn new_job() -> Envelope<CheckJobs> {
    let mut job = samples::check_job();
    job.job_id = Uuid::new_v4();
    Envelope::new(CheckJobs::one(job))
}

/// Waits until every job of `expected` is in `seen`, or panics after `timeout`. (The backend's
/// realworld test has its own: these tests cannot share a helper but through bus::testing.)
pub async fn wait_until_seen(seen: &Ledger, expected: &HashSet<Uuid>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let missing = expected.difference(&seen.lock().unwrap()).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} never consumed",
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
