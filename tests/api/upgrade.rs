//! A database created before the ledger existed upgrades: built with the
//! first two migrations only and filled the way that version stored events,
//! it is served by today's server, which numbers the old events in the order
//! they were received, builds their tree (`auditgraph verify` agrees), gives
//! them their search words in the background, and extends the same tree with
//! new events.

use auditgraph::domain::ids::{EventId, TenantId};
use chrono::{DateTime, Duration, Utc};
use migration::MigratorTrait as _;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Value as SqlValue};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, eventually};
use crate::ledger::{Hash, checkpoint, decode, merkle_root, rfc_verify_consistency, rfc_verify_inclusion};
use crate::process::WorkDir;

backend_tests!(a_database_from_before_the_ledger_upgrades);

/// Migrations of the schema before the ledger (`m20261123_000001`, `_000002`).
const PRE_LEDGER_MIGRATIONS: u32 = 2;
const EVENTS: usize = 60;

/// What the old database holds: its tenant and its events' IDs in the order
/// they were received (ties broken by ID), which is the order they must be numbered in.
struct Legacy {
    tenant: Uuid,
    received_order: Vec<Uuid>,
}

async fn insert(db: &DatabaseConnection, table: &str, columns: &[&str], rows: Vec<Vec<SqlValue>>) {
    let mut insert = Query::insert();
    insert.into_table(Alias::new(table)).columns(columns.iter().map(|c| Alias::new(*c)));
    for row in rows {
        insert.values_panic(row.into_iter().map(Into::into));
    }
    db.execute_raw(db.get_database_backend().build(&insert)).await.unwrap();
}

/// A database at the pre-ledger schema with a tenant, its actors and
/// resources, and events stored in an order other than the one they were
/// received in, two of them received at the same instant.
async fn legacy_database(url: &str) -> Legacy {
    let db = Database::connect(url).await.unwrap();
    migration::Migrator::up(&db, Some(PRE_LEDGER_MIGRATIONS)).await.unwrap();
    let tables = ["ledger_head", "ledger_hash", "event_stream"];
    for table in tables {
        let probe = db.execute_unprepared(&format!("SELECT 1 FROM {table}")).await;
        assert!(probe.is_err(), "{table} exists before the ledger's migration");
    }
    let start: DateTime<Utc> = "2025-03-01T09:00:00.123456Z".parse().unwrap();
    let tenant = Uuid::now_v7();
    insert(
        &db,
        "tenant",
        &["id", "slug", "name", "created_at"],
        vec![vec![tenant.into(), "legacy".into(), "Legacy Inc.".into(), start.into()]],
    )
    .await;
    let actors: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let columns =
        ["id", "tenant_id", "type", "external_id", "display_name", "email", "roles", "created_at", "updated_at"];
    let rows = actors
        .iter()
        .enumerate()
        .map(|(i, id)| {
            vec![
                (*id).into(),
                tenant.into(),
                "USER".into(),
                format!("u-{i}").into(),
                Some(format!("User, \"{i}\"")).into(),
                Some(format!("u{i}@example.com")).into(),
                Some(json!(["admin", format!("team-{i}")])).into(),
                start.into(),
                start.into(),
            ]
        })
        .collect();
    insert(&db, "actor", &columns, rows).await;
    let resources: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let columns = ["id", "tenant_id", "type", "external_id", "name", "created_at", "updated_at"];
    let rows = resources
        .iter()
        .enumerate()
        .map(|(i, id)| {
            vec![
                (*id).into(),
                tenant.into(),
                (if i == 0 { "workspace" } else { "document" }).into(),
                format!("r-{i}").into(),
                Some(format!("Resource {i}")).into(),
                start.into(),
                start.into(),
            ]
        })
        .collect();
    insert(&db, "resource", &columns, rows).await;

    // Event i was received at `start + (EVENTS - i) ms`, except that the last
    // two share an instant: stored newest first, so that numbering by storage
    // order would be wrong.
    let ids: Vec<Uuid> = (0..EVENTS).map(|_| Uuid::now_v7()).collect();
    let received = |i: usize| start + Duration::milliseconds((EVENTS - i.min(EVENTS - 2)) as i64);
    let columns = [
        "id",
        "tenant_id",
        "action",
        "category",
        "outcome",
        "occurred_at",
        "received_at",
        "actor_id",
        "resource_id",
        "summary",
        "reason",
        "error_message",
        "environment",
        "source_service",
        "correlation_id",
        "has_request",
        "request_id",
        "request_method",
        "request_path",
        "request_status",
        "request_latency_ms",
        "request_ip",
        "request_user_agent",
        "metadata",
        "changes",
        "idempotency_key",
        "search_text",
    ];
    let mut rows = Vec::new();
    let mut links = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let action = format!("document.edit.v{}", i % 5);
        let summary = format!("Edited, \"{i}\"");
        let with_request = i % 2 == 0;
        rows.push(vec![
            (*id).into(),
            tenant.into(),
            action.clone().into(),
            "document".into(),
            if i % 7 == 0 { "FAILURE" } else { "SUCCESS" }.into(),
            (received(i) - Duration::seconds(1)).into(),
            received(i).into(),
            actors[i % actors.len()].into(),
            Some(resources[1 + i % 3]).into(),
            Some(summary.clone()).into(),
            None::<String>.into(),
            (i % 7 == 0).then(|| "denied".to_string()).into(),
            Some("production".to_string()).into(),
            Some("editor".to_string()).into(),
            Some(format!("corr-{}", i / 10)).into(),
            with_request.into(),
            with_request.then(|| format!("req-{i}")).into(),
            with_request.then(|| "PATCH".to_string()).into(),
            with_request.then(|| format!("/docs/{i}")).into(),
            with_request.then_some(200i32).into(),
            with_request.then_some(12.5f64).into(),
            with_request.then(|| "10.0.0.7".to_string()).into(),
            None::<String>.into(),
            json!({ "i": i, "note": "a, \"b\"\nc" }).into(),
            json!([{ "field": "title", "before": "old", "after": format!("new {i}") }]).into(),
            Some(format!("legacy-{i}")).into(),
            format!("{action}\n{}", summary.to_lowercase()).into(),
        ]);
        links.push(vec![(*id).into(), 0i16.into(), tenant.into(), resources[1 + i % 3].into()]);
        links.push(vec![(*id).into(), 1i16.into(), tenant.into(), resources[0].into()]);
    }
    rows.reverse();
    insert(&db, "audit_event", &columns, rows).await;
    insert(&db, "event_resource", &["event_id", "position", "tenant_id", "resource_id"], links).await;
    db.close().await.unwrap();

    let mut received_order: Vec<(DateTime<Utc>, Uuid)> =
        ids.iter().enumerate().map(|(i, id)| (received(i), *id)).collect();
    received_order.sort();
    Legacy { tenant, received_order: received_order.into_iter().map(|(_, id)| id).collect() }
}

async fn a_database_from_before_the_ledger_upgrades(backend: Backend) {
    let db = TestDb::new(backend).await;
    let url = db.url.clone();
    let legacy = legacy_database(&url).await;
    // The server migrates and builds the old events' tree before it serves.
    let mut app = TestApp::spawn_on(db, &url).await;
    let dir = WorkDir::new();
    let verify = ["verify", "--tenant", "legacy", "--database-url", url.as_str()];
    let out = dir.run(&verify);
    assert!(
        out.starts_with(&format!("verified {EVENTS} events of tenant legacy against its tree of size {EVENTS}")),
        "{out}"
    );

    let key = app.key_in(TenantId(legacy.tenant), "audit.read,audit.write").await;
    let q = "{ auditEvents(first: 100, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { id sequence action leafHash recordedActor { externalId displayName roles } relatedResources { externalId } } } }";
    let data = app.data(&key, q, json!({})).await;
    let nodes = data["auditEvents"]["nodes"].as_array().unwrap();
    let old = &nodes[..EVENTS];
    let ids: Vec<&str> = old.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = legacy.received_order.iter().map(|id| EventId(*id).to_string()).collect();
    assert_eq!(ids, expected, "numbered in the order received");
    let sequences: Vec<String> = old.iter().map(|n| n["sequence"].as_str().unwrap().to_string()).collect();
    assert_eq!(sequences, (1..=EVENTS).map(|s| s.to_string()).collect::<Vec<_>>());
    // Their recorded actor is the best record there is: the actor's row.
    assert!(old.iter().all(|n| n["recordedActor"]["displayName"].as_str().unwrap().starts_with("User, \"")), "{old:?}");
    assert!(
        old.iter()
            .all(|n| n["recordedActor"]["roles"][0] == "admin" && n["relatedResources"][0]["externalId"] == "r-0")
    );
    // Stored without words, they get theirs in the background: the summary's
    // and the resources' names (two texts, both words required).
    let search = r#"{ auditEvents(filter: {search: "edited resource"}) { totalCount } }"#;
    eventually(std::time::Duration::from_secs(30), "the old events' words", async || {
        app.data(&key, search, json!({})).await["auditEvents"]["totalCount"] == EVENTS
    })
    .await;
    // The key created since is the tree's next leaf.
    assert_eq!(nodes[EVENTS]["sequence"], (EVENTS + 1).to_string());
    let old_root = merkle_root(&old.iter().map(|n| decode(&n["leafHash"])).collect::<Vec<Hash>>());

    // New events extend the same tree: a consistency proof from the old tree
    // to the new one verifies, and so do the old events' inclusion proofs.
    let events: Vec<Value> = (0..40).map(|i| crate::helpers::event(&format!("document.new.e{i}"))).collect();
    app.record(&key, json!(events)).await;
    let (size, root, _) = checkpoint(&app, &key).await;
    assert_eq!(size, EVENTS as u64 + 41);
    let cq = "query($f: BigInt!) { ledger { consistencyProof(fromSize: $f) } }";
    let proof = app.data(&key, cq, json!({ "f": EVENTS })).await["ledger"]["consistencyProof"].clone();
    let proof: Vec<Hash> = proof.as_array().unwrap().iter().map(decode).collect();
    assert!(rfc_verify_consistency(EVENTS as u64, size, old_root, root, &proof), "the new tree extends the old");
    let pq = "{ auditEvents(first: 60, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { sequence leafHash inclusionProof { treeSize hashes } } } }";
    for n in app.data(&key, pq, json!({})).await["auditEvents"]["nodes"].as_array().unwrap() {
        let seq: u64 = n["sequence"].as_str().unwrap().parse().unwrap();
        let path: Vec<Hash> = n["inclusionProof"]["hashes"].as_array().unwrap().iter().map(decode).collect();
        assert!(rfc_verify_inclusion(seq - 1, size, decode(&n["leafHash"]), &path, root), "leaf {seq}");
    }

    // Stopping persists a checkpoint; the whole log verifies against it.
    app.stop().await;
    let out = dir.run(&verify);
    assert!(
        out.starts_with(&format!("verified {size} events of tenant legacy against its tree of size {size}")),
        "{out}"
    );
    assert!(!out.contains(" 0 persisted checkpoints"), "{out}");
}
