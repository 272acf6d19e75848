//! Targets as users write them: the input, its validation against the owner's quotas and
//! permission, and the import/export document (config as code, JSON or YAML).

use common::messages::{CheckKind, CheckSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::quotas::{self, UserLimits};
use crate::secrets::{self, Secrets};
use crate::state::AppState;
use crate::validate;

/// Default check interval.
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
/// Longest check interval.
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;
/// Most targets one import may carry.
pub const MAX_IMPORT: usize = 10_000;

/// A target as written by users: the body of POST/PUT and one entry of an export.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetInput {
    /// Name shown everywhere (1–200 characters, no control characters).
    pub name: String,
    /// `http`, `tcp`, `dns`, `tls`, `icmp` or `heartbeat`; optional, must match `spec.kind`
    /// when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CheckKind>,
    // Kept as JSON, and decoded by `decode_spec`, so that a refusal names the field at fault.
    /// The check, tagged by `kind`.
    #[schema(value_type = CheckSpec)]
    pub spec: Value,
    /// Seconds between checks (default 60; at least the operator's minimum). A heartbeat
    /// ignores it: its schedule is in its spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    /// Seconds a check may take (< interval); overrides `spec.timeout_ms` (for `icmp`, the
    /// wait for each reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Pinger regions (default: all known regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Consecutive failures that open an incident (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    /// Consecutive successes that resolve it (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
    /// Checks are paused.
    #[serde(default)]
    pub paused: bool,
    /// Ids of targets of your organisation this one depends on (at most 20 with
    /// `depends_on_names`). While one of them has an incident open, this target's new incidents
    /// are linked to it and not notified; if this target is still down when it recovers, it is
    /// notified then. A target of another organisation or an unknown id is 422 naming
    /// `depends_on[i]`; the target itself or a cycle (also through tags) is 422 naming the cycle.
    /// Absent on `PUT` (with `depends_on_names`): the current dependencies stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub depends_on: Option<Vec<uuid::Uuid>>,
    /// The same by name: in an import document, a target of the document or of yours (the
    /// export writes these, as ids do not travel); elsewhere, of yours (the oldest of that name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 20)]
    pub depends_on_names: Option<Vec<String>>,
    /// When latency counts as slow against the target's baseline. Omitted: the stored
    /// settings stay (the defaults for a new target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub baseline: Option<crate::baselines::BaselineInput>,
}

impl TargetInput {
    /// Takes the dependencies out of the input: `None` when it names none (an update keeps the
    /// stored ones), else the ids and the names.
    pub fn take_dependencies(&mut self) -> Option<(Vec<uuid::Uuid>, Vec<String>)> {
        match (self.depends_on.take(), self.depends_on_names.take()) {
            (None, None) => None,
            (ids, names) => Some((ids.unwrap_or_default(), names.unwrap_or_default())),
        }
    }
}

// The fields of `TargetInput` and `Target` again, typed: what validation guarantees is in the types.
/// A validated target, ready to store. Its `Debug` leaves the spec out (it holds secrets).
#[derive(Clone)]
pub struct ValidTarget {
    /// Name.
    pub name: String,
    /// The check.
    pub spec: CheckSpec,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Regions.
    pub regions: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Failures to open.
    pub failure_threshold: u32,
    /// Successes to resolve.
    pub success_threshold: u32,
    /// Paused.
    pub paused: bool,
    /// Baseline settings to store (`None`: leave them as they are).
    pub baseline: Option<crate::baselines::BaselineSettings>,
}

impl std::fmt::Debug for ValidTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidTarget")
            .field("name", &self.name)
            .field("kind", &self.spec.kind())
            .field("interval_seconds", &self.interval_seconds)
            .finish_non_exhaustive()
    }
}

/// Deserialises `value` as `T`, naming the failing field as `prefix.path`.
pub fn from_value<T: serde::de::DeserializeOwned>(prefix: &str, value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut path = e.path().to_string();
        let message = e.into_inner().to_string();
        // A missing field is reported at its parent; name the field itself.
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            path = if path == "." {
                missing.to_owned()
            } else {
                format!("{path}.{missing}")
            };
        }
        let field = match (prefix.is_empty(), path.as_str()) {
            (true, ".") => String::new(),
            (true, p) => p.to_owned(),
            (false, ".") => prefix.to_owned(),
            (false, p) => format!("{prefix}.{p}"),
        };
        if field.is_empty() {
            ApiError::invalid_body(message)
        } else {
            ApiError::validation(field, message)
        }
    })
}

/// Decodes a `spec` JSON, naming the failing field (`spec.url`, `spec.record_type`).
pub fn decode_spec(prefix: &str, value: Value) -> Result<CheckSpec, ApiError> {
    use common::messages::{DnsSpec, HeartbeatSpec, HttpSpec, IcmpSpec, TcpSpec, TlsSpec};
    let Value::Object(mut map) = value else {
        return Err(ApiError::validation(prefix, "spec must be an object with a kind"));
    };
    let kind = map.remove("kind");
    let kind_field = format!("{prefix}.kind");
    let rest = Value::Object(map);
    match kind.as_ref().and_then(Value::as_str) {
        Some("http") => Ok(CheckSpec::Http(from_value::<HttpSpec>(prefix, rest)?)),
        Some("tcp") => Ok(CheckSpec::Tcp(from_value::<TcpSpec>(prefix, rest)?)),
        Some("dns") => Ok(CheckSpec::Dns(from_value::<DnsSpec>(prefix, rest)?)),
        Some("tls") => Ok(CheckSpec::Tls(from_value::<TlsSpec>(prefix, rest)?)),
        Some("icmp") => Ok(CheckSpec::Icmp(from_value::<IcmpSpec>(prefix, rest)?)),
        Some("heartbeat") => Ok(CheckSpec::Heartbeat(from_value::<HeartbeatSpec>(prefix, rest)?)),
        Some(other) => Err(ApiError::validation(
            kind_field,
            format!("unknown check kind {other:?}; use http, tcp, dns, tls, icmp or heartbeat"),
        )),
        None => Err(ApiError::validation(
            kind_field,
            "spec.kind is required: http, tcp, dns, tls, icmp or heartbeat",
        )),
    }
}

/// The per-check quotas that need the decoded spec: headers, header bytes, body, assertions.
fn spec_quotas(prefix: &str, spec: &CheckSpec, q: &quotas::Quotas) -> Result<(), ApiError> {
    let CheckSpec::Http(h) = spec else {
        return Ok(());
    };
    if h.headers.len() > q.max_headers as usize {
        return Err(ApiError::validation(
            format!("{prefix}.headers"),
            format!("at most {} headers (your quota)", q.max_headers),
        ));
    }
    let header_bytes: usize = h.headers.iter().map(|x| x.name.len() + x.value.len()).sum();
    if header_bytes > q.max_header_bytes as usize {
        return Err(ApiError::too_large(
            format!("{prefix}.headers"),
            format!("the headers may take at most {} bytes (your quota)", q.max_header_bytes),
        ));
    }
    if let Some(body) = &h.body
        && body.len() > q.max_body_bytes as usize
    {
        return Err(ApiError::too_large(
            format!("{prefix}.body"),
            format!("the body may take at most {} bytes (your quota)", q.max_body_bytes),
        ));
    }
    if h.assertions.len() > q.max_assertions as usize {
        return Err(ApiError::validation(
            format!("{prefix}.assertions"),
            format!("at most {} assertions (your quota)", q.max_assertions),
        ));
    }
    Ok(())
}

/// Validates a target input against the owner's quotas and permission; `prefix` is prepended
/// to field names (`targets[3].`). A secret sent as the mask takes its value from `old` (the
/// stored target's secrets), and is refused when there is none.
pub async fn validate_input(
    state: &AppState,
    prefix: &str,
    input: TargetInput,
    limits: &UserLimits,
    old: Option<&Secrets>,
) -> Result<ValidTarget, ApiError> {
    let f = |name: &str| format!("{prefix}{name}");
    let q = &limits.quotas;
    let name = validate::text(&f("name"), &input.name, 200)?;
    let spec_bytes = serde_json::to_vec(&input.spec).map(|v| v.len()).unwrap_or(usize::MAX);
    if spec_bytes > q.max_spec_bytes as usize {
        return Err(ApiError::too_large(
            f("spec"),
            format!(
                "the spec may take at most {} bytes as JSON (your quota)",
                q.max_spec_bytes
            ),
        ));
    }
    let mut spec = decode_spec(&f("spec"), input.spec)?;
    if let Some(kind) = input.kind
        && kind != spec.kind()
    {
        return Err(ApiError::validation(f("kind"), "kind must match spec.kind"));
    }
    spec_quotas(&f("spec"), &spec, q)?;
    let baseline = crate::baselines::settings::validate(prefix, input.baseline, spec.kind() == CheckKind::Heartbeat)?;
    if let CheckSpec::Heartbeat(h) = &spec {
        let mut t = heartbeat_target(prefix, name, h.clone(), &input.tags, input.paused, state, limits).await?;
        t.baseline = baseline;
        return Ok(t);
    }
    secrets::resolve(&f("spec"), &mut spec, old)?;
    let interval = input
        .interval_seconds
        .unwrap_or(DEFAULT_INTERVAL_SECONDS.max(q.min_interval_seconds));
    if interval < q.min_interval_seconds || interval > MAX_INTERVAL_SECONDS {
        return Err(ApiError::validation(
            f("interval_seconds"),
            format!(
                "the interval must be between {} and {MAX_INTERVAL_SECONDS} seconds",
                q.min_interval_seconds
            ),
        ));
    }
    if let Some(t) = input.timeout_seconds {
        if !t.is_finite() || t <= 0.0 {
            return Err(ApiError::validation(
                f("timeout_seconds"),
                "the timeout must be positive",
            ));
        }
        let ms = (t * 1000.0).round() as u32;
        match &mut spec {
            CheckSpec::Http(s) => s.timeout_ms = ms,
            CheckSpec::Tcp(s) => s.timeout_ms = ms,
            CheckSpec::Dns(s) => s.timeout_ms = ms,
            CheckSpec::Tls(s) => s.timeout_ms = ms,
            CheckSpec::Icmp(s) => s.timeout_ms = ms,
            CheckSpec::Heartbeat(_) => {}
        }
    }
    let timeout_field = if input.timeout_seconds.is_some() {
        f("timeout_seconds")
    } else {
        f("spec.timeout_ms")
    };
    if u64::from(spec.timeout_ms()) >= u64::from(interval) * 1000 {
        let message = match &spec {
            // An ICMP check's time is its echoes' schedule plus the last reply's wait.
            CheckSpec::Icmp(s) => format!(
                "count × interval_ms + timeout_ms ({} ms) must be shorter than the interval",
                s.total_ms()
            ),
            _ => "the timeout must be shorter than the interval".to_owned(),
        };
        return Err(ApiError::validation(timeout_field, message));
    }
    if u64::from(spec.timeout_ms()) > u64::from(q.max_timeout_seconds) * 1000 {
        return Err(ApiError::validation(
            timeout_field,
            format!(
                "the timeout may be at most {} seconds (your quota)",
                q.max_timeout_seconds
            ),
        ));
    }
    validate::spec(&f("spec"), &spec, &state.guard, limits.may_private_targets).await?;
    let known = state.known_regions();
    let regions = match input.regions {
        None => known.clone(),
        Some(r) if r.is_empty() => known.clone(),
        Some(r) => {
            let mut out: Vec<String> = Vec::new();
            for (i, region) in r.iter().enumerate() {
                let region = region.trim();
                if !known.iter().any(|k| k == region) {
                    return Err(ApiError::validation(
                        format!("{prefix}regions[{i}]"),
                        format!("unknown region {region:?}; known: {}", known.join(", ")),
                    ));
                }
                if !out.iter().any(|o| o == region) {
                    out.push(region.to_owned());
                }
            }
            out
        }
    };
    let tags = valid_tags(prefix, &input.tags)?;
    let threshold = |field: &str, v: Option<u32>, default: u32| -> Result<u32, ApiError> {
        let v = v.unwrap_or(default);
        if !(1..=100).contains(&v) {
            return Err(ApiError::validation(
                f(field),
                "the threshold must be between 1 and 100",
            ));
        }
        Ok(v)
    };
    Ok(ValidTarget {
        name,
        failure_threshold: threshold("failure_threshold", input.failure_threshold, 3)?,
        success_threshold: threshold("success_threshold", input.success_threshold, 2)?,
        spec,
        interval_seconds: interval,
        regions,
        tags,
        paused: input.paused,
        baseline,
    })
}

/// At most 50 tags of at most 64 characters, duplicates dropped.
fn valid_tags(prefix: &str, input: &[String]) -> Result<Vec<String>, ApiError> {
    if input.len() > 50 {
        return Err(ApiError::validation(format!("{prefix}tags"), "at most 50 tags"));
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in input.iter().enumerate() {
        let t = validate::text(&format!("{prefix}tags[{i}]"), t, 64)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(tags)
}

/// A heartbeat target: its schedule and slug validated; no interval, timeout or regions of its
/// own (its results come from its pings, in the region [`crate::heartbeats::REGION`]); the
/// first failure opens an incident and the first success resolves it.
async fn heartbeat_target(
    prefix: &str,
    name: String,
    spec: common::messages::HeartbeatSpec,
    tags: &[String],
    paused: bool,
    state: &AppState,
    limits: &UserLimits,
) -> Result<ValidTarget, ApiError> {
    let f = |name: &str| format!("{prefix}{name}");
    let spec = CheckSpec::Heartbeat(spec);
    validate::spec(&f("spec"), &spec, &state.guard, limits.may_private_targets).await?;
    let tags = valid_tags(prefix, tags)?;
    let interval = match &spec {
        CheckSpec::Heartbeat(h) => h.period_seconds.unwrap_or(MAX_INTERVAL_SECONDS),
        _ => DEFAULT_INTERVAL_SECONDS,
    };
    Ok(ValidTarget {
        name,
        spec,
        interval_seconds: interval.clamp(1, MAX_INTERVAL_SECONDS),
        regions: vec![crate::heartbeats::REGION.to_owned()],
        tags,
        failure_threshold: 1,
        success_threshold: 1,
        paused,
        baseline: None,
    })
}

/// Reads a POST/PUT body into a [`TargetInput`], naming the failing field.
pub fn parse_input(body: Value) -> Result<TargetInput, ApiError> {
    from_value("", body)
}

/// The import/export document (config as code).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetsDocument {
    /// Always 1.
    pub version: u32,
    /// The targets.
    pub targets: Vec<TargetInput>,
}

/// Reads an import body: YAML when `content_type` says so, JSON when it names JSON (or is
/// absent); 415 for anything else, 422 naming the field for a malformed document.
pub fn parse_document(content_type: Option<&str>, body: &[u8]) -> Result<TargetsDocument, ApiError> {
    let content_type = content_type.unwrap_or("application/json").to_ascii_lowercase();
    let value: Value = if content_type.contains("yaml") {
        serde_norway::from_slice(body).map_err(|e| ApiError::invalid_body(format!("not valid YAML: {e}")))?
    } else if content_type.contains("json") {
        serde_json::from_slice(body).map_err(|e| ApiError::invalid_body(format!("not valid JSON: {e}")))?
    } else {
        return Err(ApiError::unsupported_media_type(
            "send application/json or application/yaml",
        ));
    };
    let doc: TargetsDocument = from_value("", value)?;
    if doc.version != 1 {
        return Err(ApiError::validation("version", "only version 1 documents are known"));
    }
    if doc.targets.len() > MAX_IMPORT {
        return Err(ApiError::validation(
            "targets",
            format!("at most {MAX_IMPORT} targets per import"),
        ));
    }
    Ok(doc)
}

/// The document as YAML.
pub fn to_yaml(doc: &TargetsDocument) -> Result<String, ApiError> {
    serde_norway::to_string(doc).map_err(ApiError::internal)
}
