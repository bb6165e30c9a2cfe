//! Operability and hardening: append-only storage, rate limits, hidden
//! internal errors, readiness through a database outage, graceful shutdown and
//! structured logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use auditgraph::domain::clock::{MockClock, SharedClock};

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, error_code, event, postgres_url};
use crate::process::{Server, WorkDir};

async fn events_cannot_be_changed_or_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("kept.forever");
    e["resource"] = json!({ "type": "doc", "externalId": "d" });
    app.record(&key, json!([e])).await;
    let before = app.data(&key, "{ auditEvents { totalCount nodes { id action } } }", json!({})).await;
    let db = app.store.db();
    let mut attempts = vec![
        "UPDATE audit_event SET action = 'forged.action'",
        "DELETE FROM audit_event",
        "UPDATE event_resource SET position = 9",
        "DELETE FROM event_resource",
    ];
    if backend == Backend::Postgres {
        attempts.extend(["TRUNCATE audit_event CASCADE", "TRUNCATE event_resource"]);
    }
    for sql in attempts {
        let err = db.execute_unprepared(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let after = app.data(&key, "{ auditEvents { totalCount nodes { id action } } }", json!({})).await;
    assert_eq!(before, after);
}

async fn rate_limits_answer_429_with_retry_after(backend: Backend) {
    let clock = MockClock::starting_now();
    let shared = SharedClock(clock.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.rate_limit = Some((1.0, 3));
        s.db.clock = shared;
    })
    .await;
    let key = app.key("audit.read").await;
    let other = app.key("audit.read").await;
    for _ in 0..3 {
        assert_eq!(app.gql(&key, "{ viewer { scopes } }", json!({})).await.0, StatusCode::OK);
    }
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&key)
        .json(&json!({ "query": "{ viewer { scopes } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), Some("RATE_LIMITED"));
    // Each key has its own bucket, and the bucket refills.
    assert_eq!(app.gql(&other, "{ viewer { scopes } }", json!({})).await.0, StatusCode::OK);
    clock.advance(chrono::Duration::milliseconds(1_100));
    assert_eq!(app.gql(&key, "{ viewer { scopes } }", json!({})).await.0, StatusCode::OK);
}

async fn internal_errors_show_a_request_id_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("fine.event")])).await;
    // A row no code path can write: the server must not explain it to the caller.
    let sql = "INSERT INTO audit_event (id, tenant_id, action, category, outcome, occurred_at, received_at, actor_id, has_request, metadata, changes, search_text, sequence, recorded)
        SELECT $1, tenant_id, 'odd.event', 'odd', 'MAYBE', occurred_at, received_at, actor_id, false, metadata, changes, 'odd.event', sequence + 1000, recorded
        FROM audit_event WHERE action = 'fine.event'";
    let backend_kind = if backend == Backend::Postgres { DbBackend::Postgres } else { DbBackend::Sqlite };
    let sql = if backend == Backend::Postgres { sql.to_string() } else { sql.replace("$1", "?") };
    app.store
        .db()
        .execute_raw(sea_orm::Statement::from_sql_and_values(backend_kind, sql, [uuid::Uuid::now_v7().into()]))
        .await
        .unwrap();
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&key)
        .header("x-request-id", "req-under-test")
        .json(&json!({ "query": "{ auditEvents { nodes { action outcome } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "req-under-test");
    let body: Value = response.json().await.unwrap();
    let err = &body["errors"][0];
    assert_eq!(err["extensions"]["code"], "INTERNAL");
    assert_eq!(err["extensions"]["requestId"], "req-under-test");
    assert_eq!(err["message"], "internal error (request id req-under-test)");
    let text = body.to_string();
    for leak in ["MAYBE", "stored outcome", "SELECT", "src/", ".rs"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
}

/// A TCP proxy to PostgreSQL that can cut every connection, as an outage would.
struct Outage {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Outage {
    async fn start(target: String) -> Outage {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up2, links2) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the database is "down"
                }
                let target = target.clone();
                links2.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Outage { port, up, links, accept }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn wait_for_status(app: &TestApp, path: &str, want: StatusCode, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = app.client.get(app.url(path)).send().await.map(|r| r.status()).ok();
        if status == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never answered {want} (last {status:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PostgreSQL goes away under the server and comes back: `/readyz` follows,
/// and the server recovers without a restart, subscriptions included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rides_out_a_database_outage() {
    let Some(admin_url) = postgres_url() else {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;
    let host = admin_url.split('@').nth(1).and_then(|h| h.split('/').next()).unwrap_or("127.0.0.1:5432").to_string();
    let outage = Outage::start(host.clone()).await;
    let proxied = db.url.replace(&host, &format!("127.0.0.1:{}", outage.port));
    let mut app = TestApp::spawn_on(db, &proxied).await;
    let key = app.key("audit.read,audit.write").await;
    wait_for_status(&app, "/readyz", StatusCode::OK, Duration::from_secs(5)).await;
    // Known to the server before the outage (verified keys are cached briefly).
    app.data(&key, "{ viewer { scopes } }", json!({})).await;

    outage.cut();
    wait_for_status(&app, "/readyz", StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(10)).await;
    let (status, body) = app.gql(&key, "mutation { recordAuditEvents(events: [{action: \"during.outage\", actor: {type: USER, externalId: \"u\"}}]) { createdCount } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), Some("INTERNAL"), "{body}");

    outage.restore();
    wait_for_status(&app, "/readyz", StatusCode::OK, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) =
            app.gql(&key, "{ auditEvents(filter: {action: {eq: \"after.outage\"}}) { totalCount } }", json!({})).await;
        if body.get("errors").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "queries never recovered: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.record(&key, json!([event("after.outage")])).await;
    let data = app.data(&key, "{ a: auditEvents(filter: {action: {eq: \"after.outage\"}}) { totalCount } b: auditEvents(filter: {action: {eq: \"during.outage\"}}) { totalCount } }", json!({})).await;
    assert_eq!(data, json!({ "a": { "totalCount": 1 }, "b": { "totalCount": 0 } }));
    app.stop().await;
    drop(outage);
}

/// SIGTERM lets requests in flight finish, then the process exits cleanly;
/// everything it acknowledged is stored.
async fn sigterm_finishes_requests_in_flight(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    let mut server = Server::start(&dir, &db.url).await;
    let batch: Vec<Value> = (0..1_000).map(|i| event(&format!("drain.e{i}"))).collect();
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, key, batch) = (reqwest::Client::new(), format!("{}/graphql", server.base), key.clone(), batch.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({ "query": "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }", "variables": { "e": batch } }))
                    .send()
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let status = tokio::task::block_in_place(|| server.terminate(Duration::from_secs(60)));
    let mut acknowledged = 0;
    for request in requests {
        if let Ok(response) = request.await.unwrap() {
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 1_000, "{body}");
            acknowledged += 1;
        }
    }
    assert_eq!(status.map(|s| s.success()), Some(true), "exit status after SIGTERM");
    assert!(acknowledged >= 1, "requests accepted before the signal were answered");
    let server = Server::start(&dir, &db.url).await;
    let data =
        server.data(&key, "{ auditEvents(filter: {action: {prefix: \"drain.\"}}) { totalCount } }", json!({})).await;
    assert_eq!(data["auditEvents"]["totalCount"], acknowledged * 1_000, "every acknowledged batch, whole");
}

async fn json_logs_carry_the_request_id(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let server = Server::start_with(&dir, &db.url, &["--log-format", "json"]).await;
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log.lock().unwrap().clone();
    let json_lines: Vec<Value> = log.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!json_lines.is_empty(), "no JSON log lines: {log:?}");
    assert!(
        json_lines.iter().any(|l| l.to_string().contains("trace-me-42")),
        "no log line names the request id: {log:#?}"
    );
}

backend_tests!(
    events_cannot_be_changed_or_deleted,
    rate_limits_answer_429_with_retry_after,
    internal_errors_show_a_request_id_only,
    sigterm_finishes_requests_in_flight,
    json_logs_carry_the_request_id,
);

/// Several servers started together on an empty PostgreSQL database: the
/// migrations run once, under an advisory lock, and every server comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_started_together_on_an_empty_database_all_come_up() {
    if postgres_url().is_none() {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let dir = WorkDir::new();
    let (a, b, c) =
        tokio::join!(Server::start(&dir, &db.url), Server::start(&dir, &db.url), Server::start(&dir, &db.url));
    let key = dir.tenant_with_key(&db.url);
    for server in [&a, &b, &c] {
        let d = server.data(&key, "{ ledger { size } }", json!({})).await;
        assert_eq!(d["ledger"]["size"], "2", "tenant.create and api_key.create");
    }
}
