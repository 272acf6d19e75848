//! PingTower's one shared library: everything the binaries have in common.
//!
//! # Layout
//! - [`config`]: the clap + env pieces every binary flattens into its own config.
//! - [`telemetry`]: one logging setup (JSON or pretty, `RUST_LOG` filter).
//! - [`shutdown`]: a cancellation token fired by SIGINT/SIGTERM.
//! - [`health`]: `/healthz`, `/readyz`, `/metrics` and the server that serves them.
//! - [`messages`]: the envelope, the four message contracts and every AMQP name.
//! - [`topology`]: the declared shape of exchanges and quorum queues, declare and verify.
//! - [`amqp`]: the connection supervisor, the confirming publisher and typed consumers.
//! - [`db`]: the PostgreSQL pool and migrator, the ClickHouse client and migration runner.
//! - [`netguard`]: which addresses monitored targets may point at (SSRF guard).
//! - [`backoff`]: exponential backoff with jitter.
//! - `testing` (feature): fresh vhosts and databases for integration tests, and `samples`:
//!   fixed sample messages.

pub mod amqp;
pub mod backoff;
pub mod config;
pub mod db;
pub mod health;
pub mod messages;
pub mod netguard;
pub mod shutdown;
pub mod telemetry;
pub mod topology;

#[cfg(any(test, feature = "testing"))]
pub mod samples;
#[cfg(feature = "testing")]
pub mod testing;
