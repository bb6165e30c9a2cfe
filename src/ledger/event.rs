//! The canonical event: the bytes of a leaf (API.md, "Ledger"). The JCS
//! serialisation of one fixed-shape object in which every key is present.
//! Built from the stored row alone, so `verify --tenant` can recompute it.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Hash;
use super::canonical::{instant, leaf_hash};
use crate::domain::data_key::DataKey;
use crate::domain::event::{NewActor, NewEvent, NewResource};
use crate::domain::ids::{ActorId, ResourceId};
use crate::domain::personal;
use crate::domain::stored_event::StoredEvent;

/// The leaf version of events recorded now: node IDs in the actor and
/// resources (API.md, "Exact leaves").
pub const VERSION: u64 = 2;

/// The node IDs an event links to as it is recorded: its actor, primary
/// resource and related resources, in order.
pub struct Links<'a> {
    pub actor: ActorId,
    pub resource: Option<ResourceId>,
    pub related: &'a [ResourceId],
}

/// `{"v", "actor", "resource", "relatedResources"}`: the actor and resources
/// exactly as the producer sent them with this event, each with the node ID
/// it is stored under, kept with the event (`audit_event.recorded`).
pub fn recorded(event: &NewEvent, links: &Links) -> Value {
    let with_id = |mut part: Value, id: String| {
        part["id"] = json!(id);
        part
    };
    json!({
        "v": VERSION,
        "actor": with_id(actor(&event.actor), links.actor.to_string()),
        "resource": event.resource.as_ref().zip(links.resource).map(|(r, id)| with_id(resource(r), id.to_string())),
        "relatedResources": event
            .related_resources
            .iter()
            .zip(links.related)
            .map(|(r, id)| with_id(resource(r), id.to_string()))
            .collect::<Vec<_>>(),
    })
}

/// The leaf version of a stored event: 1 for events recorded before
/// version 2, whose `recorded` has no `v`.
pub fn version(row: &StoredEvent) -> u64 {
    row.recorded.get("v").and_then(Value::as_u64).unwrap_or(1)
}

fn actor(a: &NewActor) -> Value {
    json!({
        "type": a.kind.as_str(),
        "externalId": a.external_id,
        "displayName": a.display_name,
        "email": a.email,
        "roles": a.roles,
    })
}

fn resource(r: &NewResource) -> Value {
    json!({ "type": r.kind, "externalId": r.external_id, "name": r.name })
}

/// The canonical event of a stored event, as a JSON value.
pub fn value(row: &StoredEvent) -> Value {
    let part = |key: &str| row.recorded.get(key).cloned().unwrap_or(Value::Null);
    let sealed = row.recorded.get("request");
    let request = row.request.as_ref().map(|r| {
        let personal = |field: &str, plain: Option<String>| match sealed {
            Some(sealed) => sealed.get(field).cloned().unwrap_or(Value::Null),
            None => json!(plain),
        };
        json!({
            "id": r.id,
            "method": r.method,
            "path": r.path,
            "status": r.status,
            "latencyMs": r.latency_ms,
            "ipAddress": personal("ipAddress", r.ip_address.map(|ip| ip.to_string())),
            "userAgent": personal("userAgent", r.user_agent.clone()),
        })
    });
    let mut object = Map::new();
    for (key, value) in [
        ("id", json!(row.id.to_string())),
        ("tenantId", json!(row.tenant.to_string())),
        ("sequence", json!(row.sequence.to_string())),
        ("action", json!(row.action)),
        ("outcome", json!(row.outcome.as_str())),
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
    if version(row) > 1 {
        object.insert("v".to_string(), json!(version(row)));
    }
    Value::Object(object)
}

/// The opened event (API.md Part 3, "Two forms"): the leaf object with each
/// sealed value replaced by its plaintext, or `null` once erased (`key` is
/// the actor's data key, `None` when destroyed), and its `leafHash`. What
/// every door but the leaf's own serves.
pub fn opened(row: &StoredEvent, key: Option<&DataKey>) -> Value {
    let mut object = value(row);
    if personal::has_sealed(row) {
        object["actor"] = personal::opened_actor(row, key);
        object["metadata"] = personal::opened_metadata(row, key);
        object["changes"] = personal::opened_changes(row, key);
        if let Some(request) = &row.request {
            // The columns hold the plaintext until an erasure clears them.
            object["request"]["ipAddress"] = json!(request.ip_address.map(|ip| ip.to_string()));
            object["request"]["userAgent"] = json!(request.user_agent);
        }
    }
    object["leafHash"] = json!(super::encode_hash(&hash(row)));
    object
}

/// The canonical event's bytes: the leaf.
pub fn bytes(row: &StoredEvent) -> Vec<u8> {
    let (mut out, after) = halves(row);
    out.extend_from_slice(row.sequence.to_string().as_bytes());
    out.extend_from_slice(&after);
    out
}

/// The event's leaf hash.
pub fn hash(row: &StoredEvent) -> Hash {
    leaf_hash(&bytes(row))
}

/// An event's leaf hash computed up to its sequence number, the one member
/// assigned last (under the tenant's head): the SHA-256 state after
/// `0x00 ‖ {…"sequence":"`, and the bytes after the number. Almost all of the
/// writing and hashing is done before the head is taken; [`PendingLeaf::hash`]
/// finishes it in a few hundred nanoseconds.
pub struct PendingLeaf {
    state: Sha256,
    after: Vec<u8>,
}

impl PendingLeaf {
    /// The pending leaf of a row whose `sequence` is not yet known.
    pub fn of(row: &StoredEvent) -> PendingLeaf {
        if cfg!(feature = "bench-without-ledger") {
            return PendingLeaf { state: Sha256::new(), after: Vec::new() };
        }
        let (before, after) = halves(row);
        PendingLeaf { state: Sha256::new().chain_update([0]).chain_update(before), after }
    }

    /// The leaf hash of the event once its sequence is `sequence`.
    pub fn hash(&self, sequence: u64) -> Hash {
        if cfg!(feature = "bench-without-ledger") {
            return [0; 32];
        }
        self.state.clone().chain_update(sequence.to_string()).chain_update(&self.after).finalize().into()
    }
}

/// The canonical event written straight from the row, in two halves around
/// the sequence number: `{…,"sequence":"` and `",…}`. The same bytes as
/// `jcs(&value(row))` (a property test holds them together) without building
/// and sorting a `Value`: the members are written in RFC 8785 order (their
/// names are ASCII, so byte order is UTF-16 order), and only the free-form
/// parts (actor, resources, metadata, changes) go through the canonicalizer.
fn halves(row: &StoredEvent) -> (Vec<u8>, Vec<u8>) {
    let mut out = Vec::with_capacity(1_024);
    let part = |key: &str| row.recorded.get(key).unwrap_or(&Value::Null);
    out.extend_from_slice(b"{\"action\":");
    string(&mut out, &row.action);
    out.extend_from_slice(b",\"actor\":");
    canonical(&mut out, part("actor"));
    out.extend_from_slice(b",\"changes\":");
    canonical(&mut out, &row.changes);
    out.extend_from_slice(b",\"correlationId\":");
    optional(&mut out, &row.correlation_id);
    out.extend_from_slice(b",\"environment\":");
    optional(&mut out, &row.environment);
    out.extend_from_slice(b",\"errorMessage\":");
    optional(&mut out, &row.error_message);
    out.extend_from_slice(b",\"id\":");
    string(&mut out, &row.id.to_string());
    out.extend_from_slice(b",\"idempotencyKey\":");
    optional(&mut out, &row.idempotency_key);
    out.extend_from_slice(b",\"metadata\":");
    canonical(&mut out, &row.metadata);
    out.extend_from_slice(b",\"occurredAt\":");
    string(&mut out, &instant(row.occurred_at));
    out.extend_from_slice(b",\"outcome\":");
    string(&mut out, row.outcome.as_str());
    out.extend_from_slice(b",\"reason\":");
    optional(&mut out, &row.reason);
    out.extend_from_slice(b",\"receivedAt\":");
    string(&mut out, &instant(row.received_at));
    out.extend_from_slice(b",\"relatedResources\":");
    match part("relatedResources") {
        Value::Null => out.extend_from_slice(b"[]"),
        related => canonical(&mut out, related),
    }
    out.extend_from_slice(b",\"request\":");
    if let Some(request) = &row.request {
        out.extend_from_slice(b"{\"id\":");
        optional(&mut out, &request.id);
        let sealed = row.recorded.get("request");
        out.extend_from_slice(b",\"ipAddress\":");
        match sealed {
            Some(sealed) => canonical(&mut out, &sealed["ipAddress"]),
            None => optional(&mut out, &request.ip_address.map(|ip| ip.to_string())),
        }
        out.extend_from_slice(b",\"latencyMs\":");
        match request.latency_ms {
            Some(ms) => canonical(&mut out, &ms),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"method\":");
        optional(&mut out, &request.method);
        out.extend_from_slice(b",\"path\":");
        optional(&mut out, &request.path);
        out.extend_from_slice(b",\"status\":");
        match request.status {
            Some(status) => out.extend_from_slice(status.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"userAgent\":");
        match sealed {
            Some(sealed) => canonical(&mut out, &sealed["userAgent"]),
            None => optional(&mut out, &request.user_agent),
        }
        out.push(b'}');
    } else {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b",\"resource\":");
    canonical(&mut out, part("resource"));
    out.extend_from_slice(b",\"sequence\":\"");

    let mut after = Vec::with_capacity(256);
    after.extend_from_slice(b"\",\"sourceService\":");
    optional(&mut after, &row.source_service);
    after.extend_from_slice(b",\"summary\":");
    optional(&mut after, &row.summary);
    after.extend_from_slice(b",\"tenantId\":");
    string(&mut after, &row.tenant.to_string());
    if version(row) > 1 {
        after.extend_from_slice(b",\"v\":");
        after.extend_from_slice(version(row).to_string().as_bytes());
    }
    after.push(b'}');
    (out, after)
}

/// A JSON string. serde_json escapes exactly what RFC 8785 escapes (`"`, `\`
/// and control characters, `\b \t \n \f \r` short and the rest as lowercase
/// `\u00xx`), so its output is canonical.
fn string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing a string to a Vec does not fail");
}

fn optional(out: &mut Vec<u8>, text: &Option<String>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A free-form value in its RFC 8785 form.
fn canonical(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    // As in `jcs`: a `Value` or an `f64` read from the database always has a
    // canonical form, and a Vec does not fail to grow.
    serde_json_canonicalizer::to_writer(value, out).expect("a stored value always has an RFC 8785 form");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Outcome, RequestContext};
    use crate::domain::ids::{ActorId, EventId, TenantId};
    use crate::ledger::jcs;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // ASCII, controls, quotes and backslashes, non-BMP characters.
        "[a-z\\\\\"\u{0}-\u{1f}\u{7f}\u{80}é€😀 ]{0,12}"
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(text(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    prop_compose! {
        fn row()(
            texts in prop::collection::vec(prop::option::of(text()), 12),
            action in text(),
            sequence in 1..i64::MAX,
            micros in 0..4_000_000_000_000_000i64,
            has_request in any::<bool>(),
            failed in any::<bool>(),
            status in prop::option::of(any::<i32>()),
            latency in prop::option::of(any::<f64>().prop_filter("finite", |f| f.is_finite())),
            ip in prop::option::of(any::<std::net::IpAddr>()),
            metadata in json_value(),
            changes in json_value(),
            parts in (json_value(), json_value(), prop::option::of(json_value()), any::<bool>()),
        ) -> StoredEvent {
            // As `recorded` stores it; older rows may lack `relatedResources`.
            let mut recorded = json!({ "actor": parts.0, "resource": parts.1 });
            if parts.3 {
                recorded["v"] = json!(VERSION);
            }
            if let Some(related) = parts.2 {
                recorded["relatedResources"] = related;
            }
            if parts.3 && has_request && failed {
                recorded["request"] = json!({"ipAddress": {"sealed": "AAAA", "kid": "act_1"}, "userAgent": null});
            }
            let at = Utc.timestamp_micros(micros).unwrap();
            let request = has_request.then(|| RequestContext {
                id: texts[7].clone(),
                method: texts[8].clone(),
                path: texts[9].clone(),
                status,
                latency_ms: latency,
                ip_address: ip,
                user_agent: texts[11].clone(),
            });
            StoredEvent {
                id: EventId(uuid::Uuid::now_v7()),
                tenant: TenantId(uuid::Uuid::now_v7()),
                action,
                category: String::new(),
                outcome: if failed { Outcome::Failure } else { Outcome::Success },
                occurred_at: at,
                received_at: at + chrono::Duration::microseconds(micros % 1_000),
                actor_id: ActorId(uuid::Uuid::nil()),
                resource_id: None,
                summary: texts[1].clone(),
                reason: texts[2].clone(),
                error_message: texts[3].clone(),
                environment: texts[4].clone(),
                source_service: texts[5].clone(),
                correlation_id: texts[6].clone(),
                request,
                metadata,
                changes,
                idempotency_key: texts[0].clone(),
                sequence,
                recorded,
            }
        }
    }

    /// A version-1 row (its `recorded` has no `v`) keeps the exact bytes it
    /// was hashed with; the same row at version 2 gains only `"v":2`.
    #[test]
    fn version_1_leaves_are_unchanged() {
        let id = EventId(uuid::Uuid::from_u128(1));
        let tenant = TenantId(uuid::Uuid::from_u128(2));
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut row = StoredEvent {
            id,
            tenant,
            action: "a.b".into(),
            category: "a".into(),
            outcome: Outcome::Success,
            occurred_at: at,
            received_at: at,
            actor_id: ActorId(uuid::Uuid::nil()),
            resource_id: None,
            summary: None,
            reason: None,
            error_message: None,
            environment: None,
            source_service: None,
            correlation_id: None,
            request: None,
            metadata: json!({"n": 1}),
            changes: json!([]),
            idempotency_key: None,
            sequence: 7,
            recorded: json!({"actor": {"type": "USER", "externalId": "u", "displayName": null, "email": null, "roles": null}, "resource": null}),
        };
        let v1 = "{\"action\":\"a.b\",\"actor\":{\"displayName\":null,\"email\":null,\"externalId\":\"u\",\"roles\":null,\"type\":\"USER\"},\
                  \"changes\":[],\"correlationId\":null,\"environment\":null,\"errorMessage\":null,\
                  \"id\":\"evt_00000000000000000000000000000001\",\"idempotencyKey\":null,\"metadata\":{\"n\":1},\
                  \"occurredAt\":\"2026-01-02T03:04:05.000000Z\",\"outcome\":\"SUCCESS\",\"reason\":null,\
                  \"receivedAt\":\"2026-01-02T03:04:05.000000Z\",\"relatedResources\":[],\"request\":null,\"resource\":null,\
                  \"sequence\":\"7\",\"sourceService\":null,\"summary\":null,\"tenantId\":\"ten_00000000000000000000000000000002\"}";
        assert_eq!(version(&row), 1);
        assert_eq!(String::from_utf8(bytes(&row)).unwrap(), v1);
        row.recorded["v"] = json!(VERSION);
        assert_eq!(String::from_utf8(bytes(&row)).unwrap(), format!("{},\"v\":2}}", &v1[..v1.len() - 1]));
    }

    proptest! {
        /// The direct writer and the canonicalised `Value` are the same bytes.
        #[test]
        fn bytes_are_the_jcs_of_the_value(row in row()) {
            prop_assert_eq!(String::from_utf8(bytes(&row)).unwrap(), String::from_utf8(jcs(&value(&row))).unwrap());
        }

        /// A pending leaf finished with the sequence is the leaf hash of the bytes.
        #[test]
        fn pending_leaves_finish_to_the_leaf_hash(row in row()) {
            let pending = PendingLeaf::of(&StoredEvent { sequence: 0, ..row.clone() });
            prop_assert_eq!(pending.hash(row.sequence as u64), hash(&row));
        }
    }
}
