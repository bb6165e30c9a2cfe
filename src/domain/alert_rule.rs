//! Alert rules (API.md Part 3, "Alert rules"): what a rule is, the key an
//! event has under its `groupBy`, and the sliding windows that tell when a
//! key crosses its threshold, bounded to `threshold` events per key.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use super::ids::{AlertRuleId, TenantId};
use super::stats::StatsDimension;
use super::stored_event::StoredEvent;
use crate::error::{Error, Result};

/// Windows a rule may use, in seconds.
pub const MAX_WINDOW_SECONDS: i32 = 86_400;
pub const DEFAULT_THRESHOLD: i32 = 1;
pub const DEFAULT_WINDOW_SECONDS: i32 = 300;
pub const DEFAULT_COOLDOWN_SECONDS: i32 = 3_600;

#[derive(Clone, Debug, PartialEq)]
pub struct AlertRule {
    pub id: AlertRuleId,
    pub tenant: TenantId,
    pub name: String,
    /// The filter as written (`AuditEventFilter` JSON).
    pub filter: serde_json::Value,
    pub query: Option<String>,
    pub threshold: i32,
    pub window_seconds: i32,
    pub group_by: Vec<StatsDimension>,
    pub cooldown_seconds: i32,
    pub paused: bool,
    pub evaluated_sequence: i64,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Checks a rule's numbers, each at `path` + its field name.
pub fn check_numbers(threshold: i32, window_seconds: i32, cooldown_seconds: i32, path: &str) -> Result<()> {
    if threshold < 1 {
        return Err(Error::bad_input(format!("{path}.threshold"), "must be at least 1"));
    }
    if !(1..=MAX_WINDOW_SECONDS).contains(&window_seconds) {
        return Err(Error::bad_input(
            format!("{path}.windowSeconds"),
            format!("must be between 1 and {MAX_WINDOW_SECONDS} (got {window_seconds})"),
        ));
    }
    if cooldown_seconds < 0 {
        return Err(Error::bad_input(format!("{path}.cooldownSeconds"), "must be 0 or more"));
    }
    Ok(())
}

/// Checks a `groupBy` list: at most three dimensions, as stats allow.
pub fn check_group_by(group_by: &[StatsDimension], path: &str) -> Result<()> {
    let max = super::stats::MAX_DIMENSIONS;
    if group_by.len() > max {
        return Err(Error::bad_input(path, format!("at most {max} dimensions are allowed (got {})", group_by.len())));
    }
    Ok(())
}

/// A key: one value per dimension, as stats show it.
pub type Key = Vec<Option<String>>;

/// The key of `event` under `dims`.
pub fn key_of(event: &StoredEvent, dims: &[StatsDimension]) -> Key {
    dims.iter()
        .map(|d| match d {
            StatsDimension::Action => Some(event.action.clone()),
            StatsDimension::Category => Some(event.category.clone()),
            StatsDimension::Outcome => Some(event.outcome.as_str().to_string()),
            StatsDimension::Actor => Some(event.actor_id.to_string()),
            StatsDimension::ResourceType => event.recorded["resource"]["type"].as_str().map(str::to_string),
            StatsDimension::Environment => event.environment.clone(),
            StatsDimension::SourceService => event.source_service.clone(),
            StatsDimension::HttpStatus => event.request.as_ref().and_then(|r| r.status).map(|s| s.to_string()),
        })
        .collect()
}

/// A key crossing the threshold: the events counted, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Crossing {
    pub key: Key,
    pub count: usize,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub first_sequence: i64,
    pub last_sequence: i64,
}

/// The latest matching events per key, at most `threshold` each, none older
/// than the window before the newest.
pub struct Windows {
    threshold: usize,
    window: Duration,
    keys: HashMap<Key, VecDeque<(DateTime<Utc>, i64)>>,
}

impl Windows {
    pub fn new(threshold: i32, window_seconds: i32) -> Windows {
        Windows {
            threshold: threshold.max(1) as usize,
            window: Duration::seconds(i64::from(window_seconds)),
            keys: HashMap::new(),
        }
    }

    /// Adds an event received `at`; the crossing, if its key now has
    /// `threshold` events within one window ending at it.
    pub fn push(&mut self, key: Key, at: DateTime<Utc>, sequence: i64) -> Option<Crossing> {
        let events = self.keys.entry(key.clone()).or_default();
        events.push_back((at, sequence));
        while events.front().is_some_and(|(t, _)| *t < at - self.window) || events.len() > self.threshold {
            events.pop_front();
        }
        if events.len() < self.threshold {
            return None;
        }
        let (start, first) = *events.front()?;
        Some(Crossing {
            key,
            count: events.len(),
            window_start: start,
            window_end: at,
            first_sequence: first,
            last_sequence: sequence,
        })
    }

    /// Forgets keys with no event within the window before `now` (event
    /// time), so that the state stays bounded by the events of one window.
    pub fn forget_before(&mut self, now: DateTime<Utc>) {
        let horizon = now - self.window;
        self.keys.retain(|_, events| events.back().is_some_and(|(t, _)| *t >= horizon));
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Whether a key that last fired with a window ending `last` may fire again
/// for a window ending `end`.
pub fn cooled_down(last: Option<DateTime<Utc>>, end: DateTime<Utc>, cooldown_seconds: i32) -> bool {
    last.is_none_or(|last| end - last >= Duration::seconds(i64::from(cooldown_seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_key_crosses_within_one_window() {
        let mut w = Windows::new(3, 60);
        let k = vec![Some("a".to_string())];
        assert!(w.push(k.clone(), t(0), 1).is_none());
        assert!(w.push(k.clone(), t(30), 2).is_none());
        // 61 s after the first: it left the window.
        assert!(w.push(k.clone(), t(61), 3).is_none());
        let c = w.push(k.clone(), t(80), 4).unwrap();
        assert_eq!((c.count, c.first_sequence, c.last_sequence), (3, 2, 4));
        assert_eq!((c.window_start, c.window_end), (t(30), t(80)));
        // Other keys count apart.
        assert!(w.push(vec![None], t(80), 5).is_none());
        assert_eq!(w.len(), 2);
        w.forget_before(t(200));
        assert!(w.is_empty());
    }

    #[test]
    fn cooldowns_count_from_the_last_window_end() {
        assert!(cooled_down(None, t(0), 3600));
        assert!(!cooled_down(Some(t(0)), t(3599), 3600));
        assert!(cooled_down(Some(t(0)), t(3600), 3600));
    }
}
