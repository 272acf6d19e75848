//! What one check found, before it is stamped into a [`CheckResult`].

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use common::messages::{
    CheckJob, CheckKind, CheckResult, DnsInfo, Failure, FailureKind, HttpHop, IcmpInfo, Outcome, Phase, TlsInfo,
};

/// The findings of one check run; the outcome follows from the failures recorded.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The phase the check is in (used to name a timeout).
    pub phase: Option<Phase>,
    /// The first failure that makes the check down.
    pub down: Option<Failure>,
    /// The first failure that makes the check degraded.
    pub degraded: Option<Failure>,
    /// Final HTTP status.
    pub status_code: Option<u16>,
    /// Every HTTP hop.
    pub hops: Vec<HttpHop>,
    /// Address connected to (the final hop's).
    pub resolved_ip: Option<IpAddr>,
    /// TLS facts.
    pub tls: Option<TlsInfo>,
    /// DNS facts.
    pub dns: Option<DnsInfo>,
    /// ICMP echo facts.
    pub icmp: Option<IcmpInfo>,
    /// TCP banner.
    pub banner: Option<String>,
    /// Tag-stripped body excerpt (kept on failure).
    pub body_excerpt: Option<String>,
}

/// A failure as built by the checks.
pub fn failure(kind: FailureKind, phase: Phase, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        phase,
        message: message.into(),
    }
}

impl Report {
    /// Records a failure that makes the check down (the first one wins).
    pub fn fail(&mut self, f: Failure) {
        if self.down.is_none() {
            self.down = Some(f);
        }
    }

    /// Records a failure that makes the check degraded (the first one wins).
    pub fn degrade(&mut self, f: Failure) {
        if self.degraded.is_none() {
            self.degraded = Some(f);
        }
    }

    /// Whether a down failure was recorded.
    pub fn is_down(&self) -> bool {
        self.down.is_some()
    }

    /// Enters a phase.
    pub fn enter(&mut self, phase: Phase) {
        self.phase = Some(phase);
    }

    /// Records that the check ran out of time in its current phase.
    pub fn timed_out(&mut self, budget_ms: u128) {
        let phase = self.phase.unwrap_or(Phase::Setup);
        let kind = match phase {
            Phase::Dns => FailureKind::DnsTimeout,
            Phase::Connect => FailureKind::ConnectTimeout,
            _ => FailureKind::Timeout,
        };
        let what = match phase {
            Phase::Dns => "resolving the name",
            Phase::Connect => "connecting",
            Phase::Tls => "during the TLS handshake",
            Phase::Ttfb => "waiting for the response",
            Phase::Transfer => "reading the body",
            Phase::Redirect => "following redirects",
            Phase::Validation => "validating",
            Phase::Setup | Phase::Schedule => "before starting",
        };
        // A timeout replaces nothing already decided but beats a mere degradation.
        self.fail(failure(kind, phase, format!("timed out after {budget_ms} ms {what}")));
    }

    /// The outcome and its reason.
    pub fn verdict(&self) -> (Outcome, Option<Failure>) {
        if let Some(f) = &self.down {
            (Outcome::Down, Some(f.clone()))
        } else if let Some(f) = &self.degraded {
            (Outcome::Degraded, Some(f.clone()))
        } else {
            (Outcome::Up, None)
        }
    }

    /// Stamps the findings into a result of `job`.
    pub fn into_result(
        self,
        job: &CheckJob,
        identity: &Identity,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        probe_degraded: bool,
    ) -> CheckResult {
        let (outcome, failure) = self.verdict();
        let duration_ms = (finished_at - started_at).num_milliseconds().clamp(0, u32::MAX as i64) as u32;
        // The excerpt is for explaining failures; an up result does not carry it.
        let body_excerpt = if outcome == Outcome::Up {
            None
        } else {
            self.body_excerpt
        };
        CheckResult {
            result_id: job.result_id(),
            job_id: job.job_id,
            target_id: job.target_id,
            region: identity.region.clone(),
            pinger_id: identity.pinger_id.clone(),
            check_kind: job.spec.kind(),
            started_at,
            finished_at,
            duration_ms,
            outcome,
            failure,
            status_code: self.status_code,
            hops: self.hops,
            resolved_ip: self.resolved_ip,
            tls: self.tls,
            dns: self.dns,
            icmp: self.icmp,
            heartbeat: None,
            banner: self.banner,
            body_excerpt,
            probe_degraded,
        }
    }
}

/// Who ran a check.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Region served.
    pub region: String,
    /// This pinger's id.
    pub pinger_id: String,
}

/// A result for a job that arrived after its deadline and was not run.
///
/// The contract has no "skipped" outcome, so the result is `down` with failure kind
/// `internal` (the check could not run) in phase `setup`, a message starting with `skipped:`,
/// and `probe_degraded=true`: the result says nothing about the target, so no store or
/// incident rule counts it against the target.
pub fn skipped(job: &CheckJob, identity: &Identity, now: DateTime<Utc>) -> CheckResult {
    let late_ms = (now - job.deadline).num_milliseconds().max(0);
    skipped_because(
        job,
        identity,
        now,
        &format!(
            "the job reached the pinger {late_ms} ms after its deadline ({})",
            job.deadline.to_rfc3339()
        ),
    )
}

/// A result for a job that was not run, for `reason` (see [`skipped`]).
pub fn skipped_because(job: &CheckJob, identity: &Identity, now: DateTime<Utc>, reason: &str) -> CheckResult {
    let mut report = Report::default();
    report.fail(failure(
        FailureKind::Internal,
        Phase::Setup,
        format!("skipped: {reason}; not run"),
    ));
    report.into_result(job, identity, now, now, true)
}

/// Whether a result is a skipped job's (see [`skipped`]).
pub fn is_skipped(result: &CheckResult) -> bool {
    result.probe_degraded
        && result
            .failure
            .as_ref()
            .is_some_and(|f| f.kind == FailureKind::Internal && f.message.starts_with("skipped:"))
}

/// The check kind's label for metrics.
pub fn kind_label(kind: CheckKind) -> &'static str {
    kind.as_str()
}
