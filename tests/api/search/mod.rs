//! Search (API.md Part 3): `metadata` conditions, `changes`, `search` words
//! and query strings, checked against an independent oracle ([`oracle`]) on
//! generated cases, through the typed filter, the query string and
//! `parseAuditQuery` alike; errors with their positions; the bounds; every
//! door that takes a query.

mod backfill;
mod index;
mod oracle;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};
use crate::subscriptions::{Client, Protocol, base, wait_for_subscribers};

const EVENTS: &str =
    "query($f: AuditEventFilter, $q: String) { auditEvents(first: 500, filter: $f, query: $q) { nodes { id } } }";
const PARSE: &str = "query($q: String!) { parseAuditQuery(query: $q) }";

/// Events with every kind of value the conditions meet.
fn corpus() -> Vec<Value> {
    let actor = json!({ "type": "USER", "externalId": "u-1" });
    let e = |action: &str, extra: Value| {
        let mut e = json!({ "action": action, "actor": actor });
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    vec![
        e(
            "disk.alert",
            json!({
                "summary": "Disk full on sda1",
                "metadata": { "plan": "free", "size_gb": 10, "beta": true, "tags": ["a", "b"], "nested": { "k": "v", "n": 1 } },
                "changes": [{ "field": "role", "before": "viewer", "after": "admin" }],
            }),
        ),
        e(
            "workspace.create",
            json!({
                "resource": { "type": "workspace", "externalId": "ws-1", "name": "Acme Résumé Store" },
                "metadata": { "plan": "pro", "size_gb": 12.5, "beta": false, "tags": [], "nested": { "k": "w" }, "0": "zero" },
                "changes": [{ "field": "name" }, { "field": "roles.0", "after": "x" }],
            }),
        ),
        e(
            "quota.exceeded",
            json!({
                "reason": "disk quota exceeded",
                "metadata": { "plan": "free", "size_gb": "10", "beta": null, "arr": [1, 2, [3]], "note": "full-text of it" },
            }),
        ),
        e(
            "workspace.delete",
            json!({
                "outcome": "FAILURE",
                "errorMessage": "Payment failed: card declined",
                "metadata": { "size_gb": 9, "plan": "Free", "obj": { "a": 1, "b": [1, 2] }, "amount": -5 },
                "changes": [{ "field": "plan", "before": "pro", "after": "free" }],
            }),
        ),
        e("user.login", json!({ "summary": "RÉSUMÉ of a full day" })),
        e(
            "workspace.update",
            json!({
                "relatedResources": [{ "type": "vm", "externalId": "vm-1", "name": "Disk image builder" }],
                "metadata": { "plan": "enterprise", "size_gb": 1000, "list": [{ "x": 1 }, { "x": 2 }], "s": "" },
                "changes": [{ "field": "role" }],
            }),
        ),
        e(
            "billing.charge",
            json!({
                "metadata": { "plan": "fr", "size_gb": 10.0, "amount": 1000.5, "words": ["card", "of full"] },
            }),
        ),
        e("billing.refund", json!({ "summary": "Refund: card 42 of 7", "metadata": { "plan": "frEE", "size_gb": 0 } })),
    ]
}

fn paths() -> Vec<&'static str> {
    vec![
        "plan", "size_gb", "beta", "tags", "tags.0", "tags.1", "nested", "nested.k", "nested.n", "0", "arr.2.0",
        "arr.1", "arr", "obj", "obj.b.1", "list.1.x", "missing", "note", "amount", "s", "words.1",
    ]
}

fn values() -> Vec<Value> {
    vec![
        json!(1),
        json!(10),
        json!(10.0),
        json!("10"),
        json!(12.5),
        json!(-5),
        json!(0),
        json!(1000),
        json!(9),
        json!("free"),
        json!("fr"),
        json!("Free"),
        json!(""),
        json!("v"),
        json!("a"),
        json!("zero"),
        json!(true),
        json!(false),
        json!(null),
        json!(["a", "b"]),
        json!([]),
        json!({ "k": "v", "n": 1 }),
        json!({ "a": 1, "b": [1, 2] }),
        json!("of full"),
        json!(2),
    ]
}

/// A generated `JsonCondition`: one or two tests on one path.
fn json_condition() -> impl Strategy<Value = Value> {
    let value = prop::sample::select(values());
    let scalar = value.clone().prop_filter("a number or a string", |v| v.is_number() || v.is_string());
    let text = prop::sample::select(vec!["", "f", "fr", "Fr", "fre", "z", "of", "1"]);
    let test = prop_oneof![
        value.clone().prop_map(|v| ("eq", v)),
        // `in: [JSON!]`: a list holds no null.
        prop::collection::vec(value.prop_filter("not null", |v| !v.is_null()), 0..3)
            .prop_map(|l| ("in", Value::from(l))),
        (prop::sample::select(vec!["gt", "gte", "lt", "lte"]), scalar).prop_map(|(op, v)| (op, v)),
        text.prop_map(|p| ("prefix", json!(p))),
        any::<bool>().prop_map(|b| ("exists", json!(b))),
    ];
    (prop::sample::select(paths()), prop::collection::vec(test, 1..3)).prop_map(|(path, tests)| {
        let mut c = json!({ "path": path });
        for (op, v) in tests {
            c[op] = v;
        }
        c
    })
}

/// The query-string term of a condition with one test, where it has one.
fn as_query(c: &Value) -> Option<String> {
    let map = c.as_object().unwrap();
    if map.len() != 2 {
        return None;
    }
    let path = c["path"].as_str().unwrap();
    let (op, v) = map.iter().find(|(k, _)| *k != "path").unwrap();
    let value = match v {
        Value::String(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Value::Number(_) | Value::Bool(_) | Value::Null => v.to_string(),
        _ => return None,
    };
    Some(match op.as_str() {
        "eq" => format!("metadata.{path}:{value}"),
        "gt" => format!("metadata.{path}:>{value}"),
        "gte" => format!("metadata.{path}:>={value}"),
        "lt" => format!("metadata.{path}:<{value}"),
        "lte" => format!("metadata.{path}:<={value}"),
        "prefix" if !v.as_str()?.is_empty() => format!("metadata.{path}:{}*", v.as_str()?),
        "exists" if v == &json!(true) => format!("metadata.{path}:*"),
        "exists" => format!("-metadata.{path}:*"),
        _ => return None,
    })
}

fn search_terms() -> impl Strategy<Value = String> {
    let term = prop::sample::select(vec![
        "disk",
        "DISK",
        "full",
        "sda1",
        "sda*",
        "quota",
        "résumé",
        "RÉSUMÉ",
        "résu*",
        "payment",
        "card",
        "declined",
        "acme",
        "exceeded",
        "free",
        "fr*",
        "pro",
        "fail*",
        "dis*",
        "\"disk full\"",
        "\"full disk\"",
        "\"card declined\"",
        "\"of full\"",
        "\"full day\"",
        "zzz",
        "42",
        "4*",
        "text",
        "\"full-text\"",
        "workspace",
        "workspace.create",
        "img*",
        "image",
        "of",
        "-",
        "\"card 42\"",
    ]);
    prop::collection::vec(term, 1..3).prop_map(|t| t.join(" "))
}

fn change_match() -> impl Strategy<Value = Value> {
    let name = prop::sample::select(vec!["role", "roles.0", "name", "plan", "ro", "x"]);
    let test = prop_oneof![
        name.clone().prop_map(|n| ("eq", json!(n))),
        prop::collection::vec(name.clone(), 0..3).prop_map(|l| ("in", json!(l))),
        prop::sample::select(vec!["", "ro", "role", "p", "n"]).prop_map(|p| ("prefix", json!(p))),
        prop::collection::vec(name, 0..3).prop_map(|l| ("notIn", json!(l))),
    ];
    prop::option::of(prop::collection::vec(test, 0..3)).prop_map(|tests| match tests {
        None => json!({}),
        Some(tests) => {
            let mut field = json!({});
            for (op, v) in tests {
                field[op] = v;
            }
            json!({ "field": field })
        }
    })
}

/// Generates `n` cases of `strategy`, the same ones on every run.
fn cases<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    (0..n).map(|_| strategy.new_tree(&mut runner).expect("a case").current()).collect()
}

struct Corpus {
    app: TestApp,
    key: String,
    /// Each event input with the ID it was stored under.
    events: Vec<(String, Value)>,
}

impl Corpus {
    async fn new(backend: Backend) -> Corpus {
        let app = TestApp::spawn(backend).await;
        let key = app.key("audit.write,audit.read").await;
        let inputs = corpus();
        let recorded = app.record(&key, Value::from(inputs.clone())).await;
        let ids = recorded["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string());
        let events = ids.zip(inputs).collect();
        Corpus { app, key, events }
    }

    /// The IDs the server answers with, or the error body.
    async fn ask(&self, filter: Value, query: Option<&str>) -> Result<BTreeSet<String>, Value> {
        let (_, body) = self.app.gql(&self.key, EVENTS, json!({ "f": filter, "q": query })).await;
        if body.get("errors").is_some() {
            return Err(body);
        }
        // Only the corpus: the tenant's own self-audit events are not the oracle's.
        Ok(body["data"]["auditEvents"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .filter(|id| self.events.iter().any(|(known, _)| known == id))
            .collect())
    }

    fn expect(&self, matches: impl Fn(&Value) -> bool) -> BTreeSet<String> {
        self.events.iter().filter(|(_, e)| matches(e)).map(|(id, _)| id.clone()).collect()
    }

    async fn parsed(&self, query: &str) -> Value {
        self.app.data(&self.key, PARSE, json!({ "q": query })).await["parseAuditQuery"].clone()
    }
}

async fn metadata_conditions_agree_with_the_oracle(backend: Backend) {
    let c = Corpus::new(backend).await;
    let mut through_queries = 0;
    for condition in cases(json_condition(), 160) {
        let want = c.expect(|e| oracle::json_condition(&e["metadata"], &condition));
        let got = c.ask(json!({ "metadata": [condition] }), None).await.unwrap_or_else(|e| panic!("{condition}: {e}"));
        assert_eq!(got, want, "metadata: [{condition}]");
        // NOT selects exactly the rest: every condition is two-valued.
        let rest = c.ask(json!({ "not": { "metadata": [condition] } }), None).await.unwrap();
        assert_eq!(rest.len() + got.len(), c.events.len(), "not {condition}");
        if let Some(q) = as_query(&condition) {
            through_queries += 1;
            assert_eq!(c.ask(Value::Null, Some(&q)).await.unwrap(), want, "query {q}");
            let parsed = c.parsed(&q).await;
            let expected = match condition.get("exists") {
                Some(Value::Bool(false)) => {
                    json!({ "not": { "metadata": [{ "path": condition["path"], "exists": true }] } })
                }
                _ => json!({ "metadata": [condition] }),
            };
            assert_eq!(parsed, expected, "parseAuditQuery({q})");
        }
    }
    assert!(through_queries > 40, "too few cases had a query form: {through_queries}");
}

async fn search_agrees_with_the_oracle(backend: Backend) {
    let c = Corpus::new(backend).await;
    let mut nonempty = 0;
    for search in cases(search_terms(), 80) {
        let want = c.expect(|e| oracle::search(e, &search));
        nonempty += usize::from(!want.is_empty());
        assert_eq!(c.ask(json!({ "search": search }), None).await.unwrap(), want, "search: {search}");
        if !search.contains('-') || search.contains('"') {
            // Bare words and phrases of a query are its search terms.
            assert_eq!(c.ask(Value::Null, Some(&search)).await.unwrap(), want, "query: {search}");
        }
    }
    assert!(nonempty > 20, "too few searches matched anything: {nonempty}");
}

async fn changes_agree_with_the_oracle(backend: Backend) {
    let c = Corpus::new(backend).await;
    for m in cases(change_match(), 60) {
        let want = c.expect(|e| oracle::change_match(&e["changes"], &m));
        assert_eq!(c.ask(json!({ "changes": m }), None).await.unwrap(), want, "changes: {m}");
    }
    let role = c.expect(|e| oracle::change_match(&e["changes"], &json!({ "field": { "eq": "role" } })));
    assert_eq!(role.len(), 2);
    assert_eq!(c.ask(Value::Null, Some("changes.field:role")).await.unwrap(), role);
    let prefixed = c.expect(|e| oracle::change_match(&e["changes"], &json!({ "field": { "prefix": "ro" } })));
    assert_eq!(c.ask(Value::Null, Some("changes.field:ro*")).await.unwrap(), prefixed);
}

/// Queries over the columns mean what the typed filter means, and both AND.
async fn queries_and_filters_agree(backend: Backend) {
    let c = Corpus::new(backend).await;
    for (query, filter) in [
        ("action:workspace.*", json!({ "action": { "prefix": "workspace." } })),
        (
            "action:workspace.* -outcome:failure",
            json!({ "action": { "prefix": "workspace." }, "not": { "outcome": "FAILURE" } }),
        ),
        (
            "category:billing OR resource.type:workspace",
            json!({ "or": [{ "category": { "eq": "billing" } }, { "resource": { "type": ["workspace"] } }] }),
        ),
        ("related.type:vm", json!({ "relatedTo": { "type": ["vm"] } })),
        (
            "actor.type:user AND NOT (disk OR card)",
            json!({ "actor": { "type": ["USER"] }, "not": { "or": [{ "search": "disk" }, { "search": "card" }] } }),
        ),
        (
            "metadata.size_gb:>=10 metadata.size_gb:<1000",
            json!({ "metadata": [{ "path": "size_gb", "gte": 10 }, { "path": "size_gb", "lt": 1000 }] }),
        ),
        ("text:DECLINED", json!({ "text": "DECLINED" })),
        ("sequence:>2 sequence:<=5", json!({ "sequence": { "gt": "2", "lte": "5" } })),
    ] {
        let want = c.ask(filter.clone(), None).await.unwrap();
        assert!(!want.is_empty(), "{query}");
        assert_eq!(c.ask(Value::Null, Some(query)).await.unwrap(), want, "{query}");
        let parsed = c.parsed(query).await;
        assert_eq!(c.ask(parsed.clone(), None).await.unwrap(), want, "{query} parsed as {parsed}");
    }
    // `query` is AND-ed with `filter`.
    let both = c.ask(json!({ "outcome": "FAILURE" }), Some("action:workspace.*")).await.unwrap();
    assert_eq!(both, c.ask(json!({ "action": { "prefix": "workspace." }, "outcome": "FAILURE" }), None).await.unwrap());
    assert_eq!(both.len(), 1);
    // Relative times count back from the server's clock.
    assert_eq!(c.ask(Value::Null, Some("occurred:>-1h")).await.unwrap().len(), c.events.len());
    assert!(c.ask(Value::Null, Some("occurred:<-1h")).await.unwrap().is_empty());
}

/// The errors of a query say where it went wrong, in every door.
async fn bad_queries_are_refused_at_their_position(backend: Backend) {
    let c = Corpus::new(backend).await;
    let long = "a ".repeat(2_100);
    for (query, position) in [
        ("action:x colour:red", 10),
        ("(disk full", 11),
        ("disk )", 6),
        ("outcome:maybe", 9),
        ("status:>abc", 9),
        ("metadata.a..b:1", 10),
        ("\"open", 6),
        ("a OR", 5),
        ("occurred:>yesterday", 11),
        (long.as_str(), 4_097),
    ] {
        let (status, body) = c.app.gql(&c.key, EVENTS, json!({ "q": query })).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{query}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["position"], json!(position), "{query}: {body}");
        let (_, body) = c.app.gql(&c.key, PARSE, json!({ "q": query })).await;
        assert_eq!(body["errors"][0]["extensions"]["position"], json!(position), "parse {query}: {body}");
    }
    let (status, _, body) = c.app.rest_get(&c.key, "/v1/events", &[("q", "action:x colour:red")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["path"], "q");
    assert_eq!(body["errors"][0]["position"], 10);
    let response =
        c.app.client.get(c.app.url("/export")).bearer_auth(&c.key).query(&[("q", "(a")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["position"], 3, "{body}");
}

/// Conditions of a query and of `metadata` count towards the filter bounds.
async fn search_conditions_count_towards_the_bounds(backend: Backend) {
    let c = Corpus::new(backend).await;
    let many =
        |n: usize| Value::from((0..n).map(|i| json!({ "path": format!("k{i}"), "exists": false })).collect::<Vec<_>>());
    assert_eq!(c.ask(json!({ "metadata": many(100) }), None).await.unwrap().len(), c.events.len());
    let body = c.ask(json!({ "metadata": many(101) }), None).await.unwrap_err();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let query: Vec<String> = (0..101).map(|i| format!("metadata.k{i}:*")).collect();
    let body = c.ask(Value::Null, Some(&query.join(" OR "))).await.unwrap_err();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    for (bad, field) in [
        (json!({ "metadata": [{ "path": "a b", "eq": 1 }] }), "filter.metadata.0.path"),
        (json!({ "metadata": [{ "path": "1.2.3.4.5.6.7.8.9", "exists": true }] }), "filter.metadata.0.path"),
        (json!({ "metadata": [{ "path": "a", "gt": true }] }), "filter.metadata.0.gt"),
        (json!({ "search": "\"open" }), "filter.search"),
    ] {
        let body = c.ask(bad.clone(), None).await.unwrap_err();
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{bad}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{bad}: {body}");
    }
}

/// Every door that takes a filter takes a query: nested lists, REST `q`
/// (listed in the OpenAPI document) and export `q`.
async fn every_door_takes_a_query(backend: Backend) {
    let c = Corpus::new(backend).await;
    let want = c.expect(|e| oracle::search(e, "card"));
    let data = c
        .app
        .data(&c.key, "{ actors(first: 5, filter: {externalId: [\"u-1\"]}) { nodes { events(first: 50, query: \"card\") { nodes { id } } } } }", json!({}))
        .await;
    let nested: BTreeSet<String> = data["actors"]["nodes"][0]["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nested, want);
    let (status, _, body) = c.app.rest_get(&c.key, "/v1/events", &[("q", "card"), ("limit", "500")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), want.len(), "{body}");
    let (_, _, doc) = c.app.rest_get(&c.key, "/v1/openapi.json", &[]).await;
    let params = doc["paths"]["/v1/events"]["get"]["parameters"].as_array().cloned().unwrap_or_default();
    assert!(params.iter().any(|p| p["name"] == "q"), "the OpenAPI document lists `q`");
    let response = c
        .app
        .client
        .get(c.app.url("/export"))
        .bearer_auth(&c.key)
        .query(&[("q", "card"), ("format", "ndjson")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().filter(|l| !l.trim().is_empty()).count(), want.len(), "{text}");
}

/// A subscription's query narrows what it receives, AND-ed with its filter.
async fn subscriptions_take_a_query(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &key).await;
    let subscribe =
        "subscription($f: AuditEventFilter, $q: String) { auditEventRecorded(filter: $f, query: $q) { id action } }";
    client
        .subscribe(
            "1",
            subscribe,
            json!({ "f": { "action": { "prefix": "live." } }, "q": "metadata.size_gb:>10 OR disk*" }),
        )
        .await;
    wait_for_subscribers(&app, 1).await;
    let with = |action: &str, extra: Value| {
        let mut e = event(action);
        e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        e
    };
    app.record(
        &key,
        json!([
            with("live.big", json!({ "metadata": { "size_gb": 11 } })),
            with("live.small", json!({ "metadata": { "size_gb": 10 } })),
            with("live.words", json!({ "summary": "Disks are full" })),
            with("other.big", json!({ "metadata": { "size_gb": 99 } })),
        ]),
    )
    .await;
    assert_eq!(client.actions(2).await, ["live.big", "live.words"]);
    client.quiet().await;
}

backend_tests!(
    subscriptions_take_a_query,
    metadata_conditions_agree_with_the_oracle,
    search_agrees_with_the_oracle,
    changes_agree_with_the_oracle,
    queries_and_filters_agree,
    bad_queries_are_refused_at_their_position,
    search_conditions_count_towards_the_bounds,
    every_door_takes_a_query,
);
