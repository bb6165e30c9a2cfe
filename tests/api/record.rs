//! Recording events: batches, read-back, idempotency, atomicity, upserts.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};

async fn records_and_reads_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.key("audit.write,audit.read").await;
    let payload = app
        .record(&writer, json!([
            {
                "action": "workspace.snapshot.create",
                "outcome": "FAILURE",
                "occurredAt": "2026-01-02T03:04:05.123456+02:00",
                "actor": { "type": "USER", "externalId": "42", "displayName": "Ada", "email": "ada@example.com", "roles": ["admin"] },
                "resource": { "type": "snapshot", "externalId": "snap-1", "name": "nightly" },
                "relatedResources": [{ "type": "workspace", "externalId": "ws-1" }, { "type": "vm", "externalId": "vm-9" }],
                "summary": "Ada created a snapshot",
                "reason": "backup",
                "errorMessage": "disk full",
                "environment": "production",
                "sourceService": "workspaces",
                "correlationId": "corr-1",
                "request": { "id": "req-1", "method": "POST", "path": "/v1/snapshots", "status": 507, "latencyMs": 12.5, "ipAddress": "2001:DB8::1", "userAgent": "curl/8" },
                "metadata": { "node_ip": "10.0.0.1", "task_id": 7 },
                "changes": [{ "field": "state", "before": "idle", "after": { "busy": true } }],
                "idempotencyKey": "k-1"
            },
            event("session.create")
        ]))
        .await;
    assert_eq!(payload["createdCount"], 2);
    assert_eq!(payload["duplicateCount"], 0);
    let id = payload["events"][0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("evt_"));

    let data = app
        .data(&writer, r#"query($id: ID!) { auditEvent(id: $id) {
            id action category outcome occurredAt receivedAt summary reason errorMessage environment sourceService correlationId idempotencyKey metadata
            actor { id type externalId displayName email roles }
            resource { id type externalId name }
            relatedResources { type externalId name }
            request { id method path status latencyMs ipAddress userAgent }
            changes { field before after } } }"#, json!({ "id": id }))
        .await;
    let e = &data["auditEvent"];
    assert_eq!(e["action"], "workspace.snapshot.create");
    assert_eq!(e["category"], "workspace");
    assert_eq!(e["outcome"], "FAILURE");
    assert_eq!(e["occurredAt"], "2026-01-02T01:04:05.123456Z");
    assert!(e["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(e["actor"]["type"], "USER");
    assert_eq!(e["actor"]["roles"], json!(["admin"]));
    assert_eq!(e["resource"]["name"], "nightly");
    assert_eq!(
        e["relatedResources"],
        json!([{ "type": "workspace", "externalId": "ws-1", "name": null }, { "type": "vm", "externalId": "vm-9", "name": null }])
    );
    assert_eq!(e["request"]["ipAddress"], "2001:db8::1");
    assert_eq!(e["request"]["latencyMs"], 12.5);
    assert_eq!(e["metadata"], json!({ "node_ip": "10.0.0.1", "task_id": 7 }));
    assert_eq!(e["changes"], json!([{ "field": "state", "before": "idle", "after": { "busy": true } }]));
    assert_eq!(e["idempotencyKey"], "k-1");

    // The second event has no request, metadata {} and no resource.
    let other = payload["events"][1]["id"].as_str().unwrap();
    let data = app
        .data(&writer, "query($id: ID!) { auditEvent(id: $id) { outcome request { id } metadata changes { field } resource { id } relatedResources { id } } }", json!({ "id": other }))
        .await;
    assert_eq!(
        data["auditEvent"],
        json!({ "outcome": "SUCCESS", "request": null, "metadata": {}, "changes": [], "resource": null, "relatedResources": [] })
    );
}

async fn idempotency_keys_store_one_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let mut first = event("a.b");
    first["idempotencyKey"] = json!("dup");
    let p1 = app.record(&key, json!([first.clone()])).await;
    // Again, and twice within one batch next to a new one.
    let p2 = app.record(&key, json!([first.clone(), event("c.d"), first.clone()])).await;
    assert_eq!(p2["createdCount"], 1);
    assert_eq!(p2["duplicateCount"], 2);
    assert_eq!(p2["events"][0]["id"], p1["events"][0]["id"]);
    assert_eq!(p2["events"][2]["id"], p1["events"][0]["id"]);
    let mut fresh = event("e.f");
    fresh["idempotencyKey"] = json!("fresh");
    let p3 = app.record(&key, json!([fresh.clone(), fresh.clone()])).await;
    assert_eq!((p3["createdCount"].as_i64(), p3["duplicateCount"].as_i64()), (Some(1), Some(1)));
    assert_eq!(p3["events"][0]["id"], p3["events"][1]["id"]);
    let total = app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    // acme's tenant.create + api_key.create self-audit events, plus 3 recorded here.
    assert_eq!(total["auditEvents"]["totalCount"], 2 + 3);
}

async fn concurrent_duplicates_store_one_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let mut e = event("race.start");
    e["idempotencyKey"] = json!("same-key");
    let calls = (0..20).map(|_| {
        let (app, key, e) = (&app, key.clone(), e.clone());
        async move { app.record(&key, json!([e])).await }
    });
    let results = futures_util::future::join_all(calls).await;
    let ids: std::collections::HashSet<&Value> = results.iter().map(|p| &p["events"][0]["id"]).collect();
    assert_eq!(ids.len(), 1, "all 20 clients see the same event");
    assert_eq!(results.iter().map(|p| p["createdCount"].as_i64().unwrap()).sum::<i64>(), 1);
    let data =
        app.data(&key, r#"{ auditEvents(filter: {action: {eq: "race.start"}}) { totalCount } }"#, json!({})).await;
    assert_eq!(data["auditEvents"]["totalCount"], 1);
}

async fn a_batch_with_one_bad_event_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let before = app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    let (status, body) = app
        .gql(
            &key,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": [event("ok.one"), event("ok.two"), event("Not Valid")] }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    assert_eq!(body["errors"][0]["extensions"]["field"], "events.2.action");
    let after = app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(before, after);
}

async fn later_recordings_update_actors_and_resources(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let actor = |extra: Value| {
        let mut a = json!({ "type": "USER", "externalId": "7" });
        a.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        a
    };
    app.record(&key, json!([{ "action": "a.b", "actor": actor(json!({ "displayName": "Old", "email": "o@x.io", "roles": ["a"] })), "resource": { "type": "doc", "externalId": "d1", "name": "Draft" } }])).await;
    // Omitted fields stay; given ones overwrite; within a batch the later wins.
    app.record(&key, json!([
        { "action": "a.b", "actor": actor(json!({ "displayName": "Mid" })), "resource": { "type": "doc", "externalId": "d1" } },
        { "action": "a.b", "actor": actor(json!({ "displayName": "New", "roles": [] })) }
    ])).await;
    let data = app
        .data(
            &key,
            r#"{ actors(filter: {externalId: ["7"]}) { totalCount nodes { displayName email roles } }
        resources(filter: {type: ["doc"]}) { nodes { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["actors"]["totalCount"], 1);
    assert_eq!(data["actors"]["nodes"][0], json!({ "displayName": "New", "email": "o@x.io", "roles": [] }));
    assert_eq!(data["resources"]["nodes"][0]["name"], "Draft");
}

backend_tests!(
    records_and_reads_back,
    idempotency_keys_store_one_event,
    concurrent_duplicates_store_one_event,
    a_batch_with_one_bad_event_stores_nothing,
    later_recordings_update_actors_and_resources,
);
