//! Retention and legal hold: the purge removes a prefix of the log older than
//! the tenant's retention but for the server's own records, records it once
//! as `retention.purge`, never touches a tenant on legal hold, applies a
//! shortened retention or a lifted hold only after the grace period, loses
//! nothing recorded meanwhile, and leaves the ledger whole: checkpoints,
//! consistency proofs, the remaining events' proofs and `auditgraph verify
//! --tenant` all still hold.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, record_at};
use crate::ledger::{Hash, batch, checkpoint, decode, rfc_verify_consistency, rfc_verify_inclusion};
use crate::process::WorkDir;
use auditgraph::bus::Bus;
use auditgraph::service::retention;

backend_tests!(
    purge_removes_the_old_prefix_and_the_ledger_still_verifies,
    legal_hold_stops_the_purge,
    ingest_during_a_purge_loses_nothing,
    retention_is_set_by_admins_only,
);

const SET: &str =
    "mutation($i: SetTenantRetentionInput!) { setTenantRetention(input: $i) { slug retentionDays legalHold } }";

async fn set(app: &TestApp, admin: &str, input: Value) -> Value {
    app.data(admin, SET, json!({ "i": input })).await["setTenantRetention"].clone()
}

async fn purge_events(app: &TestApp, key: &str) -> Vec<Value> {
    let d = app
        .data(key, "{ auditEvents(filter: {action: {eq: \"retention.purge\"}}) { nodes { actor { type } sourceService metadata } } }", json!({}))
        .await;
    d["auditEvents"]["nodes"].as_array().unwrap().clone()
}

/// Purges `app`'s log now by its clock, the grace period applied.
async fn purge_now(app: &TestApp) -> retention::PurgeReport {
    let options = retention::PurgeOptions { dry_run: false, grace: Some(GRACE) };
    retention::purge(&app.store, &Bus::new(1), app.store.now(), options).await.unwrap()
}

const GRACE: Duration = Duration::hours(24);

/// The tenant's events in log order: sequence, ID and action.
async fn log(app: &TestApp, key: &str) -> Vec<(u64, String, String)> {
    let d = app
        .data(
            key,
            "{ auditEvents(first: 500, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { sequence id action } } }",
            json!({}),
        )
        .await;
    let text = |n: &Value, field: &str| n[field].as_str().unwrap().to_string();
    d["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (text(n, "sequence").parse().unwrap(), text(n, "id"), text(n, "action")))
        .collect()
}

async fn purge_removes_the_old_prefix_and_the_ledger_still_verifies(backend: Backend) {
    let (app, clock) = TestApp::spawn_with_clock(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let admin = app.key("admin").await;
    app.record(&key, batch("old", 20)).await;
    let old = log(&app, &key).await;
    let kept_days = set(&app, &admin, json!({ "tenant": "acme", "retentionDays": 1 })).await;
    assert_eq!(kept_days, json!({ "slug": "acme", "retentionDays": 1, "legalHold": false }));
    // Within the grace period the setting it replaced (forever) still holds.
    clock.advance(Duration::hours(23));
    assert!(purge_now(&app).await.is_empty(), "a shortened retention waits for the grace period");
    clock.advance(Duration::hours(2));
    app.record(&key, batch("new", 10)).await;
    app.ledger.persist_grown(&app.store).await.unwrap();
    let (size_before, root_before, _) = checkpoint(&app, &key).await;

    let purged = purge_now(&app).await.tenants;
    assert_eq!(purged.len(), 1);
    let through = old.last().unwrap().0 + 1;
    assert_eq!(purged[0].through_sequence as u64, through, "every event received before the cutoff");
    assert_eq!(purged[0].count, 20, "the producer's events, not the server's own records");

    // Gone: purged events resolve to null and leave every list.
    // The first three are the tenant's and the keys' creation.
    for (_, id, _) in old.iter().skip(3) {
        let d = app
            .data(&key, "query($id: ID!) { node(id: $id) { id } auditEvent(id: $id) { id } }", json!({ "id": id }))
            .await;
        assert_eq!(d, json!({ "node": null, "auditEvent": null }));
    }
    // What remains: the server's own records (the tenant's and the keys'
    // creation, the retention change), then everything after the prefix.
    let left = log(&app, &key).await;
    let kept: Vec<&str> = left.iter().filter(|(seq, _, _)| *seq <= through).map(|(_, _, a)| a.as_str()).collect();
    assert_eq!(kept, ["tenant.create", "api_key.create", "api_key.create", "tenant.retention.update"]);
    assert!(
        left.iter()
            .filter(|(seq, _, _)| *seq > through)
            .all(|(_, _, a)| a.starts_with("new.") || a == "retention.purge")
    );
    // Recorded once, by the system, with what it removed.
    let recorded = purge_events(&app, &key).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["actor"]["type"], "SYSTEM");
    assert_eq!(recorded[0]["sourceService"], "auditgraph");
    assert_eq!(recorded[0]["metadata"]["count"], 20);
    assert_eq!(recorded[0]["metadata"]["throughSequence"], through.to_string());
    assert!(recorded[0]["metadata"]["before"].is_string());
    // A second run has nothing left to do and records nothing: the records of
    // the change and of the purge are never purged.
    clock.advance(Duration::days(3));
    let again = purge_now(&app).await;
    assert_eq!(again.tenants.iter().map(|t| t.count).sum::<i64>(), 10, "the new events' turn came");
    let left = log(&app, &key).await;
    let actions: Vec<&str> = left.iter().map(|(_, _, a)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "api_key.create",
            "api_key.create",
            "tenant.retention.update",
            "retention.purge",
            "retention.purge"
        ]
    );

    // The ledger is whole: the size counts every event ever recorded, the new
    // tree extends the old one, and the remaining events' proofs verify.
    let (size, root, _) = checkpoint(&app, &key).await;
    assert_eq!(size, size_before + 2, "the purge events themselves were appended");
    let d = app
        .data(&key, "query($f: BigInt!) { ledger { consistencyProof(fromSize: $f) } }", json!({ "f": size_before }))
        .await;
    let proof: Vec<Hash> = d["ledger"]["consistencyProof"].as_array().unwrap().iter().map(decode).collect();
    assert!(rfc_verify_consistency(size_before, size, root_before, root, &proof));
    let d = app
        .data(&key, "{ auditEvents(first: 500) { nodes { sequence leafHash inclusionProof { hashes } } } }", json!({}))
        .await;
    for n in d["auditEvents"]["nodes"].as_array().unwrap() {
        let seq: u64 = n["sequence"].as_str().unwrap().parse().unwrap();
        let path: Vec<Hash> = n["inclusionProof"]["hashes"].as_array().unwrap().iter().map(decode).collect();
        assert!(rfc_verify_inclusion(seq - 1, size, decode(&n["leafHash"]), &path, root), "leaf {seq}");
    }
    app.ledger.persist_grown(&app.store).await.unwrap();
    let dir = WorkDir::new();
    let out = dir.run(&["verify", "--tenant", "acme", "--database-url", app.db_url.as_str()]);
    assert!(out.contains("verified 6 events") && out.contains("30 purged events"), "{out}");
}

async fn total(app: &TestApp, key: &str) -> Value {
    app.data(key, "{ auditEvents { totalCount } }", json!({})).await["auditEvents"]["totalCount"].clone()
}

/// The tenant's events the purge may remove: all but the server's own records.
async fn producers_events(app: &TestApp, key: &str) -> u64 {
    let query = r#"{ auditEvents(filter: {not: {sourceService: {eq: "auditgraph"}}}) { totalCount } }"#;
    app.data(key, query, json!({})).await["auditEvents"]["totalCount"].as_u64().unwrap()
}

async fn legal_hold_stops_the_purge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("held", 5)).await;
    let dir = WorkDir::new();
    let db = app.db_url.as_str();
    dir.run(&["tenant", "retention", "acme", "--days", "0", "--legal-hold", "on", "--database-url", db]);
    for purge in [&["purge", "--database-url", db][..], &["purge", "--ignore-grace", "--database-url", db]] {
        assert_eq!(dir.run(purge).trim(), "nothing to purge");
    }
    assert!(purge_events(&app, &key).await.is_empty());

    // Off hold: within the grace period the hold still protects; an operator
    // may override it: a dry run says what would go and removes nothing; then
    // it goes, but for the server's own records.
    dir.run(&["tenant", "retention", "acme", "--legal-hold", "off", "--database-url", db]);
    assert_eq!(dir.run(&["purge", "--database-url", db]).trim(), "nothing to purge");
    let before = total(&app, &key).await;
    let due = producers_events(&app, &key).await;
    assert_eq!(due, 5);
    let dry = dir.run(&["purge", "--dry-run", "--ignore-grace", "--database-url", db]);
    assert!(dry.contains(&format!("acme: would purge {due} events")), "{dry}");
    assert_eq!(total(&app, &key).await, before);
    let out = dir.run(&["purge", "--ignore-grace", "--database-url", db]);
    assert!(out.contains(&format!("acme: purged {due} events")), "{out}");
    assert_eq!(producers_events(&app, &key).await, 0);
    // Who changed what, and the purge, stay on record.
    let d = app
        .data(
            &key,
            r#"{ auditEvents(first: 20, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { action metadata } } }"#,
            json!({}),
        )
        .await;
    let nodes = d["auditEvents"]["nodes"].as_array().unwrap();
    let changes: Vec<&Value> =
        nodes.iter().filter(|n| n["action"] == "tenant.retention.update").map(|n| &n["metadata"]).collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["before"], json!({ "retentionDays": null, "legalHold": false }));
    assert_eq!(changes[0]["after"], json!({ "retentionDays": 0, "legalHold": true }));
    assert_eq!(changes[1]["after"], json!({ "retentionDays": 0, "legalHold": false }));
    assert_eq!(nodes.iter().filter(|n| n["action"] == "retention.purge").count(), 1);
    // Keep forever: nothing more goes.
    dir.run(&["tenant", "retention", "acme", "--forever", "--database-url", db]);
    assert_eq!(dir.run(&["purge", "--ignore-grace", "--database-url", db]).trim(), "nothing to purge");
}

async fn ingest_during_a_purge_loses_nothing(backend: Backend) {
    let (app, clock) = TestApp::spawn_with_clock(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for b in 0..4 {
        app.record(&key, batch(&format!("bulk{b}"), 250)).await;
    }
    let admin = app.key("admin").await;
    set(&app, &admin, json!({ "tenant": "acme", "retentionDays": 0 })).await;
    clock.advance(GRACE + Duration::seconds(1));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, key) = (app.url(""), key.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for b in 0..5 {
                    let body = record_at(&client, &base, &key, batch(&format!("during.w{w}.b{b}"), 20)).await;
                    assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 20, "{body}");
                }
            })
        })
        .collect();
    // The cutoff: what was received before the writers began.
    let options = retention::PurgeOptions { dry_run: false, grace: Some(GRACE) };
    let purged = retention::purge(&app.store, &Bus::new(1), app.store.now(), options).await.unwrap().tenants;
    for w in writers {
        w.await.unwrap();
    }
    assert!(purged[0].count >= 1_000);
    let d = app.data(&key, "{ auditEvents(filter: {category: {eq: \"during\"}}) { totalCount } }", json!({})).await;
    assert_eq!(d["auditEvents"]["totalCount"], 400, "every event recorded during the purge is kept");
    let d = app.data(&key, "{ auditEvents(filter: {action: {prefix: \"bulk\"}}) { totalCount } }", json!({})).await;
    assert_eq!(d["auditEvents"]["totalCount"], 0);
}

async fn retention_is_set_by_admins_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.key("admin").await;
    let manager = app.key("keys.manage,audit.read").await;
    let (_, body) = app.gql(&manager, SET, json!({ "i": { "tenant": "acme", "retentionDays": 30 } })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    for (input, field) in [
        (json!({ "tenant": "acme", "retentionDays": -1 }), "input.retentionDays"),
        (json!({ "tenant": "acme", "retentionDays": 40_000 }), "input.retentionDays"),
        (json!({ "tenant": "nope", "retentionDays": 1 }), "input.tenant"),
    ] {
        let (_, body) = app.gql(&admin, SET, json!({ "i": input })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(set(&app, &admin, json!({ "tenant": "acme", "retentionDays": 30 })).await["retentionDays"], 30);
    // A field left out stays; null days keeps forever.
    let held = set(&app, &admin, json!({ "tenant": "acme", "legalHold": true })).await;
    assert_eq!(held, json!({ "slug": "acme", "retentionDays": 30, "legalHold": true }));
    let forever = set(&app, &admin, json!({ "tenant": "acme", "retentionDays": null })).await;
    assert_eq!(forever, json!({ "slug": "acme", "retentionDays": null, "legalHold": true }));
    let d = app.data(&admin, "{ viewer { tenant { retentionDays legalHold } } }", json!({})).await;
    assert_eq!(d["viewer"]["tenant"], json!({ "retentionDays": null, "legalHold": true }));
}
