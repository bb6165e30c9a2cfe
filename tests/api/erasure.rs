//! Erasure that keeps every proof valid (API.md Part 3): personal values
//! sealed in the leaf under the actor's data key, served opened at every
//! other door, and erased by destroying the key, with every leaf, proof and
//! export still verifying and no plaintext left in the database.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code};
use crate::ledger::{checkpoint, decode, rfc_verify_inclusion, sha_leaf};
use crate::process::WorkDir;

backend_tests!(
    personal_values_are_sealed_in_the_leaf_and_opened_elsewhere,
    personal_paths_must_match_a_value,
    erasure_keeps_every_proof_and_hides_the_values,
    erasure_is_refused_under_legal_hold_and_without_admin,
    no_plaintext_remains_in_the_database_after_erasure,
    erasure_from_the_command_line_with_a_data_key_file,
    subscribers_see_opened_values_before_and_after_an_erasure,
);

/// Strings only the erased person's events hold.
const SECRETS: [&str; 5] =
    ["Jane Erasable", "jane@erasable.example", "203.0.113.77", "ErasableAgent/1.0", "+1-555-0199-erasable"];

fn janes_event(action: &str) -> Value {
    json!({
        "action": action,
        "actor": {"type": "USER", "externalId": "u-jane", "displayName": SECRETS[0], "email": SECRETS[1]},
        "request": {"ipAddress": SECRETS[2], "userAgent": SECRETS[3], "method": "POST"},
        "metadata": {"contact": {"phone": SECRETS[4]}, "plan": "pro"},
        "changes": [{"field": "phone", "before": null, "after": SECRETS[4]}],
        "personal": ["metadata.contact.phone", "changes.0.after"],
    })
}

fn bobs_event() -> Value {
    json!({
        "action": "profile.update",
        "actor": {"type": "USER", "externalId": "u-bob", "displayName": "Bob Kept", "email": "bob@kept.example"},
        "request": {"ipAddress": "198.51.100.5"},
        "metadata": {"note": "bob stays"},
    })
}

const NODES: &str = r#"query($f: AuditEventFilter, $q: String) { auditEvents(filter: $f, query: $q, first: 50) { totalCount nodes {
    id sequence action canonicalJson leafHash erasedPaths metadata changes { field before after }
    recordedActor { externalId displayName email } actor { id displayName email }
    request { ipAddress userAgent method } inclusionProof { leafIndex treeSize hashes } } } }"#;

async fn nodes(app: &TestApp, key: &str, filter: Value, query: Option<&str>) -> Vec<Value> {
    let data = app.data(key, NODES, json!({ "f": filter, "q": query })).await;
    data["auditEvents"]["nodes"].as_array().unwrap().clone()
}

async fn personal_values_are_sealed_in_the_leaf_and_opened_elsewhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    app.record(&key, json!([janes_event("profile.update")])).await;
    let node = nodes(&app, &key, json!({}), None).await.remove(0);
    let text = node["canonicalJson"].as_str().unwrap();
    for secret in SECRETS {
        assert!(!text.contains(secret), "the leaf holds `{secret}` in plaintext: {text}");
    }
    let leaf: Value = serde_json::from_str(text).unwrap();
    let actor_id = node["actor"]["id"].clone();
    for sealed in [
        &leaf["actor"]["displayName"],
        &leaf["actor"]["email"],
        &leaf["request"]["ipAddress"],
        &leaf["request"]["userAgent"],
        &leaf["metadata"]["contact"]["phone"],
        &leaf["changes"][0]["after"],
    ] {
        let object = sealed.as_object().unwrap_or_else(|| panic!("not sealed: {sealed} in {leaf}"));
        assert_eq!(object.len(), 2, "{sealed}");
        assert_eq!(sealed["kid"], actor_id);
        // 12-byte nonce ‖ ciphertext ‖ 16-byte tag, in standard base64.
        let bytes = base64_len(sealed["sealed"].as_str().unwrap());
        assert!(bytes >= 12 + 16 + 1, "{sealed}");
    }
    assert_eq!(leaf["metadata"]["plan"], "pro");
    assert_eq!(leaf["request"]["method"], "POST");
    // Every other door serves the opened event.
    assert_eq!(node["recordedActor"]["displayName"], SECRETS[0]);
    assert_eq!(node["recordedActor"]["email"], SECRETS[1]);
    assert_eq!(node["request"]["ipAddress"], SECRETS[2]);
    assert_eq!(node["request"]["userAgent"], SECRETS[3]);
    assert_eq!(node["metadata"], json!({"contact": {"phone": SECRETS[4]}, "plan": "pro"}));
    assert_eq!(node["changes"][0]["after"], SECRETS[4]);
    assert_eq!(node["erasedPaths"], json!([]));
    assert_eq!(decode(&node["leafHash"]), sha_leaf(text.as_bytes()));

    let id = node["id"].as_str().unwrap();
    let (status, _, rest) = app.rest_get(&key, &format!("/v1/events/{id}"), &[]).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["actor"]["displayName"], SECRETS[0], "{rest}");
    assert_eq!(rest["request"]["ipAddress"], SECRETS[2]);
    assert_eq!(rest["metadata"]["contact"]["phone"], SECRETS[4]);
    assert_eq!(rest["changes"][0]["after"], SECRETS[4]);
    assert_eq!(rest["leafHash"], node["leafHash"]);
    let (_, _, list) = app.rest_get(&key, "/v1/events", &[]).await;
    assert_eq!(list["data"][0]["actor"]["email"], SECRETS[1], "{list}");
    assert_eq!(list["data"][0]["leafHash"], node["leafHash"]);

    // The NDJSON export is the leaves; CSV is opened.
    let ndjson = export(&app, &key, "ndjson").await;
    let line = ndjson.lines().find(|l| l.contains("profile.update")).unwrap();
    assert_eq!(line, text);
    let csv = export(&app, &key, "csv").await;
    assert!(csv.contains(SECRETS[1]) && csv.contains(SECRETS[2]), "{csv}");
}

fn base64_len(text: &str) -> usize {
    text.len() / 4 * 3 - text.chars().rev().take_while(|&c| c == '=').count()
}

async fn export(app: &TestApp, key: &str, format: &str) -> String {
    let response =
        app.client.get(app.url("/export")).bearer_auth(key).query(&[("format", format)]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn personal_paths_must_match_a_value(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let record = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";
    for (personal, path, why) in [
        (json!(["metadata.missing"]), "events.0.personal.0", "matches no value"),
        (json!(["metadata.plan", "actor.email", "summary"]), "events.0.personal.2", "is not a personal path"),
        (json!(["changes.3.after"]), "events.0.personal.0", "matches no value"),
    ] {
        let event = json!({"action": "a.b", "actor": {"type": "USER", "externalId": "u"},
            "metadata": {"plan": "pro"}, "personal": personal});
        let (_, answer) = app.gql(&key, record, json!({ "e": [event.clone()] })).await;
        assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["field"], path, "{answer}");
        assert!(answer["errors"][0]["message"].as_str().unwrap().contains(why), "{answer}");
        let (status, problem) = app.rest_record(&key, &json!([event]), None).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["errors"][0]["path"], path, "{problem}");
    }
    let count = app.data(&key, r#"{ auditEvents(filter: {action: {eq: "a.b"}}) { totalCount } }"#, json!({})).await;
    assert_eq!(count["auditEvents"]["totalCount"], 0, "nothing was stored");
}

const ERASE: &str =
    "mutation($id: ID!) { eraseActor(id: $id) { actor { id displayName email externalId } eventsAffected } }";

async fn erasure_keeps_every_proof_and_hides_the_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let admin = app.key("admin").await;
    app.record(&key, json!([janes_event("profile.update"), bobs_event(), janes_event("phone.verify")])).await;
    let before = nodes(&app, &key, json!({}), None).await;
    let jane_id = before.iter().find(|n| n["recordedActor"]["externalId"] == "u-jane").unwrap()["actor"]["id"].clone();
    // Filters on the values match while they can be read.
    let by_email = json!({"actor": {"email": [SECRETS[1]]}});
    let by_ip = json!({"ipAddress": SECRETS[2]});
    assert_eq!(nodes(&app, &key, by_email.clone(), None).await.len(), 2);
    assert_eq!(nodes(&app, &key, by_ip.clone(), None).await.len(), 2);
    assert_eq!(nodes(&app, &key, json!({"search": "0199"}), None).await.len(), 2);

    let erased = app.data(&admin, ERASE, json!({ "id": jane_id })).await;
    assert_eq!(erased["eraseActor"]["eventsAffected"], 2, "{erased}");
    assert_eq!(erased["eraseActor"]["actor"]["displayName"], Value::Null);
    assert_eq!(erased["eraseActor"]["actor"]["externalId"], "u-jane");

    let after = nodes(&app, &key, json!({"action": {"in": ["profile.update", "phone.verify"]}}), None).await;
    assert_eq!(after.len(), 3);
    let (size, root, _) = checkpoint(&app, &key).await;
    for node in &after {
        let was = before.iter().find(|b| b["id"] == node["id"]).unwrap();
        // The leaf, and so every proof, is what it was.
        assert_eq!(node["canonicalJson"], was["canonicalJson"]);
        assert_eq!(node["leafHash"], was["leafHash"]);
        let path: Vec<_> = node["inclusionProof"]["hashes"].as_array().unwrap().iter().map(decode).collect();
        let index: u64 = node["inclusionProof"]["leafIndex"].as_str().unwrap().parse().unwrap();
        assert!(rfc_verify_inclusion(index, size, decode(&node["leafHash"]), &path, root));
        if node["recordedActor"]["externalId"] == "u-bob" {
            assert_eq!(node["recordedActor"]["displayName"], "Bob Kept");
            assert_eq!(node["request"]["ipAddress"], "198.51.100.5");
            assert_eq!(node["erasedPaths"], json!([]));
            continue;
        }
        assert_eq!(node["recordedActor"]["displayName"], Value::Null, "{node}");
        assert_eq!(node["recordedActor"]["email"], Value::Null);
        assert_eq!(node["actor"]["displayName"], Value::Null);
        assert_eq!(node["request"]["ipAddress"], Value::Null);
        assert_eq!(node["request"]["userAgent"], Value::Null);
        assert_eq!(node["request"]["method"], "POST");
        assert_eq!(node["metadata"], json!({"contact": {"phone": null}, "plan": "pro"}));
        assert_eq!(node["changes"][0]["after"], Value::Null);
        let mut paths: Vec<&str> =
            node["erasedPaths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            [
                "actor.displayName",
                "actor.email",
                "changes.0.after",
                "metadata.contact.phone",
                "request.ipAddress",
                "request.userAgent"
            ]
        );
        let (_, _, rest) = app.rest_get(&key, &format!("/v1/events/{}", node["id"].as_str().unwrap()), &[]).await;
        assert_eq!(rest["actor"]["email"], Value::Null, "{rest}");
        assert_eq!(rest["request"]["ipAddress"], Value::Null, "{rest}");
        assert_eq!(rest["leafHash"], node["leafHash"]);
    }
    // Filters on erased values match nothing; the rest still do.
    assert!(nodes(&app, &key, by_email, None).await.is_empty());
    assert!(nodes(&app, &key, by_ip, None).await.is_empty());
    assert!(nodes(&app, &key, json!({"search": "0199"}), None).await.is_empty());
    assert_eq!(nodes(&app, &key, json!({"search": "pro"}), None).await.len(), 2);
    assert_eq!(nodes(&app, &key, json!({"ipAddress": "198.51.100.5"}), None).await.len(), 1);

    // The erasure is on the record, without what it erased.
    let own = nodes(&app, &key, json!({"action": {"eq": "privacy.erase"}}), None).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["metadata"], json!({"actorId": jane_id, "eventsAffected": 2}));
    let text = own[0]["canonicalJson"].as_str().unwrap();
    assert!(SECRETS.iter().all(|s| !text.contains(s)), "{text}");

    // Exports and the stored tree still verify.
    app.ledger.persist_grown(&app.store).await.unwrap();
    let dir = WorkDir::new();
    let out = dir.run(&["verify", "--tenant", "acme", "--database-url", app.db_url.as_str()]);
    assert!(out.starts_with("verified "), "{out}");
    let ndjson = export(&app, &key, "ndjson").await;
    assert!(SECRETS.iter().all(|s| !ndjson.contains(s)));
    let csv = export(&app, &key, "csv").await;
    assert!(SECRETS.iter().all(|s| !csv.contains(s)), "{csv}");
    assert!(csv.contains("198.51.100.5"));
}

async fn erasure_is_refused_under_legal_hold_and_without_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read,keys.manage").await;
    let admin = app.key("admin").await;
    app.record(&key, json!([janes_event("profile.update")])).await;
    let jane = nodes(&app, &key, json!({}), None).await.remove(0);
    let id = jane["actor"]["id"].clone();
    let (_, answer) = app.gql(&key, ERASE, json!({ "id": id })).await;
    assert_eq!(error_code(&answer), Some("FORBIDDEN"), "{answer}");

    let hold = "mutation { setTenantRetention(input: {tenant: \"acme\", legalHold: true}) { legalHold } }";
    app.data(&admin, hold, json!({})).await;
    let (_, answer) = app.gql(&admin, ERASE, json!({ "id": id })).await;
    assert_eq!(error_code(&answer), Some("FORBIDDEN"), "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("legal hold"), "{answer}");
    let (_, answer) = app.gql(&admin, ERASE, json!({ "id": "act_00000000000000000000000000000009" })).await;
    assert_eq!(error_code(&answer), Some("FORBIDDEN"), "under hold, refused before looking: {answer}");
    // Nothing was erased.
    let still = nodes(&app, &key, json!({}), None).await;
    let jane_now = still.iter().find(|n| n["id"] == jane["id"]).unwrap();
    assert_eq!(jane_now["recordedActor"]["email"], SECRETS[1]);
    assert_eq!(jane_now["request"]["ipAddress"], SECRETS[2]);
    assert!(still.iter().all(|n| n["action"] != "privacy.erase"));

    let lift = "mutation { setTenantRetention(input: {tenant: \"acme\", legalHold: false}) { legalHold } }";
    app.data(&admin, lift, json!({})).await;
    let (_, answer) = app.gql(&admin, ERASE, json!({ "id": "act_00000000000000000000000000000009" })).await;
    assert_eq!(error_code(&answer), Some("NOT_FOUND"), "{answer}");
    let (_, answer) = app.gql(&admin, ERASE, json!({ "id": "evt_00000000000000000000000000000009" })).await;
    assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
    let done = app.data(&admin, ERASE, json!({ "id": id })).await;
    assert_eq!(done["eraseActor"]["eventsAffected"], 1);
}

/// Every table's rows as text, on PostgreSQL; the database file and its
/// write-ahead log, on SQLite.
async fn stored_bytes(app: &TestApp, backend: Backend) -> Vec<u8> {
    match backend {
        Backend::Sqlite => {
            let path = app.db_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
            let mut bytes = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            bytes
        }
        Backend::Postgres => {
            use sea_orm::{ConnectionTrait, Database, Statement};
            let db = Database::connect(&app.db_url).await.unwrap();
            let tables = db
                .query_all_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                ))
                .await
                .unwrap();
            let mut text = String::new();
            for row in tables {
                let table: String = row.try_get("", "tablename").unwrap();
                let sql = format!("SELECT coalesce(string_agg(t::text, ' '), '') AS all FROM \"{table}\" t");
                let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
                text.push_str(&rows[0].try_get::<String>("", "all").unwrap());
            }
            db.close().await.unwrap();
            text.into_bytes()
        }
    }
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn no_plaintext_remains_in_the_database_after_erasure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let admin = app.key("admin").await;
    let events: Vec<Value> = (0..20).map(|i| janes_event(&format!("profile.e{i}"))).chain([bobs_event()]).collect();
    app.record(&key, json!(events)).await;
    let bytes = stored_bytes(&app, backend).await;
    // The test sees what it looks for before the erasure.
    assert!(holds(&bytes, SECRETS[1]) && holds(&bytes, SECRETS[2]), "the profile and the filter columns hold them");
    let id = nodes(&app, &key, json!({"action": {"eq": "profile.e0"}}), None).await[0]["actor"]["id"].clone();
    app.data(&admin, ERASE, json!({ "id": id })).await;
    let bytes = stored_bytes(&app, backend).await;
    for secret in SECRETS {
        assert!(!holds(&bytes, secret), "`{secret}` is still stored");
    }
    assert!(holds(&bytes, "bob@kept.example") && holds(&bytes, "198.51.100.5"));
}

async fn erasure_from_the_command_line_with_a_data_key_file(backend: Backend) {
    let dir = WorkDir::new();
    let file = dir.0.join("master.key");
    let file = file.to_str().unwrap();
    dir.run(&["datakey", file]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let written = std::fs::read_to_string(file).unwrap();
    let again = dir.output(&["datakey", file]);
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(file).unwrap(), written, "never overwritten");

    let path = std::path::PathBuf::from(file);
    let mut app = TestApp::spawn_with(backend, |s| s.db.data_key = Some(path.clone())).await;
    let key = app.key("audit.write,audit.read").await;
    app.record(&key, json!([janes_event("profile.update"), bobs_event()])).await;
    app.stop().await;
    let url = app.db_url.clone();
    let erase = |kind: &str, who: &str, key_file: &str| {
        let args = ["erase", "--tenant", "acme", "--actor-type", kind, "--external-id", who];
        dir.output(&[&args[..], &["--database-url", &url, "--data-key", key_file]].concat())
    };
    // Another master key cannot open this database's data keys: refused at start.
    let other = dir.0.join("other.key");
    dir.run(&["datakey", other.to_str().unwrap()]);
    let out = erase("USER", "u-jane", other.to_str().unwrap());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!erase("USER", "u-nobody", file).status.success());
    let out = erase("user", "u-jane", file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 events affected"));

    app.restart(|s| s.db.data_key = Some(path.clone())).await;
    let all = nodes(&app, &key, json!({}), None).await;
    let jane =
        all.iter().find(|n| n["action"] == "profile.update" && n["recordedActor"]["externalId"] == "u-jane").unwrap();
    assert_eq!(jane["recordedActor"]["email"], Value::Null, "{jane}");
    let bob = all.iter().find(|n| n["recordedActor"]["externalId"] == "u-bob").unwrap();
    assert_eq!(bob["recordedActor"]["email"], "bob@kept.example");
    let erase = all.iter().find(|n| n["action"] == "privacy.erase").expect("the command line's erasure is recorded");
    assert_eq!(erase["metadata"]["eventsAffected"], 1);
}

async fn subscribers_see_opened_values_before_and_after_an_erasure(backend: Backend) {
    use crate::subscriptions::{Client, Protocol, Received, wait_for_subscribers};
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let admin = app.key("admin").await;
    let mut client = Client::connect_with_key(&app.url(""), Protocol::TransportWs, &key).await;
    let query = r#"subscription { auditEventRecorded(filter: {action: {prefix: "profile."}}) {
        actor { id } recordedActor { displayName } metadata erasedPaths } }"#;
    client.subscribe("1", query, json!({})).await;
    wait_for_subscribers(&app, 1).await;
    let mut next = async || match client.receive(std::time::Duration::from_secs(10)).await {
        Some(Received::Data(d)) => d["auditEventRecorded"].clone(),
        other => panic!("expected an event, got {other:?}"),
    };
    app.record(&key, json!([janes_event("profile.first")])).await;
    let first = next().await;
    assert_eq!(first["recordedActor"]["displayName"], SECRETS[0], "{first}");
    assert_eq!(first["metadata"]["contact"]["phone"], SECRETS[4]);
    app.data(&admin, ERASE, json!({ "id": first["actor"]["id"] })).await;
    // The same person records again: a new data key seals it, and the
    // subscription opens it (no key of before is kept).
    app.record(&key, json!([janes_event("profile.again")])).await;
    let again = next().await;
    assert_eq!(again["recordedActor"]["displayName"], SECRETS[0], "{again}");
    assert_eq!(again["erasedPaths"], json!([]));
    // What was erased stays erased.
    let old = nodes(&app, &key, json!({"action": {"eq": "profile.first"}}), None).await.remove(0);
    assert_eq!(old["recordedActor"]["displayName"], Value::Null, "{old}");
}
