//! Documents nested hundreds or thousands of levels deep, sent to a child
//! process where a stack overflow aborts only that process.

use super::*;

/// An `auditgraph serve` child process, killed when dropped: a crash there
/// cannot take the test binary down with it.
struct ChildServer {
    process: std::process::Child,
    base: String,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl ChildServer {
    fn command(args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auditgraph"));
        cmd.args(args)
            .env_remove("AUDITGRAPH_DATABASE_URL")
            .env_remove("AUDITGRAPH_LISTEN")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    async fn start(url: &str) -> ChildServer {
        let mut process = Self::command(&["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auditgraph serve");
        let stderr = process.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Drains stderr to the end, reporting the announced address.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().trim_end_matches("/graphql").to_string());
                }
            }
        });
        let addr = tokio::task::block_in_place(|| rx.recv_timeout(StdDuration::from_secs(60)))
            .expect("serve announces its address");
        let server = ChildServer { process, base: format!("http://{addr}") };
        for _ in 0..600 {
            if reqwest::get(format!("{}/healthz", server.base)).await.is_ok_and(|r| r.status() == StatusCode::OK) {
                return server;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        panic!("the child server never became healthy");
    }

    fn alive(&mut self) -> bool {
        self.process.try_wait().ok().flatten().is_none()
    }
}

/// Documents nested hundreds or thousands of levels deep (input objects,
/// lists, selection sets), and filters thousands of sub-filters wide, with and
/// without a key: each is refused with a coded error and the server stays up. Sent to a child process, where a
/// stack overflow aborts only that process.
pub(super) async fn deep_documents_do_not_crash_the_server(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = ChildServer::start(&db.url).await;
    let run = |args: &[&str]| {
        let out = ChildServer::command(args).output().expect("run auditgraph");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8").trim().to_string()
    };
    tokio::task::block_in_place(|| run(&["tenant", "create", "deep", "--database-url", &db.url]));
    let key = tokio::task::block_in_place(|| {
        run(&["key", "create", "--tenant", "deep", "--scopes", "audit.read", "--database-url", &db.url])
    });
    let nested = |open: &str, leaf: &str, close: &str, depth: usize| {
        format!("{}{leaf}{}", open.repeat(depth), close.repeat(depth))
    };
    let mut docs: Vec<(String, String)> = Vec::new();
    for depth in [64, 150, 600, 5_000] {
        docs.push((
            format!("a filter of {depth} nested nots"),
            format!("{{ auditEvents(filter: {}) {{ totalCount }} }}", nested("{not: ", "{text: \"x\"}", "}", depth)),
        ));
    }
    for depth in [1_000, 5_000] {
        docs.push((
            format!("a list value {depth} deep"),
            format!("{{ nodes(ids: {}) {{ id }} }}", nested("[", "\"x\"", "]", depth)),
        ));
        docs.push((
            format!("an object value {depth} deep on an unknown argument"),
            format!("{{ viewer(x: {}) {{ scopes }} }}", nested("{a: ", "1", "}", depth)),
        ));
    }
    for depth in [1_000, 20_000] {
        docs.push((
            format!("selection sets {depth} deep"),
            format!("{{{} id{} }}", " a {".repeat(depth), " }".repeat(depth)),
        ));
    }
    // Wide rather than deep: lists of thousands of (empty) sub-filters, in
    // the document and in variables.
    let mut docs: Vec<(String, String, Value)> = docs.into_iter().map(|(what, doc)| (what, doc, json!({}))).collect();
    for width in [10_000, 100_000] {
        docs.push((
            format!("an or of {width} empty filters in the document"),
            format!("{{ auditEvents(first: 1, filter: {{or: [{}]}}) {{ totalCount }} }}", vec!["{}"; width].join(",")),
            json!({}),
        ));
        docs.push((
            format!("an or of {width} empty filters in a variable"),
            "query($f: AuditEventFilter) { auditEvents(first: 1, filter: $f) { totalCount } }".into(),
            json!({ "f": { "or": vec![json!({}); width] } }),
        ));
    }
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    for (what, doc, variables) in &docs {
        for with_key in [false, true] {
            let what = format!("{what} ({} key)", if with_key { "with a" } else { "without a" });
            let mut request = client
                .post(format!("{}/graphql", server.base))
                .timeout(StdDuration::from_secs(60))
                .json(&json!({ "query": doc, "variables": variables }));
            if with_key {
                request = request.bearer_auth(&key);
            }
            let answer = match request.send().await {
                Ok(r) => {
                    let status = r.status();
                    r.text().await.map(|t| (status, t)).map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            tokio::time::sleep(StdDuration::from_millis(100)).await;
            if !server.alive() {
                failures.push(format!("{what}: the server process died ({answer:?})"));
                server = ChildServer::start(&db.url).await;
                break;
            }
            match answer {
                Ok((status, text)) => {
                    let case = Case {
                        what: what.clone(),
                        transport: Transport::Get(Vec::new()),
                        auth: Auth::None,
                        headers: Vec::new(),
                        expect: REFUSED,
                    };
                    if let Err(panic) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&case, status, &text)))
                    {
                        failures.push(panic_message(panic));
                    }
                }
                Err(e) => failures.push(format!("{what}: no answer: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} deep documents were mishandled:\n{}", failures.len(), failures.join("\n"));
}

pub(super) fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
