//! Spawns the real application per test, on its own fresh database: a SQLite
//! file, or a new PostgreSQL database when `AUDITGRAPH_TEST_POSTGRES_URL` is set.

use std::net::SocketAddr;
use std::sync::Arc;

use auditgraph::app::App;
use auditgraph::bus::Bus;
use auditgraph::config::ServeSettings;
use auditgraph::domain::clock::{Clock as _, MockClock, SharedClock};
use auditgraph::domain::ids::TenantId;
use auditgraph::domain::scope::Scopes;
use auditgraph::metrics::Metrics;
use auditgraph::service::self_audit::Acting;
use auditgraph::service::{keys, tenants};
use auditgraph::store::Store;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const POSTGRES_URL_VAR: &str = "AUDITGRAPH_TEST_POSTGRES_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(backend: Backend)` as one test per backend:
/// `sqlite::name` always, `postgres::name` when a PostgreSQL URL is given.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::helpers::postgres_url().is_some() {
                        super::$name(crate::helpers::Backend::Postgres).await
                    } else {
                        eprintln!("{} not set: PostgreSQL variant skipped", crate::helpers::POSTGRES_URL_VAR);
                    }
                }
            )*
        }
    };
}
pub(crate) use backend_tests;

pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR).ok().filter(|u| !u.trim().is_empty())
}

/// A database that exists for one test and is dropped with it.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let token = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("auditgraph-test-{token}.db"));
                TestDb { url: format!("sqlite://{}?mode=rwc", path.display()), cleanup: Cleanup::File(path) }
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("PostgreSQL URL");
                let name = format!("auditgraph_test_{token}");
                let admin = Database::connect(&admin_url).await.expect("connect to the PostgreSQL test server");
                admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
                admin.close().await.ok();
                let (base, _) = admin_url.rsplit_once('/').expect("URL with a database name");
                TestDb { url: format!("{base}/{name}"), cleanup: Cleanup::Database { admin_url, name } }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime: use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    rt.block_on(async {
                        let admin = Database::connect(&admin_url).await.ok()?;
                        admin
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .await
                            .ok()?;
                        admin.close().await.ok()
                    })
                })
                .join();
            }
        }
    }
}

/// The address policy of a server whose operator allows loopback destinations.
pub fn loopback_allowed() -> auditgraph::domain::address_policy::AddressPolicy {
    auditgraph::domain::address_policy::AddressPolicy::allowing(vec![
        "127.0.0.0/8".parse().unwrap(),
        "::1/128".parse().unwrap(),
    ])
}

/// A running server with a tenant `acme` and helpers to call it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub client: reqwest::Client,
    pub tenant: TenantId,
    /// The database URL the app was started with.
    pub db_url: String,
    /// The app's checkpoint signer.
    pub ledger: Arc<auditgraph::service::ledger::Ledger>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    // Last: dropped after the server has stopped (none for a second server
    // on another's database).
    _db: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with settings adjusted by `configure`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        let db = TestDb::new(backend).await;
        let url = db.url.clone();
        Self::start(db, &url, configure).await
    }

    /// Spawns on a clock that moves only when the test moves it.
    pub async fn spawn_with_clock(backend: Backend) -> (TestApp, std::sync::Arc<MockClock>) {
        let clock = MockClock::starting_now();
        let shared = SharedClock(clock.clone());
        (Self::spawn_with(backend, move |s| s.db.clock = shared).await, clock)
    }

    /// Spawns on `db`, reached through `url` (e.g. through a proxy).
    pub async fn spawn_on(db: TestDb, url: &str) -> TestApp {
        Self::start(db, url, |_| {}).await
    }

    async fn start(db: TestDb, url: &str, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        let mut app = Self::launch(url, configure).await;
        let tenant = tenants::create_tenant(&app.store, &Bus::new(1), "acme", Some("Acme Inc."), Acting::System)
            .await
            .expect("create tenant");
        app.tenant = tenant.id;
        app._db = Some(db);
        app
    }

    /// A server on `url`'s database, as is.
    async fn launch(url: &str, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        // AUDITGRAPH_TEST_LOG=debug shows the server's logs.
        if let Ok(filter) = std::env::var("AUDITGRAPH_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        let mut settings = ServeSettings::for_url(url);
        settings.db.pool_size = 4;
        // No background polling unless a test asks for deliveries: statement
        // counts measure requests alone.
        settings.streams.poll = std::time::Duration::from_secs(3600);
        // Test receivers listen on loopback, which streams may reach only when
        // the operator allows it; tests of the refusals clear this.
        settings.streams.destinations.policy = loopback_allowed();
        configure(&mut settings);
        let app = App::build(&settings).await.expect("the app starts");
        let addr = app.local_addr();
        let store = app.store.clone();
        let metrics = app.metrics.clone();
        let ledger = app.ledger.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            store,
            metrics,
            client: reqwest::Client::new(),
            tenant: TenantId(uuid::Uuid::nil()),
            db_url: url.to_string(),
            ledger,
            shutdown: Some(tx),
            server: Some(server),
            _db: None,
        }
    }

    /// A second server on this one's database (tenant `acme` too), as a
    /// replica would run.
    pub async fn beside(&self, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        let mut app = Self::launch(&self.db_url, configure).await;
        app.tenant = self.tenant;
        app
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(&mut self, configure: impl FnOnce(&mut ServeSettings)) {
        self.stop().await;
        let mut next = Self::launch(&self.db_url, configure).await;
        self.addr = next.addr;
        self.store = next.store.clone();
        self.metrics = next.metrics.clone();
        self.ledger = next.ledger.clone();
        self.shutdown = next.shutdown.take();
        self.server = next.server.take();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates a tenant (as the operator) and returns its ID.
    pub async fn create_tenant(&self, slug: &str) -> TenantId {
        let t =
            tenants::create_tenant(&self.store, &Bus::new(1), slug, None, Acting::System).await.expect("create tenant");
        t.id
    }

    /// A new key in `acme` with these comma-separated scopes.
    pub async fn key(&self, scopes: &str) -> String {
        self.key_in(self.tenant, scopes).await
    }

    pub async fn key_in(&self, tenant: TenantId, scopes: &str) -> String {
        let scopes = Scopes::parse_list(scopes, "scopes").expect("scopes");
        keys::create_key(&self.store, &Bus::new(1), tenant, "test key", scopes, Acting::System)
            .await
            .expect("create key")
            .1
    }

    /// POSTs a GraphQL request with `Authorization: Bearer key`.
    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Like `gql`, but asserts HTTP 200 and no errors, and returns `data`.
    pub async fn data(&self, key: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql(key, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// POSTs a GraphQL request with exactly these headers (besides the JSON
    /// body's): no key unless one of them carries it.
    pub async fn post_graphql(&self, headers: &[(&str, &str)], query: &str, variables: Value) -> (StatusCode, Value) {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON (HTTP {status}): {text}"));
        (status, body)
    }

    /// A REST `GET` with `key` and query parameters: the status, headers and
    /// JSON body (null when the body is not JSON).
    pub async fn rest_get(
        &self,
        key: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = self.client.get(self.url(path)).bearer_auth(key).query(query).send().await.expect("request");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /v1/events` with `key`, and an `Idempotency-Key` header when given.
    pub async fn rest_record(&self, key: &str, body: &Value, idempotency_key: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url("/v1/events")).bearer_auth(key).json(body);
        if let Some(k) = idempotency_key {
            request = request.header("Idempotency-Key", k);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Records events (JSON inputs) and returns the payload, with each
    /// event's `id` and `sequence`: all a key without `audit.read` may see.
    pub async fn record(&self, key: &str, events: Value) -> Value {
        let data = self
            .data(key, "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount duplicateCount events { id sequence } } }", json!({ "e": events }))
            .await;
        data["recordAuditEvents"].clone()
    }

    /// As [`Self::record`], with the stored events' action, idempotency key
    /// and occurrence too (the key needs `audit.read` as well).
    pub async fn record_read_back(&self, key: &str, events: Value) -> Value {
        let data = self
            .data(key, "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount duplicateCount events { id sequence action idempotencyKey occurredAt } } }", json!({ "e": events }))
            .await;
        data["recordAuditEvents"].clone()
    }

    /// Mints a viewer token with `key` for `filter`, living `ttl_seconds`.
    pub async fn viewer_token(&self, key: &str, filter: Value, ttl_seconds: i32) -> String {
        let data = self
            .data(
                key,
                "mutation($i: CreateViewerTokenInput!) { createViewerToken(input: $i) { token expiresAt } }",
                json!({ "i": { "filter": filter, "ttlSeconds": ttl_seconds } }),
            )
            .await;
        data["createViewerToken"]["token"].as_str().expect("a token").to_string()
    }

    /// SQL statements sent so far by this app.
    pub fn statements(&self) -> u64 {
        self.metrics.db_statements()
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The first error's `extensions.code`.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// A minimal valid event input.
pub fn event(action: &str) -> Value {
    json!({ "action": action, "actor": { "type": "USER", "externalId": "u-1" } })
}

/// A minimal event as the store records it (for tests that record through
/// the store itself): `action` by user `actor`, occurred now.
pub fn new_event(action: &str, actor: &str) -> auditgraph::domain::event::NewEvent {
    use auditgraph::domain::event::{ActorType, NewActor, NewEvent, Outcome};
    NewEvent {
        action: action.into(),
        outcome: Outcome::Success,
        occurred_at: auditgraph::domain::clock::SystemClock.now(),
        actor: NewActor {
            kind: ActorType::User,
            external_id: actor.into(),
            display_name: None,
            email: None,
            roles: None,
        },
        resource: None,
        related_resources: vec![],
        summary: None,
        reason: None,
        error_message: None,
        environment: None,
        source_service: None,
        correlation_id: None,
        request: None,
        metadata: Default::default(),
        changes: vec![],
        idempotency_key: None,
        personal: Vec::new(),
    }
}

/// Records `events` through `{base}/graphql` with a plain client (for writers
/// running on their own tasks or against server processes); returns the body.
/// An instant as the API writes it: RFC 3339 in UTC, to the microsecond.
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub async fn record_at(client: &reqwest::Client, base: &str, key: &str, events: Value) -> Value {
    client
        .post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({
            "query": "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            "variables": { "e": events },
        }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("a JSON body")
}

/// Polls `check` for up to `limit`.
pub async fn eventually(limit: std::time::Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
