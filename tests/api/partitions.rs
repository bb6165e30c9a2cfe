//! Time partitions on PostgreSQL: the months made ahead at start-up and
//! guarded like the tables, a month made for an event whatever its clock says,
//! the conversion of a database holding events, and retention dropping whole
//! months (never while a tenant keeps events in them, never blocking ingest)
//! with the ledger still verifying.

use chrono::{DateTime, Months, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, new_event, postgres_url, record_at};
use crate::ledger::batch;
use crate::process::{Server, WorkDir};
use auditgraph::bus::Bus;
use auditgraph::config::ServeSettings;
use auditgraph::domain::event::{NewEvent, NewResource};
use auditgraph::domain::ids::TenantId;
use auditgraph::domain::scope::Scopes;
use auditgraph::service;
use auditgraph::service::retention;
use auditgraph::service::self_audit::Acting;
use auditgraph::store::partitions::MONTHS_AHEAD;
use auditgraph::store::{Store, tenants};

/// Purges at once, whatever the grace period of changed settings.
const IGNORE_GRACE: retention::PurgeOptions = retention::PurgeOptions { dry_run: false, grace: None };

/// Skips a test when no PostgreSQL URL is given.
macro_rules! postgres_only {
    () => {
        if postgres_url().is_none() {
            eprintln!("PostgreSQL URL not set: skipped");
            return;
        }
    };
}

fn month(at: DateTime<Utc>) -> String {
    at.format("%Y_%m").to_string()
}

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

/// The attached partitions of `parent`, by name.
async fn partitions_of(db: &DatabaseConnection, parent: &str) -> Vec<String> {
    strings(
        db,
        &format!("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = '{parent}'::regclass ORDER BY 1"),
    )
    .await
}

async fn table_exists(db: &DatabaseConnection, name: &str) -> bool {
    strings(db, &format!("SELECT coalesce(to_regclass('{name}')::text, '')")).await[0] == name
}

/// `n` events as a producer sends them, each about its own document and a
/// shared VM, with an idempotency key.
fn sent(prefix: &str, n: usize, occurred_at: DateTime<Utc>) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent {
            occurred_at,
            resource: Some(NewResource { kind: "doc".into(), external_id: format!("{prefix}-d{i}"), name: None }),
            related_resources: vec![NewResource { kind: "vm".into(), external_id: "vm-1".into(), name: None }],
            idempotency_key: Some(format!("{prefix}-{i}")),
            ..new_event(&format!("{prefix}.event"), &format!("u{}", i % 3))
        })
        .collect()
}

/// Records `n` events as the server does, but as received at `at`.
async fn record_received(store: &Store, tenant: TenantId, prefix: &str, n: usize, at: DateTime<Utc>) {
    let txn = store.db().begin().await.unwrap();
    auditgraph::service::recording::record_in(&txn, store.master_key().unwrap(), tenant, sent(prefix, n, at), at)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// A tenant whose log starts with events received long ago: made without its
/// `tenant.create` event, so that `history` (events, received at) comes first.
async fn tenant_with_history(app: &TestApp, slug: &str, history: &[(usize, DateTime<Utc>)]) -> TenantId {
    let tenant = tenants::insert(app.store.db(), slug, slug, Utc::now()).await.unwrap().id;
    for (n, (count, at)) in history.iter().enumerate() {
        record_received(&app.store, tenant, &format!("{slug}.old{n}"), *count, *at).await;
    }
    tenant
}

async fn total(app: &TestApp, key: &str) -> u64 {
    app.data(key, "{ auditEvents { totalCount } }", json!({})).await["auditEvents"]["totalCount"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_are_made_ahead_and_guarded_like_the_tables() {
    postgres_only!();
    let app = TestApp::spawn(Backend::Postgres).await;
    let db = app.store.db();
    let now = Utc::now();
    let expected: Vec<String> =
        (0..=MONTHS_AHEAD).map(|k| month(now.checked_add_months(Months::new(k)).unwrap())).collect();
    for parent in ["audit_event", "event_resource"] {
        let names: Vec<String> = expected.iter().map(|m| format!("{parent}_p{m}")).collect();
        assert_eq!(partitions_of(db, parent).await, names, "this month and {MONTHS_AHEAD} ahead");
    }
    // No DEFAULT partition: it would forbid detaching months concurrently.
    let defaults = strings(db, "SELECT partdefid::regclass::text FROM pg_partitioned_table WHERE partdefid <> 0").await;
    assert!(defaults.is_empty(), "{defaults:?}");

    // Each month refuses what the tables refuse, TRUNCATE included (a
    // statement trigger on the parent does not cover its partitions).
    let key = app.key("audit.read,audit.write").await;
    app.record(
        &key,
        json!([{ "action": "kept.event", "actor": { "type": "USER", "externalId": "u" },
                              "resource": { "type": "doc", "externalId": "d" } }]),
    )
    .await;
    let this_month = &expected[0];
    for sql in [
        format!("UPDATE audit_event_p{this_month} SET action = 'forged'"),
        format!("DELETE FROM audit_event_p{this_month}"),
        format!("TRUNCATE audit_event_p{this_month}"),
        format!("UPDATE event_resource_p{this_month} SET position = 9"),
        format!("DELETE FROM event_resource_p{this_month}"),
        format!("TRUNCATE event_resource_p{this_month}"),
    ] {
        let err = db.execute_unprepared(&sql).await.expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(total(&app, &key).await, 3, "tenant.create, api_key.create and the event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_outside_the_months_made_gets_its_month() {
    postgres_only!();
    let app = TestApp::spawn(Backend::Postgres).await;
    let key = app.key("audit.read,audit.write").await;
    // A clock far behind and one far ahead: recording makes their months.
    let (past, future) = (utc(1999, 12, 31), utc(2299, 1, 1));
    record_received(&app.store, app.tenant, "behind", 3, past).await;
    record_received(&app.store, app.tenant, "ahead", 2, future).await;
    let db = app.store.db();
    for parent in ["audit_event", "event_resource"] {
        let names = partitions_of(db, parent).await;
        for m in [month(past), month(future)] {
            assert!(names.contains(&format!("{parent}_p{m}")), "{parent}_p{m} in {names:?}");
        }
    }
    let d = app
        .data(
            &key,
            "query($f: AuditEventFilter) { auditEvents(filter: $f, orderBy: {field: RECEIVED_AT, direction: ASC}) { nodes { action receivedAt resource { externalId } } } }",
            json!({ "f": { "receivedAt": { "lt": "2000-01-01T00:00:00Z" } } }),
        )
        .await;
    let nodes = d["auditEvents"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{d}");
    assert_eq!(nodes[0]["receivedAt"], "1999-12-31T12:00:00Z");
    assert_eq!(nodes[0]["resource"]["externalId"], "behind-d0", "links are found in their month too");
    assert_eq!(total(&app, &key).await, 1 + 1 + 3 + 2);
    let dir = WorkDir::new();
    let out = dir.run(&["verify", "--tenant", "acme", "--database-url", app.db_url.as_str()]);
    assert!(out.contains("verified 7 events"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_converts_a_database_holding_events() {
    postgres_only!();
    let db = TestDb::new(Backend::Postgres).await;
    // The database as the previous release left it.
    let conn = Database::connect(&db.url).await.unwrap();
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261129_000040_partitions")
        .expect("the partitioning migration");
    Migrator::up(&conn, Some(before as u32)).await.unwrap();
    assert!(strings(&conn, "SELECT relname::text FROM pg_class WHERE relkind = 'p'").await.is_empty());
    // Events are recorded by the store's own recording path, which on the
    // plain tables writes the rows the previous release wrote; it also asks
    // for its month, which the plain tables do not have: a no-op stands in.
    conn.execute_unprepared("CREATE FUNCTION auditgraph_ensure_partition(timestamptz) RETURNS void LANGUAGE sql AS ''")
        .await
        .unwrap();
    // It also writes each event's words, a column of a later migration: it
    // stands in too, and goes before the server starts.
    conn.execute_unprepared("ALTER TABLE audit_event ADD COLUMN search_words text NOT NULL DEFAULT ''").await.unwrap();
    // And the data keys of the actors whose names it seals (the tenant's and
    // key's records name the command line).
    conn.execute_unprepared(
        "CREATE TABLE data_key (actor_id uuid PRIMARY KEY, tenant_id uuid NOT NULL, wrapped text NOT NULL,
                                created_at timestamptz NOT NULL)",
    )
    .await
    .unwrap();
    // And the counts per day it keeps.
    conn.execute_unprepared(
        "CREATE TABLE audit_event_day_count (tenant_id uuid, dimension smallint, day bigint, key text, n bigint,
                                             PRIMARY KEY (tenant_id, dimension, day, key))",
    )
    .await
    .unwrap();
    let store = Store::connect(&ServeSettings::for_url(&db.url).db, Default::default()).await.unwrap();
    store.install_master_key(auditgraph::domain::data_key::MasterKey::generate());
    let bus = Bus::new(1);
    let tenant = service::tenants::create_tenant(&store, &bus, "acme", None, Acting::System).await.unwrap().id;
    let scopes = Scopes::parse_list("audit.read,audit.write", "scopes").unwrap();
    let (_, key) = service::keys::create_key(&store, &bus, tenant, "k", scopes, Acting::System).await.unwrap();
    // Instants as the server takes them: in microseconds.
    let now = store.now();
    let (older, old) = (now - chrono::Duration::days(120), now - chrono::Duration::days(60));
    record_received(&store, tenant, "older", 30, older).await;
    record_received(&store, tenant, "old", 20, old).await;
    store.db().clone().close().await.unwrap();
    conn.execute_unprepared("DROP FUNCTION auditgraph_ensure_partition(timestamptz)").await.unwrap();
    conn.execute_unprepared("ALTER TABLE audit_event DROP COLUMN search_words").await.unwrap();
    conn.execute_unprepared("DROP TABLE data_key, audit_event_day_count").await.unwrap();
    let links_before = strings(&conn, "SELECT count(*)::text FROM event_resource").await;

    // The real server converts it on start.
    let dir = WorkDir::new();
    let server = Server::start(&dir, &db.url).await;
    let partitioned = strings(&conn, "SELECT relname::text FROM pg_class WHERE relkind = 'p' ORDER BY 1").await;
    assert_eq!(partitioned, ["audit_event", "event_resource"]);
    assert!(!table_exists(&conn, "audit_event_unpartitioned").await);
    let months = partitions_of(&conn, "audit_event").await;
    for at in [older, old, now] {
        assert!(months.contains(&format!("audit_event_p{}", month(at))), "{months:?}");
    }
    assert_eq!(strings(&conn, "SELECT count(*)::text FROM event_resource").await, links_before, "every link moved");
    let stale = strings(&conn, "SELECT count(*)::text FROM event_resource l JOIN audit_event e ON e.id = l.event_id AND e.received_at <> l.received_at").await;
    assert_eq!(stale, ["0"], "each link sits in its event's month");
    assert_eq!(crate::stats::day_counts_differ(&conn).await, 0, "the events recorded before are counted per day");

    let recorded = 2 + 30 + 20;
    let out = dir.run(&["verify", "--tenant", "acme", "--database-url", &db.url]);
    assert!(out.contains(&format!("verified {recorded} events")), "{out}");
    let d = server.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(d["auditEvents"]["totalCount"], recorded);
    let d =
        server.data(&key, r#"{ auditEvents(filter: {relatedTo: {type: ["vm"]}}) { totalCount } }"#, json!({})).await;
    assert_eq!(d["auditEvents"]["totalCount"], 50, "found through the moved links");

    // Idempotency keys stored before still hold, and new events land.
    let record = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount duplicateCount events { sequence } } }";
    let again =
        json!([{ "action": "old.event", "actor": { "type": "USER", "externalId": "u0" }, "idempotencyKey": "old-0" }]);
    let d = server.data(&key, record, json!({ "e": again })).await;
    assert_eq!(d["recordAuditEvents"]["duplicateCount"], 1, "{d}");
    let fresh = json!([{ "action": "after.migration", "actor": { "type": "USER", "externalId": "u0" } }]);
    let d = server.data(&key, record, json!({ "e": fresh })).await;
    assert_eq!(d["recordAuditEvents"]["createdCount"], 1, "{d}");
    assert_eq!(d["recordAuditEvents"]["events"][0]["sequence"], (recorded + 1).to_string());
    let out = dir.run(&["verify", "--tenant", "acme", "--database-url", &db.url]);
    assert!(out.contains(&format!("verified {} events", recorded + 1)), "{out}");
    drop(server);
    conn.close().await.unwrap();
}

/// The purges recorded in the tenant (by a key of it), with their metadata.
async fn purges(app: &TestApp, key: &str) -> Vec<Value> {
    let d = app
        .data(key, r#"{ auditEvents(filter: {action: {eq: "retention.purge"}}) { nodes { metadata } } }"#, json!({}))
        .await;
    d["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["metadata"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purge_drops_months_that_hold_only_purged_events() {
    postgres_only!();
    let app = TestApp::spawn(Backend::Postgres).await;
    let (jan, feb, mar) = (utc(2025, 1, 10), utc(2025, 2, 10), utc(2025, 3, 10));
    // `old` keeps 30 days; January holds only its events, February also
    // events kept forever, March events of a tenant on legal hold.
    let old = tenant_with_history(&app, "old", &[(20, jan), (10, feb)]).await;
    let forever = tenant_with_history(&app, "forever", &[(5, feb)]).await;
    let held = tenant_with_history(&app, "held", &[(5, mar)]).await;
    let key = app.key_in(old, "audit.read,audit.write").await;
    app.record(&key, batch("recent", 5)).await;
    let dir = WorkDir::new();
    let url = app.db_url.as_str();
    dir.run(&["tenant", "retention", "old", "--days", "30", "--database-url", url]);
    dir.run(&["tenant", "retention", "held", "--days", "30", "--legal-hold", "on", "--database-url", url]);

    let dry = dir.run(&["purge", "--dry-run", "--ignore-grace", "--database-url", url]);
    assert!(dry.contains("would drop partition audit_event_p2025_01 (events received from 2025-01-01T00:00:00+00:00 to 2025-02-01T00:00:00+00:00): 20 events"), "{dry}");
    assert!(dry.contains("old: would purge 30 events"), "{dry}");
    assert!(!dry.contains("p2025_02") && !dry.contains("p2025_03") && !dry.contains("held"), "{dry}");
    let db = app.store.db();
    assert!(table_exists(db, "audit_event_p2025_01").await, "a dry run changes nothing");

    let out = dir.run(&["purge", "--ignore-grace", "--database-url", url]);
    assert!(out.contains("dropped partition audit_event_p2025_01"), "{out}");
    assert!(out.contains("old: purged 30 events"), "{out}");
    for gone in ["audit_event_p2025_01", "event_resource_p2025_01"] {
        assert!(!table_exists(db, gone).await, "{gone} dropped");
    }
    for kept in ["audit_event_p2025_02", "event_resource_p2025_02", "audit_event_p2025_03", "event_resource_p2025_03"] {
        assert!(partitions_of(db, &kept[..kept.find("_p").unwrap()]).await.contains(&kept.to_string()), "{kept}");
    }
    // The rest of `old`'s prefix went row by row, links included; the other
    // tenants lost nothing.
    let left = |tenant: TenantId, table: &str| {
        format!("SELECT count(*)::text FROM {table} WHERE tenant_id = '{}' AND received_at < '2025-04-01'", tenant.0)
    };
    assert_eq!(strings(db, &left(old, "audit_event")).await, ["0"]);
    assert_eq!(strings(db, &left(old, "event_resource")).await, ["0"]);
    assert_eq!(strings(db, &left(forever, "audit_event")).await, ["5"]);
    assert_eq!(strings(db, &left(held, "audit_event")).await, ["5"]);
    assert_eq!(crate::stats::day_counts_differ(db).await, 0, "the counts per day lost the month with it");

    // Recorded once, as when rows are deleted; and the ledger still verifies.
    let recorded = purges(&app, &key).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["count"], 30);
    assert_eq!(recorded[0]["throughSequence"], "30");
    assert_eq!(recorded[0]["retentionDays"], 30);
    let out = dir.run(&["verify", "--tenant", "old", "--database-url", url]);
    assert!(out.contains("(30 purged events taken from the ledger)"), "{out}");
    // `held` also holds the record of its retention change.
    for (slug, events) in [("forever", 5), ("held", 6)] {
        let out = dir.run(&["verify", "--tenant", slug, "--database-url", url]);
        assert!(out.contains(&format!("verified {events} events")), "{out}");
    }
    assert_eq!(dir.run(&["purge", "--ignore-grace", "--database-url", url]).trim(), "nothing to purge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_goes_on_while_a_month_is_dropped() {
    postgres_only!();
    let app = TestApp::spawn(Backend::Postgres).await;
    let old = tenant_with_history(&app, "old", &[(300, utc(2025, 1, 10))]).await;
    let key = app.key_in(old, "audit.read,audit.write").await;
    let admin = app.key_in(old, "admin").await;
    app.data(
        &admin,
        "mutation { setTenantRetention(input: {tenant: \"old\", retentionDays: 30}) { retentionDays } }",
        json!({}),
    )
    .await;
    // A reader in a long transaction: the concurrent detach waits for it.
    let reader = Database::connect(&app.db_url).await.unwrap();
    let reading = reader.begin().await.unwrap();
    reading.execute_unprepared("SELECT count(*) FROM audit_event").await.unwrap();

    let store = app.store.clone();
    let purge = tokio::spawn(async move { retention::purge(&store, &Bus::new(1), Utc::now(), IGNORE_GRACE).await });
    let db = app.store.db();
    let waiting = "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database()
                   AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE \"audit_event\" DETACH PARTITION%'";
    while strings(db, waiting).await != ["1"] {
        assert!(!purge.is_finished(), "the purge ended without waiting for the reader: {:?}", purge.await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // While the detach waits, writers and readers go on.
    let dir = WorkDir::new();
    let busy = dir.run(&["purge", "--ignore-grace", "--database-url", app.db_url.as_str()]);
    assert_eq!(busy.trim(), "another purge is running; nothing done");
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (base, key) = (app.url(""), key.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for b in 0..4 {
                    let body = record_at(&client, &base, &key, batch(&format!("during.w{w}.b{b}"), 10)).await;
                    assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 10, "{body}");
                }
            })
        })
        .collect();
    let done = tokio::time::timeout(std::time::Duration::from_secs(120), futures_util::future::join_all(writers))
        .await
        .expect("writers are never held up by the purge");
    assert!(done.iter().all(Result::is_ok));
    let d = app.data(&key, r#"{ auditEvents(filter: {category: {eq: "during"}}) { totalCount } }"#, json!({})).await;
    assert_eq!(d["auditEvents"]["totalCount"], 120);
    assert!(!purge.is_finished(), "the detach still waits for the reader");

    reading.commit().await.unwrap();
    let report = purge.await.unwrap().unwrap();
    assert_eq!(report.months.len(), 1);
    assert_eq!(report.months[0].events, 300);
    assert_eq!(report.tenants[0].count, 300);
    assert!(!table_exists(db, "audit_event_p2025_01").await);
    let d = app.data(&key, r#"{ auditEvents(filter: {category: {eq: "during"}}) { totalCount } }"#, json!({})).await;
    assert_eq!(d["auditEvents"]["totalCount"], 120, "nothing recorded meanwhile was lost");
    assert_eq!(crate::stats::day_counts_differ(db).await, 0);
    app.ledger.persist_grown(&app.store).await.unwrap();
    let out = dir.run(&["verify", "--tenant", "old", "--database-url", app.db_url.as_str()]);
    assert!(out.contains("(300 purged events taken from the ledger)"), "{out}");
    reader.close().await.unwrap();
}

/// Every event a walk of `auditEvents` with `args` (written into the
/// query) lists, by action, in the order shown: forward through `after`, or
/// backward through `before` when `backward`.
async fn walk(app: &TestApp, key: &str, args: &str, backward: bool) -> Vec<String> {
    let (size, cursor, next, at) = match backward {
        false => ("first: 4", "after", "hasNextPage", "endCursor"),
        true => ("last: 4", "before", "hasPreviousPage", "startCursor"),
    };
    let query = format!(
        "query($c: String) {{ auditEvents({args}, {size}, {cursor}: $c) {{ nodes {{ action occurredAt }} pageInfo {{ {next} {at} }} }} }}"
    );
    let (mut shown, mut from) = (Vec::new(), Value::Null);
    loop {
        let d = app.data(key, &query, json!({ "c": from })).await;
        let page = &d["auditEvents"];
        let mut nodes: Vec<String> = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| format!("{} {}", n["action"].as_str().unwrap(), n["occurredAt"].as_str().unwrap()))
            .collect();
        if backward {
            nodes.append(&mut shown);
            shown = nodes;
        } else {
            shown.append(&mut nodes);
        }
        if page["pageInfo"][next] != true {
            return shown;
        }
        from = page["pageInfo"][at].clone();
    }
}

/// A `search` page on PostgreSQL reads the months of receipt newest first and
/// stops once the older ones cannot change it: walked either way, through
/// months that fill a page and months that do not, with events received now
/// that occurred years ago, it lists what the same events list without words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn word_pages_read_months_newest_first_and_miss_nothing() {
    postgres_only!();
    let app = TestApp::spawn(Backend::Postgres).await;
    let key = app.key("audit.read,audit.write").await;
    let now = Utc::now();
    for (back, n) in [(0u32, 9), (1, 2), (2, 9), (3, 1), (4, 6), (7, 3)] {
        let at = now.checked_sub_months(Months::new(back)).unwrap() - chrono::Duration::minutes(20 + back as i64);
        record_received(&app.store, app.tenant, &format!("m{back}"), n, at).await;
    }
    // More than a page received now that occurred long before the older months' events.
    let late: Vec<Value> = (0..7)
        .map(|i| format!("20{:02}-01-01T00:00:00Z", 19 + i))
        .map(|at| json!({ "action": "late.event", "occurredAt": at, "actor": { "type": "USER", "externalId": "u" } }))
        .collect();
    app.record(&key, json!(late)).await;

    let all_words = |shown: Vec<String>| -> Vec<String> {
        shown.into_iter().filter(|s| s.split(' ').next().unwrap().ends_with(".event")).collect()
    };
    for order in ["OCCURRED_AT", "RECEIVED_AT"] {
        for direction in ["DESC", "ASC"] {
            let ordered = format!("orderBy: {{field: {order}, direction: {direction}}}");
            let expected = all_words(walk(&app, &key, &ordered, false).await);
            assert_eq!(expected.len(), 9 + 2 + 9 + 1 + 6 + 3 + 7, "{order} {direction}");
            let searched = format!("filter: {{search: \"event\"}}, {ordered}");
            assert_eq!(walk(&app, &key, &searched, false).await, expected, "{order} {direction}, forward");
            assert_eq!(walk(&app, &key, &searched, true).await, expected, "{order} {direction}, backward");
        }
    }
}
