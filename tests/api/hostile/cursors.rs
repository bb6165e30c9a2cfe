//! Garbage, truncated, cross-kind and cross-ordering cursors on every entry point.

use super::*;

/// Garbage, truncated, cross-kind and cross-ordering cursors on every entry point.
pub(super) fn cursor_cases(c: &mut Corpus, s: &Seeded, rng: &mut StdRng) {
    use OrderField::{OccurredAt, ReceivedAt};
    use SortDirection::{Asc, Desc};
    let entries: Vec<(String, Kind)> = vec![
        ("{ auditEvents(after: $c) { totalCount nodes { id } } }".into(), Kind::Event(OccurredAt, Desc)),
        (
            "{ auditEvents(last: 3, before: $c, orderBy: {direction: ASC}) { totalCount nodes { id } } }".into(),
            Kind::Event(OccurredAt, Asc),
        ),
        (
            "{ auditEvents(first: 3, after: $c, orderBy: {field: RECEIVED_AT, direction: ASC}) { totalCount } }".into(),
            Kind::Event(ReceivedAt, Asc),
        ),
        ("{ actors(after: $c) { totalCount nodes { id } } }".into(), Kind::Actor),
        ("{ resources(last: 2, before: $c) { totalCount nodes { id } } }".into(), Kind::Resource),
        (
            format!(
                "{{ node(id: \"{}\") {{ ... on Actor {{ events(after: $c) {{ totalCount nodes {{ id }} }} }} }} }}",
                s.actor_id
            ),
            Kind::Event(OccurredAt, Desc),
        ),
        (
            format!(
                "{{ node(id: \"{}\") {{ ... on Resource {{ events(before: $c, orderBy: {{field: RECEIVED_AT}}) {{ totalCount }} }} }} }}",
                s.resource_id
            ),
            Kind::Event(ReceivedAt, Desc),
        ),
    ];
    let query = |body: &str| format!("query($c: String) {body}");

    // Garbage: nothing of ours.
    let mut garbage: Vec<String> = [
        "",
        " ",
        "null",
        "!!!",
        "AQ",
        "AQE",
        "====",
        "AAAA",
        "a",
        "ƒøø",
        "%00",
        "\u{0}",
        "AQ\u{0}",
        "../../etc/passwd",
        "AQEAAQ==",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for len in [1, 2, 3, 16, 17, 18, 27, 28, 29, 40] {
        let mut bytes = vec![0u8; len];
        rng.fill_bytes(&mut bytes);
        garbage.push(URL_SAFE_NO_PAD.encode(&bytes));
    }
    // Our format, but not a valid record: wrong version, tag, field, direction, time.
    let event_bytes = |version: u8, tag: u8, field: u8, dir: u8, micros: i64| {
        let mut b = vec![version, tag, field, dir];
        b.extend_from_slice(&micros.to_be_bytes());
        b.extend_from_slice(Uuid::now_v7().as_bytes());
        URL_SAFE_NO_PAD.encode(b)
    };
    garbage.push(event_bytes(2, 1, 0, 1, 0));
    garbage.push(event_bytes(0, 1, 0, 1, 0));
    garbage.push(event_bytes(1, 9, 0, 1, 0));
    garbage.push(event_bytes(1, 1, 7, 1, 0));
    garbage.push(event_bytes(1, 1, 0, 9, 0));
    garbage.push(event_bytes(1, 1, 0, 1, i64::MAX));
    garbage.push(event_bytes(1, 1, 0, 1, i64::MIN));
    garbage.push(URL_SAFE_NO_PAD.encode([1u8, 2, 0, 0]));
    garbage.push("A".repeat(MB));
    // Real cursors, damaged.
    for (_, real) in s.cursors.iter().step_by(3) {
        garbage.push(real[..real.len() - 1].to_string());
        garbage.push(real[..real.len() / 2].to_string());
        garbage.push(format!("{real}A"));
        garbage.push(format!("{real}AA"));
        garbage.push(format!("{real}="));
        garbage.push(STANDARD.encode(URL_SAFE_NO_PAD.decode(real).unwrap()) + "=");
        garbage.push(format!(" {real}"));
    }
    for (i, cursor) in garbage.iter().enumerate() {
        // Each garbage cursor on three entry points, in turn.
        for k in 0..3 {
            let (body, _) = &entries[(i + k * 2) % entries.len()];
            c.gql(
                format!("garbage cursor #{i} ({}) on {body}", short(cursor).chars().take(40).collect::<String>()),
                &query(body),
                json!({ "c": cursor }),
                BAD_CURSOR,
            );
        }
    }
    // Real and crafted cursors of every kind on every entry point: accepted
    // only where issued for exactly that ordering.
    let mut cursors = s.cursors.clone();
    let crafted = |order: EventOrder, at: DateTime<Utc>, id: Uuid| {
        Cursor::Event { order, key: at.timestamp_micros(), id }.encode()
    };
    for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC, DateTime::UNIX_EPOCH] {
        for (field, direction) in [(OccurredAt, Desc), (ReceivedAt, Asc)] {
            cursors.push((Kind::Event(field, direction), crafted(EventOrder { field, direction }, at, Uuid::max())));
        }
    }
    cursors.push((Kind::Actor, Cursor::Actor(Uuid::nil()).encode()));
    cursors.push((Kind::Resource, Cursor::Resource(Uuid::max()).encode()));
    for (kind, cursor) in &cursors {
        for (body, accepts) in &entries {
            let expect = if kind == accepts { Expect::Harmless } else { BAD_CURSOR };
            c.gql(format!("{kind:?} cursor {cursor} on {body}"), &query(body), json!({ "c": cursor }), expect);
        }
    }
    // Inline, and through GET.
    c.gql("an inline empty cursor", "{ auditEvents(after: \"\") { totalCount } }", json!({}), BAD_CURSOR);
    c.get("a garbage cursor through GET", &[("query", "{ auditEvents(after: \"!!\") { totalCount } }")], BAD_CURSOR);
}
