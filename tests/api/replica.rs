//! Read replicas on a real streaming standby. The test makes its own
//! PostgreSQL pair from the local installation (the version of the server at
//! `AUDITGRAPH_TEST_POSTGRES_URL`): a primary (`initdb`) and a hot standby
//! (`pg_basebackup -R -X stream` of it), each on a free loopback port, run as
//! the `postgres` user. A pair of its own keeps the base backup small and
//! fast whatever else the shared server holds, and leaves that server's
//! configuration alone. The server under test is the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::{eventually, postgres_url};
use crate::process::{Server, WorkDir};

/// A primary and its streaming standby in one scratch directory; both are
/// stopped and the directory removed when dropped, whatever happened.
struct Pair {
    dir: PathBuf,
    bin: PathBuf,
    primary_port: u16,
    replica_port: u16,
}

/// The database the server uses, created on the primary before the backup.
const DB: &str = "audit";

impl Pair {
    async fn start(shared_server: &str) -> Pair {
        let bin = postgres_bin(shared_server).await;
        let made = as_postgres("mktemp").args(["-d", "/tmp/auditgraph-replica-XXXXXX"]).output().expect("runuser");
        assert!(made.status.success(), "a scratch directory for `postgres`: {}", String::from_utf8_lossy(&made.stderr));
        let dir = PathBuf::from(String::from_utf8_lossy(&made.stdout).trim());
        let mut pair = Pair { dir, bin, primary_port: free_port(), replica_port: 0 };
        pair.run("initdb", &["-D", "primary", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
        // Small and quick: a scratch cluster. `wal_level` and `max_wal_senders`
        // keep their defaults (replica, 10), and initdb's pg_hba.conf lets
        // `postgres` replicate over loopback.
        std::fs::write(
            pair.dir.join("primary/postgresql.auto.conf"),
            "listen_addresses = '127.0.0.1'\nshared_buffers = 16MB\nmax_connections = 40\nfsync = off\n",
        )
        .expect("configure the primary");
        pair.pg_ctl("primary", pair.primary_port, "start");
        let admin = Database::connect(pair.url(pair.primary_port, "postgres")).await.expect("connect to the primary");
        admin.execute_unprepared(&format!("CREATE DATABASE {DB}")).await.expect("create the database");
        admin.close().await.ok();
        let source = format!("postgresql://postgres@127.0.0.1:{}/", pair.primary_port);
        pair.run("pg_basebackup", &["-d", &source, "-D", "replica", "-R", "-X", "stream", "-c", "fast"]);
        pair.replica_port = free_port();
        pair.start_replica();
        pair
    }

    fn url(&self, port: u16, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{db}")
    }

    fn primary_url(&self) -> String {
        self.url(self.primary_port, DB)
    }

    fn replica_url(&self) -> String {
        self.url(self.replica_port, DB)
    }

    fn start_replica(&self) {
        self.pg_ctl("replica", self.replica_port, "start");
    }

    /// Stops the standby at once, as a crash would.
    fn stop_replica(&self) {
        self.run("pg_ctl", &["-D", "replica", "-m", "immediate", "-w", "stop"]);
    }

    fn pg_ctl(&self, data: &str, port: u16, action: &str) {
        let options = format!("-p {port} -k {}", self.dir.display());
        let log = self.dir.join(format!("{data}.log"));
        let log = log.to_str().expect("a UTF-8 path");
        self.run("pg_ctl", &["-D", data, "-l", log, "-o", &options, "-w", action]);
    }

    /// A PostgreSQL program, run as `postgres` in the scratch directory.
    fn command(&self, program: &str) -> Command {
        let mut command = as_postgres(self.bin.join(program));
        command.current_dir(&self.dir);
        command
    }

    /// Runs a PostgreSQL program; panics with its output and the servers'
    /// logs if it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().expect("run a PostgreSQL program");
        if !out.status.success() {
            let logs =
                ["primary.log", "replica.log"].map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default());
            panic!("{program} {args:?} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), logs.join("\n"));
        }
    }

    /// Runs `sql` on the standby.
    async fn on_replica(&self, sql: &str) -> Value {
        let db = Database::connect(self.url(self.replica_port, DB)).await.expect("connect to the standby");
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql.to_string()))
            .await
            .expect(sql);
        db.close().await.ok();
        let row = row.expect("a row");
        row.try_get_by_index::<String>(0).map(Value::String).unwrap_or(Value::Null)
    }

    /// Pauses the standby's replay and waits until it has stopped.
    async fn pause_replay(&self) {
        self.on_replica("SELECT pg_wal_replay_pause()::text").await;
        eventually(Duration::from_secs(10), "replay to pause", async || {
            self.on_replica("SELECT pg_get_wal_replay_pause_state()").await == json!("paused")
        })
        .await;
    }

    async fn resume_replay(&self) {
        self.on_replica("SELECT pg_wal_replay_resume()::text").await;
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for data in ["replica", "primary"] {
            if self.dir.join(data).join("postmaster.pid").exists() {
                let _ = self.command("pg_ctl").args(["-D", data, "-m", "immediate", "-w", "stop"]).output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `program` run as the `postgres` user: PostgreSQL refuses to run as root,
/// and the tests run as root.
fn as_postgres(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

/// The installed programs of the shared test server's major version
/// (`AUDITGRAPH_TEST_PG_BIN` overrides).
async fn postgres_bin(shared_server: &str) -> PathBuf {
    if let Ok(bin) = std::env::var("AUDITGRAPH_TEST_PG_BIN") {
        return PathBuf::from(bin);
    }
    let db = Database::connect(shared_server).await.expect("connect to the test server");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SHOW server_version_num"))
        .await;
    let version: String = row.expect("server version").expect("a row").try_get_by_index(0).expect("a version");
    db.close().await.ok();
    let major = version.parse::<u32>().expect("a number") / 10_000;
    let bin = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    assert!(
        Path::new(&bin).join("pg_basebackup").exists(),
        "no PostgreSQL programs in {} (set AUDITGRAPH_TEST_PG_BIN)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

async fn readyz(server: &Server) -> (StatusCode, String) {
    let response = reqwest::get(format!("{}/readyz", server.base)).await.expect("readyz");
    (response.status(), response.text().await.expect("a body"))
}

/// The value of `name{database="…"}` in `/metrics`, read with an admin key.
async fn metric(server: &Server, admin: &str, name: &str, database: &str) -> f64 {
    let response = reqwest::Client::new().get(format!("{}/metrics", server.base)).bearer_auth(admin).send().await;
    let body = response.expect("metrics").text().await.expect("a body");
    let series = format!("{name}{{database=\"{database}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{body}"))
        .parse()
        .expect("a number")
}

async fn reads(server: &Server, admin: &str, database: &str) -> f64 {
    metric(server, admin, "auditgraph_db_reads_total", database).await
}

/// Records events named `actions`; the mutation's answer (read on the
/// primary) must show each with its actor.
async fn record(server: &Server, key: &str, actions: &[&str]) -> Vec<String> {
    let events: Vec<Value> = actions
        .iter()
        .map(|a| json!({ "action": a, "actor": { "type": "USER", "externalId": format!("u-{a}") } }))
        .collect();
    let data = server
        .data(
            key,
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { events { id action actor { externalId } } } }",
            json!({ "e": events }),
        )
        .await;
    let stored = data["recordAuditEvents"]["events"].as_array().expect("events").clone();
    for (event, action) in stored.iter().zip(actions) {
        assert_eq!(event["actor"]["externalId"], json!(format!("u-{action}")), "{data}");
    }
    stored.iter().map(|e| e["id"].as_str().expect("an id").to_string()).collect()
}

/// How many events named `action` the server's reads see.
async fn count(server: &Server, key: &str, action: &str) -> i64 {
    let data = server
        .data(
            key,
            "query($a: String!) { auditEvents(filter: {action: {eq: $a}}) { totalCount } }",
            json!({ "a": action }),
        )
        .await;
    data["auditEvents"]["totalCount"].as_i64().expect("a count")
}

async fn tree_size(server: &Server, key: &str) -> u64 {
    let data = server.data(key, "{ ledger { size } }", json!({})).await;
    data["ledger"]["size"].as_str().expect("a size").parse().expect("a number")
}

async fn get(server: &Server, key: &str, path: &str) -> (StatusCode, String) {
    let response =
        reqwest::Client::new().get(format!("{}{path}", server.base)).bearer_auth(key).send().await.expect("request");
    (response.status(), response.text().await.expect("a body"))
}

/// Reads go to the standby and writes to the primary; a standby that stops
/// replaying serves stale reads within `--max-replica-lag` and is skipped
/// beyond it; a stopped standby is skipped while reads keep working, and
/// used again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_a_streaming_standby_and_skip_it_when_it_fails() {
    let Some(shared) = postgres_url() else {
        eprintln!("PostgreSQL URL not set: skipped");
        return;
    };
    let pair = Pair::start(&shared).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&pair.primary_url());
    let admin = dir.admin_key(&pair.primary_url());
    let replica = pair.replica_url();
    let server =
        Server::start_with(&dir, &pair.primary_url(), &["--read-database-url", &replica, "--max-replica-lag", "1h"])
            .await;
    eventually(Duration::from_secs(20), "the standby to serve reads", async || {
        readyz(&server).await.1.contains("serving reads")
    })
    .await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with("ready\nprimary: up\nreplica-1 (postgres://postgres@127.0.0.1:"), "{body}");

    // Written on the primary, read back on the standby once it replayed them.
    let ids = record(&server, &key, &["replica.a", "replica.b", "replica.b"]).await;
    eventually(Duration::from_secs(20), "the standby to replay the events", async || {
        count(&server, &key, "replica.b").await == 2
    })
    .await;
    let (replica_reads, primary_reads) =
        (reads(&server, &admin, "replica-1").await, reads(&server, &admin, "primary").await);
    let data = server
        .data(
            &key,
            "query($id: ID!) { auditEvents(first: 10, filter: {action: {prefix: \"replica.\"}}) { totalCount nodes { action actor { externalId } resource { name } } } auditEvent(id: $id) { action } actors(first: 5) { totalCount } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert_eq!(data["auditEvents"]["totalCount"], json!(3), "{data}");
    assert_eq!(data["auditEvent"]["action"], json!("replica.a"), "{data}");
    let (status, list) = get(&server, &key, "/v1/events?action_prefix=replica.").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(serde_json::from_str::<Value>(&list).expect("JSON")["data"].as_array().map(Vec::len), Some(3));
    let (status, export) = get(&server, &key, "/export").await;
    assert_eq!(status, StatusCode::OK);
    assert!(export.contains("replica.a"), "{export}");
    assert!(reads(&server, &admin, "replica-1").await > replica_reads, "the reads did not go to the standby");
    assert_eq!(reads(&server, &admin, "primary").await, primary_reads, "reads went to the primary");

    // With replay paused the standby is stale: what the server reads there
    // lacks the new event, what it reads on the primary has it.
    pair.pause_replay().await;
    let size = tree_size(&server, &key).await;
    let [paused] = record(&server, &key, &["replica.paused"]).await.try_into().expect("one event");
    assert_eq!(count(&server, &key, "replica.paused").await, 0, "the read did not come from the standby");
    assert_eq!(tree_size(&server, &key).await, size + 1, "the ledger head is read on the primary");
    assert_eq!(get(&server, &key, &format!("/v1/events/{paused}")).await.0, StatusCode::NOT_FOUND);
    let (status, proof) = get(&server, &key, &format!("/v1/events/{paused}/proof")).await;
    assert_eq!(status, StatusCode::OK, "the newest event is provable at once: {proof}");
    // An export pins the primary's tree size; the stale standby cannot serve it.
    let (_, export) = get(&server, &key, "/export").await;
    assert!(export.contains("replica.paused"), "{export}");
    pair.resume_replay().await;
    eventually(Duration::from_secs(20), "the standby to catch up", async || {
        count(&server, &key, "replica.paused").await == 1
    })
    .await;

    // The standby goes away: reads keep working (a failed one is answered by
    // the primary), /readyz stays 200 and says so, /metrics too.
    pair.stop_replica();
    assert_eq!(count(&server, &key, "replica.b").await, 2);
    eventually(Duration::from_secs(20), "/readyz to report the standby down", async || {
        readyz(&server).await.1.contains("down (")
    })
    .await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("primary: up") && body.contains("skipped until it answers"), "{body}");
    assert_eq!(metric(&server, &admin, "auditgraph_db_up", "replica-1").await, 0.0);
    assert_eq!(metric(&server, &admin, "auditgraph_db_up", "primary").await, 1.0);
    record(&server, &key, &["replica.down"]).await;
    let (replica_reads, primary_reads) =
        (reads(&server, &admin, "replica-1").await, reads(&server, &admin, "primary").await);
    assert_eq!(count(&server, &key, "replica.down").await, 1);
    assert_eq!(reads(&server, &admin, "replica-1").await, replica_reads);
    assert!(reads(&server, &admin, "primary").await > primary_reads, "the reads did not go to the primary");

    // Back: it catches up and takes reads again.
    pair.start_replica();
    eventually(Duration::from_secs(30), "/readyz to report the standby serving", async || {
        readyz(&server).await.1.contains("serving reads")
    })
    .await;
    eventually(Duration::from_secs(20), "the standby to replay what it missed", async || {
        count(&server, &key, "replica.down").await == 1
    })
    .await;
    let replica_reads = reads(&server, &admin, "replica-1").await;
    assert_eq!(count(&server, &key, "replica.a").await, 1);
    assert!(reads(&server, &admin, "replica-1").await > replica_reads, "the standby took no reads after it came back");

    // A server with a tight lag bound skips the standby once replay stops,
    // and reads the primary instead.
    let tight =
        Server::start_with(&dir, &pair.primary_url(), &["--read-database-url", &replica, "--max-replica-lag", "1s"])
            .await;
    eventually(Duration::from_secs(20), "the standby to serve the second server", async || {
        readyz(&tight).await.1.contains("serving reads")
    })
    .await;
    pair.pause_replay().await;
    record(&tight, &key, &["replica.lagging"]).await;
    eventually(Duration::from_secs(20), "/readyz to report the standby behind", async || {
        readyz(&tight).await.1.contains("behind: skipped")
    })
    .await;
    assert_eq!(readyz(&tight).await.0, StatusCode::OK);
    assert!(metric(&tight, &admin, "auditgraph_db_replica_lag_seconds", "replica-1").await > 1.0);
    assert_eq!(metric(&tight, &admin, "auditgraph_db_replica_serving", "replica-1").await, 0.0);
    assert_eq!(count(&tight, &key, "replica.lagging").await, 1, "a lagging standby was read");
    pair.resume_replay().await;
    eventually(Duration::from_secs(20), "the standby to serve again", async || {
        readyz(&tight).await.1.contains("serving reads")
    })
    .await;
    drop((server, tight));
    drop(pair);
}

/// Replicas need PostgreSQL: on SQLite the flag is refused before anything
/// is opened, as is a replica URL that is not PostgreSQL's.
#[test]
fn read_replicas_are_refused_without_postgresql() {
    let dir = WorkDir::new();
    let out = dir.output(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite://audit.db?mode=rwc",
        "--read-database-url",
        "postgres://reader:secret@db-replica/audit",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--read-database-url: read replicas need PostgreSQL"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(!dir.0.join("audit.db").exists(), "the database was opened");

    let out = dir
        .command(&["serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://u@127.0.0.1:1/audit"])
        .env("AUDITGRAPH_READ_DATABASE_URL", "postgres://u@127.0.0.1:2/audit,mysql://u:pw@h/audit")
        .output()
        .expect("run auditgraph");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("`mysql://u:***@h/audit` is not a PostgreSQL URL"), "{stderr}");
}
