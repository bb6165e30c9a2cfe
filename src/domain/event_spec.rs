//! An event to record as a producer writes it: the JSON of the contract's
//! `AuditEventInput`, whichever door it came through (a GraphQL argument, a
//! REST body). Unknown fields are refused. [`EventSpec::validate`] checks it
//! against every rule of the contract into a [`NewEvent`]; each refusal names
//! the input path of the offending field (`events.3.actor.externalId`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::event::{
    self, ActorType, FieldChange, MAX_ID_CHARS, MAX_TEXT_CHARS, NewActor, NewEvent, NewResource, Outcome,
    RequestContext, check,
};
use super::personal;
use super::wire::Instant;
use crate::error::{Error, Result};

/// Who acted. Identified by `type` and `externalId` within the tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActorSpec {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// A resource. Identified by `type` and `externalId` within the tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The request that caused an event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// A before/after value of one changed field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeSpec {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Json>,
}

/// An audit event to record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSpec {
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Instant>,
    pub actor: ActorSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_resources: Option<Vec<ResourceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<ChangeSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<Vec<String>>,
}

const SHORT: usize = MAX_ID_CHARS;
const LONG: usize = MAX_TEXT_CHARS;

impl ActorSpec {
    fn validate(self, path: &str) -> Result<NewActor> {
        let roles = match self.roles {
            None => None,
            Some(roles) => {
                check::count(&format!("{path}.roles"), &roles, event::MAX_ROLES, "roles")?;
                Some(
                    roles
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| check::text(&format!("{path}.roles.{i}"), r, 1, SHORT))
                        .collect::<Result<Vec<_>>>()?,
                )
            }
        };
        Ok(NewActor {
            kind: self.kind,
            external_id: check::text(&format!("{path}.externalId"), self.external_id, 1, SHORT)?,
            display_name: check::optional_text(&format!("{path}.displayName"), self.display_name, LONG)?,
            email: check::optional_text(&format!("{path}.email"), self.email, LONG)?,
            roles,
        })
    }
}

impl ResourceSpec {
    fn validate(self, path: &str) -> Result<NewResource> {
        Ok(NewResource {
            kind: check::text(&format!("{path}.type"), self.kind, 1, SHORT)?,
            external_id: check::text(&format!("{path}.externalId"), self.external_id, 1, SHORT)?,
            name: check::optional_text(&format!("{path}.name"), self.name, LONG)?,
        })
    }
}

impl RequestSpec {
    fn validate(self, path: &str) -> Result<RequestContext> {
        let at = |name: &str| format!("{path}.{name}");
        Ok(RequestContext {
            id: check::optional_text(&at("id"), self.id, LONG)?,
            method: check::optional_text(&at("method"), self.method, LONG)?,
            path: check::optional_text(&at("path"), self.path, LONG)?,
            status: self.status.map(|s| check::http_status(&at("status"), s)).transpose()?,
            latency_ms: self.latency_ms.map(|l| check::latency_ms(&at("latencyMs"), l)).transpose()?,
            ip_address: self.ip_address.map(|ip| check::ip_address(&at("ipAddress"), ip)).transpose()?,
            user_agent: check::optional_text(&at("userAgent"), self.user_agent, LONG)?,
        })
    }
}

fn validate_changes(changes: Vec<ChangeSpec>, path: &str) -> Result<Vec<FieldChange>> {
    check::count(path, &changes, event::MAX_CHANGES, "changes")?;
    let changes = changes
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let at = format!("{path}.{i}");
            if let Some(before) = &mut c.before {
                check::exact_numbers(&format!("{at}.before"), before)?;
                check::json_no_nul(&format!("{at}.before"), before)?;
            }
            if let Some(after) = &mut c.after {
                check::exact_numbers(&format!("{at}.after"), after)?;
                check::json_no_nul(&format!("{at}.after"), after)?;
            }
            Ok(FieldChange {
                field: check::text(&format!("{at}.field"), c.field, 1, SHORT)?,
                before: c.before,
                after: c.after,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let size = check::serialized_len(&changes);
    if size > event::MAX_CHANGES_BYTES {
        return Err(Error::bad_input(
            path,
            format!("must be at most {} bytes serialised in all (got {size})", event::MAX_CHANGES_BYTES),
        ));
    }
    Ok(changes)
}

impl EventSpec {
    /// The names of every field, as the contract writes them (a test keeps
    /// this list, the struct and the GraphQL input type equal).
    pub const FIELDS: [&'static str; 17] = [
        "action",
        "outcome",
        "occurredAt",
        "actor",
        "resource",
        "relatedResources",
        "summary",
        "reason",
        "errorMessage",
        "environment",
        "sourceService",
        "correlationId",
        "request",
        "metadata",
        "changes",
        "idempotencyKey",
        "personal",
    ];

    /// Validates the event at `path` (e.g. `events.3`) against every rule;
    /// `now` is when it is received (the default `occurredAt`).
    pub fn validate(self, path: &str, now: DateTime<Utc>) -> Result<NewEvent> {
        let at = |name: &str| format!("{path}.{name}");
        let related = self.related_resources.unwrap_or_default();
        check::count(&at("relatedResources"), &related, event::MAX_RELATED, "related resources")?;
        let metadata = check::metadata(&at("metadata"), self.metadata)?;
        let changes = validate_changes(self.changes.unwrap_or_default(), &at("changes"))?;
        let personal = match self.personal {
            Some(paths) if !paths.is_empty() => {
                let changes = serde_json::to_value(&changes).map_err(Error::internal)?;
                personal::check_paths(&at("personal"), paths, &metadata, &changes)?
            }
            _ => Vec::new(),
        };
        Ok(NewEvent {
            action: check::action(&at("action"), self.action)?,
            outcome: self.outcome.unwrap_or(Outcome::Success),
            occurred_at: match self.occurred_at {
                Some(t) => check::occurred_at(&at("occurredAt"), t.0, now)?,
                None => now,
            },
            actor: self.actor.validate(&at("actor"))?,
            resource: self.resource.map(|r| r.validate(&at("resource"))).transpose()?,
            related_resources: related
                .into_iter()
                .enumerate()
                .map(|(i, r)| r.validate(&format!("{}.{i}", at("relatedResources"))))
                .collect::<Result<Vec<_>>>()?,
            summary: check::optional_text(&at("summary"), self.summary, LONG)?,
            reason: check::optional_text(&at("reason"), self.reason, LONG)?,
            error_message: check::optional_text(&at("errorMessage"), self.error_message, LONG)?,
            environment: check::optional_text(&at("environment"), self.environment, LONG)?,
            source_service: check::producer_source(&at("sourceService"), self.source_service, LONG)?,
            correlation_id: check::optional_text(&at("correlationId"), self.correlation_id, LONG)?,
            request: self.request.map(|r| r.validate(&at("request"))).transpose()?,
            metadata,
            changes,
            personal,
            idempotency_key: self
                .idempotency_key
                .map(|k| check::text(&at("idempotencyKey"), k, 1, SHORT))
                .transpose()?,
        })
    }
}

/// Validates a batch of 1 to 1,000 events at `path.0`, `path.1`, …
pub fn validate_batch(specs: Vec<EventSpec>, path: &str, now: DateTime<Utc>) -> Result<Vec<NewEvent>> {
    if specs.is_empty() || specs.len() > event::MAX_BATCH {
        return Err(Error::bad_input(path, format!("send 1 to {} events (got {})", event::MAX_BATCH, specs.len())));
    }
    specs.into_iter().enumerate().map(|(i, spec)| spec.validate(&format!("{path}.{i}"), now)).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_field_is_listed() {
        let full = json!({
            "action": "a.b", "outcome": "FAILURE", "occurredAt": "2026-01-01T00:00:00Z",
            "actor": {"type": "USER", "externalId": "1"}, "resource": {"type": "t", "externalId": "r"},
            "relatedResources": [], "summary": "", "reason": "", "errorMessage": "", "environment": "",
            "sourceService": "", "correlationId": "", "request": {}, "metadata": {}, "changes": [],
            "idempotencyKey": "k", "personal": [],
        });
        let spec: EventSpec = super::super::wire::decode(full, "events.0").unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut listed = EventSpec::FIELDS.to_vec();
        keys.sort_unstable();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }

    #[test]
    fn refusals_name_the_field() {
        let bad = json!([{"action": "a.b", "actor": {"type": "USER", "externalId": "1", "colour": 1}}]);
        let err = super::super::wire::decode::<Vec<EventSpec>>(bad, "events").unwrap_err();
        assert!(matches!(err, Error::BadInput { ref path, .. } if path == "events.0.actor.colour"), "{err:?}");
        let spec: EventSpec =
            serde_json::from_value(json!({"action": "Nope", "actor": {"type": "USER", "externalId": "1"}})).unwrap();
        let err = spec.validate("events.3", DateTime::UNIX_EPOCH).unwrap_err();
        assert!(matches!(err, Error::BadInput { ref path, .. } if path == "events.3.action"), "{err:?}");
    }
}
