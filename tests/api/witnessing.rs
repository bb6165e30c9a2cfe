//! What the witness tests share: `auditgraph witness` as a process of its
//! own, keys made by `auditgraph keygen`, a cosignature check written from
//! c2sp.org/tlog-cosignature alone, and the server's checkpoint as GraphQL
//! shows it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Verifier as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestApp};
use crate::process::WorkDir;

/// A running `auditgraph witness`, killed when dropped.
pub struct WitnessProcess {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl WitnessProcess {
    /// Starts a witness with `key` and `state` (files in `dir`) on `port` (0:
    /// any), cosigning `logs` (`ORIGIN=VKEY`), and waits until it listens.
    pub fn start(dir: &WorkDir, key: &str, state: &str, port: u16, logs: &[String]) -> WitnessProcess {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["witness", "--key", key, "--state", state, "--listen", &listen];
        for log in logs {
            args.extend(["--log", log.as_str()]);
        }
        let mut child = dir
            .command(&args)
            .env_remove("AUDITGRAPH_WITNESS_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn auditgraph witness");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split(" listening on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            panic!("the witness did not start: {:?}", log.lock().unwrap());
        };
        let port = addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("a port");
        WitnessProcess { child, url: format!("http://{addr}"), port }
    }

    /// `POST /add-checkpoint` with `body`: the status, content type and body.
    pub async fn add_checkpoint(&self, body: &str) -> (u16, String, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.url))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }
}

/// A port free now, for a process started later (the server must know its
/// witness's address before the witness, which needs the tenant, exists).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Writes a key with `auditgraph keygen` (`--witness` for a cosigner key) to
/// `file` in `dir`; returns its verifier key.
pub fn keygen(dir: &WorkDir, name: &str, file: &str, witness: bool) -> String {
    let mut args = vec!["keygen", "--name", name, "--output", file];
    if witness {
        args.push("--witness");
    }
    dir.run(&args).trim().to_string()
}

/// The timestamp of `line`, a cosignature/v1 by the witness of verifier key
/// `vkey` over `text` (a checkpoint note's text), if it verifies. Written from
/// the spec, apart from the server's code.
pub fn cosignature_time(vkey: &str, text: &str, line: &str) -> Option<u64> {
    let mut parts = vkey.splitn(3, '+');
    let (name, id_hex, key64) = (parts.next()?, parts.next()?, parts.next()?);
    let key = STANDARD.decode(key64).ok()?;
    if key.len() != 33 || key[0] != 0x04 {
        return None;
    }
    let id = Sha256::new().chain_update(name).chain_update("\n").chain_update(&key).finalize();
    if format!("{:08x}", u32::from_be_bytes(id[..4].try_into().ok()?)) != id_hex {
        return None;
    }
    let sig = STANDARD.decode(line.strip_prefix(&format!("\u{2014} {name} "))?.trim_end()).ok()?;
    if sig.len() != 4 + 8 + 64 || sig[..4] != id[..4] {
        return None;
    }
    let time = u64::from_be_bytes(sig[4..12].try_into().ok()?);
    let message = format!("cosignature/v1\ntime {time}\n{text}");
    let public = ed25519_dalek::VerifyingKey::from_bytes(key[1..].try_into().ok()?).ok()?;
    public.verify(message.as_bytes(), &ed25519_dalek::Signature::from_slice(&sig[12..]).ok()?).ok()?;
    Some(time)
}

/// A signed note's text: up to and including the line before the blank line.
pub fn note_text(note: &str) -> String {
    let (text, _) = note.rsplit_once("\n\n").expect("a signed note");
    format!("{text}\n")
}

/// `ledger { … checkpoint { … } }` of the key's tenant.
pub async fn ledger(app: &TestApp, key: &str) -> Value {
    let q = "{ ledger { size verifierKey witnessKeys witnessQuorum checkpoint { origin size rootHash signedNote cosignatures witnessed } } }";
    app.data(key, q, json!({})).await["ledger"].clone()
}

/// Polls the current checkpoint until `done` holds for it (within 60 s).
pub async fn checkpoint_when(app: &TestApp, key: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let checkpoint = ledger(app, key).await["checkpoint"].clone();
        if done(&checkpoint) {
            return checkpoint;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}: {checkpoint}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records `n` events named `prefix.i` in one batch; returns the tree's size
/// after them (the server's own self-audit events count too).
pub async fn record_many(app: &TestApp, key: &str, prefix: &str, n: usize) -> u64 {
    let events: Vec<Value> = (0..n).map(|i| crate::helpers::event(&format!("{prefix}.{i}"))).collect();
    let recorded = app.record(key, json!(events)).await;
    assert_eq!(recorded["createdCount"], n, "{recorded}");
    ledger(app, key).await["size"].as_str().unwrap().parse().unwrap()
}

/// A server signing with a key of its own, submitting to `witnesses` fresh
/// ports (the witnesses start once the tenant, and so the origin, exists).
pub struct Setup {
    pub app: TestApp,
    pub key: String,
    pub dir: WorkDir,
    pub origin: String,
    pub log_vkey: String,
    /// (verifier key, port) of each witness, by index: key file `w{i}.key`, state `w{i}.state`.
    pub witnesses: Vec<(String, u16)>,
    /// An admin key, for `/metrics`.
    pub admin: String,
}

impl Setup {
    pub async fn new(backend: Backend, witnesses: usize, quorum: Option<usize>) -> Setup {
        let dir = WorkDir::new();
        let log_vkey = keygen(&dir, "log.example", "log.key", false);
        let witnesses: Vec<(String, u16)> = (0..witnesses)
            .map(|i| (keygen(&dir, &format!("w{i}.example"), &format!("w{i}.key"), true), free_port()))
            .collect();
        let entries: Vec<String> =
            witnesses.iter().map(|(vkey, port)| format!("http://127.0.0.1:{port}/#{vkey}")).collect();
        let signing_key = dir.0.join("log.key");
        let app = TestApp::spawn_with(backend, move |s| {
            s.ledger.signing_key = Some(signing_key);
            s.ledger.witnesses = entries;
            s.ledger.witness_quorum = quorum;
            s.ledger.checkpoint_interval = Duration::from_millis(150);
        })
        .await;
        let key = app.key("audit.read,audit.write").await;
        let admin = app.key("admin").await;
        let origin = ledger(&app, &key).await["checkpoint"]["origin"].as_str().unwrap().to_string();
        Setup { app, key, dir, origin, log_vkey, witnesses, admin }
    }

    /// Starts witness `i`, trusting the server's key for its origin.
    pub fn start(&self, i: usize) -> WitnessProcess {
        self.start_trusting(i, &self.log_vkey)
    }

    pub fn start_trusting(&self, i: usize, log_vkey: &str) -> WitnessProcess {
        let log = format!("{}={log_vkey}", self.origin);
        WitnessProcess::start(&self.dir, &format!("w{i}.key"), &format!("w{i}.state"), self.witnesses[i].1, &[log])
    }

    pub async fn witnessed(&self, size: u64) -> Value {
        checkpoint_when(&self.app, &self.key, &format!("a witnessed checkpoint of size {size}"), |c| {
            c["size"] == size.to_string() && c["witnessed"] == true
        })
        .await
    }

    pub async fn metrics(&self) -> String {
        let request = self.app.client.get(self.app.url("/metrics")).bearer_auth(&self.admin);
        request.send().await.unwrap().text().await.unwrap()
    }

    /// `auditgraph_witness_failures_total` of witness `i`.
    pub async fn failures(&self, i: usize) -> u64 {
        let label = label(&self.witnesses[i].0);
        let metrics = self.metrics().await;
        let prefix = format!("auditgraph_witness_failures_total{{witness=\"{label}\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.parse().unwrap())
    }
}

/// `<name>+<hex id>` of a verifier key (whose base64 may hold '+' too).
pub fn label(vkey: &str) -> String {
    vkey.splitn(3, '+').take(2).collect::<Vec<_>>().join("+")
}
