//! The one HTTP sender of every HTTP kind (reqwest), behind the address guard: a channel's
//! URL is the user's, so it may point anywhere, and the suite's insides (RabbitMQ,
//! PostgreSQL, ClickHouse, the services' ops ports) and private ranges stay out of reach
//! exactly as for monitored targets.
//!
//! - Names are resolved by [`GuardedResolver`], which drops every address the guard refuses
//!   (also at connection time, so a name re-pointed after the check gains nothing).
//! - Before each request the URL's addresses are checked with their port, which also covers
//!   IP literals (reqwest does not resolve those).
//! - No redirects are followed, answers are read up to [`MAX_RESPONSE_BYTES`], and every
//!   request has a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::netguard::{Guard, parse_ip_literal};

use crate::http::{Disposition, MAX_RESPONSE_BYTES, Request, Response};

/// Sends [`Request`]s. Cheap to clone.
#[derive(Clone)]
pub struct HttpSender {
    guard: Guard,
    /// For owners who may not reach private addresses, and for those who may.
    strict: reqwest::Client,
    private: reqwest::Client,
}

impl std::fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSender").finish_non_exhaustive()
    }
}

/// reqwest's resolver behind the guard.
struct GuardedResolver {
    guard: Guard,
    may_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (guard, may_private) = (self.guard.clone(), self.may_private);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| guard.check_ip(a.ip(), may_private).is_ok())
                .collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves only to addresses channels may not reach", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl HttpSender {
    /// A sender behind `guard`; each request may take up to `timeout`.
    pub fn new(guard: Guard, timeout: Duration) -> anyhow::Result<Self> {
        let client = |may_private: bool| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(GuardedResolver {
                    guard: guard.clone(),
                    may_private,
                }))
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .user_agent(concat!("PingTower/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Ok(Self {
            strict: client(false)?,
            private: client(true)?,
            guard,
        })
    }

    /// Sends `request`; `may_private` is the channel owner's permission to reach private
    /// addresses. A refused address is [`Disposition::Unreachable`] (the channel cannot work
    /// until its URL changes); a network failure or timeout is transient.
    pub async fn send(&self, request: &Request, may_private: bool) -> Result<Response, Disposition> {
        self.check_destination(request, may_private).await?;
        let client = if may_private { &self.private } else { &self.strict };
        let mut builder = client
            .request(request.method.clone(), request.url.clone())
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut answer = builder.send().await.map_err(|e| describe(&e))?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(|e| describe(&e))? {
            let room = MAX_RESPONSE_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_RESPONSE_BYTES {
                break;
            }
        }
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Refuses a URL whose addresses (with its port) the guard refuses.
    async fn check_destination(&self, request: &Request, may_private: bool) -> Result<(), Disposition> {
        let url = &request.url;
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match parse_ip_literal(host) {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| Disposition::Transient(format!("{host} does not resolve ({e})")))?
                .collect(),
        };
        for addr in addrs {
            if let Err(blocked) = self.guard.check(addr, may_private) {
                return Err(Disposition::Unreachable(format!(
                    "{host} points at {} ({}), which channels may not reach",
                    blocked.ip, blocked.range
                )));
            }
        }
        Ok(())
    }
}

/// A failed request in words, without its URL (which may hold a secret).
fn describe(e: &reqwest::Error) -> Disposition {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut cause = String::new();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        Disposition::Transient(what.to_owned())
    } else {
        Disposition::Transient(format!("{what}: {cause}"))
    }
}
