//! `auditEventRecorded` over real WebSocket clients, both subprotocols:
//! filters, order, tenants, authentication, rollbacks, slow and vanished
//! clients, and two server processes on one PostgreSQL database.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, event, new_event};
use crate::process::{Server, WorkDir};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library).
    TransportWs,
    /// `graphql-ws` (the older subscriptions-transport-ws).
    LegacyWs,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::LegacyWs => "graphql-ws",
        }
    }
}

pub(crate) const SUBSCRIBE: &str =
    "subscription($f: AuditEventFilter) { auditEventRecorded(filter: $f) { id action actor { externalId } } }";

/// A GraphQL WebSocket client.
pub(crate) struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: Protocol,
}

/// What the server said about a subscription.
#[derive(Debug)]
pub(crate) enum Received {
    Data(Value),
    Errors(Value),
    Complete,
    Closed(Option<String>),
}

impl Client {
    pub(crate) async fn open(
        base: &str,
        protocol: Protocol,
        headers: &[(&str, &str)],
    ) -> Result<Client, tungstenite::Error> {
        let mut request = format!("{}/graphql/ws", base.replacen("http", "ws", 1)).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(protocol.name()));
        for (name, value) in headers {
            let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            request.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
        }
        let (ws, response) = connect_async(request).await?;
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol.name());
        Ok(Client { ws, protocol })
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.ws.send(Message::Text(message.to_string().into())).await.expect("send");
    }

    /// Opens a connection and completes `connection_init` with `payload`.
    pub(crate) async fn connect(base: &str, protocol: Protocol, payload: Value) -> Client {
        let mut client = Client::open(base, protocol, &[]).await.expect("upgrade");
        client.send(json!({ "type": "connection_init", "payload": payload })).await;
        match client.next_message().await {
            Some(m) if m["type"] == "connection_ack" => client,
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    pub(crate) async fn connect_with_key(app_base: &str, protocol: Protocol, key: &str) -> Client {
        Client::connect(app_base, protocol, json!({ "Authorization": format!("Bearer {key}") })).await
    }

    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == Protocol::TransportWs { "subscribe" } else { "start" };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query, "variables": variables } })).await;
    }

    /// The next protocol message, answering pings and skipping keep-alives.
    pub(crate) async fn next_message(&mut self) -> Option<Value> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    match message["type"].as_str() {
                        Some("ping") => self.send(json!({ "type": "pong" })).await,
                        Some("ka") | Some("pong") => {}
                        _ => return Some(message),
                    }
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame.map(|f| (u16::from(f.code), f.reason.to_string())).unzip();
                    return Some(json!({ "type": "closed", "code": code, "reason": reason }));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    pub(crate) async fn receive(&mut self, wait: Duration) -> Option<Received> {
        let message = tokio::time::timeout(wait, self.next_message()).await.ok()?;
        let Some(m) = message else {
            return Some(Received::Closed(None));
        };
        Some(match m["type"].as_str().unwrap_or("") {
            "next" | "data" if m["payload"].get("errors").is_some() => Received::Errors(m["payload"]["errors"].clone()),
            "next" | "data" => Received::Data(m["payload"]["data"].clone()),
            "error" | "connection_error" => Received::Errors(m["payload"].clone()),
            "complete" => Received::Complete,
            "closed" => Received::Closed(m["reason"].as_str().map(str::to_string)),
            other => panic!("unexpected message {other}: {m}"),
        })
    }

    /// The actions of the next `n` events delivered.
    pub(crate) async fn actions(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.receive(Duration::from_secs(10)).await {
                Some(Received::Data(d)) => out.push(d["auditEventRecorded"]["action"].as_str().unwrap().to_string()),
                other => panic!("expected event {} of {n}, got {other:?} after {out:?}", out.len() + 1),
            }
        }
        out
    }

    /// Asserts that nothing arrives for a while.
    pub(crate) async fn quiet(&mut self) {
        if let Some(r) = self.receive(Duration::from_millis(300)).await {
            panic!("expected nothing, got {r:?}");
        }
    }
}

pub(crate) fn base(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// Subscribing takes effect when the server has registered the stream.
pub(crate) async fn wait_for_subscribers(app: &TestApp, n: u64) {
    for _ in 0..200 {
        if app.metrics.subscriptions() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} subscriptions never started (have {})", app.metrics.subscriptions());
}

/// Every subscription stream has ended.
pub(crate) async fn wait_for_no_subscribers(app: &TestApp) {
    for _ in 0..300 {
        if app.metrics.subscriptions() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} subscriptions never ended", app.metrics.subscriptions());
}

async fn delivers_matching_events_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for protocol in [Protocol::TransportWs, Protocol::LegacyWs] {
        let mut client = Client::connect_with_key(&base(&app), protocol, &key).await;
        client.subscribe("1", SUBSCRIBE, json!({ "f": { "action": { "prefix": "live." } } })).await;
        wait_for_subscribers(&app, 1).await;
        app.record(&key, json!([event("live.a"), event("other.b"), event("live.c")])).await;
        app.record(&key, json!([event("live.d")])).await;
        let mut failed = event("live.e");
        failed["outcome"] = json!("FAILURE");
        app.record(&key, json!([failed])).await;
        assert_eq!(client.actions(4).await, ["live.a", "live.c", "live.d", "live.e"], "{protocol:?}");
        client.quiet().await;
        drop(client);
        wait_for_no_subscribers(&app).await;
    }
}

/// Events committed before the subscription started never arrive, however
/// late their announcement travels (on PostgreSQL it crosses a connection).
async fn nothing_from_before_the_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for round in 0..5 {
        app.record(&key, json!([event(&format!("before.r{round}"))])).await;
        let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
        client.subscribe("1", SUBSCRIBE, json!({})).await;
        wait_for_subscribers(&app, 1).await;
        app.record(&key, json!([event(&format!("after.r{round}"))])).await;
        assert_eq!(client.actions(1).await, [format!("after.r{round}")]);
        client.quiet().await;
        drop(client);
        wait_for_no_subscribers(&app).await;
    }
}

/// Other subscriptions starting take no room in an idle subscriber's buffer.
async fn new_subscriptions_do_not_crowd_out_idle_ones(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.subscriber_buffer = 4).await;
    let key = app.key("audit.read,audit.write").await;
    let mut idle = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    idle.subscribe("idle", SUBSCRIBE, json!({})).await;
    wait_for_subscribers(&app, 1).await;
    let mut others = Vec::new();
    for n in 0..20 {
        let mut client = Client::connect_with_key(&base(&app), Protocol::LegacyWs, &key).await;
        client.subscribe(&format!("{n}"), SUBSCRIBE, json!({})).await;
        others.push(client);
    }
    wait_for_subscribers(&app, 21).await;
    app.record(&key, json!([event("after.crowd")])).await;
    assert_eq!(idle.actions(1).await, ["after.crowd"]);
}

async fn each_tenant_sees_only_its_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let other = app.create_tenant("globex").await;
    let other_key = app.key_in(other, "audit.read,audit.write").await;
    let mut mine = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    let mut theirs = Client::connect_with_key(&base(&app), Protocol::LegacyWs, &other_key).await;
    mine.subscribe("a", SUBSCRIBE, json!({})).await;
    theirs.subscribe("b", SUBSCRIBE, json!({})).await;
    wait_for_subscribers(&app, 2).await;
    app.record(&other_key, json!([event("theirs.one")])).await;
    app.record(&key, json!([event("mine.one")])).await;
    assert_eq!(mine.actions(1).await, ["mine.one"]);
    assert_eq!(theirs.actions(1).await, ["theirs.one"]);
    mine.quiet().await;
}

async fn authentication_is_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.key("audit.read").await;
    let writer = app.key("audit.write").await;
    for protocol in [Protocol::TransportWs, Protocol::LegacyWs] {
        // A bad key on the upgrade request: refused before upgrading.
        let refused = Client::open(&base(&app), protocol, &[("authorization", "Bearer agk_nope")]).await;
        assert!(matches!(refused, Err(tungstenite::Error::Http(ref r)) if r.status() == 401), "{protocol:?}");
        // No key, or an unknown one, in connection_init: the connection is refused.
        for payload in [json!({}), json!({ "Authorization": "Bearer agk_unknown" })] {
            let mut client = Client::open(&base(&app), protocol, &[]).await.unwrap();
            client.send(json!({ "type": "connection_init", "payload": payload })).await;
            match client.receive(Duration::from_secs(5)).await {
                Some(Received::Errors(_)) | Some(Received::Closed(_)) => {}
                other => panic!("{protocol:?}: expected a refusal, got {other:?}"),
            }
        }
        // A key without audit.read may connect but not subscribe.
        let mut client = Client::connect_with_key(&base(&app), protocol, &writer).await;
        client.subscribe("1", SUBSCRIBE, json!({})).await;
        match client.receive(Duration::from_secs(5)).await {
            Some(Received::Errors(errors)) => assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{errors}"),
            other => panic!("{protocol:?}: expected FORBIDDEN, got {other:?}"),
        }
        // The key may also come on the upgrade request itself.
        let mut client = Client::open(&base(&app), protocol, &[("x-api-key", &reader)]).await.unwrap();
        client.send(json!({ "type": "connection_init", "payload": {} })).await;
        assert_eq!(client.next_message().await.unwrap()["type"], "connection_ack");
    }
}

async fn a_rolled_back_batch_announces_nothing(backend: Backend) {
    use sea_orm::TransactionTrait;
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    client.subscribe("1", SUBSCRIBE, json!({})).await;
    wait_for_subscribers(&app, 1).await;
    let doomed = new_event("doomed.event", "x");
    let txn = app.store.db().begin().await.unwrap();
    let recorded = auditgraph::service::recording::record_in(
        &txn,
        app.store.master_key().unwrap(),
        app.tenant,
        vec![doomed],
        app.store.now(),
    )
    .await
    .unwrap();
    assert_eq!(recorded.created.len(), 1, "stored inside the transaction");
    txn.rollback().await.unwrap();
    app.record(&key, json!([event("kept.event")])).await;
    assert_eq!(client.actions(1).await, ["kept.event"]);
    client.quiet().await;
}

async fn vanished_clients_free_their_subscriptions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut clients = Vec::new();
    for n in 0..5 {
        let protocol = if n % 2 == 0 { Protocol::TransportWs } else { Protocol::LegacyWs };
        let mut client = Client::connect_with_key(&base(&app), protocol, &key).await;
        client.subscribe("1", SUBSCRIBE, json!({})).await;
        clients.push(client);
    }
    wait_for_subscribers(&app, 5).await;
    // Dropped without a close handshake: the TCP connection just goes away.
    drop(clients);
    wait_for_no_subscribers(&app).await;
    // Recording afterwards is unaffected.
    app.record(&key, json!([event("after.vanish")])).await;
}

async fn connections_per_key_are_bounded(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.ws_max_connections_per_key = 2).await;
    let key = app.key("audit.read").await;
    let first = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    let _second = Client::connect_with_key(&base(&app), Protocol::LegacyWs, &key).await;
    let mut third = Client::open(&base(&app), Protocol::TransportWs, &[]).await.unwrap();
    third.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } })).await;
    match third.receive(Duration::from_secs(5)).await {
        Some(Received::Closed(Some(reason))) => assert!(reason.contains("WebSocket connections"), "{reason}"),
        other => panic!("expected the third connection to be refused, got {other:?}"),
    }
    // Closing one frees its place.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
}

async fn a_slow_subscriber_is_dropped_without_slowing_anyone(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.subscriber_buffer = 4).await;
    let key = app.key("audit.read,audit.write").await;
    let mut slow = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    slow.subscribe("slow", "subscription { auditEventRecorded { id summary } }", json!({})).await;
    let mut fast = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    fast.subscribe("fast", SUBSCRIBE, json!({ "f": { "action": { "eq": "flood.tick" } } })).await;
    wait_for_subscribers(&app, 2).await;
    // The slow client reads nothing while large events flood in.
    let summary = "x".repeat(4_000);
    let fast_reader = tokio::spawn(async move {
        let mut n = 0;
        while n < 40 {
            match fast.receive(Duration::from_secs(20)).await {
                Some(Received::Data(_)) => n += 1,
                other => panic!("the fast subscriber got {other:?} after {n} events"),
            }
        }
        n
    });
    for i in 0..40 {
        let batch: Vec<Value> = (0..100)
            .map(|j| {
                let mut e = event(if j == 0 { "flood.tick" } else { "flood.bulk" });
                e["summary"] = json!(format!("{i}-{j} {summary}"));
                e
            })
            .collect();
        app.data(
            &key,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": batch }),
        )
        .await;
    }
    assert_eq!(fast_reader.await.unwrap(), 40, "the fast subscriber got every tick");
    // Now the slow one reads: what was buffered, then the reason it was dropped.
    let mut delivered = 0;
    let reason = loop {
        match slow.receive(Duration::from_secs(10)).await {
            Some(Received::Data(_)) => delivered += 1,
            Some(Received::Errors(errors)) => break errors,
            other => panic!("expected the slow subscriber to be told it fell behind, got {other:?} after {delivered}"),
        }
    };
    assert!(delivered < 4_000, "it did fall behind");
    assert_eq!(reason[0]["extensions"]["code"], "RATE_LIMITED", "{reason}");
    assert!(reason[0]["message"].as_str().unwrap().contains("fell behind"), "{reason}");
}

/// Two `serve` processes on one PostgreSQL database: what is recorded through
/// one reaches subscribers of the other, every event, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_server_processes_on_postgres() {
    if crate::helpers::postgres_url().is_none() {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let dir = WorkDir::new();
    dir.run(&["migrate", "--database-url", &db.url]);
    let key = dir.tenant_with_key(&db.url);
    let key = key.as_str();
    let one = Server::start(&dir, &db.url).await;
    let two = Server::start(&dir, &db.url).await;
    let mut client = Client::connect_with_key(&one.base, Protocol::TransportWs, key).await;
    client.subscribe("1", SUBSCRIBE, json!({ "f": { "action": { "prefix": "cross." } } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut want = Vec::new();
    for batch in 0..5 {
        let events: Vec<Value> = (0..50).map(|i| event(&format!("cross.b{batch}e{i}"))).collect();
        want.extend(events.iter().map(|e| e["action"].as_str().unwrap().to_string()));
        two.data(
            key,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": events }),
        )
        .await;
    }
    assert_eq!(client.actions(want.len()).await, want);
    client.quiet().await;
}

backend_tests!(
    delivers_matching_events_in_order,
    nothing_from_before_the_start,
    new_subscriptions_do_not_crowd_out_idle_ones,
    each_tenant_sees_only_its_own,
    authentication_is_required,
    a_rolled_back_batch_announces_nothing,
    vanished_clients_free_their_subscriptions,
    connections_per_key_are_bounded,
    a_slow_subscriber_is_dropped_without_slowing_anyone,
);
