//! The check engine: everything a check needs (address policy, source address, the shared
//! TLS client), built once and shared by every check.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use common::messages::CheckSpec;
use common::netguard::AddressPolicy;

use crate::checks::tls::TlsClient;
use crate::checks::{dns, http, tcp, tls};
use crate::net::Net;
use crate::report::Report;

/// Runs checks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Address policy and source address.
    pub net: Net,
    /// The shared TLS client.
    pub tls: TlsClient,
}

impl Engine {
    /// An engine with the given policy, source address and extra trusted CA file (PEM).
    pub fn new(policy: AddressPolicy, source: Option<IpAddr>, extra_ca: Option<&Path>) -> anyhow::Result<Self> {
        Ok(Self {
            net: Net {
                policy,
                allowed: Arc::from(Vec::new()),
                source,
            },
            tls: TlsClient::new(extra_ca)?,
        })
    }

    /// Lets the checks reach `ranges` although the policy blocks them.
    pub fn with_allowed_ranges(mut self, ranges: Vec<IpNet>) -> Self {
        self.net.allowed = Arc::from(ranges);
        self
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
            CheckSpec::Tls(s) => tls::check(&self.net, &self.tls, s, report).await,
        }
    }
}
