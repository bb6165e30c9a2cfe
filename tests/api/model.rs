//! Model-based test of the read side: seeded random events and filters; every
//! result walked page by page forward and backward and compared (IDs, order,
//! `totalCount`, page info) with a plain in-memory evaluation of the filter.
//! `AUDITGRAPH_MODEL_SEED` replays another seed.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, rfc3339};

const EVENTS: usize = 2_000;
const FILTERS: usize = 150;

const ACTIONS: &[&str] = &[
    "api_key.create",
    "apixkey.create",
    "api_key.revoke",
    "workspace.create",
    "workspace.snapshot.create",
    "workspace.snapshot.delete",
    "session.exec",
    "sandbox.created",
    "users.auth.login",
    "users.auth.refresh",
    "ledger.transaction.post",
    "a_b.c",
];
const ENVIRONMENTS: &[&str] = &["production", "Production", "sandbox", "prod_eu", "prodXeu"];
const SERVICES: &[&str] = &["users", "accounts", "ledger", "workspaces"];
const WORDS: &[&str] = &["Snapshot", "über", "DISK", "quota", "50%", "under_score", "Zeta"];
const ACTOR_TYPES: &[&str] = &["USER", "API_KEY", "SERVICE_ACCOUNT", "SYSTEM"];
const RESOURCE_TYPES: &[&str] = &["workspace", "vm", "session", "snap_shot"];
const IPS: &[&str] = &["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "192.168.1.20"];

/// An event as stored, with what the model needs to evaluate filters.
#[derive(Clone, Debug)]
struct Stored {
    id: String,
    action: String,
    outcome: String,
    occurred_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    actor: ActorRef,
    resource: Option<ResourceRef>,
    related: Vec<ResourceRef>,
    texts: Vec<String>,
    environment: Option<String>,
    source_service: Option<String>,
    correlation_id: Option<String>,
    request_id: Option<String>,
    ip: Option<IpAddr>,
    status: Option<i64>,
}

#[derive(Clone, Debug)]
struct ActorRef {
    id: String,
    kind: String,
    external_id: String,
    email: Option<String>,
}

#[derive(Clone, Debug)]
struct ResourceRef {
    id: String,
    kind: String,
    external_id: String,
}

fn maybe<T>(rng: &mut StdRng, p: f64, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    if rng.random_bool(p) { Some(f(rng)) } else { None }
}

fn random_event(rng: &mut StdRng, base: DateTime<Utc>) -> Value {
    // Few distinct instants (ties), a microsecond apart at times.
    let occurred = base + Duration::seconds(rng.random_range(0..400)) + Duration::microseconds(rng.random_range(0..3));
    let actor_n = rng.random_range(0..15);
    let mut e = json!({
        "action": *ACTIONS.choose(rng).unwrap(),
        "outcome": if rng.random_bool(0.3) { "FAILURE" } else { "SUCCESS" },
        "occurredAt": rfc3339(occurred),
        "actor": {
            "type": ACTOR_TYPES[actor_n % ACTOR_TYPES.len()],
            "externalId": format!("a{}", actor_n % 11),
        },
    });
    let o = e.as_object_mut().unwrap();
    if actor_n % 3 != 0 {
        o["actor"]["email"] = json!(format!("user{}@example.com", actor_n % 11));
    }
    let resource = |rng: &mut StdRng| {
        let n = rng.random_range(0..12);
        json!({ "type": RESOURCE_TYPES[n % RESOURCE_TYPES.len()], "externalId": format!("r{}", n % 7) })
    };
    if let Some(r) = maybe(rng, 0.8, resource) {
        o.insert("resource".into(), r);
    }
    let related: Vec<Value> = (0..rng.random_range(0..3)).map(|_| resource(rng)).collect();
    if !related.is_empty() {
        o.insert("relatedResources".into(), json!(related));
    }
    for field in ["summary", "reason", "errorMessage"] {
        if let Some(text) =
            maybe(rng, 0.5, |rng| format!("{} {}", WORDS.choose(rng).unwrap(), WORDS.choose(rng).unwrap()))
        {
            o.insert(field.into(), json!(text));
        }
    }
    if let Some(env) = maybe(rng, 0.7, |rng| *ENVIRONMENTS.choose(rng).unwrap()) {
        o.insert("environment".into(), json!(env));
    }
    if let Some(s) = maybe(rng, 0.6, |rng| *SERVICES.choose(rng).unwrap()) {
        o.insert("sourceService".into(), json!(s));
    }
    if let Some(c) = maybe(rng, 0.5, |rng| format!("c{}", rng.random_range(0..6))) {
        o.insert("correlationId".into(), json!(c));
    }
    if rng.random_bool(0.6) {
        let mut request = Map::new();
        if rng.random_bool(0.8) {
            request.insert("id".into(), json!(format!("q{}", rng.random_range(0..8))));
        }
        if rng.random_bool(0.8) {
            request.insert("status".into(), json!([200, 201, 400, 404, 429, 500, 503][rng.random_range(0..7)]));
        }
        if rng.random_bool(0.7) {
            request.insert("ipAddress".into(), json!(*IPS.choose(rng).unwrap()));
        }
        o.insert("request".into(), Value::Object(request));
    }
    e
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn resource_ref(v: &Value) -> ResourceRef {
    ResourceRef {
        id: v["id"].as_str().unwrap().into(),
        kind: v["type"].as_str().unwrap().into(),
        external_id: v["externalId"].as_str().unwrap().into(),
    }
}

const STORED_FIELDS: &str =
    "id action outcome occurredAt receivedAt summary reason errorMessage environment sourceService correlationId
    actor { id type externalId email } resource { id type externalId } relatedResources { id type externalId }
    request { id status ipAddress }";

fn parse_stored(v: &Value) -> Stored {
    let time = |f: &str| DateTime::parse_from_rfc3339(v[f].as_str().unwrap()).unwrap().with_timezone(&Utc);
    Stored {
        id: v["id"].as_str().unwrap().into(),
        action: v["action"].as_str().unwrap().into(),
        outcome: v["outcome"].as_str().unwrap().into(),
        occurred_at: time("occurredAt"),
        received_at: time("receivedAt"),
        actor: ActorRef {
            id: v["actor"]["id"].as_str().unwrap().into(),
            kind: v["actor"]["type"].as_str().unwrap().into(),
            external_id: v["actor"]["externalId"].as_str().unwrap().into(),
            email: opt_str(&v["actor"]["email"]),
        },
        resource: v["resource"].is_object().then(|| resource_ref(&v["resource"])),
        related: v["relatedResources"].as_array().unwrap().iter().map(resource_ref).collect(),
        texts: ["action", "summary", "reason", "errorMessage"].iter().filter_map(|f| opt_str(&v[*f])).collect(),
        environment: opt_str(&v["environment"]),
        source_service: opt_str(&v["sourceService"]),
        correlation_id: opt_str(&v["correlationId"]),
        request_id: opt_str(&v["request"]["id"]),
        ip: v["request"]["ipAddress"].as_str().map(|s| s.parse().unwrap()),
        status: v["request"]["status"].as_i64(),
    }
}

// ---- the model: the contract's filter semantics, evaluated in memory ----

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn string_match(m: &Value, value: Option<&str>) -> bool {
    let mut ok = true;
    if let Some(eq) = m.get("eq") {
        ok &= value == eq.as_str();
    }
    if let Some(list) = m.get("in") {
        ok &= value.is_some_and(|v| strings(list).iter().any(|s| s == v));
    }
    if let Some(prefix) = m.get("prefix") {
        ok &= value.is_some_and(|v| v.starts_with(prefix.as_str().unwrap()));
    }
    if let Some(list) = m.get("notIn") {
        ok &= value.is_none_or(|v| !strings(list).iter().any(|s| s == v));
    }
    ok
}

fn list_has(m: &Value, key: &str, value: Option<&str>) -> bool {
    m.get(key).is_none_or(|list| value.is_some_and(|v| strings(list).iter().any(|s| s == v)))
}

fn actor_match(m: &Value, a: &ActorRef) -> bool {
    list_has(m, "id", Some(&a.id))
        && list_has(m, "type", Some(&a.kind))
        && list_has(m, "externalId", Some(&a.external_id))
        && list_has(m, "email", a.email.as_deref())
}

fn resource_match(m: &Value, r: &ResourceRef) -> bool {
    list_has(m, "id", Some(&r.id))
        && list_has(m, "type", Some(&r.kind))
        && list_has(m, "externalId", Some(&r.external_id))
}

fn range_match(m: &Value, at: DateTime<Utc>) -> bool {
    let bound =
        |k: &str| m.get(k).map(|v| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc));
    bound("gte").is_none_or(|b| at >= b)
        && bound("gt").is_none_or(|b| at > b)
        && bound("lte").is_none_or(|b| at <= b)
        && bound("lt").is_none_or(|b| at < b)
}

fn matches(f: &Value, e: &Stored) -> bool {
    f.as_object().unwrap().iter().all(|(k, v)| match k.as_str() {
        "action" => string_match(v, Some(&e.action)),
        "category" => string_match(v, e.action.split('.').next()),
        "outcome" => v.as_str() == Some(&e.outcome),
        "actor" => actor_match(v, &e.actor),
        "resource" => e.resource.as_ref().is_some_and(|r| resource_match(v, r)),
        "relatedTo" => e.resource.iter().chain(e.related.iter()).any(|r| resource_match(v, r)),
        "occurredAt" => range_match(v, e.occurred_at),
        "receivedAt" => range_match(v, e.received_at),
        "environment" => string_match(v, e.environment.as_deref()),
        "sourceService" => string_match(v, e.source_service.as_deref()),
        "correlationId" => e.correlation_id.as_deref() == v.as_str(),
        "requestId" => e.request_id.as_deref() == v.as_str(),
        "ipAddress" => e.ip.is_some() && e.ip == v.as_str().and_then(|s| s.parse().ok()),
        "httpStatus" => e.status.is_some_and(|s| {
            v.get("gte").is_none_or(|b| s >= b.as_i64().unwrap())
                && v.get("lte").is_none_or(|b| s <= b.as_i64().unwrap())
        }),
        "text" => {
            let needle = v.as_str().unwrap().to_lowercase();
            e.texts.iter().any(|t| t.to_lowercase().contains(&needle))
        }
        "and" => v.as_array().unwrap().iter().all(|f| matches(f, e)),
        "or" => v.as_array().unwrap().iter().any(|f| matches(f, e)),
        "not" => !matches(v, e),
        other => panic!("model has no rule for {other}"),
    })
}

// ---- random filters ----

fn pick_some(rng: &mut StdRng, pool: &[String]) -> Vec<String> {
    let n = rng.random_range(0..=3.min(pool.len()));
    (0..n).map(|_| pool.choose(rng).unwrap().clone()).collect()
}

fn string_matcher(rng: &mut StdRng, pool: &[String], prefixes: &[&str]) -> Value {
    let mut m = Map::new();
    match rng.random_range(0..5) {
        0 => {
            m.insert("eq".into(), json!(pool.choose(rng).unwrap()));
        }
        1 => {
            m.insert("in".into(), json!(pick_some(rng, pool)));
        }
        2 => {
            m.insert("prefix".into(), json!(prefixes.choose(rng).unwrap()));
        }
        3 => {
            m.insert("notIn".into(), json!(pick_some(rng, pool)));
        }
        _ => {
            m.insert("prefix".into(), json!(prefixes.choose(rng).unwrap()));
            m.insert("notIn".into(), json!(pick_some(rng, pool)));
        }
    }
    Value::Object(m)
}

struct Pools {
    actions: Vec<String>,
    categories: Vec<String>,
    environments: Vec<String>,
    services: Vec<String>,
    actor_ids: Vec<String>,
    resource_ids: Vec<String>,
    times: Vec<String>,
}

fn leaf(rng: &mut StdRng, p: &Pools) -> (String, Value) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let field = match rng.random_range(0..17) {
        0 => (
            "action",
            string_matcher(
                rng,
                &p.actions,
                &["api_key.", "apixkey", "workspace.snapshot.", "a_", "users.auth", "", "%", "api%"],
            ),
        ),
        1 => ("category", string_matcher(rng, &p.categories, &["work", "users", "a_b", "_"])),
        2 => ("outcome", json!(if rng.random_bool(0.5) { "SUCCESS" } else { "FAILURE" })),
        3 => {
            let mut m = Map::new();
            if rng.random_bool(0.4) {
                m.insert("id".into(), json!(pick_some(rng, &p.actor_ids)));
            }
            if rng.random_bool(0.4) {
                m.insert("type".into(), json!(pick_some(rng, &s(ACTOR_TYPES))));
            }
            if rng.random_bool(0.4) {
                m.insert(
                    "externalId".into(),
                    json!(pick_some(rng, &(0..11).map(|n| format!("a{n}")).collect::<Vec<_>>())),
                );
            }
            if rng.random_bool(0.3) {
                m.insert(
                    "email".into(),
                    json!(pick_some(rng, &(0..11).map(|n| format!("user{n}@example.com")).collect::<Vec<_>>())),
                );
            }
            ("actor", Value::Object(m))
        }
        4 | 5 => {
            let mut m = Map::new();
            if rng.random_bool(0.3) {
                m.insert("id".into(), json!(pick_some(rng, &p.resource_ids)));
            }
            if rng.random_bool(0.5) {
                m.insert("type".into(), json!(pick_some(rng, &s(RESOURCE_TYPES))));
            }
            if rng.random_bool(0.5) {
                m.insert(
                    "externalId".into(),
                    json!(pick_some(rng, &(0..7).map(|n| format!("r{n}")).collect::<Vec<_>>())),
                );
            }
            (if rng.random_bool(0.5) { "resource" } else { "relatedTo" }, Value::Object(m))
        }
        6 | 7 => {
            let mut m = Map::new();
            for bound in ["gte", "gt", "lte", "lt"] {
                if rng.random_bool(0.35) {
                    m.insert(bound.into(), json!(p.times.choose(rng).unwrap()));
                }
            }
            (if rng.random_bool(0.8) { "occurredAt" } else { "receivedAt" }, Value::Object(m))
        }
        8 => ("environment", string_matcher(rng, &p.environments, &["prod", "Prod", "prod_", "sand"])),
        9 => ("sourceService", string_matcher(rng, &p.services, &["u", "led", "x"])),
        10 => ("correlationId", json!(format!("c{}", rng.random_range(0..7)))),
        11 => ("requestId", json!(format!("q{}", rng.random_range(0..9)))),
        12 => (
            "ipAddress",
            json!(
                *["10.0.0.1", "::ffff:10.0.0.1", "2001:DB8::1", "2001:db8:0::1", "192.168.1.20", "127.0.0.1"]
                    .choose(rng)
                    .unwrap()
            ),
        ),
        13 => {
            let mut m = Map::new();
            if rng.random_bool(0.6) {
                m.insert("gte".into(), json!([200, 400, 404, 500][rng.random_range(0..4)]));
            }
            if rng.random_bool(0.6) {
                m.insert("lte".into(), json!([201, 404, 499, 599][rng.random_range(0..4)]));
            }
            ("httpStatus", Value::Object(m))
        }
        _ => (
            "text",
            json!(*["snapshot", "ÜBER", "disk", "50%", "under_", "r_s", "zeta", "api_key", "X"].choose(rng).unwrap()),
        ),
    };
    (field.0.to_string(), field.1)
}

fn random_filter(rng: &mut StdRng, p: &Pools, depth: usize) -> Value {
    let mut f = Map::new();
    for _ in 0..rng.random_range(1..=2) {
        let (k, v) = leaf(rng, p);
        f.insert(k, v);
    }
    if depth < 4 && rng.random_bool(0.35) {
        let key = ["and", "or", "not"][rng.random_range(0..3)];
        if key == "not" {
            f.insert(key.into(), random_filter(rng, p, depth + 1));
        } else {
            let items: Vec<Value> = (0..rng.random_range(0..=3)).map(|_| random_filter(rng, p, depth + 1)).collect();
            f.insert(key.into(), json!(items));
        }
    }
    Value::Object(f)
}

fn expected(events: &[Stored], filter: &Value, field: &str, direction: &str) -> Vec<String> {
    let mut rows: Vec<&Stored> = events.iter().filter(|e| matches(filter, e)).collect();
    let key = |e: &Stored| (if field == "OCCURRED_AT" { e.occurred_at } else { e.received_at }, e.id.clone());
    rows.sort_by_key(|e| key(e));
    if direction == "DESC" {
        rows.reverse();
    }
    rows.into_iter().map(|e| e.id.clone()).collect()
}

const PAGE: &str =
    "query($f: AuditEventFilter, $o: AuditEventOrder, $first: Int, $after: String, $last: Int, $before: String) {
    auditEvents(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

async fn walk(app: &TestApp, key: &str, filter: &Value, order: &Value, size: usize, forward: bool, want: &[String]) {
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    for page_no in 0.. {
        let vars = if forward {
            json!({ "f": filter, "o": order, "first": size, "after": cursor })
        } else {
            json!({ "f": filter, "o": order, "last": size, "before": cursor })
        };
        let data = app.data(key, PAGE, vars).await;
        let c = &data["auditEvents"];
        assert_eq!(c["totalCount"].as_u64().unwrap() as usize, want.len(), "totalCount for {filter}");
        let ids: Vec<String> =
            c["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_string()).collect();
        let info = &c["pageInfo"];
        assert_eq!(info["startCursor"], c["edges"][0]["cursor"], "startCursor");
        let more =
            if forward { info["hasNextPage"].as_bool().unwrap() } else { info["hasPreviousPage"].as_bool().unwrap() };
        let other_side =
            if forward { info["hasPreviousPage"].as_bool().unwrap() } else { info["hasNextPage"].as_bool().unwrap() };
        assert_eq!(other_side, page_no > 0, "the far side of the page is true exactly when a cursor was given");
        if forward {
            seen.extend(ids);
        } else {
            let mut page = ids;
            page.extend(seen);
            seen = page;
        }
        let remaining = want.len() - seen.len().min(want.len());
        assert_eq!(more, remaining > 0, "has more pages for {filter} (page {page_no})");
        if !more {
            break;
        }
        cursor = Some(if forward {
            info["endCursor"].as_str().unwrap().to_string()
        } else {
            info["startCursor"].as_str().unwrap().to_string()
        });
    }
    assert_eq!(seen, want, "{} walk of {filter} ordered by {order}", if forward { "forward" } else { "backward" });
}

async fn random_filters_agree_with_the_model(backend: Backend) {
    let seed: u64 = std::env::var("AUDITGRAPH_MODEL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261123);
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    // Another tenant's events must never show up.
    let other = app.create_tenant("other").await;
    let other_key = app.key_in(other, "audit.write").await;
    let base = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z").unwrap().with_timezone(&Utc);

    let mut events: Vec<Stored> = Vec::with_capacity(EVENTS);
    let record = format!(
        "mutation($e: [AuditEventInput!]!) {{ recordAuditEvents(events: $e) {{ events {{ {STORED_FIELDS} }} }} }}"
    );
    for _ in 0..EVENTS / 500 {
        let batch: Vec<Value> = (0..500).map(|_| random_event(&mut rng, base)).collect();
        let data = app.data(&key, &record, json!({ "e": batch })).await;
        events.extend(data["recordAuditEvents"]["events"].as_array().unwrap().iter().map(parse_stored));
        let noise: Vec<Value> = (0..50).map(|_| random_event(&mut rng, base)).collect();
        app.data(
            &other_key,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": noise }),
        )
        .await;
    }
    // The setup's self-audit events belong to the tenant too.
    let setup = app.data(&key, &format!(r#"{{ auditEvents(filter: {{sourceService: {{eq: "auditgraph"}}}}) {{ nodes {{ {STORED_FIELDS} }} }} }}"#), json!({})).await;
    events.extend(setup["auditEvents"]["nodes"].as_array().unwrap().iter().map(parse_stored));

    let unique = |xs: Vec<String>| {
        let mut xs = xs;
        xs.sort();
        xs.dedup();
        xs
    };
    let pools = Pools {
        actions: ACTIONS.iter().map(|s| s.to_string()).chain(["api_key.create".into(), "nope.x".into()]).collect(),
        categories: unique(events.iter().map(|e| e.action.split('.').next().unwrap().to_string()).collect()),
        environments: ENVIRONMENTS.iter().map(|s| s.to_string()).collect(),
        services: SERVICES.iter().map(|s| s.to_string()).collect(),
        actor_ids: unique(events.iter().map(|e| e.actor.id.clone()).collect()),
        resource_ids: unique(
            events.iter().flat_map(|e| e.resource.iter().chain(&e.related).map(|r| r.id.clone())).collect(),
        ),
        times: events.iter().take(40).flat_map(|e| [rfc3339(e.occurred_at), rfc3339(e.received_at)]).collect(),
    };

    let mut interesting = 0;
    for n in 0..FILTERS {
        let filter = if n == 0 { json!({}) } else { random_filter(&mut rng, &pools, 1) };
        let field = if rng.random_bool(0.7) { "OCCURRED_AT" } else { "RECEIVED_AT" };
        let direction = if rng.random_bool(0.6) { "DESC" } else { "ASC" };
        let order = json!({ "field": field, "direction": direction });
        let want = expected(&events, &filter, field, direction);
        if !want.is_empty() && want.len() < events.len() {
            interesting += 1;
        }
        // At most about eight pages each way.
        let size = rng.random_range(1..=60).max(want.len().div_ceil(8)).min(500);
        walk(&app, &key, &filter, &order, size, true, &want).await;
        walk(&app, &key, &filter, &order, size, false, &want).await;
    }
    // The generator must produce filters that select something, but not everything.
    assert!(interesting * 2 > FILTERS, "only {interesting} of {FILTERS} filters were selective");
}

backend_tests!(random_filters_agree_with_the_model);
