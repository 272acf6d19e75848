//! PingTower's messaging, all of it, spoken by lapin over plain and TLS connections alike.
//!
//! # Layout
//! - [`supervisor`]: [`Broker`], the supervised connections (reconnect with backoff, topology
//!   re-declared on every connect, `connection.blocked` tracked).
//! - [`publish`]: [`Publisher`], typed, persistent, `mandatory`, with publisher confirms.
//! - [`consume`]: the one consume engine: a message is a batch of one; batch size, wait,
//!   concurrent writers and prefetch are [`ConsumerOptions`].
//! - [`request`]: request/reply over a private reply queue ("Test now").
//! - [`management`]: a small client of RabbitMQ's management HTTP API.
//! - [`topology`]: the declared shape of exchanges and quorum queues, declare and verify.
//! - [`telemetry`]: metric names and their descriptions.
//! - `testing` (feature): a fresh vhost per integration test.
//!
//! Exchange and queue names, and the message contracts, live in `common::messages`; this
//! crate depends on `common`, never the reverse.
//!
//! # Which connection carries what
//!
//! A [`Broker`] holds **two** connections to the broker, each opened on first use:
//! - the *consuming* connection carries every consumer ([`consume()`], [`consume_batches`])
//!   with its acks, the reply queues of [`request()`], and topology declares;
//! - the *publishing* connection carries every publication of every [`Publisher`] built on
//!   that broker (answers and replies included), and nothing else.
//!
//! RabbitMQ blocks a connection that publishes while a memory or disk alarm is raised, and a
//! blocked lapin connection writes nothing at all — acks included. Publishing on a connection
//! of its own means such flow control only ever pauses publishers (which wait, then fail
//! transiently: see [`publish`]); consumers keep receiving and acking.
//!
//! Delivery semantics: a publication returns only once the broker confirmed it (an
//! unroutable, nacked or unconfirmed message is an error); consumers ack only after their
//! handler's effect is done, so every effect happens at least once and handlers are
//! idempotent.

pub mod consume;
pub mod management;
pub mod publish;
pub mod request;
pub mod supervisor;
pub mod telemetry;
pub mod topology;

#[cfg(feature = "testing")]
pub mod testing;

pub use consume::{ConsumerOptions, DeliveryInfo, HandlerError, consume, consume_batches};
pub use management::Management;
pub use publish::{PublishError, Publisher};
pub use request::{RequestError, request};
pub use supervisor::{AmqpError, Broker, DEFAULT_HEARTBEAT_SECS, ReadinessExt, vhost_of, with_default_heartbeat};
pub use topology::Topology;
