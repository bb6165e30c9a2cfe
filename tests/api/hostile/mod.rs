//! Hostile input: a corpus of several hundred malformed requests, generated
//! programmatically and sent over real HTTP in small concurrent groups. Each
//! must get a clear error carrying one of the contract's codes (or a 4xx with a
//! JSON error body): never a 5xx, never `INTERNAL`, never SQL, file paths or a
//! panic in the body. Afterwards the stored events are exactly those stored
//! before.
//!
//! The cases come in families, one file each; this file sends them and
//! checks every answer against the rules they all share.

mod auth;
mod cursors;
mod dates;
mod deep;
mod ids;
mod shapes;
mod strings;
mod transport;
mod variables;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use auditgraph::domain::cursor::{Cursor, EventOrder, OrderField, SortDirection};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, event, rfc3339};

use auth::auth_cases;
use cursors::cursor_cases;
use dates::date_cases;
use deep::{deep_documents_do_not_crash_the_server, panic_message};
use ids::id_cases;
use shapes::shape_cases;
use strings::string_cases;
use transport::transport_cases;
use variables::variable_cases;

/// The codes a refused request may carry (the contract's, less `INTERNAL`).
const CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "BAD_CURSOR",
    "NOT_FOUND",
    "QUERY_TOO_COMPLEX",
    "RATE_LIMITED",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
];
/// Text that must never reach a caller: SQL, source paths, panics.
const LEAKS: &[&str] =
    &["SELECT", "INSERT", "UPDATE ", "syntax error at", "src/", ".rs", "panicked", "sqlx", "DbErr", "stack backtrace"];
const MB: usize = 1 << 20;
/// Requests in flight at once.
const GROUP: usize = 16;

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// An error whose codes are all among these.
    Codes(&'static [&'static str]),
    /// This HTTP status, with a JSON error body carrying a contract code.
    Status(u16),
    /// A coded error or a plain answer; never a 5xx or a leak.
    Harmless,
}

const REFUSED: Expect = Expect::Codes(CODES);
const BAD_INPUT: Expect = Expect::Codes(&["BAD_USER_INPUT"]);
const BAD_CURSOR: Expect = Expect::Codes(&["BAD_CURSOR"]);
/// A value of the wrong type: a request (validation) or an input error.
const INVALID: Expect = Expect::Codes(&["GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"]);
const PARSE: Expect = Expect::Codes(&["GRAPHQL_PARSE_FAILED"]);
const TOO_COMPLEX: Expect = Expect::Codes(&["QUERY_TOO_COMPLEX"]);

#[derive(Clone, Copy, Debug)]
enum Auth {
    /// `audit.read,audit.write,keys.manage`.
    Main,
    /// `audit.read` only.
    Reader,
    None,
}

enum Transport {
    Post { body: Vec<u8>, content_type: Option<&'static str> },
    Get(Vec<(String, String)>),
}

struct Case {
    what: String,
    transport: Transport,
    auth: Auth,
    headers: Vec<(&'static str, Vec<u8>)>,
    expect: Expect,
}

#[derive(Default)]
struct Corpus {
    cases: Vec<Case>,
}

impl Corpus {
    fn push(&mut self, what: impl Into<String>, transport: Transport, expect: Expect) -> &mut Case {
        self.cases.push(Case { what: what.into(), transport, auth: Auth::Main, headers: Vec::new(), expect });
        self.cases.last_mut().unwrap()
    }

    /// A GraphQL request as a JSON POST.
    fn gql(&mut self, what: impl Into<String>, query: &str, variables: Value, expect: Expect) -> &mut Case {
        let body = json!({ "query": query, "variables": variables }).to_string().into_bytes();
        self.raw(what, body, expect)
    }

    fn raw(&mut self, what: impl Into<String>, body: impl Into<Vec<u8>>, expect: Expect) -> &mut Case {
        self.push(what, Transport::Post { body: body.into(), content_type: Some("application/json") }, expect)
    }

    fn get(&mut self, what: impl Into<String>, params: &[(&str, &str)], expect: Expect) -> &mut Case {
        let params = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.push(what, Transport::Get(params), expect)
    }
}

struct Keys {
    main: String,
    reader: String,
}

/// Sends one case; returns the status and body text.
async fn send(app: &TestApp, keys: &Keys, case: &Case) -> (StatusCode, String) {
    let mut request = match &case.transport {
        Transport::Post { body, content_type } => {
            let mut r = app.client.post(app.url("/graphql")).body(body.clone());
            if let Some(ct) = content_type {
                r = r.header("content-type", *ct);
            }
            r
        }
        Transport::Get(params) => app.client.get(app.url("/graphql")).query(params),
    };
    request = match case.auth {
        Auth::Main => request.bearer_auth(&keys.main),
        Auth::Reader => request.bearer_auth(&keys.reader),
        Auth::None => request,
    };
    for (name, value) in &case.headers {
        request = request.header(*name, HeaderValue::from_bytes(value).expect("a header value"));
    }
    let response = request
        .timeout(StdDuration::from_secs(60))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: no response: {e:?}", case.what));
    let status = response.status();
    let text = response.text().await.unwrap_or_else(|e| panic!("{}: no body: {e}", case.what));
    (status, text)
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(600).collect();
    if s.len() < text.len() {
        s.push_str(" …");
    }
    s
}

/// Checks one answer against the rules every hostile request shares, then
/// against the case's own expectation.
fn check(case: &Case, status: StatusCode, text: &str) {
    let what = &case.what;
    assert!(!status.is_server_error(), "{what}: HTTP {status}, never a 5xx: {}", short(text));
    for leak in LEAKS {
        assert!(!text.contains(leak), "{what}: the body shows `{leak}`: {}", short(text));
    }
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|_| panic!("{what}: HTTP {status} without a JSON body: {}", short(text)));
    let errors = body
        .get("errors")
        .map(|e| e.as_array().unwrap_or_else(|| panic!("{what}: `errors` is a list: {}", short(text))));
    let codes: Vec<&str> = errors
        .into_iter()
        .flatten()
        .map(|e| {
            assert!(
                e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: every error has a message: {}",
                short(text)
            );
            e["extensions"]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: an error without a code: {}", short(text)))
        })
        .collect();
    for code in &codes {
        assert!(CODES.contains(code), "{what}: `{code}` is no code for a refused request: {}", short(text));
    }
    if status != StatusCode::OK {
        assert!(
            status.is_client_error() && !codes.is_empty(),
            "{what}: HTTP {status} needs a coded JSON error: {}",
            short(text)
        );
    }
    match case.expect {
        Expect::Codes(allowed) => {
            assert!(!codes.is_empty(), "{what}: refused with an error: {}", short(text));
            assert!(
                codes.iter().all(|c| allowed.contains(c)),
                "{what}: expected {allowed:?}, got {codes:?}: {}",
                short(text)
            );
        }
        Expect::Status(expected) => {
            assert_eq!(status.as_u16(), expected, "{what}: {}", short(text));
        }
        Expect::Harmless => {
            if codes.is_empty() {
                assert_eq!(status, StatusCode::OK, "{what}: {}", short(text));
                assert!(body.get("data").is_some_and(|d| !d.is_null()), "{what}: {}", short(text));
            }
        }
    }
}

/// Every event ID and action, oldest first, plus the counts that a stray
/// write would change.
async fn snapshot(app: &TestApp, key: &str) -> (Vec<(String, String)>, Value) {
    let mut events = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                key,
                "query($after: String) { auditEvents(first: 500, after: $after, orderBy: {field: RECEIVED_AT, direction: ASC}) {
                    pageInfo { hasNextPage endCursor } nodes { id action } } }",
                json!({ "after": after }),
            )
            .await;
        let conn = &data["auditEvents"];
        for n in conn["nodes"].as_array().unwrap() {
            events.push((n["id"].as_str().unwrap().to_string(), n["action"].as_str().unwrap().to_string()));
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let counts = app
        .data(
            key,
            "{ auditEvents { totalCount } actors { totalCount } resources { totalCount }
               viewer { tenant { apiKeys { id revokedAt } } } }",
            json!({}),
        )
        .await;
    (events, counts)
}

/// A valid event that sets every field, so each can be spoiled in turn.
fn full_event(idempotency_key: &str) -> Value {
    json!({
        "action": "hostile.probe.run",
        "outcome": "FAILURE",
        "occurredAt": rfc3339(Utc::now() - Duration::hours(1)),
        "actor": { "type": "USER", "externalId": "h-1", "displayName": "H", "email": "h@example.com", "roles": ["r"] },
        "resource": { "type": "doc", "externalId": "d-1", "name": "D" },
        "relatedResources": [{ "type": "vm", "externalId": "vm-1", "name": "V" }],
        "summary": "s", "reason": "r", "errorMessage": "e",
        "environment": "production", "sourceService": "svc", "correlationId": "c-1",
        "request": { "id": "q-1", "method": "POST", "path": "/x", "status": 200, "latencyMs": 1.5,
                     "ipAddress": "10.0.0.1", "userAgent": "ua" },
        "metadata": { "k": "v", "nested": { "deep": ["x"] } },
        "changes": [{ "field": "f", "before": "b", "after": { "a": "x" } }],
        "idempotencyKey": idempotency_key,
    })
}

/// The string leaves of `full_event`, as JSON pointers without the leading `/`.
const EVENT_STRINGS: &[&str] = &[
    "action",
    "actor/externalId",
    "actor/displayName",
    "actor/email",
    "actor/roles/0",
    "resource/type",
    "resource/externalId",
    "resource/name",
    "relatedResources/0/type",
    "relatedResources/0/externalId",
    "relatedResources/0/name",
    "summary",
    "reason",
    "errorMessage",
    "environment",
    "sourceService",
    "correlationId",
    "request/id",
    "request/method",
    "request/path",
    "request/ipAddress",
    "request/userAgent",
    "metadata/k",
    "metadata/nested/deep/0",
    "changes/0/field",
    "changes/0/before",
    "changes/0/after/a",
    "idempotencyKey",
];

/// `full_event` with the value at `pointer` replaced.
fn spoiled(pointer: &str, value: Value) -> Value {
    let mut e = full_event("hostile-1");
    *e.pointer_mut(&format!("/{pointer}")).unwrap_or_else(|| panic!("{pointer} is in the full event")) = value;
    e
}

/// A filter with `value` at `path` (`action.in.0` → `{action: {in: [value]}}`).
fn filter_at(path: &str, value: Value) -> Value {
    path.rsplit('.').fold(
        value,
        |inner, segment| {
            if segment == "0" { json!([inner]) } else { json!({ segment: inner }) }
        },
    )
}

/// Every string input of `AuditEventFilter`.
const FILTER_STRINGS: &[&str] = &[
    "action.eq",
    "action.in.0",
    "action.prefix",
    "action.notIn.0",
    "category.eq",
    "category.in.0",
    "category.prefix",
    "category.notIn.0",
    "environment.eq",
    "environment.in.0",
    "environment.prefix",
    "environment.notIn.0",
    "sourceService.eq",
    "sourceService.in.0",
    "sourceService.prefix",
    "sourceService.notIn.0",
    "correlationId",
    "requestId",
    "ipAddress",
    "text",
    "actor.externalId.0",
    "actor.email.0",
    "resource.type.0",
    "resource.externalId.0",
    "relatedTo.type.0",
    "relatedTo.externalId.0",
];

const RECORD: &str =
    "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount events { id } } }";
const FILTER: &str = "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 5) { totalCount nodes { id } } }";

fn random_token(rng: &mut StdRng, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

/// What a cursor is, for the entry points that take it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Event(OrderField, SortDirection),
    Actor,
    Resource,
}

struct Seeded {
    event_id: String,
    actor_id: String,
    resource_id: String,
    /// Real cursors of each kind, from the seeded data.
    cursors: Vec<(Kind, String)>,
}

async fn seed(app: &TestApp, key: &str) -> Seeded {
    let mut events = vec![full_event("seed-full")];
    for i in 0..30 {
        let mut e = event(&format!("seed.action{}", i % 4));
        e["occurredAt"] = json!(rfc3339(Utc::now() - Duration::minutes(i * 7)));
        e["actor"]["externalId"] = json!(format!("u-{}", i % 5));
        e["resource"] = json!({ "type": "doc", "externalId": format!("d-{}", i % 6) });
        events.push(e);
    }
    let payload = app.record(key, json!(events)).await;
    assert_eq!(payload["createdCount"], 31);
    let data = app
        .data(
            key,
            "{ d: auditEvents(first: 3) { edges { cursor node { id actor { id } resource { id } } } }
               a: auditEvents(first: 3, orderBy: {direction: ASC}) { edges { cursor } }
               r: auditEvents(first: 3, orderBy: {field: RECEIVED_AT}) { edges { cursor } }
               ra: auditEvents(first: 3, orderBy: {field: RECEIVED_AT, direction: ASC}) { edges { cursor } }
               actors(first: 3) { edges { cursor } } resources(first: 3) { edges { cursor } } }",
            json!({}),
        )
        .await;
    let mut cursors = Vec::new();
    for (alias, kind) in [
        ("d", Kind::Event(OrderField::OccurredAt, SortDirection::Desc)),
        ("a", Kind::Event(OrderField::OccurredAt, SortDirection::Asc)),
        ("r", Kind::Event(OrderField::ReceivedAt, SortDirection::Desc)),
        ("ra", Kind::Event(OrderField::ReceivedAt, SortDirection::Asc)),
        ("actors", Kind::Actor),
        ("resources", Kind::Resource),
    ] {
        for edge in data[alias]["edges"].as_array().unwrap() {
            cursors.push((kind, edge["cursor"].as_str().unwrap().to_string()));
        }
    }
    let first = &data["d"]["edges"][0]["node"];
    Seeded {
        event_id: first["id"].as_str().unwrap().to_string(),
        actor_id: first["actor"]["id"].as_str().unwrap().to_string(),
        resource_id: first["resource"]["id"].as_str().unwrap().to_string(),
        cursors,
    }
}

async fn hostile_requests_get_coded_errors_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let keys = Keys { main: app.key("audit.read,audit.write,keys.manage").await, reader: app.key("audit.read").await };
    app.create_tenant("globex").await;
    let seeded = seed(&app, &keys.main).await;
    let before = snapshot(&app, &keys.main).await;

    let mut rng = StdRng::seed_from_u64(0x4057_11e);
    let mut corpus = Corpus::default();
    transport_cases(&mut corpus);
    variable_cases(&mut corpus);
    cursor_cases(&mut corpus, &seeded, &mut rng);
    id_cases(&mut corpus, &seeded, &mut rng);
    string_cases(&mut corpus);
    date_cases(&mut corpus);
    shape_cases(&mut corpus, &seeded);
    auth_cases(&mut corpus);
    let total = corpus.cases.len();
    assert!(total >= 500, "a corpus of several hundred requests ({total})");

    let mut failures = Vec::new();
    for group in corpus.cases.chunks(GROUP) {
        let answers = join_all(group.iter().map(|case| send(&app, &keys, case))).await;
        for (case, (status, text)) in group.iter().zip(answers) {
            // Collect every failure, so one run lists them all.
            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case, status, &text))) {
                failures.push(panic_message(panic));
            }
        }
    }
    // The server still answers, and nothing was stored, revoked or created.
    let after = snapshot(&app, &keys.main).await;
    assert_eq!(before.1, after.1, "counts and keys are unchanged");
    assert!(before.0 == after.0, "the stored events are unchanged");
    assert!(
        failures.is_empty(),
        "{} of {total} hostile requests were mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

backend_tests!(hostile_requests_get_coded_errors_and_change_nothing, deep_documents_do_not_crash_the_server,);
