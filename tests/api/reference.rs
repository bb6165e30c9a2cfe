//! The reference APIs (`seeds/`): one test per row of API.md's table "The
//! reference APIs, expressed here", each with events shaped like that API's own.
//!
//! Events are labelled by their `idempotencyKey`; the self-audit events of the
//! fixture (no key) show as `-`. Expected lists are newest first.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code};

/// 2026-03-19 at `hh:mm:ss` UTC.
fn at(hms: &str) -> String {
    format!("2026-03-19T{hms}Z")
}

/// An event labelled `label`, with `fields` (which may override the actor).
fn ev(label: &str, action: &str, occurred_at: &str, fields: Value) -> Value {
    let mut e = json!({
        "action": action,
        "occurredAt": occurred_at,
        "actor": { "type": "USER", "externalId": "u-1" },
        "idempotencyKey": label,
    });
    e.as_object_mut().unwrap().extend(fields.as_object().expect("an object").clone());
    e
}

/// Records events and returns label → event ID.
async fn record(app: &TestApp, key: &str, events: Vec<Value>) -> HashMap<String, String> {
    let n = events.len();
    let labels: Vec<String> = events.iter().map(|e| e["idempotencyKey"].as_str().unwrap().to_string()).collect();
    let payload = app.record(key, Value::Array(events)).await;
    assert_eq!(payload["createdCount"], n, "{payload}");
    // The stored events come back in input order.
    let stored = payload["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string());
    labels.into_iter().zip(stored).collect()
}

/// POSTs a query with a key and, optionally, `X-Audit-Tenant`.
async fn gql_in(app: &TestApp, key: &str, tenant: Option<&str>, query: &str, variables: Value) -> (StatusCode, Value) {
    let mut request =
        app.client.post(app.url("/graphql")).bearer_auth(key).json(&json!({ "query": query, "variables": variables }));
    if let Some(tenant) = tenant {
        request = request.header("x-audit-tenant", tenant);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The labels of the events `filter` selects (one page of up to 500), checking
/// that each is the recorded event and that `totalCount` agrees.
async fn select_in(
    app: &TestApp,
    key: &str,
    tenant: Option<&str>,
    ids: &HashMap<String, String>,
    filter: Value,
) -> Vec<String> {
    let (status, body) = gql_in(
        app,
        key,
        tenant,
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 500) { totalCount nodes { id idempotencyKey } } }",
        json!({ "f": filter }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "filter {filter}: {body}");
    let connection = &body["data"]["auditEvents"];
    let labels = labels(ids, connection["nodes"].as_array().unwrap());
    assert_eq!(connection["totalCount"], labels.len(), "filter {filter}");
    labels
}

async fn select(app: &TestApp, key: &str, ids: &HashMap<String, String>, filter: Value) -> Vec<String> {
    select_in(app, key, None, ids, filter).await
}

fn labels(ids: &HashMap<String, String>, nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| match n["idempotencyKey"].as_str() {
            Some(label) => {
                assert_eq!(ids.get(label).map(String::as_str), n["id"].as_str(), "{label} is another event");
                label.to_string()
            }
            None => "-".to_string(),
        })
        .collect()
}

/// One event by label, with the given selection.
async fn read(app: &TestApp, key: &str, ids: &HashMap<String, String>, label: &str, selection: &str) -> Value {
    let data = app
        .data(key, &format!("query($id: ID!) {{ auditEvent(id: $id) {{ {selection} }} }}"), json!({ "id": ids[label] }))
        .await;
    data["auditEvent"].clone()
}

fn is_base64url(cursor: &str) -> bool {
    !cursor.is_empty() && cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Walks every page of `size` forward with `first`/`after`, checking
/// `totalCount` and `pageInfo` on each; returns the labels of each page.
async fn walk(app: &TestApp, key: &str, ids: &HashMap<String, String>, filter: Value, size: usize) -> Vec<Vec<String>> {
    let query = "query($f: AuditEventFilter, $n: Int, $after: String) {
        auditEvents(filter: $f, first: $n, after: $after) {
            totalCount
            edges { cursor node { id idempotencyKey } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let data = app.data(key, query, json!({ "f": filter, "n": size, "after": after })).await;
        let c = &data["auditEvents"];
        let count = c["totalCount"].as_u64().expect("totalCount");
        assert_eq!(*total.get_or_insert(count), count, "totalCount changed between pages");
        let edges = c["edges"].as_array().unwrap();
        let info = &c["pageInfo"];
        let cursors: Vec<&str> = edges.iter().map(|e| e["cursor"].as_str().unwrap()).collect();
        assert!(cursors.iter().all(|c| is_base64url(c)), "not base64url: {cursors:?}");
        assert_eq!(info["startCursor"].as_str(), cursors.first().copied(), "{info}");
        assert_eq!(info["endCursor"].as_str(), cursors.last().copied(), "{info}");
        assert_eq!(info["hasPreviousPage"], after.is_some(), "{info}");
        let nodes: Vec<Value> = edges.iter().map(|e| e["node"].clone()).collect();
        pages.push(labels(ids, &nodes));
        let seen: usize = pages.iter().map(Vec::len).sum();
        if info["hasNextPage"] == true {
            assert_eq!(edges.len(), size, "a page before the last is full");
            after = info["endCursor"].as_str().map(str::to_string);
        } else {
            assert_eq!(seen as u64, count, "the pages hold every event exactly once");
            break;
        }
        assert!(pages.len() <= 1_000, "runaway paging");
    }
    pages
}

/// `first` is at most 500: 500 is accepted, 501 is `BAD_USER_INPUT` on `first`.
async fn assert_page_size_bounded(app: &TestApp, key: &str) {
    let (status, body) = app.gql(key, "{ auditEvents(first: 500) { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    let (status, body) = app.gql(key, "{ auditEvents(first: 501) { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "first", "{body}");
    assert!(body["data"].is_null(), "{body}");
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---- 000: account-scoped event stream ----------------------------------------

/// 000 `action=workspace.create` → `action: {eq}`.
async fn ref000_action_eq(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let meta = |s: &str| json!({ "summary": s, "metadata": { "region": "eu" }, "resource": { "type": "workspace", "externalId": "ws-1" } });
    let ids = record(
        &app,
        &key,
        vec![
            ev("create-old", "workspace.create", &at("10:00:00"), meta("Workspace created")),
            ev("delete", "workspace.delete", &at("10:05:00"), meta("Workspace deleted")),
            ev("create-new", "workspace.create", &at("10:10:00"), meta("Workspace created")),
            ev("rename", "workspace.name.update", &at("10:15:00"), meta("Workspace renamed")),
            ev("longer", "workspace.create.draft", &at("10:20:00"), json!({})),
            ev("session", "session.create", &at("10:25:00"), json!({})),
        ],
    )
    .await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "action": { "eq": "workspace.create" } })).await,
        strings(&["create-new", "create-old"])
    );
    assert_eq!(select(&app, &key, &ids, json!({ "action": { "eq": "session.create" } })).await, strings(&["session"]));
    assert!(select(&app, &key, &ids, json!({ "action": { "eq": "Workspace.create" } })).await.is_empty());
}

/// 000 `resource_type`, `resource_id` → `resource: {type, externalId}`.
async fn ref000_resource_type_and_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let res = |t: &str, id: &str| json!({ "resource": { "type": t, "externalId": id } });
    let ids = record(
        &app,
        &key,
        vec![
            ev("ws1-create", "workspace.create", &at("10:00:00"), res("workspace", "ws-1")),
            ev("ws2-create", "workspace.create", &at("10:01:00"), res("workspace", "ws-2")),
            ev("sess-ws1", "session.create", &at("10:02:00"), res("session", "ws-1")),
            ev("ws1-snapshot", "workspace.snapshot.create", &at("10:03:00"), res("workspace", "ws-1")),
            // Only related to ws-1: not its primary resource.
            ev(
                "exec-related",
                "session.exec",
                &at("10:04:00"),
                json!({
            "resource": { "type": "session", "externalId": "s-9" },
            "relatedResources": [{ "type": "workspace", "externalId": "ws-1" }] }),
            ),
            ev("no-resource", "billing.account.update", &at("10:05:00"), json!({})),
        ],
    )
    .await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "type": ["workspace"], "externalId": ["ws-1"] } })).await,
        strings(&["ws1-snapshot", "ws1-create"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "type": ["workspace"] } })).await,
        strings(&["ws1-snapshot", "ws2-create", "ws1-create"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "externalId": ["ws-1"] } })).await,
        strings(&["ws1-snapshot", "sess-ws1", "ws1-create"])
    );
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "resource": { "type": ["workspace", "session"], "externalId": ["ws-2", "s-9"] } })
        )
        .await,
        strings(&["exec-related", "ws2-create"])
    );
}

/// 000 `status=failure` → `outcome: FAILURE`.
async fn ref000_status_failure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let failed = |msg: &str| json!({ "outcome": "FAILURE", "errorMessage": msg });
    let ids = record(
        &app,
        &key,
        vec![
            ev("ok-create", "workspace.create", &at("10:00:00"), json!({ "outcome": "SUCCESS" })),
            ev("bad-create", "workspace.create", &at("10:01:00"), failed("quota exceeded")),
            ev("default-ok", "session.exec", &at("10:02:00"), json!({})),
            ev("bad-restore", "workspace.snapshot.restore", &at("10:03:00"), failed("snapshot missing")),
        ],
    )
    .await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "outcome": "FAILURE" })).await,
        strings(&["bad-restore", "bad-create"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "outcome": "FAILURE", "action": { "eq": "workspace.create" } })).await,
        strings(&["bad-create"])
    );
    // SUCCESS includes the fixture's own (self-audit) events, which are newest.
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "outcome": "SUCCESS", "action": { "notIn": ["tenant.create", "api_key.create"] } })
        )
        .await,
        strings(&["default-ok", "ok-create"])
    );
}

/// 000 `before=<RFC 3339>` (timestamp cursor) → `occurredAt: {lt}` or an `after:` cursor.
async fn ref000_before_timestamp_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(
        &app,
        &key,
        vec![
            ev("m1", "workspace.create", &at("15:01:00"), json!({})),
            ev("m2", "workspace.delete", &at("15:02:00"), json!({})),
            ev("m3", "workspace.snapshot.create", &at("15:03:00"), json!({})),
            ev("m3u", "workspace.snapshot.delete", &at("15:03:00.000001"), json!({})),
            ev("m5", "workspace.name.update", &at("15:05:00"), json!({})),
        ],
    )
    .await;
    let only = |extra: Value| {
        let mut f = json!({ "action": { "prefix": "workspace." } });
        f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        f
    };
    // Strictly before, exact to the microsecond, any input offset.
    assert_eq!(
        select(&app, &key, &ids, only(json!({ "occurredAt": { "lt": at("15:03:00.000001") } }))).await,
        strings(&["m3", "m2", "m1"])
    );
    assert_eq!(
        select(&app, &key, &ids, only(json!({ "occurredAt": { "lt": "2026-03-19T17:03:00+02:00" } }))).await,
        strings(&["m2", "m1"])
    );
    // Paging as 000 does: the next page is everything before the last one seen.
    let mut before: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let filter = match &before {
            Some(t) => only(json!({ "occurredAt": { "lt": t } })),
            None => only(json!({})),
        };
        let data = app
            .data(&key, "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 2) { nodes { idempotencyKey occurredAt } } }", json!({ "f": filter }))
            .await;
        let nodes = data["auditEvents"]["nodes"].as_array().unwrap().clone();
        if nodes.is_empty() {
            break;
        }
        seen.extend(nodes.iter().map(|n| n["idempotencyKey"].as_str().unwrap().to_string()));
        before = nodes.last().unwrap()["occurredAt"].as_str().map(str::to_string);
    }
    assert_eq!(seen, strings(&["m5", "m3u", "m3", "m2", "m1"]));
    // The same with the opaque `after:` cursor.
    assert_eq!(
        walk(&app, &key, &ids, only(json!({})), 2).await,
        vec![strings(&["m5", "m3u"]), strings(&["m3", "m2"]), strings(&["m1"])]
    );
    assert_page_size_bounded(&app, &key).await;
}

/// 000 `limit` ≤ 500 (default 100) → `first` ≤ 500 (default 50).
async fn ref000_limit_at_most_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let events: Vec<Value> = (0..502)
        .map(|i| ev(&format!("e{i:03}"), "session.exec", &at(&format!("10:{:02}:{:02}", i / 60, i % 60)), json!({})))
        .collect();
    let ids = record(&app, &key, events).await;
    let newest_first: Vec<String> = (0..502).rev().map(|i| format!("e{i:03}")).collect();
    let filter = json!({ "action": { "eq": "session.exec" } });
    let pages = walk(&app, &key, &ids, filter.clone(), 500).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![500, 2]);
    assert_eq!(pages.concat(), newest_first);
    // Without `first`: the default page of 50.
    let data = app
        .data(&key, "query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount nodes { id idempotencyKey } pageInfo { hasNextPage } } }", json!({ "f": filter }))
        .await;
    let c = &data["auditEvents"];
    assert_eq!(c["totalCount"], 502);
    assert_eq!(labels(&ids, c["nodes"].as_array().unwrap()), newest_first[..50].to_vec());
    assert_eq!(c["pageInfo"]["hasNextPage"], true);
    assert_page_size_bounded(&app, &key).await;
}

/// 000 `X-Chaser-Account` selects the account → the key's tenant; `admin` keys use `X-Audit-Tenant`.
async fn ref000_account_header_is_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = app.create_tenant("acme-engineering").await;
    let acme_writer = app.key("audit.write").await;
    let other_writer = app.key_in(other, "audit.write").await;
    let mut ids = record(&app, &acme_writer, vec![ev("acme-ws", "workspace.create", &at("10:00:00"), json!({}))]).await;
    ids.extend(record(&app, &other_writer, vec![ev("eng-ws", "workspace.create", &at("10:01:00"), json!({}))]).await);
    let filter = json!({ "action": { "eq": "workspace.create" } });

    // A key reads its own tenant.
    let acme_reader = app.key("audit.read").await;
    let other_reader = app.key_in(other, "audit.read").await;
    assert_eq!(select(&app, &acme_reader, &ids, filter.clone()).await, strings(&["acme-ws"]));
    assert_eq!(select(&app, &other_reader, &ids, filter.clone()).await, strings(&["eng-ws"]));

    // An admin key acts in the tenant it names.
    let admin = app.key("admin").await;
    assert_eq!(select(&app, &admin, &ids, filter.clone()).await, strings(&["acme-ws"]));
    assert_eq!(select_in(&app, &admin, Some("acme-engineering"), &ids, filter.clone()).await, strings(&["eng-ws"]));
    let (status, body) =
        gql_in(&app, &admin, Some("acme-engineering"), "{ viewer { tenant { slug } } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["viewer"]["tenant"]["slug"], "acme-engineering", "{body}");
    // Naming its own tenant is fine for any key.
    assert_eq!(select_in(&app, &acme_reader, Some("acme"), &ids, filter.clone()).await, strings(&["acme-ws"]));

    // A non-admin key may not switch tenants.
    let (_, body) = gql_in(
        &app,
        &acme_reader,
        Some("acme-engineering"),
        "{ auditEvents { nodes { id idempotencyKey } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    assert!(!body.to_string().contains(&ids["eng-ws"]), "{body}");
    // And nothing of the other tenant is reachable by ID.
    let data = app
        .data(
            &acme_reader,
            "query($id: ID!) { auditEvent(id: $id) { id } node(id: $id) { id } }",
            json!({ "id": ids["eng-ws"] }),
        )
        .await;
    assert_eq!(data, json!({ "auditEvent": null, "node": null }));
}

/// 000 scoped keys need `audit.read` → scope `audit.read`.
async fn ref000_scoped_keys_need_audit_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.key("audit.write").await;
    let ids = record(&app, &writer, vec![ev("ws", "workspace.create", &at("10:00:00"), json!({}))]).await;
    for scopes in ["audit.write", "keys.manage", "audit.write,keys.manage"] {
        let key = app.key(scopes).await;
        let (status, body) = app.gql(&key, "{ auditEvents { totalCount nodes { id } } }", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{scopes}: {body}");
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{scopes}: {body}");
        assert!(body["data"].is_null(), "{scopes}: {body}");
        let (status, body) =
            app.gql(&key, "query($id: ID!) { auditEvent(id: $id) { id action } }", json!({ "id": ids["ws"] })).await;
        assert_eq!(status, StatusCode::OK, "{scopes}: {body}");
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{scopes}: {body}");
        assert!(body["data"]["auditEvent"].is_null(), "{scopes}: {body}");
    }
    for scopes in ["audit.read", "admin"] {
        let key = app.key(scopes).await;
        assert_eq!(
            select(&app, &key, &ids, json!({ "action": { "eq": "workspace.create" } })).await,
            strings(&["ws"]),
            "{scopes}"
        );
    }
    // No key at all: 401.
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ auditEvents { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

// ---- 001: rich request-level events -----------------------------------------

/// 001 `event_group` / `event_type` → `category: {eq}` / `action: {eq}`.
async fn ref001_event_group_and_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(
        &app,
        &key,
        vec![
            ev("vm-start", "vm.start", &at("10:00:00"), json!({})),
            ev("vm-stop", "vm.stop", &at("10:01:00"), json!({})),
            ev("vmx", "vmx.start", &at("10:02:00"), json!({})),
            ev("sess-create", "session.create", &at("10:03:00"), json!({})),
            ev("sess-exec", "session.exec", &at("10:04:00"), json!({})),
            ev("sess-exec-2", "session.exec", &at("10:05:00"), json!({ "outcome": "FAILURE" })),
        ],
    )
    .await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "category": { "eq": "vm" } })).await,
        strings(&["vm-stop", "vm-start"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "action": { "eq": "session.exec" } })).await,
        strings(&["sess-exec-2", "sess-exec"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "category": { "eq": "session" }, "action": { "eq": "session.create" } }))
            .await,
        strings(&["sess-create"])
    );
    // 001's `status` with a group.
    assert_eq!(
        select(&app, &key, &ids, json!({ "category": { "eq": "session" }, "outcome": "FAILURE" })).await,
        strings(&["sess-exec-2"])
    );
    let e = read(&app, &key, &ids, "vmx", "category action").await;
    assert_eq!(e, json!({ "category": "vmx", "action": "vmx.start" }));
}

/// 001 `user_id`, `vm_id`, `session_id` → `actor: {type: [USER], externalId}`, `relatedTo: {type, externalId}`.
async fn ref001_user_vm_session_relatedto(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let user = |id: &str| json!({ "type": "USER", "externalId": id });
    let r = |t: &str, id: &str| json!({ "type": t, "externalId": id });
    let ids = record(
        &app,
        &key,
        vec![
            ev(
                "a",
                "session.exec",
                &at("10:00:00"),
                json!({ "actor": user("42"),
            "resource": r("session", "s-1"), "relatedResources": [r("vm", "vm-1")] }),
            ),
            ev(
                "b",
                "session.create",
                &at("10:01:00"),
                json!({ "actor": user("42"),
            "relatedResources": [r("vm", "vm-2"), r("session", "s-2")] }),
            ),
            ev(
                "c",
                "session.exec",
                &at("10:02:00"),
                json!({ "actor": user("7"),
            "relatedResources": [r("vm", "vm-1"), r("session", "s-3")] }),
            ),
            ev(
                "d",
                "vm.start",
                &at("10:03:00"),
                json!({ "actor": { "type": "SERVICE_ACCOUNT", "externalId": "42" },
            "resource": r("vm", "vm-1") }),
            ),
            ev("e", "vm.stop", &at("10:04:00"), json!({ "actor": user("42"), "resource": r("vm", "vm-1") })),
            // vm-1 and vm appear, but not on the same resource: no match for vm vm-1.
            ev(
                "f",
                "session.exec",
                &at("10:05:00"),
                json!({ "actor": user("42"),
            "relatedResources": [r("vm", "s-1"), r("session", "vm-1")] }),
            ),
        ],
    )
    .await;
    // user_id=42
    assert_eq!(
        select(&app, &key, &ids, json!({ "actor": { "type": ["USER"], "externalId": ["42"] } })).await,
        strings(&["f", "e", "b", "a"])
    );
    // vm_id=vm-1: primary or related, one resource matching both type and ID.
    assert_eq!(
        select(&app, &key, &ids, json!({ "relatedTo": { "type": ["vm"], "externalId": ["vm-1"] } })).await,
        strings(&["e", "d", "c", "a"])
    );
    // session_id=s-1
    assert_eq!(
        select(&app, &key, &ids, json!({ "relatedTo": { "type": ["session"], "externalId": ["s-1"] } })).await,
        strings(&["a"])
    );
    // user_id=42 & vm_id=vm-1
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({
            "actor": { "type": ["USER"], "externalId": ["42"] },
            "relatedTo": { "type": ["vm"], "externalId": ["vm-1"] } })
        )
        .await,
        strings(&["e", "a"])
    );
    // `resource` is the primary only.
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "type": ["vm"], "externalId": ["vm-1"] } })).await,
        strings(&["e", "d"])
    );
    // Resource.events lists primary and related.
    let data = app
        .data(&key, r#"{ resources(filter: {type: ["vm"], externalId: ["vm-1"]}) { nodes { events { nodes { id idempotencyKey } } } } }"#, json!({}))
        .await;
    let nodes = data["resources"]["nodes"][0]["events"]["nodes"].as_array().unwrap().clone();
    assert_eq!(labels(&ids, &nodes), strings(&["e", "d", "c", "a"]));
}

/// 001 `http_method`, `path`, `http_status`, `latency_ms`, `ip_address`, `user_agent`,
/// `request_id`, `correlation_id` → `request { … }`, `correlationId`; filters
/// `httpStatus`, `ipAddress`, `requestId`, `correlationId`.
async fn ref001_request_context_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let req = |id: &str, method: &str, path: &str, status: i64, ip: &str| json!({ "id": id, "method": method, "path": path, "status": status, "latencyMs": 12.5, "ipAddress": ip, "userAgent": "python-httpx/0.27" });
    let ids = record(&app, &key, vec![
        ev("ok", "vm.start", &at("10:00:00"), json!({ "request": req("req-1", "POST", "/v1/vms/vm-1/start", 200, "10.0.0.1"), "correlationId": "corr-1" })),
        ev("not-found", "vm.stop", &at("10:01:00"), json!({ "outcome": "FAILURE", "request": req("req-2", "POST", "/v1/vms/vm-9/stop", 404, "10.0.0.2"), "correlationId": "corr-1" })),
        ev("boom", "session.exec", &at("10:02:00"), json!({ "outcome": "FAILURE", "request": req("req-3", "POST", "/v1/sessions/s-1/exec", 502, "2001:DB8::1"), "correlationId": "corr-2" })),
        ev("no-request", "session.create", &at("10:03:00"), json!({ "correlationId": "corr-2" })),
    ])
    .await;
    let e =
        read(&app, &key, &ids, "boom", "correlationId request { id method path status latencyMs ipAddress userAgent }")
            .await;
    assert_eq!(
        e,
        json!({ "correlationId": "corr-2", "request": { "id": "req-3", "method": "POST", "path": "/v1/sessions/s-1/exec",
            "status": 502, "latencyMs": 12.5, "ipAddress": "2001:db8::1", "userAgent": "python-httpx/0.27" } })
    );
    assert_eq!(read(&app, &key, &ids, "no-request", "request { id }").await, json!({ "request": null }));
    assert_eq!(
        select(&app, &key, &ids, json!({ "httpStatus": { "gte": 400 } })).await,
        strings(&["boom", "not-found"])
    );
    assert_eq!(select(&app, &key, &ids, json!({ "httpStatus": { "lte": 404 } })).await, strings(&["not-found", "ok"]));
    assert_eq!(select(&app, &key, &ids, json!({ "ipAddress": "10.0.0.2" })).await, strings(&["not-found"]));
    assert_eq!(select(&app, &key, &ids, json!({ "ipAddress": "2001:db8:0::1" })).await, strings(&["boom"]));
    assert_eq!(select(&app, &key, &ids, json!({ "requestId": "req-1" })).await, strings(&["ok"]));
    assert_eq!(select(&app, &key, &ids, json!({ "correlationId": "corr-2" })).await, strings(&["no-request", "boom"]));
    assert!(select(&app, &key, &ids, json!({ "requestId": "req" })).await.is_empty());
}

/// 001 `node_ip`, `worker_id`, `task_id`, `event_payload` → `metadata`.
async fn ref001_worker_fields_in_metadata(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let metadata = json!({
        "node_ip": "10.1.2.3",
        "worker_id": "worker-7",
        "task_id": 981234,
        "event_payload": { "command": ["ls", "-la"], "exit_code": 0, "stdout_bytes": 1532.5, "tty": false, "env": null },
    });
    let ids = record(
        &app,
        &key,
        vec![
            ev("exec", "session.exec", &at("10:00:00"), json!({ "metadata": metadata })),
            ev("plain", "session.create", &at("10:01:00"), json!({})),
        ],
    )
    .await;
    assert_eq!(read(&app, &key, &ids, "exec", "metadata").await, json!({ "metadata": metadata }));
    assert_eq!(read(&app, &key, &ids, "plain", "metadata").await, json!({ "metadata": {} }));
}

/// 001 422 with `loc`/`msg` → `BAD_USER_INPUT` with the field path.
async fn ref001_validation_error_has_field_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let before = app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    let record_query = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";
    let ok = ev("ok", "session.exec", &at("10:00:00"), json!({}));
    let cases = [
        (
            "query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }",
            json!({ "f": { "ipAddress": "not-an-ip" } }),
            "filter.ipAddress",
        ),
        (
            "query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }",
            json!({ "f": { "or": [{ "outcome": "SUCCESS" }, { "ipAddress": "999.1.1.1" }] } }),
            "filter.or.1.ipAddress",
        ),
        ("{ auditEvents(first: -1) { totalCount } }", json!({}), "first"),
        (
            record_query,
            json!({ "e": [ok.clone(), ev("bad", "Not Valid", &at("10:00:00"), json!({}))] }),
            "events.1.action",
        ),
        (
            record_query,
            json!({ "e": [ev("bad", "session.exec", &at("10:00:00"), json!({ "request": { "status": 999 } }))] }),
            "events.0.request.status",
        ),
        (
            record_query,
            json!({ "e": [ok.clone(), ok.clone(), ev("bad", "session.exec", &at("10:00:00"), json!({ "actor": { "type": "USER", "externalId": "" } }))] }),
            "events.2.actor.externalId",
        ),
        (
            record_query,
            json!({ "e": [ev("bad", "session.exec", &at("10:00:00"), json!({ "metadata": [1, 2] }))] }),
            "events.0.metadata",
        ),
    ];
    for (query, variables, field) in cases {
        let (status, body) = app.gql(&key, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{field}: {body}");
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{field}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
    let after = app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(before, after, "a refused batch stored something");
}

// ---- 002: operator audit log -------------------------------------------------

fn operator_events() -> Vec<Value> {
    let carlos =
        json!({ "type": "USER", "externalId": "carlos", "email": "carlos.silva@empresa.com", "roles": ["operator"] });
    let ana = json!({ "type": "USER", "externalId": "ana", "email": "ana@empresa.com", "roles": ["admin"] });
    let system = json!({ "type": "SYSTEM", "externalId": "system", "roles": ["system"] });
    vec![
        ev(
            "reject",
            "approval.reject",
            &at("14:00:00"),
            json!({ "actor": ana,
            "resource": { "type": "Approval", "externalId": "APR-20260319-000" }, "environment": "staging" }),
        ),
        ev(
            "remediate",
            "remediation.execute",
            &at("15:21:05"),
            json!({ "actor": system,
            "resource": { "type": "Remediation", "externalId": "INC-20260319-001" }, "environment": "production",
            "metadata": { "runbook": "runbook-oomkill-standard", "step": "diagnose-memory-usage", "result": "success", "sourceIP": "internal" } }),
        ),
        ev(
            "ack",
            "incident.acknowledge",
            &at("15:30:00"),
            json!({ "actor": carlos,
            "resource": { "type": "Incident", "externalId": "INC-20260319-001" }, "environment": "production",
            "metadata": { "message": "Investigando aumento de memoria no payment-service" },
            "request": { "ipAddress": "10.0.1.50", "userAgent": "Mozilla/5.0" } }),
        ),
        ev(
            "approve",
            "approval.approve",
            &at("15:35:00"),
            json!({ "actor": carlos,
            "resource": { "type": "Approval", "externalId": "APR-20260319-001" }, "environment": "production",
            "metadata": { "incident": "INC-20260319-001", "comment": "Aprovado" },
            "request": { "ipAddress": "10.0.1.50", "userAgent": "Mozilla/5.0" } }),
        ),
    ]
}

/// 002 `user`, `resource`, `since`, `until` → `actor: {email}` or `externalId`,
/// `resource: {externalId}`, `occurredAt: {gte, lte}`.
async fn ref002_user_resource_since_until(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(&app, &key, operator_events()).await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "actor": { "email": ["carlos.silva@empresa.com"] } })).await,
        strings(&["approve", "ack"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "actor": { "externalId": ["carlos", "ana"] } })).await,
        strings(&["approve", "ack", "reject"])
    );
    assert!(select(&app, &key, &ids, json!({ "actor": { "email": ["Carlos.Silva@empresa.com"] } })).await.is_empty());
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "externalId": ["INC-20260319-001"] } })).await,
        strings(&["ack", "remediate"])
    );
    // since/until: both bounds included.
    assert_eq!(
        select(&app, &key, &ids, json!({ "occurredAt": { "gte": at("15:21:05"), "lte": at("15:30:00") } })).await,
        strings(&["ack", "remediate"])
    );
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "occurredAt": { "gte": at("15:21:05") }, "actor": { "email": ["carlos.silva@empresa.com"] },
            "resource": { "externalId": ["INC-20260319-001"] } })
        )
        .await,
        strings(&["ack"])
    );
    // `until` alone.
    assert_eq!(
        select(&app, &key, &ids, json!({ "occurredAt": { "lte": at("15:21:05") } })).await,
        strings(&["remediate", "reject"])
    );
}

/// 002 `totalCount`, `page`/`pageSize` ≤ 200 → `totalCount`, cursor pages.
async fn ref002_total_count_and_cursor_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let events: Vec<Value> =
        (1..=7).map(|i| ev(&format!("p{i}"), "incident.snooze", &at(&format!("15:0{i}:00")), json!({}))).collect();
    let mut ids = record(&app, &key, events).await;
    ids.extend(record(&app, &key, vec![ev("other", "config.update", &at("15:04:30"), json!({}))]).await);
    let filter = json!({ "action": { "eq": "incident.snooze" } });
    assert_eq!(
        walk(&app, &key, &ids, filter.clone(), 3).await,
        vec![strings(&["p7", "p6", "p5"]), strings(&["p4", "p3", "p2"]), strings(&["p1"])]
    );
    // totalCount alone, with `first: 0`.
    let data = app
        .data(
            &key,
            "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 0) { totalCount edges { cursor } } }",
            json!({ "f": filter }),
        )
        .await;
    assert_eq!(data["auditEvents"], json!({ "totalCount": 7, "edges": [] }));
    // Back from the end with `last`/`before`.
    let data = app
        .data(
            &key,
            "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 3) { edges { cursor } } }",
            json!({ "f": filter }),
        )
        .await;
    let third = data["auditEvents"]["edges"][2]["cursor"].as_str().unwrap().to_string();
    let data = app
        .data(
            &key,
            "query($f: AuditEventFilter, $b: String) { auditEvents(filter: $f, last: 2, before: $b) {
            nodes { id idempotencyKey } pageInfo { hasNextPage hasPreviousPage } } }",
            json!({ "f": filter, "b": third }),
        )
        .await;
    let c = &data["auditEvents"];
    assert_eq!(labels(&ids, c["nodes"].as_array().unwrap()), strings(&["p7", "p6"]));
    assert_eq!(c["pageInfo"], json!({ "hasNextPage": true, "hasPreviousPage": false }));
    assert_page_size_bounded(&app, &key).await;
}

/// 002 `role`, `namespace`, `details`, `sourceIP` → `actor.roles`, `environment`,
/// `metadata`, `request.ipAddress`.
async fn ref002_role_namespace_details_source_ip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(&app, &key, operator_events()).await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "environment": { "eq": "production" } })).await,
        strings(&["approve", "ack", "remediate"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "environment": { "notIn": ["production"] }, "action": { "notIn": ["tenant.create", "api_key.create"] } })).await,
        strings(&["reject"])
    );
    assert_eq!(select(&app, &key, &ids, json!({ "ipAddress": "10.0.1.50" })).await, strings(&["approve", "ack"]));
    let selection = "environment metadata actor { roles email } request { ipAddress userAgent }";
    assert_eq!(
        read(&app, &key, &ids, "approve", selection).await,
        json!({
            "environment": "production",
            "metadata": { "incident": "INC-20260319-001", "comment": "Aprovado" },
            "actor": { "roles": ["operator"], "email": "carlos.silva@empresa.com" },
            "request": { "ipAddress": "10.0.1.50", "userAgent": "Mozilla/5.0" },
        })
    );
    assert_eq!(
        read(&app, &key, &ids, "remediate", selection).await,
        json!({
            "environment": "production",
            "metadata": { "runbook": "runbook-oomkill-standard", "step": "diagnose-memory-usage", "result": "success", "sourceIP": "internal" },
            "actor": { "roles": ["system"], "email": null },
            "request": null,
        })
    );
}

// ---- 003: tenant audit log -----------------------------------------------------

/// 003 `type=sandbox.` (prefix) → `action: {prefix: "sandbox."}`.
async fn ref003_type_prefix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(
        &app,
        &key,
        vec![
            ev(
                "sbx-created",
                "sandbox.created",
                &at("10:14:23"),
                json!({ "metadata": { "image": "debian-12-sandbox-v8" } }),
            ),
            ev("sbx-exec", "sandbox.exec", &at("10:15:00"), json!({})),
            ev("sbxes", "sandboxes.created", &at("10:16:00"), json!({})),
            ev("computer", "computer.created", &at("10:17:00"), json!({})),
            ev("sbx-destroyed", "sandbox.destroyed", &at("10:18:00"), json!({})),
            ev("key-created", "api_key.created", &at("10:19:00"), json!({})),
            ev("apix", "apixkey.created", &at("10:20:00"), json!({})),
        ],
    )
    .await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "action": { "prefix": "sandbox." } })).await,
        strings(&["sbx-destroyed", "sbx-exec", "sbx-created"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "action": { "prefix": "sandbox" } })).await,
        strings(&["sbx-destroyed", "sbxes", "sbx-exec", "sbx-created"])
    );
    // A literal prefix: `_` matches only itself.
    assert_eq!(
        select(&app, &key, &ids, json!({ "action": { "prefix": "api_key.created" } })).await,
        strings(&["key-created"])
    );
    assert!(select(&app, &key, &ids, json!({ "action": { "prefix": "Sandbox." } })).await.is_empty());
}

/// 003 `actor_id`, `resource_type`, `resource_id` → `actor: {externalId}`, `resource: {type, externalId}`.
async fn ref003_actor_and_resource(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let actor = |t: &str, id: &str| json!({ "type": t, "externalId": id });
    let res = |t: &str, id: &str| json!({ "type": t, "externalId": id });
    let ids = record(
        &app,
        &key,
        vec![
            ev(
                "k-sbx",
                "sandbox.created",
                &at("10:00:00"),
                json!({ "actor": actor("API_KEY", "user_clinic_42"), "resource": res("sandbox", "sbx_abc123") }),
            ),
            ev(
                "u-cmp",
                "computer.created",
                &at("10:01:00"),
                json!({ "actor": actor("USER", "user_clinic_42"), "resource": res("computer", "sbx_abc123") }),
            ),
            ev(
                "o-sbx",
                "sandbox.exec",
                &at("10:02:00"),
                json!({ "actor": actor("API_KEY", "user_other"), "resource": res("sandbox", "sbx_abc123") }),
            ),
            ev(
                "k-sbx2",
                "sandbox.destroyed",
                &at("10:03:00"),
                json!({ "actor": actor("API_KEY", "user_clinic_42"), "resource": res("sandbox", "sbx_def456") }),
            ),
        ],
    )
    .await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "actor": { "externalId": ["user_clinic_42"] } })).await,
        strings(&["k-sbx2", "u-cmp", "k-sbx"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "type": ["sandbox"], "externalId": ["sbx_abc123"] } })).await,
        strings(&["o-sbx", "k-sbx"])
    );
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "actor": { "externalId": ["user_clinic_42"] }, "resource": { "type": ["sandbox"] } })
        )
        .await,
        strings(&["k-sbx2", "k-sbx"])
    );
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "actor": { "externalId": ["user_clinic_42"], "type": ["API_KEY"] },
            "resource": { "type": ["sandbox"], "externalId": ["sbx_abc123"] } })
        )
        .await,
        strings(&["k-sbx"])
    );
}

/// 003 `after` opaque base64url cursor; 400 on a bad one → `after`; `BAD_CURSOR`.
async fn ref003_opaque_cursor_and_bad_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let events: Vec<Value> =
        (1..=5).map(|i| ev(&format!("s{i}"), "sandbox.exec", &at(&format!("10:1{i}:00")), json!({}))).collect();
    let ids = record(&app, &key, events).await;
    let filter = json!({ "action": { "prefix": "sandbox." } });
    assert_eq!(
        walk(&app, &key, &ids, filter.clone(), 2).await,
        vec![strings(&["s5", "s4"]), strings(&["s3", "s2"]), strings(&["s1"])]
    );
    // A cursor of another ordering, and ones that do not decode.
    let data = app
        .data(&key, "{ auditEvents(first: 1, orderBy: {direction: ASC}) { pageInfo { endCursor } } }", json!({}))
        .await;
    let asc = data["auditEvents"]["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    for bad in [
        asc.as_str(),
        "",
        "not a cursor!",
        "MjAyNi0wNS0yNlQxMDoxNDoyM1o", // 003's own: base64url of a timestamp
        "aGVsbG8",
        "%%%",
    ] {
        let (status, body) = app
            .gql(&key, "query($a: String) { auditEvents(first: 2, after: $a) { nodes { id } } }", json!({ "a": bad }))
            .await;
        assert_eq!(status, StatusCode::OK, "{bad:?}: {body}");
        assert_eq!(error_code(&body), Some("BAD_CURSOR"), "{bad:?}: {body}");
        assert!(body["data"].is_null(), "{body}");
    }
    assert_page_size_bounded(&app, &key).await;
}

// ---- 004: service audit events --------------------------------------------------

fn service_events() -> Vec<Value> {
    let req = |status: i64| json!({ "id": format!("req-{status}"), "method": "POST", "path": "/api/v1/accounts", "status": status, "ipAddress": "203.0.113.7", "userAgent": "rails" });
    vec![
        ev(
            "deposit",
            "accounts.money.deposit",
            &at("09:00:00"),
            json!({ "request": req(201), "environment": "sandbox" }),
        ),
        ev(
            "notfound",
            "accounts.account.update_status",
            &at("09:01:00"),
            json!({ "outcome": "FAILURE", "request": req(404), "environment": "sandbox" }),
        ),
        ev(
            "redirect",
            "users.auth.login",
            &at("09:02:00"),
            json!({ "request": req(302), "environment": "production" }),
        ),
        ev(
            "unprocessable",
            "accounts.money.withdraw",
            &at("09:03:00"),
            json!({ "outcome": "FAILURE", "request": req(422), "environment": "production" }),
        ),
        ev(
            "internal",
            "ledger.transaction.post",
            &at("09:04:00"),
            json!({ "outcome": "FAILURE", "request": req(500), "environment": "production" }),
        ),
        ev(
            "unavailable",
            "accounts.money.transfer",
            &at("09:05:00"),
            json!({ "outcome": "FAILURE", "request": req(503), "environment": "sandbox" }),
        ),
        ev(
            "no-status",
            "users.auth.revoke",
            &at("09:06:00"),
            json!({ "outcome": "FAILURE", "environment": "sandbox" }),
        ),
        // A 4xx recorded as a success (e.g. an expected 409) is not a client error.
        ev("ok-409", "users.beta.apply", &at("09:07:00"), json!({ "request": req(409), "environment": "sandbox" })),
    ]
}

/// 004 `outcome=client_error` / `server_error` → `outcome: FAILURE, httpStatus: {gte: 400, lte: 499}` / `{gte: 500}`.
async fn ref004_client_error_is_failure_with_4xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(&app, &key, service_events()).await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "outcome": "FAILURE", "httpStatus": { "gte": 400, "lte": 499 } })).await,
        strings(&["unprocessable", "notfound"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "outcome": "FAILURE", "httpStatus": { "gte": 500 } })).await,
        strings(&["unavailable", "internal"])
    );
    // outcome=success
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "outcome": "SUCCESS", "category": { "in": ["users", "accounts", "ledger"] } })
        )
        .await,
        strings(&["ok-409", "redirect", "deposit"])
    );
    // Both error kinds at once, with `or`.
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({ "outcome": "FAILURE", "or": [
            { "httpStatus": { "gte": 400, "lte": 499 } }, { "httpStatus": { "gte": 500 } }] })
        )
        .await,
        strings(&["unavailable", "internal", "unprocessable", "notfound"])
    );
}

/// 004 `environment`, `from`, `to`, `target_type`, `target_id` → `environment: {eq}`,
/// `occurredAt: {gte, lt}`, `resource: {type, externalId}`.
async fn ref004_environment_range_and_target(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let target = |t: &str, id: &str| json!({ "type": t, "externalId": id });
    let mut events = service_events();
    for (e, t) in events.iter_mut().zip([
        target("account", "acc-1"),
        target("account", "acc-2"),
        target("session", "acc-1"),
        target("account", "acc-1"),
        target("transaction", "tx-1"),
        target("account", "acc-1"),
        target("api_key", "k-1"),
        target("application", "app-1"),
    ]) {
        e["resource"] = t;
    }
    let ids = record(&app, &key, events).await;
    assert_eq!(
        select(&app, &key, &ids, json!({ "environment": { "eq": "production" } })).await,
        strings(&["internal", "unprocessable", "redirect"])
    );
    // from (included) … to (excluded).
    assert_eq!(
        select(&app, &key, &ids, json!({ "occurredAt": { "gte": at("09:01:00"), "lt": at("09:04:00") } })).await,
        strings(&["unprocessable", "redirect", "notfound"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "resource": { "type": ["account"], "externalId": ["acc-1"] } })).await,
        strings(&["unavailable", "unprocessable", "deposit"])
    );
    assert_eq!(
        select(
            &app,
            &key,
            &ids,
            json!({
            "environment": { "eq": "sandbox" },
            "occurredAt": { "gte": at("09:00:00"), "lt": at("09:05:00") },
            "resource": { "type": ["account"], "externalId": ["acc-1"] } })
        )
        .await,
        strings(&["deposit"])
    );
}

/// 004 actor `roles`, `source_service`, `reason`, `request{…}` → `actor.roles`,
/// `sourceService`, `reason`, `request`.
async fn ref004_roles_service_reason_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(&app, &key, vec![
        ev("register", "users.business.register", &at("18:11:19.117"), json!({
            "actor": { "type": "USER", "externalId": "usr-1", "roles": ["owner", "billing"] },
            "sourceService": "users", "reason": "self-service signup", "correlationId": "correlation_id",
            "request": { "id": "id-1", "method": "POST", "path": "/api/v1/businesses", "ipAddress": "198.51.100.4", "userAgent": "Mozilla/5.0" },
            "metadata": { "foo": "string" } })),
        ev("post", "ledger.transaction.post", &at("18:12:00"), json!({
            "actor": { "type": "INTERNAL_SERVICE", "externalId": "ledger-worker" },
            "sourceService": "ledger" })),
        ev("close", "accounts.account.close", &at("18:13:00"), json!({
            "actor": { "type": "ANONYMOUS", "externalId": "anon" },
            "sourceService": "accounts", "reason": "customer request" })),
    ])
    .await;
    assert_eq!(
        read(&app, &key, &ids, "register",
            "actor { type externalId roles } sourceService reason correlationId occurredAt request { id method path ipAddress userAgent status latencyMs }").await,
        json!({
            "actor": { "type": "USER", "externalId": "usr-1", "roles": ["owner", "billing"] },
            "sourceService": "users",
            "reason": "self-service signup",
            "correlationId": "correlation_id",
            "occurredAt": "2026-03-19T18:11:19.117Z",
            "request": { "id": "id-1", "method": "POST", "path": "/api/v1/businesses", "ipAddress": "198.51.100.4",
                "userAgent": "Mozilla/5.0", "status": null, "latencyMs": null },
        })
    );
    assert_eq!(
        read(&app, &key, &ids, "post", "actor { type roles } reason request { id }").await,
        json!({ "actor": { "type": "INTERNAL_SERVICE", "roles": [] }, "reason": null, "request": null })
    );
    assert_eq!(select(&app, &key, &ids, json!({ "sourceService": { "eq": "ledger" } })).await, strings(&["post"]));
    assert_eq!(
        select(&app, &key, &ids, json!({ "sourceService": { "in": ["users", "accounts"] } })).await,
        strings(&["close", "register"])
    );
    assert_eq!(
        select(&app, &key, &ids, json!({ "actor": { "type": ["INTERNAL_SERVICE", "ANONYMOUS"] } })).await,
        strings(&["close", "post"])
    );
    // `reason` is searchable as text.
    assert_eq!(select(&app, &key, &ids, json!({ "text": "Customer REQUEST" })).await, strings(&["close"]));
}

/// 004 `page`, `per_page`, `total_count`, `total_pages` → cursor pages, `totalCount`.
async fn ref004_total_count_and_cursor_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ids = record(&app, &key, service_events()).await;
    // environment=sandbox, per_page=2: 5 events, 3 pages.
    let filter = json!({ "environment": { "eq": "sandbox" } });
    let per_page = 2;
    let pages = walk(&app, &key, &ids, filter.clone(), per_page).await;
    assert_eq!(
        pages,
        vec![strings(&["ok-409", "no-status"]), strings(&["unavailable", "notfound"]), strings(&["deposit"])]
    );
    let data = app
        .data(
            &key,
            "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 0) { totalCount } }",
            json!({ "f": filter }),
        )
        .await;
    let total = data["auditEvents"]["totalCount"].as_u64().unwrap() as usize;
    assert_eq!(total, 5);
    assert_eq!(total.div_ceil(per_page), pages.len(), "total_pages");
    // Without a filter, totalCount counts the tenant's events (8 + the fixture's 2).
    let data = app.data(&key, "{ auditEvents(first: 1) { totalCount } }", json!({})).await;
    assert_eq!(data["auditEvents"]["totalCount"], 10);
    assert_page_size_bounded(&app, &key).await;
}

backend_tests!(
    ref000_action_eq,
    ref000_resource_type_and_id,
    ref000_status_failure,
    ref000_before_timestamp_cursor,
    ref000_limit_at_most_500,
    ref000_account_header_is_tenant,
    ref000_scoped_keys_need_audit_read,
    ref001_event_group_and_type,
    ref001_user_vm_session_relatedto,
    ref001_request_context_and_filters,
    ref001_worker_fields_in_metadata,
    ref001_validation_error_has_field_path,
    ref002_user_resource_since_until,
    ref002_total_count_and_cursor_pages,
    ref002_role_namespace_details_source_ip,
    ref003_type_prefix,
    ref003_actor_and_resource,
    ref003_opaque_cursor_and_bad_cursor,
    ref004_client_error_is_failure_with_4xx,
    ref004_environment_range_and_target,
    ref004_roles_service_reason_request,
    ref004_total_count_and_cursor_pages,
);
