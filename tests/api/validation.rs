//! Validation of recorded events: every rule of the contract's "Recording"
//! section is refused with `BAD_USER_INPUT` and the path of the offending field,
//! nothing is stored by a refused batch, and the boundary values are accepted.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};

const RECORD: &str = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";
const COUNTS: &str = "{ auditEvents { totalCount } actors { totalCount } resources { totalCount } }";
/// acme's `tenant.create` and `api_key.create` self-audit events.
const SETUP_EVENTS: i64 = 2;

async fn setup(backend: Backend) -> (TestApp, String) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    (app, key)
}

/// Everything the tenant holds: events, actors, resources.
async fn counts(app: &TestApp, key: &str) -> Value {
    app.data(key, COUNTS, json!({})).await
}

async fn event_count(app: &TestApp, key: &str) -> i64 {
    app.data(key, "{ auditEvents { totalCount } }", json!({})).await["auditEvents"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

/// Sends `events` and asserts the refusal names `field`.
async fn refused(app: &TestApp, key: &str, events: Value, field: &str) {
    let (status, body) = app.gql(key, RECORD, json!({ "e": events })).await;
    assert_eq!(status, StatusCode::OK, "{field}: {body}");
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{field}: {body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    assert!(body["data"]["recordAuditEvents"].is_null(), "{field}: {body}");
}

/// Sends one event after a valid one: the path is `events.1.…`.
async fn refused_second(app: &TestApp, key: &str, bad: Value, field_in_event: &str) {
    refused(app, key, json!([event("ok.first"), bad]), &format!("events.1.{field_in_event}")).await;
}

/// Records `events` and asserts all of them were created.
async fn accepted(app: &TestApp, key: &str, events: Value) -> Value {
    let n = events.as_array().expect("a list").len();
    let payload = app.record_read_back(key, events).await;
    assert_eq!(payload["createdCount"], n, "{payload}");
    payload
}

/// `base` with `patch` merged in (objects merge recursively, anything else replaces).
fn patched(base: &Value, patch: Value) -> Value {
    fn merge(target: &mut Value, patch: Value) {
        match (target, patch) {
            (Value::Object(t), Value::Object(p)) => {
                for (k, v) in p {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
            (t, p) => *t = p,
        }
    }
    let mut out = base.clone();
    merge(&mut out, patch);
    out
}

fn with(patch: Value) -> Value {
    patched(&event("ok.second"), patch)
}

async fn action_pattern_and_length(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    // The offending event at index 3, after three valid ones: none of them is stored.
    let ok = || event("ok.valid");
    let long = format!("a.{}", "b".repeat(127)); // 129 characters
    for bad in [
        "",
        "a",
        "workspace",
        "Workspace.create",
        "a.B",
        "1a.b",
        "_a.b",
        "-a.b",
        "a..b",
        "a.b.",
        ".a.b",
        "a b.c",
        "a.b c",
        "é.b",
        "a.é",
        "a/b.c",
        "a.b\u{0}",
        long.as_str(),
    ] {
        refused(&app, &key, json!([ok(), ok(), ok(), event(bad)]), "events.3.action").await;
    }
    // The first event's path is `events.0`.
    refused(&app, &key, json!([event("Bad")]), "events.0.action").await;
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let max = format!("a.{}", "b".repeat(126)); // 128 characters
    let payload = accepted(&app, &key, json!([event(&max), event("x-y.z_1.2"), event("a.b"), event("a0.1.-._")])).await;
    assert_eq!(payload["events"][0]["action"], max.as_str());
    assert_eq!(event_count(&app, &key).await, SETUP_EVENTS + 4);
}

async fn occurred_at_bounds(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let now = chrono::Utc::now();
    let rfc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for bad in [
        "1969-12-31T23:59:59.999999Z".to_string(),
        "1900-01-01T00:00:00Z".to_string(),
        // 1969-12-31T23:00:00Z, written with an offset.
        "1970-01-01T01:00:00+02:00".to_string(),
        rfc(now + chrono::Duration::minutes(10)),
        rfc(now + chrono::Duration::minutes(6)),
        "2999-01-01T00:00:00Z".to_string(),
    ] {
        refused_second(&app, &key, with(json!({ "occurredAt": bad })), "occurredAt").await;
    }
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload = accepted(
        &app,
        &key,
        json!([
            with(json!({ "occurredAt": "1970-01-01T00:00:00Z" })),
            // The same instant with another offset.
            with(json!({ "occurredAt": "1970-01-01T02:00:00+02:00" })),
            with(json!({ "occurredAt": rfc(now + chrono::Duration::minutes(2)) })),
        ]),
    )
    .await;
    assert_eq!(payload["events"][0]["occurredAt"], "1970-01-01T00:00:00Z");
    assert_eq!(payload["events"][1]["occurredAt"], "1970-01-01T00:00:00Z");
    assert_eq!(event_count(&app, &key).await, SETUP_EVENTS + 3);
}

async fn identifier_lengths_count_characters(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let e255 = "é".repeat(255); // 510 bytes, 255 characters
    let e256 = "é".repeat(256);
    let a256 = "a".repeat(256);
    let resource = |t: &str, x: &str| json!({ "type": t, "externalId": x });
    for bad in ["", a256.as_str(), e256.as_str()] {
        refused_second(&app, &key, with(json!({ "actor": { "externalId": bad } })), "actor.externalId").await;
        refused_second(&app, &key, with(json!({ "resource": resource(bad, "r-1") })), "resource.type").await;
        refused_second(&app, &key, with(json!({ "resource": resource("doc", bad) })), "resource.externalId").await;
        refused_second(
            &app,
            &key,
            with(json!({ "relatedResources": [resource("vm", "vm-1"), resource(bad, "x")] })),
            "relatedResources.1.type",
        )
        .await;
        refused_second(
            &app,
            &key,
            with(json!({ "relatedResources": [resource("vm", bad)] })),
            "relatedResources.0.externalId",
        )
        .await;
        refused_second(&app, &key, with(json!({ "idempotencyKey": bad })), "idempotencyKey").await;
    }
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    // 255 two-byte characters everywhere: accepted and read back whole.
    let payload = accepted(
        &app,
        &key,
        json!([with(json!({
            "actor": { "externalId": e255 },
            "resource": resource(&e255, &e255),
            "relatedResources": [resource(&e255, "other")],
            "idempotencyKey": e255,
        }))]),
    )
    .await;
    let id = payload["events"][0]["id"].as_str().expect("id");
    let data = app
        .data(
            &key,
            "query($id: ID!) { auditEvent(id: $id) { idempotencyKey actor { externalId } resource { type externalId } relatedResources { type } } }",
            json!({ "id": id }),
        )
        .await;
    let e = &data["auditEvent"];
    assert_eq!(e["idempotencyKey"], e255.as_str());
    assert_eq!(e["actor"]["externalId"], e255.as_str());
    assert_eq!(e["resource"], json!({ "type": e255, "externalId": e255 }));
    assert_eq!(e["relatedResources"][0]["type"], e255.as_str());
    assert_eq!(event_count(&app, &key).await, SETUP_EVENTS + 1);
}

async fn long_texts(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let max = "ü".repeat(4096); // 8 KiB of UTF-8, 4,096 characters
    let over = "a".repeat(4097);
    let over_unicode = "ü".repeat(4097);
    for field in ["summary", "reason", "errorMessage"] {
        for bad in [&over, &over_unicode] {
            refused_second(&app, &key, with(json!({ field: bad })), field).await;
        }
    }
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload =
        accepted(&app, &key, json!([with(json!({ "summary": max, "reason": max, "errorMessage": max }))])).await;
    let data = app
        .data(
            &key,
            "query($id: ID!) { auditEvent(id: $id) { summary reason errorMessage } }",
            json!({ "id": payload["events"][0]["id"] }),
        )
        .await;
    assert_eq!(data["auditEvent"], json!({ "summary": max, "reason": max, "errorMessage": max }));
}

async fn roles_and_related_resources_counts(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let roles = |n: usize| (0..n).map(|i| format!("role-{i}")).collect::<Vec<_>>();
    let related =
        |n: usize| (0..n).map(|i| json!({ "type": "vm", "externalId": format!("vm-{i}") })).collect::<Vec<_>>();
    refused_second(&app, &key, with(json!({ "actor": { "roles": roles(51) } })), "actor.roles").await;
    refused_second(&app, &key, with(json!({ "relatedResources": related(21) })), "relatedResources").await;
    refused(&app, &key, json!([with(json!({ "relatedResources": related(100) }))]), "events.0.relatedResources").await;
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload = accepted(
        &app,
        &key,
        json!([with(json!({ "actor": { "roles": roles(50) }, "relatedResources": related(20) }))]),
    )
    .await;
    let data = app
        .data(
            &key,
            "query($id: ID!) { auditEvent(id: $id) { actor { roles } relatedResources { externalId } } }",
            json!({ "id": payload["events"][0]["id"] }),
        )
        .await;
    assert_eq!(data["auditEvent"]["actor"]["roles"], json!(roles(50)));
    assert_eq!(data["auditEvent"]["relatedResources"].as_array().map(Vec::len), Some(20));
}

async fn metadata_must_be_a_small_object(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    // `{"k":"…"}` serialises to 8 bytes plus the string.
    let sized = |bytes: usize| json!({ "k": "x".repeat(bytes - 8) });
    assert_eq!(serde_json::to_vec(&sized(16_384)).unwrap().len(), 16_384);
    for bad in [
        json!([1, 2]),
        json!("text"),
        json!(42),
        json!(true),
        sized(16_385),
        json!({ "a": "x".repeat(10_000), "b": "y".repeat(10_000) }),
    ] {
        refused_second(&app, &key, with(json!({ "metadata": bad })), "metadata").await;
    }
    refused(&app, &key, json!([with(json!({ "metadata": ["not", "an", "object"] }))]), "events.0.metadata").await;
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload =
        accepted(&app, &key, json!([with(json!({ "metadata": sized(16_384) })), with(json!({ "metadata": {} }))]))
            .await;
    let data = app
        .data(&key, "query($id: ID!) { auditEvent(id: $id) { metadata } }", json!({ "id": payload["events"][0]["id"] }))
        .await;
    assert_eq!(data["auditEvent"]["metadata"], sized(16_384));
}

async fn changes_count_field_and_size(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let change = |field: &str| json!({ "field": field, "before": 1, "after": 2 });
    let changes = |n: usize| (0..n).map(|i| change(&format!("f{i}"))).collect::<Vec<_>>();
    refused(&app, &key, json!([with(json!({ "changes": changes(101) }))]), "events.0.changes").await;
    refused_second(&app, &key, with(json!({ "changes": changes(101) })), "changes").await;
    for bad in [String::new(), "f".repeat(256), "ß".repeat(256)] {
        refused(
            &app,
            &key,
            json!([with(json!({ "changes": [change("a"), change("b"), change(&bad)] }))]),
            "events.0.changes.2.field",
        )
        .await;
    }
    // Every change is small, together they exceed 64 KiB.
    let big = |i: usize| json!({ "field": format!("f{i}"), "after": "x".repeat(20_000) });
    refused(&app, &key, json!([with(json!({ "changes": (0..4).map(big).collect::<Vec<_>>() }))]), "events.0.changes")
        .await;
    refused(
        &app,
        &key,
        json!([with(json!({ "changes": [{ "field": "one", "before": "y".repeat(70_000) }] }))]),
        "events.0.changes",
    )
    .await;
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload = accepted(
        &app,
        &key,
        json!([
            with(json!({ "changes": changes(100) })),
            with(json!({ "changes": [change(&"ß".repeat(255))] })),
            with(json!({ "changes": (0..3).map(big).collect::<Vec<_>>() })),
        ]),
    )
    .await;
    let data = app
        .data(
            &key,
            "query($id: ID!) { auditEvent(id: $id) { changes { field before after } } }",
            json!({ "id": payload["events"][0]["id"] }),
        )
        .await;
    assert_eq!(data["auditEvent"]["changes"].as_array().map(Vec::len), Some(100));
    assert_eq!(data["auditEvent"]["changes"][99], change("f99"));
}

async fn request_context_rules(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let req = |r: Value| with(json!({ "request": r }));
    for bad in [
        "",
        "not-an-ip",
        "10.0.0.256",
        "10.0.0",
        "1.2.3.4.5",
        "2001:db8::1::2",
        "2001:db8::g",
        "10.0.0.1/24",
        "10.0.0.1\u{0}",
    ] {
        refused_second(&app, &key, req(json!({ "ipAddress": bad })), "request.ipAddress").await;
    }
    refused(&app, &key, json!([req(json!({ "ipAddress": "localhost" }))]), "events.0.request.ipAddress").await;
    for bad in [99, 600, 0, -200, 1000] {
        refused_second(&app, &key, req(json!({ "status": bad })), "request.status").await;
    }
    for bad in [-0.001, -1.0, -1e9] {
        refused_second(&app, &key, req(json!({ "latencyMs": bad })), "request.latencyMs").await;
    }
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload = accepted(
        &app,
        &key,
        json!([
            req(json!({ "status": 100, "latencyMs": 0, "ipAddress": "0.0.0.0" })),
            req(json!({ "status": 599, "latencyMs": 0.25, "ipAddress": "::" })),
        ]),
    )
    .await;
    let data = app
        .data(
            &key,
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { request { status latencyMs ipAddress } } } }",
            json!({ "ids": [payload["events"][0]["id"], payload["events"][1]["id"]] }),
        )
        .await;
    assert_eq!(
        data["nodes"],
        json!([
            { "request": { "status": 100, "latencyMs": 0.0, "ipAddress": "0.0.0.0" } },
            { "request": { "status": 599, "latencyMs": 0.25, "ipAddress": "::" } },
        ])
    );
}

async fn ip_addresses_are_stored_canonically(backend: Backend) {
    let (app, key) = setup(backend).await;
    let ip = |action: &str, ip: &str| patched(&event(action), json!({ "request": { "ipAddress": ip } }));
    let payload = accepted(
        &app,
        &key,
        json!([
            ip("ip.upper", "2001:DB8::1"),
            ip("ip.mapped", "::ffff:10.0.0.1"),
            ip("ip.v4", "10.0.0.1"),
            ip("ip.long", "2001:0db8:0000:0000:0000:0000:0000:0002"),
        ]),
    )
    .await;
    let ids: Vec<&Value> = payload["events"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    let data = app
        .data(
            &key,
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { request { ipAddress } } } }",
            json!({ "ids": ids }),
        )
        .await;
    let stored: Vec<&Value> = data["nodes"].as_array().unwrap().iter().map(|n| &n["request"]["ipAddress"]).collect();
    assert_eq!(stored, [&json!("2001:db8::1"), &json!("::ffff:10.0.0.1"), &json!("10.0.0.1"), &json!("2001:db8::2")]);

    // Filtered by address equality, whatever the spelling.
    for (filter, expected) in [
        ("2001:db8::1", vec!["ip.upper"]),
        ("2001:DB8:0:0:0:0:0:1", vec!["ip.upper"]),
        ("10.0.0.1", vec!["ip.v4"]),
        ("::ffff:10.0.0.1", vec!["ip.mapped"]),
        ("::FFFF:a00:1", vec!["ip.mapped"]),
        ("2001:db8::2", vec!["ip.long"]),
    ] {
        let data = app
            .data(
                &key,
                "query($ip: String!) { auditEvents(filter: {ipAddress: $ip}) { nodes { action } } }",
                json!({ "ip": filter }),
            )
            .await;
        let actions: Vec<&str> =
            data["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
        assert_eq!(actions, expected, "filter ipAddress {filter}");
    }
}

async fn no_string_may_contain_nul(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    let nul = "bad\u{0}value";
    let resource = json!({ "type": "doc", "externalId": "d-1" });
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "actor": { "externalId": nul } }), "actor.externalId"),
        (json!({ "actor": { "displayName": nul } }), "actor.displayName"),
        (json!({ "actor": { "email": nul } }), "actor.email"),
        (json!({ "actor": { "roles": ["ok", nul] } }), "actor.roles.1"),
        (json!({ "resource": { "type": nul, "externalId": "d-1" } }), "resource.type"),
        (json!({ "resource": { "type": "doc", "externalId": nul } }), "resource.externalId"),
        (json!({ "resource": patched(&resource, json!({ "name": nul })) }), "resource.name"),
        (
            json!({ "relatedResources": [resource.clone(), { "type": "doc", "externalId": nul }] }),
            "relatedResources.1.externalId",
        ),
        (json!({ "relatedResources": [patched(&resource, json!({ "name": nul }))] }), "relatedResources.0.name"),
        (json!({ "summary": nul }), "summary"),
        (json!({ "reason": nul }), "reason"),
        (json!({ "errorMessage": nul }), "errorMessage"),
        (json!({ "environment": nul }), "environment"),
        (json!({ "sourceService": nul }), "sourceService"),
        (json!({ "correlationId": nul }), "correlationId"),
        (json!({ "idempotencyKey": nul }), "idempotencyKey"),
        (json!({ "request": { "id": nul } }), "request.id"),
        (json!({ "request": { "method": nul } }), "request.method"),
        (json!({ "request": { "path": nul } }), "request.path"),
        (json!({ "request": { "userAgent": nul } }), "request.userAgent"),
        (json!({ "changes": [{ "field": nul }] }), "changes.0.field"),
        // Inside metadata: a value, a nested value, a key.
        (json!({ "metadata": { "k": nul } }), "metadata"),
        (json!({ "metadata": { "a": { "b": [1, nul] } } }), "metadata"),
        (json!({ "metadata": { nul: 1 } }), "metadata"),
    ];
    for (patch, field) in cases {
        refused_second(&app, &key, with(patch), field).await;
    }
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");
}

/// A NUL inside a change's `before` or `after` is refused at that value's path.
async fn nul_inside_change_values(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    refused(
        &app,
        &key,
        json!([with(json!({ "changes": [{ "field": "f", "before": "a\u{0}b" }] }))]),
        "events.0.changes.0.before",
    )
    .await;
    refused(
        &app,
        &key,
        json!([with(json!({ "changes": [{ "field": "f" }, { "field": "g", "after": { "k\u{0}": 1 } }] }))]),
        "events.0.changes.1.after",
    )
    .await;
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");
}

async fn batch_sizes(backend: Backend) {
    let (app, key) = setup(backend).await;
    let before = counts(&app, &key).await;
    refused(&app, &key, json!([]), "events").await;
    let many = |n: usize| (0..n).map(|i| event(&format!("bulk.e{i}"))).collect::<Vec<_>>();
    refused(&app, &key, json!(many(1001)), "events").await;
    assert_eq!(counts(&app, &key).await, before, "refused batches store nothing");

    let payload = accepted(&app, &key, json!(many(1000))).await;
    assert_eq!(payload["events"].as_array().map(Vec::len), Some(1000));
    assert_eq!(payload["events"][999]["action"], "bulk.e999");
    assert_eq!(event_count(&app, &key).await, SETUP_EVENTS + 1000);
}

backend_tests!(
    action_pattern_and_length,
    occurred_at_bounds,
    identifier_lengths_count_characters,
    long_texts,
    roles_and_related_resources_counts,
    metadata_must_be_a_small_object,
    changes_count_field_and_size,
    request_context_rules,
    ip_addresses_are_stored_canonically,
    no_string_may_contain_nul,
    nul_inside_change_values,
    batch_sizes,
);
