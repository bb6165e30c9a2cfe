//! Export over real HTTP and through the real binary: sequence order, filters,
//! CSV that a CSV parser reads back, a pinned tree size, the checkpoint in the
//! headers verified by `auditgraph verify`, and coded refusals.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};
use crate::process::WorkDir;

backend_tests!(
    exports_every_event_in_sequence_order,
    filter_selects_what_graphql_selects,
    csv_round_trips_awkward_text,
    unfiltered_export_verifies_against_its_checkpoint,
    size_is_pinned_while_events_arrive,
    bad_requests_are_refused_with_codes,
    command_line_export_matches_http,
    large_exports_stream_in_flat_memory,
);

/// What an export response carried.
struct Export {
    size: u64,
    /// The signed note, decoded from `Audit-Checkpoint`.
    note: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn start(app: &TestApp, key: &str, query: &[(&str, &str)]) -> reqwest::Response {
    let response = app.client.get(app.url("/export")).bearer_auth(key).query(query).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response
}

fn pinned(response: &reqwest::Response) -> (u64, String) {
    let header = |name: &str| response.headers().get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap();
    let size = header("audit-tree-size").parse().unwrap();
    let note = String::from_utf8(STANDARD.decode(header("audit-checkpoint")).unwrap()).unwrap();
    (size, note)
}

async fn export(app: &TestApp, key: &str, query: &[(&str, &str)]) -> Export {
    let response = start(app, key, query).await;
    let (size, note) = pinned(&response);
    let headers = response.headers().clone();
    let body = response.text().await.expect("the whole body");
    Export { size, note, headers, body }
}

fn lines(body: &str) -> Vec<Value> {
    body.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

fn sequences(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["sequence"].as_str().unwrap().parse().unwrap()).collect()
}

/// `n` events `prefix.e0`, `prefix.e1`, …
fn batch(prefix: &str, n: usize) -> Value {
    Value::Array((0..n).map(|i| event(&format!("{prefix}.e{i}"))).collect())
}

async fn exports_every_event_in_sequence_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for round in 0..3 {
        app.record(&key, batch(&format!("round{round}"), 30)).await;
    }
    let out = export(&app, &key, &[("format", "ndjson")]).await;
    let events = lines(&out.body);
    // The tenant's own records (tenant and key creation) are events too.
    assert!(out.size >= 90);
    assert_eq!(sequences(&events), (1..=out.size).collect::<Vec<_>>());
    assert!(events.iter().all(|e| e["tenantId"] == app.tenant.to_string()));
    assert_eq!(out.headers["content-type"], "application/x-ndjson");
    assert_eq!(out.headers["cache-control"], "no-store");
    let disposition = out.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=") && disposition.contains(".ndjson"), "{disposition}");
    // Without `format`, NDJSON; the log now also holds the record of the
    // first export (format, tree size), and another tenant's export holds
    // none of these.
    let again = export(&app, &key, &[]).await;
    assert!(again.body.starts_with(&out.body), "an export covers the log as it was");
    let audited = lines(&again.body[out.body.len()..]);
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["action"], "audit_log.export");
    assert_eq!(audited[0]["sourceService"], "auditgraph");
    assert_eq!(audited[0]["metadata"]["format"], "ndjson");
    assert_eq!(audited[0]["metadata"]["treeSize"], out.size.to_string());
    let other = app.create_tenant("globex").await;
    let other_key = app.key_in(other, "audit.read").await;
    let theirs = lines(&export(&app, &other_key, &[]).await.body);
    assert!(theirs.iter().all(|e| e["tenantId"] == other.to_string()) && theirs.len() < 5);
}

async fn filter_selects_what_graphql_selects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("document", 25)).await;
    app.record(&key, batch("user", 10)).await;
    app.record(&key, batch("document", 5)).await;
    let filter = json!({ "action": { "prefix": "document." }, "not": { "action": { "eq": "document.e3" } } });
    let out = export(&app, &key, &[("format", "ndjson"), ("filter", &filter.to_string())]).await;
    let events = lines(&out.body);
    assert_eq!(events.len(), 28);
    assert!(
        events.iter().all(|e| e["action"].as_str().unwrap().starts_with("document.") && e["action"] != "document.e3")
    );
    let seqs = sequences(&events);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let q = "query($f: AuditEventFilter) { auditEvents(first: 100, filter: $f, orderBy: {field: SEQUENCE, direction: ASC}) { nodes { sequence } } }";
    let d = app.data(&key, q, json!({ "f": filter })).await;
    let expected: Vec<u64> = d["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, expected);
}

async fn csv_round_trips_awkward_text(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("doc.edit");
    e["summary"] = json!("line one,\n\"line\" two\r\nthree");
    e["metadata"] = json!({ "note": "a, \"quoted\"\nline", "n": 3.25, "list": [1, "x,y"] });
    e["actor"]["displayName"] = json!("Doe, \"Jane\"");
    e["actor"]["roles"] = json!(["admin", "a,b"]);
    e["resource"] = json!({ "type": "doc", "externalId": "d-1", "name": "Q3, \"final\"" });
    e["changes"] = json!([{ "field": "title", "before": "a\nb", "after": "c,d" }]);
    app.record(&key, json!([e, event("plain.event")])).await;
    let ndjson = lines(&export(&app, &key, &[]).await.body);
    let out = export(&app, &key, &[("format", "csv")]).await;
    assert_eq!(out.headers["content-type"], "text/csv; charset=utf-8");
    assert!(out.headers["content-disposition"].to_str().unwrap().contains(".csv"));

    let mut reader = csv::Reader::from_reader(out.body.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        &header[..8],
        ["id", "tenantId", "sequence", "action", "outcome", "occurredAt", "receivedAt", "actor.type"]
    );
    assert!(header.iter().any(|h| h == "request.userAgent") && header.last().unwrap() == "idempotencyKey");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV record")).collect();
    // The NDJSON export was recorded too, after the events it holds.
    assert_eq!(rows.len(), ndjson.len() + 1);
    // CSV holds the opened events (personal values in plaintext), as REST serves them.
    let (_, _, page) = app.rest_get(&key, "/v1/events", &[("order", "sequence")]).await;
    let opened: Vec<Value> = ndjson
        .iter()
        .map(|leaf| page["data"].as_array().unwrap().iter().find(|e| e["id"] == leaf["id"]).unwrap().clone())
        .collect();
    for (row, canonical) in rows.iter().zip(&opened) {
        assert_eq!(row.len(), header.len());
        for (column, cell) in header.iter().zip(row.iter()) {
            let value = column.split('.').fold(canonical, |v, k| &v[k]);
            let expected = match value {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(_) | Value::Object(_) => {
                    assert_eq!(&serde_json::from_str::<Value>(cell).unwrap(), value, "{column}");
                    continue;
                }
                other => other.to_string(),
            };
            assert_eq!(cell, expected, "{column}");
        }
    }
    let edited = rows.iter().find(|r| &r[3] == "doc.edit").unwrap();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&edited[column("summary")], "line one,\n\"line\" two\r\nthree");
    assert_eq!(&edited[column("actor.displayName")], "Doe, \"Jane\"");
    assert_eq!(&edited[column("resource.name")], "Q3, \"final\"");
    let metadata: Value = serde_json::from_str(&edited[column("metadata")]).unwrap();
    assert_eq!(metadata["note"], "a, \"quoted\"\nline");
}

async fn unfiltered_export_verifies_against_its_checkpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("with.metadata");
    e["metadata"] = json!({ "note": "a, \"quoted\"\nline" });
    app.record(&key, json!([e])).await;
    app.record(&key, batch("verify", 60)).await;
    let out = export(&app, &key, &[("format", "ndjson")]).await;
    let dir = WorkDir::new();
    std::fs::write(dir.0.join("events.ndjson"), &out.body).unwrap();
    let b64 = out.headers["audit-checkpoint"].to_str().unwrap();
    std::fs::write(dir.0.join("checkpoint"), b64).unwrap();
    let vkey = app.ledger.verifier_key();
    let args = ["verify", "--export", "events.ndjson", "--checkpoint", "checkpoint", "--key", &vkey];
    assert_eq!(dir.run(&args).trim(), format!("verified {0} events against checkpoint of size {0}", out.size));
    assert!(out.note.lines().nth(1) == Some(out.size.to_string().as_str()), "{}", out.note);
    let mut changed = out.body.clone().into_bytes();
    let at = changed.len() / 2;
    changed[at] = if changed[at] == b'a' { b'b' } else { b'a' };
    std::fs::write(dir.0.join("events.ndjson"), &changed).unwrap();
    let failed = dir.output(&args);
    assert!(!failed.status.success(), "a changed character went unnoticed");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("verification failed"));
}

/// 20,000 events: the export streams them all, in order, and covers exactly
/// the tree size of its start while more are recorded.
async fn size_is_pinned_while_events_arrive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for round in 0..20 {
        app.record(&key, batch(&format!("bulk{round}"), 1_000)).await;
    }
    let mut response = start(&app, &key, &[("format", "ndjson")]).await;
    let (size, _) = pinned(&response);
    assert!(size >= 20_000);
    // The first bytes have arrived: the export is under way.
    let mut body = response.chunk().await.unwrap().expect("a first chunk").to_vec();
    app.record(&key, batch("during", 1_000)).await;
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let events = lines(std::str::from_utf8(&body).unwrap());
    assert_eq!(sequences(&events), (1..=size).collect::<Vec<_>>());
    assert!(events.iter().all(|e| !e["action"].as_str().unwrap().starts_with("during.")));
    // The next export has them, and the record of the first export.
    let next = export(&app, &key, &[]).await;
    assert_eq!(next.size, size + 1_000 + 1);
    assert_eq!(lines(&next.body).len() as u64, size + 1_000 + 1);
}

async fn bad_requests_are_refused_with_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let refused = |query: Vec<(&'static str, String)>, key: Option<String>| {
        let mut request = app.client.get(app.url("/export")).query(&query);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    for (query, field) in [
        (vec![("format", "xml".to_string())], "format"),
        (vec![("filter", "{not json".to_string())], "filter"),
        (vec![("filter", "[]".to_string())], "filter"),
        (vec![("filter", json!({ "nope": 1 }).to_string())], "filter"),
        (vec![("filter", json!({ "outcome": "MAYBE" }).to_string())], "filter"),
        (vec![("filter", json!({ "actor": { "id": ["act_nonsense"] } }).to_string())], "filter.actor.id"),
        (vec![("filter", "[".repeat(100))], "filter"),
    ] {
        let (status, body) = refused(query.clone(), Some(key.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}: {body}");
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        let got = body["errors"][0]["extensions"]["field"].as_str().unwrap();
        assert!(got.starts_with(field), "{query:?}: field {got}, expected {field}");
    }
    let deep = (0..7).fold(json!({ "action": { "eq": "x" } }), |f, _| json!({ "not": f }));
    let (status, body) = refused(vec![("filter", deep.to_string())], Some(key.clone())).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, Some("BAD_USER_INPUT")), "{body}");

    let (status, body) = refused(vec![], None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")), "{body}");
    let (status, body) = refused(vec![], Some("agk_unknown".into())).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")), "{body}");
    let writer = app.key("audit.write").await;
    let (status, body) = refused(vec![], Some(writer)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, Some("FORBIDDEN")), "{body}");
}

async fn command_line_export_matches_http(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let mut e = event("cli.edit");
    e["metadata"] = json!({ "note": "a, \"quoted\"\nline" });
    app.record(&key, json!([e])).await;
    for round in 0..3 {
        app.record(&key, batch(&format!("cli.r{round}"), 1_000)).await;
    }
    let dir = WorkDir::new();
    let db = app.db_url.as_str();
    let filter = json!({ "action": { "prefix": "cli." } }).to_string();
    for (format, filter) in [("ndjson", ""), ("csv", ""), ("ndjson", filter.as_str()), ("csv", filter.as_str())] {
        let http = export(&app, &key, &[("format", format), ("filter", filter)]).await;
        let file = format!("out.{format}");
        dir.run(&[
            "export",
            "--tenant",
            "acme",
            "--format",
            format,
            "--filter",
            filter,
            "--output",
            &file,
            "--database-url",
            db,
        ]);
        let cli = std::fs::read_to_string(dir.0.join(&file)).unwrap();
        if filter.is_empty() {
            // The command line's export covers the HTTP one's, and the
            // record of that export, which came after it.
            assert!(cli.starts_with(&http.body), "{format}");
            let rest = &cli[http.body.len()..];
            assert_eq!(rest.lines().count(), 1, "{format}: {rest}");
            assert!(rest.contains("audit_log.export"), "{format}: {rest}");
        } else {
            assert_eq!(cli, http.body, "{format} {filter}");
            // Its checkpoint also covers the record of the HTTP export.
            let note = std::fs::read_to_string(dir.0.join(format!("{file}.checkpoint"))).unwrap();
            assert_eq!(note.lines().nth(1), Some((http.size + 1).to_string().as_str()), "{note}");
        }
    }
    // To stdout, the checkpoint on stderr; it verifies like the server's.
    let out = dir.output(&["export", "--tenant", "acme", "--database-url", db]);
    assert!(out.status.success(), "{out:?}");
    std::fs::write(dir.0.join("stdout.ndjson"), &out.stdout).unwrap();
    // The signed note is on stderr, from its origin line to its signature line.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let origin = format!("auditgraph/{}\n", app.tenant);
    let from = stderr.find(&origin).unwrap_or_else(|| panic!("{stderr}"));
    let note: String = stderr[from..].split_inclusive('\n').take_while(|l| !l.starts_with("exported ")).collect();
    std::fs::write(dir.0.join("stdout.ndjson.checkpoint"), note).unwrap();
    let vkey = app.ledger.verifier_key();
    dir.run(&["verify", "--export", "stdout.ndjson", "--checkpoint", "stdout.ndjson.checkpoint", "--key", &vkey]);
    let bad = dir.output(&["export", "--tenant", "acme", "--format", "xml", "--database-url", db]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--format"));
}

/// Events the large export holds (seeded, plus 100 awkward ones recorded
/// last): 200,000, or `AUDITGRAPH_TEST_EXPORT_EVENTS`. Debug builds default to
/// 20,000: seeding and exporting 200,000 events unoptimised takes minutes.
fn large() -> u64 {
    let default = if cfg!(debug_assertions) { 20_000 } else { 200_000 };
    std::env::var("AUDITGRAPH_TEST_EXPORT_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(default).max(1_000)
}
/// What the server's peak resident memory may grow by while exporting them.
const RSS_BOUND_KIB: u64 = 50 * 1024;

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`: peak resident memory, `VmRSS`: now).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A blocking reader over body chunks sent from async code, so that the CSV
/// and line parsers read an export as it arrives without holding it whole.
struct Chunks {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl std::io::Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => (self.current, self.at) = (chunk, 0),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// What a streamed export held.
#[derive(Default, Debug)]
struct Tally {
    rows: u64,
    last: u64,
    /// Rows whose sequence was not the one after the row before.
    out_of_order: u64,
    /// `(metadata, summary, displayName)` of the awkward events, as read back.
    awkward: Vec<(Value, String, String)>,
}

impl Tally {
    fn row(&mut self, sequence: u64) {
        self.rows += 1;
        if sequence != self.last + 1 {
            self.out_of_order += 1;
        }
        self.last = sequence;
    }
}

/// What an NDJSON tally holds for a sealed actor name.
const SEALED: &str = "(sealed)";

fn tally_ndjson(body: Chunks) -> Tally {
    use std::io::BufRead as _;
    let mut tally = Tally::default();
    for line in std::io::BufReader::new(body).lines() {
        let event: Value = serde_json::from_str(&line.expect("a line")).expect("a JSON line");
        tally.row(event["sequence"].as_str().unwrap().parse().unwrap());
        if event["action"] == "export.awkward" {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            tally.awkward.push((
                event["metadata"].clone(),
                text(&event["summary"]),
                // The leaf seals the name (a personal value): say so instead.
                match event["actor"]["displayName"]["sealed"].is_string() {
                    true => SEALED.to_string(),
                    false => text(&event["actor"]["displayName"]),
                },
            ));
        }
    }
    tally
}

fn tally_csv(body: Chunks) -> Tally {
    let mut reader = csv::Reader::from_reader(body);
    let header: Vec<String> = reader.headers().expect("a header row").iter().map(str::to_string).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
    let (sequence, action, metadata, summary, name) =
        (column("sequence"), column("action"), column("metadata"), column("summary"), column("actor.displayName"));
    let mut tally = Tally::default();
    for record in reader.records() {
        let record = record.expect("a CSV record");
        assert_eq!(record.len(), header.len(), "{record:?}");
        tally.row(record[sequence].parse().unwrap());
        let meta: Value = serde_json::from_str(&record[metadata]).expect("metadata as JSON text");
        if &record[action] == "export.awkward" {
            tally.awkward.push((meta, record[summary].to_string(), record[name].to_string()));
        }
    }
    tally
}

fn tally_csv_or_ndjson(format: &str) -> fn(Chunks) -> Tally {
    if format == "csv" { tally_csv } else { tally_ndjson }
}

/// Reads an export through `tally` as it arrives. `pace` runs after each
/// chunk with the bytes read so far and may sleep to read slowly; returns the
/// tally and the server's highest `VmRSS` seen meanwhile.
async fn read_export(
    mut response: reqwest::Response,
    tally: fn(Chunks) -> Tally,
    pid: u32,
    mut pace: impl AsyncFnMut(u64),
) -> (Tally, u64) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let parsed = tokio::task::spawn_blocking(move || tally(Chunks { rx, current: Vec::new(), at: 0 }));
    let (mut read, mut peak) = (0u64, 0u64);
    let mut chunks = 0u64;
    while let Some(chunk) = response.chunk().await.expect("the body streams to its end") {
        read += chunk.len() as u64;
        tx.send(chunk.to_vec()).await.expect("the parser reads on");
        chunks += 1;
        if chunks % 64 == 0 {
            peak = peak.max(status_kib(pid, "VmRSS"));
        }
        pace(read).await;
    }
    drop(tx);
    (parsed.await.expect("the parser finished"), peak.max(status_kib(pid, "VmRSS")))
}

/// 200,000 events through a server process, as NDJSON and as CSV: every row
/// in sequence order, text with commas, quotes and line breaks read back as
/// sent, and the server's peak resident memory growing by less than 50 MiB;
/// then a client that reads slowly, pausing for seconds: the server waits for
/// it instead of buffering the export.
async fn large_exports_stream_in_flat_memory(backend: Backend) {
    use crate::process::{Server, WorkDir};
    let db = crate::helpers::TestDb::new(backend).await;
    let dir = WorkDir::new();
    let large = large();
    let seeded = (large - 100).to_string();
    let seed = ["seed", "--events", &seeded, "--actors", "200", "--resources", "2000", "--database-url", &db.url];
    let started = std::time::Instant::now();
    dir.run(&seed);
    eprintln!("{backend:?}: seeded {seeded} events in {:?}", started.elapsed());
    let key = dir.run(&[
        "key",
        "create",
        "--tenant",
        "seed-1",
        "--scopes",
        "audit.read,audit.write",
        "--database-url",
        &db.url,
    ]);
    let key = key.trim();
    let server = Server::start(&dir, &db.url).await;
    let pid = server.pid();
    let awkward: Vec<Value> = (0..100)
        .map(|i| {
            json!({
                "action": "export.awkward",
                "actor": { "type": "USER", "externalId": format!("u-{i}"), "displayName": format!("Doe, \"Jane\" {i}") },
                "summary": format!("line one, {i}\n\"line\" two\r\nthree"),
                "metadata": { "i": i, "note": "a, \"quoted\"\nline\r\nand more", "list": ["x,y", "\"", "\n"], "empty": "" },
            })
        })
        .collect();
    server
        .data(
            key,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": awkward }),
        )
        .await;
    let client = reqwest::Client::new();
    let export = async |query: &[(&str, &str)]| {
        let response =
            client.get(format!("{}/export", server.base)).bearer_auth(key).query(query).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response
    };
    let check = |tally: &Tally, size: u64, format: &str| {
        assert_eq!((tally.rows, tally.last, tally.out_of_order), (size, size, 0), "{format}: every row, in order");
        assert_eq!(tally.awkward.len(), 100, "{format}");
        for (i, (metadata, summary, name)) in tally.awkward.iter().enumerate() {
            assert_eq!(metadata, &awkward[i]["metadata"], "{format}");
            assert_eq!(summary, awkward[i]["summary"].as_str().unwrap(), "{format}");
            let sent = awkward[i]["actor"]["displayName"].as_str().unwrap();
            assert_eq!(name, if format.ends_with("ndjson") { SEALED } else { sent }, "{format}");
        }
    };
    // A shorter export in each format first (several full chunks), so that the
    // baseline holds what any export allocates once: what follows measures
    // what grows with the size.
    let first = json!({ "sequence": { "lte": (large / 10).min(10_000).to_string() } }).to_string();
    for format in ["ndjson", "csv"] {
        read_export(
            export(&[("format", format), ("filter", &first)]).await,
            tally_csv_or_ndjson(format),
            pid,
            async |_| {},
        )
        .await;
    }
    let baseline = status_kib(pid, "VmHWM");

    for format in ["ndjson", "csv"] {
        let tally = tally_csv_or_ndjson(format);
        let response = export(&[("format", format)]).await;
        let (size, _) = pinned(&response);
        assert!(size >= large, "{size}");
        let started = std::time::Instant::now();
        let (tally, _) = read_export(response, tally, pid, async |_| {}).await;
        check(&tally, size, format);
        let grown = status_kib(pid, "VmHWM").saturating_sub(baseline);
        eprintln!("{backend:?}: {format} export of {size} events in {:?}; peak RSS +{grown} KiB", started.elapsed());
        assert!(grown < RSS_BOUND_KIB, "{format}: the server's peak RSS grew by {grown} KiB exporting {size} events");
    }

    // A slow client: a pause of 3 s after the first chunk, then small sips
    // for the first 20 MB, then the rest. The server holds a few chunks, not the export.
    let before = status_kib(pid, "VmRSS");
    let response = export(&[("format", "ndjson")]).await;
    let (size, _) = pinned(&response);
    let mut paused = false;
    let (tally, peak) = read_export(response, tally_ndjson, pid, async |read| {
        if !paused {
            paused = true;
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        } else if read < 20_000_000 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    check(&tally, size, "slow ndjson");
    let grown = peak.saturating_sub(before);
    eprintln!(
        "{backend:?}: slow client: RSS +{grown} KiB at most, peak RSS +{} KiB",
        status_kib(pid, "VmHWM").saturating_sub(baseline)
    );
    assert!(grown < RSS_BOUND_KIB, "a slow client grew the server's RSS by {grown} KiB");
    let grown = status_kib(pid, "VmHWM").saturating_sub(baseline);
    assert!(grown < RSS_BOUND_KIB, "a slow client grew the server's peak RSS by {grown} KiB");
}
