//! The read API's fine points: page sizes, cursors, ties, microsecond order,
//! paging while events arrive, node lookups, nested connections, and the fixed
//! number of SQL statements a page costs.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};

const PAGE: &str = "query($f: AuditEventFilter, $o: AuditEventOrder, $first: Int, $after: String, $last: Int, $before: String) {
    auditEvents(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
        totalCount edges { cursor node { id occurredAt } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn at(action: &str, occurred_at: &str) -> Value {
    let mut e = event(action);
    e["occurredAt"] = json!(occurred_at);
    e
}

fn ids(page: &Value) -> Vec<String> {
    page["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

async fn page_size_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!((0..3).map(|i| event(&format!("a.b{i}"))).collect::<Vec<_>>())).await;
    for (vars, field) in [
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "first": -1 }), "first"),
        (json!({ "last": -5 }), "last"),
        (json!({ "first": 501 }), "first"),
        (json!({ "last": 501 }), "last"),
    ] {
        let (status, body) = app.gql(&key, PAGE, vars.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{vars}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let zero = app.data(&key, PAGE, json!({ "first": 0 })).await;
    assert_eq!(zero["auditEvents"]["edges"], json!([]));
    assert_eq!(zero["auditEvents"]["totalCount"], 5, "3 recorded + tenant.create + api_key.create");
    assert_eq!(zero["auditEvents"]["pageInfo"]["hasNextPage"], true);
    let default = app.data(&key, PAGE, json!({})).await;
    assert_eq!(ids(&default).len(), 5);
    assert_eq!(app.data(&key, PAGE, json!({ "first": 500 })).await["auditEvents"]["totalCount"], 5);
}

async fn cursors_are_bound_to_their_ordering(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("a.b"), event("a.c")])).await;
    let page = app.data(&key, PAGE, json!({ "first": 1 })).await;
    let cursor = page["auditEvents"]["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let actors = app.data(&key, "{ actors(first: 1) { pageInfo { endCursor } } }", json!({})).await;
    let actor_cursor = actors["actors"]["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    for (vars, what) in [
        (json!({ "after": "" }), "empty cursor"),
        (json!({ "after": "not-a-cursor!" }), "garbage"),
        (json!({ "after": "AAAA" }), "base64 of nothing useful"),
        (json!({ "before": format!("{cursor}x") }), "tampered"),
        (json!({ "after": cursor, "o": { "field": "RECEIVED_AT" } }), "another field"),
        (json!({ "after": cursor, "o": { "direction": "ASC" } }), "another direction"),
        (json!({ "after": actor_cursor }), "an actor's cursor"),
    ] {
        let (_, body) = app.gql(&key, PAGE, vars).await;
        assert_eq!(error_code(&body), Some("BAD_CURSOR"), "{what}: {body}");
    }
    let (_, body) =
        app.gql(&key, "query($c: String) { actors(after: $c) { totalCount } }", json!({ "c": cursor })).await;
    assert_eq!(error_code(&body), Some("BAD_CURSOR"));
    // The same cursor with its own ordering works.
    let next = app.data(&key, PAGE, json!({ "first": 1, "after": cursor })).await;
    assert_eq!(ids(&next).len(), 1);
}

async fn ties_and_microseconds_order_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let same = "2026-05-01T10:00:00.000001Z";
    let mut batch: Vec<Value> = (0..5).map(|i| at(&format!("tie.e{i}"), same)).collect();
    batch.push(at("micro.before", "2026-05-01T10:00:00Z"));
    batch.push(at("micro.after", "2026-05-01T10:00:00.000002Z"));
    batch.push(at("micro.offset", "2026-05-01T12:00:00.000003+02:00"));
    let payload = app.record(&key, json!(batch)).await;
    let recorded: Vec<String> =
        payload["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    let filter = json!({ "occurredAt": { "gte": "2026-05-01T09:00:00Z", "lt": "2026-05-02T00:00:00Z" } });
    // Ties break on the ID in the direction of the order (IDs grow in recording order).
    let asc = app.data(&key, PAGE, json!({ "f": filter, "o": { "direction": "ASC" }, "first": 50 })).await;
    let want_asc = vec![
        recorded[5].clone(),
        recorded[0].clone(),
        recorded[1].clone(),
        recorded[2].clone(),
        recorded[3].clone(),
        recorded[4].clone(),
        recorded[6].clone(),
        recorded[7].clone(),
    ];
    assert_eq!(ids(&asc), want_asc);
    assert_eq!(asc["auditEvents"]["edges"][7]["node"]["occurredAt"], "2026-05-01T10:00:00.000003Z");
    // Walking DESC two at a time sees each exactly once, in reverse.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app.data(&key, PAGE, json!({ "f": filter, "first": 2, "after": after })).await;
        seen.extend(ids(&page));
        if page["auditEvents"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["auditEvents"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    let mut want_desc = want_asc.clone();
    want_desc.reverse();
    assert_eq!(seen, want_desc);
    // Range bounds are exact to the microsecond.
    let exact = app
        .data(
            &key,
            PAGE,
            json!({ "f": { "occurredAt": { "gt": "2026-05-01T10:00:00Z", "lte": "2026-05-01T10:00:00.000001Z" } } }),
        )
        .await;
    assert_eq!(exact["auditEvents"]["totalCount"], 5);
}

async fn paging_while_events_arrive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let initial: Vec<Value> =
        (0..60).map(|i| at("walk.step", &format!("2026-06-01T00:{:02}:{:02}Z", i / 60, i % 60))).collect();
    let stored = app.record(&key, json!(initial)).await;
    let want: HashSet<String> =
        stored["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    let filter = json!({ "action": { "eq": "walk.step" } });
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut last_time = String::from("9999");
    for round in 0.. {
        let page = app.data(&key, PAGE, json!({ "f": filter, "first": 7, "after": after })).await;
        for edge in page["auditEvents"]["edges"].as_array().unwrap() {
            let t = edge["node"]["occurredAt"].as_str().unwrap().to_string();
            assert!(t <= last_time, "newest first, also across pages");
            last_time = t;
            seen.push(edge["node"]["id"].as_str().unwrap().to_string());
        }
        // New events land before, inside and after the part already walked.
        let arriving: Vec<Value> =
            (0..3).map(|j| at("walk.step", &format!("2026-06-01T00:00:{:02}Z", (round * 17 + j * 23) % 60))).collect();
        app.record(&key, json!(arriving)).await;
        if page["auditEvents"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["auditEvents"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    assert!(want.iter().all(|id| unique.contains(id)), "every event that existed when the walk began was seen");
}

async fn nodes_resolve_in_the_tenant_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write,keys.manage").await;
    let mut e = event("node.test");
    e["resource"] = json!({ "type": "doc", "externalId": "d1" });
    let payload = app.record(&key, json!([e])).await;
    let event_id = payload["events"][0]["id"].as_str().unwrap().to_string();
    let ids_query = "query($id: ID!) { auditEvent(id: $id) { id actor { id } resource { id } } }";
    let ev = app.data(&key, ids_query, json!({ "id": event_id })).await["auditEvent"].clone();
    let (actor, resource) = (ev["actor"]["id"].as_str().unwrap(), ev["resource"]["id"].as_str().unwrap());
    let viewer = app.data(&key, "{ viewer { tenant { id } apiKey { id } } }", json!({})).await;
    let (tenant, api_key) =
        (viewer["viewer"]["tenant"]["id"].as_str().unwrap(), viewer["viewer"]["apiKey"]["id"].as_str().unwrap());
    let all = app
        .data(
            &key,
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": [event_id, actor, resource, tenant, api_key, event_id] }),
        )
        .await;
    let types: Vec<&str> = all["nodes"].as_array().unwrap().iter().map(|n| n["__typename"].as_str().unwrap()).collect();
    assert_eq!(types, ["AuditEvent", "Actor", "Resource", "Tenant", "ApiKey", "AuditEvent"]);
    let one = app
        .data(&key, "query($id: ID!) { node(id: $id) { id ... on Actor { externalId } } }", json!({ "id": actor }))
        .await;
    assert_eq!(one["node"]["externalId"], "u-1");

    // Another tenant's IDs do not exist here; malformed IDs are refused.
    let other = app.create_tenant("globex").await;
    let other_key = app.key_in(other, "audit.read,audit.write").await;
    let foreign = app.record(&other_key, json!([event("x.y")])).await["events"][0]["id"].clone();
    let missing = app
        .data(
            &key,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [foreign, "evt_00000000000000000000000000000000"] }),
        )
        .await;
    assert_eq!(missing["nodes"], json!([null, null]));
    assert_eq!(
        app.data(&key, "query($id: ID!) { auditEvent(id: $id) { id } }", json!({ "id": foreign })).await["auditEvent"],
        Value::Null
    );
    for bad in ["", "evt_", "evt_xyz", "usr_0192f3a0b1c27d3e8f9a0b1c2d3e4f50", "EVT_0192F3A0B1C27D3E8F9A0B1C2D3E4F50"] {
        let (_, body) = app.gql(&key, "query($id: ID!) { node(id: $id) { id } }", json!({ "id": bad })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{bad}");
    }
}

async fn actor_and_resource_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let ada = json!({ "type": "USER", "externalId": "ada" });
    let bob = json!({ "type": "USER", "externalId": "bob" });
    let vm = json!({ "type": "vm", "externalId": "vm-1" });
    app.record(&key, json!([
        { "action": "vm.start", "actor": ada, "resource": vm },
        { "action": "session.exec", "actor": bob, "resource": { "type": "session", "externalId": "s1" }, "relatedResources": [vm] },
        { "action": "session.exec", "actor": ada, "resource": { "type": "session", "externalId": "s2" } },
        { "action": "vm.stop", "actor": bob, "outcome": "FAILURE", "resource": vm },
    ])).await;
    let data = app
        .data(&key, r#"{
            actors(first: 5, filter: {externalId: ["ada"]}) { totalCount nodes { externalId events { totalCount nodes { action } } } }
            resources(first: 5, filter: {type: ["vm"]}) { nodes { externalId
                all: events { totalCount nodes { action } }
                failed: events(filter: {outcome: FAILURE}) { nodes { action } }
                oldest: events(first: 1, orderBy: {direction: ASC}) { nodes { action } pageInfo { hasNextPage } } } } }"#, json!({}))
        .await;
    assert_eq!(data["actors"]["totalCount"], 1);
    assert_eq!(data["actors"]["nodes"][0]["events"]["totalCount"], 2);
    let vm = &data["resources"]["nodes"][0];
    assert_eq!(vm["all"]["totalCount"], 3, "primary or related");
    assert_eq!(
        vm["all"]["nodes"],
        json!([{ "action": "vm.stop" }, { "action": "session.exec" }, { "action": "vm.start" }])
    );
    assert_eq!(vm["failed"]["nodes"], json!([{ "action": "vm.stop" }]));
    assert_eq!(vm["oldest"], json!({ "nodes": [{ "action": "vm.start" }], "pageInfo": { "hasNextPage": true } }));
    // Actors and resources page with cursors too.
    let first = app
        .data(&key, "{ resources(first: 2) { nodes { externalId } pageInfo { endCursor hasNextPage } } }", json!({}))
        .await;
    let cursor = first["resources"]["pageInfo"]["endCursor"].clone();
    let rest = app.data(&key, "query($c: String) { resources(first: 10, after: $c) { nodes { externalId } pageInfo { hasNextPage hasPreviousPage } } }", json!({ "c": cursor })).await;
    let seen =
        first["resources"]["nodes"].as_array().unwrap().len() + rest["resources"]["nodes"].as_array().unwrap().len();
    assert_eq!(seen, 5, "vm-1, s1, s2, and the tenant and API key of the setup's events");
    assert_eq!(rest["resources"]["pageInfo"], json!({ "hasNextPage": false, "hasPreviousPage": true }));
}

async fn pages_fetch_what_fragments_and_aliases_select(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("wide.event");
    e["metadata"] = json!({ "k": [1, 2] });
    e["changes"] = json!([{ "field": "f", "before": 1, "after": 2 }]);
    e["summary"] = json!("a summary");
    e["reason"] = json!("a reason");
    app.record(&key, json!([e])).await;
    let want =
        json!({ "meta": { "k": [1, 2] }, "changes": [{ "field": "f" }], "about": "a summary", "reason": "a reason" });
    let via_fragment = app
        .data(&key, r#"{ auditEvents(filter: {action: {eq: "wide.event"}}) { nodes { ...Wide } } }
            fragment Wide on AuditEvent { meta: metadata changes { field } about: summary ... on AuditEvent { reason } }"#, json!({}))
        .await;
    assert_eq!(via_fragment["auditEvents"]["nodes"][0], want);
    let via_edges = app
        .data(&key, r#"{ auditEvents(filter: {action: {eq: "wide.event"}}) { edges { node { meta: metadata changes { field } about: summary reason } } } }"#, json!({}))
        .await;
    assert_eq!(via_edges["auditEvents"]["edges"][0]["node"], want);
}

/// SQL statements one request costs.
async fn statements_for(app: &TestApp, key: &str, query: &str, vars: Value) -> u64 {
    let before = app.statements();
    app.data(key, query, vars).await;
    app.statements() - before
}

async fn a_page_costs_a_fixed_number_of_statements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for chunk in 0..3 {
        let batch: Vec<Value> = (0..200)
            .map(|i| {
                json!({
                    "action": "load.test",
                    "actor": { "type": "USER", "externalId": format!("u{}", (chunk * 200 + i) % 97) },
                    "resource": { "type": "doc", "externalId": format!("d{i}") },
                    "relatedResources": [{ "type": "vm", "externalId": format!("vm{}", i % 13) }, { "type": "session", "externalId": format!("s{i}") }],
                })
            })
            .collect();
        app.record(&key, json!(batch)).await;
    }
    // Warm the key cache (and let its last-used update land) before counting.
    app.data(&key, "{ viewer { scopes } }", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let bare = "query($n: Int) { auditEvents(first: $n) { edges { node { id action } } } }";
    let full =
        "query($n: Int) { auditEvents(first: $n) { totalCount pageInfo { endCursor } edges { cursor node { id action
        actor { id displayName } resource { id name } relatedResources { id type } } } } }";
    // Actors and primary resources are joined to the page's own statement.
    let joined = "query($n: Int) { auditEvents(first: $n) { pageInfo { endCursor } edges { cursor node { id action
        actor { id displayName } resource { id name } } } } }";
    for n in [1, 500] {
        assert_eq!(statements_for(&app, &key, bare, json!({ "n": n })).await, 1, "bare page of {n}");
        assert_eq!(
            statements_for(&app, &key, joined, json!({ "n": n })).await,
            1,
            "page of {n} with actors, resources"
        );
        // The related resources' links bring the primary ones: page, links, count.
        assert_eq!(
            statements_for(&app, &key, full, json!({ "n": n })).await,
            3,
            "page of {n} with actors, resources and totalCount"
        );
    }
}

/// Pages that join actors and resources to their statement keep the order,
/// the page bounds and each event's own actor and resource, in every direction.
async fn joined_pages_match_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let events: Vec<Value> = (0..7)
        .map(|i| {
            let mut e = json!({
                "action": format!("join.e{i}"),
                "occurredAt": format!("2026-01-0{}T00:00:00Z", 7 - i % 3),
                "actor": { "type": "USER", "externalId": format!("u{}", i % 2), "displayName": format!("User {}", i % 2) },
            });
            if i % 3 != 0 {
                e["resource"] = json!({ "type": "doc", "externalId": format!("d{i}"), "name": format!("Doc {i}") });
            }
            e
        })
        .collect();
    app.record(&key, json!(events)).await;
    let expected = |node: &Value| {
        let i: usize = node["action"].as_str().unwrap().trim_start_matches("join.e").parse().unwrap();
        let resource = if i % 3 != 0 { json!({ "name": format!("Doc {i}") }) } else { Value::Null };
        json!({ "action": node["action"], "actor": { "displayName": format!("User {}", i % 2) }, "resource": resource })
    };
    let filter = r#"filter: {action: {prefix: "join."}}"#;
    for args in [
        "first: 7",
        "first: 3",
        "last: 3",
        "first: 4, orderBy: {field: SEQUENCE, direction: ASC}",
        "last: 2, orderBy: {direction: ASC}",
    ] {
        let bare = app
            .data(&key, &format!("{{ auditEvents({filter}, {args}) {{ pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ action }} }} }}"), json!({}))
            .await;
        let joined = app
            .data(&key, &format!("{{ auditEvents({filter}, {args}) {{ pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ action actor {{ displayName }} resource {{ name }} }} }} }}"), json!({}))
            .await;
        assert_eq!(joined["auditEvents"]["pageInfo"], bare["auditEvents"]["pageInfo"], "{args}");
        let nodes = joined["auditEvents"]["nodes"].as_array().unwrap();
        let order: Vec<&Value> = nodes.iter().map(|n| &n["action"]).collect();
        let bare_order: Vec<&Value> =
            bare["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| &n["action"]).collect();
        assert_eq!(order, bare_order, "{args}");
        assert!(!nodes.is_empty(), "{args}");
        for node in nodes {
            assert_eq!(node, &expected(node), "{args}");
        }
    }
}

backend_tests!(
    joined_pages_match_their_events,
    page_size_rules,
    cursors_are_bound_to_their_ordering,
    ties_and_microseconds_order_exactly,
    paging_while_events_arrive,
    nodes_resolve_in_the_tenant_only,
    actor_and_resource_events,
    a_page_costs_a_fixed_number_of_statements,
    pages_fetch_what_fragments_and_aliases_select,
);
