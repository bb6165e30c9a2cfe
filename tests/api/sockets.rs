//! WebSocket abuse: sockets that never say hello, refused handshakes, keys
//! revoked while their sockets are open (here and on another replica), floods
//! of operations, and operations that must be admitted one by one like HTTP
//! requests (rate limit, fresh DataLoaders, the request timeout).

use std::time::{Duration, Instant};

use auditgraph::bus::Bus;
use auditgraph::domain::ids::ApiKeyId;
use auditgraph::service::keys;
use auditgraph::service::self_audit::Acting;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, event};
use crate::subscriptions::{
    Client, Protocol, Received, SUBSCRIBE, base, wait_for_no_subscribers, wait_for_subscribers,
};

const PROTOCOLS: [Protocol; 2] = [Protocol::TransportWs, Protocol::LegacyWs];

/// The close code the server ends the socket with, within `wait`, answering
/// pings meanwhile; other messages are returned in order before it.
async fn closed(client: &mut Client, wait: Duration) -> (Vec<Value>, Option<u64>) {
    let deadline = Instant::now() + wait;
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, client.next_message()).await {
            Err(_) => panic!("still open after {wait:?}; got {before:?}"),
            Ok(None) => return (before, None),
            Ok(Some(m)) if m["type"] == "closed" => return (before, m["code"].as_u64()),
            Ok(Some(m)) => before.push(m),
        }
    }
}

async fn key_id(app: &TestApp, key: &str) -> String {
    app.data(key, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn operation(protocol: Protocol, id: &str, query: &str, variables: Value) -> Value {
    let kind = if protocol == Protocol::TransportWs { "subscribe" } else { "start" };
    json!({ "id": id, "type": kind, "payload": { "query": query, "variables": variables } })
}

/// Runs one query or mutation over the socket and returns its payload.
async fn run(client: &mut Client, protocol: Protocol, id: &str, query: &str, variables: Value) -> Option<Value> {
    client.send(operation(protocol, id, query, variables)).await;
    let message = tokio::time::timeout(Duration::from_secs(10), client.next_message()).await.ok()??;
    (message["type"] == "next" || message["type"] == "data").then(|| message["payload"].clone())
}

async fn a_socket_that_never_says_hello_is_closed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.ws_init_timeout = Duration::from_secs(1)).await;
    for protocol in PROTOCOLS {
        let mut idle = Client::open(&base(&app), protocol, &[]).await.unwrap();
        let started = Instant::now();
        let (_, code) = closed(&mut idle, Duration::from_secs(5)).await;
        assert_eq!(code, Some(4408), "{protocol:?}");
        let after = started.elapsed();
        assert!(after >= Duration::from_millis(900) && after < Duration::from_secs(3), "{protocol:?}: {after:?}");
    }
    // Talking without saying hello does not keep it open either.
    let mut chatty = Client::open(&base(&app), Protocol::TransportWs, &[]).await.unwrap();
    for _ in 0..5 {
        chatty.send(json!({ "type": "ping" })).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(closed(&mut chatty, Duration::from_secs(5)).await.1, Some(4408));
    // A socket that does say hello in time stays.
    let key = app.key("audit.read").await;
    let mut polite = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let payload = run(&mut polite, Protocol::TransportWs, "1", "{ viewer { scopes } }", json!({})).await;
    assert_eq!(payload.unwrap()["data"]["viewer"]["scopes"], json!(["AUDIT_READ"]));
}

async fn a_refused_handshake_closes_with_4403(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.ws_max_connections_per_key = 1).await;
    let key = app.key("audit.read").await;
    let _held = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    for protocol in PROTOCOLS {
        for (what, payload) in [
            ("no key", json!({})),
            ("an unknown key", json!({ "Authorization": "Bearer agk_unknown" })),
            ("a malformed header", json!({ "Authorization": "Basic eA==" })),
            ("a key over its connection limit", json!({ "Authorization": format!("Bearer {key}") })),
        ] {
            let mut client = Client::open(&base(&app), protocol, &[]).await.unwrap();
            client.send(json!({ "type": "connection_init", "payload": payload })).await;
            let (before, code) = closed(&mut client, Duration::from_secs(5)).await;
            assert_eq!(code, Some(4403), "{protocol:?}, {what}: {before:?}");
        }
    }
    // An operation before the handshake is refused as unauthorized.
    let mut eager = Client::open(&base(&app), Protocol::TransportWs, &[]).await.unwrap();
    eager.send(operation(Protocol::TransportWs, "1", SUBSCRIBE, json!({}))).await;
    assert_eq!(closed(&mut eager, Duration::from_secs(5)).await.1, Some(4401));
}

/// A key revoked through this server: its subscription ends with
/// `UNAUTHENTICATED`, the socket closes, and nothing it sends afterwards runs
/// (a revoked `keys.manage` key once minted a fresh key over its old socket).
async fn a_revoked_key_loses_its_sockets(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.auth_cache_ttl = Duration::from_secs(60)).await;
    let admin = app.key("admin").await;
    for protocol in PROTOCOLS {
        let victim = app.key("audit.read,audit.write,keys.manage").await;
        let victim_id = key_id(&app, &victim).await;
        let mut listening = Client::connect_with_key(&base(&app), protocol, &victim).await;
        listening.subscribe("live", SUBSCRIBE, json!({})).await;
        let mut idle = Client::connect_with_key(&base(&app), protocol, &victim).await;
        wait_for_subscribers(&app, 1).await;
        app.record(&admin, json!([event("before.revoke")])).await;
        assert_eq!(listening.actions(1).await, ["before.revoke"]);

        let keys_before = app.data(&admin, "{ viewer { tenant { apiKeys { id } } } }", json!({})).await;
        let started = Instant::now();
        app.data(&admin, "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }", json!({ "id": victim_id }))
            .await;
        // The idle socket tries to mint a key, at once.
        let mint = "mutation { createApiKey(input: {name: \"late\", scopes: [AUDIT_READ]}) { secret } }";
        idle.send(operation(protocol, "mint", mint, json!({}))).await;
        let (said, code) = closed(&mut idle, Duration::from_secs(3)).await;
        assert_eq!(code, Some(4403), "{protocol:?}: {said:?}");
        for message in said.iter().filter(|m| m["type"] != "complete") {
            assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{message}");
        }
        let keys_after = app.data(&admin, "{ viewer { tenant { apiKeys { id } } } }", json!({})).await;
        assert_eq!(keys_before, keys_after, "{protocol:?}: no key was minted");

        // The subscription is told why it ends, then the socket closes.
        let (said, code) = closed(&mut listening, Duration::from_secs(3)).await;
        assert_eq!(code, Some(4403), "{protocol:?}: {said:?}");
        assert_eq!(said[0]["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{said:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        // Nothing recorded afterwards reaches it, and the key cannot connect again.
        app.record(&admin, json!([event("after.revoke")])).await;
        let mut again = Client::open(&base(&app), protocol, &[]).await.unwrap();
        again
            .send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {victim}") } }))
            .await;
        assert_eq!(closed(&mut again, Duration::from_secs(3)).await.1, Some(4403));
    }
}

/// A key revoked elsewhere (another replica, the command line) is found
/// within the auth cache time, with the same ending.
async fn a_key_revoked_elsewhere_loses_its_sockets_within_the_cache_time(backend: Backend) {
    let cache = Duration::from_millis(1_000);
    let app = TestApp::spawn_with(backend, |s| s.auth_cache_ttl = cache).await;
    let writer = app.key("audit.write").await;
    let victim = app.key("audit.read").await;
    let victim_id = ApiKeyId::parse(&key_id(&app, &victim).await, "id").unwrap();
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &victim).await;
    client.subscribe("live", SUBSCRIBE, json!({})).await;
    wait_for_subscribers(&app, 1).await;
    // Straight in the database, as another process would: this server is not told.
    keys::revoke_key(&app.store, &Bus::new(1), app.tenant, victim_id, Acting::System).await.unwrap();
    let started = Instant::now();
    let (said, code) = closed(&mut client, cache * 3).await;
    let took = started.elapsed();
    assert_eq!(code, Some(4403), "{said:?}");
    assert!(took <= cache + Duration::from_millis(500), "ended after {took:?}");
    let errors: Vec<&Value> = said.iter().filter(|m| m["payload"].get("errors").is_some()).collect();
    assert_eq!(errors[0]["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{said:?}");
    app.record(&writer, json!([event("after.revoke")])).await;
    wait_for_no_subscribers(&app).await;
}

async fn operations_per_socket_are_bounded(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.ws_max_operations = 3).await;
    let key = app.key("audit.read,audit.write").await;
    for protocol in PROTOCOLS {
        let mut client = Client::connect_with_key(&base(&app), protocol, &key).await;
        // A flood: 3 run, the other 47 are refused one by one, and the socket stays.
        for i in 0..50 {
            client.send(operation(protocol, &format!("s{i}"), SUBSCRIBE, json!({}))).await;
        }
        let mut refused = 0;
        while refused < 47 {
            match client.receive(Duration::from_secs(5)).await {
                Some(Received::Errors(errors)) => {
                    assert_eq!(errors[0]["extensions"]["code"], "RATE_LIMITED", "{errors}");
                    refused += 1;
                }
                Some(Received::Complete) => {}
                other => panic!("{protocol:?}: expected refusals, got {other:?} after {refused}"),
            }
        }
        wait_for_subscribers(&app, 3).await;
        app.record(&key, json!([event("flood.one")])).await;
        let mut delivered = 0;
        while delivered < 3 {
            match client.receive(Duration::from_secs(5)).await {
                Some(Received::Data(d)) => {
                    assert_eq!(d["auditEventRecorded"]["action"], "flood.one");
                    delivered += 1;
                }
                Some(Received::Complete) => {}
                other => panic!("{protocol:?}: expected the event thrice, got {other:?}"),
            }
        }
        // Completing one frees its place.
        let stop = if protocol == Protocol::TransportWs { "complete" } else { "stop" };
        client.send(json!({ "id": "s0", "type": stop })).await;
        assert!(matches!(client.receive(Duration::from_secs(5)).await, Some(Received::Complete)));
        let payload = run(&mut client, protocol, "q", "{ viewer { scopes } }", json!({})).await.unwrap();
        assert!(payload.get("errors").is_none(), "{payload}");
        drop(client);
        wait_for_no_subscribers(&app).await;
    }
}

/// Operations on a socket are limited with the key's HTTP requests.
async fn socket_operations_are_rate_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.rate_limit = Some((0.5, 3))).await;
    let key = app.key("audit.read").await;
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    let mut codes = Vec::new();
    for i in 0..6 {
        let payload =
            run(&mut client, Protocol::TransportWs, &format!("q{i}"), "{ viewer { scopes } }", json!({})).await;
        let payload = payload.expect("an answer");
        codes.push(payload["errors"][0]["extensions"]["code"].as_str().unwrap_or("ok").to_string());
        // Read the `complete` that follows.
        client.receive(Duration::from_secs(5)).await;
    }
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 3, "{codes:?}");
    assert!(codes[3..].iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    // HTTP requests of the same key draw from the same bucket.
    let (status, _) = app.gql(&key, "{ viewer { scopes } }", json!({})).await;
    assert_eq!(status, reqwest::StatusCode::TOO_MANY_REQUESTS);
}

/// Each operation sees the data as it is when it runs, not as an earlier
/// operation on the same socket loaded it.
async fn each_socket_operation_reads_afresh(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let named = |name: &str| {
        let mut e = event("profile.update");
        e["actor"]["displayName"] = json!(name);
        e
    };
    let id = app.record(&key, json!([named("Ada")])).await["events"][0]["id"].clone();
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    // One event by ID: its actor comes through the DataLoader.
    let query = "query($id: ID!) { auditEvent(id: $id) { actor { displayName } } }";
    let name = |payload: Option<Value>| payload.unwrap()["data"]["auditEvent"]["actor"]["displayName"].clone();
    assert_eq!(name(run(&mut client, Protocol::TransportWs, "1", query, json!({ "id": id })).await), "Ada");
    client.receive(Duration::from_secs(5)).await;
    app.record(&key, json!([named("Ada Lovelace")])).await;
    assert_eq!(name(run(&mut client, Protocol::TransportWs, "2", query, json!({ "id": id })).await), "Ada Lovelace");
}

/// A query over a socket is held to the request timeout, and its statement
/// ends with it (PostgreSQL: the table is locked, so only cancellation ends it).
async fn socket_operations_time_out(backend: Backend) {
    if backend != Backend::Postgres {
        return;
    }
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = TestApp::spawn_with(backend, |s| {
        s.request_timeout = Duration::from_secs(1);
        s.db.statement_timeout = None;
    })
    .await;
    let key = app.key("audit.read").await;
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    let lock = app.store.db().begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let started = Instant::now();
    let payload =
        run(&mut client, Protocol::TransportWs, "slow", "{ auditEvents(first: 0) { totalCount } }", json!({}))
            .await
            .expect("an answer");
    assert_eq!(payload["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX", "{payload}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let left = crate::abuse::event_statements_after(&app, Duration::from_secs(4)).await;
    assert!(left.is_empty(), "the statement outlived its operation: {left:?}");
    lock.rollback().await.unwrap();
    // The socket goes on.
    client.receive(Duration::from_secs(5)).await;
    let payload = run(&mut client, Protocol::TransportWs, "next", "{ viewer { scopes } }", json!({})).await.unwrap();
    assert!(payload.get("errors").is_none(), "{payload}");
}

backend_tests!(
    a_socket_that_never_says_hello_is_closed,
    a_refused_handshake_closes_with_4403,
    a_revoked_key_loses_its_sockets,
    a_key_revoked_elsewhere_loses_its_sockets_within_the_cache_time,
    operations_per_socket_are_bounded,
    socket_operations_are_rate_limited,
    each_socket_operation_reads_afresh,
    socket_operations_time_out,
);
