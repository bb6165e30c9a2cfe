//! Personal values (API.md Part 3, "Erasure that keeps every proof valid"):
//! the actor's `displayName` and `email`, the request's `ipAddress` and
//! `userAgent`, and the values at the paths a producer lists in `personal`.
//! In a version-2 leaf each non-null one is sealed under the actor's data
//! key as `{"sealed", "kid"}`; the opened form puts its plaintext back, or
//! `null` once the key is destroyed.
//!
//! Where an event's sealed values are is kept with it, in `recorded`: the
//! actor's fields in place, the request's under `request`, and the producer's
//! paths in `personal`. Only those places are opened, so a producer's own
//! `{"sealed", "kid"}` object elsewhere is served as it was sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::data_key::DataKey;
use super::event::NewEvent;
use super::ids::{ActorId, EventId};
use super::stored_event::StoredEvent;
use crate::error::{Error, Result};

/// Paths one event may list.
pub const MAX_PATHS: usize = 32;
const MAX_PATH_CHARS: usize = 256;
/// The actor's personal fields, as named in its leaf object.
const ACTOR_FIELDS: [&str; 2] = ["displayName", "email"];
/// The request's personal fields, as named in its leaf object.
pub const REQUEST_FIELDS: [&str; 2] = ["ipAddress", "userAgent"];

/// Checks a producer's `personal` list (at input path `path`) against the
/// event's metadata and changes: each a dotted path to a value of
/// `metadata` or of a change's `before`/`after`. A path inside another
/// listed one is sealed with it and dropped.
pub fn check_paths(
    path: &str,
    paths: Vec<String>,
    metadata: &Map<String, Value>,
    changes: &Value,
) -> Result<Vec<String>> {
    if paths.len() > MAX_PATHS {
        return Err(Error::bad_input(path, format!("list at most {MAX_PATHS} personal paths (got {})", paths.len())));
    }
    let metadata = Value::Object(metadata.clone());
    let mut kept: Vec<String> = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let at = format!("{path}.{i}");
        if p.chars().count() > MAX_PATH_CHARS || p.contains('\0') {
            return Err(Error::bad_input(at, format!("a personal path has at most {MAX_PATH_CHARS} characters")));
        }
        let segments: Vec<&str> = p.split('.').collect();
        // Always personal, and sealed whenever given: naming them adds nothing.
        if let ["actor", "displayName" | "email"] | ["request", "ipAddress" | "userAgent"] = segments.as_slice() {
            continue;
        }
        let root = match segments.as_slice() {
            ["metadata", _, ..] => &metadata,
            ["changes", n, "before" | "after", ..] if n.parse::<usize>().is_ok() => changes,
            _ => {
                return Err(Error::bad_input(
                    at,
                    format!(
                        "`{p}` is not a personal path: name a value in `metadata` (`metadata.email`) or a change's `before` or `after` (`changes.0.after`)"
                    ),
                ));
            }
        };
        if get(root, &segments[1..]).is_none() {
            return Err(Error::bad_input(at, format!("`{p}` matches no value of the event")));
        }
        kept.push(p.clone());
    }
    kept.sort();
    kept.dedup();
    let outer: Vec<String> = kept.clone();
    kept.retain(|p| !outer.iter().any(|o| o != p && p.starts_with(&format!("{o}."))));
    Ok(kept)
}

fn get<'a>(mut node: &'a Value, segments: &[&str]) -> Option<&'a Value> {
    for s in segments {
        node = match node {
            Value::Object(map) => map.get(*s)?,
            Value::Array(items) => items.get(s.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn get_mut<'a>(mut node: &'a mut Value, segments: &[&str]) -> Option<&'a mut Value> {
    for s in segments {
        node = match node {
            Value::Object(map) => map.get_mut(*s)?,
            Value::Array(items) => items.get_mut(s.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The associated data of a sealed value: the event's ID, a NUL, the path.
fn associated(event: EventId, path: &str) -> Vec<u8> {
    [event.to_string().as_bytes(), b"\0", path.as_bytes()].concat()
}

/// `value` sealed under `key` (of actor `kid`) for `path` of `event`.
fn seal_value(key: &DataKey, kid: ActorId, event: EventId, path: &str, value: &Value) -> Value {
    // Every `Value` has an RFC 8785 form (see `ledger::jcs`).
    let plaintext = serde_json_canonicalizer::to_vec(value).expect("a serde_json::Value always has an RFC 8785 form");
    json!({ "sealed": STANDARD.encode(key.seal(&associated(event, path), &plaintext)), "kid": kid.to_string() })
}

/// The plaintext of a sealed value, or `null` when its key is gone (erased).
/// A value that is not sealed is returned as it is.
fn open_value(key: Option<&DataKey>, event: EventId, path: &str, value: &Value) -> Value {
    let Some(sealed) = value.get("sealed").and_then(Value::as_str) else { return value.clone() };
    key.zip(STANDARD.decode(sealed).ok())
        .and_then(|(key, bytes)| key.open(&associated(event, path), &bytes))
        .and_then(|plaintext| serde_json::from_slice(&plaintext).ok())
        .unwrap_or(Value::Null)
}

/// Whether an event about to be recorded has a personal value to seal: what
/// [`seal`] seals, so only then does its actor need a data key.
pub fn has_personal(e: &NewEvent) -> bool {
    e.actor.display_name.is_some()
        || e.actor.email.is_some()
        || e.request.as_ref().is_some_and(|r| r.ip_address.is_some() || r.user_agent.is_some())
        || !e.personal.is_empty()
}

/// Seals the personal values of an event about to be recorded, under its
/// actor's data key: the actor's fields in `recorded`, the request's fields
/// into `recorded.request` (the columns keep the plaintext for filters until
/// an erasure clears them), and the producer's `paths`.
pub fn seal(event: &mut StoredEvent, key: &DataKey, paths: &[String]) {
    let (id, kid) = (event.id, event.actor_id);
    if let Some(actor) = event.recorded.get_mut("actor") {
        for field in ACTOR_FIELDS {
            if let Some(value) = actor.get_mut(field).filter(|v| !v.is_null()) {
                *value = seal_value(key, kid, id, &format!("actor.{field}"), value);
            }
        }
    }
    if let Some(request) = &event.request {
        let plain = [request.ip_address.map(|ip| ip.to_string()), request.user_agent.clone()];
        if plain.iter().any(Option::is_some) {
            let mut sealed = Map::new();
            for (field, value) in REQUEST_FIELDS.into_iter().zip(plain) {
                let value =
                    value.map_or(Value::Null, |v| seal_value(key, kid, id, &format!("request.{field}"), &json!(v)));
                sealed.insert(field.to_string(), value);
            }
            event.recorded["request"] = Value::Object(sealed);
        }
    }
    let mut listed = Vec::new();
    for path in paths {
        let (root, rest) = part_mut(event, path);
        if let Some(value) = root.and_then(|root| get_mut(root, &rest)).filter(|v| !v.is_null()) {
            *value = seal_value(key, kid, id, path, value);
            listed.push(json!(path));
        }
    }
    if !listed.is_empty() {
        event.recorded["personal"] = Value::Array(listed);
    }
}

fn part_mut<'a, 'p>(event: &'a mut StoredEvent, path: &'p str) -> (Option<&'a mut Value>, Vec<&'p str>) {
    let mut segments = path.split('.');
    let root = match segments.next() {
        Some("metadata") => Some(&mut event.metadata),
        Some("changes") => Some(&mut event.changes),
        _ => None,
    };
    (root, segments.collect())
}

/// The producer's sealed paths of a stored event.
pub fn listed_paths(row: &StoredEvent) -> Vec<&str> {
    row.recorded
        .get("personal")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |paths| paths.iter().filter_map(Value::as_str).collect())
}

/// Whether any value of the stored event is sealed: only then does opening
/// it need its actor's data key.
pub fn has_sealed(row: &StoredEvent) -> bool {
    row.recorded.get("personal").is_some()
        || row.recorded.get("request").is_some()
        || ACTOR_FIELDS.iter().any(|f| row.recorded.get("actor").and_then(|a| a.get(*f)).is_some_and(Value::is_object))
}

/// `metadata` or `changes` of a stored event, opened.
fn open_part(row: &StoredEvent, key: Option<&DataKey>, part: &str) -> Value {
    let mut whole = if part == "metadata" { row.metadata.clone() } else { row.changes.clone() };
    for path in listed_paths(row) {
        let mut segments = path.split('.');
        if segments.next() != Some(part) {
            continue;
        }
        let rest: Vec<&str> = segments.collect();
        if let Some(value) = get_mut(&mut whole, &rest) {
            *value = open_value(key, row.id, path, value);
        }
    }
    whole
}

/// The event's metadata as served: each sealed value opened, or null once erased.
pub fn opened_metadata(row: &StoredEvent, key: Option<&DataKey>) -> Value {
    open_part(row, key, "metadata")
}

/// The event's changes as served.
pub fn opened_changes(row: &StoredEvent, key: Option<&DataKey>) -> Value {
    open_part(row, key, "changes")
}

/// The actor as recorded with the event, as served.
pub fn opened_actor(row: &StoredEvent, key: Option<&DataKey>) -> Value {
    let mut actor = row.recorded.get("actor").cloned().unwrap_or(Value::Null);
    for field in ACTOR_FIELDS {
        if let Some(value) = actor.get_mut(field) {
            *value = open_value(key, row.id, &format!("actor.{field}"), value);
        }
    }
    actor
}

/// The paths of the event's sealed values that no longer open (erased).
pub fn erased_paths(row: &StoredEvent, key: Option<&DataKey>) -> Vec<String> {
    let mut sealed: Vec<(String, &Value)> = Vec::new();
    if let Some(actor) = row.recorded.get("actor") {
        sealed.extend(ACTOR_FIELDS.iter().filter_map(|f| actor.get(*f).map(|v| (format!("actor.{f}"), v))));
    }
    if let Some(request) = row.recorded.get("request") {
        sealed.extend(REQUEST_FIELDS.iter().filter_map(|f| request.get(*f).map(|v| (format!("request.{f}"), v))));
    }
    let parts = [("metadata", &row.metadata), ("changes", &row.changes)];
    for path in listed_paths(row) {
        let mut segments = path.split('.');
        let root = segments.next().and_then(|name| parts.iter().find(|(n, _)| *n == name)).map(|(_, v)| *v);
        if let Some(value) = root.and_then(|root| get(root, &segments.collect::<Vec<_>>())) {
            sealed.push((path.to_string(), value));
        }
    }
    sealed
        .into_iter()
        .filter(|(path, value)| value.is_object() && open_value(key, row.id, path, value).is_null())
        .map(|(path, _)| path)
        .collect()
}

/// The metadata as its words are taken after an erasure: without the
/// producer's sealed values.
pub fn metadata_without_sealed(row: &StoredEvent) -> Value {
    let mut metadata = row.metadata.clone();
    for path in listed_paths(row) {
        if let Some(rest) = path.strip_prefix("metadata.") {
            let segments: Vec<&str> = rest.split('.').collect();
            if let Some(value) = get_mut(&mut metadata, &segments) {
                *value = Value::Null;
            }
        }
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Map<String, Value> {
        json!({"email": "a@b.c", "contact": {"phone": "+1 555"}, "list": [1, "x"], "none": null})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn paths_must_match_a_value() {
        let changes = json!([{"field": "role", "before": "a", "after": {"v": "b"}}]);
        let ok = check_paths(
            "e.personal",
            vec![
                "metadata.contact".into(),
                "metadata.contact.phone".into(),
                "changes.0.after.v".into(),
                "metadata.list.1".into(),
                "metadata.none".into(),
            ],
            &metadata(),
            &changes,
        )
        .unwrap();
        assert_eq!(ok, ["changes.0.after.v", "metadata.contact", "metadata.list.1", "metadata.none"]);
        for (bad, why) in [
            ("metadata.missing", "matches no value"),
            ("metadata.list.7", "matches no value"),
            ("changes.0.field", "is not a personal path"),
            ("actor.roles", "is not a personal path"),
            ("metadata", "is not a personal path"),
            ("changes.1.after", "matches no value"),
        ] {
            let err = check_paths("e.personal", vec!["metadata.email".into(), bad.into()], &metadata(), &changes)
                .unwrap_err();
            assert!(
                matches!(&err, Error::BadInput { path, message, .. } if path == "e.personal.1" && message.contains(why)),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn sealed_values_open_with_the_key_and_are_null_without() {
        let key = DataKey::generate();
        let (event, kid) = (EventId(uuid::Uuid::from_u128(9)), ActorId(uuid::Uuid::from_u128(3)));
        let value = json!({"phone": "+1 555", "n": 12});
        let sealed = seal_value(&key, kid, event, "metadata.contact", &value);
        assert_eq!(sealed["kid"], json!(kid.to_string()));
        assert_eq!(open_value(Some(&key), event, "metadata.contact", &sealed), value);
        assert_eq!(open_value(Some(&key), event, "metadata.other", &sealed), Value::Null);
        assert_eq!(open_value(None, event, "metadata.contact", &sealed), Value::Null);
        assert_eq!(open_value(Some(&key), event, "metadata.contact", &json!("plain")), json!("plain"));
    }
}
