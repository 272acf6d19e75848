//! Failed-login accounting: per client address and per account, in a sliding window.
//!
//! In-process on purpose: several backends each enforce the limit (an attacker spread over
//! them gets at most `backends × limit` tries per window, still far below what guessing needs).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts failures per key and refuses a key that failed too often lately.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Keys kept before old ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

impl LoginLimiter {
    /// A limiter allowing `max_failures` failures per key within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when `key` has used up its failures; `wait` is how long until it may retry.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        if times.len() as u32 >= self.max_failures {
            let oldest = *times.front().expect("non-empty");
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    /// Records a failure of `key`.
    pub fn fail(&self, key: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() > PRUNE_ABOVE {
            let window = self.window;
            map.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let times = map.entry(key.to_owned()).or_default();
        times.push_back(now);
        while times.len() as u32 > self.max_failures {
            times.pop_front();
        }
    }

    /// Forgets `key`'s failures (after a successful login).
    pub fn clear(&self, key: &str) {
        self.failures.lock().expect("limiter lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_max_failures_and_others_are_not() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
            limiter.fail("a");
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(limiter.check("b").is_ok());
        limiter.clear("a");
        assert!(limiter.check("a").is_ok());
    }

    #[test]
    fn failures_expire_after_the_window() {
        let limiter = LoginLimiter::new(1, Duration::from_millis(1));
        limiter.fail("a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.check("a").is_ok());
    }
}
