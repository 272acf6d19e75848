//! Wall time as the scheduler and the incident engine read it: the real clock, or (tests) one
//! that starts at another moment and may run faster, so a test runs minutes of schedule in
//! seconds or steps past a retention instead of waiting it out.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A clock: real, or started at an origin and scaled.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    scaled: Option<Scaled>,
}

#[derive(Debug, Clone, Copy)]
struct Scaled {
    origin_real: Instant,
    origin: DateTime<Utc>,
    speed: f64,
}

impl Clock {
    /// The real clock.
    pub fn real() -> Self {
        Self { scaled: None }
    }

    /// A clock reading `origin` now and running `speed` times faster than real time.
    pub fn accelerated(origin: DateTime<Utc>, speed: f64) -> Self {
        Self {
            scaled: Some(Scaled {
                origin_real: Instant::now(),
                origin,
                speed: speed.max(0.001),
            }),
        }
    }

    /// A clock reading `origin` now and running at real speed from there.
    pub fn starting_at(origin: DateTime<Utc>) -> Self {
        Self::accelerated(origin, 1.0)
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        match self.scaled {
            // The real clock follows wall time exactly (it may be adjusted by NTP).
            None => Utc::now(),
            Some(s) => {
                let elapsed = s.origin_real.elapsed().as_secs_f64() * s.speed;
                s.origin + chrono::Duration::microseconds((elapsed * 1e6) as i64)
            }
        }
    }

    /// How much of this clock's time passes in `real` time.
    pub fn span(&self, real: Duration) -> chrono::Duration {
        let speed = self.scaled.map_or(1.0, |s| s.speed);
        chrono::Duration::microseconds((real.as_secs_f64() * speed * 1e6) as i64)
    }

    /// The real time to wait for `d` of this clock's time to pass.
    pub fn real_delay(&self, d: chrono::Duration) -> Duration {
        let speed = self.scaled.map_or(1.0, |s| s.speed);
        let secs = d.num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6 / speed;
        Duration::from_secs_f64(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accelerated_clock_runs_faster() {
        let c = Clock::accelerated(Utc::now(), 100.0);
        assert_eq!(c.real_delay(chrono::Duration::seconds(10)), Duration::from_millis(100));
    }

    #[test]
    fn a_clock_started_elsewhere_reads_from_its_origin() {
        let origin = Utc::now() + chrono::Duration::hours(1);
        let c = Clock::starting_at(origin);
        let read = c.now();
        assert!(
            read >= origin && read < origin + chrono::Duration::seconds(5),
            "{read} vs {origin}"
        );
        assert_eq!(c.real_delay(chrono::Duration::seconds(3)), Duration::from_secs(3));
    }

    #[test]
    fn the_real_clock_reads_wall_time() {
        let before = Utc::now();
        let read = Clock::real().now();
        assert!(read >= before && read <= Utc::now());
    }
}
