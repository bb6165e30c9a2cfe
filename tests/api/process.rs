//! The real `auditgraph` binary: a scratch working directory to run commands
//! in, and `serve` processes killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_auditgraph");

/// A scratch working directory, so a command that ignored `--database-url`
/// would create its default `auditgraph.db` here, where nothing finds it.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new() -> WorkDir {
        let dir = std::env::temp_dir().join(format!("auditgraph-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create a work dir");
        WorkDir(dir)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(&self.0)
            .env_remove("AUDITGRAPH_DATABASE_URL")
            .env_remove("AUDITGRAPH_LISTEN")
            .env_remove("AUDITGRAPH_LOG")
            .env_remove("AUDITGRAPH_METRICS_LISTEN")
            .env_remove("AUDITGRAPH_OTLP_ENDPOINT")
            .env_remove("RUST_LOG");
        cmd
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run auditgraph")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "auditgraph {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 stdout")
    }

    /// Creates tenant `acme` on `db_url` and returns a new read-write key of it.
    /// An `admin` key of the tenant `acme` (which must exist), for what only
    /// admins may read, such as `/metrics` on the API's listener.
    pub fn admin_key(&self, db_url: &str) -> String {
        self.run(&["key", "create", "--tenant", "acme", "--scopes", "admin", "--database-url", db_url])
            .trim()
            .to_string()
    }

    pub fn tenant_with_key(&self, db_url: &str) -> String {
        self.run(&["tenant", "create", "acme", "--database-url", db_url]);
        let key = self.run(&[
            "key",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "audit.read,audit.write",
            "--database-url",
            db_url,
        ]);
        key.trim().to_string()
    }

    /// The default database a command would create here without a URL.
    pub fn has_default_db(&self) -> bool {
        self.0.join("auditgraph.db").exists()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `auditgraph serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    client: reqwest::Client,
    /// Every line the server wrote to stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `serve` on a free port and waits until `/healthz` answers.
    pub async fn start(dir: &WorkDir, db_url: &str) -> Server {
        Self::start_with(dir, db_url, &[]).await
    }

    /// Starts `serve` with extra arguments.
    pub async fn start_with(dir: &WorkDir, db_url: &str, extra: &[&str]) -> Server {
        Self::start_with_env(dir, db_url, extra, &[]).await
    }

    /// Starts `serve` with extra arguments and environment variables.
    pub async fn start_with_env(dir: &WorkDir, db_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--auth-cache-ms", "0", "--database-url", db_url];
        args.extend_from_slice(extra);
        let mut child = dir
            .command(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auditgraph serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut server = Server { child, base: String::new(), client: reqwest::Client::new(), log: log.clone() };
        // Reads stderr to the end (so the server never blocks on a full pipe),
        // reporting the address it announces.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("auditgraph listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let announced = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(60)))
            .expect("serve announces `auditgraph listening on http://ADDR/graphql` on stderr");
        let addr = announced.strip_suffix("/graphql").unwrap_or_else(|| panic!("announced {announced:?}"));
        server.base = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = server.client.get(format!("{}/healthz", server.base)).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(Instant::now() < deadline, "the server never became healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to `limit`) for the process to exit.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("kill");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub async fn gql(&self, key: &str, query: &str, variables: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn data(&self, key: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql(key, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}
