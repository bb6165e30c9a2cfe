//! The canonical event: the bytes of a leaf (API.md, "Ledger"). The JCS
//! serialisation of one fixed-shape object in which every key is present.
//! Built from the stored row alone, so `verify --tenant` can recompute it.

use entity::audit_event as ev;
use serde_json::{Map, Value, json};

use super::Hash;
use super::canonical::{instant, jcs, leaf_hash};
use crate::domain::event::{ActorSpec, NewEvent, ResourceSpec};
use crate::domain::ids::{EventId, TenantId};

/// `{"actor", "resource", "relatedResources"}` exactly as the producer sent
/// them with this event, kept with the event (`audit_event.recorded`).
pub fn recorded(event: &NewEvent) -> Value {
    json!({
        "actor": actor(&event.actor),
        "resource": event.resource.as_ref().map(resource),
        "relatedResources": event.related_resources.iter().map(resource).collect::<Vec<_>>(),
    })
}

fn actor(a: &ActorSpec) -> Value {
    json!({
        "type": a.kind.as_str(),
        "externalId": a.external_id,
        "displayName": a.display_name,
        "email": a.email,
        "roles": a.roles,
    })
}

fn resource(r: &ResourceSpec) -> Value {
    json!({ "type": r.kind, "externalId": r.external_id, "name": r.name })
}

/// The canonical event of a stored row, as a JSON value.
pub fn value(row: &ev::Model) -> Value {
    let part = |key: &str| row.recorded.get(key).cloned().unwrap_or(Value::Null);
    let request = row.has_request.then(|| {
        json!({
            "id": row.request_id,
            "method": row.request_method,
            "path": row.request_path,
            "status": row.request_status,
            "latencyMs": row.request_latency_ms,
            "ipAddress": row.request_ip,
            "userAgent": row.request_user_agent,
        })
    });
    let mut object = Map::new();
    for (key, value) in [
        ("id", json!(EventId(row.id).to_string())),
        ("tenantId", json!(TenantId(row.tenant_id).to_string())),
        ("sequence", json!(row.sequence.to_string())),
        ("action", json!(row.action)),
        ("outcome", json!(row.outcome)),
        ("occurredAt", json!(instant(row.occurred_at))),
        ("receivedAt", json!(instant(row.received_at))),
        ("actor", part("actor")),
        ("resource", part("resource")),
        (
            "relatedResources",
            match part("relatedResources") {
                Value::Null => json!([]),
                related => related,
            },
        ),
        ("summary", json!(row.summary)),
        ("reason", json!(row.reason)),
        ("errorMessage", json!(row.error_message)),
        ("environment", json!(row.environment)),
        ("sourceService", json!(row.source_service)),
        ("correlationId", json!(row.correlation_id)),
        ("request", request.unwrap_or(Value::Null)),
        ("metadata", row.metadata.clone()),
        ("changes", row.changes.clone()),
        ("idempotencyKey", json!(row.idempotency_key)),
    ] {
        object.insert(key.to_string(), value);
    }
    Value::Object(object)
}

/// The canonical event's bytes: the leaf.
pub fn bytes(row: &ev::Model) -> Vec<u8> {
    jcs(&value(row))
}

/// The event's leaf hash.
pub fn hash(row: &ev::Model) -> Hash {
    leaf_hash(&bytes(row))
}
