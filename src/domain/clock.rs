//! Where the server reads the time: one injected [`Clock`], so that tests
//! move time forward instead of waiting for it. The system clock is read
//! here and nowhere else.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// The current instant, to the microsecond (see [`truncate_to_micros`]).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// Instants are kept to the microsecond, so that SQLite and PostgreSQL store,
/// compare and order the same instant the same way.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_micros(Utc::now())
    }
}

/// A clock that stands still until told to move: for tests.
#[derive(Debug)]
pub struct MockClock(Mutex<DateTime<Utc>>);

impl MockClock {
    /// A clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> Arc<MockClock> {
        Arc::new(MockClock(Mutex::new(truncate_to_micros(at))))
    }

    /// A clock standing at the system's present moment.
    pub fn starting_now() -> Arc<MockClock> {
        Self::at(SystemClock.now())
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = truncate_to_micros(at);
    }
}

impl Clock for MockClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The clock a server runs on, shared by everything that reads the time.
#[derive(Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl SharedClock {
    pub fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock(Arc::new(SystemClock))
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedClock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mock_clock_moves_only_when_told() {
        let clock = MockClock::at(DateTime::UNIX_EPOCH);
        assert_eq!(clock.now(), DateTime::UNIX_EPOCH);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), DateTime::UNIX_EPOCH + Duration::seconds(90));
        let shared = SharedClock(clock.clone());
        clock.advance(Duration::microseconds(1));
        assert_eq!(shared.now().timestamp_micros(), 90_000_001);
    }

    #[test]
    fn the_system_clock_keeps_microseconds() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1_000, 0);
    }
}
