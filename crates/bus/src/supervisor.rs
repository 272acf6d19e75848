//! The connection supervisor: [`Broker`].
//!
//! lapin does not recover connections on its own reliably (lapin#288, #450), so [`Broker`]
//! supervises its connections: when one is found dead, the next caller reconnects with
//! backoff and jitter and re-declares the topology. Publishers resend what was not
//! confirmed; consumers re-subscribe. Nothing here restarts the process.
//!
//! Each broker holds a consuming and a publishing connection (see the crate docs for which
//! carries what). Every connection's `connection.blocked` / `connection.unblocked`
//! notifications are followed from lapin's [`lapin::Event`] stream, so a publisher can wait
//! for the broker to lift its alarm instead of writing into a connection that sends nothing.

use std::sync::Arc;
use std::time::Duration;

use common::backoff::Backoff;
use common::health::Readiness;
use futures::StreamExt;
use lapin::{Connection, ConnectionProperties, Event};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::management::percent_decode;
use crate::topology::{DeclareError, Topology};

/// How long one connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of the supervisor.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// Shutdown was requested while waiting for the broker.
    #[error("shutting down")]
    ShuttingDown,
    /// The topology conflicts with what the broker has; retrying will not help.
    #[error(transparent)]
    Topology(DeclareError),
    /// The broker could not be reached or refused.
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    /// A connection attempt took too long.
    #[error("connecting to the broker timed out")]
    Timeout,
}

/// Why the broker blocks a connection (`None`: it does not).
pub(crate) type Blocked = watch::Receiver<Option<String>>;

/// One live connection and its blocked state.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) connection: Arc<Connection>,
    pub(crate) blocked: Blocked,
}

/// Which of a broker's connections (see the crate docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    Consume,
    Publish,
}

/// A supervised pair of connections to RabbitMQ. Cheap to clone; clones share them.
#[derive(Clone)]
pub struct Broker {
    pub(crate) inner: Arc<BrokerInner>,
}

pub(crate) struct BrokerInner {
    uri: SecretString,
    name: String,
    topology: Topology,
    consuming: Mutex<Option<Live>>,
    publishing: Mutex<Option<Live>>,
    pub(crate) shutdown: CancellationToken,
}

impl Broker {
    /// A broker handle; nothing connects until first use.
    ///
    /// `name` shows in the management UI (the publishing connection as `<name> (publish)`);
    /// `topology` is declared on every (re)connect. `shutdown` ends waits for the broker.
    pub fn new(uri: SecretString, name: impl Into<String>, topology: Topology, shutdown: CancellationToken) -> Self {
        Self {
            inner: Arc::new(BrokerInner {
                uri: with_default_heartbeat(uri.expose_secret()).into(),
                name: name.into(),
                topology,
                consuming: Mutex::new(None),
                publishing: Mutex::new(None),
                shutdown,
            }),
        }
    }

    /// A service's broker: `config`'s URI, the topology of `config`'s regions, connections
    /// named `name`.
    pub fn from_config(
        config: &common::config::AmqpConfig,
        name: impl Into<String>,
        shutdown: CancellationToken,
    ) -> Self {
        Self::new(config.amqp_url.clone(), name, Topology::new(&config.regions), shutdown)
    }

    /// The topology this broker declares.
    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// The name its connections carry.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The live consuming connection, reconnecting with backoff and jitter until one is up
    /// or shutdown is requested. A topology conflict is returned at once (it needs an
    /// operator).
    pub async fn connection(&self) -> Result<Arc<Connection>, AmqpError> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            match self.try_connection().await {
                Ok(conn) => return Ok(conn),
                Err(AmqpError::Topology(e)) => return Err(AmqpError::Topology(e)),
                Err(e) => {
                    let delay = backoff.next_delay();
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, broker = %self.inner.name, "broker unavailable");
                    tokio::select! {
                        _ = self.inner.shutdown.cancelled() => return Err(AmqpError::ShuttingDown),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// The live consuming connection, or one connection attempt (declaring the topology).
    pub async fn try_connection(&self) -> Result<Arc<Connection>, AmqpError> {
        Ok(self.live(Role::Consume).await?.connection)
    }

    /// The live connection of `role`, or one connection attempt (declaring the topology).
    pub(crate) async fn live(&self, role: Role) -> Result<Live, AmqpError> {
        let (slot, name) = match role {
            Role::Consume => (&self.inner.consuming, self.inner.name.clone()),
            Role::Publish => (&self.inner.publishing, format!("{} (publish)", self.inner.name)),
        };
        let mut slot = slot.lock().await;
        if let Some(live) = slot.as_ref() {
            if live.connection.status().connected() {
                return Ok(live.clone());
            }
            metrics::counter!(crate::telemetry::RECONNECTS, "connection" => name.clone()).increment(1);
        }
        *slot = None;
        let props = ConnectionProperties::default().with_connection_name(name.clone().into());
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            Connection::connect(self.inner.uri.expose_secret(), props),
        )
        .await
        .map_err(|_| AmqpError::Timeout)??;
        // Listened to before anything is published: lapin only queues events once a listener
        // exists.
        let blocked = follow_blocked(&conn, name.clone());
        self.inner.topology.declare(&conn).await.map_err(|e| match e {
            DeclareError::Amqp(e) => AmqpError::Amqp(e),
            conflict => AmqpError::Topology(conflict),
        })?;
        info!(connection = %name, "connected to the broker");
        let live = Live {
            connection: Arc::new(conn),
            blocked,
        };
        *slot = Some(live.clone());
        Ok(live)
    }

    /// Whether the consuming connection is up right now (for readiness).
    pub async fn is_connected(&self) -> bool {
        match self.inner.consuming.try_lock() {
            Ok(slot) => slot.as_ref().is_some_and(|l| l.connection.status().connected()),
            // Someone is connecting right now.
            Err(_) => false,
        }
    }

    /// Closes both connections, if open.
    pub async fn close(&self) {
        for slot in [&self.inner.consuming, &self.inner.publishing] {
            if let Some(live) = slot.lock().await.take() {
                let _ = live.connection.close(200, "shutdown".into()).await;
            }
        }
    }
}

/// Follows `conn`'s blocked / unblocked notifications into a watch channel, until the
/// connection's events end or nobody watches any more.
fn follow_blocked(conn: &Connection, name: String) -> Blocked {
    let (tx, rx) = watch::channel(None);
    let mut events = conn.events_listener();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let sent = match event {
                Event::ConnectionBlocked(reason) => {
                    warn!(connection = %name, %reason, "the broker blocks publishing on this connection");
                    tx.send(Some(reason))
                }
                Event::ConnectionUnblocked => {
                    info!(connection = %name, "the broker unblocked this connection");
                    tx.send(None)
                }
                _ => Ok(()),
            };
            if sent.is_err() {
                return;
            }
        }
    });
    rx
}

/// Adds the broker's readiness check to a service's `/readyz`.
pub trait ReadinessExt {
    /// Adds a check named `rabbitmq` that the broker's consuming connection is up.
    fn amqp(self, broker: Broker) -> Self;
}

impl ReadinessExt for Readiness {
    fn amqp(self, broker: Broker) -> Self {
        self.check("rabbitmq", move || {
            let broker = broker.clone();
            async move {
                if broker.is_connected().await {
                    Ok(())
                } else {
                    Err("not connected".to_owned())
                }
            }
        })
    }
}

/// The AMQP heartbeat (seconds) asked for when the URI names none. RabbitMQ closes a
/// connection after two missed heartbeats, so a consumer whose host vanished loses its
/// messages — and a single active consumer its place to a standby — within about 30 s
/// (the broker's default of 60 s would take two minutes or more).
pub const DEFAULT_HEARTBEAT_SECS: u16 = 15;

/// `uri` with `heartbeat=`[`DEFAULT_HEARTBEAT_SECS`] unless its query names a heartbeat.
pub fn with_default_heartbeat(uri: &str) -> String {
    let named = uri
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|p| p.split('=').next() == Some("heartbeat")));
    if named {
        uri.to_owned()
    } else if uri.contains('?') {
        format!("{uri}&heartbeat={DEFAULT_HEARTBEAT_SECS}")
    } else {
        format!("{uri}?heartbeat={DEFAULT_HEARTBEAT_SECS}")
    }
}

/// The vhost named by an AMQP URI (`/` when the path is empty).
pub fn vhost_of(uri: &url::Url) -> String {
    let path = uri.path().trim_start_matches('/');
    if path.is_empty() {
        "/".to_owned()
    } else {
        percent_decode(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_asked_for_unless_the_uri_names_one() {
        assert_eq!(
            with_default_heartbeat("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=15"
        );
        assert_eq!(
            with_default_heartbeat("amqp://h/v?frame_max=8192"),
            "amqp://h/v?frame_max=8192&heartbeat=15"
        );
        assert_eq!(
            with_default_heartbeat("amqp://h/v?heartbeat=5"),
            "amqp://h/v?heartbeat=5"
        );
        assert_eq!(
            with_default_heartbeat("amqp://h/v?channel_max=9&heartbeat=0"),
            "amqp://h/v?channel_max=9&heartbeat=0"
        );
    }

    #[test]
    fn vhost_is_read_from_the_uri_path() {
        let u = url::Url::parse("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(vhost_of(&u), "/");
        let u = url::Url::parse("amqp://guest:guest@127.0.0.1:5672/test-1").unwrap();
        assert_eq!(vhost_of(&u), "test-1");
        let u = url::Url::parse("amqp://guest:guest@127.0.0.1:5672").unwrap();
        assert_eq!(vhost_of(&u), "/");
    }
}
