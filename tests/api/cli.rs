//! The command line, driven through the real binary: migrate, tenants, keys,
//! serve, where `--database-url` may go, and its errors.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::{Backend, TestDb, backend_tests, error_code};
use crate::process::{BIN, Server, WorkDir};

/// The `tenant list` row of `slug`, split on whitespace.
fn tenant_row(list: &str, slug: &str) -> Vec<String> {
    list.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|fields| fields.iter().any(|f| f == slug))
        .unwrap_or_else(|| panic!("no row for `{slug}` in:\n{list}"))
}

/// Asserts `tenant list` shows `slug` with `events` events.
fn assert_listed(list: &str, slug: &str, events: u32) {
    let row = tenant_row(list, slug);
    assert!(row.iter().any(|f| *f == events.to_string()), "`{slug}` with {events} events:\n{list}");
}

/// The secret printed by `key create`: stdout holds it alone.
fn secret_of(stdout: &str) -> String {
    let secret = stdout.strip_suffix('\n').unwrap_or(stdout);
    assert!(
        !secret.is_empty() && !secret.chars().any(char::is_whitespace),
        "stdout must be the secret alone: {stdout:?}"
    );
    secret.to_string()
}

async fn operator_workflow(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let url = db.url.as_str();

    dir.run(&["migrate", "--database-url", url]);
    dir.run(&["migrate", "--database-url", url]); // again: nothing pending, still fine

    let out = dir.run(&["tenant", "create", "acme", "--name", "Acme Inc.", "--database-url", url]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "the ID alone: {out:?}");
    let tenant_id = lines[0].trim().to_string();
    assert!(tenant_id.starts_with("ten_"), "{tenant_id:?}");
    let list = dir.run(&["tenant", "list", "--database-url", url]);
    assert!(tenant_row(&list, "acme").contains(&tenant_id), "{list}");
    assert_listed(&list, "acme", 1); // its tenant.create event
    assert!(list.contains("Acme Inc."), "{list}");

    let secret = secret_of(&dir.run(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--scopes",
        "audit.read,audit.write",
        "--database-url",
        url,
    ]));
    let reader = secret_of(&dir.run(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--scopes",
        "audit.read",
        "--name",
        "auditor",
        "--database-url",
        url,
    ]));
    assert_ne!(secret, reader);
    // The shell idiom of the contract.
    let via_shell = Command::new("sh")
        .arg("-c")
        .arg(r#"KEY=$("$0" key create --tenant acme --scopes audit.read --database-url "$1") && printf '%s' "$KEY""#)
        .arg(BIN)
        .arg(url)
        .current_dir(&dir.0)
        .env_remove("AUDITGRAPH_DATABASE_URL")
        .output()
        .expect("sh");
    assert!(via_shell.status.success(), "{}", String::from_utf8_lossy(&via_shell.stderr));
    let shell_key = String::from_utf8(via_shell.stdout).unwrap();
    assert_eq!(secret_of(&shell_key), shell_key, "$(…) yields the secret alone");

    // Refusals: an unknown tenant, an unknown scope. Non-zero, a message, no secret.
    for args in [
        &["key", "create", "--tenant", "nobody", "--scopes", "audit.read", "--database-url", url][..],
        &["key", "create", "--tenant", "acme", "--scopes", "audit.read,root", "--database-url", url][..],
    ] {
        let out = dir.output(args);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("nobody") || stderr.contains("root"), "{stderr}");
    }

    let server = Server::start(&dir, url).await;
    let data = server
        .data(
            &secret,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": [{ "action": "cli.flow.record", "actor": { "type": "USER", "externalId": "u-1" } }] }),
        )
        .await;
    assert_eq!(data["recordAuditEvents"]["createdCount"], 1);
    let data = server
        .data(
            &secret,
            "{ viewer { tenant { id slug name } apiKey { id prefix } } auditEvents { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["viewer"]["tenant"], json!({ "id": tenant_id, "slug": "acme", "name": "Acme Inc." }));
    // tenant.create, three api_key.create, one recorded.
    assert_eq!(data["auditEvents"]["totalCount"], 5);
    let key_id = data["viewer"]["apiKey"]["id"].as_str().unwrap().to_string();
    for other in [&reader, &shell_key] {
        let data = server.data(other, "{ viewer { scopes } auditEvents { totalCount } }", json!({})).await;
        assert_eq!(data["viewer"]["scopes"], json!(["AUDIT_READ"]));
        assert_eq!(data["auditEvents"]["totalCount"], 5);
    }
    let prefix = data["viewer"]["apiKey"]["prefix"].as_str().unwrap().to_string();

    let list = dir.run(&["tenant", "list", "--database-url", url]);
    assert_listed(&list, "acme", 5);

    // key list: every key, never a secret.
    let keys = dir.run(&["key", "list", "--tenant", "acme", "--database-url", url]);
    let row = keys.lines().find(|l| l.contains(&key_id)).unwrap_or_else(|| panic!("{key_id} in:\n{keys}"));
    assert!(row.contains(&prefix) && row.contains("active"), "{row}");
    for s in [&secret, &reader, &shell_key] {
        assert!(!keys.contains(s.as_str()), "a secret is listed:\n{keys}");
        assert!(!keys.contains(&auditgraph::domain::secret::hash_secret(s)), "a hash is listed:\n{keys}");
    }
    assert_eq!(keys.lines().filter(|l| l.contains("key_")).count(), 3, "{keys}");

    // key revoke: the running server refuses the key from now on.
    dir.run(&["key", "revoke", &key_id, "--database-url", url]);
    let (status, body) = server.gql(&secret, "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"), "{body}");
    let keys = dir.run(&["key", "list", "--tenant", "acme", "--database-url", url]);
    let row = keys.lines().find(|l| l.contains(&key_id)).unwrap();
    assert!(row.contains("revoked"), "{row}");
    // Audited by SYSTEM; the other keys still work.
    let data = server
        .data(
            &reader,
            r#"{ auditEvents(filter: {action: {eq: "api_key.revoke"}}) { nodes { actor { type } resource { externalId } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["auditEvents"]["nodes"],
        json!([{ "actor": { "type": "SYSTEM" }, "resource": { "externalId": key_id } }])
    );
    // Revoking an unknown key fails with a message.
    let out = dir.output(&["key", "revoke", "key_00000000000000000000000000000000", "--database-url", url]);
    assert!(!out.status.success());
    assert!(!out.stderr.is_empty());
    drop(server);
    assert!(!dir.has_default_db(), "every command used --database-url");
}

async fn database_url_goes_anywhere(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let url = db.url.as_str();

    // Before the command, after its arguments, in between, and from the environment.
    dir.run(&["--database-url", url, "tenant", "create", "one"]);
    dir.run(&["tenant", "create", "two", "--database-url", url]);
    dir.run(&["tenant", "--database-url", url, "create", "three", "--name", "Three"]);
    let out = dir.command(&["tenant", "create", "four"]).env("AUDITGRAPH_DATABASE_URL", url).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = dir.command(&["migrate"]).env("AUDITGRAPH_DATABASE_URL", url).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let via_env = dir.command(&["tenant", "list"]).env("AUDITGRAPH_DATABASE_URL", url).output().expect("run");
    assert!(via_env.status.success());
    let lists = [
        dir.run(&["--database-url", url, "tenant", "list"]),
        dir.run(&["tenant", "list", "--database-url", url]),
        String::from_utf8(via_env.stdout).unwrap(),
    ];
    for list in &lists {
        for slug in ["one", "two", "three", "four"] {
            assert_listed(list, slug, 1);
        }
    }
    assert_eq!(lists[0], lists[1]);
    assert_eq!(lists[0], lists[2]);

    // key commands too.
    secret_of(&dir.run(&["--database-url", url, "key", "create", "--tenant", "one", "--scopes", "audit.read"]));
    secret_of(&dir.run(&["key", "create", "--tenant", "two", "--scopes", "audit.read", "--database-url", url]));
    let keys = dir.run(&["key", "list", "--database-url", url, "--tenant", "one"]);
    assert_eq!(keys.lines().filter(|l| l.contains("key_")).count(), 1, "{keys}");
    assert!(!dir.has_default_db(), "no command fell back to the default database");
}

/// An unreachable database: non-zero exit, the URL named, its password not.
#[test]
fn unreachable_database_names_the_url_but_not_the_password() {
    let dir = WorkDir::new();
    let url = "postgres://u:pa55word-secret@127.0.0.1:1/x";
    let commands = [
        vec!["migrate", "--database-url", url],
        vec!["--database-url", url, "tenant", "list"],
        vec!["key", "list", "--tenant", "acme", "--database-url", url],
        vec!["serve", "--listen", "127.0.0.1:0", "--database-url", url],
    ];
    // All at once: each may wait for its connection timeout.
    let started = Instant::now();
    let children: Vec<Child> = commands
        .iter()
        .map(|args| {
            dir.command(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn auditgraph")
        })
        .collect();
    for (args, child) in commands.iter().zip(children) {
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail: {stderr}");
        assert!(
            stderr.contains("127.0.0.1:1/x") && stderr.contains("postgres://u"),
            "{args:?}: the URL is named: {stderr}"
        );
        assert!(!stderr.contains("pa55word"), "{args:?}: the password leaked: {stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("pa55word"), "{args:?}: the password leaked on stdout");
    }
    assert!(started.elapsed() < Duration::from_secs(60), "the commands gave up in time");
}

/// `auditgraph schema` prints exactly `schema.graphql`.
#[test]
fn schema_command_prints_schema_graphql() {
    let dir = WorkDir::new();
    let printed = dir.run(&["schema"]);
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).expect("schema.graphql");
    assert!(printed.contains("type Query"), "{printed}");
    assert!(printed == on_disk, "`auditgraph schema` differs from schema.graphql");
}

/// `seed` keeps its promise on a small run: new tenants `seed-1` … with the
/// skewed split (each also holds its `tenant.create`), whole verifiable logs,
/// and no progress bar when stderr is not a terminal.
async fn seed_loads_the_promised_shape(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let url = db.url.as_str();
    let args = ["--events", "2500", "--tenants", "3", "--actors", "40", "--resources", "120", "--batch", "300"];
    let out = dir.command(&[&["seed", "--database-url", url][..], &args].concat()).output().expect("run seed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("seeded 2500 events in 3 tenants"), "{stderr}");
    assert!(!stderr.contains('\r') && !stderr.contains("events/s,"), "a bar was drawn off a terminal: {stderr:?}");
    let split = auditgraph::seed::split(2_500, 3);
    assert!(split[0] > split[1] && split[1] > split[2], "{split:?}");
    let list = dir.run(&["tenant", "list", "--database-url", url]);
    for (i, n) in split.iter().enumerate() {
        let slug = format!("seed-{}", i + 1);
        assert_listed(&list, &slug, *n as u32 + 1);
        let verified = dir.output(&["verify", "--tenant", &slug, "--database-url", url]);
        assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    }
}

/// `seed --backdate` loads a history: received over the days asked, in
/// sequence order, each event occurring shortly before it was received, and
/// still a whole verifiable log; a retention shorter than the history then
/// finds the older events due.
async fn seed_backdates_a_history(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let url = db.url.as_str();
    let args = ["--events", "1200", "--actors", "20", "--resources", "60", "--batch", "100", "--days", "90"];
    let out =
        dir.command(&[&["seed", "--backdate", "--database-url", url][..], &args].concat()).output().expect("seed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let conn = sea_orm::Database::connect(url).await.unwrap();
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT e.received_at, e.occurred_at FROM audit_event e JOIN tenant t ON t.id = e.tenant_id
             WHERE t.slug = 'seed-1' AND e.action <> 'tenant.create' ORDER BY e.sequence",
        ))
        .await
        .unwrap();
    let times: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        rows.iter().map(|r| (r.try_get("", "received_at").unwrap(), r.try_get("", "occurred_at").unwrap())).collect();
    assert_eq!(times.len(), 1200);
    let now = chrono::Utc::now();
    // Received in batches evenly over the span: 12 instants, the first a
    // twelfth of the span in, the last now. (Sequence follows commit order,
    // which concurrent writers may shuffle a little.)
    let mut instants: Vec<_> = times.iter().map(|t| t.0).collect();
    instants.sort();
    instants.dedup();
    let (first, last) = (instants[0], instants[instants.len() - 1]);
    assert!(now - first > chrono::Duration::days(82) && now - first < chrono::Duration::days(83), "{first}");
    assert!(now - last < chrono::Duration::hours(1), "{last}");
    assert_eq!(instants.len(), 12, "{instants:?}");
    for (received, occurred) in &times {
        assert!(occurred <= received && *received - *occurred <= chrono::Duration::minutes(1));
    }
    let verified = dir.output(&["verify", "--tenant", "seed-1", "--database-url", url]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));

    dir.run(&["tenant", "retention", "seed-1", "--days", "30", "--database-url", url]);
    // Due: the 8 batches received 30 or more days ago (the tenant's creation
    // is the server's own record, never purged); a purge takes a prefix of the
    // log, so a batch committed out of order may hold back the few before it.
    let planned = dir.run(&["purge", "--dry-run", "--ignore-grace", "--database-url", url]);
    let count: u32 = planned
        .lines()
        .find_map(|line| line.strip_prefix("seed-1: would purge "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{planned}"));
    assert!((500..=800).contains(&count) && count % 100 == 0, "{planned}");
}

backend_tests!(operator_workflow, database_url_goes_anywhere, seed_loads_the_promised_shape, seed_backdates_a_history);
