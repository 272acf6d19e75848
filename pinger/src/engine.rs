//! The check engine: everything a check needs (address guard, source address, the shared
//! TLS client), built once and shared by every check.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::messages::{CheckSpec, Resolver};
use common::netguard::Guard;

use crate::checks::icmp::IcmpSockets;
use crate::checks::tls::TlsClient;
use crate::checks::{dns, http, icmp, tcp, tls};
use crate::net::Net;
use crate::report::Report;

/// Runs checks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Address policy and source address.
    pub net: Net,
    /// The shared TLS client.
    pub tls: TlsClient,
    /// Which ICMP sockets ICMP checks may open.
    pub icmp_sockets: IcmpSockets,
}

impl Engine {
    /// An engine with the given guard, source address and extra trusted CA file (PEM). Its
    /// checks run without the private permission until [`Engine::operator`] or
    /// [`Engine::run_as`] says otherwise.
    pub fn new(guard: Guard, source: Option<IpAddr>, extra_ca: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self {
            net: Net {
                guard,
                may_private: false,
                public_resolver: None,
                source,
            },
            tls: TlsClient::new(extra_ca)?,
            icmp_sockets: IcmpSockets::default(),
        })
    }

    /// The operator's engine: its checks may reach private addresses when the installation
    /// allows them (canaries, `pinger check`).
    pub fn operator(mut self) -> Self {
        self.net.may_private = true;
        self
    }

    /// ICMP checks open only the sockets `sockets` allows.
    pub fn with_icmp_sockets(mut self, sockets: IcmpSockets) -> Self {
        self.icmp_sockets = sockets;
        self
    }

    /// Names of checks without the private permission are resolved by `resolver`.
    pub fn with_public_resolver(mut self, resolver: Option<Resolver>) -> Self {
        self.net.public_resolver = resolver;
        self
    }

    /// Runs `spec` for an owner whose private permission is `may_private` (a job's
    /// `allow_private`).
    pub async fn run_as(&self, spec: &CheckSpec, budget: Duration, may_private: bool) -> Report {
        if self.net.may_private == may_private {
            return self.run(spec, budget).await;
        }
        let mut engine = self.clone();
        engine.net.may_private = may_private;
        engine.run(spec, budget).await
    }

    /// Runs `spec` within `budget` (its own timeout, or less when the job's deadline is near).
    pub async fn run(&self, spec: &CheckSpec, budget: Duration) -> Report {
        let mut report = Report::default();
        let finished = tokio::time::timeout(budget, self.dispatch(spec, budget, &mut report)).await;
        if finished.is_err() {
            report.timed_out(budget.as_millis());
        }
        report
    }

    async fn dispatch(&self, spec: &CheckSpec, budget: Duration, report: &mut Report) {
        match spec {
            CheckSpec::Http(s) => http::check(self, s, report).await,
            CheckSpec::Tcp(s) => {
                // The banner wait ends a little before the budget so a missing banner is
                // reported as such, not as a timeout.
                let banner_deadline = tokio::time::Instant::now() + budget.mul_f64(0.9);
                tcp::check(&self.net, s, banner_deadline, report).await
            }
            CheckSpec::Dns(s) => dns::check(&self.net, s, budget, report).await,
            CheckSpec::Tls(s) => {
                // As for a banner: a silent mail server is reported as such, not as a timeout.
                let starttls_deadline = tokio::time::Instant::now() + budget.mul_f64(0.9);
                tls::check(&self.net, &self.tls, s, starttls_deadline, report).await
            }
            CheckSpec::Icmp(s) => icmp::check(&self.net, self.icmp_sockets, s, report).await,
            // Heartbeats are pushed to the backend; a job for one is a scheduler fault.
            CheckSpec::Heartbeat(_) => report.fail(crate::report::failure(
                common::messages::FailureKind::Internal,
                common::messages::Phase::Setup,
                "a heartbeat is not checked by a pinger".to_owned(),
            )),
        }
    }
}
