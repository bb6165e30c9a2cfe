//! Per-key rate limiting: a token bucket per API key, refilled continuously.
//! Off unless configured; each replica limits on its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::ids::ApiKeyId;

/// Buckets kept before idle ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<ApiKeyId, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// Seconds from `from` to `to`, none when the clock went back.
fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).to_std().unwrap_or_default().as_secs_f64()
}

impl RateLimiter {
    /// `per_second` requests on average, bursts of up to `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `key` at `now` (by the server's clock), or says how
    /// long until one is available.
    pub fn check(&self, key: ApiKeyId, now: DateTime<Utc>) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            // Full buckets are the same as forgotten ones.
            let burst = self.burst;
            let rate = self.per_second;
            buckets.retain(|_, b| b.tokens + seconds(b.at, now) * rate < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: self.burst, at: now });
        bucket.tokens = (bucket.tokens + seconds(bucket.at, now) * self.per_second).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_bursts_then_refills() {
        let limiter = RateLimiter::new(2.0, 3);
        let key = ApiKeyId::generate();
        let t0 = DateTime::UNIX_EPOCH;
        for _ in 0..3 {
            assert!(limiter.check(key, t0).is_ok());
        }
        let wait = limiter.check(key, t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limiter.check(key, t0 + chrono::Duration::milliseconds(500)).is_ok());
        assert!(limiter.check(ApiKeyId::generate(), t0).is_ok(), "keys have their own buckets");
    }
}
