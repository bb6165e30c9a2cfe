//! The event input of the contract (`AuditEventInput` and its parts) as
//! GraphQL input types, and their conversion into the domain's written form
//! ([`EventSpec`]), which every door shares and validates.

use async_graphql::InputObject;

use super::enums::{self, AuditOutcome};
use super::scalars::{DateTime, Json};
use crate::domain::event_spec::{ActorSpec, ChangeSpec, EventSpec, RequestSpec, ResourceSpec};
use crate::domain::wire::Instant;

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
    /// Paths of personal values in `metadata` or in a change's `before` or
    /// `after` (`metadata.email`, `changes.0.after`): sealed in the leaf under
    /// the actor's data key, like its `displayName` and `email` and the
    /// request's `ipAddress` and `userAgent`, so `eraseActor` can erase them.
    pub personal: Option<Vec<String>>,
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

impl From<ActorInput> for ActorSpec {
    fn from(a: ActorInput) -> Self {
        ActorSpec {
            kind: a.kind.into(),
            external_id: a.external_id,
            display_name: a.display_name,
            email: a.email,
            roles: a.roles,
        }
    }
}

impl From<ResourceInput> for ResourceSpec {
    fn from(r: ResourceInput) -> Self {
        ResourceSpec { kind: r.kind, external_id: r.external_id, name: r.name }
    }
}

impl From<RequestContextInput> for RequestSpec {
    fn from(r: RequestContextInput) -> Self {
        RequestSpec {
            id: r.id,
            method: r.method,
            path: r.path,
            status: r.status,
            latency_ms: r.latency_ms,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
        }
    }
}

impl From<FieldChangeInput> for ChangeSpec {
    fn from(c: FieldChangeInput) -> Self {
        ChangeSpec { field: c.field, before: c.before.map(|j| j.0), after: c.after.map(|j| j.0) }
    }
}

impl From<AuditEventInput> for EventSpec {
    fn from(e: AuditEventInput) -> Self {
        EventSpec {
            action: e.action,
            outcome: e.outcome.map(Into::into),
            occurred_at: e.occurred_at.map(|t| Instant(t.0)),
            actor: e.actor.into(),
            resource: e.resource.map(Into::into),
            related_resources: e.related_resources.map(|l| l.into_iter().map(Into::into).collect()),
            summary: e.summary,
            reason: e.reason,
            error_message: e.error_message,
            environment: e.environment,
            source_service: e.source_service,
            correlation_id: e.correlation_id,
            request: e.request.map(Into::into),
            metadata: e.metadata.map(|j| j.0),
            changes: e.changes.map(|l| l.into_iter().map(Into::into).collect()),
            idempotency_key: e.idempotency_key,
            personal: e.personal,
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::registry::{MetaType, Registry};

    use super::*;

    /// The GraphQL input and the domain's written form list the same fields.
    #[test]
    fn the_input_and_the_spec_have_the_same_fields() {
        let mut registry = Registry::default();
        <AuditEventInput as async_graphql::InputType>::create_type_info(&mut registry);
        let Some(MetaType::InputObject { input_fields, .. }) = registry.types.get("AuditEventInput") else {
            panic!("not an input object");
        };
        let mut graphql: Vec<&str> = input_fields.keys().map(String::as_str).collect();
        let mut spec = EventSpec::FIELDS.to_vec();
        graphql.sort_unstable();
        spec.sort_unstable();
        assert_eq!(graphql, spec);
    }
}
