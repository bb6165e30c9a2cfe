//! SQLite's index of the words (FTS5, `audit_event_words`): a one-word
//! search reads it, and it stays in step with the events through recording,
//! edits with the guards off, the retention purge and an erasure (FTS5's own
//! integrity check compares it with the events' words), an erased word
//! leaving no trace in it.

use auditgraph::bus::Bus;
use auditgraph::domain::cursor::{EventOrder, OrderField, SortDirection};
use auditgraph::domain::filter::{Condition, Filter};
use auditgraph::domain::page::PageArgs;
use auditgraph::domain::selection::Detail;
use auditgraph::domain::words;
use auditgraph::service::retention;
use auditgraph::store::events;
use chrono::Duration;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp};
use crate::ledger::tamper;

/// Fails unless the index holds exactly the events' words.
pub async fn check_integrity(app: &TestApp) {
    app.store
        .db()
        .execute_unprepared("INSERT INTO audit_event_words(audit_event_words, rank) VALUES ('integrity-check', 1)")
        .await
        .expect("the word index matches the events");
}

/// The query plan of the first page of `search`.
async fn plan(app: &TestApp, search: &str) -> String {
    let filter = Filter::Cond(Condition::Search(words::terms("search", search).unwrap()));
    let order = EventOrder { field: OrderField::OccurredAt, direction: SortDirection::Desc };
    let page = PageArgs { first: Some(50), ..Default::default() }
        .into_page(|_, _| Ok((chrono::Utc::now().timestamp_micros(), Uuid::nil())))
        .unwrap();
    let built =
        DbBackend::Sqlite.build(&events::page_query(app.tenant, &filter, order, &page, Detail::ALL, DbBackend::Sqlite));
    let explain = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {}", built.sql),
        built.values.map(|v| v.0).unwrap_or_default(),
    );
    let rows = app.store.db().query_all_raw(explain).await.unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect::<Vec<_>>().join("\n")
}

async fn matching(app: &TestApp, key: &str, search: &str) -> i64 {
    let d =
        app.data(key, "query($s: String) { auditEvents(filter: {search: $s}) { totalCount } }", json!({ "s": search }));
    d.await["auditEvents"]["totalCount"].as_i64().unwrap()
}

fn events_about(word: &str, n: usize) -> Value {
    let actor = json!({ "type": "USER", "externalId": "u-1" });
    json!(
        (0..n)
            .map(|i| json!({ "action": "doc.edit", "actor": actor, "summary": format!("{word} {i}") }))
            .collect::<Vec<_>>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_word_search_reads_the_word_index_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, events_about("quartz", 300)).await;
    app.store.analyze().await.unwrap();
    for search in ["quartz", "quar*", "\"quartz 7\""] {
        let plan = plan(&app, search).await;
        eprintln!("PLAN {search}: {plan}");
        assert!(plan.contains("audit_event_words VIRTUAL TABLE"), "`{search}` does not read the index:\n{plan}");
    }
    // Where FTS5's tokens may differ from the contract's, only the words are read.
    let plan = plan(&app, "été").await;
    assert!(!plan.contains("audit_event_words"), "{plan}");
    assert_eq!(matching(&app, &key, "quartz").await, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_word_index_stays_in_step_on_sqlite() {
    let (app, clock) = TestApp::spawn_with_clock(Backend::Sqlite).await;
    let key = app.key("audit.read,audit.write").await;
    let admin = app.key("admin").await;
    app.record(&key, events_about("early", 40)).await;
    check_integrity(&app).await;

    // Edited with the append-only guards off: the index follows the words.
    tamper(
        &app.db_url,
        Backend::Sqlite,
        "UPDATE audit_event SET search_words = ' edited \n' WHERE summary = 'early 3'",
    )
    .await;
    check_integrity(&app).await;
    assert_eq!((matching(&app, &key, "early").await, matching(&app, &key, "edited").await), (39, 1));

    // Purged by retention: the index forgets the events.
    let retention = "mutation { setTenantRetention(input: {tenant: \"acme\", retentionDays: 1}) { retentionDays } }";
    app.data(&admin, retention, json!({})).await;
    clock.advance(Duration::days(2));
    app.record(&key, events_about("later", 5)).await;
    let options = retention::PurgeOptions { dry_run: false, grace: None };
    retention::purge(&app.store, &Bus::new(1), app.store.now(), options).await.unwrap();
    check_integrity(&app).await;
    assert_eq!((matching(&app, &key, "early").await, matching(&app, &key, "later").await), (0, 5));

    // Erased: the sealed value's words leave the index, not only the events.
    let jane = json!({
        "action": "profile.update",
        "actor": { "type": "USER", "externalId": "u-jane" },
        "metadata": { "phone": "+1-555-0199-vanishing" },
        "personal": ["metadata.phone"],
    });
    app.record(&key, json!([jane])).await;
    assert_eq!(matching(&app, &key, "vanishing").await, 1);
    let id = app
        .data(&key, "{ auditEvents(filter: {search: \"vanishing\"}) { nodes { actor { id } } } }", json!({}))
        .await["auditEvents"]["nodes"][0]["actor"]["id"]
        .clone();
    let erase = "mutation($id: ID!) { eraseActor(id: $id) { eventsAffected } }";
    assert_eq!(app.data(&admin, erase, json!({ "id": id })).await["eraseActor"]["eventsAffected"], 1);
    check_integrity(&app).await;
    assert_eq!(matching(&app, &key, "vanishing").await, 0);
    let traces = app
        .store
        .db()
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT id FROM audit_event_words_data WHERE instr(CAST(block AS TEXT), 'nishing') > 0",
        ))
        .await
        .unwrap();
    assert!(traces.is_empty(), "the index still holds the erased word");
}
