//! A lean AMQP 0-9-1 link for hot paths: one connection, one channel, its socket driven by a
//! task on the caller's tokio runtime.
//!
//! lapin drives every connection's socket from a thread of its own (`lapin-io-loop`), so each
//! delivery, ack, publish and confirm crosses threads: about five context switches per job
//! the pinger consumes and answers, more CPU than its HTTP check (see `bench_pinger`). Here one
//! task reads the frames and writes what the handlers queued, all on the runtime's worker;
//! commands queued while it works leave in one write.
//!
//! Scope: what a worker's hot path needs — consume one queue with manual acks and a prefetch,
//! or publish persistent, `mandatory` messages with confirms. The topology is declared by
//! [`Broker`](super::Broker) (lapin) beforehand; `amqps://` URIs are not served here (the
//! callers keep to lapin for them, see [`supports`]).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use amq_protocol::frame::{AMQPContentHeader, AMQPFrame, WriteContext, gen_frame, parse_frame};
use amq_protocol::protocol::basic::AMQPProperties;
use amq_protocol::protocol::{AMQPClass, basic, channel, confirm, connection};
use amq_protocol::types::{AMQPValue, FieldTable, LongString, ShortString};
use amq_protocol::uri::{AMQPScheme, AMQPUri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::DEFAULT_HEARTBEAT_SECS;

/// The only channel a link opens.
const CHANNEL: u16 = 1;
/// The basic class's id (content headers name it).
const BASIC_CLASS: u16 = 60;
/// Largest frame asked for when the URI names none (RabbitMQ's default).
const FRAME_MAX: u32 = 131_072;
/// How long queued frames may wait for company before they are written: acks and
/// publications of jobs finishing close together leave in one write (one syscall, and one
/// wake-up of each side) instead of one each. Results arrive ≤ 10 ms later, which a check
/// repeated every 30 s or more does not notice.
const LINGER: Duration = Duration::from_millis(10);
/// Queued bytes that are written at once, without lingering.
const LINGER_BYTES: usize = 32 * 1024;
/// How long connecting and the handshake may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a link could not be opened or ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The socket failed or closed.
    #[error("AMQP connection: {0}")]
    Io(#[from] std::io::Error),
    /// The broker closed the connection or channel, or spoke out of turn.
    #[error("AMQP protocol: {0}")]
    Protocol(String),
    /// The URI cannot be used.
    #[error("AMQP URI: {0}")]
    Uri(String),
    /// Connecting or the handshake took too long.
    #[error("connecting to the broker timed out")]
    Timeout,
}

/// Whether `uri` can be served by a direct link (plain `amqp://`).
pub fn supports(uri: &str) -> bool {
    uri.parse::<AMQPUri>().is_ok_and(|u| u.scheme == AMQPScheme::AMQP)
}

/// What a link is for.
#[derive(Debug, Clone)]
pub enum Role {
    /// Consume `queue` with manual acks, at most `prefetch` unacked, as `tag`; the channel
    /// also publishes with confirms (a handler's answer rides the same connection as the ack
    /// that follows it: one socket, one read for a confirm and the next delivery).
    Consume {
        /// Queue to consume.
        queue: String,
        /// Unacked deliveries the broker may hand over at once.
        prefetch: u16,
        /// Consumer tag.
        tag: String,
    },
    /// Publish with confirms.
    Publish,
}

/// How the broker answered a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Taken responsibility for.
    Ack,
    /// Returned as unroutable (the broker's reply text); acked afterwards.
    Returned(String),
    /// Refused.
    Nack,
}

/// One message consumed over a link.
#[derive(Debug)]
pub struct Delivery {
    /// The broker's tag for it (per link).
    pub tag: u64,
    /// Delivered before.
    pub redelivered: bool,
    /// Routing key it was published with.
    pub routing_key: String,
    /// Its properties.
    pub properties: AMQPProperties,
    /// Its body.
    pub body: Vec<u8>,
    /// The link it came over (its settlement goes there).
    link: Link,
}

/// How a delivery is settled.
#[derive(Debug, Clone, Copy)]
pub enum Settlement {
    /// Done with.
    Ack,
    /// Dead-lettered.
    Reject,
    /// Back into the queue.
    Requeue,
}

impl Delivery {
    /// Acks, rejects or requeues the delivery. An error means the link is gone (the broker
    /// redelivers the message to the next consumer).
    pub fn settle(&self, how: Settlement) -> Result<(), LinkError> {
        self.link
            .commands
            .send(Command::Settle(self.tag, how))
            .map_err(|_| LinkError::Protocol("the connection is gone".into()))
    }

    /// The link it came over: publish the answer there, before the ack.
    pub fn link(&self) -> &Link {
        &self.link
    }
}

enum Command {
    Publish {
        exchange: String,
        routing_key: String,
        properties: AMQPProperties,
        body: Vec<u8>,
        confirm: oneshot::Sender<Confirm>,
    },
    Settle(u64, Settlement),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Publish { routing_key, .. } => write!(f, "Publish({routing_key})"),
            Command::Settle(tag, how) => write!(f, "Settle({tag}, {how:?})"),
        }
    }
}

/// An open link. Dropping every handle (the link, its deliveries) closes the connection.
#[derive(Debug, Clone)]
pub struct Link {
    commands: mpsc::UnboundedSender<Command>,
    dead: CancellationToken,
}

impl Link {
    /// Opens a connection to `uri` (named `name` in the management UI) with one channel set up
    /// for `role`; for [`Role::Consume`] also the stream of deliveries, which ends when the
    /// link does.
    pub async fn open(
        uri: &str,
        name: &str,
        role: Role,
    ) -> Result<(Link, Option<mpsc::UnboundedReceiver<Delivery>>), LinkError> {
        tokio::time::timeout(OPEN_TIMEOUT, Self::open_inner(uri, name, role))
            .await
            .map_err(|_| LinkError::Timeout)?
    }

    async fn open_inner(
        uri: &str,
        name: &str,
        role: Role,
    ) -> Result<(Link, Option<mpsc::UnboundedReceiver<Delivery>>), LinkError> {
        let uri: AMQPUri = uri.parse().map_err(LinkError::Uri)?;
        if uri.scheme != AMQPScheme::AMQP {
            return Err(LinkError::Uri("only amqp:// is served by a direct link".into()));
        }
        let tcp = TcpStream::connect((uri.authority.host.as_str(), uri.authority.port)).await?;
        tcp.set_nodelay(true)?;
        let mut wire = Wire::new(tcp);
        wire.wbuf.extend_from_slice(b"AMQP\x00\x00\x09\x01");
        wire.flush().await?;

        let start = match wire.expect().await? {
            AMQPClass::Connection(connection::AMQPMethod::Start(s)) => s,
            other => return Err(unexpected("connection.start", &other)),
        };
        if !start.mechanisms.to_string().split(' ').any(|m| m == "PLAIN") {
            return Err(LinkError::Protocol(format!(
                "the broker offers no PLAIN login (it offers {})",
                start.mechanisms
            )));
        }
        let user = &uri.authority.userinfo;
        wire.push(&method(
            0,
            AMQPClass::Connection(connection::AMQPMethod::StartOk(connection::StartOk {
                client_properties: client_properties(name),
                mechanism: "PLAIN".into(),
                response: format!("\0{}\0{}", user.username, user.password).into(),
                locale: "en_US".into(),
            })),
        ))?;
        wire.flush().await?;

        let tune = match wire.expect().await? {
            AMQPClass::Connection(connection::AMQPMethod::Tune(t)) => t,
            other => return Err(unexpected("connection.tune", &other)),
        };
        let wanted_frame = uri.query.frame_max.unwrap_or(FRAME_MAX);
        let frame_max = match tune.frame_max {
            0 => wanted_frame,
            server => server.min(wanted_frame),
        };
        let wanted_heartbeat = uri.query.heartbeat.unwrap_or(DEFAULT_HEARTBEAT_SECS);
        let heartbeat = match (wanted_heartbeat, tune.heartbeat) {
            (0, _) => 0,
            (ours, 0) => ours,
            (ours, theirs) => ours.min(theirs),
        };
        wire.frame_max = frame_max;
        wire.push(&method(
            0,
            AMQPClass::Connection(connection::AMQPMethod::TuneOk(connection::TuneOk {
                channel_max: 1,
                frame_max,
                heartbeat,
            })),
        ))?;
        wire.call(
            0,
            AMQPClass::Connection(connection::AMQPMethod::Open(connection::Open {
                virtual_host: uri.vhost.as_str().into(),
            })),
            "connection.open-ok",
            |c| matches!(c, AMQPClass::Connection(connection::AMQPMethod::OpenOk(_))),
        )
        .await?;
        wire.call(
            CHANNEL,
            AMQPClass::Channel(channel::AMQPMethod::Open(channel::Open {})),
            "channel.open-ok",
            |c| matches!(c, AMQPClass::Channel(channel::AMQPMethod::OpenOk(_))),
        )
        .await?;
        // Both roles publish with confirms: a consumer's handlers answer on its link.
        wire.call(
            CHANNEL,
            AMQPClass::Confirm(confirm::AMQPMethod::Select(confirm::Select { nowait: false })),
            "confirm.select-ok",
            |c| matches!(c, AMQPClass::Confirm(confirm::AMQPMethod::SelectOk(_))),
        )
        .await?;

        let (commands, command_rx) = mpsc::unbounded_channel();
        let mut deliveries = None;
        let mut delivery_rx = None;
        if let Role::Consume { queue, prefetch, tag } = role {
            wire.call(
                CHANNEL,
                AMQPClass::Basic(basic::AMQPMethod::Qos(basic::Qos {
                    prefetch_count: prefetch,
                    global: false,
                })),
                "basic.qos-ok",
                |c| matches!(c, AMQPClass::Basic(basic::AMQPMethod::QosOk(_))),
            )
            .await?;
            wire.call(
                CHANNEL,
                AMQPClass::Basic(basic::AMQPMethod::Consume(basic::Consume {
                    queue: queue.as_str().into(),
                    consumer_tag: tag.as_str().into(),
                    no_local: false,
                    no_ack: false,
                    exclusive: false,
                    nowait: false,
                    arguments: FieldTable::default(),
                })),
                "basic.consume-ok",
                |c| matches!(c, AMQPClass::Basic(basic::AMQPMethod::ConsumeOk(_))),
            )
            .await?;
            let (tx, rx) = mpsc::unbounded_channel();
            deliveries = Some(tx);
            delivery_rx = Some(rx);
        }

        let dead = CancellationToken::new();
        let driver = Driver {
            wire,
            settle: commands.downgrade(),
            dead: dead.clone(),
            deliveries,
            heartbeat: (heartbeat > 0).then(|| Duration::from_secs(u64::from(heartbeat))),
            pending: BTreeMap::new(),
            next_tag: 1,
            returned: HashMap::new(),
            incoming: None,
            last_read: Instant::now(),
            last_write: Instant::now(),
        };
        let name = name.to_owned();
        let done = dead.clone();
        tokio::spawn(async move {
            if let Err(error) = driver.run(command_rx).await {
                debug!(%error, link = %name, "direct AMQP link ended");
            }
            done.cancel();
        });
        Ok((Link { commands, dead }, delivery_rx))
    }

    /// Whether the connection is still up.
    pub fn is_alive(&self) -> bool {
        !self.dead.is_cancelled()
    }

    /// Publishes `body` (persistent, `mandatory`) and waits for the broker's answer. An error
    /// means the link is gone and the message may or may not have arrived.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: AMQPProperties,
        body: Vec<u8>,
    ) -> Result<Confirm, LinkError> {
        let (confirm, answer) = oneshot::channel();
        self.commands
            .send(Command::Publish {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
                properties,
                body,
                confirm,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

fn gone() -> LinkError {
    LinkError::Protocol("the connection closed before the broker answered".into())
}

fn unexpected(wanted: &str, got: &AMQPClass) -> LinkError {
    match got {
        AMQPClass::Connection(connection::AMQPMethod::Close(c)) => LinkError::Protocol(format!(
            "the broker closed the connection: {} {}",
            c.reply_code, c.reply_text
        )),
        AMQPClass::Channel(channel::AMQPMethod::Close(c)) => LinkError::Protocol(format!(
            "the broker closed the channel: {} {}",
            c.reply_code, c.reply_text
        )),
        other => LinkError::Protocol(format!("expected {wanted}, got {other:?}")),
    }
}

fn method(channel: u16, class: AMQPClass) -> AMQPFrame {
    AMQPFrame::Method(channel, class)
}

/// A frame as the driver sees it: the few that arrive once or twice per message are read
/// by hand (amq-protocol's parser builds every field, tags and exchange names included);
/// everything else is amq-protocol's.
#[derive(Debug, PartialEq)]
enum Frame {
    /// basic.deliver: a message starts.
    Deliver {
        tag: u64,
        redelivered: bool,
        routing_key: String,
    },
    /// basic.ack / basic.nack from the broker: publications confirmed.
    Confirm {
        tag: u64,
        multiple: bool,
        nack: bool,
    },
    /// A content header: a message's size and properties.
    Header {
        size: u64,
        properties: AMQPProperties,
    },
    /// A piece of a message's body.
    Body(Vec<u8>),
    Other(AMQPFrame),
}

/// amq-protocol's frames of the hot kinds in the same form as the hand-read ones, so that
/// the driver handles each kind in one place.
impl From<AMQPFrame> for Frame {
    fn from(frame: AMQPFrame) -> Self {
        match frame {
            AMQPFrame::Method(_, AMQPClass::Basic(basic::AMQPMethod::Deliver(d))) => Frame::Deliver {
                tag: d.delivery_tag,
                redelivered: d.redelivered,
                routing_key: d.routing_key.to_string(),
            },
            AMQPFrame::Method(_, AMQPClass::Basic(basic::AMQPMethod::Ack(a))) => Frame::Confirm {
                tag: a.delivery_tag,
                multiple: a.multiple,
                nack: false,
            },
            AMQPFrame::Method(_, AMQPClass::Basic(basic::AMQPMethod::Nack(n))) => Frame::Confirm {
                tag: n.delivery_tag,
                multiple: n.multiple,
                nack: true,
            },
            AMQPFrame::Body(_, data) => Frame::Body(data),
            other => Frame::Other(other),
        }
    }
}

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_END: u8 = 0xCE;
const METHOD_PUBLISH: u16 = 40;
const METHOD_DELIVER: u16 = 60;
const METHOD_ACK: u16 = 80;
const METHOD_REJECT: u16 = 90;
const METHOD_NACK: u16 = 120;

/// Reads `frame` (one whole frame, end octet included) if it is one of the hot ones.
fn parse_hot(frame: &[u8]) -> Option<Frame> {
    let payload = frame.get(7..frame.len().checked_sub(1)?)?;
    if frame.last() != Some(&FRAME_END) {
        return None;
    }
    match frame[0] {
        FRAME_BODY => Some(Frame::Body(payload.to_vec())),
        FRAME_HEADER => parse_header(payload),
        FRAME_METHOD => {
            let mut r = Reader(payload);
            if r.u16()? != BASIC_CLASS {
                return None;
            }
            match r.u16()? {
                METHOD_DELIVER => {
                    r.short_str()?; // consumer tag: one consumer per link
                    let tag = r.u64()?;
                    let redelivered = r.u8()? & 1 == 1;
                    r.short_str()?; // exchange
                    let routing_key = std::str::from_utf8(r.short_str()?).ok()?.to_owned();
                    r.0.is_empty().then_some(Frame::Deliver {
                        tag,
                        redelivered,
                        routing_key,
                    })
                }
                m @ (METHOD_ACK | METHOD_NACK) => {
                    let tag = r.u64()?;
                    let multiple = r.u8()? & 1 == 1;
                    r.0.is_empty().then_some(Frame::Confirm {
                        tag,
                        multiple,
                        nack: m == METHOD_NACK,
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Big-endian reads off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn short_str(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }
}

/// Appends a frame of `kind` on [`CHANNEL`] whose payload `fill` writes.
fn push_raw(wbuf: &mut Vec<u8>, kind: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    wbuf.push(kind);
    wbuf.extend_from_slice(&CHANNEL.to_be_bytes());
    let at = wbuf.len();
    wbuf.extend_from_slice(&[0; 4]);
    fill(wbuf);
    let size = (wbuf.len() - at - 4) as u32;
    wbuf[at..at + 4].copy_from_slice(&size.to_be_bytes());
    wbuf.push(FRAME_END);
}

fn push_short(w: &mut Vec<u8>, s: &str) {
    w.push(s.len() as u8);
    w.extend_from_slice(s.as_bytes());
}

/// Basic properties in wire order with their flag bits, the field table (`headers`) aside:
/// short strings, except delivery mode and priority (octets) and the timestamp.
const PROPERTY_BITS: [u16; 13] = [15, 14, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const HEADERS_BIT: u16 = 13;

/// Appends basic.publish (`mandatory`) and its content header, or returns false when they
/// need amq-protocol's writer (a field table in the properties, or a string too long for a
/// short string, which that writer refuses with an error).
fn push_publish(
    wbuf: &mut Vec<u8>,
    exchange: &str,
    routing_key: &str,
    properties: &AMQPProperties,
    body_size: usize,
) -> bool {
    if properties.headers().is_some()
        || exchange.len() > 255
        || routing_key.len() > 255
        || PROPERTY_BITS
            .iter()
            .any(|&bit| property_string(properties, bit).is_some_and(|s| s.as_str().len() > 255))
    {
        return false;
    }
    push_raw(wbuf, FRAME_METHOD, |w| {
        w.extend_from_slice(&BASIC_CLASS.to_be_bytes());
        w.extend_from_slice(&METHOD_PUBLISH.to_be_bytes());
        w.extend_from_slice(&[0, 0]); // reserved (ticket)
        push_short(w, exchange);
        push_short(w, routing_key);
        w.push(1); // mandatory, not immediate
    });
    push_raw(wbuf, FRAME_HEADER, |w| {
        w.extend_from_slice(&BASIC_CLASS.to_be_bytes());
        w.extend_from_slice(&[0, 0]); // weight
        w.extend_from_slice(&(body_size as u64).to_be_bytes());
        w.extend_from_slice(&properties.bitmask().to_be_bytes());
        for bit in PROPERTY_BITS {
            match bit {
                12 => w.extend(properties.delivery_mode()),
                11 => w.extend(properties.priority()),
                6 => w.extend(properties.timestamp().map(u64::to_be_bytes).into_iter().flatten()),
                _ => {
                    if let Some(s) = property_string(properties, bit) {
                        push_short(w, s.as_str());
                    }
                }
            }
        }
    });
    true
}

/// The short-string property of flag `bit` (`None` for the octets and the timestamp).
fn property_string(p: &AMQPProperties, bit: u16) -> Option<&ShortString> {
    match bit {
        15 => p.content_type(),
        14 => p.content_encoding(),
        10 => p.correlation_id(),
        9 => p.reply_to(),
        8 => p.expiration(),
        7 => p.message_id(),
        5 => p.kind(),
        4 => p.user_id(),
        3 => p.app_id(),
        2 => p.cluster_id(),
        _ => return None,
    }
    .as_ref()
}

/// Reads a content header frame's payload unless its properties carry a field table (or
/// continue into a second flags word): those go to amq-protocol's parser.
fn parse_header(payload: &[u8]) -> Option<Frame> {
    let mut r = Reader(payload);
    if r.u16()? != BASIC_CLASS {
        return None;
    }
    r.u16()?; // weight
    let size = r.u64()?;
    let flags = r.u16()?;
    if flags & (1 << HEADERS_BIT) != 0 || flags & 1 != 0 {
        return None;
    }
    let mut p = AMQPProperties::default();
    for bit in PROPERTY_BITS {
        if flags & (1 << bit) == 0 {
            continue;
        }
        p = match bit {
            12 => p.with_delivery_mode(r.u8()?),
            11 => p.with_priority(r.u8()?),
            6 => p.with_timestamp(r.u64()?),
            _ => {
                let s: ShortString = std::str::from_utf8(r.short_str()?).ok()?.into();
                match bit {
                    15 => p.with_content_type(s),
                    14 => p.with_content_encoding(s),
                    10 => p.with_correlation_id(s),
                    9 => p.with_reply_to(s),
                    8 => p.with_expiration(s),
                    7 => p.with_message_id(s),
                    5 => p.with_type(s),
                    4 => p.with_user_id(s),
                    3 => p.with_app_id(s),
                    _ => p.with_cluster_id(s),
                }
            }
        };
    }
    r.0.is_empty().then_some(Frame::Header { size, properties: p })
}

/// Appends basic.ack (80), basic.reject (90, requeue off) or basic.nack (120, requeue on) of
/// `tag`: class, method, tag, one octet of flags.
fn push_settlement(wbuf: &mut Vec<u8>, tag: u64, how: Settlement) {
    let (method_id, flags) = match how {
        Settlement::Ack => (METHOD_ACK, 0u8),
        Settlement::Reject => (METHOD_REJECT, 0),
        Settlement::Requeue => (METHOD_NACK, 0b10),
    };
    push_raw(wbuf, FRAME_METHOD, |w| {
        w.extend_from_slice(&BASIC_CLASS.to_be_bytes());
        w.extend_from_slice(&method_id.to_be_bytes());
        w.extend_from_slice(&tag.to_be_bytes());
        w.push(flags);
    });
}

fn client_properties(name: &str) -> FieldTable {
    let mut capabilities = FieldTable::default();
    for c in [
        "publisher_confirms",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
    ] {
        capabilities.insert(c.into(), AMQPValue::Boolean(true));
    }
    let mut props = FieldTable::default();
    props.insert("connection_name".into(), AMQPValue::LongString(LongString::from(name)));
    props.insert("product".into(), AMQPValue::LongString("PingTower".into()));
    props.insert("capabilities".into(), AMQPValue::FieldTable(capabilities));
    props
}

/// The socket with its buffers: frames are parsed out of `rbuf` and serialised into `wbuf`.
struct Wire {
    stream: TcpStream,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    frame_max: u32,
}

impl Wire {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            rbuf: Vec::with_capacity(64 * 1024),
            rpos: 0,
            wbuf: Vec::with_capacity(16 * 1024),
            frame_max: FRAME_MAX,
        }
    }

    /// The next complete frame already read, if any.
    fn take_frame(&mut self) -> Result<Option<Frame>, LinkError> {
        let buf = &self.rbuf[self.rpos..];
        if buf.len() < 7 {
            return Ok(None);
        }
        let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]) as usize;
        if size > self.frame_max.max(FRAME_MAX) as usize {
            return Err(LinkError::Protocol(format!(
                "a frame of {size} bytes exceeds frame_max"
            )));
        }
        let total = 7 + size + 1;
        if buf.len() < total {
            return Ok(None);
        }
        let frame = match parse_hot(&buf[..total]) {
            Some(hot) => hot,
            None => parse_frame(&buf[..total])
                .map(|(_, f)| Frame::from(f))
                .map_err(|e| LinkError::Protocol(format!("unparsable frame: {e:?}")))?,
        };
        self.rpos += total;
        Ok(Some(frame))
    }

    /// Reads what the socket has; 0 means it closed.
    async fn read_more(&mut self) -> Result<usize, LinkError> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        self.rbuf.reserve(16 * 1024);
        Ok(self.stream.read_buf(&mut self.rbuf).await?)
    }

    /// The next method frame, heartbeats skipped (handshake only).
    async fn expect(&mut self) -> Result<AMQPClass, LinkError> {
        loop {
            match self.take_frame()? {
                Some(Frame::Other(AMQPFrame::Method(_, class))) => return Ok(class),
                Some(Frame::Other(AMQPFrame::Heartbeat)) => continue,
                Some(other) => return Err(LinkError::Protocol(format!("expected a method, got {other:?}"))),
                None => {
                    if self.read_more().await? == 0 {
                        return Err(LinkError::Protocol(
                            "the broker closed the connection during the handshake".into(),
                        ));
                    }
                }
            }
        }
    }

    /// Sends `class` on `channel` (with anything pushed before it) and waits for the method
    /// `is_reply` accepts, named `wanted` in the error otherwise (handshake only).
    async fn call(
        &mut self,
        channel: u16,
        class: AMQPClass,
        wanted: &str,
        is_reply: impl Fn(&AMQPClass) -> bool,
    ) -> Result<(), LinkError> {
        self.push(&method(channel, class))?;
        self.flush().await?;
        let reply = self.expect().await?;
        if is_reply(&reply) {
            Ok(())
        } else {
            Err(unexpected(wanted, &reply))
        }
    }

    fn push(&mut self, frame: &AMQPFrame) -> Result<(), LinkError> {
        let ctx = WriteContext::from(std::mem::take(&mut self.wbuf));
        let ctx = gen_frame(frame)(ctx).map_err(|e| LinkError::Protocol(format!("serialising {frame}: {e:?}")))?;
        self.wbuf = ctx.write;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), LinkError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }
}

/// A publication waiting for its confirm.
struct Pending {
    message_id: Option<ShortString>,
    confirm: oneshot::Sender<Confirm>,
}

/// A message being received: its method, then header, then body frames.
enum Incoming {
    Delivery {
        tag: u64,
        redelivered: bool,
        routing_key: String,
        size: Option<u64>,
        properties: AMQPProperties,
        body: Vec<u8>,
    },
    Return {
        reply: String,
        size: Option<u64>,
        properties: AMQPProperties,
        body_left: u64,
    },
}

struct Driver {
    wire: Wire,
    settle: mpsc::WeakUnboundedSender<Command>,
    dead: CancellationToken,
    deliveries: Option<mpsc::UnboundedSender<Delivery>>,
    heartbeat: Option<Duration>,
    pending: BTreeMap<u64, Pending>,
    next_tag: u64,
    /// Returned (unroutable) messages by message id, until their ack arrives.
    returned: HashMap<ShortString, String>,
    incoming: Option<Incoming>,
    last_read: Instant,
    last_write: Instant,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) -> Result<(), LinkError> {
        let tick_every = self.heartbeat.map(|h| h / 2).unwrap_or(Duration::from_secs(3600));
        let mut tick = tokio::time::interval(tick_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // One timer for the whole link, armed when frames start to linger: a timer made
        // afresh on every turn of the loop would be registered and dropped each time, and
        // each registration earlier than the runtime's next wake-up costs a wake-up of its
        // own (an eventfd write and one more epoll_wait).
        let linger = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(linger);
        let mut lingering = false;
        loop {
            tokio::select! {
                biased;
                _ = &mut linger, if lingering => {
                    lingering = false;
                    self.write().await?;
                    continue;
                }
                read = self.wire.read_more() => {
                    if read? == 0 {
                        return Err(LinkError::Protocol("the broker closed the connection".into()));
                    }
                    self.last_read = Instant::now();
                    while let Some(frame) = self.wire.take_frame()? {
                        self.on_frame(frame)?;
                    }
                }
                command = commands.recv() => {
                    let Some(command) = command else {
                        // Every handle is gone: close politely (unacked deliveries return to
                        // the queue).
                        self.wire.push(&method(0, AMQPClass::Connection(connection::AMQPMethod::Close(connection::Close {
                            reply_code: 200,
                            reply_text: "closing".into(),
                            class_id: 0,
                            method_id: 0,
                        }))))?;
                        self.write().await?;
                        return Ok(());
                    };
                    self.encode(command)?;
                    while let Ok(command) = commands.try_recv() {
                        self.encode(command)?;
                    }
                }
                _ = tick.tick() => {
                    if let Some(h) = self.heartbeat {
                        if self.last_read.elapsed() > h * 2 {
                            return Err(LinkError::Protocol(format!("no heartbeat from the broker for {:?}", h * 2)));
                        }
                        if self.last_write.elapsed() >= h / 2 {
                            self.wire.push(&AMQPFrame::Heartbeat)?;
                        }
                    }
                }
            }
            if self.wire.wbuf.len() >= LINGER_BYTES {
                lingering = false;
                self.write().await?;
            } else if !lingering && !self.wire.wbuf.is_empty() {
                lingering = true;
                linger.as_mut().reset(tokio::time::Instant::now() + LINGER);
            }
        }
    }

    async fn write(&mut self) -> Result<(), LinkError> {
        if !self.wire.wbuf.is_empty() {
            self.wire.flush().await?;
            self.last_write = Instant::now();
        }
        Ok(())
    }

    fn encode(&mut self, command: Command) -> Result<(), LinkError> {
        match command {
            Command::Publish {
                exchange,
                routing_key,
                properties,
                body,
                confirm,
            } => {
                let message_id = properties.message_id().clone();
                if !push_publish(&mut self.wire.wbuf, &exchange, &routing_key, &properties, body.len()) {
                    self.wire.push(&method(
                        CHANNEL,
                        AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
                            exchange: exchange.as_str().into(),
                            routing_key: routing_key.as_str().into(),
                            mandatory: true,
                            immediate: false,
                        })),
                    ))?;
                    self.wire.push(&AMQPFrame::Header(
                        CHANNEL,
                        AMQPContentHeader {
                            class_id: BASIC_CLASS,
                            body_size: body.len() as u64,
                            properties,
                        },
                    ))?;
                }
                let chunk = (self.wire.frame_max as usize).saturating_sub(8).max(1);
                for part in body.chunks(chunk) {
                    push_raw(&mut self.wire.wbuf, FRAME_BODY, |w| w.extend_from_slice(part));
                }
                self.pending.insert(self.next_tag, Pending { message_id, confirm });
                self.next_tag += 1;
            }
            Command::Settle(tag, how) => push_settlement(&mut self.wire.wbuf, tag, how),
        }
        Ok(())
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), LinkError> {
        let frame = match frame {
            Frame::Deliver {
                tag,
                redelivered,
                routing_key,
            } => {
                self.incoming = Some(Incoming::Delivery {
                    tag,
                    redelivered,
                    routing_key,
                    size: None,
                    properties: AMQPProperties::default(),
                    body: Vec::new(),
                });
                return Ok(());
            }
            Frame::Confirm { tag, multiple, nack } => {
                self.confirm(tag, multiple, nack);
                return Ok(());
            }
            Frame::Header { size, properties } => AMQPFrame::Header(
                CHANNEL,
                AMQPContentHeader {
                    class_id: BASIC_CLASS,
                    body_size: size,
                    properties,
                },
            ),
            Frame::Body(data) => {
                match self.incoming.as_mut() {
                    // The usual case, a body in one frame: taken as it is.
                    Some(Incoming::Delivery { body, .. }) if body.is_empty() => *body = data,
                    Some(Incoming::Delivery { body, .. }) => body.extend_from_slice(&data),
                    Some(Incoming::Return { body_left, .. }) => {
                        *body_left = body_left.saturating_sub(data.len() as u64)
                    }
                    None => return Err(LinkError::Protocol("a content body without a method".into())),
                }
                self.complete_if_whole();
                return Ok(());
            }
            Frame::Other(frame) => frame,
        };
        match frame {
            AMQPFrame::Heartbeat => {}
            AMQPFrame::Method(_, AMQPClass::Connection(connection::AMQPMethod::Close(c))) => {
                self.wire.push(&method(
                    0,
                    AMQPClass::Connection(connection::AMQPMethod::CloseOk(connection::CloseOk {})),
                ))?;
                return Err(LinkError::Protocol(format!(
                    "the broker closed the connection: {} {}",
                    c.reply_code, c.reply_text
                )));
            }
            AMQPFrame::Method(_, AMQPClass::Channel(channel::AMQPMethod::Close(c))) => {
                self.wire.push(&method(
                    CHANNEL,
                    AMQPClass::Channel(channel::AMQPMethod::CloseOk(channel::CloseOk {})),
                ))?;
                return Err(LinkError::Protocol(format!(
                    "the broker closed the channel: {} {}",
                    c.reply_code, c.reply_text
                )));
            }
            AMQPFrame::Method(_, AMQPClass::Connection(connection::AMQPMethod::Blocked(b))) => {
                debug!(reason = %b.reason, "the broker blocks publishing on this connection");
            }
            AMQPFrame::Method(_, AMQPClass::Basic(basic::AMQPMethod::Cancel(_))) => {
                return Err(LinkError::Protocol("the broker cancelled the consumer".into()));
            }
            AMQPFrame::Method(_, AMQPClass::Basic(basic::AMQPMethod::Return(r))) => {
                self.incoming = Some(Incoming::Return {
                    reply: format!("{} {}", r.reply_code, r.reply_text),
                    size: None,
                    properties: AMQPProperties::default(),
                    body_left: 0,
                });
            }
            AMQPFrame::Header(_, header) => match self.incoming.as_mut() {
                Some(Incoming::Delivery { size, properties, .. }) => {
                    *size = Some(header.body_size);
                    *properties = header.properties;
                    self.complete_if_whole();
                }
                Some(Incoming::Return {
                    size,
                    properties,
                    body_left,
                    ..
                }) => {
                    *size = Some(header.body_size);
                    *properties = header.properties;
                    *body_left = header.body_size;
                    self.complete_if_whole();
                }
                None => return Err(LinkError::Protocol("a content header without a method".into())),
            },
            other => debug!(frame = %other, "direct AMQP link ignores a frame"),
        }
        Ok(())
    }

    /// Hands over the message being received once its body is complete.
    fn complete_if_whole(&mut self) {
        let whole = match &self.incoming {
            Some(Incoming::Delivery {
                size: Some(size), body, ..
            }) => body.len() as u64 >= *size,
            Some(Incoming::Return {
                size: Some(_),
                body_left,
                ..
            }) => *body_left == 0,
            _ => false,
        };
        if !whole {
            return;
        }
        match self.incoming.take() {
            Some(Incoming::Delivery {
                tag,
                redelivered,
                routing_key,
                properties,
                body,
                ..
            }) => {
                let (Some(deliveries), Some(settle)) = (&self.deliveries, self.settle.upgrade()) else {
                    return;
                };
                // A closed receiver: the consumer is shutting down; the broker requeues.
                let _ = deliveries.send(Delivery {
                    tag,
                    redelivered,
                    routing_key,
                    properties,
                    body,
                    link: Link {
                        commands: settle,
                        dead: self.dead.clone(),
                    },
                });
            }
            Some(Incoming::Return { reply, properties, .. }) => {
                if let Some(id) = properties.message_id() {
                    self.returned.insert(id.clone(), reply);
                }
            }
            None => {}
        }
    }

    fn confirm(&mut self, tag: u64, multiple: bool, nack: bool) {
        if multiple {
            while let Some(entry) = self.pending.first_entry() {
                if *entry.key() > tag {
                    break;
                }
                let pending = entry.remove();
                self.answer(pending, nack);
            }
        } else if let Some(pending) = self.pending.remove(&tag) {
            self.answer(pending, nack);
        }
    }

    fn answer(&mut self, pending: Pending, nack: bool) {
        let returned = match &pending.message_id {
            Some(id) if !self.returned.is_empty() => self.returned.remove(id),
            _ => None,
        };
        let answer = match (nack, returned) {
            (true, _) => Confirm::Nack,
            (false, Some(reply)) => Confirm::Returned(reply),
            (false, None) => Confirm::Ack,
        };
        let _ = pending.confirm.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_amqp_uris_are_served() {
        assert!(supports("amqp://guest:guest@127.0.0.1:5672/%2f"));
        assert!(supports("amqp://127.0.0.1"));
        assert!(!supports("amqps://guest:guest@broker:5671/%2f"));
        assert!(!supports("not a uri"));
    }

    fn generated(frame: &AMQPFrame) -> Vec<u8> {
        gen_frame(frame)(WriteContext::from(Vec::new())).unwrap().write
    }

    #[test]
    fn hot_frames_are_read_by_hand_as_amq_protocol_writes_them() {
        let deliver = method(
            CHANNEL,
            AMQPClass::Basic(basic::AMQPMethod::Deliver(basic::Deliver {
                consumer_tag: "pingtower-jobs.default-1".into(),
                delivery_tag: 1 << 40 | 7,
                redelivered: true,
                exchange: "pingtower.jobs".into(),
                routing_key: "jobs.default".into(),
            })),
        );
        assert_eq!(
            parse_hot(&generated(&deliver)),
            Some(Frame::Deliver {
                tag: 1 << 40 | 7,
                redelivered: true,
                routing_key: "jobs.default".into()
            })
        );
        for (multiple, nack) in [(false, false), (true, false), (true, true), (false, true)] {
            let class = if nack {
                basic::AMQPMethod::Nack(basic::Nack {
                    delivery_tag: 99,
                    multiple,
                    requeue: true,
                })
            } else {
                basic::AMQPMethod::Ack(basic::Ack {
                    delivery_tag: 99,
                    multiple,
                })
            };
            let bytes = generated(&method(CHANNEL, AMQPClass::Basic(class)));
            assert_eq!(
                parse_hot(&bytes),
                Some(Frame::Confirm {
                    tag: 99,
                    multiple,
                    nack
                })
            );
        }
        let body = generated(&AMQPFrame::Body(CHANNEL, b"{\"a\":1}".to_vec()));
        assert_eq!(parse_hot(&body), Some(Frame::Body(b"{\"a\":1}".to_vec())));
        // Anything else, and anything damaged, goes to amq-protocol's parser.
        let consume_ok = generated(&method(
            CHANNEL,
            AMQPClass::Basic(basic::AMQPMethod::ConsumeOk(basic::ConsumeOk {
                consumer_tag: "t".into(),
            })),
        ));
        assert_eq!(parse_hot(&consume_ok), None);
        assert_eq!(parse_hot(&generated(&AMQPFrame::Heartbeat)), None);
        let mut cut = generated(&deliver);
        cut.truncate(cut.len() - 3);
        cut.push(FRAME_END);
        assert_eq!(parse_hot(&cut), None);
        let mut no_end = generated(&deliver);
        *no_end.last_mut().unwrap() = 0;
        assert_eq!(parse_hot(&no_end), None);
    }

    #[test]
    fn hand_written_settlements_and_bodies_are_the_frames_amq_protocol_writes() {
        let expected = [
            (
                Settlement::Ack,
                basic::AMQPMethod::Ack(basic::Ack {
                    delivery_tag: 5,
                    multiple: false,
                }),
            ),
            (
                Settlement::Reject,
                basic::AMQPMethod::Reject(basic::Reject {
                    delivery_tag: 5,
                    requeue: false,
                }),
            ),
            (
                Settlement::Requeue,
                basic::AMQPMethod::Nack(basic::Nack {
                    delivery_tag: 5,
                    multiple: false,
                    requeue: true,
                }),
            ),
        ];
        for (how, class) in expected {
            let mut wbuf = Vec::new();
            push_settlement(&mut wbuf, 5, how);
            assert_eq!(wbuf, generated(&method(CHANNEL, AMQPClass::Basic(class))), "{how:?}");
        }
        let mut wbuf = Vec::new();
        push_raw(&mut wbuf, FRAME_BODY, |w| w.extend_from_slice(b"abc"));
        assert_eq!(wbuf, generated(&AMQPFrame::Body(CHANNEL, b"abc".to_vec())));
    }

    fn property_sets() -> Vec<AMQPProperties> {
        let ours = AMQPProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_message_id("01a2099c-9ea1-77c1-8fab-d4bb9c02e3d9".into())
            .with_correlation_id("01a2099c-9ea1-77c1-8fab-d4bb9c02e3d8".into())
            .with_type("check_result".into())
            .with_timestamp(1_795_000_000);
        let every = AMQPProperties::default()
            .with_content_type("text/plain".into())
            .with_content_encoding("gzip".into())
            .with_delivery_mode(1)
            .with_priority(9)
            .with_correlation_id("c".into())
            .with_reply_to("amq.gen-reply".into())
            .with_expiration("60000".into())
            .with_message_id("m".into())
            .with_timestamp(u64::MAX)
            .with_type("t".into())
            .with_user_id("guest".into())
            .with_app_id("pingtower".into())
            .with_cluster_id("".into());
        vec![
            AMQPProperties::default(),
            ours.clone().with_reply_to("amq.gen-1".into()),
            ours,
            every,
        ]
    }

    #[test]
    fn publications_are_written_by_hand_as_amq_protocol_writes_them() {
        for properties in property_sets() {
            let mut wbuf = Vec::new();
            assert!(push_publish(
                &mut wbuf,
                "pingtower.results",
                "result.default",
                &properties,
                1234
            ));
            let mut expected = generated(&method(
                CHANNEL,
                AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
                    exchange: "pingtower.results".into(),
                    routing_key: "result.default".into(),
                    mandatory: true,
                    immediate: false,
                })),
            ));
            let header = AMQPFrame::Header(
                CHANNEL,
                AMQPContentHeader {
                    class_id: BASIC_CLASS,
                    body_size: 1234,
                    properties: properties.clone(),
                },
            );
            expected.extend(generated(&header));
            assert_eq!(wbuf, expected, "{properties:?}");
            // And the header reads back by hand as amq-protocol reads it.
            let header_bytes = generated(&header);
            let (_, parsed) = parse_frame(header_bytes.as_slice()).unwrap();
            assert_eq!(parsed, header);
            assert_eq!(parse_hot(&header_bytes), Some(Frame::Header { size: 1234, properties }));
        }
    }

    #[test]
    fn field_tables_and_long_strings_are_left_to_amq_protocol() {
        let mut headers = FieldTable::default();
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(2));
        let with_headers = AMQPProperties::default().with_headers(headers);
        let mut wbuf = Vec::new();
        assert!(!push_publish(&mut wbuf, "", "q", &with_headers, 1));
        assert!(!push_publish(
            &mut wbuf,
            "",
            &"q".repeat(256),
            &AMQPProperties::default(),
            1
        ));
        assert!(wbuf.is_empty());
        let header = generated(&AMQPFrame::Header(
            CHANNEL,
            AMQPContentHeader {
                class_id: BASIC_CLASS,
                body_size: 1,
                properties: with_headers,
            },
        ));
        assert_eq!(parse_hot(&header), None);
    }

    #[test]
    fn frames_round_trip_through_the_buffers() {
        let frame = method(
            CHANNEL,
            AMQPClass::Basic(basic::AMQPMethod::Ack(basic::Ack {
                delivery_tag: 42,
                multiple: false,
            })),
        );
        let mut wbuf = WriteContext::from(Vec::new());
        wbuf = gen_frame(&frame)(wbuf).unwrap();
        let bytes = wbuf.write;
        let (_, parsed) = parse_frame(bytes.as_slice()).unwrap();
        assert_eq!(parsed, frame);
    }
}
