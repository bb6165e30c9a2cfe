//! Splunk HTTP Event Collector: concatenated event objects, token
//! authentication, and success only on 2xx with `"code": 0`.

use crate::domain::stored_event::StoredEvent;
use serde_json::{Map, Value, json};

/// The body of one batch: one HEC event object per event, back to back
/// (`events`: the rows' opened forms, in the same order).
pub fn body(rows: &[StoredEvent], events: Vec<Value>, index: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    for (row, event) in rows.iter().zip(events) {
        let mut object = Map::new();
        object.insert("time".into(), json!(row.occurred_at.timestamp_micros() as f64 / 1_000_000.0));
        object.insert("source".into(), json!("auditgraph"));
        object.insert("sourcetype".into(), json!("auditgraph:event"));
        if let Some(index) = index {
            object.insert("index".into(), json!(index));
        }
        object.insert("event".into(), event);
        out.extend(serde_json::to_vec(&Value::Object(object)).unwrap_or_default());
    }
    out
}

/// The POST of one batch.
pub fn request(client: &reqwest::Client, url: &str, token: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("authorization", format!("Splunk {token}"))
        .header("content-type", "application/json")
        .body(body)
}

/// Whether the collector took the batch: its answer says `"code": 0`.
pub fn accepted(answer: &[u8]) -> bool {
    serde_json::from_slice::<Value>(answer).ok().and_then(|v| v.get("code").and_then(Value::as_i64)) == Some(0)
}
