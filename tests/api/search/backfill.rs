//! Events recorded before words were stored get them after an upgrade: the
//! migration of the words' index lists them, and the server fills their
//! words in the background, in chunks, going on after a restart where it
//! stopped and never going back over what it finished.

use migration::MigratorTrait as _;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, eventually};
use crate::ledger::tamper;

backend_tests!(older_events_get_their_words_in_the_background);

/// More than two chunks of the backfill.
const EVENTS: i64 = 2_100;
/// The part of them a stopped run is taken to have done.
const DONE_BEFORE: i64 = 1_234;

async fn matching(app: &TestApp, key: &str, filter: Value) -> i64 {
    let d =
        app.data(key, "query($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }", json!({ "f": filter }));
    d.await["auditEvents"]["totalCount"].as_i64().unwrap()
}

/// The ranges left to the backfill.
async fn ranges_left(app: &TestApp) -> usize {
    let rows = app
        .store
        .db()
        .query_all_raw(sea_orm::Statement::from_string(app.store.backend(), "SELECT next_sequence FROM word_backfill"));
    rows.await.unwrap().len()
}

/// How many migrations take the schema back to before the words' index:
/// it and every one after it.
fn since_the_words_index() -> u32 {
    let names: Vec<String> = migration::Migrator::migrations().iter().map(|m| m.name().to_string()).collect();
    let at = names.iter().position(|n| n == "m20261207_000280_words_index").expect("the words' index migration");
    (names.len() - at) as u32
}

/// Stops `app` and takes its database back to the schema before the words'
/// index, every event's words blank: what an older release left.
async fn as_an_older_release_left_it(app: &mut TestApp, backend: Backend) {
    app.stop().await;
    let db = Database::connect(&app.db_url).await.unwrap();
    migration::Migrator::down(&db, Some(since_the_words_index())).await.unwrap();
    db.close().await.unwrap();
    tamper(&app.db_url, backend, "UPDATE audit_event SET search_words = ''").await;
}

async fn older_events_get_their_words_in_the_background(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| {
            json!({ "action": "legacy.import", "actor": { "type": "USER", "externalId": "u-1" },
                         "summary": format!("Quartz crate {i}"), "metadata": { "note": "été" } })
        })
        .collect();
    for batch in events.chunks(700) {
        app.record(&key, json!(batch)).await;
    }
    let first = app
        .data(&key, r#"{ auditEvents(first: 1, filter: {search: "quartz"}, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { sequence } } }"#, json!({}))
        .await["auditEvents"]["nodes"][0]["sequence"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let quartz = |extra: Value| {
        let mut f = json!({ "search": "quartz" });
        f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        f
    };

    as_an_older_release_left_it(&mut app, backend).await;
    app.restart(|_| {}).await;
    eventually(std::time::Duration::from_secs(60), "the older events' words", async || {
        matching(&app, &key, quartz(json!({}))).await == EVENTS
    })
    .await;
    assert_eq!(matching(&app, &key, json!({ "search": "été quartz" })).await, EVENTS);
    assert_eq!(matching(&app, &key, json!({ "search": "crate 17" })).await, 1);
    assert_eq!(ranges_left(&app).await, 0, "the finished range is gone with its last chunk");
    // The later migrations ran again too: the counts per day come from the events.
    assert_eq!(crate::stats::day_counts_differ(app.store.db()).await, 0);

    // A run stopped after its first chunks goes on from its mark at the
    // next start, and leaves what it had done alone: events below the mark
    // (blank here, as no backfill would leave them) stay blank.
    as_an_older_release_left_it(&mut app, backend).await;
    let db = Database::connect(&app.db_url).await.unwrap();
    migration::Migrator::up(&db, None).await.unwrap();
    let mark = first + DONE_BEFORE;
    db.execute_unprepared(&format!("UPDATE word_backfill SET next_sequence = {mark}")).await.unwrap();
    db.close().await.unwrap();
    app.restart(|_| {}).await;
    eventually(std::time::Duration::from_secs(60), "the rest of the range", async || ranges_left(&app).await == 0)
        .await;
    assert_eq!(matching(&app, &key, quartz(json!({ "sequence": { "gte": mark } }))).await, EVENTS - DONE_BEFORE);
    assert_eq!(matching(&app, &key, quartz(json!({ "sequence": { "lt": mark } }))).await, 0);
    if backend == Backend::Sqlite {
        super::index::check_integrity(&app).await;
    }
}
