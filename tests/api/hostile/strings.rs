//! A NUL character in every string input, and 1 MB strings.

use super::*;

/// A NUL character in every string input, and 1 MB strings.
pub(super) fn string_cases(c: &mut Corpus) {
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
