//! Invalid dates and time zones, in filters and events.

use super::*;

/// Invalid dates and time zones, in filters and events.
pub(super) fn date_cases(c: &mut Corpus) {
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
        &rfc3339(Utc::now() + Duration::days(1)),
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
