//! Hostile input: a corpus of several hundred malformed requests, generated
//! programmatically and sent over real HTTP in small concurrent groups. Each
//! must get a clear error carrying one of the contract's codes (or a 4xx with a
//! JSON error body): never a 5xx, never `INTERNAL`, never SQL, file paths or a
//! panic in the body. Afterwards the stored events are exactly those stored
//! before.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use auditgraph::domain::cursor::{Cursor, EventOrder, OrderField, SortDirection};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, TestDb, backend_tests, event};

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

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A valid event that sets every field, so each can be spoiled in turn.
fn full_event(idempotency_key: &str) -> Value {
    json!({
        "action": "hostile.probe.run",
        "outcome": "FAILURE",
        "occurredAt": ts(Utc::now() - Duration::hours(1)),
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
        e["occurredAt"] = json!(ts(Utc::now() - Duration::minutes(i * 7)));
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

/// Invalid JSON bodies, wrong top-level types, media types.
fn transport_cases(c: &mut Corpus) {
    let valid = json!({
        "query": "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 5) { totalCount } }",
        "variables": { "f": { "action": { "eq": "a.b" }, "occurredAt": { "gte": "2026-01-01T00:00:00Z" } } },
    })
    .to_string();
    for cut in (0..valid.len()).step_by(3) {
        c.raw(format!("body truncated at {cut}"), &valid.as_bytes()[..cut], Expect::Status(400));
    }
    let q = "{ viewer { scopes } }";
    for (what, body) in [
        ("an array", json!([{ "query": q }]).to_string()),
        ("an empty array", "[]".into()),
        ("a string", json!(q).to_string()),
        ("a number", "42".into()),
        ("null", "null".into()),
        ("true", "true".into()),
        ("an empty object", "{}".into()),
        ("query null", json!({ "query": null }).to_string()),
        ("query a number", json!({ "query": 1 }).to_string()),
        ("query a list", json!({ "query": [q] }).to_string()),
        ("query an object", json!({ "query": { "q": q } }).to_string()),
        ("variables a list", json!({ "query": q, "variables": [] }).to_string()),
        ("variables a string", json!({ "query": q, "variables": "{}" }).to_string()),
        ("variables a number", json!({ "query": q, "variables": 1 }).to_string()),
        ("operationName a number", json!({ "query": q, "operationName": 5 }).to_string()),
        ("operationName an object", json!({ "query": q, "operationName": {} }).to_string()),
        ("extensions a list", json!({ "query": q, "extensions": [] }).to_string()),
        ("trailing garbage", format!("{} xyz", json!({ "query": q }))),
        ("two objects", format!("{0}{0}", json!({ "query": q }))),
        ("a duplicate key", format!(r#"{{"query": 1, "query": "{q}"}}"#)),
        ("a comment", format!(r#"{{"query": "{q}" /* hi */}}"#)),
        ("single quotes", format!("{{'query': '{q}'}}")),
        ("NaN", format!(r#"{{"query": "{q}", "variables": {{"n": NaN}}}}"#)),
        ("a raw control character", "{\"query\": \"{ viewer\n{ scopes } }\u{1}\"}".into()),
        ("a lone surrogate", r#"{"query": "\ud800"}"#.into()),
        ("a bad escape", r#"{"query": "\q"}"#.into()),
        ("a byte order mark", format!("\u{feff}{}", json!({ "query": q }))),
        ("whitespace only", "   \n\t ".into()),
        ("1e400", format!(r#"{{"query": "{q}", "variables": {{"n": 1e400}}}}"#)),
        ("-1e400", format!(r#"{{"query": "{q}", "variables": {{"n": -1e400}}}}"#)),
        ("nested arrays, 100 000 deep", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))),
        ("nested arrays, 200 deep", format!("{}{}", "[".repeat(200), "]".repeat(200))),
        ("nested arrays, 100 deep", format!("{}{}", "[".repeat(100), "]".repeat(100))),
        (
            "variables nested 10 000 deep",
            format!(r#"{{"query": "{q}", "variables": {{"v": {}1{}}}}}"#, "[".repeat(10_000), "]".repeat(10_000)),
        ),
        (
            "objects nested 10 000 deep",
            format!(r#"{{"query": "{q}", "variables": {}{}}}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
        ),
    ] {
        c.raw(format!("body: {what}"), body, Expect::Status(400));
    }
    c.raw("body: invalid UTF-8", b"{\"query\": \"\xff\xfe{ viewer }\"}".to_vec(), Expect::Status(400));
    c.raw("body: empty", Vec::new(), Expect::Status(400));
    // Nesting that still parses as JSON is refused by the schema.
    for depth in [10, 60, 120] {
        c.gql(
            format!("ids nested {depth} deep"),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": serde_json::from_str::<Value>(&format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth))).unwrap() }),
            REFUSED,
        );
    }
    let body = json!({ "query": q }).to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/graphql"),
        Some("application/jsonx"),
        Some("application/json-patch+json"),
        Some("json"),
    ] {
        c.push(
            format!("content type {ct:?}"),
            Transport::Post { body: body.clone().into_bytes(), content_type: ct },
            Expect::Status(415),
        );
    }
    c.raw("accepts only text/plain", body.clone(), Expect::Status(406))
        .headers
        .push(("accept", b"text/plain".to_vec()));
    // Over the 8 MiB body limit.
    let huge = json!({ "query": q, "variables": { "pad": "x".repeat(9 * MB) } }).to_string();
    c.raw("a 9 MiB body", huge, Expect::Status(413));
}

/// Variables of the wrong type, missing or extra.
fn variable_cases(c: &mut Corpus) {
    let first = "query($n: Int) { auditEvents(first: $n) { totalCount } }";
    for v in [
        json!("10"),
        json!(true),
        json!({}),
        json!([1]),
        json!(1.5),
        json!(2147483648u64),
        json!(-2147483649i64),
        json!(""),
        json!("1e3"),
        json!(1e300),
        json!(-1e300),
        serde_json::from_str::<Value>("123456789012345678901234567890").unwrap(),
    ] {
        c.gql(format!("first = {v}"), first, json!({ "n": v }), INVALID);
    }
    let node = "query($id: ID!) { node(id: $id) { id } }";
    for v in [json!(null), json!({}), json!([]), json!(true), json!(1.5), json!(["evt_x"])] {
        c.gql(format!("node id = {v}"), node, json!({ "id": v }), INVALID);
    }
    c.gql("node id = 123 (an ID, but malformed)", node, json!({ "id": 123 }), BAD_INPUT);
    c.gql("node without its variable", node, json!({}), INVALID);
    c.gql("node with the variable misnamed", node, json!({ "ID": "x" }), INVALID);
    let nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    for v in [json!({ "a": 1 }), json!(null), json!([null]), json!([true]), json!([{}]), json!("x")] {
        c.gql(format!("nodes ids = {v}"), nodes, json!({ "ids": v }), INVALID);
    }
    for f in [
        json!([]),
        json!("x"),
        json!(1),
        json!(true),
        json!({ "action": "a.b" }),
        json!({ "action": { "eq": 1 } }),
        json!({ "action": { "eq": ["a.b"] } }),
        json!({ "action": { "in": { "a": 1 } } }),
        json!({ "action": { "like": "a%" } }),
        json!({ "outcome": 1 }),
        json!({ "outcome": ["SUCCESS"] }),
        json!({ "actor": [] }),
        json!({ "actor": "u-1" }),
        json!({ "actor": { "type": ["ROBOT"] } }),
        json!({ "actor": { "id": [null] } }),
        json!({ "actor": { "externalId": [1] } }),
        json!({ "occurredAt": "2026-01-01T00:00:00Z" }),
        json!({ "occurredAt": { "after": "2026-01-01T00:00:00Z" } }),
        json!({ "httpStatus": { "gte": "400" } }),
        json!({ "httpStatus": { "gte": 4000000000u64 } }),
        json!({ "httpStatus": 404 }),
        json!({ "and": 5 }),
        json!({ "and": [1] }),
        json!({ "not": [] }),
        json!({ "not": "x" }),
        json!({ "unknownField": 1 }),
        json!({ "correlationId": ["a"] }),
        json!({ "correlationId": 5 }),
        json!({ "text": {} }),
        json!({ "relatedTo": { "type": [{}] } }),
    ] {
        c.gql(format!("filter = {f}"), FILTER, json!({ "f": f }), INVALID);
    }
    let base = || event("hostile.probe.run");
    let mut spoil = |what: &str, patch: &dyn Fn(&mut Value)| {
        let mut e = base();
        patch(&mut e);
        c.gql(format!("event: {what}"), RECORD, json!({ "e": [e] }), INVALID);
    };
    spoil("no actor", &|e| {
        e.as_object_mut().unwrap().remove("actor");
    });
    spoil("no action", &|e| {
        e.as_object_mut().unwrap().remove("action");
    });
    spoil("action a number", &|e| e["action"] = json!(1));
    spoil("action null", &|e| e["action"] = json!(null));
    spoil("actor a string", &|e| e["actor"] = json!("u-1"));
    spoil("actor type unknown", &|e| e["actor"]["type"] = json!("ROBOT"));
    spoil("actor type lower-case", &|e| e["actor"]["type"] = json!("user"));
    spoil("actor externalId a number", &|e| e["actor"]["externalId"] = json!(7));
    spoil("actor roles objects", &|e| e["actor"]["roles"] = json!([{}]));
    spoil("outcome unknown", &|e| e["outcome"] = json!("MAYBE"));
    spoil("occurredAt a number", &|e| e["occurredAt"] = json!(1767225600));
    spoil("request a list", &|e| e["request"] = json!([1]));
    spoil("request status a string", &|e| e["request"] = json!({ "status": "200" }));
    spoil("request status too big", &|e| e["request"] = json!({ "status": 1e10 }));
    spoil("latencyMs a string", &|e| e["request"] = json!({ "latencyMs": "fast" }));
    spoil("changes without field", &|e| e["changes"] = json!([{ "before": 1 }]));
    spoil("relatedResources of strings", &|e| e["relatedResources"] = json!(["vm-1"]));
    spoil("an unknown field", &|e| e["unknown"] = json!(1));
    spoil("resource without type", &|e| e["resource"] = json!({ "externalId": "x" }));
    for v in [json!(null), json!({}), json!("x"), json!([null]), json!([1]), json!([[]])] {
        c.gql(format!("events = {v}"), RECORD, json!({ "e": v }), INVALID);
    }
    // The document declares a type the argument does not take.
    for (what, query, variables) in [
        ("String for Int", "query($n: String) { auditEvents(first: $n) { totalCount } }", json!({ "n": "10" })),
        ("Int for ID", "query($id: Int!) { node(id: $id) { id } }", json!({ "id": 5 })),
        ("an unknown type", "query($f: Nope) { auditEvents(filter: $f) { totalCount } }", json!({ "f": {} })),
        ("an output type", "query($f: AuditEvent) { auditEvents(filter: $f) { totalCount } }", json!({ "f": {} })),
        (
            "a nullable list for a required one",
            "query($ids: [ID]) { nodes(ids: $ids) { id } }",
            json!({ "ids": ["x"] }),
        ),
    ] {
        c.gql(format!("declared {what}"), query, variables, INVALID);
    }
    // Extra, unused variables change nothing.
    c.gql(
        "extra variables",
        "{ auditEvents(first: 1) { totalCount } }",
        json!({ "x": 1, "y": { "z": [1, 2] } }),
        Expect::Harmless,
    );
}

/// Garbage, truncated, cross-kind and cross-ordering cursors on every entry point.
fn cursor_cases(c: &mut Corpus, s: &Seeded, rng: &mut StdRng) {
    use OrderField::{OccurredAt, ReceivedAt};
    use SortDirection::{Asc, Desc};
    let entries: Vec<(String, Kind)> = vec![
        ("{ auditEvents(after: $c) { totalCount nodes { id } } }".into(), Kind::Event(OccurredAt, Desc)),
        (
            "{ auditEvents(last: 3, before: $c, orderBy: {direction: ASC}) { totalCount nodes { id } } }".into(),
            Kind::Event(OccurredAt, Asc),
        ),
        (
            "{ auditEvents(first: 3, after: $c, orderBy: {field: RECEIVED_AT, direction: ASC}) { totalCount } }".into(),
            Kind::Event(ReceivedAt, Asc),
        ),
        ("{ actors(after: $c) { totalCount nodes { id } } }".into(), Kind::Actor),
        ("{ resources(last: 2, before: $c) { totalCount nodes { id } } }".into(), Kind::Resource),
        (
            format!(
                "{{ node(id: \"{}\") {{ ... on Actor {{ events(after: $c) {{ totalCount nodes {{ id }} }} }} }} }}",
                s.actor_id
            ),
            Kind::Event(OccurredAt, Desc),
        ),
        (
            format!(
                "{{ node(id: \"{}\") {{ ... on Resource {{ events(before: $c, orderBy: {{field: RECEIVED_AT}}) {{ totalCount }} }} }} }}",
                s.resource_id
            ),
            Kind::Event(ReceivedAt, Desc),
        ),
    ];
    let query = |body: &str| format!("query($c: String) {body}");

    // Garbage: nothing of ours.
    let mut garbage: Vec<String> = [
        "",
        " ",
        "null",
        "!!!",
        "AQ",
        "AQE",
        "====",
        "AAAA",
        "a",
        "ƒøø",
        "%00",
        "\u{0}",
        "AQ\u{0}",
        "../../etc/passwd",
        "AQEAAQ==",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for len in [1, 2, 3, 16, 17, 18, 27, 28, 29, 40] {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        garbage.push(URL_SAFE_NO_PAD.encode(&bytes));
    }
    // Our format, but not a valid record: wrong version, tag, field, direction, time.
    let event_bytes = |version: u8, tag: u8, field: u8, dir: u8, micros: i64| {
        let mut b = vec![version, tag, field, dir];
        b.extend_from_slice(&micros.to_be_bytes());
        b.extend_from_slice(Uuid::now_v7().as_bytes());
        URL_SAFE_NO_PAD.encode(b)
    };
    garbage.push(event_bytes(2, 1, 0, 1, 0));
    garbage.push(event_bytes(0, 1, 0, 1, 0));
    garbage.push(event_bytes(1, 9, 0, 1, 0));
    garbage.push(event_bytes(1, 1, 7, 1, 0));
    garbage.push(event_bytes(1, 1, 0, 9, 0));
    garbage.push(event_bytes(1, 1, 0, 1, i64::MAX));
    garbage.push(event_bytes(1, 1, 0, 1, i64::MIN));
    garbage.push(URL_SAFE_NO_PAD.encode([1u8, 2, 0, 0]));
    garbage.push("A".repeat(MB));
    // Real cursors, damaged.
    for (_, real) in s.cursors.iter().step_by(3) {
        garbage.push(real[..real.len() - 1].to_string());
        garbage.push(real[..real.len() / 2].to_string());
        garbage.push(format!("{real}A"));
        garbage.push(format!("{real}AA"));
        garbage.push(format!("{real}="));
        garbage.push(STANDARD.encode(URL_SAFE_NO_PAD.decode(real).unwrap()) + "=");
        garbage.push(format!(" {real}"));
    }
    for (i, cursor) in garbage.iter().enumerate() {
        // Each garbage cursor on three entry points, in turn.
        for k in 0..3 {
            let (body, _) = &entries[(i + k * 2) % entries.len()];
            c.gql(
                format!("garbage cursor #{i} ({}) on {body}", short(cursor).chars().take(40).collect::<String>()),
                &query(body),
                json!({ "c": cursor }),
                BAD_CURSOR,
            );
        }
    }
    // Real and crafted cursors of every kind on every entry point: accepted
    // only where issued for exactly that ordering.
    let mut cursors = s.cursors.clone();
    let crafted = |order: EventOrder, at: DateTime<Utc>, id: Uuid| {
        Cursor::Event { order, key: at.timestamp_micros(), id }.encode()
    };
    for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC, DateTime::UNIX_EPOCH] {
        for (field, direction) in [(OccurredAt, Desc), (ReceivedAt, Asc)] {
            cursors.push((Kind::Event(field, direction), crafted(EventOrder { field, direction }, at, Uuid::max())));
        }
    }
    cursors.push((Kind::Actor, Cursor::Actor(Uuid::nil()).encode()));
    cursors.push((Kind::Resource, Cursor::Resource(Uuid::max()).encode()));
    for (kind, cursor) in &cursors {
        for (body, accepts) in &entries {
            let expect = if kind == accepts { Expect::Harmless } else { BAD_CURSOR };
            c.gql(format!("{kind:?} cursor {cursor} on {body}"), &query(body), json!({ "c": cursor }), expect);
        }
    }
    // Inline, and through GET.
    c.gql("an inline empty cursor", "{ auditEvents(after: \"\") { totalCount } }", json!({}), BAD_CURSOR);
    c.get("a garbage cursor through GET", &[("query", "{ auditEvents(after: \"!!\") { totalCount } }")], BAD_CURSOR);
}

/// Malformed global IDs on every input that takes one.
fn id_cases(c: &mut Corpus, s: &Seeded, rng: &mut StdRng) {
    let hex = &s.event_id[4..];
    let mut bad: Vec<String> = Vec::new();
    for len in [1, 5, 32, 36, 40] {
        bad.push(random_token(rng, len));
    }
    for prefix in ["usr_", "evn_", "EVT_", "ev_", "evt-", "evt", "evtx", "_", "node_"] {
        bad.push(format!("{prefix}{hex}"));
    }
    bad.extend([
        format!("evt_{}", hex.to_uppercase()),
        format!("evt_{}{}", &hex[..16].to_uppercase(), &hex[16..]),
        format!("evt_{}", &hex[..31]),
        format!("evt_{hex}0"),
        "evt_".to_string(),
        format!("evt_{hex}{hex}"),
        format!("evt_{}", "g".repeat(32)),
        format!("evt_{}", "０".repeat(32)),
        format!("évt_{hex}"),
        format!("evt_{}", "é".repeat(32)),
        format!("evt_{}🦀", &hex[..30]),
        format!("evt_\u{202e}{}", &hex[..31]),
        format!("evt_{}\u{200b}{}", &hex[..16], &hex[16..]),
        format!(" {}", s.event_id),
        format!("{}\n", s.event_id),
        format!("\t{}", s.event_id),
        format!("evt_{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]),
        format!("evt_{}\u{0}", &hex[..31]),
        format!("evt_evt_{hex}"),
        format!("evt__{hex}"),
        format!("evt_{}", "a".repeat(MB)),
        String::new(),
    ]);
    let wrong_kind = [format!("act_{hex}"), format!("res_{hex}"), format!("key_{hex}"), format!("ten_{hex}")];
    for (i, id) in bad.iter().enumerate() {
        let label = format!("bad ID #{i} `{}`", id.chars().take(40).collect::<String>().escape_debug());
        c.gql(format!("node: {label}"), "query($id: ID!) { node(id: $id) { id } }", json!({ "id": id }), BAD_INPUT);
        c.gql(
            format!("nodes: {label}"),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [s.event_id, id] }),
            BAD_INPUT,
        );
        c.gql(
            format!("auditEvent: {label}"),
            "query($id: ID!) { auditEvent(id: $id) { id } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
        c.gql(
            format!("revokeApiKey: {label}"),
            "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
        let filter = match i % 3 {
            0 => json!({ "actor": { "id": [id] } }),
            1 => json!({ "resource": { "id": [s.resource_id, id] } }),
            _ => json!({ "or": [{ "relatedTo": { "id": [id] } }] }),
        };
        c.gql(format!("filter: {label}"), FILTER, json!({ "f": filter }), BAD_INPUT);
        c.gql(
            format!("actors: {label}"),
            "query($id: ID!) { actors(filter: {id: [$id]}) { totalCount } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
    }
    // Well-formed IDs of the wrong kind where one kind is expected.
    for id in &wrong_kind {
        c.gql(
            format!("auditEvent with {id}"),
            "query($id: ID!) { auditEvent(id: $id) { id } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
        c.gql(
            format!("actor filter with {id}"),
            FILTER,
            json!({ "f": { "actor": { "id": [id] } } }),
            if id.starts_with("act_") { Expect::Harmless } else { BAD_INPUT },
        );
        c.gql(
            format!("resource filter with {id}"),
            FILTER,
            json!({ "f": { "relatedTo": { "id": [id] } } }),
            if id.starts_with("res_") { Expect::Harmless } else { BAD_INPUT },
        );
    }
    c.gql(
        "revokeApiKey with an event ID",
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
        json!({ "id": s.event_id }),
        BAD_INPUT,
    );
    c.gql(
        "revokeApiKey with a key ID that does not exist",
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
        json!({ "id": format!("key_{hex}") }),
        Expect::Codes(&["NOT_FOUND"]),
    );
    c.gql("an inline malformed ID", "{ node(id: \"evt_nope\") { id } }", json!({}), BAD_INPUT);
}

/// A NUL character in every string input, and 1 MB strings.
fn string_cases(c: &mut Corpus) {
    for (i, path) in FILTER_STRINGS.iter().enumerate() {
        for value in ["a\u{0}b", "\u{0}"] {
            c.gql(
                format!("NUL in filter {path} ({value:?})"),
                FILTER,
                json!({ "f": filter_at(path, json!(value)) }),
                BAD_INPUT,
            );
        }
        // Nested under and/or/not too.
        let nested = match i % 3 {
            0 => json!({ "and": [filter_at(path, json!("x\u{0}"))] }),
            1 => json!({ "or": [{ "outcome": "SUCCESS" }, filter_at(path, json!("x\u{0}"))] }),
            _ => json!({ "not": filter_at(path, json!("x\u{0}")) }),
        };
        c.gql(format!("NUL in nested filter {path}"), FILTER, json!({ "f": nested }), BAD_INPUT);
    }
    for (i, pointer) in EVENT_STRINGS.iter().enumerate() {
        c.gql(
            format!("NUL in event {pointer}"),
            RECORD,
            json!({ "e": [spoiled(pointer, json!("a\u{0}b"))] }),
            BAD_INPUT,
        );
        if i % 3 == 0 {
            // After a valid event in the same batch: nothing is stored.
            c.gql(
                format!("NUL in the second event's {pointer}"),
                RECORD,
                json!({ "e": [full_event("hostile-ok"), spoiled(pointer, json!("\u{0}"))] }),
                BAD_INPUT,
            );
        }
    }
    let mut e = full_event("hostile-1");
    e["metadata"] = json!({ "a\u{0}b": 1 });
    c.gql("NUL in a metadata key", RECORD, json!({ "e": [e] }), BAD_INPUT);
    let mut e = full_event("hostile-1");
    e["changes"] = json!([{ "field": "f", "before": { "k\u{0}": 1 } }]);
    c.gql("NUL in a change's key", RECORD, json!({ "e": [e] }), BAD_INPUT);
    c.gql(
        "NUL in a key name",
        "mutation { createApiKey(input: {name: \"a\\u0000b\", scopes: [AUDIT_READ]}) { secret } }",
        json!({}),
        BAD_INPUT,
    );
    c.gql(
        "NUL in a key name (variable)",
        "mutation($n: String!) { createApiKey(input: {name: $n, scopes: [AUDIT_READ]}) { secret } }",
        json!({ "n": "\u{0}" }),
        BAD_INPUT,
    );

    // 1 MB strings: refused where the contract bounds the field …
    let big = "x".repeat(MB);
    for pointer in [
        "action",
        "actor/externalId",
        "resource/type",
        "resource/externalId",
        "relatedResources/0/externalId",
        "summary",
        "reason",
        "errorMessage",
        "idempotencyKey",
        "metadata/k",
        "changes/0/field",
        "changes/0/before",
    ] {
        c.gql(format!("1 MB event {pointer}"), RECORD, json!({ "e": [spoiled(pointer, json!(big))] }), BAD_INPUT);
    }
    let mut e = full_event("hostile-1");
    e["action"] = json!(format!("a.{}", "b".repeat(MB)));
    c.gql("1 MB well-formed action", RECORD, json!({ "e": [e] }), BAD_INPUT);
    c.gql(
        "1 MB key name",
        "mutation($n: String!) { createApiKey(input: {name: $n, scopes: [AUDIT_READ]}) { secret } }",
        json!({ "n": big }),
        BAD_INPUT,
    );
    // … and harmless where it only finds nothing.
    for path in [
        "text",
        "action.eq",
        "action.in.0",
        "action.prefix",
        "environment.notIn.0",
        "correlationId",
        "actor.externalId.0",
        "relatedTo.externalId.0",
    ] {
        c.gql(format!("1 MB filter {path}"), FILTER, json!({ "f": filter_at(path, json!(big)) }), Expect::Harmless);
    }
    c.gql(
        "1 MB of text with wildcards",
        FILTER,
        json!({ "f": { "text": "%_\\*?[".repeat(MB / 6) } }),
        Expect::Harmless,
    );
    c.gql(
        "1 MB inline string literal",
        &format!("{{ auditEvents(filter: {{text: \"{big}\"}}) {{ totalCount }} }}"),
        json!({}),
        Expect::Harmless,
    );
    c.gql(
        "1 MB of comment in the document",
        &format!("# {big}\n{{ auditEvents {{ totalCount }} }}"),
        json!({}),
        Expect::Harmless,
    );
    // Nested brackets are refused unparsed; a parser would recurse on them.
    c.gql("1 MB of garbage as the document", &"{(".repeat(MB / 2), json!({}), TOO_COMPLEX);
    c.gql("1 MB of flat garbage as the document", &"{)".repeat(MB / 2), json!({}), PARSE);
    c.raw(
        "1 MB operationName",
        json!({ "query": "query A { auditEvents { totalCount } }", "operationName": big }).to_string(),
        REFUSED,
    );
    c.gql(
        "1 MB variable name",
        &format!("query(${big}: Int) {{ auditEvents(first: ${big}) {{ totalCount }} }}"),
        json!({}),
        Expect::Harmless,
    );
    c.gql("1 MB unknown field name", &format!("{{ {big} }}"), json!({}), Expect::Codes(&["GRAPHQL_VALIDATION_FAILED"]));
}

/// Invalid dates and time zones, in filters and events.
fn date_cases(c: &mut Corpus) {
    let invalid = [
        json!("2026-13-01T00:00:00Z"),
        json!("2026-01-01T00:00:00"),
        json!("2026-01-01T00:00:00+25:00"),
        json!("2026-01-01T00:00:00-24:30"),
        json!("2026-01-01T00:00:00+0100"),
        json!("2026-01-01T00:00:00+01"),
        json!("2026-01-01T00:00:00 +01:00"),
        json!("yesterday"),
        json!("now"),
        json!(""),
        json!(" "),
        json!("2026-02-30T00:00:00Z"),
        json!("2026-01-01T24:00:01Z"),
        json!("2026-01-01T00:60:00Z"),
        json!("2026-01-01T00:00:00.Z"),
        json!("2026-01-01"),
        json!("00:00:00Z"),
        json!("2026-W01-1T00:00:00Z"),
        json!("1767225600"),
        json!("2026-01-01T00:00:00Z[Europe/Paris]"),
        json!("2026-01-01T00:00:00 Europe/Paris"),
        json!("+2026-01-01T00:00:00Z"),
        json!("20260101T000000Z"),
        json!("10000-01-01T00:00:00Z"),
        json!("0000-00-00T00:00:00Z"),
        json!("२०२६-01-01T00:00:00Z"),
        json!(1767225600),
        json!(1.5),
        json!(true),
        json!({}),
        json!(["2026-01-01T00:00:00Z"]),
    ];
    for (i, v) in invalid.iter().enumerate() {
        let field = ["gte", "gt", "lte", "lt"][i % 4];
        let (which, f) = if i % 2 == 0 {
            ("occurredAt", json!({ "occurredAt": { field: v } }))
        } else {
            ("receivedAt", json!({ "receivedAt": { field: v } }))
        };
        c.gql(format!("filter {which}.{field} = {v}"), FILTER, json!({ "f": f }), INVALID);
        c.gql(format!("event occurredAt = {v}"), RECORD, json!({ "e": [spoiled("occurredAt", v.clone())] }), INVALID);
    }
    for v in ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+25:00"] {
        c.gql(
            format!("inline filter date {v}"),
            &format!("{{ auditEvents(filter: {{occurredAt: {{gte: \"{v}\"}}}}) {{ totalCount }} }}"),
            json!({}),
            INVALID,
        );
    }
    c.gql(
        "inline filter date as a number",
        "{ auditEvents(filter: {occurredAt: {gte: 1767225600}}) { totalCount } }",
        json!({}),
        INVALID,
    );
    // Well-formed instants outside what an event may carry.
    for v in [
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        &ts(Utc::now() + Duration::days(1)),
        "1970-01-01T00:00:00+00:01",
    ] {
        c.gql(format!("event occurredAt = {v}"), RECORD, json!({ "e": [spoiled("occurredAt", json!(v))] }), BAD_INPUT);
        // In a filter they are merely bounds.
        c.gql(
            format!("filter bound {v}"),
            FILTER,
            json!({ "f": { "occurredAt": { "gte": v }, "receivedAt": { "lt": v } } }),
            Expect::Harmless,
        );
    }
    // RFC 3339 (§5.6) lets a space stand for the `T`: a valid bound, if accepted.
    c.gql(
        "filter with a space for the T",
        FILTER,
        json!({ "f": { "occurredAt": { "gte": "2026-01-01 00:00:00Z" } } }),
        Expect::Harmless,
    );
}

/// Deep and huge filters, batch overflow, page sizes, enums, limits, GET.
fn shape_cases(c: &mut Corpus, s: &Seeded) {
    let leaf = json!({ "action": { "eq": "a.b" } });
    let nest = |depth: usize, how: usize| -> Value {
        let mut f = leaf.clone();
        for level in 1..depth {
            f = match (level + how) % 3 {
                0 => json!({ "not": f }),
                1 => json!({ "and": [f] }),
                _ => json!({ "or": [f, { "outcome": "SUCCESS" }] }),
            };
        }
        f
    };
    for depth in [6, 7, 10, 20, 30, 50] {
        for how in 0..3 {
            let f = nest(depth, how);
            c.gql(format!("filter {depth} deep ({how})"), FILTER, json!({ "f": f }), REFUSED);
            if depth <= 10 {
                c.cases.last_mut().unwrap().expect = BAD_INPUT;
            }
        }
    }
    let mut not = leaf.clone();
    for _ in 0..100 {
        not = json!({ "not": not });
    }
    c.gql("filter: 100 nested nots", FILTER, json!({ "f": not }), REFUSED);
    c.gql("filter 5 deep is allowed", FILTER, json!({ "f": nest(5, 0) }), Expect::Harmless);
    let inline = |depth: usize| {
        format!(
            "{{ auditEvents(filter: {}{{text: \"x\"}}{}) {{ totalCount }} }}",
            "{not: ".repeat(depth - 1),
            "}".repeat(depth - 1)
        )
    };
    // Deeper documents are sent to a separate process (see `deep_documents_do_not_crash_the_server`).
    for depth in [6, 20, 60] {
        c.gql(format!("inline filter {depth} deep"), &inline(depth), json!({}), BAD_INPUT);
    }
    // More than 100 conditions; more than 1,000 values in a list.
    for n in [101, 150, 1000] {
        let items: Vec<Value> = (0..n).map(|i| json!({ "action": { "eq": format!("a.b{i}") } })).collect();
        c.gql(format!("and of {n} conditions"), FILTER, json!({ "f": { "and": items } }), BAD_INPUT);
        let items: Vec<Value> = (0..n).map(|i| json!({ "correlationId": format!("c{i}") })).collect();
        c.gql(format!("or of {n} conditions"), FILTER, json!({ "f": { "or": items } }), BAD_INPUT);
    }
    // Each sub-filter is a condition too: 50 of them with one field each make 100.
    let items: Vec<Value> = (0..50).map(|i| json!({ "correlationId": format!("c{i}") })).collect();
    c.gql("or of 50 one-field filters is allowed", FILTER, json!({ "f": { "or": items } }), Expect::Harmless);
    let items: Vec<Value> = (0..51).map(|i| json!({ "correlationId": format!("c{i}") })).collect();
    c.gql("or of 51 one-field filters", FILTER, json!({ "f": { "or": items } }), BAD_INPUT);
    // Empty sub-filters are not free, and no list of filters is unbounded.
    for n in [100, 101, 1_000, 10_000] {
        let empties = vec![json!({}); n];
        let expect = if n <= 100 { Expect::Harmless } else { BAD_INPUT };
        c.gql(format!("or of {n} empty filters"), FILTER, json!({ "f": { "or": empties.clone() } }), expect);
        c.gql(format!("and of {n} empty filters"), FILTER, json!({ "f": { "and": empties.clone() } }), expect);
        c.gql(
            format!("not of an or of {n} empty filters"),
            FILTER,
            json!({ "f": { "not": { "or": empties } } }),
            REFUSED,
        );
    }
    let duplicated = vec![json!({ "or": vec![json!({}); 30] }); 30];
    c.gql("30 copies of an or of 30 empty filters", FILTER, json!({ "f": { "and": duplicated } }), BAD_INPUT);
    // Values of all lists together are bounded: 10 lists of 1,000 fit, 11 do not.
    let lists = |n: usize| {
        let thousand: Vec<String> = (0..1_000).map(|i| format!("v{i}")).collect();
        vec![json!({ "action": { "notIn": thousand } }); n]
    };
    c.gql("10 lists of 1000 values are allowed", FILTER, json!({ "f": { "and": lists(10) } }), Expect::Harmless);
    c.gql("11 lists of 1000 values", FILTER, json!({ "f": { "and": lists(11) } }), BAD_INPUT);
    c.gql("66 lists of 1000 values", FILTER, json!({ "f": { "or": lists(66) } }), BAD_INPUT);
    let values = |n: usize| (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>();
    for path in [
        "action.in",
        "action.notIn",
        "category.in",
        "actor.externalId",
        "actor.email",
        "resource.type",
        "relatedTo.externalId",
    ] {
        for n in [1001, 5000] {
            c.gql(
                format!("{path} with {n} values"),
                FILTER,
                json!({ "f": filter_at(path, json!(values(n))) }),
                BAD_INPUT,
            );
        }
    }
    let ids = |n: usize, p: &str| (0..n).map(|i| format!("{p}_{:032x}", i)).collect::<Vec<_>>();
    c.gql("actor.id with 1001 IDs", FILTER, json!({ "f": { "actor": { "id": ids(1001, "act") } } }), BAD_INPUT);
    c.gql("relatedTo.id with 1001 IDs", FILTER, json!({ "f": { "relatedTo": { "id": ids(1001, "res") } } }), BAD_INPUT);
    c.gql(
        "action.in with 1000 values is allowed",
        FILTER,
        json!({ "f": { "action": { "in": values(1000) } } }),
        Expect::Harmless,
    );
    c.gql(
        "actors by 1001 external IDs",
        "query($x: [String!]) { actors(filter: {externalId: $x}) { totalCount } }",
        json!({ "x": values(1001) }),
        BAD_INPUT,
    );
    c.gql(
        "nodes with 501 IDs",
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        json!({ "ids": ids(501, "evt") }),
        Expect::Codes(&["BAD_USER_INPUT", "QUERY_TOO_COMPLEX"]),
    );

    // Batches: empty, over 1,000, and 1,000 with the last one bad.
    let batch = |n: usize| (0..n).map(|i| event(&format!("overflow.e{i}"))).collect::<Vec<_>>();
    c.gql("an empty batch", RECORD, json!({ "e": [] }), BAD_INPUT);
    for n in [1001, 1500, 5000] {
        c.gql(
            format!("a batch of {n}"),
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": batch(n) }),
            Expect::Codes(&["BAD_USER_INPUT", "QUERY_TOO_COMPLEX"]),
        );
    }
    let mut last_bad = batch(1000);
    last_bad[999]["action"] = json!("Not Valid");
    c.gql(
        "1,000 events, the last one bad",
        "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
        json!({ "e": last_bad }),
        BAD_INPUT,
    );

    // Page sizes.
    let connections = [
        "auditEvents".to_string(),
        "actors".to_string(),
        "resources".to_string(),
        format!("node(id: \"{}\") {{ ... on Actor {{ events", s.actor_id),
    ];
    for (i, conn) in connections.iter().enumerate() {
        let close = if i == 3 { " } }" } else { "" };
        for args in [
            "first: -1",
            "first: -2147483648",
            "first: 501",
            "first: 2147483647",
            "last: -1",
            "last: 501",
            "last: 2147483647",
            "first: 1, last: 1",
            "first: 0, last: 0",
        ] {
            c.gql(
                format!("{conn}({args})"),
                &format!("{{ {conn}({args}) {{ totalCount }}{close} }}"),
                json!({}),
                BAD_INPUT,
            );
        }
        for args in ["first: 2147483648", "first: 1.5", "first: \"10\"", "last: null, first: true"] {
            c.gql(
                format!("{conn}({args})"),
                &format!("{{ {conn}({args}) {{ totalCount }}{close} }}"),
                json!({}),
                INVALID,
            );
        }
    }

    // Unknown enum values.
    for (what, query) in [
        ("outcome MAYBE", "{ auditEvents(filter: {outcome: MAYBE}) { totalCount } }"),
        ("outcome lower-case", "{ auditEvents(filter: {outcome: success}) { totalCount } }"),
        ("order field ID", "{ auditEvents(orderBy: {field: ID}) { totalCount } }"),
        ("order direction UP", "{ auditEvents(orderBy: {direction: UP}) { totalCount } }"),
        ("actor type ROBOT", "{ auditEvents(filter: {actor: {type: [ROBOT]}}) { totalCount } }"),
        ("actors type ROBOT", "{ actors(filter: {type: [ROBOT]}) { totalCount } }"),
        ("scope ROOT", "mutation { createApiKey(input: {name: \"k\", scopes: [ROOT]}) { secret } }"),
    ] {
        c.gql(format!("enum: {what}"), query, json!({}), INVALID);
    }
    // async-graphql takes a string literal for a known enum value: harmless,
    // though the GraphQL specification would refuse it.
    for (what, query) in [
        ("outcome as a string", "{ auditEvents(filter: {outcome: \"SUCCESS\"}) { totalCount } }"),
        ("order field as a string", "{ auditEvents(orderBy: {field: \"OCCURRED_AT\"}) { totalCount } }"),
        ("scope as a string", "mutation { createApiKey(input: {name: \"k\", scopes: [\"ADMIN\"]}) { secret } }"),
    ] {
        c.gql(
            format!("enum: {what}"),
            query,
            json!({}),
            Expect::Codes(&["GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT", "FORBIDDEN"]),
        );
        if !what.starts_with("scope") {
            c.cases.last_mut().unwrap().expect = Expect::Harmless;
        }
    }
    for v in ["MAYBE", "success", "", "SUCCESS ", "FAILURE\u{0}"] {
        c.gql(
            format!("enum variable {v:?}"),
            "query($o: AuditOutcome) { auditEvents(filter: {outcome: $o}) { totalCount } }",
            json!({ "o": v }),
            INVALID,
        );
    }
    c.gql(
        "enum variable a number",
        "query($o: AuditOutcome) { auditEvents(filter: {outcome: $o}) { totalCount } }",
        json!({ "o": 1 }),
        INVALID,
    );

    // Aliases, depth, complexity, fragments.
    for n in [101, 1000] {
        let aliases: String = (0..n).map(|i| format!(" a{i}: viewer {{ scopes }}")).collect();
        c.gql(format!("{n} aliases"), &format!("{{{aliases} }}"), json!({}), TOO_COMPLEX);
    }
    let deep_events = |levels: usize| {
        let mut q = String::from("id");
        for _ in 0..levels {
            q = format!("actor {{ events(first: 1) {{ nodes {{ {q} }} }} }}");
        }
        format!("{{ auditEvents(first: 1) {{ nodes {{ {q} }} }} }}")
    };
    // Depth 2 + 3 × levels + 1: 21, 41 and 50.
    for levels in [6, 13, 16] {
        c.gql(format!("events nested {levels} times"), &deep_events(levels), json!({}), TOO_COMPLEX);
    }
    let deep_schema = |depth: usize| {
        format!(
            "{{ __schema {{ types {{ {}name{} }} }} }}",
            "fields { type { ofType { ".repeat(depth / 3),
            " } } }".repeat(depth / 3)
        )
    };
    c.gql("introspection 50 deep", &deep_schema(50), json!({}), TOO_COMPLEX);
    c.gql(
        "nested full pages",
        "{ auditEvents(first: 500) { nodes { actor { events(first: 500) { nodes { id action } } } } } }",
        json!({}),
        TOO_COMPLEX,
    );
    c.gql(
        "fragment cycle",
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        json!({}),
        Expect::Codes(&["GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_COMPLEX"]),
    );
    c.gql("unknown fragment", "query { ...Nope }", json!({}), INVALID);
    c.gql("fragment on an unknown type", "query { ...A } fragment A on Nope { id }", json!({}), INVALID);
    c.gql("unknown directive", "{ auditEvents @nope { totalCount } }", json!({}), INVALID);
    c.gql("skip with a string", "{ auditEvents @skip(if: \"yes\") { totalCount } }", json!({}), INVALID);
    c.gql("two operations, no name", "query A { viewer { scopes } } query B { viewer { scopes } }", json!({}), REFUSED);
    c.push(
        "an operationName that does not exist",
        Transport::Post {
            body: json!({ "query": "query A { viewer { scopes } }", "operationName": "B" }).to_string().into_bytes(),
            content_type: Some("application/json"),
        },
        REFUSED,
    );
    c.gql("a subscription over POST", "subscription { auditEventRecorded { id } }", json!({}), REFUSED);
    for (what, query) in [
        ("an unclosed brace", "{ viewer { scopes }"),
        ("a lone brace", "}"),
        ("a keyword alone", "mutation"),
        ("an unterminated string", "{ node(id: \"abc) { id } }"),
        ("an empty argument", "{ auditEvents(first: ) { totalCount } }"),
        ("an extra brace", "{ viewer { scopes } } }"),
        ("upper-case keyword", "MUTATION { createApiKey }"),
        ("a NUL", "{ viewer \u{0} { scopes } }"),
        ("binary noise", "\u{1}\u{2}\u{3}\u{7f}"),
        ("an empty document", ""),
        ("only a comment", "# nothing"),
        ("SQL", "DROP TABLE audit_event; --"),
    ] {
        c.gql(format!("parse: {what}"), query, json!({}), PARSE);
    }
    c.gql("unknown field", "{ nope }", json!({}), Expect::Codes(&["GRAPHQL_VALIDATION_FAILED"]));
    c.gql(
        "a field of another type",
        "{ auditEvents { action } }",
        json!({}),
        Expect::Codes(&["GRAPHQL_VALIDATION_FAILED"]),
    );

    // Mutations (and subscriptions) through GET: 405, nothing stored.
    let mutation = "mutation { recordAuditEvents(events: [{action: \"get.mutation\", actor: {type: USER, externalId: \"x\"}}]) { createdCount } }";
    let variables = json!({ "e": [event("get.mutation")] }).to_string();
    for (what, params) in [
        ("a mutation", vec![("query", mutation.to_string())]),
        ("a mutation after a comment", vec![("query", format!("# hi\n  {mutation}"))]),
        ("a mutation with variables", vec![("query", RECORD.to_string()), ("variables", variables.clone())]),
        (
            "a named mutation among queries",
            vec![
                (
                    "query",
                    format!("query Q {{ viewer {{ scopes }} }} {}", mutation.replacen("mutation", "mutation M", 1)),
                ),
                ("operationName", "M".to_string()),
            ],
        ),
        (
            "createApiKey",
            vec![(
                "query",
                "mutation { createApiKey(input: {name: \"g\", scopes: [AUDIT_READ]}) { secret } }".to_string(),
            )],
        ),
        (
            "revokeApiKey",
            vec![(
                "query",
                format!("mutation {{ revokeApiKey(id: \"key_{}\") {{ apiKey {{ id }} }} }}", &s.event_id[4..]),
            )],
        ),
        ("a subscription", vec![("query", "subscription { auditEventRecorded { id } }".to_string())]),
    ] {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.get(format!("GET {what}"), &params, Expect::Status(405));
    }
    c.get(
        "GET two operations, no name",
        &[("query", &format!("query Q {{ viewer {{ scopes }} }} {}", mutation.replacen("mutation", "mutation M", 1)))],
        REFUSED,
    );
    c.get("GET without a query", &[], Expect::Status(400));
    c.get(
        "GET with variables not an object",
        &[("query", "{ viewer { scopes } }"), ("variables", "[1]")],
        Expect::Status(400),
    );
    c.get(
        "GET with variables not JSON",
        &[("query", "{ viewer { scopes } }"), ("variables", "{nope")],
        Expect::Status(400),
    );
    c.get(
        "GET with a deep filter",
        &[(
            "query",
            &format!(
                "{{ auditEvents(filter: {}{{text: \"x\"}}{}) {{ totalCount }} }}",
                "{not: ".repeat(9),
                "}".repeat(9)
            ),
        )],
        BAD_INPUT,
    );
}

/// Keys and headers.
fn auth_cases(c: &mut Corpus) {
    let q = "{ auditEvents { totalCount } }";
    let unauthenticated = Expect::Status(401);
    c.gql("no key", q, json!({}), unauthenticated).auth = Auth::None;
    for (name, value) in [
        ("authorization", b"Bearer".to_vec()),
        ("authorization", b"Bearer ".to_vec()),
        ("authorization", b"Basic dXNlcjpwYXNz".to_vec()),
        ("authorization", b"Bearer agk_unknown".to_vec()),
        ("authorization", format!("Bearer agk_{}", "a".repeat(60_000)).into_bytes()),
        ("authorization", b"Bearer \xff\xfe".to_vec()),
        ("authorization", b"bearer  agk_x  ".to_vec()),
        ("x-api-key", b"agk_unknown".to_vec()),
        ("x-api-key", b"".to_vec()),
        ("x-api-key", b"\xff".to_vec()),
    ] {
        let case = c.gql(
            format!("{name}: {}", short(&String::from_utf8_lossy(&value)).chars().take(30).collect::<String>()),
            q,
            json!({}),
            unauthenticated,
        );
        case.auth = Auth::None;
        case.headers.push((name, value));
    }
    // A reader may not write or manage keys.
    c.gql("a reader records", RECORD, json!({ "e": [event("reader.write")] }), Expect::Codes(&["FORBIDDEN"])).auth =
        Auth::Reader;
    c.gql(
        "a reader creates a key",
        "mutation { createApiKey(input: {name: \"k\", scopes: [AUDIT_READ]}) { secret } }",
        json!({}),
        Expect::Codes(&["FORBIDDEN"]),
    )
    .auth = Auth::Reader;
    c.gql(
        "a key grants a scope it lacks",
        "mutation { createApiKey(input: {name: \"k\", scopes: [ADMIN]}) { secret } }",
        json!({}),
        Expect::Codes(&["FORBIDDEN"]),
    );
    c.gql(
        "a key creates a tenant",
        "mutation { createTenant(input: {slug: \"evil\"}) { tenant { id } } }",
        json!({}),
        Expect::Codes(&["FORBIDDEN"]),
    );
    for slug in ["nope", "", " acme", "ACME", "globex", "a\tb"] {
        let case = c.gql(format!("X-Audit-Tenant {slug:?}"), q, json!({}), REFUSED);
        case.headers.push(("x-audit-tenant", slug.as_bytes().to_vec()));
        if matches!(slug, "nope" | "ACME" | "globex" | "a\tb") {
            case.expect = Expect::Status(403);
        } else {
            case.expect = Expect::Harmless;
        }
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

/// An `auditgraph serve` child process, killed when dropped: a crash there
/// cannot take the test binary down with it.
struct ChildServer {
    process: std::process::Child,
    base: String,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl ChildServer {
    fn command(args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditgraph"));
        cmd.args(args)
            .env_remove("AUDITGRAPH_DATABASE_URL")
            .env_remove("AUDITGRAPH_LISTEN")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    async fn start(url: &str) -> ChildServer {
        let mut process = Self::command(&["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auditgraph serve");
        let stderr = process.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Drains stderr to the end, reporting the announced address.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().trim_end_matches("/graphql").to_string());
                }
            }
        });
        let addr = tokio::task::block_in_place(|| rx.recv_timeout(StdDuration::from_secs(60)))
            .expect("serve announces its address");
        let server = ChildServer { process, base: format!("http://{addr}") };
        for _ in 0..600 {
            if reqwest::get(format!("{}/healthz", server.base)).await.is_ok_and(|r| r.status() == StatusCode::OK) {
                return server;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        panic!("the child server never became healthy");
    }

    fn alive(&mut self) -> bool {
        self.process.try_wait().ok().flatten().is_none()
    }
}

/// Documents nested hundreds or thousands of levels deep (input objects,
/// lists, selection sets), and filters thousands of sub-filters wide, with and
/// without a key: each is refused with a coded error and the server stays up. Sent to a child process, where a
/// stack overflow aborts only that process.
async fn deep_documents_do_not_crash_the_server(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = ChildServer::start(&db.url).await;
    let run = |args: &[&str]| {
        let out = ChildServer::command(args).output().expect("run auditgraph");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8").trim().to_string()
    };
    tokio::task::block_in_place(|| run(&["tenant", "create", "deep", "--database-url", &db.url]));
    let key = tokio::task::block_in_place(|| {
        run(&["key", "create", "--tenant", "deep", "--scopes", "audit.read", "--database-url", &db.url])
    });
    let nested = |open: &str, leaf: &str, close: &str, depth: usize| {
        format!("{}{leaf}{}", open.repeat(depth), close.repeat(depth))
    };
    let mut docs: Vec<(String, String)> = Vec::new();
    for depth in [64, 150, 600, 5_000] {
        docs.push((
            format!("a filter of {depth} nested nots"),
            format!("{{ auditEvents(filter: {}) {{ totalCount }} }}", nested("{not: ", "{text: \"x\"}", "}", depth)),
        ));
    }
    for depth in [1_000, 5_000] {
        docs.push((
            format!("a list value {depth} deep"),
            format!("{{ nodes(ids: {}) {{ id }} }}", nested("[", "\"x\"", "]", depth)),
        ));
        docs.push((
            format!("an object value {depth} deep on an unknown argument"),
            format!("{{ viewer(x: {}) {{ scopes }} }}", nested("{a: ", "1", "}", depth)),
        ));
    }
    for depth in [1_000, 20_000] {
        docs.push((
            format!("selection sets {depth} deep"),
            format!("{{{} id{} }}", " a {".repeat(depth), " }".repeat(depth)),
        ));
    }
    // Wide rather than deep: lists of thousands of (empty) sub-filters, in
    // the document and in variables.
    let mut docs: Vec<(String, String, Value)> = docs.into_iter().map(|(what, doc)| (what, doc, json!({}))).collect();
    for width in [10_000, 100_000] {
        docs.push((
            format!("an or of {width} empty filters in the document"),
            format!("{{ auditEvents(first: 1, filter: {{or: [{}]}}) {{ totalCount }} }}", vec!["{}"; width].join(",")),
            json!({}),
        ));
        docs.push((
            format!("an or of {width} empty filters in a variable"),
            "query($f: AuditEventFilter) { auditEvents(first: 1, filter: $f) { totalCount } }".into(),
            json!({ "f": { "or": vec![json!({}); width] } }),
        ));
    }
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    for (what, doc, variables) in &docs {
        for with_key in [false, true] {
            let what = format!("{what} ({} key)", if with_key { "with a" } else { "without a" });
            let mut request = client
                .post(format!("{}/graphql", server.base))
                .timeout(StdDuration::from_secs(60))
                .json(&json!({ "query": doc, "variables": variables }));
            if with_key {
                request = request.bearer_auth(&key);
            }
            let answer = match request.send().await {
                Ok(r) => {
                    let status = r.status();
                    r.text().await.map(|t| (status, t)).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            tokio::time::sleep(StdDuration::from_millis(100)).await;
            if !server.alive() {
                failures.push(format!("{what}: the server process died ({answer:?})"));
                server = ChildServer::start(&db.url).await;
                break;
            }
            match answer {
                Ok((status, text)) => {
                    let case = Case {
                        what: what.clone(),
                        transport: Transport::Get(Vec::new()),
                        auth: Auth::None,
                        headers: Vec::new(),
                        expect: REFUSED,
                    };
                    if let Err(panic) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&case, status, &text)))
                    {
                        failures.push(panic_message(panic));
                    }
                }
                Err(e) => failures.push(format!("{what}: no answer: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} deep documents were mishandled:\n{}", failures.len(), failures.join("\n"));
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

backend_tests!(hostile_requests_get_coded_errors_and_change_nothing, deep_documents_do_not_crash_the_server,);
