//! What a key holder could do to the server and to other tenants, tried as a
//! hostile user would: filters that cost nothing to send and everything to
//! run, counts in every row, cacheable answers, echoed documents, keys that
//! outlive their revocation or reach above their scopes, forged self-audit
//! records, statements that outlive their request.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};

const COUNT_FILTERED: &str = "query($f: AuditEventFilter) { auditEvents(first: 1, filter: $f) { totalCount } }";

/// The first error's code and field path, or `None` for an answer with data.
fn refusal(body: &Value) -> Option<(String, String)> {
    let error = body["errors"].get(0)?;
    Some((
        error["extensions"]["code"].as_str().unwrap_or("").to_string(),
        error["extensions"]["field"].as_str().unwrap_or("").to_string(),
    ))
}

async fn refused_with(app: &TestApp, key: &str, query: &str, variables: Value) -> (String, String) {
    let (status, body) = app.gql(key, query, variables).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refusal(&body).unwrap_or_else(|| panic!("expected a refusal, got {body}"))
}

async fn wide_and_empty_filters_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let filter = |f: Value| json!({ "f": f });
    // Every sub-filter counts, empty or not: 100 fit, 101 do not.
    let data = app.data(&key, COUNT_FILTERED, filter(json!({ "or": vec![json!({}); 100] }))).await;
    assert!(data["auditEvents"]["totalCount"].as_i64().unwrap() > 0, "{data}");
    for (what, f, field) in [
        ("101 empty", json!({ "or": vec![json!({}); 101] }), "filter.or"),
        ("1,000 empty", json!({ "or": vec![json!({}); 1_000] }), "filter.or"),
        ("60 + 41 empty", json!({ "and": vec![json!({}); 60], "or": vec![json!({}); 41] }), "filter"),
        ("51 one-field filters", json!({ "or": vec![json!({ "text": "x" }); 51] }), "filter.or.50"),
        ("a not of 101", json!({ "not": { "and": vec![json!({}); 101] } }), "filter.not.and"),
    ] {
        let (code, path) = refused_with(&app, &key, COUNT_FILTERED, filter(f)).await;
        assert_eq!((code.as_str(), path.as_str()), ("BAD_USER_INPUT", field), "{what}");
    }
    let data =
        app.data(&key, COUNT_FILTERED, filter(json!({ "or": vec![json!({ "text": "no such text" }); 50] }))).await;
    assert_eq!(data["auditEvents"]["totalCount"], 0);
    // Lists of values: 10,000 in all are answered, more are refused, never `INTERNAL`.
    let thousand: Vec<String> = (0..1_000).map(|i| format!("v{i}")).collect();
    let lists = |n: usize| json!({ "and": vec![json!({ "action": { "in": thousand } }); n] });
    let data = app.data(&key, COUNT_FILTERED, filter(lists(10))).await;
    assert_eq!(data["auditEvents"]["totalCount"], 0);
    for n in [11, 66, 100] {
        let (code, _) = refused_with(&app, &key, COUNT_FILTERED, filter(lists(n))).await;
        assert_eq!(code, "BAD_USER_INPUT", "{n} lists of 1,000");
    }
    // Subscriptions take the same filters through the same door.
    let subscribe = "subscription($f: AuditEventFilter) { auditEventRecorded(filter: $f) { id } }";
    let (status, _) = app.gql(&key, subscribe, filter(json!({ "or": vec![json!({}); 1_000] }))).await;
    assert!(!status.is_server_error());
    // And the server still answers.
    assert!(app.data(&key, "{ auditEvents { totalCount } }", json!({})).await["auditEvents"]["totalCount"].is_i64());
}

async fn counts_are_charged_as_real_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("count.me")])).await;
    let too_complex = |body: &Value| error_code(body) == Some("QUERY_TOO_COMPLEX") && body.get("data").is_none();
    let aliases = |n: usize, field: &str| {
        let fields: Vec<String> = (0..n).map(|i| format!("c{i}: {field}")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let refused = [
        // 100 counts of a text search with empty pages.
        aliases(100, "auditEvents(first: 0, filter: {text: \"needle\"}) { totalCount }"),
        // One count per row of a page.
        "{ auditEvents(first: 500) { nodes { actor { events(first: 0) { totalCount } } } } }".to_string(),
        "{ auditEvents(first: 100) { nodes { resource { events(first: 0) { totalCount } } } } }".to_string(),
        // Dozens of counts.
        aliases(24, "auditEvents(first: 0) { totalCount }"),
        aliases(24, "actors(first: 0) { totalCount }"),
        // Hidden in fragments.
        format!(
            "{} fragment C on AuditEventConnection {{ totalCount }}",
            aliases(24, "auditEvents(first: 0) { ...C }")
        ),
        aliases(12, "auditEvents(first: 0) { a: totalCount b: totalCount }"),
    ];
    for query in &refused {
        let (status, body) = app.gql(&key, query, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(too_complex(&body), "{}: {body}", &query[..query.len().min(120)]);
    }
    // Page sizes given in variables count the same.
    let (_, body) = app
        .gql(
            &key,
            "query($n: Int, $m: Int) { auditEvents(first: $n) { nodes { actor { events(first: $m) { totalCount } } } } }",
            json!({ "n": 500, "m": 0 }),
        )
        .await;
    assert!(too_complex(&body), "{body}");
    // A few counts, a count with a full page, a count in each of a few rows: fine.
    for query in [
        aliases(5, "auditEvents(first: 0, filter: {text: \"needle\"}) { totalCount }"),
        "{ auditEvents(first: 500) { totalCount nodes { id action actor { id displayName } } } }".to_string(),
        "{ auditEvents(first: 10) { nodes { actor { events(first: 5) { totalCount nodes { id } } } } } }".to_string(),
    ] {
        let (status, body) = app.gql(&key, &query, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
    // The cost is the operator's to choose.
    let cheap = TestApp::spawn_with(backend, |s| s.limits.count_cost = 1).await;
    let cheap_key = cheap.key("audit.read").await;
    cheap.data(&cheap_key, &refused[1], json!({})).await;
}

async fn answers_are_never_cacheable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let count = json!({ "query": "{ auditEvents { totalCount } }" });
    let requests = [
        ("POST", app.client.post(app.url("/graphql")).bearer_auth(&key).json(&count)),
        ("POST without a key", app.client.post(app.url("/graphql")).json(&count)),
        (
            "POST with a bad body",
            app.client.post(app.url("/graphql")).bearer_auth(&key).header("content-type", "application/json").body("{"),
        ),
        (
            "GET",
            app.client.get(app.url("/graphql")).bearer_auth(&key).query(&[("query", "{ auditEvents { totalCount } }")]),
        ),
        (
            "GET a mutation",
            app.client
                .get(app.url("/graphql"))
                .bearer_auth(&key)
                .query(&[("query", "mutation { revokeApiKey(id: \"key_x\") { apiKey { id } } }")]),
        ),
        ("GET refused", app.client.get(app.url("/graphql")).bearer_auth(&key).query(&[("query", "{ nope }")])),
    ];
    for (what, request) in requests {
        let response = request.send().await.expect("response");
        assert_eq!(
            response.headers().get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{what}: HTTP {}",
            response.status()
        );
    }
}

async fn errors_do_not_echo_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let big = format!("{{ viewer {{ scopes }} }} {{ {}", "x".repeat(1 << 20));
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&key)
        .json(&json!({ "query": big }))
        .send()
        .await
        .expect("response");
    let text = response.text().await.expect("body");
    assert!(text.len() < 2_000, "a {}-byte answer to a 1 MiB document", text.len());
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(error_code(&body), Some("GRAPHQL_PARSE_FAILED"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("line 1, column"), "{message}");
    // However long the input a message quotes, the message is bounded.
    let long_id = format!("evt_{}", "a".repeat(100_000));
    let (_, body) = app.gql(&key, "query($id: ID!) { node(id: $id) { id } }", json!({ "id": long_id })).await;
    assert!(body.to_string().len() < 4_000, "{} bytes", body.to_string().len());
}

async fn a_key_revokes_only_keys_within_its_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.key("admin").await;
    let writer = app.key("audit.write").await;
    let reader = app.key("audit.read").await;
    let manager = app.key("keys.manage,audit.read").await;
    let id_of = |key: String| {
        let app = &app;
        async move {
            app.data(&key, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }";
    for (what, victim) in [("an admin key", &admin), ("a key with audit.write", &writer)] {
        let id = id_of(victim.clone()).await;
        let (code, _) = refused_with(&app, &manager, revoke, json!({ "id": id })).await;
        assert_eq!(code, "FORBIDDEN", "{what}");
        // It still works, and nothing was recorded as revoked.
        let (status, _) = app.gql(victim, "{ viewer { scopes } }", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{what} still works");
    }
    let audited =
        app.data(&admin, "{ auditEvents(filter: {action: {eq: \"api_key.revoke\"}}) { totalCount } }", json!({})).await;
    assert_eq!(audited["auditEvents"]["totalCount"], 0);
    // Within its scopes it may revoke (itself included); admin may revoke anything.
    app.data(&manager, revoke, json!({ "id": id_of(reader.clone()).await })).await;
    app.data(&admin, revoke, json!({ "id": id_of(writer.clone()).await })).await;
    app.data(&manager, revoke, json!({ "id": id_of(manager.clone()).await })).await;
    assert_eq!(app.gql(&manager, "{ viewer { scopes } }", json!({})).await.0, StatusCode::UNAUTHORIZED);
}

async fn producers_cannot_forge_self_audit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let record = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";
    let before = app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    for source in ["auditgraph", "AuditGraph", " auditgraph "] {
        let mut forged = event("api_key.revoke");
        forged["sourceService"] = json!(source);
        forged["actor"] = json!({ "type": "API_KEY", "externalId": "key_0" });
        let (code, field) = refused_with(&app, &key, record, json!({ "e": [event("fine.event"), forged] })).await;
        assert_eq!((code.as_str(), field.as_str()), ("BAD_USER_INPUT", "events.1.sourceService"), "{source:?}");
    }
    assert_eq!(app.data(&key, "{ auditEvents { totalCount } }", json!({})).await, before, "nothing was stored");
    // The server's own records carry it.
    let own = app
        .data(&key, "{ auditEvents(filter: {sourceService: {eq: \"auditgraph\"}}) { nodes { action } } }", json!({}))
        .await;
    let actions: Vec<&str> =
        own["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"tenant.create") && actions.contains(&"api_key.create"), "{actions:?}");
    // A similar name is a producer's to use.
    let mut fine = event("proxy.request.forward");
    fine["sourceService"] = json!("auditgraph-proxy");
    assert_eq!(app.record(&key, json!([fine])).await["createdCount"], 1);
}

/// Requests that use a key while it is being revoked: once `revokeApiKey` has
/// answered, no request is let in with it, however the look-ups raced.
async fn a_revocation_is_final_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.auth_cache_ttl = Duration::from_secs(60)).await;
    let manager = app.key("keys.manage,audit.read").await;
    for round in 0..5 {
        let victim = app.key("audit.read").await;
        let id = app.data(&victim, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"].clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hammers: Vec<_> = (0..6)
            .map(|_| {
                let (client, url, victim, stop) =
                    (app.client.clone(), app.url("/graphql"), victim.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let _ = client
                            .post(&url)
                            .bearer_auth(&victim)
                            .json(&json!({ "query": "{ viewer { scopes } }" }))
                            .send()
                            .await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.data(&manager, "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }", json!({ "id": id })).await;
        // Every request sent from now on is refused, while the others still race.
        for attempt in 0..20 {
            let (status, _) = app.gql(&victim, "{ viewer { scopes } }", json!({})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "round {round}, attempt {attempt}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for hammer in hammers {
            hammer.await.unwrap();
        }
        let (status, _) = app.gql(&victim, "{ viewer { scopes } }", json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "round {round}, after the race");
    }
}

/// The statements of the server's database connections that touch events.
pub(crate) async fn event_statements(app: &TestApp) -> Vec<(String, String)> {
    let rows = app
        .store
        .db()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT state, coalesce(wait_event_type, '') AS waiting FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state <> 'idle' AND query LIKE '%FROM \"audit_event\"%'",
        ))
        .await
        .expect("pg_stat_activity");
    rows.iter().map(|r| (r.try_get("", "state").unwrap(), r.try_get("", "waiting").unwrap())).collect()
}

/// The statements on events still running after waiting up to `wait` for none.
pub(crate) async fn event_statements_after(app: &TestApp, wait: Duration) -> Vec<(String, String)> {
    let deadline = Instant::now() + wait;
    let mut left = event_statements(app).await;
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = event_statements(app).await;
    }
    left
}

/// A count that cannot finish (its table is locked) is answered with 408 when
/// the request times out, and PostgreSQL stops running it soon after, while
/// the lock is still held: by the statement timeout, or, without one, because
/// the connection that sent it is closed rather than returned busy to the pool.
async fn statements_end_with_their_request(backend: Backend) {
    if backend != Backend::Postgres {
        return;
    }
    for statement_timeout in [None, Some(Duration::from_secs(1))] {
        let app = TestApp::spawn_with(backend, |s| {
            s.request_timeout = Duration::from_secs(1);
            s.db.statement_timeout = statement_timeout;
        })
        .await;
        let key = app.key("audit.read").await;
        let lock = app.store.db().begin().await.unwrap();
        lock.execute_unprepared("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE").await.unwrap();
        let request = {
            let (client, url, key) = (app.client.clone(), app.url("/graphql"), key.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let response = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({ "query": "{ auditEvents(first: 0, filter: {text: \"x\"}) { totalCount } }" }))
                    .send()
                    .await
                    .unwrap();
                (response.status(), started.elapsed())
            })
        };
        // While the request waits, its statement waits in the database.
        let mut seen = false;
        for _ in 0..40 {
            if event_statements(&app).await.iter().any(|(_, waiting)| waiting == "Lock") {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(seen, "the count reached the database ({statement_timeout:?})");
        let (status, took) = request.await.unwrap();
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{statement_timeout:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        // The lock is still held: only cancellation can end the statement.
        let left = event_statements_after(&app, Duration::from_secs(4)).await;
        assert!(left.is_empty(), "statements outlived their request ({statement_timeout:?}): {left:?}");
        lock.rollback().await.unwrap();
        // The pool recovered: the next request is answered.
        assert!(
            app.data(&key, "{ auditEvents { totalCount } }", json!({})).await["auditEvents"]["totalCount"].is_i64()
        );
    }
}

backend_tests!(
    wide_and_empty_filters_are_bounded,
    counts_are_charged_as_real_work,
    answers_are_never_cacheable,
    errors_do_not_echo_the_document,
    a_key_revokes_only_keys_within_its_scopes,
    producers_cannot_forge_self_audit,
    a_revocation_is_final_at_once,
    statements_end_with_their_request,
);
