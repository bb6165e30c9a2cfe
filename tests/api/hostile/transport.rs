//! Invalid JSON bodies, wrong top-level types, media types.

use super::*;

/// Invalid JSON bodies, wrong top-level types, media types.
pub(super) fn transport_cases(c: &mut Corpus) {
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
