//! Event streams: management through GraphQL (validation, secrets shown once,
//! self-audit, the destination guard) and delivery to a real webhook receiver
//! and a fake Splunk collector, through failures, timeouts and recovery.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event, eventually};

backend_tests!(
    streams_are_managed_and_self_audited,
    invalid_streams_are_refused,
    webhooks_arrive_in_order_through_failures,
    splunk_collector_receives_every_event,
);

const CREATE: &str = "mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { signingSecret stream { id name kind url filter state deliveredSequence lag lastError failingSince createdAt } } }";
const LIST: &str =
    "{ eventStreams { id name kind url filter state deliveredSequence lag lastDeliveredAt lastError failingSince } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateEventStreamInput!) { updateEventStream(id: $id, input: $i) { id name state filter } }";
const DELETE: &str = "mutation($id: ID!) { deleteEventStream(id: $id) { stream { id name } } }";

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    Fail,
    Hang,
}

/// What a receiver saw.
#[derive(Default)]
struct Seen {
    /// The sequences of every request, in arrival order.
    batches: Vec<Vec<u64>>,
    /// Problems found with requests (bad signature, bad token, bad body).
    problems: Vec<String>,
    attempts: usize,
}

struct Receiver {
    mode: Mutex<Mode>,
    /// The webhook secret or the HEC token, set once the stream exists.
    secret: Mutex<String>,
    seen: Mutex<Seen>,
}

impl Receiver {
    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn delivered(&self) -> Vec<u64> {
        self.seen.lock().unwrap().batches.iter().flatten().copied().collect()
    }

    fn problems(&self) -> Vec<String> {
        self.seen.lock().unwrap().problems.clone()
    }
}

/// Starts a receiver on a free loopback port; returns it and its URL.
async fn receiver(splunk: bool) -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver { mode: Mutex::new(Mode::Ok), secret: Mutex::default(), seen: Mutex::default() });
    let handler = if splunk { post(splunk_hec) } else { post(webhook) };
    let router = axum::Router::new().route("/hook", handler).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (state, url)
}

/// Answers per the mode, after recording the attempt.
async fn answer(state: &Receiver, sequences: Vec<u64>, ok_body: &'static str) -> (StatusCode, &'static str) {
    let mode = *state.mode.lock().unwrap();
    state.seen.lock().unwrap().attempts += 1;
    match mode {
        Mode::Ok => {
            state.seen.lock().unwrap().batches.push(sequences);
            (StatusCode::OK, ok_body)
        }
        Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "no"),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (StatusCode::OK, ok_body)
        }
    }
}

fn sequences_of(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["sequence"].as_str().unwrap().parse().unwrap()).collect()
}

/// Verifies the Standard Webhooks signature and records the batch.
async fn webhook(
    State(state): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let secret = state.secret.lock().unwrap().clone();
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or_default()).unwrap_or_default();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let payload: Value = serde_json::from_slice(&body).unwrap_or_default();
    let events = payload["data"]["events"].as_array().cloned().unwrap_or_default();
    let sequences = sequences_of(&events);
    {
        let mut seen = state.seen.lock().unwrap();
        if signature != expected {
            seen.problems.push(format!("bad signature on {id}"));
        }
        if payload["type"] != "audit.events" || events.is_empty() || events.len() > 100 {
            seen.problems.push(format!("bad body on {id}"));
        }
        let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap_or(0);
        if !(-5..=60).contains(&age) {
            seen.problems.push(format!("stale timestamp on {id}"));
        }
        let first_last = sequences.first().zip(sequences.last());
        if first_last.is_none_or(|(first, last)| !id.ends_with(&format!("_{first}_{last}"))) {
            seen.problems.push(format!("webhook-id {id} does not name the batch"));
        }
    }
    answer(&state, sequences, "").await
}

/// Checks the HEC token and parses the concatenated event objects.
async fn splunk_hec(
    State(state): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, &'static str) {
    let token = state.secret.lock().unwrap().clone();
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let objects: Vec<Value> =
        serde_json::Deserializer::from_slice(&body).into_iter::<Value>().collect::<Result<_, _>>().unwrap_or_default();
    {
        let mut seen = state.seen.lock().unwrap();
        if authorization != format!("Splunk {token}") {
            seen.problems.push(format!("bad authorization {authorization}"));
        }
        for object in &objects {
            if object["source"] != "auditgraph"
                || object["sourcetype"] != "auditgraph:event"
                || object["index"] != "audit"
                || !object["time"].is_f64()
            {
                seen.problems.push(format!("bad HEC event {object}"));
            }
        }
    }
    let events: Vec<Value> = objects.iter().map(|o| o["event"].clone()).collect();
    answer(&state, sequences_of(&events), r#"{"text":"Success","code":0}"#).await
}

/// Records `n` events named `action`; returns their sequences.
async fn record(app: &TestApp, key: &str, action: &str, n: usize) -> Vec<u64> {
    let events: Vec<Value> = (0..n).map(|_| event(action)).collect();
    let recorded = app.record(key, json!(events)).await;
    let ids: Vec<Value> = recorded["events"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    let data = app
        .data(key, "query($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { sequence } } }", json!({ "ids": ids }))
        .await;
    data["nodes"].as_array().unwrap().iter().map(|n| n["sequence"].as_str().unwrap().parse().unwrap()).collect()
}

async fn stream_state(app: &TestApp, key: &str) -> Value {
    app.data(key, LIST, json!({})).await["eventStreams"][0].clone()
}

async fn streams_are_managed_and_self_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let manager = app.key("keys.manage,audit.read,audit.write").await;
    let (_, url) = receiver(false).await;
    let created = app
        .data(
            &manager,
            CREATE,
            json!({ "i": { "name": "SIEM", "webhook": { "url": url }, "filter": { "action": { "prefix": "doc." } } } }),
        )
        .await["createEventStream"]
        .clone();
    let secret = created["signingSecret"].as_str().unwrap().to_string();
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).unwrap();
    assert!((24..=32).contains(&key.len()), "{secret}");
    let stream = &created["stream"];
    let id = stream["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("str_"), "{id}");
    assert_eq!(stream["kind"], "webhook");
    assert_eq!(stream["state"], "ACTIVE");
    assert_eq!(stream["lag"], "0");
    assert_eq!(stream["filter"], json!({ "action": { "prefix": "doc." } }));

    // The secret is never shown again: not in the list, not through node.
    let list = app.data(&manager, LIST, json!({})).await;
    assert_eq!(list["eventStreams"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret[6..]), "{list}");
    let node = app
        .data(&manager, "query($id: ID!) { node(id: $id) { id ... on EventStream { name } } }", json!({ "id": id }))
        .await;
    assert_eq!(node["node"]["name"], "SIEM");

    let updated = app.data(&manager, UPDATE, json!({ "id": id, "i": { "paused": true, "name": "SIEM 2" } })).await;
    assert_eq!(updated["updateEventStream"]["state"], "PAUSED");
    assert_eq!(updated["updateEventStream"]["name"], "SIEM 2");
    let deleted = app.data(&manager, DELETE, json!({ "id": id })).await;
    assert_eq!(deleted["deleteEventStream"]["stream"]["id"], id.as_str());
    assert_eq!(app.data(&manager, LIST, json!({})).await["eventStreams"], json!([]));
    let (_, body) = app.gql(&manager, DELETE, json!({ "id": id })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");

    let audited = app
        .data(&manager, r#"{ auditEvents(filter: {action: {prefix: "event_stream."}}, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { action resource { externalId } } } }"#, json!({}))
        .await;
    let nodes = audited["auditEvents"]["nodes"].as_array().unwrap();
    let actions: Vec<&str> = nodes.iter().map(|n| n["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["event_stream.create", "event_stream.update", "event_stream.delete"]);
    assert!(nodes.iter().all(|n| n["resource"]["externalId"] == id.as_str()));
    assert!(!audited.to_string().contains(&secret[6..]));
}

async fn invalid_streams_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let manager = app.key("keys.manage,audit.read").await;
    let refused = async |key: &str, input: Value, code: &str, field: &str| {
        let (_, body) = app.gql(key, CREATE, json!({ "i": input })).await;
        assert_eq!(error_code(&body), Some(code), "{input}: {body}");
        if !field.is_empty() {
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
    };
    let hook = json!({ "url": "http://127.0.0.1:9/hook" });
    refused(&manager, json!({ "name": "x" }), "BAD_USER_INPUT", "input.webhook").await;
    let hec = json!({ "url": "http://127.0.0.1:9/", "token": "t" });
    refused(&manager, json!({ "name": "x", "webhook": hook, "splunkHec": hec }), "BAD_USER_INPUT", "input.splunkHec")
        .await;
    for url in [
        "ftp://127.0.0.1/",
        "not a url",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/",
    ] {
        refused(&manager, json!({ "name": "x", "webhook": { "url": url } }), "BAD_USER_INPUT", "input.webhook.url")
            .await;
    }
    refused(&manager, json!({ "name": "", "webhook": hook }), "BAD_USER_INPUT", "input.name").await;
    refused(
        &manager,
        json!({ "name": "x", "webhook": hook, "startAfterSequence": "-1" }),
        "BAD_USER_INPUT",
        "input.startAfterSequence",
    )
    .await;
    refused(&manager, json!({ "name": "x", "webhook": hook, "filter": { "and": [{"and": [{"and": [{"and": [{"and": [{"and": []}]}]}]}]}] } }), "BAD_USER_INPUT", "").await;
    let reader = app.key("audit.read").await;
    refused(&reader, json!({ "name": "x", "webhook": hook }), "FORBIDDEN", "").await;
    let (_, body) = app.gql(&reader, LIST, json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    let token = app.viewer_token(&manager, json!({}), 600).await;
    refused(&token, json!({ "name": "x", "webhook": hook }), "FORBIDDEN", "").await;
    // Nothing was created.
    assert_eq!(app.data(&manager, LIST, json!({})).await["eventStreams"], json!([]));

    // The operator may allow a metadata host.
    let allowed = TestApp::spawn_with(backend, |s| s.streams.allow_hosts = vec!["169.254.169.254".into()]).await;
    let manager = allowed.key("keys.manage").await;
    allowed
        .data(&manager, CREATE, json!({ "i": { "name": "x", "webhook": { "url": "http://169.254.169.254/" } } }))
        .await;
}

fn quick(settings: &mut auditgraph::config::ServeSettings) {
    settings.streams.poll = Duration::from_millis(50);
    settings.streams.backoff_cap = Duration::from_millis(200);
    settings.streams.request_timeout = Duration::from_millis(500);
}

async fn webhooks_arrive_in_order_through_failures(backend: Backend) {
    let app = TestApp::spawn_with(backend, quick).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    let before = record(&app, &key, "doc.old", 3).await;
    record(&app, &key, "other.old", 2).await;
    let (receiver, url) = receiver(false).await;
    let created = app
        .data(&key, CREATE, json!({ "i": { "name": "hook", "webhook": { "url": url }, "filter": { "action": { "prefix": "doc." } }, "startAfterSequence": "0" } }))
        .await;
    *receiver.secret.lock().unwrap() = created["createEventStream"]["signingSecret"].as_str().unwrap().to_string();
    let mut expected: BTreeSet<u64> = before.into_iter().collect();
    expected.extend(record(&app, &key, "doc.new", 150).await);
    eventually(Duration::from_secs(20), "the first events", async || receiver.delivered().len() >= expected.len())
        .await;

    receiver.set_mode(Mode::Fail);
    expected.extend(record(&app, &key, "doc.failing", 5).await);
    eventually(Duration::from_secs(20), "FAILING", async || stream_state(&app, &key).await["state"] == "FAILING").await;
    let failing = stream_state(&app, &key).await;
    assert!(failing["failingSince"].is_string() && failing["lastError"].as_str().unwrap().contains("500"), "{failing}");
    assert_ne!(failing["lag"], "0");

    receiver.set_mode(Mode::Hang);
    expected.extend(record(&app, &key, "doc.hanging", 2).await);
    eventually(Duration::from_secs(20), "a timeout", async || {
        stream_state(&app, &key).await["lastError"].as_str().is_some_and(|e| e.contains("in time"))
    })
    .await;

    receiver.set_mode(Mode::Ok);
    record(&app, &key, "other.new", 3).await;
    eventually(Duration::from_secs(30), "recovery", async || {
        let state = stream_state(&app, &key).await;
        state["state"] == "ACTIVE" && state["lag"] == "0"
    })
    .await;
    let delivered = receiver.delivered();
    assert!(receiver.problems().is_empty(), "{:?}", receiver.problems());
    assert_eq!(delivered.iter().copied().collect::<BTreeSet<_>>(), expected, "every matching event, none other");
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in sequence order: {delivered:?}");
    let state = stream_state(&app, &key).await;
    assert!(
        state["lastError"].is_null() && state["failingSince"].is_null() && state["lastDeliveredAt"].is_string(),
        "{state}"
    );
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let id = state["id"].as_str().unwrap();
    assert!(metrics.contains(&format!("auditgraph_stream_lag_events{{stream=\"{id}\"}} 0")), "{metrics}");
    assert!(metrics.contains(&format!("auditgraph_stream_failed_attempts_total{{stream=\"{id}\"}}")), "{metrics}");
}

async fn splunk_collector_receives_every_event(backend: Backend) {
    let app = TestApp::spawn_with(backend, quick).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    let (receiver, url) = receiver(true).await;
    *receiver.secret.lock().unwrap() = "hec-token-1".into();
    let created = app
        .data(
            &key,
            CREATE,
            json!({ "i": { "name": "splunk", "splunkHec": { "url": url, "token": "hec-token-1", "index": "audit" } } }),
        )
        .await;
    assert!(created["createEventStream"]["signingSecret"].is_null());
    assert!(!created.to_string().contains("hec-token-1"));
    // New events only: the default start is the current size.
    let expected: BTreeSet<u64> = record(&app, &key, "doc.a", 120).await.into_iter().collect();
    eventually(Duration::from_secs(20), "delivery", async || stream_state(&app, &key).await["lag"] == "0").await;
    let delivered = receiver.delivered();
    assert!(receiver.problems().is_empty(), "{:?}", receiver.problems());
    assert_eq!(delivered.iter().copied().collect::<BTreeSet<_>>(), expected);
    assert!(delivered.windows(2).all(|w| w[0] < w[1]));
}

/// Two replicas on one PostgreSQL database deliver one stream without
/// interleaving; killing the delivering one loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_a_stream_and_survive_a_kill() {
    use crate::process::{Server, WorkDir};
    if crate::helpers::postgres_url().is_none() {
        return;
    }
    let db = crate::helpers::TestDb::new(Backend::Postgres).await;
    let dir = WorkDir::new();
    dir.tenant_with_key(&db.url);
    let key = dir
        .run(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "keys.manage,audit.read,audit.write",
            "--database-url",
            &db.url,
        ])
        .trim()
        .to_string();
    let flags = ["--stream-poll", "50ms", "--stream-timeout", "1s", "--stream-backoff-cap", "200ms"];
    let mut a = Server::start_with(&dir, &db.url, &flags).await;
    let b = Server::start_with(&dir, &db.url, &flags).await;
    let (receiver, url) = receiver(false).await;
    let created = a.data(&key, CREATE, json!({ "i": { "name": "hook", "webhook": { "url": url } } })).await;
    *receiver.secret.lock().unwrap() = created["createEventStream"]["signingSecret"].as_str().unwrap().to_string();
    let write = async |server: &Server, n: usize| {
        let events: Vec<Value> = (0..n).map(|_| event("doc.write")).collect();
        server
            .data(
                &key,
                "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
                json!({ "e": events }),
            )
            .await;
    };
    for round in 0..10 {
        write(if round % 2 == 0 { &a } else { &b }, 30).await;
    }
    eventually(Duration::from_secs(30), "300 events", async || receiver.delivered().len() >= 300).await;
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 300, "each batch delivered once");
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "no interleaving: {delivered:?}");

    // Kill -9 one replica (the lease may be with either) and keep writing.
    std::process::Command::new("kill").args(["-9", &a.pid().to_string()]).status().unwrap();
    a.terminate(Duration::from_secs(5));
    for _ in 0..5 {
        write(&b, 20).await;
    }
    eventually(Duration::from_secs(40), "delivery after the kill", async || {
        receiver.delivered().iter().collect::<BTreeSet<_>>().len() >= 400
    })
    .await;
    let all: BTreeSet<u64> = receiver.delivered().into_iter().collect();
    let first = *all.first().unwrap();
    assert_eq!(all, (first..first + 400).collect::<BTreeSet<_>>(), "nothing missing");
    assert!(receiver.problems().is_empty(), "{:?}", receiver.problems());
}
