//! Rate limits and the client address they are keyed by.
//!
//! - [`LoginLimiter`]: failed logins in a sliding window. An attempt is *reserved* before the
//!   password is verified, so a parallel burst is evaluated at most `limit` times.
//! - [`RateLimiter`]: a token bucket per key (registrations, public pages and badges).
//! - [`HashQueue`]: bounds the Argon2 work running and waiting.
//! - [`ClientIp`]: who is calling, behind trusted proxies too.
//!
//! In-process on purpose: several backends each enforce the limit (an attacker spread over
//! them gets at most `backends × limit` tries per window, still far below what guessing needs).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use uuid::Uuid;

use crate::error::ApiError;

/// Keys kept before old ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// Counts failures (and attempts in flight) per key and refuses a key that failed too often
/// lately.
#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    next_id: AtomicU64,
    /// Per key: when each failure (or reservation, `pending`) happened, oldest first.
    entries: Mutex<HashMap<String, VecDeque<Entry>>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    id: u64,
}

/// An attempt counted against its keys until it is settled: [`Reservation::failed`] keeps it as
/// a failure, [`Reservation::succeeded`] and dropping it (an error before the verdict, a
/// cancelled request) give it back.
#[derive(Debug)]
pub struct Reservation {
    limiter: Arc<LoginLimiter>,
    id: u64,
    keys: Vec<String>,
    settled: bool,
}

impl Reservation {
    /// The attempt failed: it stays counted for the window.
    pub fn failed(mut self) {
        self.settled = true;
    }

    /// The attempt succeeded: it is given back and `clear`'s failures are forgotten.
    pub fn succeeded(mut self, clear: &str) {
        self.limiter.release(self.id, &self.keys);
        self.limiter.entries.lock().expect("limiter lock").remove(clear);
        self.settled = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.limiter.release(self.id, &self.keys);
        }
    }
}

impl LoginLimiter {
    /// A limiter whose failures count for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            next_id: AtomicU64::new(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves one attempt on every `(key, limit)` at once, or none: `Err(wait)` when a key
    /// already holds `limit` failures and attempts in flight; `wait` is how long until one of
    /// them leaves the window.
    pub fn reserve(self: &Arc<Self>, keys: &[(String, u32)]) -> Result<Reservation, Duration> {
        let now = Instant::now();
        let mut map = self.entries.lock().expect("limiter lock");
        if map.len() > PRUNE_ABOVE {
            let window = self.window;
            map.retain(|_, e| e.back().is_some_and(|t| now.duration_since(t.at) < window));
        }
        let mut wait = None::<Duration>;
        for (key, limit) in keys {
            let Some(entries) = map.get_mut(key) else { continue };
            while entries.front().is_some_and(|e| now.duration_since(e.at) >= self.window) {
                entries.pop_front();
            }
            if entries.len() >= (*limit).max(1) as usize {
                let oldest = entries.front().expect("non-empty").at;
                let left = self.window.saturating_sub(now.duration_since(oldest));
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        for (key, _) in keys {
            map.entry(key.clone()).or_default().push_back(Entry { at: now, id });
        }
        Ok(Reservation {
            limiter: self.clone(),
            id,
            keys: keys.iter().map(|(k, _)| k.clone()).collect(),
            settled: false,
        })
    }

    fn release(&self, id: u64, keys: &[String]) {
        let mut map = self.entries.lock().expect("limiter lock");
        for key in keys {
            if let Some(entries) = map.get_mut(key) {
                entries.retain(|e| e.id != id);
                if entries.is_empty() {
                    map.remove(key);
                }
            }
        }
    }
}

/// A token bucket per key: `burst` requests at once, refilled at `burst` per `period`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `burst` requests per `period` per key.
    pub fn new(burst: u32, period: Duration) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            burst,
            per_second: burst / period.as_secs_f64().max(0.001),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `key`'s allowance; `Err(wait)` when there is none left.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.buckets.lock().expect("limiter lock");
        if map.len() > PRUNE_ABOVE {
            let (burst, rate) = (self.burst, self.per_second);
            // A bucket that refilled completely is the same as none.
            map.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

/// Bounds password hashing: `running` hashes at once, at most `waiting` more queued.
#[derive(Debug)]
pub struct HashQueue {
    permits: tokio::sync::Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// How long a caller refused by a full [`HashQueue`] is told to wait.
pub const HASH_QUEUE_RETRY_AFTER_SECS: u64 = 2;

impl HashQueue {
    /// `running` hashes at once, `waiting` in line.
    pub fn new(running: usize, waiting: usize) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(running.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting: waiting,
        }
    }

    /// A slot to hash in; 503 with `Retry-After` when every slot is busy and the line is full.
    pub async fn acquire(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        let busy = || ApiError {
            retry_after: Some(HASH_QUEUE_RETRY_AFTER_SECS),
            ..ApiError::unavailable("the server is busy checking passwords; try again shortly")
        };
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _leave = Leave(&self.waiting);
        if before >= self.max_waiting {
            metrics::counter!("pingtower_backend_hash_queue_full_total").increment(1);
            return Err(busy());
        }
        self.permits.acquire().await.map_err(|_| busy())
    }
}

/// The calling client's address: the peer, or — when the peer is a trusted proxy — the
/// rightmost `X-Forwarded-For` hop that is not itself a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key rate limits count under: the address, or its /64 for IPv6 (one host usually
    /// holds a whole /64).
    pub fn key(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        }
    }
}

/// The client address of a request from `peer` with `headers`, trusting `trusted` proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage: the last address a trusted proxy vouched for is the client.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

/// Counts one event per user in a sliding minute (in-process: "Test now" calls).
#[derive(Debug, Default)]
pub struct PerMinute {
    events: Mutex<HashMap<Uuid, VecDeque<Instant>>>,
}

impl PerMinute {
    /// Records a call of `user` if fewer than `limit` happened in the last minute; otherwise
    /// the seconds until one slot frees.
    pub fn try_acquire(&self, user: Uuid, limit: u32) -> Result<(), u64> {
        const WINDOW: Duration = Duration::from_secs(60);
        let now = Instant::now();
        let mut events = self.events.lock().expect("rate map");
        // Forget idle users now and then so the map stays bounded by active users.
        if events.len() > 10_000 {
            events.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let q = events.entry(user).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            let oldest = *q.front().unwrap_or(&now);
            let wait = WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, limit: u32) -> (String, u32) {
        (k.to_owned(), limit)
    }

    #[test]
    fn reservations_count_before_the_verdict_and_failures_stay() {
        let limiter = Arc::new(LoginLimiter::new(Duration::from_secs(60)));
        let held: Vec<Reservation> = (0..3).map(|_| limiter.reserve(&[key("a", 3)]).unwrap()).collect();
        let wait = limiter.reserve(&[key("a", 3)]).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(limiter.reserve(&[key("b", 3)]).is_ok(), "other keys are not affected");
        for r in held {
            r.failed();
        }
        assert!(limiter.reserve(&[key("a", 3)]).is_err(), "failures stay counted");
    }

    #[test]
    fn a_dropped_or_successful_reservation_is_given_back() {
        let limiter = Arc::new(LoginLimiter::new(Duration::from_secs(60)));
        drop(limiter.reserve(&[key("a", 1), key("c", 5)]).unwrap());
        limiter.reserve(&[key("a", 1)]).unwrap().succeeded("a");
        let r = limiter.reserve(&[key("a", 1), key("c", 5)]).unwrap();
        assert!(limiter.reserve(&[key("c", 5), key("a", 1)]).is_err(), "all or nothing");
        r.failed();
        limiter.reserve(&[key("c", 5)]).unwrap().succeeded("a");
        assert!(limiter.reserve(&[key("a", 1)]).is_ok(), "success clears the named key");
    }

    #[test]
    fn failures_expire_after_the_window() {
        let limiter = Arc::new(LoginLimiter::new(Duration::from_millis(1)));
        limiter.reserve(&[key("a", 1)]).unwrap().failed();
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.reserve(&[key("a", 1)]).is_ok());
    }

    #[test]
    fn the_token_bucket_allows_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            limiter.check("a").unwrap();
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.check("b").is_ok());
    }

    #[tokio::test]
    async fn a_full_hash_queue_refuses_with_retry_after() {
        let queue = HashQueue::new(1, 0);
        let running = queue.acquire().await.unwrap();
        let refused = queue.acquire().await.unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(HASH_QUEUE_RETRY_AFTER_SECS));
        drop(running);
        assert!(queue.acquire().await.is_ok());
    }

    #[tokio::test]
    async fn a_waiting_hash_gets_the_next_free_slot() {
        let queue = Arc::new(HashQueue::new(1, 1));
        let running = queue.acquire().await.unwrap();
        let q = queue.clone();
        let waiter = tokio::spawn(async move { q.acquire().await.map(|_| ()) });
        // The line holds one: a third caller is refused while the second waits.
        let deadline = Instant::now() + Duration::from_secs(5);
        while queue.waiting.load(Ordering::Acquire) == 0 {
            assert!(Instant::now() < deadline, "the waiter queues");
            tokio::task::yield_now().await;
        }
        assert!(queue.acquire().await.is_err());
        drop(running);
        waiter.await.unwrap().unwrap();
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_ip(stranger, &xff("203.0.113.1"), &trusted), stranger);
        assert_eq!(client_ip(proxy, &xff("203.0.113.1"), &trusted), ip("203.0.113.1"));
        // A spoofed leftmost hop is skipped: the rightmost untrusted hop is the client.
        assert_eq!(
            client_ip(proxy, &xff("1.1.1.1, 203.0.113.1, 10.0.0.7"), &trusted),
            ip("203.0.113.1")
        );
        assert_eq!(client_ip(proxy, &xff("junk, 10.0.0.7"), &trusted), ip("10.0.0.7"));
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a = ClientIp("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientIp("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a.key(), b.key());
        assert_eq!(ClientIp("::ffff:192.0.2.1".parse().unwrap()).key(), "192.0.2.1");
    }

    #[test]
    fn a_user_gets_the_limit_per_minute_then_a_wait() {
        let limiter = PerMinute::default();
        let u = Uuid::now_v7();
        for _ in 0..3 {
            limiter.try_acquire(u, 3).unwrap();
        }
        let wait = limiter.try_acquire(u, 3).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        limiter.try_acquire(Uuid::now_v7(), 3).unwrap();
    }
}
