//! Alert rules: their operations and who may use them, windows per key,
//! cooldowns, `alert.fired` never counted, restarts, and replicas firing once.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, eventually};

backend_tests!(
    rules_are_managed_with_the_stream_permission,
    windows_count_per_key_and_cool_down,
    alert_fired_never_fires_a_rule,
    a_crossing_while_down_fires_once_after_a_restart,
    replicas_fire_once,
);

const FIELDS: &str =
    "id name filter query threshold windowSeconds groupBy cooldownSeconds paused lastFiredAt createdAt";

fn create_query() -> String {
    format!("mutation($i: CreateAlertRuleInput!) {{ createAlertRule(input: $i) {{ {FIELDS} }} }}")
}

/// Creates a rule through `app` with `key`; its ID.
async fn create(app: &TestApp, key: &str, input: Value) -> String {
    let data = app.data(key, &create_query(), json!({ "i": input })).await;
    data["createAlertRule"]["id"].as_str().unwrap().to_string()
}

/// The tenant's `alert.fired` events, oldest first, as `key` sees them.
async fn fired(app: &TestApp, key: &str) -> Vec<Value> {
    let q = "{ auditEvents(first: 500, filter: { action: { eq: \"alert.fired\" } }, orderBy: { field: SEQUENCE, direction: ASC }) {
        nodes { sequence metadata sourceService actor { type } resource { type externalId } } } }";
    app.data(key, q, json!({})).await["auditEvents"]["nodes"].as_array().unwrap().clone()
}

/// Records `n` events of `action` by actor `who`.
async fn record(app: &TestApp, key: &str, action: &str, who: &str, n: usize) {
    let events: Vec<Value> =
        (0..n).map(|_| json!({ "action": action, "actor": { "type": "USER", "externalId": who } })).collect();
    app.record(key, json!(events)).await;
}

/// Whether every running rule of the tenant has evaluated the whole log
/// (its own `alert.fired` events included): until more is recorded, nothing
/// more can fire.
async fn settled(app: &TestApp) -> bool {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT count(*) FROM alert_rule r WHERE r.tenant_id = $1 AND NOT r.paused AND r.evaluated_sequence < \
               (SELECT coalesce(max(e.sequence), 0) FROM audit_event e WHERE e.tenant_id = $1)";
    let db = app.store.db();
    let sql = if db.get_database_backend() == sea_orm::DbBackend::Sqlite { sql.replace("$1", "?") } else { sql.into() };
    let tenant = app.tenant.0;
    let values: Vec<sea_orm::Value> = vec![tenant.into(), tenant.into()];
    let row = db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await;
    let behind: i64 = row.unwrap().unwrap().try_get_by_index(0).unwrap();
    behind == 0
}

/// Waits up to 2 s for `n` firings and for the rules to have evaluated the
/// whole log, so that no more can come.
async fn expect_fired(app: &TestApp, key: &str, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(2), &format!("{n} alert.fired"), async || fired(app, key).await.len() >= n).await;
    eventually(Duration::from_secs(5), "the rules evaluated the whole log", async || settled(app).await).await;
    let all = fired(app, key).await;
    assert_eq!(all.len(), n, "{all:?}");
    all
}

async fn rules_are_managed_with_the_stream_permission(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.streams.max_per_tenant = 2).await;
    let key = app.key("keys.manage,audit.read").await;
    let data = app.data(&key, &create_query(), json!({ "i": { "name": "exports" } })).await;
    let rule = &data["createAlertRule"];
    assert_eq!(rule["threshold"], 1);
    assert_eq!(rule["windowSeconds"], 300);
    assert_eq!(rule["cooldownSeconds"], 3600);
    assert_eq!(rule["groupBy"], json!([]));
    assert_eq!(rule["paused"], false);
    assert_eq!(rule["lastFiredAt"], Value::Null);
    assert_eq!(rule["filter"], json!({}));
    let id = rule["id"].as_str().unwrap();
    assert!(id.starts_with("alr_"), "{id}");

    let update = format!(
        "mutation($id: ID!, $i: UpdateAlertRuleInput!) {{ updateAlertRule(id: $id, input: $i) {{ {FIELDS} }} }}"
    );
    let changed = app
        .data(&key, &update, json!({ "id": id, "i": { "name": "deletes", "paused": true, "groupBy": ["ACTOR", "ACTION"], "filter": { "action": { "eq": "doc.delete" } } } }))
        .await;
    assert_eq!(changed["updateAlertRule"]["name"], "deletes");
    assert_eq!(changed["updateAlertRule"]["paused"], true);
    assert_eq!(changed["updateAlertRule"]["groupBy"], json!(["ACTOR", "ACTION"]));
    assert_eq!(changed["updateAlertRule"]["filter"], json!({ "action": { "eq": "doc.delete" } }));
    let listed = app.data(&key, "{ alertRules { id name } }", json!({})).await;
    assert_eq!(listed["alertRules"], json!([{ "id": id, "name": "deletes" }]));
    let node =
        app.data(&key, "query($id: ID!) { node(id: $id) { ... on AlertRule { name } } }", json!({ "id": id })).await;
    assert_eq!(node["node"]["name"], "deletes");

    // Bad input names its field.
    let refused = async |input: Value| {
        let (_, body) = app.gql(&key, &create_query(), json!({ "i": input })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        body["errors"][0]["extensions"]["field"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(refused(json!({ "name": "x", "windowSeconds": 0 })).await, "input.windowSeconds");
    assert_eq!(refused(json!({ "name": "x", "windowSeconds": 86_401 })).await, "input.windowSeconds");
    assert_eq!(refused(json!({ "name": "x", "threshold": 0 })).await, "input.threshold");
    assert_eq!(refused(json!({ "name": "x", "cooldownSeconds": -1 })).await, "input.cooldownSeconds");
    assert_eq!(refused(json!({ "name": "", })).await, "input.name");
    assert_eq!(
        refused(json!({ "name": "x", "groupBy": ["ACTION", "ACTOR", "OUTCOME", "CATEGORY"] })).await,
        "input.groupBy"
    );
    assert_eq!(refused(json!({ "name": "x", "query": "action:(" })).await, "input.query");
    // The bound per tenant.
    create(&app, &key, json!({ "name": "second" })).await;
    assert_eq!(refused(json!({ "name": "third" })).await, "input");

    // Who may: keys.manage with audit.read, or admin; never a viewer token.
    for scopes in ["audit.read", "keys.manage", "audit.read,audit.write"] {
        let other = app.key(scopes).await;
        let (_, body) = app.gql(&other, "{ alertRules { id } }", json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{scopes}: {body}");
    }
    let admin = app.key("admin").await;
    assert_eq!(app.data(&admin, "{ alertRules { id } }", json!({})).await["alertRules"].as_array().unwrap().len(), 2);
    let reader = app.key("audit.read").await;
    let token = app.viewer_token(&reader, json!({}), 600).await;
    let (_, body) = app.gql(&token, "{ alertRules { id } }", json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    let deleted = app.data(&key, "mutation($id: ID!) { deleteAlertRule(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(deleted["deleteAlertRule"]["id"], id);
    let audit = app
        .data(&key, "{ auditEvents(filter: { action: { prefix: \"alert_rule.\" } }) { nodes { action } } }", json!({}))
        .await;
    let actions: Vec<&str> =
        audit["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["alert_rule.delete", "alert_rule.create", "alert_rule.update", "alert_rule.create"]);
}

async fn windows_count_per_key_and_cool_down(backend: Backend) {
    let (app, clock) = TestApp::spawn_with_clock(backend).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    let rule = create(
        &app,
        &key,
        json!({ "name": "exports", "filter": { "action": { "eq": "doc.export" } }, "threshold": 3,
                "windowSeconds": 60, "groupBy": ["ACTOR"], "cooldownSeconds": 600 }),
    )
    .await;
    record(&app, &key, "doc.export", "u-1", 2).await;
    record(&app, &key, "doc.view", "u-1", 3).await;
    // A minute and a second later the first two left the window.
    clock.advance(chrono::Duration::seconds(61));
    record(&app, &key, "doc.export", "u-1", 1).await;
    record(&app, &key, "doc.export", "u-2", 2).await;
    expect_fired(&app, &key, 0).await;

    // u-1's third export within the minute fires; u-2 has two.
    clock.advance(chrono::Duration::seconds(10));
    record(&app, &key, "doc.export", "u-1", 2).await;
    let all = expect_fired(&app, &key, 1).await;
    let f = &all[0];
    assert_eq!(f["sourceService"], "auditgraph");
    assert_eq!(f["actor"]["type"], "SYSTEM");
    assert_eq!(f["resource"], json!({ "type": "alert_rule", "externalId": rule }));
    let m = &f["metadata"];
    assert_eq!(m["rule"], rule.as_str());
    assert_eq!(m["name"], "exports");
    assert_eq!(m["count"], 3);
    let actors = app.data(&key, "{ actors(filter: { externalId: [\"u-1\"] }) { nodes { id } } }", json!({})).await;
    assert_eq!(m["key"], json!([actors["actors"]["nodes"][0]["id"]]));
    for field in ["windowStart", "windowEnd", "firstSequence", "lastSequence"] {
        assert!(m[field].is_string(), "{field}: {m}");
    }
    let rules = app.data(&key, "{ alertRules { lastFiredAt } }", json!({})).await;
    assert!(rules["alertRules"][0]["lastFiredAt"].is_string());

    // u-2 crosses on its own key; u-1 again within its cooldown does not fire.
    record(&app, &key, "doc.export", "u-2", 1).await;
    record(&app, &key, "doc.export", "u-1", 3).await;
    let all = expect_fired(&app, &key, 2).await;
    assert_eq!(all[1]["metadata"]["count"], 3);
    assert_ne!(all[1]["metadata"]["key"], m["key"]);

    // After the cooldown u-1 fires again.
    clock.advance(chrono::Duration::seconds(600));
    record(&app, &key, "doc.export", "u-1", 3).await;
    expect_fired(&app, &key, 3).await;
}

async fn alert_fired_never_fires_a_rule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    // Every event fires, with no cooldown: its own alert.fired would loop.
    create(&app, &key, json!({ "name": "everything", "cooldownSeconds": 0 })).await;
    record(&app, &key, "doc.export", "u-1", 1).await;
    expect_fired(&app, &key, 1).await;
    // Its own alert.fired was evaluated too, and fired nothing.
    assert_eq!(fired(&app, &key).await.len(), 1);
}

async fn a_crossing_while_down_fires_once_after_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    create(&app, &key, json!({ "name": "exports", "filter": { "action": { "eq": "doc.export" } }, "threshold": 3 }))
        .await;
    record(&app, &key, "doc.export", "u-1", 2).await;
    expect_fired(&app, &key, 0).await;
    app.stop().await;

    // The third export is recorded while no server runs.
    let txn = sea_orm::TransactionTrait::begin(app.store.db()).await.unwrap();
    let now = chrono::Utc::now();
    let event =
        auditgraph::domain::event::NewEvent { occurred_at: now, ..crate::helpers::new_event("doc.export", "u-1") };
    auditgraph::service::recording::record_in(&txn, app.store.master_key().unwrap(), app.tenant, vec![event], now)
        .await
        .unwrap();
    txn.commit().await.unwrap();

    app.restart(|_| {}).await;
    expect_fired(&app, &key, 1).await;
    app.restart(|_| {}).await;
    // Nothing tells when a restarted evaluator has made its first pass over
    // the rebuilt window (the log is already evaluated): give it the time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fired(&app, &key).await.len(), 1);
}

async fn replicas_fire_once(backend: Backend) {
    if backend != Backend::Postgres {
        return; // replicas share a PostgreSQL database
    }
    let fast = |s: &mut auditgraph::config::ServeSettings| s.streams.poll = Duration::from_millis(100);
    let a = TestApp::spawn_with(backend, fast).await;
    let b = a.beside(fast).await;
    let key = a.key("keys.manage,audit.read,audit.write").await;
    create(&a, &key, json!({ "name": "any five", "filter": { "action": { "prefix": "doc." } }, "threshold": 5 })).await;
    create(
        &b,
        &key,
        json!({ "name": "each action", "filter": { "action": { "prefix": "vm." } }, "groupBy": ["ACTION"] }),
    )
    .await;
    for i in 0..5 {
        record(if i % 2 == 0 { &a } else { &b }, &key, "doc.write", "u-1", 1).await;
        record(if i % 2 == 0 { &b } else { &a }, &key, &format!("vm.op{i}"), "u-1", 1).await;
    }
    let all = expect_fired(&a, &key, 6).await;
    let names: Vec<&str> = all.iter().map(|f| f["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names.iter().filter(|n| **n == "any five").count(), 1, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "each action").count(), 5, "{names:?}");
}
