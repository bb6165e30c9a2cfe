//! Availability: a document is measured with its fragments expanded before it
//! is validated or its key checked, so a fragment bomb of a few hundred bytes
//! is refused at once, alone or many at a time, while `/healthz` answers; and
//! a statement still running at the request timeout is interrupted on both
//! backends (SQLite has no statement timeout of its own).

use std::time::{Duration, Instant};

use auditgraph::config::ServeSettings;
use auditgraph::store::{DbSettings, Store};
use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, error_code};

backend_tests!(
    fragment_bombs_are_refused_before_validation,
    selections_are_counted_with_typename,
    long_statements_are_interrupted_at_the_timeout,
);

/// Each level spreads the next one twice: `2^depth` selections once expanded.
fn bomb(depth: usize) -> String {
    let mut doc = String::from("query{...F0}");
    for level in 0..depth {
        doc.push_str(&format!(" fragment F{level} on Query{{...F{next} ...F{next}}}", next = level + 1));
    }
    doc.push_str(&format!(" fragment F{depth} on Query{{__typename}}"));
    doc
}

async fn post(app: &TestApp, key: Option<&str>, query: &str) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&json!({ "query": query }));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_too_complex(status: StatusCode, body: &Value, what: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
    assert_eq!(error_code(body), Some("QUERY_TOO_COMPLEX"), "{what}: {body}");
    assert!(body.get("data").is_none(), "{what}: {body}");
}

async fn fragment_bombs_are_refused_before_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    // Unbounded, depth 31 would take hours of validation; each is refused
    // without a key (before authentication) and with one.
    let started = Instant::now();
    for depth in 16..=31 {
        let doc = bomb(depth);
        assert!(doc.len() < 1_300, "about a kilobyte");
        let (status, body) = post(&app, None, &doc).await;
        assert_too_complex(status, &body, &format!("depth {depth} without a key"));
        let (status, body) = post(&app, Some(&key), &doc).await;
        assert_too_complex(status, &body, &format!("depth {depth} with a key"));
        let get = app.client.get(app.url("/graphql")).query(&[("query", doc.as_str())]).send().await.unwrap();
        assert_eq!(get.status(), StatusCode::BAD_REQUEST, "depth {depth} by GET");
    }
    // Not a timing target: exponential work would take hours, not seconds.
    assert!(started.elapsed() < Duration::from_secs(30), "refused at once: {:?}", started.elapsed());

    // Many at once, and the server keeps answering.
    let doc = bomb(31);
    let bombs = join_all((0..16).map(|_| post(&app, None, &doc)));
    let health = async {
        let started = Instant::now();
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        (response.status(), started.elapsed())
    };
    let (answers, (health, waited)) = tokio::join!(bombs, health);
    for (status, body) in answers {
        assert_too_complex(status, &body, "concurrent bomb");
    }
    assert_eq!(health, StatusCode::OK);
    assert!(waited < Duration::from_secs(10), "/healthz waited {waited:?}");

    // Fragments used twice are fine when the whole stays within the bound.
    let ok = "query{...A ...A} fragment A on Query{viewer{scopes}}";
    let (status, body) = post(&app, Some(&key), ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["viewer"]["scopes"].is_array(), "{body}");
}

async fn selections_are_counted_with_typename(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.selections = 1_000).await;
    let key = app.key("audit.read").await;
    let fields = |n: usize| format!("{{{}}}", " __typename".repeat(n));
    let (status, body) = post(&app, Some(&key), &fields(1_000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    let (status, body) = post(&app, Some(&key), &fields(1_001)).await;
    assert_too_complex(status, &body, "1,001 selections");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("1001"), "{body}");
    // Nested selections count at every level, through inline fragments too.
    let nested = format!("{{ viewer {{ ... on Viewer {{ {} }} }} }}", "scopes ".repeat(1_000));
    let (status, body) = post(&app, Some(&key), &nested).await;
    assert_too_complex(status, &body, "1,001 nested selections");

    // Megabytes of `__typename`, without a key, on the default bound.
    let app = TestApp::spawn(backend).await;
    let huge = fields(400_000);
    assert!(huge.len() > 4_000_000);
    let (status, body) = post(&app, None, &huge).await;
    assert_too_complex(status, &body, "4.4 MB of __typename");
}

/// A statement running past the pool's timeout fails, and the connection
/// serves the next statement; statements that each end in time never do,
/// however long they run one after another.
async fn long_statements_are_interrupted_at_the_timeout(backend: Backend) {
    let db = TestDb::new(backend).await;
    let timeout = Duration::from_millis(300);
    let settings = DbSettings { statement_timeout: Some(timeout), pool_size: 1, ..ServeSettings::for_url(&db.url).db };
    let store = Store::connect(&settings, Default::default()).await.expect("connects");
    let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let started = Instant::now();
    let result = store.db().execute_unprepared(endless).await;
    assert!(result.is_err(), "an endless statement ended");
    assert!(started.elapsed() < Duration::from_secs(20), "interrupted after {:?}", started.elapsed());
    store.db().execute_unprepared("SELECT 1").await.expect("the connection serves the next statement");

    let started = Instant::now();
    let short =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT count(*) FROM c";
    while started.elapsed() < timeout * 3 {
        store.db().execute_unprepared(short).await.expect("a statement that ends in time is never interrupted");
    }
}
