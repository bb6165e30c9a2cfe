//! Malformed global IDs on every input that takes one.

use super::*;

/// Malformed global IDs on every input that takes one.
pub(super) fn id_cases(c: &mut Corpus, s: &Seeded, rng: &mut StdRng) {
    let hex = &s.event_id[4..];
    let mut bad: Vec<String> = Vec::new();
    for len in [1, 5, 32, 36, 40] {
        bad.push(random_token(rng, len));
    }
    for prefix in ["usr_", "evn_", "EVT_", "ev_", "evt-", "evt", "evtx", "_", "node_"] {
        bad.push(format!("{prefix}{hex}"));
    }
    bad.extend([
        format!("evt_{}", hex.to_uppercase()),
        format!("evt_{}{}", &hex[..16].to_uppercase(), &hex[16..]),
        format!("evt_{}", &hex[..31]),
        format!("evt_{hex}0"),
        "evt_".to_string(),
        format!("evt_{hex}{hex}"),
        format!("evt_{}", "g".repeat(32)),
        format!("evt_{}", "０".repeat(32)),
        format!("évt_{hex}"),
        format!("evt_{}", "é".repeat(32)),
        format!("evt_{}🦀", &hex[..30]),
        format!("evt_\u{202e}{}", &hex[..31]),
        format!("evt_{}\u{200b}{}", &hex[..16], &hex[16..]),
        format!(" {}", s.event_id),
        format!("{}\n", s.event_id),
        format!("\t{}", s.event_id),
        format!("evt_{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]),
        format!("evt_{}\u{0}", &hex[..31]),
        format!("evt_evt_{hex}"),
        format!("evt__{hex}"),
        format!("evt_{}", "a".repeat(MB)),
        String::new(),
    ]);
    let wrong_kind = [format!("act_{hex}"), format!("res_{hex}"), format!("key_{hex}"), format!("ten_{hex}")];
    for (i, id) in bad.iter().enumerate() {
        let label = format!("bad ID #{i} `{}`", id.chars().take(40).collect::<String>().escape_debug());
        c.gql(format!("node: {label}"), "query($id: ID!) { node(id: $id) { id } }", json!({ "id": id }), BAD_INPUT);
        c.gql(
            format!("nodes: {label}"),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [s.event_id, id] }),
            BAD_INPUT,
        );
        c.gql(
            format!("auditEvent: {label}"),
            "query($id: ID!) { auditEvent(id: $id) { id } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
        c.gql(
            format!("revokeApiKey: {label}"),
            "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
        let filter = match i % 3 {
            0 => json!({ "actor": { "id": [id] } }),
            1 => json!({ "resource": { "id": [s.resource_id, id] } }),
            _ => json!({ "or": [{ "relatedTo": { "id": [id] } }] }),
        };
        c.gql(format!("filter: {label}"), FILTER, json!({ "f": filter }), BAD_INPUT);
        c.gql(
            format!("actors: {label}"),
            "query($id: ID!) { actors(filter: {id: [$id]}) { totalCount } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
    }
    // Well-formed IDs of the wrong kind where one kind is expected.
    for id in &wrong_kind {
        c.gql(
            format!("auditEvent with {id}"),
            "query($id: ID!) { auditEvent(id: $id) { id } }",
            json!({ "id": id }),
            BAD_INPUT,
        );
        c.gql(
            format!("actor filter with {id}"),
            FILTER,
            json!({ "f": { "actor": { "id": [id] } } }),
            if id.starts_with("act_") { Expect::Harmless } else { BAD_INPUT },
        );
        c.gql(
            format!("resource filter with {id}"),
            FILTER,
            json!({ "f": { "relatedTo": { "id": [id] } } }),
            if id.starts_with("res_") { Expect::Harmless } else { BAD_INPUT },
        );
    }
    c.gql(
        "revokeApiKey with an event ID",
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
        json!({ "id": s.event_id }),
        BAD_INPUT,
    );
    c.gql(
        "revokeApiKey with a key ID that does not exist",
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }",
        json!({ "id": format!("key_{hex}") }),
        Expect::Codes(&["NOT_FOUND"]),
    );
    c.gql("an inline malformed ID", "{ node(id: \"evt_nope\") { id } }", json!({}), BAD_INPUT);
}
