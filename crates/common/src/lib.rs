//! PingTower's one shared library: everything the binaries have in common.
//!
//! # Layout
//! - [`config`]: the clap + env pieces every binary flattens into its own config.
//! - [`telemetry`]: one logging setup (JSON or pretty, `RUST_LOG` filter) and the metric
//!   tables ([`declare_metrics!`]).
//! - [`shutdown`]: a cancellation token fired by SIGINT/SIGTERM.
//! - [`health`]: `/healthz`, `/readyz`, `/metrics` and the server that serves them.
//! - [`service`]: the start-up and stop every binary shares (logging, configuration, shutdown
//!   token, recorder, metric descriptions, ops server and other listeners).
//! - [`messages`]: the envelope, the four message contracts and every AMQP name (the only
//!   place naming exchanges and queues; the `bus` crate speaks them).
//! - [`archive_day`]: the compact archive's row (one target's day of results) and its keep rules.
//! - [`db`]: the PostgreSQL pool and migrator, the ClickHouse client and migration runner.
//! - [`fault`]: fault points for crash tests (exit at a named place).
//! - [`netguard`]: which addresses monitored targets may point at (SSRF guard).
//! - [`sealed`]: write-only secrets at rest (ChaCha20-Poly1305 under `PINGTOWER_SECRET_KEY`).
//! - [`ack`]: signed acknowledgement links (an HMAC under the same key's signing half).
//! - [`backoff`]: exponential backoff with jitter.
//! - [`html`]: HTML escaping for the pages and messages written by hand.
//! - [`i18n`]: the [`i18n::Language`] type, the Fluent message catalogs (`locales/`) and the
//!   one duration formatter.
//! - `testing` (feature): fresh databases for integration tests (fresh vhosts are in
//!   `bus::testing`), and `samples`:
//!   fixed sample messages.

pub mod ack;
pub mod archive_day;
pub mod backoff;
pub mod config;
pub mod db;
pub mod fault;
pub mod health;
pub mod html;
pub mod i18n;
pub mod messages;
pub mod netguard;
pub mod sealed;
pub mod service;
pub mod shutdown;
pub mod telemetry;

#[cfg(any(test, feature = "testing"))]
pub mod samples;
#[cfg(feature = "testing")]
pub mod testing;
