//! Exact leaves (API.md Part 3): numbers RFC 8785 would change are refused at
//! their path, and what every door serves is what the leaf holds.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code};

backend_tests!(inexact_numbers_are_refused_at_their_path, exact_numbers_are_served_as_the_leaf_holds);

const RECORD: &str = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";

/// POSTs a GraphQL body written as text, so numbers reach the server as sent.
async fn gql_text(app: &TestApp, key: &str, body: &str) -> Value {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    response.json().await.expect("JSON answer")
}

async fn inexact_numbers_are_refused_at_their_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    for (number, place, path) in [
        ("1234567890123456789", r#""metadata": {"deleted_user_id": N}"#, "events.0.metadata.deleted_user_id"),
        ("1e400", r#""metadata": {"a": {"b": [1, N]}}"#, "events.0.metadata.a.b.1"),
        ("0.1000000000000000000001", r#""changes": [{"field": "f", "after": N}]"#, "events.0.changes.0.after"),
        ("1152921504606846976", r#""changes": [{"field": "f", "before": {"x": N}}]"#, "events.0.changes.0.before.x"),
    ] {
        let event = format!(
            r#"{{"action": "a.b", "actor": {{"type": "USER", "externalId": "u"}}, {}}}"#,
            place.replace('N', number)
        );
        let body = format!(r#"{{"query": {}, "variables": {{"e": [{event}]}}}}"#, json!(RECORD));
        let answer = gql_text(&app, &key, &body).await;
        assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{number}: {answer}");
        assert_eq!(answer["errors"][0]["extensions"]["field"], path, "{answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("send it as a string") && message.contains(number), "{message}");

        let response = app
            .client
            .post(app.url("/v1/events"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(format!("[{event}]"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "BAD_USER_INPUT", "{problem}");
        assert_eq!(problem["errors"][0]["path"], path, "{problem}");
    }
    // An integer literal in the document itself is refused as well.
    let inline = r#"mutation { recordAuditEvents(events: [{action: "a.b", actor: {type: USER, externalId: "u"},
        metadata: {n: 1234567890123456789}}]) { createdCount } }"#;
    let answer = gql_text(&app, &key, &json!({ "query": inline }).to_string()).await;
    assert_eq!(answer["errors"][0]["extensions"]["field"], "events.0.metadata.n", "{answer}");
    // Nothing was stored.
    let count = app.data(&key, r#"{ auditEvents(filter: {action: {eq: "a.b"}}) { totalCount } }"#, json!({})).await;
    assert_eq!(count["auditEvents"]["totalCount"], 0, "{count}");
}

async fn exact_numbers_are_served_as_the_leaf_holds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    // Numbers outside metadata and changes are not this rule's business, and
    // a string keeps any digits.
    let event = r#"{"action": "a.b", "actor": {"type": "USER", "externalId": "u"},
        "metadata": {"id": "1234567890123456789", "n": 9007199254740992, "f": 4.50, "e": 1e21, "z": -0.0},
        "changes": [{"field": "amount", "before": 0.1, "after": 1e-7}]}"#;
    let body = format!(r#"{{"query": {}, "variables": {{"e": [{event}]}}}}"#, json!(RECORD));
    let answer = gql_text(&app, &key, &body).await;
    assert_eq!(answer["data"]["recordAuditEvents"]["createdCount"], 1, "{answer}");
    let query = r#"{ auditEvents(filter: {action: {eq: "a.b"}}) { nodes { metadata changes { field before after } canonicalJson } } }"#;
    let data = app.data(&key, query, json!({})).await;
    let node = &data["auditEvents"]["nodes"][0];
    let leaf: Value = serde_json::from_str(node["canonicalJson"].as_str().unwrap()).unwrap();
    // Compared as numbers: the served value and the leaf's are the same decimal.
    assert_eq!(leaf["metadata"], node["metadata"]);
    assert_eq!(leaf["changes"], node["changes"]);
    assert_eq!(leaf["metadata"]["id"], "1234567890123456789");
    let text = node["canonicalJson"].as_str().unwrap();
    assert!(text.contains(r#""n":9007199254740992"#) && text.contains(r#""e":1e+21"#), "{text}");
}
