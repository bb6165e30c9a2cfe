//! The event input of the contract (`AuditEventInput` and its parts) and its
//! conversion into a validated new event. Each refusal names the input path
//! (`events.3.actor.externalId`).

use async_graphql::InputObject;

use super::enums::{self, AuditOutcome};
use super::scalars::{DateTime, Json};
use crate::domain::event::{self, ActorSpec, FieldChange, NewEvent, RequestContext, ResourceSpec, check};
use crate::error::{Error, Result};

/// An audit event to record.
#[derive(InputObject, Clone, Debug)]
pub struct AuditEventInput {
    /// Dot-namespaced lower-case action, e.g. `workspace.snapshot.create` (1–128 characters).
    pub action: String,
    /// Whether the action succeeded.
    #[graphql(default_with = "Some(AuditOutcome::Success)")]
    pub outcome: Option<AuditOutcome>,
    /// When it happened (default: now); at most 5 minutes in the future.
    pub occurred_at: Option<DateTime>,
    /// Who did it; created on first sight, updated by later events.
    pub actor: ActorInput,
    /// The primary target.
    pub resource: Option<ResourceInput>,
    /// Other things involved (session, vm, incident…), at most 20.
    pub related_resources: Option<Vec<ResourceInput>>,
    /// A human-readable description (at most 4,096 characters).
    pub summary: Option<String>,
    /// Why it was done (at most 4,096 characters).
    pub reason: Option<String>,
    /// What went wrong, for failures (at most 4,096 characters).
    pub error_message: Option<String>,
    /// E.g. `production`, `sandbox`.
    pub environment: Option<String>,
    /// The producing service.
    pub source_service: Option<String>,
    /// Ties together events of one logical operation.
    pub correlation_id: Option<String>,
    /// The request that caused the event.
    pub request: Option<RequestContextInput>,
    /// Any further detail: a JSON object of at most 16 KiB.
    pub metadata: Option<Json>,
    /// Before/after values of what the action changed (at most 100, 64 KiB in all).
    pub changes: Option<Vec<FieldChangeInput>>,
    /// A key unique in the tenant: recording it again returns the stored event.
    pub idempotency_key: Option<String>,
}

/// A before/after value of one changed field.
#[derive(InputObject, Clone, Debug)]
pub struct FieldChangeInput {
    /// The field's name (1–255 characters).
    pub field: String,
    /// The value before the action.
    pub before: Option<Json>,
    /// The value after the action.
    pub after: Option<Json>,
}

/// Who acted. Identified by `type` and `externalId` within the tenant.
#[derive(InputObject, Clone, Debug)]
pub struct ActorInput {
    /// What kind of actor.
    #[graphql(name = "type")]
    pub kind: enums::ActorType,
    /// The producer's ID of the actor (1–255 characters).
    pub external_id: String,
    /// A name to show; omitted keeps the stored one.
    pub display_name: Option<String>,
    /// An email address; omitted keeps the stored one.
    pub email: Option<String>,
    /// Roles, at most 50; omitted keeps the stored ones.
    pub roles: Option<Vec<String>>,
}

/// A resource. Identified by `type` and `externalId` within the tenant.
#[derive(InputObject, Clone, Debug)]
pub struct ResourceInput {
    /// The kind of resource, e.g. `workspace` (1–255 characters).
    #[graphql(name = "type")]
    pub kind: String,
    /// The producer's ID of the resource (1–255 characters).
    pub external_id: String,
    /// A name to show; omitted keeps the stored one.
    pub name: Option<String>,
}

/// The request that caused an event.
#[derive(InputObject, Clone, Debug, Default)]
pub struct RequestContextInput {
    /// The request's ID.
    pub id: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// HTTP status, 100–599.
    pub status: Option<i32>,
    /// Latency in milliseconds, at least 0.
    pub latency_ms: Option<f64>,
    /// The client's IPv4 or IPv6 address; stored in canonical form.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

const SHORT: usize = event::MAX_ID_CHARS;
const LONG: usize = event::MAX_TEXT_CHARS;

impl ActorInput {
    fn into_domain(self, path: &str) -> Result<ActorSpec> {
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
        Ok(ActorSpec {
            kind: self.kind.into(),
            external_id: check::text(&format!("{path}.externalId"), self.external_id, 1, SHORT)?,
            display_name: check::optional_text(&format!("{path}.displayName"), self.display_name, LONG)?,
            email: check::optional_text(&format!("{path}.email"), self.email, LONG)?,
            roles,
        })
    }
}

impl ResourceInput {
    fn into_domain(self, path: &str) -> Result<ResourceSpec> {
        Ok(ResourceSpec {
            kind: check::text(&format!("{path}.type"), self.kind, 1, SHORT)?,
            external_id: check::text(&format!("{path}.externalId"), self.external_id, 1, SHORT)?,
            name: check::optional_text(&format!("{path}.name"), self.name, LONG)?,
        })
    }
}

impl RequestContextInput {
    fn into_domain(self, path: &str) -> Result<RequestContext> {
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

impl AuditEventInput {
    /// Validates the event at `path` (e.g. `events.3`) against every rule.
    pub fn into_domain(self, path: &str, now: chrono::DateTime<chrono::Utc>) -> Result<NewEvent> {
        let at = |name: &str| format!("{path}.{name}");
        let related = self.related_resources.unwrap_or_default();
        check::count(&at("relatedResources"), &related, event::MAX_RELATED, "related resources")?;
        let changes = self.changes.unwrap_or_default();
        check::count(&at("changes"), &changes, event::MAX_CHANGES, "changes")?;
        let changes = changes
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let path = format!("{}.{i}", at("changes"));
                let change = FieldChange {
                    field: check::text(&format!("{path}.field"), c.field, 1, SHORT)?,
                    before: c.before.map(|j| j.0),
                    after: c.after.map(|j| j.0),
                };
                if let Some(before) = &change.before {
                    check::json_no_nul(&format!("{path}.before"), before)?;
                }
                if let Some(after) = &change.after {
                    check::json_no_nul(&format!("{path}.after"), after)?;
                }
                Ok(change)
            })
            .collect::<Result<Vec<_>>>()?;
        let size = check::serialized_len(&changes);
        if size > event::MAX_CHANGES_BYTES {
            return Err(Error::bad_input(
                at("changes"),
                format!("must be at most {} bytes serialised in all (got {size})", event::MAX_CHANGES_BYTES),
            ));
        }
        Ok(NewEvent {
            action: check::action(&at("action"), self.action)?,
            outcome: self.outcome.unwrap_or(AuditOutcome::Success).into(),
            occurred_at: match self.occurred_at {
                Some(t) => check::occurred_at(&at("occurredAt"), t.0, now)?,
                None => now,
            },
            actor: self.actor.into_domain(&at("actor"))?,
            resource: self.resource.map(|r| r.into_domain(&at("resource"))).transpose()?,
            related_resources: related
                .into_iter()
                .enumerate()
                .map(|(i, r)| r.into_domain(&format!("{}.{i}", at("relatedResources"))))
                .collect::<Result<Vec<_>>>()?,
            summary: check::optional_text(&at("summary"), self.summary, LONG)?,
            reason: check::optional_text(&at("reason"), self.reason, LONG)?,
            error_message: check::optional_text(&at("errorMessage"), self.error_message, LONG)?,
            environment: check::optional_text(&at("environment"), self.environment, LONG)?,
            source_service: check::producer_source(&at("sourceService"), self.source_service, LONG)?,
            correlation_id: check::optional_text(&at("correlationId"), self.correlation_id, LONG)?,
            request: self.request.map(|r| r.into_domain(&at("request"))).transpose()?,
            metadata: check::metadata(&at("metadata"), self.metadata.map(|j| j.0))?,
            changes,
            idempotency_key: self
                .idempotency_key
                .map(|k| check::text(&at("idempotencyKey"), k, 1, SHORT))
                .transpose()?,
        })
    }
}
