//! Keys and headers.

use super::*;

/// Keys and headers.
pub(super) fn auth_cases(c: &mut Corpus) {
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
