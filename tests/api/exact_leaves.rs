//! Exact leaves (API.md Part 3): numbers RFC 8785 would change are refused at
//! their path, and what every door serves is what the leaf holds.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code};
use crate::ledger::{checkpoint, decode, rfc_verify_inclusion, tamper};
use crate::process::WorkDir;

backend_tests!(
    inexact_numbers_are_refused_at_their_path,
    exact_numbers_are_served_as_the_leaf_holds,
    version_2_leaves_name_node_ids,
    verify_checks_the_stored_links_against_the_leaf,
);

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

const NODE: &str = "{ auditEvents(filter: {action: {eq: \"payment.refund\"}}) { nodes {
    id sequence canonicalJson leafHash inclusionProof { leafIndex treeSize leafHash hashes }
    actor { id } resource { id } relatedResources { id } } } }";

fn refund(actor: &str) -> Value {
    json!({
        "action": "payment.refund", "actor": {"type": "USER", "externalId": actor, "displayName": "Jane", "roles": ["support"]},
        "resource": {"type": "payment", "externalId": "p-1"},
        "relatedResources": [{"type": "order", "externalId": "o-1"}, {"type": "customer", "externalId": "c-1", "name": "C"}],
    })
}

async fn version_2_leaves_name_node_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    app.record(&key, json!([refund("u-1")])).await;
    let data = app.data(&key, NODE, json!({})).await;
    let node = &data["auditEvents"]["nodes"][0];
    let leaf: Value = serde_json::from_str(node["canonicalJson"].as_str().unwrap()).unwrap();
    assert_eq!(leaf["v"], 2, "{leaf}");
    assert_eq!(leaf["actor"]["id"], node["actor"]["id"]);
    assert_eq!(leaf["actor"]["roles"], json!(["support"]));
    assert_eq!(leaf["resource"]["id"], node["resource"]["id"]);
    let related: Vec<&Value> = leaf["relatedResources"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
    let served: Vec<&Value> = node["relatedResources"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert_eq!(related, served);
    assert!(
        leaf["actor"]["id"].as_str().unwrap().starts_with("act_")
            && related.iter().all(|r| r.as_str().unwrap().starts_with("res_"))
    );
    // The version-2 leaf hashes and proves like any other.
    let text = node["canonicalJson"].as_str().unwrap();
    let hash = crate::ledger::sha_leaf(text.as_bytes());
    assert_eq!(decode(&node["leafHash"]), hash);
    let (size, root, _) = checkpoint(&app, &key).await;
    let proof = &node["inclusionProof"];
    let path: Vec<_> = proof["hashes"].as_array().unwrap().iter().map(decode).collect();
    let index: u64 = proof["leafIndex"].as_str().unwrap().parse().unwrap();
    assert_eq!(proof["treeSize"], size.to_string());
    assert!(rfc_verify_inclusion(index, size, hash, &path, root));
    // The canonical object's member set: Part 2's plus `v`.
    let mut keys: Vec<&str> = leaf.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys.len(), 21, "{keys:?}");
}

async fn verify_checks_the_stored_links_against_the_leaf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    app.record(&key, json!([{"action": "user.login", "actor": {"type": "USER", "externalId": "ceo"},
        "resource": {"type": "payment", "externalId": "p-9"}, "relatedResources": [{"type": "order", "externalId": "o-9"}]}]))
        .await;
    app.record(&key, json!([refund("u-1")])).await;
    app.ledger.persist_grown(&app.store).await.unwrap();
    let dir = WorkDir::new();
    let verify = ["verify", "--tenant", "acme", "--database-url", app.db_url.as_str()];
    let out = dir.run(&verify);
    assert!(out.starts_with("verified "), "{out}");

    let data = app.data(&key, NODE, json!({})).await;
    let sequence = data["auditEvents"]["nodes"][0]["sequence"].as_str().unwrap().to_string();
    let event = "(SELECT id FROM audit_event WHERE action = 'payment.refund')";
    for (what, forge, restore) in [
        (
            "its actor",
            "UPDATE audit_event SET actor_id = (SELECT id FROM actor WHERE external_id = 'ceo') WHERE action = 'payment.refund'",
            "UPDATE audit_event SET actor_id = (SELECT id FROM actor WHERE external_id = 'u-1') WHERE action = 'payment.refund'",
        ),
        (
            "its resource",
            "UPDATE audit_event SET resource_id = (SELECT id FROM resource WHERE external_id = 'p-9') WHERE action = 'payment.refund'",
            "UPDATE audit_event SET resource_id = (SELECT id FROM resource WHERE external_id = 'p-1') WHERE action = 'payment.refund'",
        ),
        (
            "its related resources",
            &format!(
                "UPDATE event_resource SET resource_id = (SELECT id FROM resource WHERE external_id = 'o-9') WHERE event_id = {event} AND position = 1"
            ),
            &format!(
                "UPDATE event_resource SET resource_id = (SELECT id FROM resource WHERE external_id = 'o-1') WHERE event_id = {event} AND position = 1"
            ),
        ),
    ] {
        tamper(&app.db_url, backend, forge).await;
        let out = dir.output(&verify);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: verify passed");
        assert!(stderr.contains(&format!("sequence {sequence}: {what}")), "{stderr}");
        tamper(&app.db_url, backend, restore).await;
        let out = dir.output(&verify);
        assert!(out.status.success(), "{what} restored: {}", String::from_utf8_lossy(&out.stderr));
    }
}
