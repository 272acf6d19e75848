//! Send slots per recipient (a Telegram chat, a channel) and, optionally, for everything at
//! once: each send takes the next slot and sleeps until it; a service's `Retry-After` holds
//! its recipient. Per process: replicas pace on their own.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Send slots by key. Share it behind an `Arc`.
pub struct Pacer<K> {
    interval: Duration,
    global_interval: Option<Duration>,
    state: Mutex<State<K>>,
}

struct State<K> {
    next: HashMap<K, Instant>,
    global: Instant,
}

impl<K: Hash + Eq + Copy> Pacer<K> {
    /// One send per `interval` for each key, and at most `global_rate` per second in all
    /// (0: no global limit).
    pub fn new(interval: Duration, global_rate: u32) -> Self {
        Self {
            interval,
            global_interval: (global_rate > 0).then(|| Duration::from_secs(1) / global_rate),
            state: Mutex::new(State {
                next: HashMap::new(),
                global: Instant::now(),
            }),
        }
    }

    /// The instant of `key`'s next slot (taken), after any hold.
    fn take(&self, key: K) -> Instant {
        let mut s = self.state.lock().expect("pacer lock");
        let now = Instant::now();
        if s.next.len() > 10_000 {
            s.next.retain(|_, next| *next > now);
        }
        let next = s.next.entry(key).or_insert(now);
        let at = (*next).max(now);
        *next = at + self.interval;
        match self.global_interval {
            Some(interval) => {
                let global_at = s.global.max(at);
                s.global = global_at + interval;
                global_at
            }
            None => at,
        }
    }

    /// Takes the next slot of `key` and sleeps until it.
    pub async fn wait(&self, key: K) {
        tokio::time::sleep_until(self.take(key)).await;
    }

    /// Takes the next slot of `key` if it comes within `max_wait` and sleeps until it; else
    /// takes nothing and answers how long `key` is held.
    pub async fn wait_at_most(&self, key: K, max_wait: Duration) -> Result<(), Duration> {
        let held = {
            let s = self.state.lock().expect("pacer lock");
            s.next.get(&key).map(|n| n.saturating_duration_since(Instant::now()))
        };
        match held {
            Some(d) if d > max_wait => Err(d),
            _ => {
                self.wait(key).await;
                Ok(())
            }
        }
    }

    /// Keeps `key` quiet for `d` (a service's `Retry-After`).
    pub fn hold(&self, key: K, d: Duration) {
        let mut s = self.state.lock().expect("pacer lock");
        let until = Instant::now() + d;
        let next = s.next.entry(key).or_insert(until);
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_key_is_paced_and_others_are_not_held_up() {
        let pacer = Pacer::new(Duration::from_secs(1), 0);
        let start = Instant::now();
        pacer.wait(1).await;
        pacer.wait(2).await;
        assert!(Instant::now() - start < Duration::from_millis(10));
        pacer.wait(1).await;
        assert!(Instant::now() - start >= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_the_key() {
        let pacer = Pacer::new(Duration::from_millis(1), 0);
        pacer.hold(7, Duration::from_secs(3));
        let start = Instant::now();
        pacer.wait(7).await;
        assert!(Instant::now() - start >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_hold_is_reported_instead_of_waited() {
        let pacer = Pacer::new(Duration::from_millis(1), 0);
        pacer.hold(7, Duration::from_secs(60));
        let held = pacer.wait_at_most(7, Duration::from_secs(5)).await.unwrap_err();
        assert!(held > Duration::from_secs(55), "{held:?}");
        assert!(pacer.wait_at_most(8, Duration::from_secs(5)).await.is_ok());
    }
}
