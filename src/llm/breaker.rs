//! A circuit breaker shared by every panel using one model backend: after
//! `threshold` consecutive failures it opens and calls fail at once for
//! `cooldown`; then one probe call decides whether it closes again. So a dead
//! backend is not hammered by a thousand panels.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight.
    HalfOpen,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { state: Mutex::new(State::Closed { failures: 0 }), threshold: threshold.max(1), cooldown }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a call may go out now (an open breaker past its cooldown lets one probe through).
    pub fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    pub fn allow_at(&self, now: Instant) -> bool {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => false,
        }
    }

    /// Whether calls could go out (without taking the probe).
    pub fn available_at(&self, now: Instant) -> bool {
        match *self.lock() {
            State::Closed { .. } => true,
            State::Open { until } => now >= until,
            State::HalfOpen => false,
        }
    }

    pub fn available(&self) -> bool {
        self.available_at(Instant::now())
    }

    pub fn success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    pub fn failure(&self) {
        self.failure_at(Instant::now());
    }

    pub fn failure_at(&self, now: Instant) {
        let mut state = self.lock();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed { failures: failures + 1 },
            _ => State::Open { until: now + self.cooldown },
        };
    }

    /// Opens at once: the backend cannot be reached at all (connection
    /// refused), so no call should go out until the cooldown has passed.
    pub fn trip(&self) {
        *self.lock() = State::Open { until: Instant::now() + self.cooldown };
    }

    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_opens_after_consecutive_failures_and_closes_after_a_good_probe() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        breaker.failure_at(t0);
        breaker.failure_at(t0);
        assert!(breaker.allow_at(t0));
        breaker.failure_at(t0);
        assert!(!breaker.allow_at(t0), "open after three failures");
        assert!(!breaker.available_at(t0 + Duration::from_secs(5)));
        let later = t0 + Duration::from_secs(11);
        assert!(breaker.allow_at(later), "one probe after the cooldown");
        assert!(!breaker.allow_at(later), "only one");
        breaker.success();
        assert!(breaker.allow_at(later));
        assert!(!breaker.is_open());
    }

    #[test]
    fn a_trip_opens_it_at_once_until_the_cooldown() {
        let breaker = CircuitBreaker::new(5, Duration::from_millis(50));
        breaker.trip();
        assert!(!breaker.allow() && !breaker.available());
        std::thread::sleep(Duration::from_millis(60));
        assert!(breaker.available() && breaker.allow());
        breaker.success();
        assert!(!breaker.is_open());
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        breaker.failure_at(t0);
        breaker.success();
        breaker.failure_at(t0);
        assert!(breaker.allow_at(t0), "the count restarted after the success");
        breaker.failure_at(t0);
        let later = t0 + Duration::from_secs(10);
        assert!(breaker.allow_at(later));
        breaker.failure_at(later);
        assert!(!breaker.allow_at(later + Duration::from_secs(9)));
    }
}
