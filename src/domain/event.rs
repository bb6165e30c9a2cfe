//! A new audit event, validated. Every rule of the contract lives here, each
//! refusal naming the input path of the offending field (`events.3.action`).

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value as Json;

use crate::error::{Error, Result};

/// Who performed an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorType {
    /// A person.
    User,
    /// A program using an API key.
    ApiKey,
    /// A non-human account of the producer's.
    ServiceAccount,
    /// A service inside the producer's system.
    InternalService,
    /// The system itself (schedulers, the command line).
    System,
    /// Someone not authenticated (e.g. a failed login).
    Anonymous,
}

impl ActorType {
    pub const ALL: [ActorType; 6] = [
        ActorType::User,
        ActorType::ApiKey,
        ActorType::ServiceAccount,
        ActorType::InternalService,
        ActorType::System,
        ActorType::Anonymous,
    ];

    /// The stored name, identical to the GraphQL enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "USER",
            ActorType::ApiKey => "API_KEY",
            ActorType::ServiceAccount => "SERVICE_ACCOUNT",
            ActorType::InternalService => "INTERNAL_SERVICE",
            ActorType::System => "SYSTEM",
            ActorType::Anonymous => "ANONYMOUS",
        }
    }

    pub fn from_stored(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Whether the action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The action succeeded.
    Success,
    /// The action failed or was refused.
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
        }
    }

    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "SUCCESS" => Some(Outcome::Success),
            "FAILURE" => Some(Outcome::Failure),
            _ => None,
        }
    }
}

pub const MAX_BATCH: usize = 1_000;
pub const MAX_ACTION_CHARS: usize = 128;
pub const MAX_ID_CHARS: usize = 255;
pub const MAX_TEXT_CHARS: usize = 4_096;
pub const MAX_ROLES: usize = 50;
pub const MAX_RELATED: usize = 20;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
pub const MAX_CHANGES: usize = 100;
pub const MAX_CHANGES_BYTES: usize = 64 * 1024;
/// The `sourceService` of the events the server records about itself; no
/// producer may use it, so its own record cannot be forged.
pub const SELF_AUDIT_SOURCE: &str = "auditgraph";
/// How far in the future a producer's clock may be.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// An actor as an event names it; created on first sight, updated later.
#[derive(Clone, Debug, PartialEq)]
pub struct NewActor {
    pub kind: ActorType,
    pub external_id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// `None` leaves the stored roles as they are.
    pub roles: Option<Vec<String>>,
}

/// A resource as an event names it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewResource {
    pub kind: String,
    pub external_id: String,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestContext {
    pub id: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<i32>,
    pub latency_ms: Option<f64>,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(default)]
    pub before: Option<Json>,
    #[serde(default)]
    pub after: Option<Json>,
}

/// A validated event, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub action: String,
    pub outcome: Outcome,
    pub occurred_at: DateTime<Utc>,
    pub actor: NewActor,
    pub resource: Option<NewResource>,
    pub related_resources: Vec<NewResource>,
    pub summary: Option<String>,
    pub reason: Option<String>,
    pub error_message: Option<String>,
    pub environment: Option<String>,
    pub source_service: Option<String>,
    pub correlation_id: Option<String>,
    pub request: Option<RequestContext>,
    pub metadata: serde_json::Map<String, Json>,
    pub changes: Vec<FieldChange>,
    pub idempotency_key: Option<String>,
    /// Paths of `metadata` and `changes` values that are personal data,
    /// sealed in the leaf (see `domain::personal`).
    pub personal: Vec<String>,
}

impl NewEvent {
    /// The action's first segment.
    pub fn category(&self) -> &str {
        category_of(&self.action)
    }

    /// What the `text` filter searches: the lower-cased action, summary, reason
    /// and error message, one per line.
    pub fn search_text(&self) -> String {
        search_text(&self.action, [&self.summary, &self.reason, &self.error_message])
    }
}

pub fn category_of(action: &str) -> &str {
    action.split('.').next().unwrap_or(action)
}

pub fn search_text(action: &str, texts: [&Option<String>; 3]) -> String {
    let mut out = action.to_lowercase();
    for text in texts.into_iter().flatten() {
        out.push('\n');
        out.push_str(&text.to_lowercase());
    }
    out
}

/// Validation helpers: each takes the input path to name in its refusal.
pub mod check {
    use super::*;

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    /// No NUL anywhere: PostgreSQL cannot store it and it truncates C strings.
    pub fn no_nul(path: &str, value: &str) -> Result<()> {
        if value.contains('\0') {
            return Err(Error::bad_input(path, "must not contain a NUL character"));
        }
        Ok(())
    }

    /// A string of `min..=max` Unicode characters without NUL.
    pub fn text(path: &str, value: String, min: usize, max: usize) -> Result<String> {
        no_nul(path, &value)?;
        let n = chars(&value);
        if n < min || n > max {
            return Err(Error::bad_input(
                path,
                if min > 0 {
                    format!("must be {min} to {max} characters long (got {n})")
                } else {
                    format!("must be at most {max} characters long (got {n})")
                },
            ));
        }
        Ok(value)
    }

    pub fn optional_text(path: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
        value.map(|v| text(path, v, 0, max)).transpose()
    }

    /// A producer's `sourceService`: any text but the server's own name, or
    /// anything that reads as it (see [`crate::domain::reserved_source`]).
    pub fn producer_source(path: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
        let value = optional_text(path, value, max)?;
        if value.as_deref().is_some_and(crate::domain::reserved_source::is_reserved) {
            return Err(Error::bad_input(
                path,
                format!("`{SELF_AUDIT_SOURCE}` is reserved for the events the server records about itself"),
            ));
        }
        Ok(value)
    }

    /// `^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$`, 1 to 128 characters.
    pub fn action(path: &str, value: String) -> Result<String> {
        let value = text(path, value, 1, MAX_ACTION_CHARS)?;
        let segment_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        let mut segments = value.split('.');
        let first = segments.next().unwrap_or_default();
        let first_ok = first.as_bytes().first().is_some_and(u8::is_ascii_lowercase) && segment_ok(first);
        let rest: Vec<&str> = segments.collect();
        if !first_ok || rest.is_empty() || !rest.iter().all(|s| segment_ok(s)) {
            return Err(Error::bad_input(
                path,
                format!(
                    "`{value}` is not a valid action: use dot-separated lower-case segments such as `workspace.snapshot.create` (pattern ^[a-z][a-z0-9_-]*(\\.[a-z0-9_-]+)+$)"
                ),
            ));
        }
        Ok(value)
    }

    /// After 1970-01-01 and at most five minutes ahead of `now`.
    pub fn occurred_at(path: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
        if at < DateTime::UNIX_EPOCH {
            return Err(Error::bad_input(path, "must be at or after 1970-01-01T00:00:00Z"));
        }
        if at > now + MAX_CLOCK_SKEW {
            return Err(Error::bad_input(path, "must not be more than 5 minutes in the future"));
        }
        Ok(crate::domain::clock::truncate_to_micros(at))
    }

    pub fn count<T>(path: &str, items: &[T], max: usize, what: &str) -> Result<()> {
        if items.len() > max {
            return Err(Error::bad_input(path, format!("at most {max} {what} are allowed (got {})", items.len())));
        }
        Ok(())
    }

    /// Every string inside a JSON value is free of NUL (keys included).
    pub fn json_no_nul(path: &str, value: &Json) -> Result<()> {
        match value {
            Json::String(s) => no_nul(path, s),
            Json::Array(items) => items.iter().try_for_each(|v| json_no_nul(path, v)),
            Json::Object(map) => map.iter().try_for_each(|(k, v)| {
                no_nul(path, k)?;
                json_no_nul(path, v)
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a number whose RFC 8785 form would change its value, at its
    /// path; writes the others as the leaf will.
    pub fn exact_numbers(path: &str, value: &mut Json) -> Result<()> {
        use crate::domain::exact_number::{canonicalize, first_inexact, refusal};
        if let Some((at, number)) = first_inexact(path, value) {
            return Err(Error::bad_input(at, refusal(&number)));
        }
        canonicalize(value);
        Ok(())
    }

    /// A JSON object of at most 16 KiB serialised.
    pub fn metadata(path: &str, value: Option<Json>) -> Result<serde_json::Map<String, Json>> {
        let map = match value {
            None | Some(Json::Null) => return Ok(Default::default()),
            Some(Json::Object(map)) => map,
            Some(_) => return Err(Error::bad_input(path, "must be a JSON object")),
        };
        let mut map_value = Json::Object(map);
        exact_numbers(path, &mut map_value)?;
        json_no_nul(path, &map_value)?;
        let size = serialized_len(&map_value);
        if size > MAX_METADATA_BYTES {
            return Err(Error::bad_input(
                path,
                format!("must be at most {MAX_METADATA_BYTES} bytes serialised (got {size})"),
            ));
        }
        let Json::Object(map) = map_value else { unreachable!() };
        Ok(map)
    }

    pub fn serialized_len(value: &impl serde::Serialize) -> usize {
        serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX)
    }

    pub fn ip_address(path: &str, value: String) -> Result<IpAddr> {
        value.parse().map_err(|_| {
            Error::bad_input(path, format!("`{}` is not a valid IPv4 or IPv6 address", value.escape_debug()))
        })
    }

    pub fn http_status(path: &str, status: i32) -> Result<i32> {
        if !(100..=599).contains(&status) {
            return Err(Error::bad_input(path, format!("must be an HTTP status from 100 to 599 (got {status})")));
        }
        Ok(status)
    }

    pub fn latency_ms(path: &str, ms: f64) -> Result<f64> {
        if !ms.is_finite() || ms < 0.0 {
            return Err(Error::bad_input(path, "must be a finite number of milliseconds, at least 0"));
        }
        Ok(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::check::*;
    use super::*;

    #[test]
    fn actions_follow_the_pattern() {
        for ok in ["a.b", "workspace.snapshot.create", "api_key.create", "x-y.z_1.2"] {
            assert!(action("a", ok.into()).is_ok(), "{ok}");
        }
        for bad in ["", "a", "A.b", "1a.b", "a..b", "a.b.", ".a.b", "a.B", "a b.c", "é.b", "a.b\0"] {
            assert!(action("a", bad.into()).is_err(), "{bad:?}");
        }
        let long = format!("a.{}", "b".repeat(126));
        assert!(action("a", long.clone()).is_ok());
        assert!(action("a", format!("{long}c")).is_err());
    }

    #[test]
    fn the_self_audit_source_is_reserved() {
        for reserved in ["auditgraph", "AuditGraph", " auditgraph\t"] {
            assert!(producer_source("s", Some(reserved.into()), 255).is_err(), "{reserved:?}");
        }
        for ok in ["auditgraph-proxy", "billing", "audit graph"] {
            assert!(producer_source("s", Some(ok.into()), 255).is_ok(), "{ok:?}");
        }
        assert_eq!(producer_source("s", None, 255).unwrap(), None);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(text("p", "é".repeat(255), 1, 255).is_ok());
        assert!(text("p", "é".repeat(256), 1, 255).is_err());
        assert!(text("p", String::new(), 1, 255).is_err());
    }

    #[test]
    fn time_bounds() {
        let now = Utc::now();
        assert!(occurred_at("t", DateTime::UNIX_EPOCH, now).is_ok());
        assert!(occurred_at("t", DateTime::UNIX_EPOCH - Duration::microseconds(1), now).is_err());
        assert!(occurred_at("t", now + Duration::minutes(4), now).is_ok());
        assert!(occurred_at("t", now + Duration::minutes(6), now).is_err());
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        assert!(metadata("m", Some(serde_json::json!([1]))).is_err());
        assert!(metadata("m", Some(serde_json::json!({"k": "x".repeat(17_000)}))).is_err());
        assert!(metadata("m", Some(serde_json::json!({"k\u{0}": 1}))).is_err());
        assert_eq!(metadata("m", None).unwrap().len(), 0);
    }

    #[test]
    fn ip_addresses_are_canonical() {
        assert_eq!(ip_address("ip", "2001:DB8::1".into()).unwrap().to_string(), "2001:db8::1");
        assert_eq!(ip_address("ip", "::ffff:10.0.0.1".into()).unwrap().to_string(), "::ffff:10.0.0.1");
        assert!(ip_address("ip", "10.0.0.256".into()).is_err());
    }
}
