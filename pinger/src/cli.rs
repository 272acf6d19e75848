//! `pinger check`: one check, printed readably (every hop and phase) or as JSON.

use std::fmt::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use chrono::Utc;
use common::messages::{
    Assertion, CheckJob, CheckResult, CheckSpec, DnsRecordType, DnsSpec, DnsTransport, HttpHeader, HttpMethod,
    HttpSpec, IcmpSpec, Outcome, Resolver, StatusRange, TcpSpec, TlsSpec, icmp_bounds,
};
use common::netguard::Guard;
use uuid::Uuid;

use crate::checks::assertions::{self, PatternError};
use crate::config::{CheckArgs, Config};
use crate::engine::Engine;
use crate::report::Identity;

/// Most conditions one `pinger check` takes (all flags together).
pub const MAX_CLI_ASSERTIONS: usize = 64;

/// Conditions on an HTTP check's response, as a user tries them from the shell before
/// saving them on a target; each maps onto the spec's own fields and assertion types.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AssertionArgs {
    /// Accepted status: a code or a range such as `200-299` (repeatable; default 200-399).
    #[arg(long = "expect-status", value_name = "RANGE")]
    pub expect_status: Vec<String>,
    /// Text the (decoded) body must contain (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub contains: Vec<String>,
    /// Text the body must not contain (repeatable).
    #[arg(long = "not-contains", value_name = "TEXT")]
    pub not_contains: Vec<String>,
    /// Regular expression the body must match (repeatable).
    #[arg(long, value_name = "REGEX")]
    pub matches: Vec<String>,
    /// `PATH=VALUE`: the JSON value at PATH (e.g. `$.status`) equals VALUE, read as JSON when
    /// it is JSON (`3`, `true`, `"x"`) and as a string otherwise; a bare `PATH` must exist
    /// (repeatable).
    #[arg(long = "json-path", value_name = "PATH=VALUE")]
    pub json_path: Vec<String>,
    /// A response slower than this many milliseconds (whole chain) is degraded.
    #[arg(long = "degraded-above", value_name = "MS")]
    pub degraded_above: Option<u32>,
}

impl AssertionArgs {
    /// Whether any condition was given.
    pub fn any(&self) -> bool {
        !(self.expect_status.is_empty()
            && self.contains.is_empty()
            && self.not_contains.is_empty()
            && self.matches.is_empty()
            && self.json_path.is_empty()
            && self.degraded_above.is_none())
    }

    /// Sets the conditions on `spec`.
    pub fn apply(&self, spec: &mut HttpSpec) -> anyhow::Result<()> {
        let count = self.expect_status.len()
            + self.contains.len()
            + self.not_contains.len()
            + self.matches.len()
            + self.json_path.len();
        anyhow::ensure!(
            count <= MAX_CLI_ASSERTIONS,
            "{count} conditions given; at most {MAX_CLI_ASSERTIONS} are taken"
        );
        if !self.expect_status.is_empty() {
            spec.expected_status = self
                .expect_status
                .iter()
                .map(|r| status_range(r))
                .collect::<anyhow::Result<_>>()?;
        }
        for value in &self.contains {
            spec.assertions.push(Assertion::BodyContains { value: value.clone() });
        }
        for value in &self.not_contains {
            spec.assertions
                .push(Assertion::BodyNotContains { value: value.clone() });
        }
        for pattern in &self.matches {
            match assertions::compiled(pattern) {
                Ok(_) => {}
                Err(PatternError::TooBig) => anyhow::bail!("--matches {pattern:?}: the expression is too large"),
                Err(PatternError::Invalid(e)) => anyhow::bail!("--matches {pattern:?}: {e}"),
            }
            spec.assertions.push(Assertion::BodyMatches {
                pattern: pattern.clone(),
            });
        }
        for arg in &self.json_path {
            spec.assertions.push(json_path(arg)?);
        }
        if let Some(ms) = self.degraded_above {
            spec.degraded_above_ms = Some(ms);
        }
        Ok(())
    }
}

/// `200` or `200-299` (codes 100–599).
fn status_range(text: &str) -> anyhow::Result<StatusRange> {
    let code = |t: &str| -> anyhow::Result<u16> {
        let c: u16 = t
            .trim()
            .parse()
            .with_context(|| format!("--expect-status {text:?}: {t:?} is not a status code"))?;
        anyhow::ensure!(
            (100..=599).contains(&c),
            "--expect-status {text:?}: {c} is not a status code (100-599)"
        );
        Ok(c)
    };
    let (from, to) = match text.split_once('-') {
        Some((a, b)) => (code(a)?, code(b)?),
        None => {
            let c = code(text)?;
            (c, c)
        }
    };
    anyhow::ensure!(from <= to, "--expect-status {text:?}: the range is empty");
    Ok(StatusRange { from, to })
}

/// `PATH=VALUE` → equals, a bare `PATH` → exists.
fn json_path(arg: &str) -> anyhow::Result<Assertion> {
    let (path, value) = match arg.split_once('=') {
        Some((p, v)) => (p.trim(), Some(v)),
        None => (arg.trim(), None),
    };
    anyhow::ensure!(!path.is_empty(), "--json-path {arg:?}: the path is empty");
    Ok(match value {
        None => Assertion::JsonPathExists { path: path.to_owned() },
        Some(v) => Assertion::JsonPathEquals {
            path: path.to_owned(),
            value: serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned())),
        },
    })
}

/// Builds the spec the arguments describe.
pub fn spec_of(args: &CheckArgs) -> anyhow::Result<CheckSpec> {
    let timeout_ms = u32::try_from(args.timeout.as_millis()).unwrap_or(u32::MAX);
    let resolver = args.resolver.map(|address: SocketAddr| Resolver {
        address,
        protocol: if args.resolver_tcp {
            DnsTransport::Tcp
        } else {
            DnsTransport::Udp
        },
    });
    if args.icmp {
        return icmp_spec_of(args);
    }
    anyhow::ensure!(
        !(args.assertions.any() && (args.dns || args.tcp || args.tls)),
        "--expect-status, --contains, --not-contains, --matches, --json-path and --degraded-above are for HTTP checks"
    );
    if args.dns {
        let record_type = DnsRecordType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(&args.record_type))
            .ok_or_else(|| anyhow::anyhow!("unknown record type {}", args.record_type))?;
        return Ok(CheckSpec::Dns(DnsSpec {
            name: args.target.clone(),
            record_type,
            resolver,
            expected_answers: args.expected_answers.clone(),
            timeout_ms,
        }));
    }
    anyhow::ensure!(
        args.tls || args.starttls.is_none(),
        "--starttls is for TLS checks (--tls)"
    );
    if args.tcp || args.tls {
        let (host, port) = split_host_port(&args.target, if args.tls { Some(443) } else { None })?;
        return Ok(if args.tcp {
            CheckSpec::Tcp(TcpSpec {
                host,
                port,
                timeout_ms,
                expected_banner: args.expect_banner.clone(),
            })
        } else {
            CheckSpec::Tls(TlsSpec {
                host,
                port,
                sni: args.sni.clone(),
                warn_days: args.warn_days,
                timeout_ms,
                starttls: args.starttls,
            })
        });
    }
    let mut spec = HttpSpec::get(&args.target);
    spec.method = serde_json::from_value(serde_json::Value::String(args.method.to_ascii_uppercase()))
        .map_err(|_| anyhow::anyhow!("unsupported method {}", args.method))?;
    if spec.method == HttpMethod::Get && args.data.is_some() && args.method.eq_ignore_ascii_case("get") {
        spec.method = HttpMethod::Post;
    }
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("header {h:?} is not `Name: value`"))?;
        spec.headers.push(HttpHeader::new(name.trim(), value.trim()));
    }
    spec.body = args.data.clone();
    spec.follow_redirects = !args.no_follow;
    spec.max_redirects = args.max_redirects;
    spec.verify_tls = !args.insecure;
    spec.tls_warn_days = args.warn_days;
    spec.timeout_ms = timeout_ms;
    spec.resolver = resolver;
    args.assertions.apply(&mut spec)?;
    Ok(CheckSpec::Http(spec))
}

/// The ICMP spec of `--icmp HOST`, its fields bounded as the backend bounds them.
fn icmp_spec_of(args: &CheckArgs) -> anyhow::Result<CheckSpec> {
    let a = &args.assertions;
    anyhow::ensure!(
        a.expect_status.is_empty()
            && a.contains.is_empty()
            && a.not_contains.is_empty()
            && a.matches.is_empty()
            && a.json_path.is_empty(),
        "--expect-status, --contains, --not-contains, --matches and --json-path are for HTTP checks"
    );
    let ms = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
    let in_range = |flag: &str, v: u32, range: std::ops::RangeInclusive<u32>, unit: &str| {
        anyhow::ensure!(
            range.contains(&v),
            "{flag} {v}: must be between {} and {}{unit}",
            range.start(),
            range.end()
        );
        Ok(())
    };
    in_range("--count", args.count, icmp_bounds::COUNT, "")?;
    in_range("--interval", ms(args.interval), icmp_bounds::INTERVAL_MS, " ms")?;
    in_range("--echo-timeout", ms(args.echo_timeout), icmp_bounds::TIMEOUT_MS, " ms")?;
    in_range("--payload-size", args.payload_size, icmp_bounds::PAYLOAD_SIZE, " bytes")?;
    if let Some(loss) = args.degraded_loss {
        in_range("--degraded-loss", loss, icmp_bounds::LOSS_PERCENT, " %")?;
    }
    Ok(CheckSpec::Icmp(IcmpSpec {
        host: args.target.trim_start_matches('[').trim_end_matches(']').to_owned(),
        count: args.count,
        interval_ms: ms(args.interval),
        timeout_ms: ms(args.echo_timeout),
        payload_size: args.payload_size,
        degraded_loss_percent: args.degraded_loss,
        degraded_above_ms: a.degraded_above,
    }))
}

fn split_host_port(target: &str, default_port: Option<u16>) -> anyhow::Result<(String, u16)> {
    if let Some((host, port)) = target.rsplit_once(':')
        && !host.ends_with(':')
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok((host.trim_start_matches('[').trim_end_matches(']').to_owned(), port));
    }
    match default_port {
        Some(p) => Ok((target.trim_start_matches('[').trim_end_matches(']').to_owned(), p)),
        None => anyhow::bail!("{target:?} is not host:port"),
    }
}

/// Runs the check and prints it; the exit code is 0 up, 1 degraded, 2 down.
///
/// It runs as the operator: private targets when the installation allows them, never the
/// suite's own endpoints.
pub async fn run(args: CheckArgs, config: &Config) -> anyhow::Result<i32> {
    let pinger = &config.pinger;
    let spec = spec_of(&args)?;
    let guard = Guard::new(&config.guard, &config.suite_endpoints(None)).await;
    let engine = Engine::new(guard, pinger.source_addr, pinger.extra_ca_file.as_deref())?
        .operator()
        .with_public_resolver(pinger.public_resolver())
        .with_icmp_sockets(pinger.icmp_socket);
    // An ICMP check's own fields bound its time; the others take --timeout.
    let budget = match &spec {
        CheckSpec::Icmp(s) => std::time::Duration::from_millis(u64::from(s.total_ms())),
        _ => args.timeout,
    };
    let now = Utc::now();
    let job = CheckJob {
        job_id: Uuid::now_v7(),
        target_id: Uuid::nil(),
        owner_id: None,
        // `pinger check` runs on the operator's shell: the pinger's own policy decides.
        allow_private: true,
        region: pinger.region.clone(),
        scheduled_for: now,
        deadline: now + chrono::Duration::from_std(budget)? + chrono::Duration::seconds(1),
        spec,
    };
    let identity = Identity {
        region: pinger.region.clone(),
        pinger_id: pinger.pinger_id(),
    };
    let started = Utc::now();
    let report = engine.run(&job.spec, budget).await;
    let result = report.into_result(&job, &identity, started, Utc::now(), false);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", render(&job.spec, &result));
    }
    Ok(match result.outcome {
        Outcome::Up => 0,
        Outcome::Degraded => 1,
        Outcome::Down => 2,
    })
}

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1} ms")).unwrap_or_else(|| "-".into())
}

/// A readable rendering of a result: verdict, every hop with its phases, TLS and DNS facts.
pub fn render(spec: &CheckSpec, r: &CheckResult) -> String {
    let mut out = String::new();
    let what = match spec {
        CheckSpec::Http(s) => format!("{} {}", s.method.as_str(), s.url),
        CheckSpec::Tcp(s) => format!("TCP {}:{}", s.host, s.port),
        CheckSpec::Dns(s) => format!("DNS {} {}", s.record_type.as_str(), s.name),
        CheckSpec::Tls(s) => format!("TLS {}:{}", s.host, s.port),
        CheckSpec::Icmp(s) => format!("ICMP {}", s.host),
        CheckSpec::Heartbeat(_) => "heartbeat".to_owned(),
    };
    let status = r.status_code.map(|s| format!(" → {s}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{what}{status}: {} in {} ms",
        r.outcome.as_str().to_uppercase(),
        r.duration_ms
    );
    if let Some(f) = &r.failure {
        let _ = writeln!(out, "  failure   {} ({:?}): {}", f.kind.as_str(), f.phase, f.message);
    }
    for (i, h) in r.hops.iter().enumerate() {
        let _ = writeln!(
            out,
            "  hop {}     {} {}{} {}",
            i + 1,
            h.status.map(|s| s.to_string()).unwrap_or_else(|| "---".into()),
            h.http_version.as_deref().map(|v| format!("{v} ")).unwrap_or_default(),
            h.url,
            h.resolved_ip.map(|ip| format!("[{ip}]")).unwrap_or_default()
        );
        let t = &h.timings;
        let _ = writeln!(
            out,
            "            dns {}  connect {}  tls {}  ttfb {}  transfer {}",
            ms(t.dns_ms),
            ms(t.connect_ms),
            ms(t.tls_ms),
            ms(t.ttfb_ms),
            ms(t.transfer_ms)
        );
        if let Some(loc) = &h.location {
            let _ = writeln!(out, "            location {loc}");
        }
    }
    if let Some(t) = &r.tls {
        let _ = writeln!(
            out,
            "  tls       {} {}",
            t.version.as_deref().unwrap_or("?"),
            t.cipher.as_deref().unwrap_or("?")
        );
        let _ = writeln!(out, "  subject   {}", t.subject);
        let _ = writeln!(out, "  issuer    {}", t.issuer);
        let _ = writeln!(out, "  sans      {}", t.sans.join(", "));
        let _ = writeln!(
            out,
            "  validity  {} → {} ({} days left)",
            t.not_before.format("%Y-%m-%d"),
            t.not_after.format("%Y-%m-%d"),
            t.days_left
        );
        let _ = writeln!(
            out,
            "  verdict   chain {}, hostname {}{}",
            if t.chain_valid { "valid" } else { "INVALID" },
            if t.hostname_matches { "matches" } else { "MISMATCH" },
            t.validation_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "  sha256    {}", t.fingerprint_sha256);
    }
    if let Some(d) = &r.dns {
        let _ = writeln!(
            out,
            "  dns       {} from {} in {:.1} ms",
            d.rcode.as_deref().unwrap_or("no answer"),
            d.resolver,
            d.duration_ms
        );
        for a in &d.answers {
            let _ = writeln!(out, "            {} {} (ttl {})", a.record_type, a.value, a.ttl);
        }
    }
    if let Some(i) = &r.icmp {
        let ip = r.resolved_ip.map(|ip| ip.to_string()).unwrap_or_default();
        for e in &i.echoes {
            match (e.rtt_ms, &e.error) {
                (Some(rtt), _) => {
                    let _ = writeln!(out, "  echo      seq={} from {ip}: rtt {rtt:.3} ms", e.seq);
                }
                (None, error) => {
                    let _ = writeln!(
                        out,
                        "  echo      seq={} from {ip}: {}",
                        e.seq,
                        error.as_deref().unwrap_or("no reply")
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "  icmp      {} sent, {} received, {:.0} % loss ({} socket)",
            i.sent, i.received, i.loss_percent, i.socket
        );
        let rtt = |v: Option<f64>| v.map(|x| format!("{x:.3} ms")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  rtt       min {} / avg {} / max {}",
            rtt(i.rtt_min_ms),
            rtt(i.rtt_avg_ms),
            rtt(i.rtt_max_ms)
        );
    }
    if let Some(b) = &r.banner {
        let _ = writeln!(out, "  banner    {b:?}");
    }
    if let Some(e) = &r.body_excerpt {
        let _ = writeln!(out, "  body      {e}");
    }
    out
}
