//! Deep and huge filters, batch overflow, page sizes, enums, limits, GET.

use super::*;

/// Deep and huge filters, batch overflow, page sizes, enums, limits, GET.
pub(super) fn shape_cases(c: &mut Corpus, s: &Seeded) {
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
