//! The provable log: gapless sequence in commit order, the Merkle tree's proofs
//! checked by an RFC 9162 verifier written here from the RFC's pseudo-code,
//! signed checkpoints checked with Ed25519 directly, and `auditgraph verify`
//! finding rows edited or deleted with the append-only triggers switched off.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event, postgres_url, record_at};
use crate::process::{Server, WorkDir};

backend_tests!(
    sequence_is_gapless_and_tails_exactly_under_concurrent_writers,
    sequence_orders_filters_and_pages,
    duplicates_take_no_sequence,
    recorded_actor_keeps_what_was_sent,
    canonical_event_and_leaf_hash,
    proofs_verify_independently,
    a_page_of_proofs_costs_a_fixed_number_of_statements,
    out_of_range_sizes_are_refused,
    checkpoints_are_signed_and_persisted,
    export_of_canonical_events_verifies_offline,
    verify_finds_edited_and_deleted_events,
);

pub(crate) type Hash = [u8; 32];

fn sha(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The RFC 9162 leaf hash of `leaf`.
pub(crate) fn sha_leaf(leaf: &[u8]) -> Hash {
    sha(&[&[0], leaf])
}

pub(crate) fn node(left: &Hash, right: &Hash) -> Hash {
    sha(&[&[1], left, right])
}

pub(crate) fn decode(b64: &Value) -> Hash {
    STANDARD.decode(b64.as_str().expect("a base64 string")).expect("base64").try_into().expect("32 bytes")
}

/// RFC 9162 §2.1.3.2, written from the RFC's steps.
pub(crate) fn rfc_verify_inclusion(leaf_index: u64, tree_size: u64, leaf: Hash, path: &[Hash], root: Hash) -> bool {
    if leaf_index >= tree_size {
        return false;
    }
    let (mut f, mut s, mut r) = (leaf_index, tree_size - 1, leaf);
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == root
}

/// RFC 9162 §2.1.4.2, written from the RFC's steps.
pub(crate) fn rfc_verify_consistency(
    first: u64,
    second: u64,
    first_root: Hash,
    second_root: Hash,
    proof: &[Hash],
) -> bool {
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 || first > second || proof.is_empty() && !first.is_power_of_two() {
        return false;
    }
    let mut path = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, first_root);
    }
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == first_root && sr == second_root && s == 0
}

/// Checks a signed note's Ed25519 signature with the verifier key, per
/// c2sp.org/signed-note, without the server's code; returns the checkpoint lines.
pub(crate) fn check_note(verifier_key: &str, note: &str) -> Vec<String> {
    use ed25519_dalek::Verifier as _;
    let mut parts = verifier_key.splitn(3, '+');
    let (name, id_hex, key64) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let key = STANDARD.decode(key64).expect("verifier key base64");
    assert_eq!(key[0], 1, "Ed25519 algorithm byte");
    let id = &sha(&[name.as_bytes(), b"\n", &key])[..4];
    assert_eq!(hex(id), id_hex, "key id");
    let (text, signatures) = note.split_once("\n\n").expect("a blank line before the signatures");
    let text = format!("{text}\n");
    let line = signatures.lines().find(|l| l.starts_with(&format!("\u{2014} {name} "))).expect("our signature line");
    let sig = STANDARD.decode(line.rsplit(' ').next().unwrap()).expect("signature base64");
    assert_eq!(&sig[..4], id, "the signature names the key");
    let public = ed25519_dalek::VerifyingKey::from_bytes(key[1..].try_into().unwrap()).unwrap();
    public
        .verify(text.as_bytes(), &ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap())
        .expect("the checkpoint's signature verifies");
    text.lines().map(str::to_string).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const CHECKPOINT: &str = "{ ledger { size verifierKey checkpoint { origin size rootHash signedNote issuedAt } } }";

pub(crate) async fn checkpoint(app: &TestApp, key: &str) -> (u64, Hash, Value) {
    let data = app.data(key, CHECKPOINT, json!({})).await;
    let c = data["ledger"]["checkpoint"].clone();
    (c["size"].as_str().unwrap().parse().unwrap(), decode(&c["rootHash"]), data["ledger"].clone())
}

pub(crate) fn batch(prefix: &str, n: usize) -> Value {
    Value::Array((0..n).map(|i| event(&format!("{prefix}.e{i}"))).collect())
}

/// Every event by SEQUENCE ascending, walking pages from the start.
async fn walk_sequence(app: &TestApp, key: &str, after: Option<String>) -> (Vec<u64>, Option<String>) {
    let q = "query($a: String) { auditEvents(first: 100, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { sequence } } }";
    let (mut seen, mut cursor) = (Vec::new(), after);
    loop {
        let data = app.data(key, q, json!({ "a": cursor })).await;
        let c = &data["auditEvents"];
        for n in c["nodes"].as_array().unwrap() {
            seen.push(n["sequence"].as_str().unwrap().parse().unwrap());
        }
        if let Some(end) = c["pageInfo"]["endCursor"].as_str() {
            cursor = Some(end.to_string());
        }
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return (seen, cursor);
        }
    }
}

async fn sequence_is_gapless_and_tails_exactly_under_concurrent_writers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let (writers, batches, size) = (8, 6, 25);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tail = {
        let (app_url, key, done) = (app.url("/graphql"), key.clone(), done.clone());
        tokio::spawn(async move {
            // A SIEM poller: pages forward from its last cursor until the writers stop.
            let client = reqwest::Client::new();
            let q = "query($a: String) { auditEvents(first: 50, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor } nodes { sequence } } }";
            let (mut seen, mut cursor): (Vec<u64>, Option<String>) = (Vec::new(), None);
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let body: Value = client
                    .post(&app_url)
                    .bearer_auth(&key)
                    .json(&json!({ "query": q, "variables": { "a": cursor } }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let c = &body["data"]["auditEvents"];
                let nodes = c["nodes"].as_array().unwrap_or_else(|| panic!("{body}"));
                for n in nodes {
                    seen.push(n["sequence"].as_str().unwrap().parse().unwrap());
                }
                if let Some(end) = c["pageInfo"]["endCursor"].as_str() {
                    cursor = Some(end.to_string());
                }
                if finished && nodes.is_empty() {
                    return seen;
                }
            }
        })
    };
    let mut handles = Vec::new();
    for w in 0..writers {
        let (base, key) = (app.url(""), key.clone());
        handles.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for b in 0..batches {
                let body = record_at(&client, &base, &key, batch(&format!("w{w}.b{b}"), size)).await;
                assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], size, "{body}");
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let tailed = tail.await.unwrap();
    let (all, _) = walk_sequence(&app, &key, None).await;
    let size_now: u64 =
        app.data(&key, "{ ledger { size } }", json!({})).await["ledger"]["size"].as_str().unwrap().parse().unwrap();
    assert_eq!(all, (1..=size_now).collect::<Vec<_>>(), "sequence is 1..=size with no gap or repeat");
    assert!(size_now >= (writers * batches * size) as u64);
    assert_eq!(tailed, all, "the tailing reader saw every event exactly once, in order");
}

async fn sequence_orders_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("seq.a", 30)).await;
    let q = "query($f: AuditEventFilter, $o: AuditEventOrder, $a: String, $l: Int, $b: String, $n: Int) { auditEvents(filter: $f, orderBy: $o, first: $n, after: $a, last: $l, before: $b) { totalCount pageInfo { startCursor endCursor hasNextPage hasPreviousPage } nodes { sequence action } } }";
    let seqs = |d: &Value| -> Vec<u64> {
        d["auditEvents"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["sequence"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    // A range given as strings and as Ints, newest first.
    let d = app
        .data(&key, q, json!({ "f": { "sequence": { "gt": "5", "lte": 12 } }, "o": { "field": "SEQUENCE", "direction": "DESC" }, "n": 3 }))
        .await;
    assert_eq!(seqs(&d), vec![12, 11, 10]);
    assert_eq!(d["auditEvents"]["totalCount"], 7);
    let after = d["auditEvents"]["pageInfo"]["endCursor"].clone();
    let d = app
        .data(&key, q, json!({ "f": { "sequence": { "gt": "5", "lte": 12 } }, "o": { "field": "SEQUENCE", "direction": "DESC" }, "n": 10, "a": after }))
        .await;
    assert_eq!(seqs(&d), vec![9, 8, 7, 6]);
    // Backward from the end, oldest first.
    let d = app.data(&key, q, json!({ "o": { "field": "SEQUENCE", "direction": "ASC" }, "l": 2 })).await;
    let total = d["auditEvents"]["totalCount"].as_u64().unwrap();
    assert_eq!(seqs(&d), vec![total - 1, total]);
    let before = d["auditEvents"]["pageInfo"]["startCursor"].clone();
    let d = app
        .data(&key, q, json!({ "o": { "field": "SEQUENCE", "direction": "ASC" }, "l": 2, "b": before.clone() }))
        .await;
    assert_eq!(seqs(&d), vec![total - 3, total - 2]);
    // A sequence cursor is refused by another ordering.
    let (_, body) =
        app.gql(&key, q, json!({ "o": { "field": "OCCURRED_AT", "direction": "ASC" }, "b": before, "l": 2 })).await;
    assert_eq!(error_code(&body), Some("BAD_CURSOR"), "{body}");
    // Not a 64-bit integer.
    for bad in [json!("12x"), json!("99999999999999999999"), json!(1.5)] {
        let (_, body) = app.gql(&key, q, json!({ "f": { "sequence": { "gte": bad } } })).await;
        assert!(body["errors"].is_array(), "{body}");
        assert_ne!(error_code(&body), Some("INTERNAL"), "{body}");
    }
}

async fn duplicates_take_no_sequence(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("dup.first");
    e["idempotencyKey"] = json!("k-1");
    app.record(&key, json!([e.clone(), e.clone()])).await;
    let again = app.record(&key, json!([e, event("dup.second")])).await;
    assert_eq!(again["createdCount"], 1);
    let (all, _) = walk_sequence(&app, &key, None).await;
    let n = all.len() as u64;
    assert_eq!(all, (1..=n).collect::<Vec<_>>());
    let d = app
        .data(
            &key,
            "{ auditEvents(first: 2, orderBy: {field: SEQUENCE, direction: DESC}) { nodes { action sequence } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["auditEvents"]["nodes"][0]["action"], "dup.second");
    assert_eq!(d["auditEvents"]["nodes"][1]["action"], "dup.first");
    assert_eq!(d["auditEvents"]["nodes"][0]["sequence"].as_str().unwrap().parse::<u64>().unwrap(), n);
}

async fn recorded_actor_keeps_what_was_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let actor =
        |roles: Value, name: &str| json!({ "type": "USER", "externalId": "42", "displayName": name, "roles": roles });
    app.record(&key, json!([{ "action": "role.a", "actor": actor(json!(["admin"]), "Ada") }])).await;
    app.record(&key, json!([{ "action": "role.b", "actor": actor(json!(["viewer"]), "Ada L.") }])).await;
    app.record(&key, json!([{ "action": "role.c", "actor": { "type": "USER", "externalId": "42" } }])).await;
    let d = app
        .data(&key, "{ auditEvents(filter: {category: {eq: \"role\"}}, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { action recordedActor { type externalId displayName email roles } actor { displayName roles } } } }", json!({}))
        .await;
    let nodes = d["auditEvents"]["nodes"].as_array().unwrap();
    assert_eq!(
        nodes[0]["recordedActor"],
        json!({ "type": "USER", "externalId": "42", "displayName": "Ada", "email": null, "roles": ["admin"] })
    );
    assert_eq!(nodes[1]["recordedActor"]["roles"], json!(["viewer"]));
    assert_eq!(
        nodes[2]["recordedActor"],
        json!({ "type": "USER", "externalId": "42", "displayName": null, "email": null, "roles": [] })
    );
    for n in nodes {
        assert_eq!(n["actor"], json!({ "displayName": "Ada L.", "roles": ["viewer"] }), "the current profile");
    }
}

async fn canonical_event_and_leaf_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let full = json!({
        "action": "workspace.snapshot.create", "outcome": "FAILURE", "occurredAt": "2026-01-31T12:00:00.5+01:00",
        "actor": { "type": "SERVICE_ACCOUNT", "externalId": "svc", "roles": ["a", "b"] },
        "resource": { "type": "snapshot", "externalId": "s-1", "name": "Snap" },
        "relatedResources": [{ "type": "workspace", "externalId": "w-1" }],
        "summary": "é \"quoted\" \u{2028}", "errorMessage": "boom", "environment": "prod", "sourceService": "api",
        "request": { "method": "POST", "status": 503, "latencyMs": 12.5, "ipAddress": "2001:DB8::1" },
        "metadata": { "z": 1e21, "a": [1, 2.5, -0.0, 1e-7], "n": null, "u": "\u{1F600}" },
        "changes": [{ "field": "size", "before": 1, "after": { "gb": 2 } }],
        "idempotencyKey": "canon-1"
    });
    app.record(&key, json!([full])).await;
    let d = app
        .data(&key, "{ auditEvents(first: 1, orderBy: {field: SEQUENCE, direction: DESC}) { nodes { id sequence canonicalJson leafHash actor { id } relatedResources { id } } } }", json!({}))
        .await;
    let e = &d["auditEvents"]["nodes"][0];
    let text = e["canonicalJson"].as_str().unwrap();
    assert_eq!(decode(&e["leafHash"]), sha(&[&[0], text.as_bytes()]), "leaf hash = SHA-256(0x00 ‖ canonical JSON)");
    let mut c: Value = serde_json::from_str(text).unwrap();
    let keys: Vec<String> = c.as_object().unwrap().keys().cloned().collect();
    let mut expected = vec![
        "id",
        "tenantId",
        "sequence",
        "action",
        "outcome",
        "occurredAt",
        "receivedAt",
        "actor",
        "resource",
        "relatedResources",
        "summary",
        "reason",
        "errorMessage",
        "environment",
        "sourceService",
        "correlationId",
        "request",
        "metadata",
        "changes",
        "idempotencyKey",
        "v",
    ];
    expected.sort();
    assert_eq!(keys, expected, "every key present");
    assert_eq!(c["id"], e["id"]);
    assert_eq!(c["sequence"], e["sequence"]);
    assert_eq!(c["occurredAt"], "2026-01-31T11:00:00.500000Z");
    assert!(c["receivedAt"].as_str().unwrap().len() == 27 && c["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(c["reason"], Value::Null);
    // The address is personal: sealed under the actor's data key (API.md Part 3).
    assert_eq!(c["request"]["ipAddress"]["kid"], e["actor"]["id"], "{text}");
    c["request"]["ipAddress"] = json!("sealed");
    assert_eq!(
        c["request"],
        json!({ "id": null, "method": "POST", "path": null, "status": 503, "latencyMs": 12.5, "ipAddress": "sealed", "userAgent": null })
    );
    assert_eq!(
        c["actor"],
        json!({ "type": "SERVICE_ACCOUNT", "externalId": "svc", "displayName": null, "email": null, "roles": ["a", "b"], "id": e["actor"]["id"] })
    );
    assert_eq!(
        c["relatedResources"],
        json!([{ "type": "workspace", "externalId": "w-1", "name": null, "id": e["relatedResources"][0]["id"] }])
    );
    assert_eq!(c["v"], 2, "leaf version 2");
    // RFC 8785: sorted keys, ES6 number forms, minimal escapes, no whitespace.
    assert!(text.contains(r#""metadata":{"a":[1,2.5,0,1e-7],"n":null,"u":"😀","z":1e+21}"#), "{text}");
    assert!(text.contains("\"summary\":\"é \\\"quoted\\\" \u{2028}\""), "{text}");
    assert!(!text.contains(": ") && !text.contains(", "));
}

async fn proofs_verify_independently(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut heads = Vec::new();
    for (i, n) in [37, 100, 64, 1].into_iter().enumerate() {
        app.record(&key, batch(&format!("proof.b{i}"), n)).await;
        let (size, root, _) = checkpoint(&app, &key).await;
        heads.push((size, root));
    }
    let q = "query($t: BigInt, $a: String) { auditEvents(first: 250, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { sequence leafHash inclusionProof(treeSize: $t) { leafIndex treeSize leafHash hashes } } } }";
    for &(size, root) in &heads {
        let (mut cursor, mut checked) = (None::<String>, 0);
        loop {
            let (_, body) = app.gql(&key, q, json!({ "t": size.to_string(), "a": cursor })).await;
            let c = &body["data"]["auditEvents"];
            for n in c["nodes"].as_array().unwrap_or_else(|| panic!("{body}")) {
                let seq: u64 = n["sequence"].as_str().unwrap().parse().unwrap();
                if seq > size {
                    continue;
                }
                let p = &n["inclusionProof"];
                assert_eq!(p["leafIndex"], (seq - 1).to_string());
                assert_eq!(p["treeSize"], size.to_string());
                assert_eq!(p["leafHash"], n["leafHash"]);
                let path: Vec<Hash> = p["hashes"].as_array().unwrap().iter().map(decode).collect();
                let leaf = decode(&n["leafHash"]);
                assert!(rfc_verify_inclusion(seq - 1, size, leaf, &path, root), "leaf {seq} in tree {size}");
                checked += 1;
                // A flipped byte anywhere fails.
                if seq % 17 == 1 && !path.is_empty() {
                    let mut bad = path.clone();
                    bad[path.len() / 2][7] ^= 1;
                    assert!(!rfc_verify_inclusion(seq - 1, size, leaf, &bad, root));
                    let mut bad_leaf = leaf;
                    bad_leaf[0] ^= 0x80;
                    assert!(!rfc_verify_inclusion(seq - 1, size, bad_leaf, &path, root));
                }
            }
            cursor = c["pageInfo"]["endCursor"].as_str().map(str::to_string);
            if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
        }
        assert_eq!(checked, size, "every leaf of the tree of {size}");
    }
    let cq = "query($f: BigInt!, $t: BigInt) { ledger { consistencyProof(fromSize: $f, toSize: $t) } }";
    for (i, &(from, from_root)) in heads.iter().enumerate() {
        for &(to, to_root) in &heads[i..] {
            let d = app.data(&key, cq, json!({ "f": from.to_string(), "t": to.to_string() })).await;
            let proof: Vec<Hash> = d["ledger"]["consistencyProof"].as_array().unwrap().iter().map(decode).collect();
            assert!(rfc_verify_consistency(from, to, from_root, to_root, &proof), "{from} → {to}");
            if !proof.is_empty() {
                let mut bad = proof.clone();
                bad[0][31] ^= 1;
                assert!(!rfc_verify_consistency(from, to, from_root, to_root, &bad), "{from} → {to} tampered");
            }
        }
    }
    // Default toSize: the current size.
    let (last, last_root) = *heads.last().unwrap();
    let d = app
        .data(&key, "query($f: BigInt!) { ledger { consistencyProof(fromSize: $f) } }", json!({ "f": heads[0].0 }))
        .await;
    let proof: Vec<Hash> = d["ledger"]["consistencyProof"].as_array().unwrap().iter().map(decode).collect();
    assert!(rfc_verify_consistency(heads[0].0, last, heads[0].1, last_root, &proof));
}

/// Inclusion proofs for a whole page come from two statements (the head and
/// every stored hash the page's proofs need), whatever the page's size, with
/// the default tree size or one given; `nodes` batches them the same way.
async fn a_page_of_proofs_costs_a_fixed_number_of_statements(backend: Backend) {
    // Nothing else sends statements meanwhile: no key looked up again, no checkpoint job.
    let app = TestApp::spawn_with(backend, |s| {
        s.auth_cache_ttl = std::time::Duration::from_secs(3600);
        s.ledger.checkpoint_interval = std::time::Duration::from_secs(3600);
    })
    .await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("cost.a", 1_000)).await;
    app.record(&key, batch("cost.b", 300)).await;
    let (size, root, _) = checkpoint(&app, &key).await;
    // Warm the key cache (and let its last-used update land) before counting.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let statements = async |query: &str, variables: Value| {
        let before = app.statements();
        let data = app.data(&key, query, variables).await;
        (app.statements() - before, data)
    };
    let page = "query($n: Int, $t: BigInt) { auditEvents(first: $n, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { id sequence leafHash inclusionProof(treeSize: $t) { leafIndex treeSize hashes } } } }";
    for (n, tree) in [(1, None), (500, None), (500, Some(size - 200)), (1, Some(size))] {
        let (count, data) = statements(page, json!({ "n": n, "t": tree.map(|t: u64| t.to_string()) })).await;
        assert_eq!(count, 3, "a page of {n} with proofs in the tree of {tree:?}: the page, the head, the hashes");
        let nodes = data["auditEvents"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n);
        let tree_size = tree.unwrap_or(size);
        let root = if tree_size == size { root } else { root_of(&app, &key, tree_size).await };
        for node in nodes {
            let seq: u64 = node["sequence"].as_str().unwrap().parse().unwrap();
            let path: Vec<Hash> = node["inclusionProof"]["hashes"].as_array().unwrap().iter().map(decode).collect();
            assert!(rfc_verify_inclusion(seq - 1, tree_size, decode(&node["leafHash"]), &path, root), "leaf {seq}");
        }
        if n == 500 && tree.is_none() {
            // The same events by ID: their proofs are batched too.
            let ids: Vec<&Value> = nodes.iter().map(|n| &n["id"]).collect();
            let by_id = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { inclusionProof { hashes } } } }";
            let (count, found) = statements(by_id, json!({ "ids": ids })).await;
            assert_eq!(count, 3, "500 events by ID with proofs: the events, the head, the hashes");
            let proofs: Vec<&Value> = nodes.iter().map(|n| &n["inclusionProof"]["hashes"]).collect();
            let again: Vec<&Value> =
                found["nodes"].as_array().unwrap().iter().map(|n| &n["inclusionProof"]["hashes"]).collect();
            assert_eq!(proofs, again);
        }
    }
}

/// The root of the tenant's tree of `size` leaves, recomputed from the leaf hashes.
async fn root_of(app: &TestApp, key: &str, size: u64) -> Hash {
    let q = "query($a: String) { auditEvents(first: 500, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { sequence leafHash } } }";
    let (mut leaves, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let data = app.data(key, q, json!({ "a": cursor })).await;
        let c = &data["auditEvents"];
        for n in c["nodes"].as_array().unwrap() {
            if n["sequence"].as_str().unwrap().parse::<u64>().unwrap() <= size {
                leaves.push(decode(&n["leafHash"]));
            }
        }
        cursor = c["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
    }
    merkle_root(&leaves)
}

/// RFC 9162 §2.1.1's MTH over leaf hashes.
pub(crate) fn merkle_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - (n - 1).leading_zeros() - 1);
            node(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

async fn out_of_range_sizes_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("range", 10)).await;
    let (size, _, _) = checkpoint(&app, &key).await;
    let inclusion = "query($t: BigInt) { auditEvents(first: 1, orderBy: {field: SEQUENCE, direction: DESC}) { nodes { inclusionProof(treeSize: $t) { treeSize } } } }";
    for t in [json!((size + 1).to_string()), json!(size - 1), json!("-1")] {
        let (status, body) = app.gql(&key, inclusion, json!({ "t": t })).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "treeSize {t}: {body}");
    }
    let consistency = "query($f: BigInt!, $t: BigInt) { ledger { consistencyProof(fromSize: $f, toSize: $t) } }";
    for (f, t) in [(json!(3), json!(size + 1)), (json!(5), json!(4)), (json!(-1), json!(4))] {
        let (_, body) = app.gql(&key, consistency, json!({ "f": f, "t": t })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{f} → {t}: {body}");
        assert!(body["errors"][0]["extensions"]["field"].is_string(), "{body}");
    }
    let d = app.data(&key, consistency, json!({ "f": 4, "t": 4 })).await;
    assert_eq!(d["ledger"]["consistencyProof"], json!([]));
    // A key without audit.read sees no ledger.
    let writer = app.key("audit.write").await;
    let (_, body) = app.gql(&writer, "{ ledger { size } }", json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}

async fn checkpoints_are_signed_and_persisted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("cp", 5)).await;
    let (size, root, ledger) = checkpoint(&app, &key).await;
    let vkey = ledger["verifierKey"].as_str().unwrap();
    let lines = check_note(vkey, ledger["checkpoint"]["signedNote"].as_str().unwrap());
    assert_eq!(lines, vec![format!("auditgraph/{}", app.tenant), size.to_string(), STANDARD.encode(root)]);
    assert_eq!(ledger["checkpoint"]["origin"], format!("auditgraph/{}", app.tenant));
    // Persisted only for trees that grew, newest first.
    assert_eq!(app.ledger.persist_grown(&app.store).await.unwrap(), 1);
    assert_eq!(app.ledger.persist_grown(&app.store).await.unwrap(), 0);
    app.record(&key, batch("cp2", 3)).await;
    assert_eq!(app.ledger.persist_grown(&app.store).await.unwrap(), 1);
    let d = app
        .data(
            &key,
            "{ ledger { checkpoints(first: 10) { totalCount nodes { size rootHash signedNote } } } }",
            json!({}),
        )
        .await;
    let nodes = d["ledger"]["checkpoints"]["nodes"].as_array().unwrap();
    assert_eq!(d["ledger"]["checkpoints"]["totalCount"], 2);
    assert_eq!(nodes[1]["size"], size.to_string());
    assert_eq!(nodes[0]["size"], (size + 3).to_string());
    for n in nodes {
        let lines = check_note(vkey, n["signedNote"].as_str().unwrap());
        assert_eq!(lines[2], n["rootHash"].as_str().unwrap());
    }
}

/// An NDJSON file of every `canonicalJson`, in sequence order.
async fn canonical_export(app: &TestApp, key: &str) -> String {
    let q = "query($a: String) { auditEvents(first: 500, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { canonicalJson } } }";
    let (mut out, mut cursor) = (String::new(), None::<String>);
    loop {
        let d = app.data(key, q, json!({ "a": cursor })).await;
        for n in d["auditEvents"]["nodes"].as_array().unwrap() {
            out.push_str(n["canonicalJson"].as_str().unwrap());
            out.push('\n');
        }
        cursor = d["auditEvents"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if !d["auditEvents"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
    }
}

async fn export_of_canonical_events_verifies_offline(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("offline.with.metadata");
    e["metadata"] = json!({ "note": "a, \"quoted\"\nline", "n": 3.25 });
    app.record(&key, json!([e])).await;
    app.record(&key, batch("offline", 40)).await;
    let (size, _, ledger) = checkpoint(&app, &key).await;
    let export = canonical_export(&app, &key).await;
    let dir = WorkDir::new();
    std::fs::write(dir.0.join("events.ndjson"), &export).unwrap();
    std::fs::write(dir.0.join("checkpoint"), ledger["checkpoint"]["signedNote"].as_str().unwrap()).unwrap();
    let vkey = ledger["verifierKey"].as_str().unwrap();
    let args = ["verify", "--export", "events.ndjson", "--checkpoint", "checkpoint", "--key", vkey];
    let out = dir.run(&args);
    assert_eq!(out.trim(), format!("verified {size} events against checkpoint of size {size}"));
    // The checkpoint as base64 (an export's header) works too.
    std::fs::write(dir.0.join("checkpoint.b64"), STANDARD.encode(ledger["checkpoint"]["signedNote"].as_str().unwrap()))
        .unwrap();
    dir.run(&["verify", "--export", "events.ndjson", "--checkpoint", "checkpoint.b64", "--key", vkey]);
    // One changed character anywhere fails.
    let bytes = export.as_bytes();
    for at in [2, bytes.len() / 3, bytes.len() / 2 + 1, bytes.len() - 3] {
        let mut changed = bytes.to_vec();
        changed[at] = if changed[at] == b'a' { b'b' } else { b'a' };
        std::fs::write(dir.0.join("events.ndjson"), &changed).unwrap();
        let out = dir.output(&args);
        assert!(!out.status.success(), "a change at byte {at} went unnoticed");
        assert!(String::from_utf8_lossy(&out.stderr).contains("verification failed"), "{out:?}");
    }
    // Another key, or a shorter export, fails.
    std::fs::write(dir.0.join("events.ndjson"), &export).unwrap();
    let other = dir.run(&["keygen", "--name", "other", "--output", "other.key"]);
    let out = dir.output(&["verify", "--export", "events.ndjson", "--checkpoint", "checkpoint", "--key", other.trim()]);
    assert!(!out.status.success());
    let short: String = export.lines().take(size as usize - 1).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.0.join("events.ndjson"), short).unwrap();
    assert!(!dir.output(&args).status.success());
}

/// Runs SQL on the test database with the append-only triggers out of the way.
pub(crate) async fn tamper(url: &str, backend: Backend, sql: &str) {
    let db = Database::connect(url).await.unwrap();
    match backend {
        Backend::Postgres => {
            db.execute_unprepared(&format!("SET session_replication_role = replica; {sql}")).await.unwrap();
        }
        // The guards are put back as they were (with their permits), and
        // the words' index triggers stay, keeping the index in step. One
        // script, so one connection drops and recreates the guards.
        Backend::Sqlite => {
            let guards = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'
                       AND name IN ('audit_event_no_update', 'audit_event_no_delete', 'event_resource_no_update')",
                ))
                .await
                .unwrap();
            assert_eq!(guards.len(), 3, "the append-only guards");
            let (drop, create): (Vec<String>, Vec<String>) = guards
                .iter()
                .map(|g| {
                    let name: String = g.try_get("", "name").unwrap();
                    (format!("DROP TRIGGER {name}"), g.try_get("", "sql").unwrap())
                })
                .unzip();
            db.execute_unprepared(&format!("{}; {sql}; {}", drop.join("; "), create.join("; "))).await.unwrap();
        }
    }
    db.close().await.unwrap();
}

async fn verify_finds_edited_and_deleted_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("tamper", 30)).await;
    app.ledger.persist_grown(&app.store).await.unwrap();
    let (size, _, _) = checkpoint(&app, &key).await;
    let dir = WorkDir::new();
    let verify = ["verify", "--tenant", "acme", "--database-url", app.db_url.as_str()];
    let out = dir.run(&verify);
    assert!(out.contains(&format!("verified {size} events")), "{out}");

    let seventh = app
        .data(&key, "{ auditEvents(filter: {sequence: {gte: 7, lte: 7}}) { nodes { action } } }", json!({}))
        .await["auditEvents"]["nodes"][0]["action"]
        .as_str()
        .unwrap()
        .to_string();
    tamper(&app.db_url, backend, "UPDATE audit_event SET action = 'tamper.forged' WHERE sequence = 7").await;
    let out = dir.output(&verify);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("sequence 7"), "{stderr}");
    tamper(&app.db_url, backend, &format!("UPDATE audit_event SET action = '{seventh}' WHERE sequence = 7")).await;
    let restored = dir.output(&verify);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));

    tamper(&app.db_url, backend, &format!("DELETE FROM audit_event WHERE sequence > {}", size - 3)).await;
    let out = dir.output(&verify);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("checkpoint of size {size}")), "{stderr}");
}

/// Two server processes on one PostgreSQL database, eight writers spread over
/// both: sequence numbers stay gapless, and a reader following the log by
/// sequence through either sees every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_is_gapless_across_two_processes() {
    let Some(_) = postgres_url() else {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    };
    let db = crate::helpers::TestDb::new(Backend::Postgres).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    let servers = [Server::start(&dir, &db.url).await, Server::start(&dir, &db.url).await];
    let mut handles = Vec::new();
    for w in 0..8 {
        let base = servers[w % 2].base.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for b in 0..5 {
                let body = record_at(&client, &base, &key, batch(&format!("p{w}.b{b}"), 20)).await;
                assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 20, "{body}");
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let q = "query($a: String) { auditEvents(first: 500, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { sequence } } }";
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let d = servers[order.len() % 2].data(&key, q, json!({ "a": cursor })).await;
        for n in d["auditEvents"]["nodes"].as_array().unwrap() {
            let s: u64 = n["sequence"].as_str().unwrap().parse().unwrap();
            assert!(seen.insert(s));
            order.push(s);
        }
        cursor = d["auditEvents"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if !d["auditEvents"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(order, (1..=order.len() as u64).collect::<Vec<_>>());
    assert!(order.len() >= 800);
}
