//! Where the server reads the time: one injected [`Clock`], so that tests
//! move time forward instead of waiting for it. The system clock is read
//! here and nowhere else.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// The current instant, to the microsecond (see [`truncate_to_micros`]).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once the clock reads `at` or later.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;
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

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let left = (at - self.now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(left))
    }
}

/// A clock that stands still until told to move: for tests. Whoever sleeps
/// on it wakes when it is moved past their instant.
#[derive(Debug)]
pub struct MockClock(watch::Sender<DateTime<Utc>>);

impl MockClock {
    /// A clock standing at `at`.
    pub fn at(at: DateTime<Utc>) -> Arc<MockClock> {
        Arc::new(MockClock(watch::Sender::new(truncate_to_micros(at))))
    }

    /// A clock standing at the system's present moment.
    pub fn starting_now() -> Arc<MockClock> {
        Self::at(SystemClock.now())
    }

    /// Moves the clock forward (or back, for a negative `by`).
    pub fn advance(&self, by: Duration) {
        self.0.send_modify(|now| *now += by);
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.0.send_replace(truncate_to_micros(at));
    }
}

impl Clock for MockClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut moves = self.0.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; a dropped clock never wakes anyone.
            if moves.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// The clock a server runs on, shared by everything that reads the time.
#[derive(Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl SharedClock {
    pub fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    /// Resolves once the clock reads `at` or later.
    pub fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        self.0.sleep_until(at)
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

    #[tokio::test]
    async fn sleepers_wake_when_the_mock_clock_passes_their_instant() {
        let clock = MockClock::at(DateTime::UNIX_EPOCH);
        let wake = clock.sleep_until(DateTime::UNIX_EPOCH + Duration::seconds(10));
        let waiting = tokio::spawn(wake);
        clock.advance(Duration::seconds(5));
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        clock.advance(Duration::seconds(5));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.unwrap().unwrap();
    }

    #[test]
    fn the_system_clock_keeps_microseconds() {
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1_000, 0);
    }
}
