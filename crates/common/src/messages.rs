//! Message contracts: the envelope, the four message types and the names they travel under.
//!
//! This module is the only place that names exchanges, queues and routing keys
//! (see [`crate::topology`] for the declared shape). Every message is JSON,
//! `content_type=application/json`, persistent, inside an [`Envelope`].
//!
//! **Batch messages.** A publisher may send up to [`BATCH_LIMIT`] messages of one type and one
//! routing key as one AMQP message: its body is a JSON array of their envelopes, and its
//! [`BATCH_SIZE_HEADER`] header says how many it holds. The broker stores, routes and confirms
//! the batch once, which is most of a small message's cost on quorum queues (the heartbeat
//! ping endpoint publishes its results so). Every consumer takes both forms (the bus decodes a
//! batch into its messages, in order); a batch is settled as one delivery, so a handler that
//! fails it sees its messages again, and consumers stay idempotent on the payload's own ids.
//!
//! Compatibility rule: new fields are optional (`#[serde(default)]`) so that older
//! consumers keep reading newer messages; a breaking change bumps [`SCHEMA_VERSION`].
//!
//! With the `openapi` feature (the backend's API document alone) the types the REST API sends
//! and accepts derive their OpenAPI schemas. The `schema(...)` attributes keep each schema
//! equal to serde's output: on the types the API only sends, an absent `Option` is skipped,
//! never written as null (`nullable = false`), and a defaulted field is always written
//! (`required = true`); bounds are those the backend's validation enforces.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The version every message is written with today.
pub const SCHEMA_VERSION: u32 = 1;

/// Exchange that carries [`CheckJobs`] messages, routed by `jobs.<region>`.
pub const JOBS_EXCHANGE: &str = "pingtower.jobs";
/// Exchange that carries [`CheckResult`]s, routed by `results.<region>`.
pub const RESULTS_EXCHANGE: &str = "pingtower.results";
/// Exchange that carries [`IncidentEvent`]s, routed by `incidents.<kind>`.
pub const INCIDENTS_EXCHANGE: &str = "pingtower.incidents";
/// Exchange that carries [`IncidentReport`]s, routed by `reports.<kind>`.
pub const REPORTS_EXCHANGE: &str = "pingtower.reports";
/// Exchange that carries [`ChannelTest`] requests, routed by their queue's name.
pub const CHANNELS_EXCHANGE: &str = "pingtower.channels";
/// Dead-letter exchange every work queue rejects into.
pub const DEAD_LETTER_EXCHANGE: &str = "pingtower.dlx";

/// Queue the archiver consumes results from.
pub const RESULTS_STORE_QUEUE: &str = "results.store";
/// Queue the incident engine consumes results from (single active consumer).
pub const RESULTS_INCIDENTS_QUEUE: &str = "results.incidents";
/// Queue the notifier consumes incident events from (alerts go out at once).
pub const INCIDENTS_NOTIFY_QUEUE: &str = "incidents.notify";
/// Queue the llm-service consumes incident events from.
pub const INCIDENTS_LLM_QUEUE: &str = "incidents.llm";
/// Queue the notifier consumes reports from (follow-ups and edits).
pub const REPORTS_NOTIFY_QUEUE: &str = "reports.notify";
/// Queue the notifier consumes [`ChannelTest`] requests from (answered by request/reply).
pub const CHANNELS_TEST_QUEUE: &str = "channels.test";
/// Queue that keeps every dead-lettered message for an operator to inspect.
pub const DEAD_LETTER_QUEUE: &str = "pingtower.dlq";

/// Most messages one batch message carries (see the module docs).
pub const BATCH_LIMIT: usize = 16;
/// Header of a batch message: how many messages it carries.
pub const BATCH_SIZE_HEADER: &str = "x-batch-size";

/// Region a pinger serves and the scheduler targets when none is configured.
pub const DEFAULT_REGION: &str = "default";

/// The name of the job queue of one region.
pub fn jobs_queue(region: &str) -> String {
    format!("jobs.{region}")
}

/// A message type: where it is published and how it is routed.
pub trait Message: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Short name, sent as the AMQP `type` property and used in logs and metrics.
    const KIND: &'static str;
    /// Exchange the message is published to.
    const EXCHANGE: &'static str;
    /// Routing key of this particular message.
    fn routing_key(&self) -> String;
}

/// What every message carries around its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Unique id of this message; consumers are idempotent on it (or on the payload's own id).
    pub message_id: Uuid,
    /// Id shared by every message caused by the same origin (a job, its result, the incident…).
    pub correlation_id: Uuid,
    /// When the message was created (UTC).
    pub occurred_at: DateTime<Utc>,
    /// Contract version the payload was written with.
    pub schema_version: u32,
    /// The message itself.
    pub payload: T,
}

impl<T: Message> Envelope<T> {
    /// Wraps a payload that starts a new chain of messages.
    pub fn new(payload: T) -> Self {
        let id = Uuid::now_v7();
        Self::caused_by(id, payload).with_message_id(id)
    }

    /// Wraps a payload caused by an earlier message with the given correlation id.
    pub fn caused_by(correlation_id: Uuid, payload: T) -> Self {
        Self {
            message_id: Uuid::now_v7(),
            correlation_id,
            occurred_at: Utc::now(),
            schema_version: SCHEMA_VERSION,
            payload,
        }
    }

    /// Sets a deterministic message id (for example the payload's own id), so a
    /// re-publish of the same fact carries the same id.
    pub fn with_message_id(mut self, message_id: Uuid) -> Self {
        self.message_id = message_id;
        self
    }
}

// ---------------------------------------------------------------------------------------------
// CheckJob and CheckSpec
// ---------------------------------------------------------------------------------------------

/// One check to run once, as the scheduler hands it to a pinger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckJob {
    /// Unique id of this run of the check.
    pub job_id: Uuid,
    /// The target the check belongs to.
    pub target_id: Uuid,
    /// The target's owner: a pinger gives one owner at most its fair share of its check
    /// slots. Absent on jobs written before owners were carried (they share one bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
    /// Whether the owner may reach private, loopback and link-local addresses (decided by
    /// the backend per owner; the pinger enforces it again). Absent means no.
    #[serde(default)]
    pub allow_private: bool,
    /// The region whose pingers must run it.
    pub region: String,
    /// When the scheduler meant it to run.
    pub scheduled_for: DateTime<Utc>,
    /// After this instant the job is stale: a pinger drops it unrun (the next one is coming).
    pub deadline: DateTime<Utc>,
    /// Everything the pinger needs; pingers have no database.
    pub spec: CheckSpec,
}

impl CheckJob {
    /// The id of this job's result. It derives from the job's id, so a job that runs twice
    /// (its message redelivered after a pinger died before its ack) yields the same result
    /// id, and every consumer of results, idempotent on that id, counts it once.
    pub fn result_id(&self) -> Uuid {
        Uuid::new_v5(&self.job_id, b"result")
    }
}

/// Most jobs one [`CheckJobs`] message carries.
pub const MAX_JOBS_PER_MESSAGE: usize = 64;

/// The check jobs of one region that fell due in one scheduler tick, in one message.
///
/// The broker's cost is paid per message (a delivery, an ack), so the scheduler gathers the
/// jobs of a tick into a few messages instead of one each. A pinger runs every job, publishes
/// each result with confirms, and acks the message only when every result is confirmed. A
/// redelivery runs the jobs again; their results keep their ids ([`CheckJob::result_id`]), so
/// nothing is counted twice. A "Test now" request is a message of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckJobs {
    /// The region whose pingers must run the jobs; every job names it too.
    pub region: String,
    /// One to [`MAX_JOBS_PER_MESSAGE`] jobs.
    pub jobs: Vec<CheckJob>,
}

impl CheckJobs {
    /// A message of one job.
    pub fn one(job: CheckJob) -> Self {
        CheckJobs {
            region: job.region.clone(),
            jobs: vec![job],
        }
    }

    /// Splits jobs of one region into messages of at most [`MAX_JOBS_PER_MESSAGE`].
    pub fn chunked(region: &str, jobs: Vec<CheckJob>) -> Vec<Self> {
        let mut out = Vec::with_capacity(jobs.len().div_ceil(MAX_JOBS_PER_MESSAGE));
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            out.push(CheckJobs {
                region: region.to_owned(),
                jobs: jobs.by_ref().take(MAX_JOBS_PER_MESSAGE).collect(),
            });
        }
        out
    }

    /// Checks what a consumer must not trust blindly: the count bound, and that every job
    /// belongs to the message's region.
    pub fn validate(&self) -> Result<(), String> {
        if self.jobs.is_empty() || self.jobs.len() > MAX_JOBS_PER_MESSAGE {
            return Err(format!(
                "jobs: {} jobs in one message, expected 1 to {MAX_JOBS_PER_MESSAGE}",
                self.jobs.len()
            ));
        }
        if let Some(job) = self.jobs.iter().find(|j| j.region != self.region) {
            return Err(format!(
                "jobs: job {} is for region {:?} in a message for region {:?}",
                job.job_id, job.region, self.region
            ));
        }
        Ok(())
    }
}

impl Message for CheckJobs {
    const KIND: &'static str = "check_jobs";
    const EXCHANGE: &'static str = JOBS_EXCHANGE;
    fn routing_key(&self) -> String {
        jobs_queue(&self.region)
    }
}

/// What to check and what counts as healthy. In JSON, an object whose `kind` names the
/// variant (`{"kind": "http", "url": …}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckSpec {
    /// An HTTP(S) request, its redirect chain, TLS and assertions.
    Http(HttpSpec),
    /// A TCP connect, optionally with a banner to expect.
    Tcp(TcpSpec),
    /// A DNS query against the system or a given resolver.
    Dns(DnsSpec),
    /// A TLS handshake and certificate inspection.
    Tls(TlsSpec),
    /// ICMP echo requests (ping): round-trip times and loss.
    Icmp(IcmpSpec),
    /// Pushed, not pulled: the monitored job pings PingTower; a missed deadline is the failure.
    Heartbeat(HeartbeatSpec),
}

impl CheckSpec {
    /// The kind of check, as stored and displayed.
    pub fn kind(&self) -> CheckKind {
        match self {
            CheckSpec::Http(_) => CheckKind::Http,
            CheckSpec::Tcp(_) => CheckKind::Tcp,
            CheckSpec::Dns(_) => CheckKind::Dns,
            CheckSpec::Tls(_) => CheckKind::Tls,
            CheckSpec::Icmp(_) => CheckKind::Icmp,
            CheckSpec::Heartbeat(_) => CheckKind::Heartbeat,
        }
    }

    /// How long the check may take in all (for ICMP: every echo's interval plus the wait for
    /// the last reply, see [`IcmpSpec::total_ms`]).
    pub fn timeout_ms(&self) -> u32 {
        match self {
            CheckSpec::Http(s) => s.timeout_ms,
            CheckSpec::Tcp(s) => s.timeout_ms,
            CheckSpec::Dns(s) => s.timeout_ms,
            CheckSpec::Tls(s) => s.timeout_ms,
            CheckSpec::Icmp(s) => s.total_ms(),
            // Nothing runs: the deadline is the schedule's.
            CheckSpec::Heartbeat(_) => 0,
        }
    }
}

/// The same enum, read by serde's derive: what [`CheckSpec`] falls back to when `kind` is not
/// the first key.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TaggedSpec {
    Http(HttpSpec),
    Tcp(TcpSpec),
    Dns(DnsSpec),
    Tls(TlsSpec),
    Icmp(IcmpSpec),
    Heartbeat(HeartbeatSpec),
}

impl From<TaggedSpec> for CheckSpec {
    fn from(spec: TaggedSpec) -> Self {
        match spec {
            TaggedSpec::Http(s) => CheckSpec::Http(s),
            TaggedSpec::Tcp(s) => CheckSpec::Tcp(s),
            TaggedSpec::Dns(s) => CheckSpec::Dns(s),
            TaggedSpec::Tls(s) => CheckSpec::Tls(s),
            TaggedSpec::Icmp(s) => CheckSpec::Icmp(s),
            TaggedSpec::Heartbeat(s) => CheckSpec::Heartbeat(s),
        }
    }
}

/// Every job carries a spec, and serde's derive for an internally tagged enum first copies
/// the whole object into a buffer to find the tag. Specs written by [`CheckSpec`]'s
/// `Serialize` start with `kind`: the variant is then read straight from the rest of the
/// object. Any other order (JSONB sorts keys, people write JSON by hand) goes through the
/// derive, with its error messages.
impl<'de> Deserialize<'de> for CheckSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SpecVisitor)
    }
}

struct SpecVisitor;

impl<'de> serde::de::Visitor<'de> for SpecVisitor {
    type Value = CheckSpec;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a check spec (an object with a `kind`)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CheckSpec, A::Error> {
        use serde::de::{Error, value::MapAccessDeserializer};
        let Some(first) = map.next_key::<String>()? else {
            return Err(A::Error::missing_field("kind"));
        };
        if first == "kind" {
            let kind: CheckKind = map.next_value()?;
            let rest = MapAccessDeserializer::new(map);
            return Ok(match kind {
                CheckKind::Http => CheckSpec::Http(HttpSpec::deserialize(rest)?),
                CheckKind::Tcp => CheckSpec::Tcp(TcpSpec::deserialize(rest)?),
                CheckKind::Dns => CheckSpec::Dns(DnsSpec::deserialize(rest)?),
                CheckKind::Tls => CheckSpec::Tls(TlsSpec::deserialize(rest)?),
                CheckKind::Icmp => CheckSpec::Icmp(IcmpSpec::deserialize(rest)?),
                CheckKind::Heartbeat => CheckSpec::Heartbeat(HeartbeatSpec::deserialize(rest)?),
            });
        }
        let mut object = serde_json::Map::new();
        object.insert(first, map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        TaggedSpec::deserialize(serde_json::Value::Object(object))
            .map(CheckSpec::from)
            .map_err(A::Error::custom)
    }
}

/// The kinds of check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// HTTP(S).
    Http,
    /// TCP connect.
    Tcp,
    /// DNS query.
    Dns,
    /// TLS certificate.
    Tls,
    /// ICMP echo (ping).
    Icmp,
    /// Heartbeat: the job pings PingTower.
    Heartbeat,
}

impl CheckKind {
    /// Lowercase name (`http`, `tcp`, `dns`, `tls`, `icmp`, `heartbeat`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Http => "http",
            CheckKind::Tcp => "tcp",
            CheckKind::Dns => "dns",
            CheckKind::Tls => "tls",
            CheckKind::Icmp => "icmp",
            CheckKind::Heartbeat => "heartbeat",
        }
    }
}

fn default_timeout_ms() -> u32 {
    10_000
}
fn default_true() -> bool {
    true
}
fn default_max_redirects() -> u8 {
    10
}
fn default_warn_days() -> u32 {
    14
}
fn default_tls_port() -> u16 {
    443
}
fn default_icmp_count() -> u32 {
    3
}
fn default_icmp_interval_ms() -> u32 {
    200
}
fn default_icmp_timeout_ms() -> u32 {
    1_000
}
fn default_icmp_payload_size() -> u32 {
    56
}
fn default_status_ranges() -> Vec<StatusRange> {
    vec![StatusRange { from: 200, to: 399 }]
}

/// HTTP(S) check options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpSpec {
    /// The URL to request (http or https).
    pub url: String,
    /// Request method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra request headers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeader>,
    /// Request body, sent as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Credentials to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Status codes that count as healthy, checked on the final response (default 200–399).
    #[serde(default = "default_status_ranges")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, default = default_status_ranges))]
    pub expected_status: Vec<StatusRange>,
    /// Whether redirects are followed (default true).
    #[serde(default = "default_true")]
    #[cfg_attr(feature = "openapi", schema(default = true))]
    pub follow_redirects: bool,
    /// How many redirects are followed at most (default 10).
    #[serde(default = "default_max_redirects")]
    #[cfg_attr(feature = "openapi", schema(maximum = 30, default = 10))]
    pub max_redirects: u8,
    /// Conditions on the final response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<Assertion>,
    /// Total time allowed, all hops included (default 10 s).
    #[serde(default = "default_timeout_ms")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, default = 10_000))]
    pub timeout_ms: u32,
    /// Whether an untrusted certificate fails the check (default true).
    #[serde(default = "default_true")]
    #[cfg_attr(feature = "openapi", schema(default = true))]
    pub verify_tls: bool,
    /// Days before certificate expiry at which the check reports degraded (default 14).
    #[serde(default = "default_warn_days")]
    #[cfg_attr(feature = "openapi", schema(default = 14))]
    pub tls_warn_days: u32,
    /// A response slower than this (ms, whole chain) makes the outcome degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_above_ms: Option<u32>,
    /// Every hop of the chain must be https.
    #[serde(default)]
    pub https_only: bool,
    /// The chain must end at this URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_final_url: Option<String>,
    /// Resolve names with this DNS server instead of the system resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<Resolver>,
}

impl HttpSpec {
    /// A GET of `url` with every other option at its default.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: HttpMethod::Get,
            headers: Vec::new(),
            body: None,
            auth: None,
            expected_status: default_status_ranges(),
            follow_redirects: true,
            max_redirects: default_max_redirects(),
            assertions: Vec::new(),
            timeout_ms: default_timeout_ms(),
            verify_tls: true,
            tls_warn_days: default_warn_days(),
            degraded_above_ms: None,
            https_only: false,
            expected_final_url: None,
            resolver: None,
        }
    }
}

/// HTTP request methods a check may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    #[default]
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl HttpMethod {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
        }
    }
}

/// One request header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpHeader {
    /// Header name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub name: String,
    /// Header value.
    pub value: String,
    /// The user marked the value secret (write-only). `Authorization`, `Cookie`,
    /// `Proxy-Authorization` and names containing `key`, `token` or `secret` are secret
    /// whatever this says (see [`HttpHeader::is_secret`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

impl HttpHeader {
    /// A header that is not marked secret.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            secret: false,
        }
    }

    /// Whether the value is a secret: marked so, or a credential by its name.
    pub fn is_secret(&self) -> bool {
        self.secret || is_secret_header_name(&self.name)
    }
}

/// Whether a header of this name carries a credential: `Authorization`, `Cookie`,
/// `Proxy-Authorization`, or a name containing `key`, `token` or `secret` (any case).
pub fn is_secret_header_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["authorization", "cookie", "proxy-authorization"].contains(&lower.as_str())
        || ["key", "token", "secret"].iter().any(|w| lower.contains(w))
}

/// Credentials for an HTTP check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HttpAuth {
    /// `Authorization: Basic …`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer …`.
    Bearer {
        /// The token.
        #[cfg_attr(feature = "openapi", schema(min_length = 1))]
        token: String,
    },
}

/// An inclusive range of status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusRange {
    /// Lowest accepted code.
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 599))]
    pub from: u16,
    /// Highest accepted code.
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 599))]
    pub to: u16,
}

impl StatusRange {
    /// Whether `status` lies in the range.
    pub fn contains(&self, status: u16) -> bool {
        (self.from..=self.to).contains(&status)
    }
}

/// A condition on the final HTTP response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Assertion {
    /// The body contains this text.
    BodyContains {
        /// Text to find.
        #[cfg_attr(feature = "openapi", schema(min_length = 1))]
        value: String,
    },
    /// The body does not contain this text.
    BodyNotContains {
        /// Text that must be absent.
        #[cfg_attr(feature = "openapi", schema(min_length = 1))]
        value: String,
    },
    /// The body matches this regular expression.
    BodyMatches {
        /// Regular expression (Rust `regex` syntax).
        #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
        pattern: String,
    },
    /// The JSON value at `path` equals `value`.
    JsonPathEquals {
        /// JSON path, e.g. `$.status` or `$.items[0].name`.
        path: String,
        /// Expected value.
        value: serde_json::Value,
    },
    /// Something exists at the JSON path.
    JsonPathExists {
        /// JSON path.
        path: String,
    },
    /// A response header equals the value (name case-insensitive).
    HeaderEquals {
        /// Header name.
        name: String,
        /// Expected value.
        value: String,
    },
}

/// A DNS server to ask instead of the system resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolver {
    /// Address and port of the server.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub address: SocketAddr,
    /// Transport (default UDP).
    #[serde(default)]
    pub protocol: DnsTransport,
}

/// DNS transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DnsTransport {
    /// UDP.
    #[default]
    Udp,
    /// TCP.
    Tcp,
}

/// TCP check options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TcpSpec {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: u16,
    /// Time allowed (default 10 s).
    #[serde(default = "default_timeout_ms")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, default = 10_000))]
    pub timeout_ms: u32,
    /// The server's greeting must contain this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_banner: Option<String>,
}

/// DNS check options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsSpec {
    /// The name to query.
    pub name: String,
    /// The record type to ask for.
    pub record_type: DnsRecordType,
    /// Server to ask (default: the system resolver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<Resolver>,
    /// Answers that must be present (compared as text, e.g. `192.0.2.1`, `10 mail.example.com.`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_answers: Vec<String>,
    /// Time allowed (default 10 s).
    #[serde(default = "default_timeout_ms")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, default = 10_000))]
    pub timeout_ms: u32,
}

/// Record types a DNS check may query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum DnsRecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Name server.
    Ns,
    /// Start of authority.
    Soa,
}

impl DnsRecordType {
    /// Every supported type.
    pub const ALL: [DnsRecordType; 7] = [
        DnsRecordType::A,
        DnsRecordType::Aaaa,
        DnsRecordType::Cname,
        DnsRecordType::Mx,
        DnsRecordType::Txt,
        DnsRecordType::Ns,
        DnsRecordType::Soa,
    ];

    /// The type's name (`A`, `AAAA`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Cname => "CNAME",
            DnsRecordType::Mx => "MX",
            DnsRecordType::Txt => "TXT",
            DnsRecordType::Ns => "NS",
            DnsRecordType::Soa => "SOA",
        }
    }
}

/// TLS check options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsSpec {
    /// Host name or IP address to connect to.
    pub host: String,
    /// Port (default 443).
    #[serde(default = "default_tls_port")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535, default = 443))]
    pub port: u16,
    /// Server name sent in the handshake and checked against the certificate (default: host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// Days before expiry at which the check reports degraded (default 14).
    #[serde(default = "default_warn_days")]
    #[cfg_attr(feature = "openapi", schema(default = 14))]
    pub warn_days: u32,
    /// Time allowed (default 10 s).
    #[serde(default = "default_timeout_ms")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, default = 10_000))]
    pub timeout_ms: u32,
    /// Plaintext protocol spoken before the handshake to upgrade the connection with
    /// STARTTLS (`smtp`, `imap`, `pop3`); null (the default): TLS from the first byte.
    /// A server that does not offer the upgrade, or refuses it, fails the check (`tls_handshake`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls: Option<Starttls>,
}

/// The plaintext protocol of a STARTTLS upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Starttls {
    /// SMTP: `EHLO`, then `STARTTLS` (RFC 3207).
    Smtp,
    /// IMAP: `STARTTLS` (RFC 3501).
    Imap,
    /// POP3: `STLS` (RFC 2595).
    Pop3,
}

impl Starttls {
    /// The protocol's name (`smtp`, `imap`, `pop3`).
    pub fn as_str(self) -> &'static str {
        match self {
            Starttls::Smtp => "smtp",
            Starttls::Imap => "imap",
            Starttls::Pop3 => "pop3",
        }
    }
}

/// Bounds of an ICMP check's fields (the backend refuses a spec outside them, naming the field).
pub mod icmp_bounds {
    /// Echo requests per check.
    pub const COUNT: std::ops::RangeInclusive<u32> = 1..=10;
    /// Milliseconds between two echo requests.
    pub const INTERVAL_MS: std::ops::RangeInclusive<u32> = 10..=5_000;
    /// Milliseconds to wait for each reply.
    pub const TIMEOUT_MS: std::ops::RangeInclusive<u32> = 1..=10_000;
    /// Bytes of payload after the ICMP header (56 makes the classic 64-byte echo).
    pub const PAYLOAD_SIZE: std::ops::RangeInclusive<u32> = 0..=1_400;
    /// The loss threshold, in percent (100 % loss is down whatever the threshold).
    pub const LOSS_PERCENT: std::ops::RangeInclusive<u32> = 0..=99;
}

/// ICMP echo (ping) check options. The echo requests go out `interval_ms` apart, and each
/// waits `timeout_ms` for its reply, so the check takes at most
/// [`total_ms`](IcmpSpec::total_ms). Every loss is down; some loss, above
/// `degraded_loss_percent`, is degraded, and so is an average round trip above
/// `degraded_above_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IcmpSpec {
    /// Host name or IP address (IPv4 or IPv6).
    pub host: String,
    /// Echo requests to send (1–10, default 3).
    #[serde(default = "default_icmp_count")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10, default = 3))]
    pub count: u32,
    /// Milliseconds between two echo requests (10–5000, default 200).
    #[serde(default = "default_icmp_interval_ms")]
    #[cfg_attr(feature = "openapi", schema(minimum = 10, maximum = 5000, default = 200))]
    pub interval_ms: u32,
    /// Milliseconds to wait for each reply (1–10000, default 1000).
    #[serde(default = "default_icmp_timeout_ms")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000, default = 1000))]
    pub timeout_ms: u32,
    /// Payload bytes of each echo request (0–1400, default 56).
    #[serde(default = "default_icmp_payload_size")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1400, default = 56))]
    pub payload_size: u32,
    /// Loss above this percent (0–99) makes the outcome degraded; unset: any loss short of
    /// 100 % is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 99))]
    pub degraded_loss_percent: Option<u32>,
    /// An average round trip above this many milliseconds makes the outcome degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub degraded_above_ms: Option<u32>,
}

impl IcmpSpec {
    /// An ICMP check of `host` with the default count, interval, timeout and payload.
    pub fn new(host: impl Into<String>) -> Self {
        IcmpSpec {
            host: host.into(),
            count: default_icmp_count(),
            interval_ms: default_icmp_interval_ms(),
            timeout_ms: default_icmp_timeout_ms(),
            payload_size: default_icmp_payload_size(),
            degraded_loss_percent: None,
            degraded_above_ms: None,
        }
    }

    /// The longest the check may take: `count × interval_ms + timeout_ms` (the last request
    /// leaves `(count − 1) × interval_ms` after the first; one interval is left for the name's
    /// resolution).
    pub fn total_ms(&self) -> u32 {
        self.count
            .saturating_mul(self.interval_ms)
            .saturating_add(self.timeout_ms)
    }
}

/// Bounds of a heartbeat's schedule (the backend refuses a spec outside them, naming the field).
pub mod heartbeat_bounds {
    /// Seconds between two expected pings (10 s to a year).
    pub const PERIOD_SECONDS: std::ops::RangeInclusive<u32> = 10..=31_536_000;
    /// Seconds a ping may be late before the target is down (1 s to a year).
    pub const GRACE_SECONDS: std::ops::RangeInclusive<u32> = 1..=31_536_000;
    /// Longest cron expression, in bytes.
    pub const CRON_LEN: usize = 100;
    /// Longest time zone name, in bytes.
    pub const TIMEZONE_LEN: usize = 64;
    /// Longest ping body kept, in bytes (a longer one is cut at a character boundary).
    pub const BODY_BYTES: usize = 10 * 1024;
}

fn default_grace_seconds() -> u32 {
    300
}

/// A heartbeat: the monitored job pings `/ping/{token}` when it runs, and silence is the
/// alarm. Either `period_seconds` (a ping is expected that long after the last one) or `cron`
/// (a ping is expected at the cron expression's next slot after the last one, read in
/// `timezone`) is set, never both. The target is down once `grace_seconds` have passed after
/// an expected ping that did not come, and at once on a failure ping (`/fail`, a non-zero exit
/// status). A run that pinged `/start` and does not finish within the grace time is late.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatSpec {
    /// Seconds between two pings (10–31536000); not with `cron`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 10, maximum = 31536000, nullable = false))]
    pub period_seconds: Option<u32>,
    /// A five-field cron expression (`0 2 * * *`), at most 100 bytes; not with
    /// `period_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, nullable = false, example = "0 2 * * *")
    )]
    pub cron: Option<String>,
    /// The IANA time zone the cron expression is read in (default `UTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 64, nullable = false, example = "Europe/Moscow")
    )]
    pub timezone: Option<String>,
    /// Seconds a ping may be late (1–31536000, default 300).
    #[serde(default = "default_grace_seconds")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 31536000, default = 300))]
    pub grace_seconds: u32,
    /// A name for the slug ping URL `/ping/{ping_key}/{slug}`: lowercase letters, digits, `-`
    /// and `_`, 1–100 characters, unique among the owner's heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = "^[a-z0-9][a-z0-9_-]{0,99}$", nullable = false)
    )]
    pub slug: Option<String>,
}

impl HeartbeatSpec {
    /// A heartbeat expected every `period_seconds`, late after `grace_seconds`.
    pub fn every(period_seconds: u32, grace_seconds: u32) -> Self {
        HeartbeatSpec {
            period_seconds: Some(period_seconds),
            cron: None,
            timezone: None,
            grace_seconds,
            slug: None,
        }
    }

    /// A heartbeat expected at `cron`'s slots in `timezone`, late after `grace_seconds`.
    pub fn cron(cron: impl Into<String>, timezone: impl Into<String>, grace_seconds: u32) -> Self {
        HeartbeatSpec {
            period_seconds: None,
            cron: Some(cron.into()),
            timezone: Some(timezone.into()),
            grace_seconds,
            slug: None,
        }
    }

    /// The time zone the schedule is read in (`UTC` when none is set).
    pub fn timezone(&self) -> &str {
        self.timezone.as_deref().unwrap_or("UTC")
    }
}

// ---------------------------------------------------------------------------------------------
// CheckResult
// ---------------------------------------------------------------------------------------------

// The wire contracts' structs are alike in shape (documented, serde-annotated fields): each is its own message.
/// What one run of a check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckResult {
    /// Unique id of this result; stores are idempotent on it.
    pub result_id: Uuid,
    /// The job this result answers.
    pub job_id: Uuid,
    /// The target checked.
    pub target_id: Uuid,
    /// Region of the pinger that ran it.
    pub region: String,
    /// Id of the pinger that ran it.
    pub pinger_id: String,
    /// The kind of check.
    pub check_kind: CheckKind,
    /// When the check started.
    pub started_at: DateTime<Utc>,
    /// When the check finished.
    pub finished_at: DateTime<Utc>,
    /// Total duration in milliseconds.
    pub duration_ms: u32,
    /// Up, degraded or down.
    pub outcome: Outcome,
    /// Why it is not up (also set for degraded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub failure: Option<Failure>,
    /// Status code of the final HTTP response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub status_code: Option<u16>,
    /// Every HTTP hop, first request first, with its own phase timings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<HttpHop>,
    /// Address connected to (the final hop's, for HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false))]
    pub resolved_ip: Option<IpAddr>,
    /// Certificate and handshake facts, present even when validation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub tls: Option<TlsInfo>,
    /// DNS answer facts (DNS checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub dns: Option<DnsInfo>,
    /// Echo round trips and loss (ICMP checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub icmp: Option<IcmpInfo>,
    /// The ping or the missed deadline this result records (heartbeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub heartbeat: Option<HeartbeatInfo>,
    /// TCP banner received, capped (TCP checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub banner: Option<String>,
    /// A capped (≤ 1 KiB), tag-stripped excerpt of the body, kept on failure for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub body_excerpt: Option<String>,
    /// The pinger's own connectivity canaries failed: this result says nothing about the target.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub probe_degraded: bool,
}

impl Message for CheckResult {
    const KIND: &'static str = "check_result";
    const EXCHANGE: &'static str = RESULTS_EXCHANGE;
    fn routing_key(&self) -> String {
        format!("results.{}", self.region)
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Healthy.
    Up,
    /// Working, but slow or close to a limit (certificate expiring).
    Degraded,
    /// Failing.
    Down,
}

impl Outcome {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Degraded => "degraded",
            Outcome::Down => "down",
        }
    }
}

/// A structured reason for a failed or degraded check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// In which phase.
    pub phase: Phase,
    /// A one-line human explanation with the specifics (status, host, expiry date…).
    pub message: String,
}

/// What went wrong, as a stable machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The name does not exist.
    DnsNxdomain,
    /// The resolver failed (SERVFAIL).
    DnsServfail,
    /// The resolver did not answer in time.
    DnsTimeout,
    /// The name exists but has no record of the asked type.
    DnsNoRecords,
    /// The answers differ from the expected ones.
    DnsUnexpectedAnswer,
    /// Another DNS error (REFUSED, malformed answer…).
    DnsError,
    /// The port refused the connection.
    ConnectRefused,
    /// The connection was not established in time.
    ConnectTimeout,
    /// Another connection error (unreachable network, reset…).
    ConnectError,
    /// The certificate has expired.
    TlsExpired,
    /// The certificate is not valid yet.
    TlsNotYetValid,
    /// The certificate chain is not trusted.
    TlsUntrusted,
    /// The certificate does not cover the host name.
    TlsHostname,
    /// The certificate expires within the warning period.
    TlsExpiring,
    /// The handshake failed for another reason.
    TlsHandshake,
    /// The final status code is not an expected one.
    HttpStatus,
    /// The server broke the HTTP protocol.
    HttpProtocol,
    /// A body, header or JSON assertion failed.
    AssertionFailed,
    /// The redirect chain loops.
    RedirectLoop,
    /// More redirects than allowed.
    TooManyRedirects,
    /// An https-only chain went through plain http.
    InsecureRedirect,
    /// The chain ended somewhere other than the expected final URL.
    UnexpectedFinalUrl,
    /// The response was slower than the degraded threshold.
    SlowResponse,
    /// The TCP banner did not contain the expected text.
    BannerMismatch,
    /// Echo requests went unanswered: above the degraded threshold, or all of them (down).
    PacketLoss,
    /// A heartbeat's expected ping did not come within the grace time.
    HeartbeatMissed,
    /// A heartbeat's job reported a failure (`/fail` or a non-zero exit status).
    HeartbeatFailed,
    /// A heartbeat's run started and did not finish within the grace time.
    HeartbeatLate,
    /// The check ran out of time.
    Timeout,
    /// The address is private, loopback, link-local or metadata, and private targets are off.
    BlockedAddress,
    /// The check could not run (bad spec, pinger fault).
    Internal,
    /// A kind this version does not know (sent by a newer pinger).
    #[serde(other)]
    Other,
}

impl FailureKind {
    /// The kind's stable code, e.g. `dns_nxdomain`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::DnsNxdomain => "dns_nxdomain",
            FailureKind::DnsServfail => "dns_servfail",
            FailureKind::DnsTimeout => "dns_timeout",
            FailureKind::DnsNoRecords => "dns_no_records",
            FailureKind::DnsUnexpectedAnswer => "dns_unexpected_answer",
            FailureKind::DnsError => "dns_error",
            FailureKind::ConnectRefused => "connect_refused",
            FailureKind::ConnectTimeout => "connect_timeout",
            FailureKind::ConnectError => "connect_error",
            FailureKind::TlsExpired => "tls_expired",
            FailureKind::TlsNotYetValid => "tls_not_yet_valid",
            FailureKind::TlsUntrusted => "tls_untrusted",
            FailureKind::TlsHostname => "tls_hostname",
            FailureKind::TlsExpiring => "tls_expiring",
            FailureKind::TlsHandshake => "tls_handshake",
            FailureKind::HttpStatus => "http_status",
            FailureKind::HttpProtocol => "http_protocol",
            FailureKind::AssertionFailed => "assertion_failed",
            FailureKind::RedirectLoop => "redirect_loop",
            FailureKind::TooManyRedirects => "too_many_redirects",
            FailureKind::InsecureRedirect => "insecure_redirect",
            FailureKind::UnexpectedFinalUrl => "unexpected_final_url",
            FailureKind::SlowResponse => "slow_response",
            FailureKind::BannerMismatch => "banner_mismatch",
            FailureKind::PacketLoss => "packet_loss",
            FailureKind::HeartbeatMissed => "heartbeat_missed",
            FailureKind::HeartbeatFailed => "heartbeat_failed",
            FailureKind::HeartbeatLate => "heartbeat_late",
            FailureKind::Timeout => "timeout",
            FailureKind::BlockedAddress => "blocked_address",
            FailureKind::Internal => "internal",
            FailureKind::Other => "other",
        }
    }
}

/// The phase of a check in which something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Connect,
    /// TLS handshake and certificate validation.
    Tls,
    /// Request sent, waiting for the response head.
    Ttfb,
    /// Reading the body.
    Transfer,
    /// Following redirects.
    Redirect,
    /// Checking the response against assertions, status and limits.
    Validation,
    /// Before any network activity (bad spec, guard).
    Setup,
    /// A heartbeat's schedule: the ping expected, or the run reported.
    Schedule,
}

/// One request of an HTTP redirect chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpHop {
    /// The URL requested.
    pub url: String,
    /// Status code received, if a response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub status: Option<u16>,
    /// Address connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable = false))]
    pub resolved_ip: Option<IpAddr>,
    /// `Location` of a redirect response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub location: Option<String>,
    /// HTTP version of the response (e.g. `HTTP/1.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub http_version: Option<String>,
    /// Phase timings of this hop.
    pub timings: PhaseTimings,
}

/// Milliseconds spent in each phase; a phase that did not happen is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseTimings {
    /// Name resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub dns_ms: Option<f64>,
    /// TCP connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub connect_ms: Option<f64>,
    /// TLS handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub tls_ms: Option<f64>,
    /// Request written → first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub ttfb_ms: Option<f64>,
    /// First byte → body read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub transfer_ms: Option<f64>,
}

/// Certificate and handshake facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsInfo {
    /// Leaf certificate subject (RFC 4514 text).
    pub subject: String,
    /// Leaf certificate issuer.
    pub issuer: String,
    /// Subject alternative names (DNS names and IPs).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub sans: Vec<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub fingerprint_sha256: String,
    /// Negotiated protocol version (e.g. `TLSv1.3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub version: Option<String>,
    /// Negotiated cipher suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub cipher: Option<String>,
    /// Whether the chain verified against the trusted roots.
    pub chain_valid: bool,
    /// Whether the certificate covers the host name asked for.
    pub hostname_matches: bool,
    /// Why validation failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub validation_error: Option<String>,
}

/// DNS answer facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsInfo {
    /// Response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`…), if an answer arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub rcode: Option<String>,
    /// Server asked (`system` for the system resolver).
    pub resolver: String,
    /// Records received.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub answers: Vec<DnsAnswer>,
    /// Query time in milliseconds.
    pub duration_ms: f64,
}

/// ICMP echo facts: every echo request and the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IcmpInfo {
    /// The socket kind used: `dgram` (unprivileged ICMP socket) or `raw`.
    pub socket: String,
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Percent of requests without a reply (0–100).
    pub loss_percent: f64,
    /// Fastest round trip in milliseconds (absent when no reply arrived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub rtt_min_ms: Option<f64>,
    /// Average round trip in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub rtt_avg_ms: Option<f64>,
    /// Slowest round trip in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub rtt_max_ms: Option<f64>,
    /// Every echo request, in order.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub echoes: Vec<IcmpEcho>,
}

/// One echo request of an ICMP check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IcmpEcho {
    /// Sequence number (0 for the first request).
    pub seq: u16,
    /// Round trip in milliseconds; absent when no reply arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub rtt_ms: Option<f64>,
    /// Why no reply counted (timed out, send error…), when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub error: Option<String>,
}

/// What a heartbeat result records: a ping (`success`, `fail`, `exit_status`) or a deadline
/// that passed without one (`missed`, `late`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatInfo {
    /// What happened.
    pub event: HeartbeatEvent,
    /// The exit status the job reported (`/ping/{token}/{status}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub exit_status: Option<u8>,
    /// The time a ping was expected (missed), or when the next one is now expected (pings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub expected_at: Option<DateTime<Utc>>,
    /// The last success ping before this result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the run started (`/start`): the run this ping finished, or the late one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub started_at: Option<DateTime<Utc>>,
    /// This run's duration (a finish after a start), or else the last finished run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub run_duration_ms: Option<u64>,
    /// The schedule, for people: `every 3600 s` or `0 2 * * * (Europe/Moscow)`.
    pub schedule: String,
    /// The time zone the schedule is read in (cron), for showing times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub timezone: Option<String>,
    /// The ping's body (a POST's, at most 10 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub body: Option<String>,
}

/// The kind of a heartbeat ping or deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HeartbeatEvent {
    /// `/ping/{token}` or exit status 0.
    Success,
    /// `/ping/{token}/start`: a run began (no result of its own).
    Start,
    /// `/ping/{token}/fail`.
    Fail,
    /// `/ping/{token}/{status}` with a non-zero status.
    ExitStatus,
    /// `/ping/{token}/log`: kept, no change of state (no result of its own).
    Log,
    /// The expected ping did not come within the grace time.
    Missed,
    /// A started run did not finish within the grace time.
    Late,
}

impl HeartbeatEvent {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            HeartbeatEvent::Success => "success",
            HeartbeatEvent::Start => "start",
            HeartbeatEvent::Fail => "fail",
            HeartbeatEvent::ExitStatus => "exit_status",
            HeartbeatEvent::Log => "log",
            HeartbeatEvent::Missed => "missed",
            HeartbeatEvent::Late => "late",
        }
    }
}

/// One DNS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsAnswer {
    /// Record type.
    pub record_type: String,
    /// Record data as text.
    pub value: String,
    /// Time to live in seconds.
    pub ttl: u32,
}

// ---------------------------------------------------------------------------------------------
// IncidentEvent
// ---------------------------------------------------------------------------------------------

/// Something about an incident that people should learn of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// The incident (for `probe_degraded`, the probe incident).
    pub incident_id: Uuid,
    /// What happened.
    pub kind: IncidentEventKind,
    /// The target, absent for operator events (`probe_degraded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetRef>,
    /// The state the target is in after this event.
    pub state: TargetStatus,
    /// Regions that saw the failure.
    #[serde(default)]
    pub regions: Vec<String>,
    /// When the incident began.
    pub started_at: DateTime<Utc>,
    /// When it ended (`resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Pinger concerned (`probe_degraded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinger_id: Option<String>,
    /// What the event rests on.
    pub evidence: Evidence,
    /// The incident this one is linked to (a dependency's, open when this one opened), and
    /// whether the event is held for it: an event with `held` is stored and shown, never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<CausedBy>,
    /// The group incident this one is a member of when the event was made (cause
    /// correlation: members share a cause signal), as it stood then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupRef>,
}

/// The most member names a [`GroupRef`] carries.
pub const GROUP_NAMES_LIMIT: usize = 25;

/// A group incident as an event of one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    /// The group.
    pub id: Uuid,
    /// The shared cause signal, e.g. `ip:203.0.113.7:connect_refused` (see
    /// [`crate::i18n::cause_msg`] for it in words).
    pub cause: String,
    /// Members in all, and how many of them are still open.
    pub members: u32,
    /// Members still open.
    pub open: u32,
    /// The members' target names, open ones first (at most [`GROUP_NAMES_LIMIT`]).
    #[serde(default)]
    pub names: Vec<String>,
    /// The group is over (its last member resolved).
    #[serde(default)]
    pub resolved: bool,
}

impl IncidentEvent {
    /// Whether the event waits for its cause: the notifier sends nothing of it.
    pub fn held(&self) -> bool {
        self.caused_by.as_ref().is_some_and(|c| c.held)
    }
}

/// The incident that explains another: a dependency's incident, open when the dependant's
/// opened. While it is open the dependant's events are `held` (not sent); when it resolves and
/// the dependant is still down, the dependant's `opened` event is published again with
/// `released_at` and goes out then, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausedBy {
    /// The cause's incident.
    pub incident_id: Uuid,
    /// The cause's target.
    pub target_id: Uuid,
    /// The cause's target's name.
    pub target_name: String,
    /// The event is held for the cause: stored and shown, not sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// When the cause resolved while this incident stayed open: the owner hears of it from
    /// then on (an escalation counts its steps from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
}

impl Message for IncidentEvent {
    const KIND: &'static str = "incident_event";
    const EXCHANGE: &'static str = INCIDENTS_EXCHANGE;
    fn routing_key(&self) -> String {
        format!("incidents.{}", self.kind.as_str())
    }
}

/// The kinds of incident event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum IncidentEventKind {
    /// The target went down (or degraded) and an incident opened.
    Opened,
    /// The incident is over.
    Resolved,
    /// A certificate crossed an expiry warning threshold.
    CertExpiring,
    /// The target changes state too often; alerts are held until it is stable.
    Flapping,
    /// A pinger lost its own connectivity; its results are not counted.
    ProbeDegraded,
}

impl IncidentEventKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentEventKind::Opened => "opened",
            IncidentEventKind::Resolved => "resolved",
            IncidentEventKind::CertExpiring => "cert_expiring",
            IncidentEventKind::Flapping => "flapping",
            IncidentEventKind::ProbeDegraded => "probe_degraded",
        }
    }
}

/// A target as messages refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRef {
    /// Target id.
    pub id: Uuid,
    /// Owner's user id.
    pub owner_id: Uuid,
    /// Name the user gave it.
    pub name: String,
    /// Kind of check.
    pub check_kind: CheckKind,
    /// What is checked, for display: the URL, `host:port` or the DNS name.
    pub address: String,
}

/// The state of a target as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// No result yet.
    Unknown,
    /// Healthy.
    Up,
    /// A failure was seen; not yet confirmed.
    Pending,
    /// Working but slow or near a limit.
    Degraded,
    /// Confirmed down.
    Down,
    /// Changing state too often.
    Flapping,
    /// Checks are paused.
    Paused,
}

impl TargetStatus {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Unknown => "unknown",
            TargetStatus::Up => "up",
            TargetStatus::Pending => "pending",
            TargetStatus::Degraded => "degraded",
            TargetStatus::Down => "down",
            TargetStatus::Flapping => "flapping",
            TargetStatus::Paused => "paused",
        }
    }
}

/// The facts an incident event rests on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// The results that opened (or resolved) the incident, newest last.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub results: Vec<CheckResult>,
    /// The last good result before the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub last_good: Option<CheckResult>,
    /// Median latency over the 24 hours before the incident (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub baseline_latency_ms: Option<f64>,
    /// Failure kinds seen, by region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_kinds_by_region: BTreeMap<String, Vec<FailureKind>>,
    /// Certificate concerned (`cert_expiring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub certificate: Option<TlsInfo>,
    /// Warning threshold crossed, in days (`cert_expiring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub threshold_days: Option<u32>,
    /// The latency baseline a slow-response (degraded) incident was judged against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub latency_baseline: Option<LatencyBaseline>,
}

/// The latency baseline of a slow-response incident: the target's latency stayed above the
/// limit its baseline sets for that hour of the week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatencyBaseline {
    /// Hour of the week of the baseline's bucket (0 = Monday 00:00 UTC … 167 = Sunday 23:00
    /// UTC); absent when the all-hours baseline stood in for a bucket with too few samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub hour_of_week: Option<u16>,
    /// Usual latency then (p50, ms).
    pub p50_ms: f64,
    /// The p95 then (ms).
    pub p95_ms: f64,
    /// Slow is above this: max(p95 × factor, p95 + min_increase_ms) (ms).
    pub limit_ms: f64,
    /// The target's factor.
    pub factor: f64,
    /// The target's minimum increase (ms).
    pub min_increase_ms: f64,
    /// The newest latency over the limit (ms).
    pub latency_ms: f64,
    /// Results over the limit in a row.
    pub checks: u32,
    /// The same in words: `p95 for Tuesday 14:00 UTC is 22 ms; now 210 ms for 3 checks`.
    pub summary: String,
}

// ---------------------------------------------------------------------------------------------
// IncidentReport
// ---------------------------------------------------------------------------------------------

/// A readable account of an incident, written by an LLM or by the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IncidentReport {
    /// The incident.
    pub incident_id: Uuid,
    /// The event the report is about.
    pub event_kind: IncidentEventKind,
    /// Language, as a lowercase tag (`en`, `ru`).
    pub language: String,
    /// One or two sentences: what is wrong.
    pub summary: String,
    /// The most likely cause.
    pub probable_cause: String,
    /// Who and what is affected.
    pub impact: String,
    /// What to do, most useful first.
    pub recommended_actions: Vec<String>,
    /// `llm:<model>` or `rules`.
    pub source: String,
    /// Each claim and the result ids it rests on.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub claims: Vec<ReportClaim>,
    /// When it was written.
    pub generated_at: DateTime<Utc>,
}

impl Message for IncidentReport {
    const KIND: &'static str = "incident_report";
    const EXCHANGE: &'static str = REPORTS_EXCHANGE;
    fn routing_key(&self) -> String {
        format!("reports.{}", self.event_kind.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Channel tests
// ---------------------------------------------------------------------------------------------

/// "Send a test message" of one channel: the backend publishes it to [`CHANNELS_TEST_QUEUE`]
/// with a reply queue, the notifier sends the test message and answers with a
/// [`ChannelTestResult`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelTest {
    /// The channel to test.
    pub channel_id: Uuid,
    /// Its owner (the notifier checks the channel is theirs).
    pub owner_id: Uuid,
    /// The language of the message (`en`, `ru`).
    pub language: String,
}

impl Message for ChannelTest {
    const KIND: &'static str = "channel_test";
    const EXCHANGE: &'static str = CHANNELS_EXCHANGE;
    fn routing_key(&self) -> String {
        CHANNELS_TEST_QUEUE.to_owned()
    }
}

/// The notifier's answer to a [`ChannelTest`] (sent to the request's reply queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelTestResult {
    /// Whether the service accepted the message.
    pub delivered: bool,
    /// Why not, when it was not (never a secret).
    #[serde(default)]
    pub error: Option<String>,
}

impl Message for ChannelTestResult {
    const KIND: &'static str = "channel_test_result";
    const EXCHANGE: &'static str = CHANNELS_EXCHANGE;
    /// Replies go to the requester's reply queue; this key is bound to nothing.
    fn routing_key(&self) -> String {
        "channels.test.result".to_owned()
    }
}

/// A statement of a report and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportClaim {
    /// The statement.
    pub text: String,
    /// Ids of the results it rests on.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub result_ids: Vec<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples;

    #[test]
    fn check_jobs_json_is_pinned() {
        insta::assert_json_snapshot!(samples::envelope(samples::check_jobs()));
    }

    #[test]
    fn a_result_id_derives_from_its_job_alone() {
        let job = samples::check_job();
        assert_eq!(job.result_id(), samples::check_job().result_id());
        assert_ne!(job.result_id(), job.job_id);
        let mut other = samples::check_job();
        other.job_id = Uuid::from_u128(77);
        assert_ne!(other.result_id(), job.result_id());
    }

    #[test]
    fn jobs_are_chunked_to_the_bound_and_validated() {
        let jobs = vec![samples::check_job(); MAX_JOBS_PER_MESSAGE * 2 + 1];
        let chunks = CheckJobs::chunked(DEFAULT_REGION, jobs);
        assert_eq!(chunks.iter().map(|c| c.jobs.len()).collect::<Vec<_>>(), [64, 64, 1]);
        assert!(chunks.iter().all(|c| c.validate().is_ok()));
        assert!(CheckJobs::chunked(DEFAULT_REGION, Vec::new()).is_empty());
        let too_many = CheckJobs {
            region: DEFAULT_REGION.into(),
            jobs: vec![samples::check_job(); MAX_JOBS_PER_MESSAGE + 1],
        };
        assert!(too_many.validate().unwrap_err().starts_with("jobs:"));
        let empty = CheckJobs {
            region: DEFAULT_REGION.into(),
            jobs: Vec::new(),
        };
        assert!(empty.validate().is_err());
        let mut foreign = CheckJobs::one(samples::check_job());
        foreign.region = "eu".into();
        assert!(foreign.validate().unwrap_err().contains("region"));
    }

    #[test]
    fn check_result_json_is_pinned() {
        insta::assert_json_snapshot!(samples::envelope(samples::check_result()));
    }

    #[test]
    fn incident_event_json_is_pinned() {
        insta::assert_json_snapshot!(samples::envelope(samples::incident_event()));
    }

    #[test]
    fn incident_report_json_is_pinned() {
        insta::assert_json_snapshot!(samples::envelope(samples::incident_report()));
    }

    #[test]
    fn a_held_event_names_its_cause_and_an_old_event_has_none() {
        let mut event = samples::incident_event();
        assert!(!event.held());
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get("caused_by").is_none(), "absent when there is no cause");
        event.caused_by = Some(CausedBy {
            incident_id: Uuid::from_u128(7),
            target_id: Uuid::from_u128(8),
            target_name: "Database".into(),
            held: true,
            released_at: None,
        });
        assert!(event.held());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["caused_by"],
            serde_json::json!({"incident_id": Uuid::from_u128(7), "target_id": Uuid::from_u128(8),
                               "target_name": "Database", "held": true})
        );
        let back: IncidentEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn every_message_round_trips_through_json() {
        fn round<T: Message + PartialEq + std::fmt::Debug>(m: T) {
            let env = Envelope::new(m);
            let back: Envelope<T> = serde_json::from_slice(&serde_json::to_vec(&env).unwrap()).unwrap();
            assert_eq!(back, env);
        }
        round(samples::check_jobs());
        round(samples::check_result());
        round(samples::incident_event());
        round(samples::incident_report());
    }

    #[test]
    fn a_minimal_http_spec_gets_the_documented_defaults() {
        let spec: CheckSpec = serde_json::from_str(r#"{"kind":"http","url":"https://example.com"}"#).unwrap();
        let CheckSpec::Http(h) = spec else { panic!("http spec") };
        assert_eq!(h.method, HttpMethod::Get);
        assert_eq!(h.expected_status, vec![StatusRange { from: 200, to: 399 }]);
        assert!(h.follow_redirects);
        assert_eq!(h.max_redirects, 10);
        assert_eq!(h.timeout_ms, 10_000);
        assert!(h.verify_tls);
    }

    #[test]
    fn a_spec_reads_the_same_whichever_key_comes_first() {
        let specs = [
            CheckSpec::Http(HttpSpec {
                headers: vec![HttpHeader::new("X-Kind", "kind")],
                degraded_above_ms: Some(800),
                ..HttpSpec::get("https://example.com/kind")
            }),
            serde_json::from_str(r#"{"kind":"tcp","host":"example.com","port":25,"expected_banner":"220"}"#).unwrap(),
            serde_json::from_str(r#"{"kind":"dns","name":"example.com","record_type":"MX"}"#).unwrap(),
            serde_json::from_str(r#"{"kind":"tls","host":"example.com"}"#).unwrap(),
        ];
        for spec in specs {
            let written = serde_json::to_value(&spec).unwrap();
            assert!(
                serde_json::to_string(&spec).unwrap().starts_with(r#"{"kind":"#),
                "kind is written first"
            );
            // As written (kind first), and with kind last, as JSONB and people may order it.
            let mut rest = written.as_object().unwrap().clone();
            let kind = rest.remove("kind").unwrap();
            let rest = serde_json::to_string(&rest).unwrap();
            let reordered = format!("{},\"kind\":{kind}}}", &rest[..rest.len() - 1]);
            assert!(reordered.ends_with(&format!(",\"kind\":{kind}}}")), "{reordered}");
            assert_eq!(serde_json::from_value::<CheckSpec>(written).unwrap(), spec);
            assert_eq!(serde_json::from_str::<CheckSpec>(&reordered).unwrap(), spec);
        }
    }

    #[test]
    fn a_spec_without_a_known_kind_is_refused_with_the_field_named() {
        for (json, says) in [
            (r#"{"kind":"smtp","host":"x"}"#, "unknown variant `smtp`"),
            (r#"{"host":"x","kind":"smtp"}"#, "unknown variant `smtp`"),
            (r#"{"url":"https://example.com"}"#, "missing field `kind`"),
            (r#"{}"#, "missing field `kind`"),
            (r#"{"kind":"http"}"#, "missing field `url`"),
            (
                r#"{"url":"https://example.com","kind":"http","timeout_ms":"soon"}"#,
                "invalid type",
            ),
            (
                r#"{"kind":"http","url":"https://example.com","timeout_ms":"soon"}"#,
                "invalid type",
            ),
            (r#""http""#, "a check spec"),
        ] {
            let error = serde_json::from_str::<CheckSpec>(json).unwrap_err().to_string();
            assert!(error.contains(says), "{json}: {error}");
        }
    }

    #[test]
    fn unknown_failure_kinds_from_newer_pingers_still_decode() {
        let f: Failure = serde_json::from_str(r#"{"kind":"quantum_flux","phase":"dns","message":"?"}"#).unwrap();
        assert_eq!(f.kind, FailureKind::Other);
    }
}
