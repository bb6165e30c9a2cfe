//! Event streams: management through GraphQL (validation, secrets shown once,
//! self-audit, the destination guard) and delivery to a real webhook receiver
//! and a fake Splunk collector, through failures, timeouts and recovery.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, error_code, event, eventually};
use crate::process::{Server, WorkDir};

backend_tests!(
    streams_are_managed_and_self_audited,
    invalid_streams_are_refused,
    webhooks_arrive_in_order_through_failures,
    splunk_collector_receives_every_event,
    streams_deliver_what_their_query_matches,
);

const CREATE: &str = "mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { signingSecret stream { id name kind url filter state deliveredSequence lag lastError failingSince createdAt } } }";
const LIST: &str =
    "{ eventStreams { id name kind url filter state deliveredSequence lag lastDeliveredAt lastError failingSince } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateEventStreamInput!) { updateEventStream(id: $id, input: $i) { id name state filter } }";
const DELETE: &str = "mutation($id: ID!) { deleteEventStream(id: $id) { stream { id name } } }";

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Ok,
    /// HTTP 500.
    Fail,
    /// Answers after 3 s, past the stream's timeout.
    Hang,
    /// Not listening: the port is closed and connections are refused. The
    /// same port is bound again when the mode changes.
    Refuse,
    /// Closes the connection midway: in turn, after reading the headers and
    /// part of the request's body (no answer), or after sending a 200's
    /// headers and part of its body.
    CloseMidBody,
}

/// What a receiver saw.
#[derive(Default)]
struct Seen {
    /// The sequences of every accepted request, in arrival order.
    batches: Vec<Vec<u64>>,
    /// Problems found with requests (bad signature, bad token, bad body).
    problems: Vec<String>,
    attempts: usize,
    /// Connections closed midway (`Mode::CloseMidBody`).
    cut: usize,
    /// When each request began and ended, to show that no two overlapped.
    spans: Vec<(Instant, Instant)>,
}

struct Receiver {
    mode: Mutex<Mode>,
    /// The webhook secret or the HEC token, set once the stream exists.
    secret: Mutex<String>,
    /// How long an accepted request takes, so that overlapping deliveries show.
    delay: Mutex<Duration>,
    seen: Mutex<Seen>,
}

impl Receiver {
    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap()
    }

    fn delivered(&self) -> Vec<u64> {
        self.seen.lock().unwrap().batches.iter().flatten().copied().collect()
    }

    fn batches(&self) -> Vec<Vec<u64>> {
        self.seen.lock().unwrap().batches.clone()
    }

    fn problems(&self) -> Vec<String> {
        self.seen.lock().unwrap().problems.clone()
    }

    /// Requests that were under way at the same time, if any.
    fn overlaps(&self) -> Vec<String> {
        let mut spans = self.seen.lock().unwrap().spans.clone();
        spans.sort();
        spans.windows(2).filter(|w| w[1].0 < w[0].1).map(|w| format!("{w:?}")).collect()
    }
}

/// Starts a receiver on a free loopback port; returns it and its URL.
async fn receiver(splunk: bool) -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver {
        mode: Mutex::new(Mode::Ok),
        secret: Mutex::default(),
        delay: Mutex::default(),
        seen: Mutex::default(),
    });
    let handler = if splunk { post(splunk_hec) } else { post(webhook) };
    // One request per connection: every request meets the current mode at
    // the door (a kept-alive connection would outlive a closed port).
    let router = axum::Router::new().route("/hook", handler).with_state(state.clone()).layer(
        axum::middleware::map_response(|mut response: axum::response::Response| async move {
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            response
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let door = Door { state: state.clone(), addr, listener: Some(listener) };
    tokio::spawn(async move { axum::serve(door, router).await });
    (state, format!("http://{addr}/hook"))
}

/// The receiver's listening socket, which follows the mode: closed while
/// refusing, and cutting connections short while `CloseMidBody`.
struct Door {
    state: Arc<Receiver>,
    addr: SocketAddr,
    listener: Option<tokio::net::TcpListener>,
}

impl axum::serve::Listener for Door {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let mode = self.state.mode();
            if mode == Mode::Refuse {
                self.listener = None;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            if self.listener.is_none() {
                match tokio::net::TcpListener::bind(self.addr).await {
                    Ok(listener) => self.listener = Some(listener),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
            }
            let listener = self.listener.as_ref().expect("bound above");
            // Wakes up now and then to follow a change of mode.
            let Ok(Ok((stream, peer))) = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await
            else {
                continue;
            };
            if self.state.mode() == Mode::CloseMidBody {
                tokio::spawn(cut_short(self.state.clone(), stream));
                continue;
            }
            return (stream, peer);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

/// Reads part of a request and closes the connection: without an answer, or
/// (every other time) after a 200's headers and a part of its announced body.
async fn cut_short(state: Arc<Receiver>, mut stream: tokio::net::TcpStream) {
    let answer_partly = {
        let mut seen = state.seen.lock().unwrap();
        seen.attempts += 1;
        seen.cut += 1;
        seen.cut % 2 == 0
    };
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let wanted = |request: &[u8]| {
        let end = request.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        // The whole request before a partial answer; the headers and a few
        // bytes of the body before hanging up.
        Some(if answer_partly { end + length } else { end + length.min(10) })
    };
    while wanted(&request).is_none_or(|n| request.len() < n) {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => request.extend_from_slice(&buffer[..n]),
            _ => return,
        }
    }
    if answer_partly {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{\"ok\":";
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.flush().await;
    }
    // Dropped: the connection closes with the answer (if any) incomplete.
}

/// Answers per the mode, after recording the attempt.
async fn answer(state: &Receiver, sequences: Vec<u64>, ok_body: &'static str) -> (StatusCode, &'static str) {
    let begun = Instant::now();
    let mode = state.mode();
    state.seen.lock().unwrap().attempts += 1;
    let answer = match mode {
        Mode::Ok => {
            let delay = *state.delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            state.seen.lock().unwrap().batches.push(sequences);
            (StatusCode::OK, ok_body)
        }
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (StatusCode::OK, ok_body)
        }
        // A connection accepted just before the mode changed: refused all the same.
        Mode::Fail | Mode::Refuse | Mode::CloseMidBody => (StatusCode::INTERNAL_SERVER_ERROR, "no"),
    };
    state.seen.lock().unwrap().spans.push((begun, Instant::now()));
    answer
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
        seen.problems.extend(events.iter().filter_map(not_opened));
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
    state.seen.lock().unwrap().problems.extend(events.iter().filter_map(not_opened));
    answer(&state, sequences_of(&events), r#"{"text":"Success","code":0}"#).await
}

/// Destinations get the opened event with its leaf hash (API.md Part 3):
/// personal values in plaintext, never sealed.
fn not_opened(event: &Value) -> Option<String> {
    let opened =
        event["leafHash"].as_str().is_some_and(|h| h.len() == 44) && !event["actor"]["displayName"].is_object();
    (!opened).then(|| format!("not an opened event with its leafHash: {}", event["id"]))
}

/// Records `n` events named `action`; returns their sequences.
async fn record(app: &TestApp, key: &str, action: &str, n: usize) -> Vec<u64> {
    // Named, so a delivery shows whether the sealed name was opened.
    let named = || {
        let mut e = event(action);
        e["actor"]["displayName"] = json!("User One");
        e
    };
    let events: Vec<Value> = (0..n).map(|_| named()).collect();
    let recorded = app.record(key, json!(events)).await;
    let ids: Vec<Value> = recorded["events"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    let data = app
        .data(key, "query($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { sequence } } }", json!({ "ids": ids }))
        .await;
    data["nodes"].as_array().unwrap().iter().map(|n| n["sequence"].as_str().unwrap().parse().unwrap()).collect()
}

/// The sequences of the tenant's self-audit events: every stream delivers
/// them, whatever its filter.
async fn self_audit_sequences(app: &TestApp, key: &str) -> BTreeSet<u64> {
    let query = r#"{ auditEvents(first: 500, filter: {sourceService: {eq: "auditgraph"}}) { nodes { sequence } } }"#;
    let data = app.data(key, query, json!({})).await;
    data["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["sequence"].as_str().unwrap().parse().unwrap())
        .collect()
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
    for url in ["ftp://127.0.0.1/", "not a url", "http://"] {
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
}

fn quick(settings: &mut auditgraph::config::ServeSettings) {
    settings.streams.poll = Duration::from_millis(50);
    settings.streams.backoff_cap = Duration::from_millis(200);
    settings.streams.request_timeout = Duration::from_millis(500);
}

/// Through each way a destination fails (HTTP 500, no answer in time, a
/// closed port, a connection cut midway) the stream turns `FAILING` and
/// retries; once the destination is back every matching event has arrived, in
/// sequence order, none missing, and the stream is `ACTIVE` with no lag.
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

    for (mode, error) in [
        (Mode::Fail, "destination answered HTTP 500"),
        (Mode::Hang, "cannot deliver: connection failed"),
        (Mode::Refuse, "cannot deliver: connection failed"),
        (Mode::CloseMidBody, "cannot deliver: connection failed"),
    ] {
        receiver.set_mode(mode);
        let cut_before = receiver.seen.lock().unwrap().cut;
        expected.extend(record(&app, &key, "doc.failing", 5).await);
        record(&app, &key, "other.failing", 2).await;
        eventually(Duration::from_secs(20), &format!("{mode:?}: FAILING with `{error}`"), async || {
            let state = stream_state(&app, &key).await;
            state["state"] == "FAILING" && state["lastError"].as_str().is_some_and(|e| e.contains(error))
        })
        .await;
        if mode == Mode::CloseMidBody {
            // Both ways of cutting short: before answering, and midway through a 200.
            eventually(Duration::from_secs(20), "two connections cut short", async || {
                receiver.seen.lock().unwrap().cut >= cut_before + 2
            })
            .await;
        }
        let failing = stream_state(&app, &key).await;
        assert!(failing["failingSince"].is_string() && failing["lag"] != "0", "{mode:?}: {failing}");
        assert!(expected.iter().any(|s| !receiver.delivered().contains(s)), "{mode:?}: nothing was held back");

        receiver.set_mode(Mode::Ok);
        record(&app, &key, "other.new", 3).await;
        eventually(Duration::from_secs(30), &format!("recovery from {mode:?}"), async || {
            let state = stream_state(&app, &key).await;
            state["state"] == "ACTIVE" && state["lag"] == "0"
        })
        .await;
        let delivered = receiver.delivered();
        expected.extend(self_audit_sequences(&app, &key).await);
        assert_eq!(delivered.iter().copied().collect::<BTreeSet<_>>(), expected, "{mode:?}: every matching event");
        assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{mode:?}: in sequence order: {delivered:?}");
    }
    assert!(receiver.problems().is_empty(), "{:?}", receiver.problems());
    let state = stream_state(&app, &key).await;
    assert!(
        state["lastError"].is_null() && state["failingSince"].is_null() && state["lastDeliveredAt"].is_string(),
        "{state}"
    );
    let admin = app.key("admin").await;
    let metrics = app.client.get(app.url("/metrics")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    let id = state["id"].as_str().unwrap();
    assert!(metrics.contains(&format!("auditgraph_stream_lag_events{{stream=\"{id}\"}} 0")), "{metrics}");
    assert!(metrics.contains(&format!("auditgraph_stream_failed_attempts_total{{stream=\"{id}\"}}")), "{metrics}");
}

/// A stream's query is AND-ed with its filter, shown back, changed by an
/// update, and refused with its position when it does not parse.
async fn streams_deliver_what_their_query_matches(backend: Backend) {
    let app = TestApp::spawn_with(backend, quick).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    let (receiver, url) = receiver(false).await;
    let (_, bad) = app
        .gql(&key, CREATE, json!({ "i": { "name": "hook", "webhook": { "url": url }, "query": "action:(doc" } }))
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["position"], 8, "{bad}");
    let created = app
        .data(
            &key,
            "mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { signingSecret stream { id query } } }",
            json!({ "i": { "name": "hook", "webhook": { "url": url }, "filter": { "outcome": "SUCCESS" }, "query": "action:doc.* -metadata.skip:true" } }),
        )
        .await;
    let stream = &created["createEventStream"]["stream"];
    assert_eq!(stream["query"], "action:doc.* -metadata.skip:true");
    *receiver.secret.lock().unwrap() = created["createEventStream"]["signingSecret"].as_str().unwrap().to_string();
    let mut skipped = event("doc.skip");
    skipped["metadata"] = json!({ "skip": true });
    let mut failed = event("doc.failed");
    failed["outcome"] = json!("FAILURE");
    let recorded = app.record(&key, json!([event("doc.kept"), skipped, failed, event("other.kept")])).await;
    let sequence = |i: usize| recorded["events"][i]["sequence"].as_str().unwrap().parse::<u64>().unwrap();
    // The stream starts after its own creation: later self-audit events come too.
    let mut expected: BTreeSet<u64> = [sequence(0)].into();
    expected.extend(self_audit_sequences(&app, &key).await.into_iter().filter(|s| *s > sequence(0)));
    eventually(Duration::from_secs(20), "the matching events", async || {
        let state = stream_state(&app, &key).await;
        state["lag"] == "0"
    })
    .await;
    assert_eq!(receiver.delivered().into_iter().collect::<BTreeSet<_>>(), expected);
    let updated = app
        .data(
            &key,
            "mutation($id: ID!, $i: UpdateEventStreamInput!) { updateEventStream(id: $id, input: $i) { query } }",
            json!({ "id": stream["id"], "i": { "query": null } }),
        )
        .await;
    assert!(updated["updateEventStream"]["query"].is_null(), "{updated}");
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

/// The stream's row as the database has it: who holds its lease, and the saved position.
async fn stream_row(db_url: &str) -> entity::event_stream::Model {
    use sea_orm::EntityTrait as _;
    let db = sea_orm::Database::connect(db_url).await.unwrap();
    let row = entity::event_stream::Entity::find().one(&db).await.unwrap().expect("a stream");
    db.close().await.ok();
    row
}

/// Which of `servers` holds the stream's lease (the holder is `<pid>-<uuid>`).
async fn lease_holder(db_url: &str, servers: &[&Server]) -> Option<usize> {
    let holder = stream_row(db_url).await.lease_holder?;
    servers.iter().position(|s| holder.starts_with(&format!("{}-", s.pid())))
}

/// Every batch is a run of consecutive sequences in order, and none starts
/// past what came before plus one: nothing skipped. (A batch may repeat
/// sequences of the one before: at least once.)
fn assert_contiguous(batches: &[Vec<u64>]) {
    let mut high = None::<u64>;
    for batch in batches {
        assert!(batch.windows(2).all(|w| w[1] == w[0] + 1), "a batch of consecutive sequences: {batch:?}");
        if let Some(high) = high {
            assert!(batch[0] <= high + 1, "a gap before {batch:?} (delivered up to {high})");
        }
        high = high.max(batch.last().copied());
    }
}

/// Two `serve` processes on one new PostgreSQL database, a key of tenant
/// `acme` that manages streams and records, and a webhook stream of the
/// tenant's new events to a new receiver. `None` without PostgreSQL.
struct Replicas {
    db: TestDb,
    dir: WorkDir,
    key: String,
    a: Server,
    b: Server,
    receiver: Arc<Receiver>,
}

/// The flag that lets the replicas deliver to the test's loopback receiver.
const LOOPBACK: &str = "--allow-stream-destination";

async fn replicas(flags: &[&str]) -> Option<Replicas> {
    crate::helpers::postgres_url()?;
    let db = TestDb::new(Backend::Postgres).await;
    let dir = WorkDir::new();
    dir.tenant_with_key(&db.url);
    let scopes = ["--tenant", "acme", "--scopes", "keys.manage,audit.read,audit.write", "--database-url", &db.url];
    let key = dir.run(&[&["key", "create"], &scopes[..]].concat()).trim().to_string();
    let a = Server::start_with(&dir, &db.url, flags).await;
    let b = Server::start_with(&dir, &db.url, flags).await;
    let (receiver, url) = receiver(false).await;
    let created = a.data(&key, CREATE, json!({ "i": { "name": "hook", "webhook": { "url": url } } })).await;
    *receiver.secret.lock().unwrap() = created["createEventStream"]["signingSecret"].as_str().unwrap().to_string();
    Some(Replicas { db, dir, key, a, b, receiver })
}

/// Records `n` events through `server`.
async fn write_to(server: &Server, key: &str, n: usize) {
    let events: Vec<Value> = (0..n).map(|_| event("doc.write")).collect();
    let q = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";
    server.data(key, q, json!({ "e": events })).await;
}

/// Two replicas on one PostgreSQL database deliver one stream, one at a time:
/// the receiver never sees two requests at once and each batch is a run of
/// consecutive sequences. `kill -9` of the lease holder hands the stream to the
/// other once the lease lapses, with nothing missing; a replica started again
/// resumes right after the saved position.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_a_stream_and_survive_a_kill() {
    // The lease is held for 1 s + 5 s at least: a dead holder's streams wait that long.
    let flags = [
        "--stream-poll",
        "50ms",
        "--stream-timeout",
        "1s",
        "--stream-backoff-cap",
        "200ms",
        "--stream-lease",
        "1s",
        LOOPBACK,
        "127.0.0.0/8",
    ];
    let Some(Replicas { db, dir, key, a, b, receiver }) = replicas(&flags).await else {
        return;
    };
    // Each request takes a while: two deliverers at once would overlap.
    *receiver.delay.lock().unwrap() = Duration::from_millis(30);
    let write = async |server: &Server, n: usize| write_to(server, &key, n).await;
    let distinct = || receiver.delivered().into_iter().collect::<BTreeSet<_>>();
    for round in 0..10 {
        write(if round % 2 == 0 { &a } else { &b }, 30).await;
    }
    eventually(Duration::from_secs(30), "300 events", async || distinct().len() >= 300).await;
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), 300, "each batch delivered once");
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "no interleaving: {delivered:?}");

    // Kill -9 the replica holding the lease; the other takes the stream over
    // when the lease lapses.
    let (mut holder, other) = match lease_holder(&db.url, &[&a, &b]).await.expect("one of them holds the lease") {
        0 => (a, b),
        _ => (b, a),
    };
    std::process::Command::new("kill").args(["-9", &holder.pid().to_string()]).status().unwrap();
    holder.terminate(Duration::from_secs(5));
    drop(holder);
    for _ in 0..5 {
        write(&other, 20).await;
    }
    eventually(Duration::from_secs(40), "delivery after the kill", async || distinct().len() >= 400).await;
    assert_eq!(lease_holder(&db.url, &[&other]).await, Some(0), "the survivor holds the lease");

    // A restart resumes from the saved position: the destination refuses while
    // the survivor stops and a new replica starts on the same database.
    receiver.set_mode(Mode::Fail);
    write(&other, 50).await;
    eventually(Duration::from_secs(20), "a refused batch", async || {
        let seen = receiver.seen.lock().unwrap();
        seen.attempts > seen.batches.len()
    })
    .await;
    let mut other = other;
    assert!(other.terminate(Duration::from_secs(15)).is_some_and(|s| s.success()), "a clean stop");
    let saved = stream_row(&db.url).await.delivered_sequence as u64;
    assert_eq!(Some(&saved), distinct().last(), "every accepted batch was saved");
    let accepted = receiver.batches().len();
    let _restarted = Server::start_with(&dir, &db.url, &flags).await;
    receiver.set_mode(Mode::Ok);
    eventually(Duration::from_secs(40), "delivery after the restart", async || distinct().len() >= 450).await;
    let batches = receiver.batches();
    assert_eq!(batches[accepted][0], saved + 1, "resumed right after the saved position");

    let all = distinct();
    let first = *all.first().unwrap();
    assert_eq!(all, (first..first + 450).collect::<BTreeSet<_>>(), "nothing missing");
    assert_contiguous(&batches);
    assert!(receiver.overlaps().is_empty(), "two deliverers at once: {:?}", receiver.overlaps());
    assert!(receiver.problems().is_empty(), "{:?}", receiver.problems());
}

/// A replica stopping (SIGTERM) gives its streams up at once: the other one
/// delivers although the lease (10 minutes here) has not lapsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_replica_hands_its_streams_over() {
    let flags = ["--stream-poll", "50ms", "--stream-timeout", "1s", "--stream-lease", "10m", LOOPBACK, "127.0.0.0/8"];
    let Some(Replicas { db, dir: _dir, key, a, b, receiver }) = replicas(&flags).await else {
        return;
    };
    let write = async |server: &Server| write_to(server, &key, 20).await;
    write(&a).await;
    eventually(Duration::from_secs(20), "the first events", async || receiver.delivered().len() >= 20).await;
    let (mut holder, other) = match lease_holder(&db.url, &[&a, &b]).await.expect("one of them holds the lease") {
        0 => (a, b),
        _ => (b, a),
    };
    let lease = stream_row(&db.url).await.lease_until.expect("a lease");
    assert!(lease > chrono::Utc::now() + chrono::Duration::minutes(5), "a long lease: {lease}");
    assert!(holder.terminate(Duration::from_secs(15)).is_some_and(|s| s.success()), "a clean stop");
    assert!(holder.log.lock().unwrap().iter().any(|l| l.contains("event stream leases released")));
    let row = stream_row(&db.url).await;
    assert!(
        row.lease_holder.is_none() || lease_holder(&db.url, &[&other]).await == Some(0),
        "the lease was given up: {row:?}"
    );
    write(&other).await;
    // Well within the ten minutes the lease would otherwise have lasted.
    eventually(Duration::from_secs(30), "delivery by the other replica", async || receiver.delivered().len() >= 40)
        .await;
    assert_eq!(lease_holder(&db.url, &[&other]).await, Some(0));
    let delivered = receiver.delivered();
    assert!(delivered.windows(2).all(|w| w[1] == w[0] + 1), "in order, nothing missing: {delivered:?}");
    assert!(receiver.problems().is_empty(), "{:?}", receiver.problems());
}
