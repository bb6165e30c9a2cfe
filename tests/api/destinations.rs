//! Stream destinations cannot be turned against the network: every refused
//! address class in IPv4 and IPv6 forms at creation, names resolving only to
//! refused addresses, DNS rebinding through a resolver the test controls, the
//! three `lastError` wordings, and the bound on streams per tenant. Only
//! loopback receives traffic: refusals are shown without sending anywhere.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auditgraph::domain::address_policy::AddressPolicy;
use auditgraph::streams::resolver::{Destinations, HostLookup};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event, eventually};

backend_tests!(
    refused_addresses_are_refused_at_creation,
    a_rebound_name_never_reaches_a_refused_address,
    last_errors_say_no_more_than_they_must,
    streams_per_tenant_are_bounded,
);

const CREATE: &str = "mutation($i: CreateEventStreamInput!) { createEventStream(input: $i) { stream { id } } }";
const STATE: &str = "{ eventStreams { state lastError deliveredSequence } }";

/// Every class the contract refuses, in each of its forms.
const REFUSED: [&str; 22] = [
    "127.0.0.1",
    "127.1.2.3",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "224.0.0.1",
    "255.255.255.255",
    "[::1]",
    "[::]",
    "[fc00::1]",
    "[fd00:ec2::254]",
    "[fe80::1]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:10.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
    "[::127.0.0.1]",
];

/// A resolver that answers what the test last told it, counting questions.
#[derive(Debug, Default)]
struct Scripted {
    answer: Mutex<Vec<IpAddr>>,
    asked: AtomicUsize,
}

impl Scripted {
    fn answer(&self, ips: &[&str]) {
        *self.answer.lock().unwrap() = ips.iter().map(|ip| ip.parse().unwrap()).collect();
    }
}

impl HostLookup for Scripted {
    fn lookup(&self, _host: &str) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().unwrap().clone();
        Box::pin(async move { Ok(answer) })
    }
}

/// A server whose operator allowed `ranges`, resolving names with `lookup`.
async fn server(backend: Backend, ranges: &[&str], lookup: Option<Arc<Scripted>>) -> TestApp {
    let policy = AddressPolicy::allowing(ranges.iter().map(|r| r.parse().unwrap()).collect());
    TestApp::spawn_with(backend, move |s| {
        let mut destinations = Destinations { policy, ..Destinations::default() };
        if let Some(lookup) = lookup {
            destinations.lookup = lookup;
        }
        s.streams.destinations = destinations;
        s.streams.poll = Duration::from_millis(50);
        s.streams.backoff_cap = Duration::from_millis(200);
        s.streams.request_timeout = Duration::from_millis(500);
    })
    .await
}

/// A loopback HTTP receiver answering `status`; returns its port and a count of requests.
async fn receiver(status: u16) -> (u16, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (port, seen)
}

async fn stream_state(app: &TestApp, key: &str) -> Value {
    app.data(key, STATE, json!({})).await["eventStreams"][0].clone()
}

async fn refused_addresses_are_refused_at_creation(backend: Backend) {
    let app = server(backend, &[], None).await;
    let key = app.key("keys.manage,audit.read").await;
    for host in REFUSED {
        for (door, field) in [("webhook", "input.webhook.url"), ("splunkHec", "input.splunkHec.url")] {
            let mut destination = json!({ "url": format!("http://{host}:8088/hook") });
            if door == "splunkHec" {
                destination["token"] = json!("t");
            }
            let (_, body) = app.gql(&key, CREATE, json!({ "i": { "name": "x", door: destination } })).await;
            assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{host}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
    }
    // A name resolving only to loopback is refused as its addresses are.
    let (_, body) =
        app.gql(&key, CREATE, json!({ "i": { "name": "x", "webhook": { "url": "http://localhost:9/" } } })).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(app.data(&key, "{ eventStreams { id } }", json!({})).await["eventStreams"], json!([]));

    // The operator allows a range: its addresses, in every form, are accepted.
    let allowing = server(backend, &["127.0.0.0/8"], None).await;
    let key = allowing.key("keys.manage,audit.read").await;
    for host in ["127.0.0.1", "127.1.2.3", "[::ffff:127.0.0.1]"] {
        let url = format!("http://{host}:9/");
        allowing.data(&key, CREATE, json!({ "i": { "name": host, "webhook": { "url": url } } })).await;
    }
    let (_, body) =
        allowing.gql(&key, CREATE, json!({ "i": { "name": "x", "webhook": { "url": "http://[::1]:9/" } } })).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "::1 is outside 127.0.0.0/8: {body}");
}

/// The name resolves to the allowed 127.0.0.1 when the stream is created,
/// then to refused addresses (127.0.0.2 outside the allowed /32, the metadata
/// address): each attempt resolves once and connects only to what passed, so
/// nothing is sent until the name resolves to the allowed address again.
async fn a_rebound_name_never_reaches_a_refused_address(backend: Backend) {
    let lookup = Arc::new(Scripted::default());
    lookup.answer(&["127.0.0.1"]);
    let app = server(backend, &["127.0.0.1/32"], Some(lookup.clone())).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;
    let (port, seen) = receiver(200).await;
    let url = format!("http://rebinding.example:{port}/hook");
    app.data(&key, CREATE, json!({ "i": { "name": "hook", "webhook": { "url": url } } })).await;
    assert!(lookup.asked.load(Ordering::SeqCst) >= 1, "the name was checked at creation");

    for rebound in [&["127.0.0.2"][..], &["169.254.169.254", "::ffff:169.254.169.254"], &["10.0.0.1", "::1"]] {
        lookup.answer(rebound);
        let asked = lookup.asked.load(Ordering::SeqCst);
        app.record(&key, json!([event("doc.rebound")])).await;
        // Each attempt resolves the name again.
        eventually(Duration::from_secs(20), "the attempt refused", async || {
            let state = stream_state(&app, &key).await;
            lookup.asked.load(Ordering::SeqCst) > asked
                && state["state"] == "FAILING"
                && state["lastError"] == "destination address not allowed"
        })
        .await;
        assert_eq!(seen.load(Ordering::SeqCst), 0, "{rebound:?}: nothing reached a receiver");
    }

    lookup.answer(&["127.0.0.1"]);
    eventually(Duration::from_secs(20), "delivered once the name is allowed again", async || {
        stream_state(&app, &key).await["state"] == "ACTIVE" && seen.load(Ordering::SeqCst) > 0
    })
    .await;
}

/// A closed port, an open port that does not speak HTTP and a port that
/// answers HTTP: the first two read alike, the third gives its status.
async fn last_errors_say_no_more_than_they_must(backend: Backend) {
    let app = server(backend, &["127.0.0.0/8"], None).await;
    let key = app.key("keys.manage,audit.read,audit.write").await;

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = silent.accept().await {
            let _ = socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    let (http_port, _) = receiver(503).await;

    for (port, expected) in [
        (closed, "cannot deliver: connection failed"),
        (silent_port, "cannot deliver: connection failed"),
        (http_port, "destination answered HTTP 503"),
    ] {
        let url = format!("http://127.0.0.1:{port}/hook");
        let created =
            app.data(&key, CREATE, json!({ "i": { "name": format!("p{port}"), "webhook": { "url": url } } })).await;
        let id = created["createEventStream"]["stream"]["id"].clone();
        app.record(&key, json!([event("doc.probe")])).await;
        eventually(Duration::from_secs(20), expected, async || {
            let streams = app.data(&key, "{ eventStreams { id lastError } }", json!({})).await;
            streams["eventStreams"].as_array().unwrap().iter().any(|s| s["id"] == id && s["lastError"] == expected)
        })
        .await;
        app.data(&key, "mutation($id: ID!) { deleteEventStream(id: $id) { stream { id } } }", json!({ "id": id }))
            .await;
    }
}

async fn streams_per_tenant_are_bounded(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.streams.max_per_tenant = 2).await;
    let key = app.key("keys.manage,audit.read").await;
    let create = async |name: &str| {
        app.gql(&key, CREATE, json!({ "i": { "name": name, "webhook": { "url": "http://127.0.0.1:9/" } } })).await.1
    };
    for name in ["a", "b"] {
        let body = create(name).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let body = create("c").await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("2 event streams"), "{body}");
    // Another tenant has its own room.
    let other = app.create_tenant("globex").await;
    let other_key = app.key_in(other, "keys.manage,audit.read").await;
    let (_, body) =
        app.gql(&other_key, CREATE, json!({ "i": { "name": "a", "webhook": { "url": "http://127.0.0.1:9/" } } })).await;
    assert!(body.get("errors").is_none(), "{body}");
}
