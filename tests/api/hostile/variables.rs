//! Variables of the wrong type, missing or extra.

use super::*;

/// Variables of the wrong type, missing or extra.
pub(super) fn variable_cases(c: &mut Corpus) {
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
