//! Tenant isolation, randomized. Four tenants record overlapping data on
//! purpose (the same actor and resource types and external IDs, the same
//! correlation IDs and idempotency keys, the same instants); then every read
//! entry point is asked, with each tenant's keys, random filters and the real
//! IDs and cursors of the other tenants. No foreign ID may ever appear and
//! every count must be the tenant's own. `AUDITGRAPH_ISOLATION_SEED` replays
//! another seed.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, rfc3339};

const SEED_VAR: &str = "AUDITGRAPH_ISOLATION_SEED";
const DEFAULT_SEED: u64 = 0x0150_1a7e;

/// `acme` exists in every test app; the others are created here.
const SLUGS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];
const ACTIONS: &[&str] =
    &["user.login", "user.logout", "workspace.create", "workspace.snapshot.create", "billing.invoice.pay"];
const ACTOR_TYPES: &[&str] = &["USER", "SERVICE_ACCOUNT"];
const ACTOR_IDS: &[&str] = &["u-1", "u-2", "u-3", "42", "svc-a"];
const RESOURCE_TYPES: &[&str] = &["workspace", "vm", "session"];
const RESOURCE_IDS: &[&str] = &["r-1", "r-2", "r-3", "r-4"];
const CORRELATIONS: &[&str] = &["corr-1", "corr-2", "corr-3"];
const IDEMPOTENCY_KEYS: &[&str] = &["idem-1", "idem-2", "idem-3", "idem-4", "idem-5", "idem-6"];
/// Random filters asked per tenant (each also through `Actor.events` or `Resource.events`).
const FILTERS: usize = 30;

const LISTING: &str = "{ auditEvents(first: 500) { totalCount pageInfo { hasNextPage }
    edges { cursor node { id action occurredAt correlationId idempotencyKey
        actor { id type externalId } resource { id type externalId } relatedResources { id type externalId } } } }
    actors(first: 500) { totalCount edges { cursor node { id type externalId } } }
    resources(first: 500) { totalCount edges { cursor node { id type externalId } } } }";
const FILTERED: &str = "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 500) {
    totalCount nodes { id actor { id } resource { id } relatedResources { id } } } }";
const NODE_EVENTS: &str = "query($id: ID!, $f: AuditEventFilter, $after: String) { node(id: $id) { id
    ... on Actor { events(filter: $f, first: 500, after: $after) { totalCount nodes { id actor { id } resource { id } } } }
    ... on Resource { events(filter: $f, first: 500, after: $after) { totalCount nodes { id actor { id } resource { id } } } } } }";
const COUNTS: &str = "{ auditEvents { totalCount } actors { totalCount } resources { totalCount } }";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entity {
    id: String,
    kind: String,
    external_id: String,
}

/// An event as the model knows it.
#[derive(Clone, Debug)]
struct Event {
    id: String,
    action: String,
    at: DateTime<Utc>,
    actor: Entity,
    resource: Option<Entity>,
    related: Vec<Entity>,
    correlation: Option<String>,
    idempotency: Option<String>,
}

impl Event {
    /// The position in the default order (newest first, ties by ID).
    fn key(&self) -> (DateTime<Utc>, &str) {
        (self.at, &self.id)
    }
}

struct Tenant {
    slug: &'static str,
    id: String,
    reader: String,
    writer: String,
    manager: String,
    key_ids: Vec<String>,
    /// Event IDs the tenant's own recordings returned, and the input stored under each.
    recorded: HashMap<String, Value>,
    /// Idempotency key → the event stored under it in this tenant.
    idempotency: HashMap<String, String>,
    /// Everything in the tenant (recorded and self-audit), newest first.
    events: Vec<Event>,
    event_cursors: Vec<(String, usize)>,
    actors: Vec<Entity>,
    actor_cursors: Vec<String>,
    resources: Vec<Entity>,
    resource_cursors: Vec<String>,
}

/// Every tenant and who owns which global ID.
struct World {
    seed: u64,
    tenants: Vec<Tenant>,
    owner: HashMap<String, usize>,
}

impl World {
    /// Every ID of `kind` (`"evt"`, `"act"`, …) that belongs to another tenant than `me`.
    fn foreign(&self, me: usize, kind: &str) -> Vec<String> {
        let mut ids: Vec<String> =
            self.owner.iter().filter(|(id, t)| **t != me && id.starts_with(kind)).map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids
    }

    /// Asserts that every global ID in `value` is one of tenant `me`'s.
    fn assert_only_own(&self, me: usize, what: &str, value: &Value) {
        let mut found = Vec::new();
        global_ids(value, &mut found);
        for id in found {
            match self.owner.get(&id) {
                Some(t) if *t == me => {}
                Some(t) => panic!(
                    "seed {}: {} sees `{id}` of {} in {what}: {value}",
                    self.seed, self.tenants[me].slug, self.tenants[*t].slug
                ),
                None => panic!(
                    "seed {}: {} sees `{id}`, an ID of no tenant, in {what}: {value}",
                    self.seed, self.tenants[me].slug
                ),
            }
        }
    }
}

fn is_global_id(s: &str) -> bool {
    let Some((prefix, token)) = s.split_once('_') else {
        return false;
    };
    matches!(prefix, "evt" | "act" | "res" | "key" | "ten")
        && token.len() == 32
        && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn global_ids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if is_global_id(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| global_ids(v, out)),
        Value::Object(map) => map.values().for_each(|v| global_ids(v, out)),
        _ => {}
    }
}

fn ids_of(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .unwrap_or_else(|| panic!("a list: {nodes}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_else(|| panic!("an id: {n}")).to_string())
        .collect()
}

fn entity(v: &Value) -> Entity {
    Entity {
        id: v["id"].as_str().expect("id").to_string(),
        kind: v["type"].as_str().expect("type").to_string(),
        external_id: v["externalId"].as_str().expect("externalId").to_string(),
    }
}

fn random_event(rng: &mut StdRng, instants: &[DateTime<Utc>], now: DateTime<Utc>) -> Value {
    let at = if rng.random_bool(0.3) {
        *instants.choose(rng).unwrap()
    } else {
        now - Duration::microseconds(rng.random_range(1..20 * 86_400 * 1_000_000))
    };
    let mut e = json!({
        "action": *ACTIONS.choose(rng).unwrap(),
        "occurredAt": rfc3339(at),
        "actor": { "type": *ACTOR_TYPES.choose(rng).unwrap(), "externalId": *ACTOR_IDS.choose(rng).unwrap() },
    });
    let mut pairs: Vec<(&str, &str)> =
        RESOURCE_TYPES.iter().flat_map(|t| RESOURCE_IDS.iter().map(move |x| (*t, *x))).collect();
    pairs.shuffle(rng);
    let mut pairs = pairs.into_iter().map(|(t, x)| json!({ "type": t, "externalId": x }));
    if rng.random_bool(0.8) {
        e["resource"] = pairs.next().unwrap();
    }
    let related: Vec<Value> = pairs.take(rng.random_range(0..3)).collect();
    if !related.is_empty() {
        e["relatedResources"] = json!(related);
    }
    if rng.random_bool(0.6) {
        e["correlationId"] = json!(*CORRELATIONS.choose(rng).unwrap());
    }
    if rng.random_bool(0.35) {
        e["idempotencyKey"] = json!(*IDEMPOTENCY_KEYS.choose(rng).unwrap());
    }
    e
}

/// Records `inputs` in tenant `t` and checks the payload against the tenant's
/// own idempotency keys: a key used only in another tenant is no duplicate.
async fn record(app: &TestApp, seed: u64, t: &mut Tenant, inputs: &[Value]) {
    let payload = app.record_read_back(&t.writer, json!(inputs)).await;
    let (mut created, mut duplicates) = (0, 0);
    for (i, input) in inputs.iter().enumerate() {
        let id = payload["events"][i]["id"].as_str().expect("id").to_string();
        let key = input["idempotencyKey"].as_str();
        assert_eq!(payload["events"][i]["idempotencyKey"].as_str(), key, "seed {seed}");
        match key.and_then(|k| t.idempotency.get(k)) {
            Some(stored) => {
                duplicates += 1;
                assert_eq!(stored, &id, "seed {seed}: {}: a duplicate returns the tenant's own event", t.slug);
            }
            None => {
                created += 1;
                assert!(t.recorded.insert(id.clone(), input.clone()).is_none(), "seed {seed}");
                if let Some(k) = key {
                    t.idempotency.insert(k.to_string(), id);
                }
            }
        }
    }
    assert_eq!(
        (payload["createdCount"].as_i64(), payload["duplicateCount"].as_i64()),
        (Some(created), Some(duplicates)),
        "seed {seed}: {}: idempotency keys are per tenant: {payload}",
        t.slug
    );
}

/// Loads the tenant's whole content through its reader key and checks it is
/// exactly what the tenant recorded plus its own self-audit events.
async fn load(app: &TestApp, seed: u64, t: &mut Tenant) {
    let data = app.data(&t.reader, LISTING, json!({})).await;
    let conn = &data["auditEvents"];
    assert_eq!(conn["pageInfo"]["hasNextPage"], false, "seed {seed}");
    let edges = conn["edges"].as_array().unwrap();
    assert_eq!(conn["totalCount"].as_u64(), Some(edges.len() as u64), "seed {seed}");
    let mut own_refs: HashSet<String> = t.key_ids.iter().cloned().collect();
    own_refs.insert(t.id.clone());
    let mut self_audit = Vec::new();
    for (i, edge) in edges.iter().enumerate() {
        let n = &edge["node"];
        let event = Event {
            id: n["id"].as_str().unwrap().to_string(),
            action: n["action"].as_str().unwrap().to_string(),
            at: DateTime::parse_from_rfc3339(n["occurredAt"].as_str().unwrap()).unwrap().with_timezone(&Utc),
            actor: entity(&n["actor"]),
            resource: (!n["resource"].is_null()).then(|| entity(&n["resource"])),
            related: n["relatedResources"].as_array().unwrap().iter().map(entity).collect(),
            correlation: n["correlationId"].as_str().map(String::from),
            idempotency: n["idempotencyKey"].as_str().map(String::from),
        };
        match t.recorded.get(&event.id) {
            Some(input) => {
                let what = format!("seed {seed}: {}: event {} as recorded", t.slug, event.id);
                assert_eq!(event.action, input["action"].as_str().unwrap(), "{what}");
                assert_eq!(event.actor.kind, input["actor"]["type"].as_str().unwrap(), "{what}");
                assert_eq!(event.actor.external_id, input["actor"]["externalId"].as_str().unwrap(), "{what}");
                let pair = |e: &Entity| (e.kind.clone(), e.external_id.clone());
                let input_pair = |v: &Value| {
                    (v["type"].as_str().unwrap().to_string(), v["externalId"].as_str().unwrap().to_string())
                };
                assert_eq!(event.resource.as_ref().map(pair), input.get("resource").map(input_pair), "{what}");
                let mut related: Vec<_> = event.related.iter().map(pair).collect();
                let mut sent: Vec<_> = input
                    .get("relatedResources")
                    .map(|r| r.as_array().unwrap().iter().map(input_pair).collect())
                    .unwrap_or_default();
                related.sort();
                sent.sort();
                assert_eq!(related, sent, "{what}");
                assert_eq!(event.correlation.as_deref(), input["correlationId"].as_str(), "{what}");
                assert_eq!(event.idempotency.as_deref(), input["idempotencyKey"].as_str(), "{what}");
            }
            None => {
                // The server's own audit trail of this tenant's setup.
                let target = event.resource.as_ref().map(|r| r.external_id.clone());
                assert!(
                    matches!(event.action.as_str(), "tenant.create" | "api_key.create")
                        && target.as_ref().is_some_and(|x| own_refs.contains(x)),
                    "seed {seed}: {} lists an event it did not record: {n}",
                    t.slug
                );
                self_audit.push(event.action.clone());
            }
        }
        t.event_cursors.push((edge["cursor"].as_str().unwrap().to_string(), i));
        t.events.push(event);
    }
    self_audit.sort();
    let mut expected = vec!["api_key.create"; t.key_ids.len()];
    expected.push("tenant.create");
    assert_eq!(self_audit, expected, "seed {seed}: {}", t.slug);
    assert_eq!(
        t.events.len(),
        t.recorded.len() + expected.len(),
        "seed {seed}: {}: every recorded event is listed",
        t.slug
    );
    assert!(t.events.windows(2).all(|w| w[0].key() > w[1].key()), "seed {seed}: {}: newest first, ties by ID", t.slug);
    // Idempotency keys are unique within the tenant, and all of them are there.
    let mut keys: Vec<&str> = t.events.iter().filter_map(|e| e.idempotency.as_deref()).collect();
    keys.sort();
    let unique: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(keys.len(), unique.len(), "seed {seed}: {}", t.slug);
    assert_eq!(unique, t.idempotency.keys().map(String::as_str).collect::<BTreeSet<_>>(), "seed {seed}: {}", t.slug);

    // Actors and resources: exactly those the tenant's events name.
    let referenced =
        |pick: &dyn Fn(&Event) -> Vec<Entity>| -> BTreeSet<Entity> { t.events.iter().flat_map(pick).collect() };
    let actors = referenced(&|e| vec![e.actor.clone()]);
    let resources = referenced(&|e| e.resource.iter().chain(&e.related).cloned().collect());
    for (name, expected, cursors, out) in [
        ("actors", actors, &mut t.actor_cursors, &mut t.actors),
        ("resources", resources, &mut t.resource_cursors, &mut t.resources),
    ] {
        let edges = data[name]["edges"].as_array().unwrap();
        let listed: Vec<Entity> = edges.iter().map(|e| entity(&e["node"])).collect();
        assert_eq!(
            listed.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "seed {seed}: {}: {name} are those its events name",
            t.slug
        );
        assert_eq!(data[name]["totalCount"].as_u64(), Some(listed.len() as u64), "seed {seed}");
        assert!(listed.windows(2).all(|w| w[0].id < w[1].id), "seed {seed}: {name} oldest first");
        *cursors = edges.iter().map(|e| e["cursor"].as_str().unwrap().to_string()).collect();
        *out = listed;
    }
}

/// A match on actors or resources, as the model evaluates it.
#[derive(Clone, Debug, Default)]
struct Match {
    ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    external_ids: Option<Vec<String>>,
}

impl Match {
    fn matches(&self, e: &Entity) -> bool {
        self.ids.as_ref().is_none_or(|l| l.contains(&e.id))
            && self.types.as_ref().is_none_or(|l| l.contains(&e.kind))
            && self.external_ids.as_ref().is_none_or(|l| l.contains(&e.external_id))
    }

    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (name, list) in [("id", &self.ids), ("type", &self.types), ("externalId", &self.external_ids)] {
            if let Some(list) = list {
                m.insert(name.into(), json!(list));
            }
        }
        Value::Object(m)
    }

    /// Random: external IDs and types from the shared pools, IDs mixing the
    /// tenant's own with other tenants' (sometimes only foreign ones).
    fn random(rng: &mut StdRng, types: &[&str], external: &[&str], own: &[String], foreign: &[String]) -> Match {
        let some = |rng: &mut StdRng, pool: &[&str]| -> Vec<String> {
            let n = rng.random_range(1..=pool.len().min(3));
            pool.choose_multiple(rng, n).map(|s| s.to_string()).collect()
        };
        let mut m = Match::default();
        match rng.random_range(0..4) {
            0 => m.external_ids = Some(some(rng, external)),
            1 => {
                m.external_ids = Some(some(rng, external));
                m.types = Some(some(rng, types));
            }
            2 => m.types = Some(some(rng, types)),
            _ => {}
        }
        if m.external_ids.is_none() && m.types.is_none() || rng.random_bool(0.3) {
            let n = rng.random_range(1..=foreign.len().clamp(1, 4));
            let mut ids: Vec<String> = foreign.choose_multiple(rng, n).cloned().collect();
            if rng.random_bool(0.6) {
                let n = rng.random_range(1..=own.len().clamp(1, 3));
                ids.extend(own.choose_multiple(rng, n).cloned());
            }
            ids.shuffle(rng);
            m.ids = Some(ids);
        }
        m
    }
}

#[derive(Clone, Debug)]
enum Filter {
    Actor(Match),
    Resource(Match),
    RelatedTo(Match),
    Correlation(String),
    Action(String),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    fn matches(&self, e: &Event) -> bool {
        match self {
            Filter::Actor(m) => m.matches(&e.actor),
            Filter::Resource(m) => e.resource.as_ref().is_some_and(|r| m.matches(r)),
            Filter::RelatedTo(m) => e.resource.iter().chain(&e.related).any(|r| m.matches(r)),
            Filter::Correlation(c) => e.correlation.as_ref() == Some(c),
            Filter::Action(a) => &e.action == a,
            Filter::And(items) => items.iter().all(|f| f.matches(e)),
            Filter::Or(items) => items.iter().any(|f| f.matches(e)),
            Filter::Not(f) => !f.matches(e),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Filter::Actor(m) => json!({ "actor": m.to_json() }),
            Filter::Resource(m) => json!({ "resource": m.to_json() }),
            Filter::RelatedTo(m) => json!({ "relatedTo": m.to_json() }),
            Filter::Correlation(c) => json!({ "correlationId": c }),
            Filter::Action(a) => json!({ "action": { "eq": a } }),
            Filter::And(items) => json!({ "and": items.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Or(items) => json!({ "or": items.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Not(f) => json!({ "not": f.to_json() }),
        }
    }

    fn random(rng: &mut StdRng, world: &World, me: usize, depth: usize) -> Filter {
        let t = &world.tenants[me];
        if depth < 3 && rng.random_bool(0.25) {
            let (kind, n) = (rng.random_range(0..3), rng.random_range(1..=2));
            let items: Vec<Filter> = (0..n).map(|_| Filter::random(rng, world, me, depth + 1)).collect();
            return match kind {
                0 => Filter::And(items),
                1 => Filter::Or(items),
                _ => Filter::Not(Box::new(items.into_iter().next().unwrap())),
            };
        }
        let own_actors: Vec<String> = t.actors.iter().map(|a| a.id.clone()).collect();
        let own_resources: Vec<String> = t.resources.iter().map(|r| r.id.clone()).collect();
        match rng.random_range(0..6) {
            0 => Filter::Actor(Match::random(rng, ACTOR_TYPES, ACTOR_IDS, &own_actors, &world.foreign(me, "act_"))),
            1 => Filter::Resource(Match::random(
                rng,
                RESOURCE_TYPES,
                RESOURCE_IDS,
                &own_resources,
                &world.foreign(me, "res_"),
            )),
            2 | 3 => Filter::RelatedTo(Match::random(
                rng,
                RESOURCE_TYPES,
                RESOURCE_IDS,
                &own_resources,
                &world.foreign(me, "res_"),
            )),
            4 => Filter::Correlation(CORRELATIONS.choose(rng).unwrap().to_string()),
            _ => Filter::Action(ACTIONS.choose(rng).unwrap().to_string()),
        }
    }
}

/// Builds four tenants with keys and random overlapping events.
async fn setup(app: &TestApp, seed: u64) -> (World, String) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tenants = Vec::new();
    for slug in SLUGS {
        let id = if slug == "acme" { app.tenant } else { app.create_tenant(slug).await };
        let reader = app.key_in(id, "audit.read").await;
        let writer = app.key_in(id, "audit.read,audit.write").await;
        let manager = app.key_in(id, "keys.manage,audit.read").await;
        tenants.push(Tenant {
            slug,
            id: id.to_string(),
            reader,
            writer,
            manager,
            key_ids: Vec::new(),
            recorded: HashMap::new(),
            idempotency: HashMap::new(),
            events: Vec::new(),
            event_cursors: Vec::new(),
            actors: Vec::new(),
            actor_cursors: Vec::new(),
            resources: Vec::new(),
            resource_cursors: Vec::new(),
        });
    }
    // An admin key, at home in acme.
    let admin = app.key("admin").await;
    for t in &mut tenants {
        let mut keys = vec![t.reader.clone(), t.writer.clone(), t.manager.clone()];
        if t.slug == "acme" {
            keys.push(admin.clone());
        }
        for key in keys {
            let data = app.data(&key, "{ viewer { apiKey { id } tenant { id } } }", json!({})).await;
            assert_eq!(data["viewer"]["tenant"]["id"], t.id.as_str());
            t.key_ids.push(data["viewer"]["apiKey"]["id"].as_str().unwrap().to_string());
        }
    }

    // The same idempotency key in every tenant: one event stored in each.
    for t in &mut tenants {
        let mut e = json!({ "action": "user.login", "actor": { "type": "USER", "externalId": "u-1" }, "correlationId": "corr-1" });
        e["idempotencyKey"] = json!("everywhere");
        record(app, seed, t, &[e.clone()]).await;
        record(app, seed, t, &[e]).await;
    }

    // Random events, recorded round-robin so shared keys alternate between tenants.
    let now = Utc::now() - Duration::seconds(5);
    let instants: Vec<DateTime<Utc>> =
        (0..6).map(|_| now - Duration::microseconds(rng.random_range(1..5 * 86_400 * 1_000_000))).collect();
    let mut pending: Vec<Vec<Value>> = tenants
        .iter()
        .map(|_| {
            let n = rng.random_range(30..=50);
            (0..n).map(|_| random_event(&mut rng, &instants, now)).collect()
        })
        .collect();
    while pending.iter().any(|p| !p.is_empty()) {
        for (t, inputs) in tenants.iter_mut().zip(&mut pending) {
            let n = rng.random_range(1..=12).min(inputs.len());
            if n > 0 {
                let batch: Vec<Value> = inputs.drain(..n).collect();
                record(app, seed, t, &batch).await;
            }
        }
    }

    for t in &mut tenants {
        load(app, seed, t).await;
    }
    // Every ID has exactly one owner, although the inputs overlapped.
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, t) in tenants.iter().enumerate() {
        let ids = t
            .events
            .iter()
            .map(|e| &e.id)
            .chain(t.actors.iter().map(|a| &a.id))
            .chain(t.resources.iter().map(|r| &r.id))
            .chain(&t.key_ids)
            .chain([&t.id]);
        for id in ids {
            if let Some(other) = owner.insert(id.clone(), i) {
                assert!(other == i, "seed {seed}: `{id}` is listed by both {} and {}", tenants[other].slug, t.slug);
            }
        }
    }
    // The overlap the test relies on happened.
    let shared_keys = IDEMPOTENCY_KEYS
        .iter()
        .filter(|k| tenants.iter().filter(|t| t.idempotency.contains_key(**k)).count() >= 2)
        .count();
    assert!(shared_keys >= 2, "seed {seed}: idempotency keys shared across tenants");
    for t in &tenants {
        assert!(t.actors.len() >= 4 && t.resources.len() >= 4, "seed {seed}");
    }
    (World { seed, tenants, owner }, admin)
}

async fn random_filters(app: &TestApp, world: &World, me: usize, rng: &mut StdRng) {
    let t = &world.tenants[me];
    let seed = world.seed;
    let (mut non_empty, mut strict) = (0, 0);
    for round in 0..FILTERS {
        let filter = Filter::random(rng, world, me, 1);
        let vars = json!({ "f": filter.to_json() });
        let expected: Vec<&str> = t.events.iter().filter(|e| filter.matches(e)).map(|e| e.id.as_str()).collect();
        non_empty += usize::from(!expected.is_empty());
        strict += usize::from(expected.len() < t.events.len());
        let what = format!("seed {seed}: {} filter {round}: {vars}", t.slug);
        let data = app.data(&t.reader, FILTERED, vars.clone()).await;
        world.assert_only_own(me, &what, &data);
        assert_eq!(ids_of(&data["auditEvents"]["nodes"]), expected, "{what}");
        assert_eq!(data["auditEvents"]["totalCount"].as_u64(), Some(expected.len() as u64), "{what}");

        // The same filter on the events of one of the tenant's actors or resources.
        let (id, expected): (&str, Vec<&str>) = if rng.random_bool(0.5) {
            let a = t.actors.choose(rng).unwrap();
            let e = t.events.iter().filter(|e| e.actor.id == a.id && filter.matches(e));
            (&a.id, e.map(|e| e.id.as_str()).collect())
        } else {
            let r = t.resources.choose(rng).unwrap();
            let e = t
                .events
                .iter()
                .filter(|e| e.resource.iter().chain(&e.related).any(|x| x.id == r.id) && filter.matches(e));
            (&r.id, e.map(|e| e.id.as_str()).collect())
        };
        let what = format!("{what} on the events of {id}");
        let data = app.data(&t.reader, NODE_EVENTS, json!({ "id": id, "f": filter.to_json() })).await;
        world.assert_only_own(me, &what, &data);
        assert_eq!(ids_of(&data["node"]["events"]["nodes"]), expected, "{what}");
        assert_eq!(data["node"]["events"]["totalCount"].as_u64(), Some(expected.len() as u64), "{what}");
    }
    // The filters discriminate: most select some events but not all.
    assert!(
        non_empty >= FILTERS / 2 && strict >= FILTERS / 2,
        "seed {seed}: {non_empty} non-empty, {strict} strict of {FILTERS}"
    );
}

/// Every own actor's and resource's events, and foreign IDs in every match.
async fn entities_and_forged_matches(app: &TestApp, world: &World, me: usize) {
    let t = &world.tenants[me];
    let seed = world.seed;
    let calls = t.actors.iter().chain(&t.resources).map(|x| async move {
        let data = app.data(&t.reader, NODE_EVENTS, json!({ "id": x.id })).await;
        (x, data)
    });
    for (x, data) in join_all(calls).await {
        let what = format!("seed {seed}: {}: events of {}", t.slug, x.id);
        world.assert_only_own(me, &what, &data);
        let expected: Vec<&str> = t
            .events
            .iter()
            .filter(|e| e.actor.id == x.id || e.resource.iter().chain(&e.related).any(|r| r.id == x.id))
            .map(|e| e.id.as_str())
            .collect();
        assert!(!expected.is_empty(), "{what}");
        assert_eq!(ids_of(&data["node"]["events"]["nodes"]), expected, "{what}");
        assert_eq!(data["node"]["events"]["totalCount"].as_u64(), Some(expected.len() as u64), "{what}");
    }

    // Other tenants' actor and resource IDs match nothing, anywhere.
    let (foreign_actors, foreign_resources) = (world.foreign(me, "act_"), world.foreign(me, "res_"));
    for filter in [
        json!({ "actor": { "id": foreign_actors } }),
        json!({ "resource": { "id": foreign_resources } }),
        json!({ "relatedTo": { "id": foreign_resources } }),
        json!({ "or": [{ "actor": { "id": foreign_actors } }, { "relatedTo": { "id": foreign_resources } }] }),
    ] {
        let what = format!("seed {seed}: {}: {filter}", t.slug);
        let data = app.data(&t.reader, FILTERED, json!({ "f": filter })).await;
        assert_eq!(data["auditEvents"]["totalCount"], 0, "{what}: {data}");
        assert_eq!(data["auditEvents"]["nodes"], json!([]), "{what}");
        for x in t.actors.iter().take(2).chain(t.resources.iter().take(2)) {
            let data = app.data(&t.reader, NODE_EVENTS, json!({ "id": x.id, "f": filter })).await;
            assert_eq!(data["node"]["events"]["totalCount"], 0, "{what} on {}", x.id);
            assert_eq!(data["node"]["events"]["nodes"], json!([]), "{what} on {}", x.id);
        }
    }
    let list_query = "query($a: ActorMatch, $r: ResourceMatch) {
        actors(filter: $a, first: 500) { totalCount nodes { id type externalId } }
        resources(filter: $r, first: 500) { totalCount nodes { id type externalId } } }";
    let own_actor_ids: Vec<&str> = t.actors.iter().map(|a| a.id.as_str()).collect();
    let own_resource_ids: Vec<&str> = t.resources.iter().map(|r| r.id.as_str()).collect();
    let mut mixed_actors: Vec<&str> = foreign_actors.iter().map(String::as_str).collect();
    mixed_actors.extend(&own_actor_ids);
    let mut mixed_resources: Vec<&str> = foreign_resources.iter().map(String::as_str).collect();
    mixed_resources.extend(&own_resource_ids);
    for (a, r, actors, resources) in [
        (json!({ "id": foreign_actors }), json!({ "id": foreign_resources }), Vec::new(), Vec::new()),
        (
            json!({ "id": mixed_actors }),
            json!({ "id": mixed_resources }),
            own_actor_ids.clone(),
            own_resource_ids.clone(),
        ),
        (
            json!({ "externalId": ACTOR_IDS, "type": ACTOR_TYPES }),
            json!({ "externalId": RESOURCE_IDS, "type": RESOURCE_TYPES }),
            t.actors.iter().filter(|a| ACTOR_IDS.contains(&a.external_id.as_str())).map(|a| a.id.as_str()).collect(),
            t.resources
                .iter()
                .filter(|r| RESOURCE_IDS.contains(&r.external_id.as_str()))
                .map(|r| r.id.as_str())
                .collect(),
        ),
    ] {
        let what = format!("seed {seed}: {}: actors {a} resources {r}", t.slug);
        let data = app.data(&t.reader, list_query, json!({ "a": a, "r": r })).await;
        world.assert_only_own(me, &what, &data);
        assert_eq!(ids_of(&data["actors"]["nodes"]), actors, "{what}");
        assert_eq!(data["actors"]["totalCount"].as_u64(), Some(actors.len() as u64), "{what}");
        assert_eq!(ids_of(&data["resources"]["nodes"]), resources, "{what}");
        assert_eq!(data["resources"]["totalCount"].as_u64(), Some(resources.len() as u64), "{what}");
    }
}

/// `node`, `nodes` and `auditEvent` with every ID of every other tenant.
async fn forged_lookups(app: &TestApp, world: &World, me: usize, rng: &mut StdRng) {
    let t = &world.tenants[me];
    let seed = world.seed;
    let mut foreign: Vec<String> =
        ["evt_", "act_", "res_", "key_", "ten_"].iter().flat_map(|k| world.foreign(me, k)).collect();
    foreign.shuffle(rng);
    assert!(foreign.len() > 100, "seed {seed}");

    // Aliased single lookups (at most 100 aliases a query), by the keys.manage key.
    for chunk in foreign.chunks(45) {
        let mut query = String::from("{");
        for (i, id) in chunk.iter().enumerate() {
            query.push_str(&format!(" n{i}: node(id: \"{id}\") {{ id __typename }}"));
            if id.starts_with("evt_") {
                query.push_str(&format!(" e{i}: auditEvent(id: \"{id}\") {{ id action }}"));
            }
        }
        query.push_str(" }");
        let data = app.data(&t.manager, &query, json!({})).await;
        for (alias, value) in data.as_object().unwrap() {
            assert!(value.is_null(), "seed {seed}: {} resolves a foreign ID ({alias}): {value}", t.slug);
        }
    }

    // `nodes` with own and foreign IDs interleaved: own ones resolve in place.
    let own: Vec<String> = t
        .events
        .iter()
        .map(|e| e.id.clone())
        .chain(t.actors.iter().map(|a| a.id.clone()))
        .chain(t.resources.iter().map(|r| r.id.clone()))
        .chain(t.key_ids.iter().cloned())
        .chain([t.id.clone()])
        .collect();
    let mut mixed: Vec<(String, bool)> =
        own.iter().map(|id| (id.clone(), true)).chain(foreign.iter().map(|id| (id.clone(), false))).collect();
    mixed.shuffle(rng);
    for chunk in mixed.chunks(400) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let data = app
            .data(&t.manager, "query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }", json!({ "ids": ids }))
            .await;
        let nodes = data["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), chunk.len(), "seed {seed}");
        for ((id, mine), node) in chunk.iter().zip(nodes) {
            if *mine {
                assert_eq!(node["id"], id.as_str(), "seed {seed}: {}: own {id}", t.slug);
            } else {
                assert!(node.is_null(), "seed {seed}: {}: foreign {id}: {node}", t.slug);
            }
        }
    }
    // The reader key sees its own events through auditEvent too.
    for e in t.events.choose_multiple(rng, 5) {
        let data = app.data(&t.reader, "query($id: ID!) { auditEvent(id: $id) { id } }", json!({ "id": e.id })).await;
        assert_eq!(data["auditEvent"]["id"], e.id.as_str(), "seed {seed}");
    }
}

/// Cursors of other tenants are positions only: they page through the
/// tenant's own data from that position and reveal nothing else.
async fn foreign_cursors(app: &TestApp, world: &World, me: usize, rng: &mut StdRng) {
    let t = &world.tenants[me];
    let seed = world.seed;
    for (other_index, other) in world.tenants.iter().enumerate() {
        if other_index == me {
            continue;
        }
        for (cursor, i) in other.event_cursors.choose_multiple(rng, 3) {
            let pos = other.events[*i].key();
            let what = format!("seed {seed}: {} with a cursor of {} ({})", t.slug, other.slug, other.events[*i].id);
            let older: Vec<&str> = t.events.iter().filter(|e| e.key() < pos).map(|e| e.id.as_str()).collect();
            let newer: Vec<&str> = t.events.iter().filter(|e| e.key() > pos).map(|e| e.id.as_str()).collect();
            for (args, expected) in [("first: 500, after: $c", &older), ("last: 500, before: $c", &newer)] {
                let query = format!(
                    "query($c: String) {{ auditEvents({args}) {{ totalCount nodes {{ id actor {{ id }} }} }} }}"
                );
                let data = app.data(&t.reader, &query, json!({ "c": cursor })).await;
                world.assert_only_own(me, &what, &data);
                assert_eq!(&ids_of(&data["auditEvents"]["nodes"]), expected, "{what} ({args})");
                assert_eq!(data["auditEvents"]["totalCount"].as_u64(), Some(t.events.len() as u64), "{what}");
            }
            // Through an own actor's events as well.
            let actor = t.actors.choose(rng).unwrap();
            let expected: Vec<&str> =
                t.events.iter().filter(|e| e.actor.id == actor.id && e.key() < pos).map(|e| e.id.as_str()).collect();
            let data = app.data(&t.reader, NODE_EVENTS, json!({ "id": actor.id, "after": cursor })).await;
            world.assert_only_own(me, &what, &data);
            assert_eq!(ids_of(&data["node"]["events"]["nodes"]), expected, "{what} on {}", actor.id);
        }
        for (field, cursors, theirs, mine) in [
            ("actors", &other.actor_cursors, &other.actors, &t.actors),
            ("resources", &other.resource_cursors, &other.resources, &t.resources),
        ] {
            for i in (0..cursors.len()).collect::<Vec<_>>().choose_multiple(rng, 2) {
                let pos = &theirs[*i].id[4..];
                let what = format!("seed {seed}: {} {field} after a cursor of {}", t.slug, other.slug);
                let after: Vec<&str> = mine.iter().filter(|x| &x.id[4..] > pos).map(|x| x.id.as_str()).collect();
                let before: Vec<&str> = mine.iter().filter(|x| &x.id[4..] < pos).map(|x| x.id.as_str()).collect();
                let query = format!(
                    "query($c: String) {{ a: {field}(first: 500, after: $c) {{ totalCount nodes {{ id }} }}
                        b: {field}(last: 500, before: $c) {{ totalCount nodes {{ id }} }} }}"
                );
                let data = app.data(&t.reader, &query, json!({ "c": cursors[*i] })).await;
                world.assert_only_own(me, &what, &data);
                assert_eq!(ids_of(&data["a"]["nodes"]), after, "{what}");
                assert_eq!(ids_of(&data["b"]["nodes"]), before, "{what}");
                assert_eq!(data["a"]["totalCount"].as_u64(), Some(mine.len() as u64), "{what}");
            }
        }
    }
}

/// `X-Audit-Tenant` naming another tenant: refused for every non-admin key.
async fn tenant_header(app: &TestApp, world: &World, me: usize) {
    let t = &world.tenants[me];
    let seed = world.seed;
    let query = "{ viewer { tenant { id slug } } auditEvents(first: 500) { totalCount nodes { id } }
        actors { nodes { id } } resources { nodes { id } } }";
    let record = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount events { id } } }";
    for other in world.tenants.iter().filter(|o| o.slug != t.slug) {
        for key in [&t.reader, &t.writer, &t.manager] {
            let bearer = format!("Bearer {key}");
            for headers in [
                [("Authorization", bearer.as_str()), ("X-Audit-Tenant", other.slug)],
                [("X-API-Key", key.as_str()), ("X-Audit-Tenant", other.slug)],
            ] {
                for (q, vars) in [
                    (query, json!({})),
                    (
                        record,
                        json!({ "e": [{ "action": "user.login", "actor": { "type": "USER", "externalId": "u-1" } }] }),
                    ),
                ] {
                    let (status, body) = app.post_graphql(&headers, q, vars).await;
                    let what = format!("seed {seed}: {} key naming {}: {body}", t.slug, other.slug);
                    assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{what}");
                    assert!(body["data"].is_null(), "{what}");
                    let mut ids = Vec::new();
                    global_ids(&body, &mut ids);
                    assert!(ids.is_empty(), "{what}");
                    assert!(!body.to_string().contains(&other.id), "{what}");
                }
            }
        }
    }
}

/// An admin key acting in a tenant through `X-Audit-Tenant` sees exactly it.
async fn admin_in_each_tenant(app: &TestApp, world: &World, admin: &str) {
    let seed = world.seed;
    let bearer = format!("Bearer {admin}");
    let acme_events: Vec<&str> = world.tenants[0].events.iter().map(|e| e.id.as_str()).collect();
    for (me, t) in world.tenants.iter().enumerate() {
        let headers = [("Authorization", bearer.as_str()), ("X-Audit-Tenant", t.slug)];
        let (status, body) = app
            .post_graphql(
                &headers,
                "{ viewer { tenant { id } } auditEvents(first: 500) { totalCount nodes { id } }
              actors(first: 500) { totalCount nodes { id } } resources(first: 500) { totalCount nodes { id } } }",
                json!({}),
            )
            .await;
        let what = format!("seed {seed}: admin in {}: {body}", t.slug);
        assert_eq!(status, StatusCode::OK, "{what}");
        assert!(body.get("errors").is_none(), "{what}");
        let data = &body["data"];
        world.assert_only_own(me, "the admin's view", data);
        assert_eq!(data["viewer"]["tenant"]["id"], t.id.as_str(), "{what}");
        let events: Vec<&str> = t.events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids_of(&data["auditEvents"]["nodes"]), events, "{what}");
        assert_eq!(data["auditEvents"]["totalCount"].as_u64(), Some(events.len() as u64), "{what}");
        let actors: Vec<&str> = t.actors.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids_of(&data["actors"]["nodes"]), actors, "{what}");
        let resources: Vec<&str> = t.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids_of(&data["resources"]["nodes"]), resources, "{what}");
        // The admin's home tenant does not exist from there.
        if me != 0 {
            let (status, body) = app
                .post_graphql(
                    &headers,
                    "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                    json!({ "ids": acme_events }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(
                body["data"]["nodes"].as_array().unwrap().iter().all(Value::is_null),
                "seed {seed}: admin in {} resolves acme's events: {body}",
                t.slug
            );
        }
    }
}

/// Revoking another tenant's key is `NOT_FOUND`, and the key still works.
async fn revoke_across_tenants(app: &TestApp, world: &World, me: usize) {
    let t = &world.tenants[me];
    let seed = world.seed;
    for other in world.tenants.iter().filter(|o| o.slug != t.slug) {
        for key_id in &other.key_ids {
            let (status, body) = app
                .gql(
                    &t.manager,
                    "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }",
                    json!({ "id": key_id }),
                )
                .await;
            let what = format!("seed {seed}: {} revokes {}'s {key_id}: {body}", t.slug, other.slug);
            assert_eq!(status, StatusCode::OK, "{what}");
            assert_eq!(error_code(&body), Some("NOT_FOUND"), "{what}");
            assert!(body["data"].is_null(), "{what}");
        }
        let data = app.data(&other.reader, COUNTS, json!({})).await;
        assert_eq!(
            data["auditEvents"]["totalCount"].as_u64(),
            Some(other.events.len() as u64),
            "seed {seed}: {}'s key still works",
            other.slug
        );
    }
}

async fn tenants_see_only_their_own(backend: Backend) {
    let seed = std::env::var(SEED_VAR).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(DEFAULT_SEED);
    eprintln!("isolation seed {seed} ({SEED_VAR} replays another)");
    let app = TestApp::spawn(backend).await;
    let (world, admin) = setup(&app, seed).await;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    for me in 0..world.tenants.len() {
        random_filters(&app, &world, me, &mut rng).await;
        entities_and_forged_matches(&app, &world, me).await;
        forged_lookups(&app, &world, me, &mut rng).await;
        foreign_cursors(&app, &world, me, &mut rng).await;
        tenant_header(&app, &world, me).await;
        revoke_across_tenants(&app, &world, me).await;
    }
    admin_in_each_tenant(&app, &world, &admin).await;
    // Nothing was stored or revoked by any refused request: every tenant still
    // holds exactly what it had, and every key still works.
    for t in &world.tenants {
        for key in [&t.reader, &t.writer, &t.manager] {
            let data = app.data(key, COUNTS, json!({})).await;
            assert_eq!(
                (
                    data["auditEvents"]["totalCount"].as_u64(),
                    data["actors"]["totalCount"].as_u64(),
                    data["resources"]["totalCount"].as_u64()
                ),
                (Some(t.events.len() as u64), Some(t.actors.len() as u64), Some(t.resources.len() as u64)),
                "seed {seed}: {} at the end",
                t.slug
            );
        }
    }
}

backend_tests!(tenants_see_only_their_own);
