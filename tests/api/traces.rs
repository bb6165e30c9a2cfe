//! W3C trace context and OpenTelemetry: a request's `traceparent` makes its
//! spans children of the caller's span, the real binary exports them over
//! OTLP/HTTP (to a receiver in this test) promptly and at shutdown, and every
//! log line of a request names its trace ID.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{Backend, TestDb, backend_tests};
use crate::process::{Server, WorkDir};
use crate::subscriptions::{Client, Protocol};

/// A span as received, with its resource's `service.name`.
#[derive(Clone, Debug)]
struct Received {
    service: Option<String>,
    span: Span,
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body.
struct Receiver {
    addr: std::net::SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(spans): State<Arc<Mutex<Vec<Received>>>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    if headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some("application/x-protobuf") {
        return (AxumStatus::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (AxumStatus::BAD_REQUEST, Vec::new());
    };
    let mut received = spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans.resource.iter().flat_map(|r| &r.attributes).find_map(|kv| {
            match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) if kv.key == "service.name" => Some(s.clone()),
                _ => None,
            }
        });
        for scope in resource_spans.scope_spans {
            received.extend(scope.spans.into_iter().map(|span| Received { service: service.clone(), span }));
        }
    }
    (AxumStatus::OK, ExportTraceServiceResponse::default().encode_to_vec())
}

impl Receiver {
    async fn start() -> Receiver {
        let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
        let router = axum::Router::new().route("/v1/traces", axum::routing::post(receive)).with_state(spans.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { addr, spans, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans_of(&self, trace: &str) -> Vec<Received> {
        self.spans.lock().unwrap().iter().filter(|r| hex(&r.span.trace_id) == trace).cloned().collect()
    }

    /// The spans of `trace` once its request span has arrived.
    async fn wait_for_request(&self, trace: &str) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.spans_of(trace);
            if spans.iter().any(|r| r.span.kind == SpanKind::Server as i32) {
                return spans;
            }
            assert!(Instant::now() < deadline, "trace {trace} never exported: {:#?}", self.spans.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh (trace ID, span ID) pair, as a caller's tracer would make them.
fn caller_ids() -> (String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    (trace, span)
}

/// The 32-hex-digit `trace_id` a log line names (text `trace_id=…` or JSON `"trace_id":"…"`).
fn trace_id_in(line: &str) -> Option<String> {
    let rest = line.split("trace_id").nth(1)?;
    let digits: String =
        rest.trim_start_matches(|c: char| !c.is_ascii_hexdigit()).chars().take_while(char::is_ascii_hexdigit).collect();
    (digits.len() == 32).then_some(digits)
}

/// The server's log lines naming `request_id`, once the request's last line is written.
async fn lines_of(server: &Server, request_id: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log.lock().unwrap().clone();
        let lines: Vec<String> = log.into_iter().filter(|l| l.contains(request_id)).collect();
        if lines.iter().any(|l| l.contains("finished processing request")) {
            return lines;
        }
        assert!(Instant::now() < deadline, "no finished request {request_id} in the log: {lines:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn query(server: &Server, key: &str, headers: &[(&str, &str)]) {
    let mut request = reqwest::Client::new().post(format!("{}/graphql", server.base)).bearer_auth(key);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .json(&json!({ "query": "{ auditEvents(first: 5) { totalCount nodes { id } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
}

async fn spans_continue_the_callers_trace_and_logs_name_it(backend: Backend) {
    let receiver = Receiver::start().await;
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    let server = Server::start_with(&dir, &db.url, &["--otlp-endpoint", &receiver.url()]).await;

    let (trace, parent) = caller_ids();
    let traceparent = format!("00-{trace}-{parent}-01");
    let request_id = format!("traced-{trace}");
    query(
        &server,
        &key,
        &[("traceparent", &traceparent), ("tracestate", "vendor=opaque"), ("x-request-id", &request_id)],
    )
    .await;

    let spans = receiver.wait_for_request(&trace).await;
    let root: Vec<&Received> = spans.iter().filter(|r| r.span.kind == SpanKind::Server as i32).collect();
    assert_eq!(root.len(), 1, "{spans:#?}");
    let root = &root[0].span;
    assert_eq!(root.name, "POST /graphql");
    assert_eq!(hex(&root.parent_span_id), parent, "the caller's span is the parent");
    assert_eq!(root.trace_state, "vendor=opaque");
    assert!(spans.iter().all(|r| r.service.as_deref() == Some("auditgraph")), "{spans:#?}");
    // The database work inside the request: children of the request span (or of its children).
    let ids: Vec<Vec<u8>> = spans.iter().map(|r| r.span.span_id.clone()).collect();
    let children: Vec<&Span> = spans.iter().map(|r| &r.span).filter(|s| s.span_id != root.span_id).collect();
    assert!(
        children.iter().any(|s| s.parent_span_id == root.span_id && s.name.starts_with("db.")),
        "no database span under the request: {spans:#?}"
    );
    for child in &children {
        assert!(ids.contains(&child.parent_span_id), "{} has a parent outside the trace", child.name);
    }

    // Every log line of the request names its trace.
    let lines = lines_of(&server, &request_id).await;
    for line in &lines {
        assert_eq!(trace_id_in(line).as_deref(), Some(trace.as_str()), "{line}");
    }

    // Without `traceparent`: a new trace, its ID in the logs, no parent.
    query(&server, &key, &[("x-request-id", "untraced-request")]).await;
    let lines = lines_of(&server, "untraced-request").await;
    let fresh = trace_id_in(&lines[0]).unwrap_or_else(|| panic!("no trace ID: {lines:#?}"));
    assert!(lines.iter().all(|l| trace_id_in(l).as_ref() == Some(&fresh)), "{lines:#?}");
    assert_ne!(fresh, trace);
    let spans = receiver.wait_for_request(&fresh).await;
    let root = spans.iter().find(|r| r.span.kind == SpanKind::Server as i32).unwrap();
    assert!(root.span.parent_span_id.is_empty(), "{root:#?}");
}

/// Spans still waiting for their batch are exported when the server stops.
async fn spans_are_exported_at_shutdown(backend: Backend) {
    let receiver = Receiver::start().await;
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    // A batch delay of ten minutes: nothing is exported before shutdown.
    let mut server = Server::start_with_env(
        &dir,
        &db.url,
        &["--otlp-endpoint", &receiver.url()],
        &[("OTEL_BSP_SCHEDULE_DELAY", "600000")],
    )
    .await;
    let (trace, parent) = caller_ids();
    query(&server, &key, &[("traceparent", &format!("00-{trace}-{parent}-01"))]).await;
    assert!(receiver.spans_of(&trace).is_empty(), "exported before the batch delay");
    let status = tokio::task::block_in_place(|| server.terminate(Duration::from_secs(30)));
    assert_eq!(status.map(|s| s.success()), Some(true));
    let spans = receiver.spans_of(&trace);
    let root = spans.iter().find(|r| r.span.kind == SpanKind::Server as i32);
    assert_eq!(root.map(|r| hex(&r.span.parent_span_id)), Some(parent), "{spans:#?}");
}

/// JSON logs, no exporter: every door takes `traceparent`, and a request
/// without a valid one gets a fresh trace ID.
async fn every_door_takes_the_trace_context_into_the_logs(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    let server = Server::start_with(&dir, &db.url, &["--log-format", "json"]).await;
    let client = reqwest::Client::new();
    let get = |path: &str, request_id: &str, traceparent: &str| {
        client
            .get(format!("{}{path}", server.base))
            .bearer_auth(&key)
            .header("x-request-id", request_id)
            .header("traceparent", traceparent)
    };
    let mut expected = Vec::new();
    for (door, path) in [("rest", "/v1/events?limit=1"), ("export", "/export")] {
        let (trace, parent) = caller_ids();
        let request_id = format!("{door}-{trace}");
        let response = get(path, &request_id, &format!("00-{trace}-{parent}-01")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.bytes().await.unwrap();
        expected.push((request_id, Some(trace)));
    }
    let (trace, parent) = caller_ids();
    let request_id = format!("graphql-{trace}");
    query(&server, &key, &[("traceparent", &format!("00-{trace}-{parent}-01")), ("x-request-id", &request_id)]).await;
    expected.push((request_id, Some(trace)));

    let (trace, parent) = caller_ids();
    let request_id = format!("ws-{trace}");
    let traceparent = format!("00-{trace}-{parent}-01");
    let mut ws = Client::open(
        &server.base,
        Protocol::TransportWs,
        &[("traceparent", &traceparent), ("x-request-id", &request_id)],
    )
    .await
    .expect("upgrade");
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } })).await;
    assert_eq!(ws.next_message().await.map(|m| m["type"].clone()), Some(json!("connection_ack")));
    expected.push((request_id, Some(trace)));

    // No trace context, and a malformed one: each starts its own trace.
    for (request_id, traceparent) in [("no-context", None), ("bad-context", Some("00-nothex-0000000000000001-01"))] {
        let mut headers = vec![("x-request-id", request_id)];
        headers.extend(traceparent.map(|t| ("traceparent", t)));
        query(&server, &key, &headers).await;
        expected.push((request_id.to_string(), None));
    }

    let mut fresh = Vec::new();
    for (request_id, trace) in expected {
        let lines = lines_of(&server, &request_id).await;
        for line in &lines {
            let json: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            let request = json["spans"]
                .as_array()
                .and_then(|spans| spans.iter().find(|s| s["name"] == "request"))
                .unwrap_or_else(|| panic!("no request span: {line}"));
            let id = request["trace_id"].as_str().unwrap_or_else(|| panic!("no trace_id: {line}"));
            assert_eq!(id.len(), 32, "{line}");
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()) && id != "0".repeat(32), "{line}");
            match &trace {
                Some(trace) => assert_eq!(id, trace, "{line}"),
                None => fresh.push(id.to_string()),
            }
        }
    }
    fresh.dedup();
    assert_eq!(fresh.len(), 2, "one new trace per request: {fresh:?}");
}

/// An endpoint that is not an http(s) URL stops the server before it starts.
#[test]
fn a_bad_otlp_endpoint_is_refused() {
    let dir = WorkDir::new();
    for bad in ["localhost:4318", "ftp://collector", "http://"] {
        let out = dir.output(&[
            "serve",
            "--otlp-endpoint",
            bad,
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
        ]);
        assert!(!out.status.success(), "{bad} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("invalid --otlp-endpoint `{bad}`")), "{stderr}");
    }
}

backend_tests!(
    spans_continue_the_callers_trace_and_logs_name_it,
    spans_are_exported_at_shutdown,
    every_door_takes_the_trace_context_into_the_logs,
);
