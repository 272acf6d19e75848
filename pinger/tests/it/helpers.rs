//! Shared helpers of the integration tests.

use common::testing::RunningService;
use std::time::Duration;

use common::config::GuardConfig;
use common::messages::{CheckSpec, FailureKind, HttpSpec, Outcome};
use common::netguard::Guard;
use pinger::Engine;
use pinger::report::Report;

pub use crate::support::*;

/// Guard settings of an installation that allows private targets (or not).
pub fn guard_config(allow_private_targets: bool) -> GuardConfig {
    GuardConfig {
        allow_private_targets,
        ..Default::default()
    }
}

/// An engine that may reach loopback (every test server lives there): the operator's, on an
/// installation allowing private targets, protecting nothing.
pub fn engine() -> Engine {
    Engine::new(Guard::from_parts(&guard_config(true), Vec::new()), None, None)
        .unwrap()
        .operator()
}

/// An engine that trusts `pki`'s CA.
#[allow(dead_code)]
pub fn engine_trusting(pki: &Pki) -> Engine {
    Engine::new(
        Guard::from_parts(&guard_config(true), Vec::new()),
        None,
        Some(&pki.ca_file),
    )
    .unwrap()
    .operator()
}

/// An engine with the production policy (private targets refused).
#[allow(dead_code)]
pub fn strict_engine() -> Engine {
    Engine::new(Guard::from_parts(&guard_config(false), Vec::new()), None, None).unwrap()
}

/// Runs an HTTP check with a given spec.
pub async fn run_http(engine: &Engine, spec: HttpSpec) -> Report {
    let budget = Duration::from_millis(u64::from(spec.timeout_ms));
    engine.run(&CheckSpec::Http(spec), budget).await
}

/// Runs a GET of `url`.
pub async fn get(engine: &Engine, url: &str) -> Report {
    run_http(engine, HttpSpec::get(url)).await
}

/// The assertion that the body contains `value`.
pub fn contains(value: &str) -> common::messages::Assertion {
    common::messages::Assertion::BodyContains { value: value.into() }
}

/// The assertion that the header `name` equals `value`.
pub fn header_equals(name: &str, value: &str) -> common::messages::Assertion {
    common::messages::Assertion::HeaderEquals {
        name: name.into(),
        value: value.into(),
    }
}

/// The failure kind of a report (None when up).
pub fn kind(report: &Report) -> Option<FailureKind> {
    report.verdict().1.map(|f| f.kind)
}

/// The outcome of a report.
pub fn outcome(report: &Report) -> Outcome {
    report.verdict().0
}

/// Pinger config for a service test against `broker`.
pub fn config(broker: &bus::testing::TestBroker) -> pinger::Config {
    pinger::Config {
        command: None,
        amqp: broker.config.clone(),
        http: common::config::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
        },
        guard: guard_config(true),
        pinger: pinger::PingerConfig {
            concurrency: 16,
            id: Some("test-pinger".into()),
            ..Default::default()
        },
    }
}

/// A plain HTTP server on 127.0.0.1 answering every path 200 with `body`.
pub async fn answering(body: &'static str) -> TestServer {
    TestServer::http("127.0.0.1", std::sync::Arc::new(move |_: &str| Reply::ok(body))).await
}

/// A job (see [`job`]) to GET `path` of `server` over plain HTTP.
pub fn get_job(server: &TestServer, path: &str, deadline_s: i64) -> common::messages::CheckJob {
    job(CheckSpec::Http(HttpSpec::get(server.url("http", path))), deadline_s)
}

/// A jobs message carrying `job` alone.
pub fn one_job(job: common::messages::CheckJob) -> common::messages::Envelope<common::messages::CheckJobs> {
    common::messages::Envelope::new(common::messages::CheckJobs::one(job))
}

/// A jobs message carrying `jobs`.
pub fn jobs_message(jobs: Vec<common::messages::CheckJob>) -> common::messages::Envelope<common::messages::CheckJobs> {
    common::messages::Envelope::new(common::messages::CheckJobs {
        region: common::messages::DEFAULT_REGION.into(),
        jobs,
    })
}

/// A job for `spec` in the default region, due now, stale in `deadline_s` seconds.
pub fn job(spec: common::messages::CheckSpec, deadline_s: i64) -> common::messages::CheckJob {
    let now = chrono::Utc::now();
    common::messages::CheckJob {
        job_id: uuid::Uuid::now_v7(),
        target_id: uuid::Uuid::now_v7(),
        owner_id: None,
        allow_private: true,
        region: common::messages::DEFAULT_REGION.into(),
        scheduled_for: now,
        deadline: now + chrono::Duration::seconds(deadline_s),
        spec,
    }
}

/// How long a stored result may take to arrive.
const RESULT_WAIT: Duration = Duration::from_secs(30);

/// The next result on `results.store` (waiting up to 30 s), or a panic saying `what` was missing.
pub async fn next_result(
    broker: &bus::testing::TestBroker,
    what: &str,
) -> common::messages::Envelope<common::messages::CheckResult> {
    broker
        .next_message(common::messages::RESULTS_STORE_QUEUE, RESULT_WAIT)
        .await
        .unwrap_or_else(|| panic!("{what} within {RESULT_WAIT:?}"))
}

/// Whether `queue` stays empty for half a second.
pub async fn stays_empty(broker: &bus::testing::TestBroker, queue: &str) -> bool {
    broker.next_raw(queue, Duration::from_millis(500)).await.is_none()
}

/// A running pinger service inside the test.
pub struct Service;

impl Service {
    /// Starts the service with `config`.
    pub async fn start(config: pinger::Config) -> RunningService {
        RunningService::spawn(|shutdown, on_bound| pinger::run_with(config, shutdown, on_bound)).await
    }
}
