//! The command-line client, `auditgraph events list|tail`: the real binary
//! against a real server on each backend. Its results are compared with the
//! GraphQL API's own answers to the same filter.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{Backend, TestApp, TestDb, backend_tests};
use crate::process::{Server, WorkDir};
use crate::subscriptions::{wait_for_no_subscribers, wait_for_subscribers};

backend_tests!(
    list_selects_what_graphql_selects,
    the_three_outputs_agree,
    list_pages_past_one_page,
    errors_are_coded_and_exit_non_zero,
    tail_prints_events_recorded_after_it_started,
    tail_says_why_it_stopped,
);

/// `auditgraph events ARGS` against `base` with `key` (given as the
/// environment variables, as a script would), in a scratch directory.
fn events(dir: &WorkDir, base: &str, key: &str, args: &[&str]) -> Command {
    let mut cmd = dir.command(&[&["events"], args].concat());
    cmd.env("AUDITGRAPH_URL", base)
        .env("AUDITGRAPH_KEY", key)
        .env_remove("AUDITGRAPH_TENANT")
        .env_remove("AUDITGRAPH_OUTPUT")
        .stdin(Stdio::null());
    cmd
}

fn run(dir: &WorkDir, app: &TestApp, key: &str, args: &[&str]) -> Output {
    let mut cmd = events(dir, &app.url(""), key, args);
    tokio::task::block_in_place(|| cmd.output()).expect("run auditgraph events")
}

/// Runs a command that must succeed; its stdout.
fn stdout(dir: &WorkDir, app: &TestApp, key: &str, args: &[&str]) -> String {
    let out = run(dir, app, key, args);
    assert!(out.status.success(), "events {args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The events of NDJSON output.
fn ndjson(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["id"].as_str().expect("an id").to_string()).collect()
}

/// What `auditEvents` answers for `filter` and `order_by`: every page.
async fn graphql_events(app: &TestApp, key: &str, filter: Value, order_by: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                key,
                "query($f: AuditEventFilter, $o: AuditEventOrder, $a: String) { auditEvents(filter: $f, orderBy: $o, first: 500, after: $a) { nodes { canonicalJson } pageInfo { hasNextPage endCursor } } }",
                json!({ "f": filter, "o": order_by, "a": after }),
            )
            .await;
        let page = &data["auditEvents"];
        for node in page["nodes"].as_array().unwrap() {
            out.push(serde_json::from_str(node["canonicalJson"].as_str().unwrap()).unwrap());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// A varied log: actions, actors, resources, outcomes, environments and
/// times to filter on.
async fn record_variety(app: &TestApp, key: &str) {
    let at = |hour: u32| format!("2024-05-01T{hour:02}:00:00.25Z");
    let event = |action: &str, actor: &str, actor_type: &str, hour: u32| json!({ "action": action, "occurredAt": at(hour), "actor": { "type": actor_type, "externalId": actor } });
    let mut events = vec![
        event("vm.start", "u-1", "USER", 1),
        event("vm.stop", "u-2", "USER", 2),
        event("vm.snapshot.create", "svc-9", "SERVICE_ACCOUNT", 3),
        event("user.login", "u-1", "USER", 4),
        event("user.logout", "u-2", "USER", 5),
        event("vm.start", "u-2", "USER", 6),
        event("api.call", "svc-9", "SERVICE_ACCOUNT", 7),
        event("vm.stop", "u-1", "USER", 8),
        event("user.login", "u-3", "USER", 9),
        event("vmx.start", "u-3", "USER", 10),
    ];
    for (n, e) in events.iter_mut().enumerate() {
        if n % 3 == 0 {
            e["outcome"] = json!("FAILURE");
        }
        e["environment"] = json!(if n % 2 == 0 { "prod" } else { "staging" });
        if e["action"].as_str().unwrap().starts_with("vm") {
            e["resource"] = json!({ "type": "vm", "externalId": format!("vm-{}", n % 2) });
        }
        e["summary"] = json!(format!("{} number {n}", e["action"].as_str().unwrap().to_uppercase()));
    }
    app.record(key, json!(events)).await;
}

async fn list_selects_what_graphql_selects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    record_variety(&app, &key).await;
    let dir = WorkDir::new();
    let newest = json!({ "field": "OCCURRED_AT", "direction": "DESC" });
    let all = graphql_events(&app, &key, json!({}), newest.clone()).await;
    let cases: Vec<(Vec<&str>, Value)> = vec![
        (vec!["--action-prefix", "vm."], json!({ "action": { "prefix": "vm." } })),
        (
            vec!["--action", "vm.start", "--action", "user.login"],
            json!({ "action": { "in": ["vm.start", "user.login"] } }),
        ),
        (vec!["--category", "user"], json!({ "category": { "eq": "user" } })),
        (vec!["--actor", "u-2"], json!({ "actor": { "externalId": ["u-2"] } })),
        (vec!["--actor-type", "service_account"], json!({ "actor": { "type": ["SERVICE_ACCOUNT"] } })),
        (vec!["--outcome", "failure"], json!({ "outcome": "FAILURE" })),
        (
            vec!["--resource-type", "vm", "--resource", "vm-1"],
            json!({ "resource": { "type": ["vm"], "externalId": ["vm-1"] } }),
        ),
        (vec!["--environment", "staging"], json!({ "environment": { "eq": "staging" } })),
        (vec!["--text", "snapshot"], json!({ "text": "snapshot" })),
        (
            vec!["--since", "2024-05-01T03:00:00.25Z", "--until", "2024-05-01T07:00:00.25Z"],
            json!({ "occurredAt": { "gte": "2024-05-01T03:00:00.25Z", "lt": "2024-05-01T07:00:00.25Z" } }),
        ),
        (
            vec!["--filter", r#"{"or": [{"outcome": "FAILURE"}, {"actor": {"externalId": ["u-3"]}}]}"#],
            json!({ "or": [{ "outcome": "FAILURE" }, { "actor": { "externalId": ["u-3"] } }] }),
        ),
        // Flags narrow --filter, beside its fields or under its `and`.
        (
            vec!["--filter", r#"{"environment": {"eq": "prod"}}"#, "--action-prefix", "vm."],
            json!({ "environment": { "eq": "prod" }, "action": { "prefix": "vm." } }),
        ),
        (
            vec!["--filter", r#"{"action": {"prefix": "vm."}}"#, "--action", "vm.stop", "--actor", "u-1"],
            json!({ "and": [{ "action": { "prefix": "vm." } }, { "action": { "eq": "vm.stop" } }], "actor": { "externalId": ["u-1"] } }),
        ),
    ];
    for (args, filter) in cases {
        let expected = ids(&graphql_events(&app, &key, filter.clone(), newest.clone()).await);
        assert!(!expected.is_empty() && expected.len() < all.len(), "{filter} must select some events, not all");
        let got = ids(&ndjson(&stdout(&dir, &app, &key, &[&["list", "--output", "ndjson"], &args[..]].concat())));
        assert_eq!(got, expected, "{args:?} ≡ {filter}");
    }
    for (order, order_by) in [
        ("newest", newest.clone()),
        ("oldest", json!({ "field": "OCCURRED_AT", "direction": "ASC" })),
        ("sequence", json!({ "field": "SEQUENCE", "direction": "ASC" })),
    ] {
        let expected = ids(&graphql_events(&app, &key, json!({}), order_by).await);
        let got = ids(&ndjson(&stdout(&dir, &app, &key, &["list", "--output", "ndjson", "--order", order])));
        assert_eq!(got, expected, "--order {order}");
    }
    // A duration ago: every event above is older than an hour, the key's creation is not.
    let recent = ndjson(&stdout(&dir, &app, &key, &["list", "--output", "ndjson", "--since", "1h"]));
    assert!(recent.iter().all(|e| e["action"] == "api_key.create" || e["action"] == "tenant.create"), "{recent:?}");
    assert!(!recent.is_empty());
}

/// The header's column names with the character offset each starts at.
fn columns(header: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let chars: Vec<char> = header.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c != ' ' && (i == 0 || chars[i - 1] == ' ') {
            let name: String = chars[i..].iter().take_while(|c| **c != ' ').collect();
            out.push((name, i));
        }
    }
    out
}

/// A row's cells, cut at the header's column offsets.
fn cells(columns: &[(String, usize)], row: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = row.chars().collect();
    let mut out = Vec::new();
    for (n, (name, start)) in columns.iter().enumerate() {
        // A right-aligned column ends where the next begins; others start at their header.
        let begin = if n == 0 { 0 } else { *start };
        let end = columns.get(n + 1).map_or(chars.len(), |(_, next)| *next).min(chars.len());
        out.push((name.clone(), chars[begin..end].iter().collect::<String>().trim().to_string()));
    }
    out
}

async fn the_three_outputs_agree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    record_variety(&app, &key).await;
    let mut odd = crate::helpers::event("odd.multi-line");
    odd["summary"] = json!("two\nlines");
    odd["resource"] = json!({ "type": "doc", "externalId": "d-1" });
    app.record(&key, json!([odd])).await;
    let dir = WorkDir::new();
    let args = ["list", "--limit", "8"];

    // NDJSON: the canonical events, byte for byte, in the API's order.
    let text = stdout(&dir, &app, &key, &[&args[..], &["--output", "ndjson"]].concat());
    let canonical: Vec<String> = app
        .data(&key, "{ auditEvents(first: 8) { nodes { canonicalJson } } }", json!({}))
        .await["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["canonicalJson"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), canonical);
    let events = ndjson(&text);
    assert_eq!(events.len(), 8);

    // Piped, with no --output: NDJSON.
    assert_eq!(stdout(&dir, &app, &key, &args), text);

    // JSON: one array of the same events.
    let array: Value = serde_json::from_str(&stdout(&dir, &app, &key, &[&args[..], &["--output", "json"]].concat()))
        .expect("one JSON document");
    assert_eq!(array, Value::Array(events.clone()));
    let none = stdout(&dir, &app, &key, &["list", "--output", "json", "--action", "no.such"]);
    assert_eq!(serde_json::from_str::<Value>(&none).unwrap(), json!([]));

    // Table: a header, then one aligned row per event.
    let table = stdout(&dir, &app, &key, &[&args[..], &["--output", "table"]].concat());
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + events.len(), "{table}");
    let columns = columns(lines[0]);
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["SEQ", "TIME", "OUTCOME", "ACTION", "ACTOR", "RESOURCE", "SUMMARY"], "{table}");
    for (row, event) in lines[1..].iter().zip(&events) {
        let cells = cells(&columns, row);
        let cell = |name: &str| cells.iter().find(|(n, _)| n == name).unwrap().1.clone();
        assert_eq!(cell("SEQ"), event["sequence"].as_str().unwrap(), "{row}");
        let occurred = event["occurredAt"].as_str().unwrap();
        assert_eq!(cell("TIME"), format!("{}Z", &occurred[..19]), "{row}");
        assert_eq!(cell("OUTCOME"), event["outcome"].as_str().unwrap(), "{row}");
        assert_eq!(cell("ACTION"), event["action"].as_str().unwrap(), "{row}");
        assert_eq!(cell("ACTOR"), event["actor"]["externalId"].as_str().unwrap(), "{row}");
        let resource = match &event["resource"] {
            Value::Null => "-".to_string(),
            r => format!("{}:{}", r["type"].as_str().unwrap(), r["externalId"].as_str().unwrap()),
        };
        if resource.chars().count() <= 40 {
            assert_eq!(cell("RESOURCE"), resource, "{row}");
        } else {
            assert!(cell("RESOURCE").ends_with('…'), "{row}");
        }
        let summary = event["summary"].as_str().map_or("-".to_string(), |s| s.replace('\n', "\\n"));
        assert_eq!(cell("SUMMARY"), summary, "{row}");
    }
}

async fn list_pages_past_one_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let batch: Vec<Value> = (0..105).map(|n| crate::helpers::event(&format!("bulk.n{n}"))).collect();
    app.record(&key, json!(batch)).await;
    let dir = WorkDir::new();
    let sequence = json!({ "field": "SEQUENCE", "direction": "ASC" });
    let expected = ids(&graphql_events(&app, &key, json!({ "action": { "prefix": "bulk." } }), sequence).await);
    assert_eq!(expected.len(), 105);
    let list = |extra: &[&str]| {
        let base = ["list", "--output", "ndjson", "--action-prefix", "bulk.", "--order", "sequence"];
        ids(&ndjson(&stdout(&dir, &app, &key, &[&base[..], extra].concat())))
    };
    // Eleven pages of ten, stitched in order, each event once.
    assert_eq!(list(&["--all", "--page-size", "10"]), expected);
    assert_eq!(list(&["--all"]), expected);
    // --limit stops mid-page and across pages; the default is 100.
    assert_eq!(list(&["--limit", "25", "--page-size", "10"]), expected[..25]);
    assert_eq!(list(&["--limit", "3"]), expected[..3]);
    assert_eq!(list(&[]), expected[..100]);
    assert_eq!(list(&["--limit", "0"]), Vec::<String>::new());
}

/// Runs a command that must fail; its stderr.
fn failure(dir: &WorkDir, app: &TestApp, key: &str, args: &[&str]) -> String {
    let out = run(dir, app, key, args);
    assert!(!out.status.success(), "events {args:?} must fail");
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() || out.stdout == b"[]\n", "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn errors_are_coded_and_exit_non_zero(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let writer = app.key("audit.write").await;
    let dir = WorkDir::new();
    let bad_id = r#"{"actor": {"id": ["act_nope"]}}"#;
    for command in ["list", "tail"] {
        // A filter the server refuses: its code and the path into --filter, also beside other flags.
        for extra in [&[][..], &["--action-prefix", "vm."][..]] {
            let stderr = failure(&dir, &app, &key, &[&[command, "--filter", bad_id], extra].concat());
            assert!(stderr.contains("error: BAD_USER_INPUT at filter.actor.id.0: "), "{command}: {stderr}");
        }
        let stderr = failure(&dir, &app, &key, &[command, "--filter", r#"{"nope": 1}"#]);
        assert!(stderr.contains("GRAPHQL_VALIDATION_FAILED") && stderr.contains("nope"), "{stderr}");
        // A wrong key, a key without audit.read.
        let stderr = failure(&dir, &app, "agk_wrong", &[command]);
        assert!(stderr.contains("error: UNAUTHENTICATED: "), "{command}: {stderr}");
        let stderr = failure(&dir, &app, &writer, &[command]);
        assert!(stderr.contains("error: FORBIDDEN: "), "{command}: {stderr}");
        // What the flags themselves say is checked before anything is sent.
        let stderr = failure(&dir, &app, &key, &[command, "--filter", "{"]);
        assert!(stderr.contains("--filter: not JSON"), "{stderr}");
        let stderr = failure(&dir, &app, &key, &[command, "--since", "last tuesday"]);
        assert!(stderr.contains("--since: `last tuesday`"), "{stderr}");
    }
    let stderr = failure(&dir, &app, &key, &["list", "--limit", "5", "--all"]);
    assert!(stderr.contains("--all"), "{stderr}");
    let stderr = failure(&dir, &app, &key, &["list", "--page-size", "501"]);
    assert!(stderr.contains("--page-size"), "{stderr}");
    // No server there.
    let out = {
        let mut cmd = events(&dir, "http://127.0.0.1:1", &key, &["list"]);
        tokio::task::block_in_place(|| cmd.output()).unwrap()
    };
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: cannot reach http://127.0.0.1:1/"));
}

/// `events tail` running as a child process: its stdout lines as they come.
struct Tail {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Tail {
    fn start(dir: &WorkDir, base: &str, key: &str, args: &[&str]) -> Tail {
        let mut child = events(dir, base, key, &[&["tail"], args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn events tail");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Tail { child, lines, stderr, stderr_reader: Some(stderr_reader) }
    }

    async fn line(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(20), self.lines.recv()).await {
            Ok(Some(line)) => line,
            other => panic!("no line from tail ({other:?}); stderr: {}", self.stderr.lock().unwrap()),
        }
    }

    /// Waits for the process to end by itself; its status and all of its stderr.
    async fn exit(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                if let Some(reader) = self.stderr_reader.take() {
                    tokio::task::block_in_place(|| reader.join()).expect("stderr reader");
                }
                return (status, self.stderr.lock().unwrap().clone());
            }
            assert!(Instant::now() < deadline, "tail never ended; stderr: {}", self.stderr.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([name, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn tail_prints_events_recorded_after_it_started(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let dir = WorkDir::new();
    app.record(&key, json!([crate::helpers::event("live.before")])).await;

    let mut tail = Tail::start(&dir, &app.url(""), &key, &["--output", "ndjson", "--action-prefix", "live."]);
    wait_for_subscribers(&app, 1).await;
    app.record(
        &key,
        json!([crate::helpers::event("live.a"), crate::helpers::event("other.b"), crate::helpers::event("live.c")]),
    )
    .await;
    app.record(&key, json!([crate::helpers::event("live.d")])).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(serde_json::from_str::<Value>(&tail.line().await).expect("an NDJSON line"));
    }
    let actions: Vec<&str> = got.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["live.a", "live.c", "live.d"]);
    // The lines are the canonical events the API serves.
    let listed = graphql_events(
        &app,
        &key,
        json!({ "action": { "in": ["live.a", "live.c", "live.d"] } }),
        json!({ "field": "SEQUENCE", "direction": "ASC" }),
    )
    .await;
    assert_eq!(got, listed);
    // Ctrl-C: a clean stop, and the server's subscription ends with it.
    tail.signal("-INT");
    let (status, stderr) = tail.exit().await;
    assert!(status.success(), "{status}: {stderr}");
    wait_for_no_subscribers(&app).await;

    // As a table: the header, then a row per event.
    let mut tail = Tail::start(&dir, &app.url(""), &key, &["--output", "table"]);
    wait_for_subscribers(&app, 1).await;
    app.record(&key, json!([crate::helpers::event("live.table")])).await;
    let header = tail.line().await;
    assert!(header.starts_with("SEQ  TIME"), "{header}");
    let columns = columns(&header);
    let row = tail.line().await;
    let cells = cells(&columns, &row);
    assert_eq!(cells[3], ("ACTION".to_string(), "live.table".to_string()), "{row}");
    assert_eq!(cells[4], ("ACTOR".to_string(), "u-1".to_string()), "{row}");
    drop(tail);
    wait_for_no_subscribers(&app).await;

    // JSON: one array, closed on Ctrl-C.
    let mut tail = Tail::start(&dir, &app.url(""), &key, &["--output", "json"]);
    wait_for_subscribers(&app, 1).await;
    app.record(&key, json!([crate::helpers::event("live.json")])).await;
    assert_eq!(tail.line().await, "[");
    let first: Value = serde_json::from_str(&tail.line().await).unwrap();
    assert_eq!(first["action"], "live.json");
    tail.signal("-INT");
    let (status, stderr) = tail.exit().await;
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(tail.line().await, "]");
}

async fn tail_says_why_it_stopped(backend: Backend) {
    // The key revoked while following: the server's word, non-zero.
    let app = TestApp::spawn(backend).await;
    let admin = app.key("admin").await;
    let reader = app.key("audit.read").await;
    let dir = WorkDir::new();
    let mut tail = Tail::start(&dir, &app.url(""), &reader, &["--output", "ndjson"]);
    wait_for_subscribers(&app, 1).await;
    let id = app.data(&reader, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"].clone();
    app.data(&admin, "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }", json!({ "id": id })).await;
    let (status, stderr) = tail.exit().await;
    assert!(!status.success(), "{stderr}");
    // Its operation ends with UNAUTHENTICATED, then the socket closes (4403).
    assert!(stderr.starts_with("error: ") && stderr.contains("revoked"), "{stderr}");

    // The server gone: the socket closed, said so, non-zero.
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    let server = Server::start(&dir, &db.url).await;
    let mut tail = Tail::start(&dir, &server.base, &key, &["--output", "ndjson"]);
    // Following once an event recorded now comes through.
    let mut seen = false;
    for n in 0..100 {
        crate::helpers::record_at(
            &reqwest::Client::new(),
            &server.base,
            &key,
            json!([crate::helpers::event(&format!("probe.n{n}"))]),
        )
        .await;
        if let Ok(Some(line)) = tokio::time::timeout(Duration::from_millis(200), tail.lines.recv()).await {
            assert!(line.contains("probe.n"), "{line}");
            seen = true;
            break;
        }
    }
    assert!(seen, "tail never followed; stderr: {}", tail.stderr.lock().unwrap());
    drop(server);
    let (status, stderr) = tail.exit().await;
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("error: the server closed the subscription"), "{stderr}");
}
