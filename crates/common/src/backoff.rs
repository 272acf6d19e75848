//! Exponential backoff with full jitter, for every retry loop in the suite.

use std::time::Duration;

use rand::Rng;

/// Delays that double from `base` up to `max`, each drawn at random between half the
/// current step and the step itself, so that many clients retrying at once spread out.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    /// A backoff starting at `base`, never above `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max, step: base }
    }

    /// The next delay to wait.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.max);
        let low = step.as_millis() as u64 / 2;
        let high = (step.as_millis() as u64).max(low + 1);
        Duration::from_millis(rand::rng().random_range(low..high))
    }

    /// Starts again from `base` (after a success).
    pub fn reset(&mut self) {
        self.step = self.base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(100));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)));
        assert!(
            delays[9] >= Duration::from_millis(500),
            "late delays reach the cap's half: {delays:?}"
        );
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
