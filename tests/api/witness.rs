//! Witnesses (API.md Part 3, "Public verifiability"): `auditgraph witness`
//! status code by status code, as a process of its own; the server
//! submitting its checkpoints to such witnesses (the 409 resend, refusals
//! that never make a checkpoint witnessed, the quorum), restarts of both, and
//! `verify` with and without enough cosignatures.

use std::collections::HashMap;
use std::time::Duration;

use auditgraph::ledger::add_checkpoint::AddCheckpoint;
use auditgraph::ledger::{Checkpoint, Frontier, Hash, NoteSigner, consistency_proof, leaf_hash};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpers::{Backend, backend_tests, eventually};
use crate::process::WorkDir;
use crate::witnessing::{
    Setup, WitnessProcess, cosignature_time, free_port, keygen, label, ledger, note_text, record_many,
};

backend_tests!(
    a_witness_cosigns_a_growing_log,
    conflicts_resend_from_the_size_the_witness_names,
    refusing_witnesses_never_make_a_checkpoint_witnessed,
    verify_requires_enough_cosignatures,
    server_and_witness_survive_restarts,
);

/// A log of our own making: a key, a tree grown leaf by leaf, and every
/// stored hash, to sign checkpoints and prove consistency with.
struct Log {
    origin: String,
    signer: NoteSigner,
    frontier: Frontier,
    hashes: HashMap<u64, Hash>,
}

impl Log {
    fn new(origin: &str) -> Log {
        let (signer, _) = NoteSigner::generate(origin).unwrap();
        Log { origin: origin.into(), signer, frontier: Frontier::empty(), hashes: HashMap::new() }
    }

    fn grow_to(&mut self, size: u64) {
        while self.frontier.size() < size {
            let leaf = leaf_hash(format!("{} entry {}", self.origin, self.frontier.size()).as_bytes());
            self.hashes.extend(self.frontier.append(leaf));
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(&self.origin, self.frontier.size(), self.frontier.root()).unwrap()
    }

    fn note(&self) -> String {
        self.signer.sign_checkpoint(&self.checkpoint()).unwrap()
    }

    /// The request from `old` to the current size.
    fn request(&self, old: u64) -> String {
        let proof = consistency_proof(old, self.frontier.size(), &self.hashes).unwrap();
        AddCheckpoint { old_size: old, proof, note: self.note() }.body()
    }

    fn trust(&self) -> String {
        format!("{}={}", self.origin, self.signer.verifier_key())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_answers_each_status_code_of_the_spec() {
    let dir = WorkDir::new();
    let witness_key = keygen(&dir, "witness.example/w1", "w.key", true);
    let mut log = Log::new("example.com/log");
    let other = Log::new("example.com/log");
    let fresh = Log::new("example.com/fresh");
    let witness = WitnessProcess::start(&dir, "w.key", "w.state", 0, &[log.trust(), fresh.trust()]);

    log.grow_to(10);
    // 400: off the format; no blank line; an old size above the checkpoint's.
    for body in ["", "old 0\n", "old x\n\nnote\n", "old 01\n\n"] {
        assert_eq!(witness.add_checkpoint(body).await.0, 400, "{body:?}");
    }
    assert_eq!(witness.add_checkpoint(&format!("old 11\n\n{}", log.note())).await.0, 400);
    // 404: a log it does not cosign.
    let unknown = Log::new("example.com/unknown");
    assert_eq!(witness.add_checkpoint(&unknown.request(0)).await.0, 404);
    // 403: signed by another key under the same name, or a signature of the
    // trusted key that does not verify.
    let stranger = other.clone_with_tree(&log);
    assert_eq!(witness.add_checkpoint(&stranger.request(0)).await.0, 403);
    let forged = log.request(0).replacen("\n10\n", "\n11\n", 1);
    assert_eq!(witness.add_checkpoint(&forged).await.0, 403);
    // A signature by an unknown key besides the trusted one is ignored.
    let (_, _, unknown_line) = split_note(&stranger.note());
    let both = format!("{}{unknown_line}", log.request(0));
    let (status, content_type, body) = witness.add_checkpoint(&both).await;
    assert_eq!((status, content_type.as_str()), (200, "text/plain; charset=utf-8"), "{body}");
    // 200: one cosignature line over the checkpoint, timestamped now.
    let time = cosignature_time(&witness_key, &log.checkpoint().body(), &body).expect("a valid cosignature");
    let now = chrono::Utc::now().timestamp() as u64;
    assert!(time > 0 && time.abs_diff(now) < 60, "{time} vs {now}");
    assert_eq!(body.matches('\u{2014}').count(), 1, "{body}");

    // 409: the old size is not the size it cosigned; the body names that size.
    log.grow_to(20);
    for old in [0, 5, 15] {
        let (status, content_type, body) = witness.add_checkpoint(&log.request(old)).await;
        assert_eq!((status, content_type.as_str(), body.as_str()), (409, "text/x.tlog.size", "10\n"), "old {old}");
    }
    // 422: a proof that does not lead from the cosigned root.
    let mut bad = log.request(10);
    let first_proof_line = bad.lines().nth(1).unwrap().to_string();
    bad = bad.replacen(&first_proof_line, &STANDARD.encode([7u8; 32]), 1);
    assert_eq!(witness.add_checkpoint(&bad).await.0, 422);
    // 422: the same size with another root.
    let mut fork = log.clone_keys();
    fork.grow_with_prefix(10, "fork");
    assert_eq!(witness.add_checkpoint(&fork.request(10)).await.0, 422);
    // 200 from the cosigned size, then the same size again.
    assert_eq!(witness.add_checkpoint(&log.request(10)).await.0, 200);
    assert_eq!(witness.add_checkpoint(&log.request(20)).await.0, 200);

    // 422: an empty tree with another root; an old size of 0 with a proof.
    let empty_with_root = format!(
        "old 0\n\n{}",
        fresh.signer.sign_checkpoint(&Checkpoint::new(&fresh.origin, 0, [1; 32]).unwrap()).unwrap()
    );
    assert_eq!(witness.add_checkpoint(&empty_with_root).await.0, 422);
    let mut fresh = fresh;
    fresh.grow_to(3);
    let with_proof = fresh.request(0).replacen("old 0\n", &format!("old 0\n{}\n", STANDARD.encode([1u8; 32])), 1);
    assert_eq!(witness.add_checkpoint(&with_proof).await.0, 422);
    // An empty tree with the empty root is cosigned.
    let empty = Log { frontier: Frontier::empty(), hashes: HashMap::new(), ..fresh.clone_keys() };
    assert_eq!(witness.add_checkpoint(&empty.request(0)).await.0, 200);

    // The monitoring API: the latest cosigned checkpoint of a log, by the hash of its origin.
    let origin_hash = hex(&sha2::Sha256::digest(log.origin.as_bytes()));
    let latest = reqwest::get(format!("{}/{origin_hash}/checkpoint", witness.url)).await.unwrap();
    assert_eq!(latest.status(), 200);
    let note = latest.text().await.unwrap();
    assert!(note.starts_with(&log.checkpoint().body()), "{note}");
    let (_, signatures, _) = split_note(&note);
    assert_eq!(signatures.len(), 2, "the log's signature and the cosignature: {note}");
    assert!(cosignature_time(&witness_key, &log.checkpoint().body(), &signatures[1]).is_some());
    let unknown_hash = hex(&sha2::Sha256::digest(b"example.com/unknown"));
    assert_eq!(reqwest::get(format!("{}/{unknown_hash}/checkpoint", witness.url)).await.unwrap().status(), 404);
    // GET is not how checkpoints are added.
    assert_eq!(reqwest::get(format!("{}/add-checkpoint", witness.url)).await.unwrap().status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_serializes_racing_submissions_and_keeps_its_state_across_restarts() {
    let dir = WorkDir::new();
    let witness_key = keygen(&dir, "witness.example/w2", "w.key", true);
    let mut log = Log::new("example.com/racing");
    let witness = WitnessProcess::start(&dir, "w.key", "w.state", 0, &[log.trust()]);
    log.grow_to(4);
    assert_eq!(witness.add_checkpoint(&log.request(0)).await.0, 200);
    // Requests from the same old size to different new sizes, all at once:
    // exactly one advances the state; the others learn its new size.
    let mut requests = Vec::new();
    for size in 5..=16 {
        log.grow_to(size);
        requests.push(log.request(4));
    }
    let answers = futures_util::future::join_all(requests.iter().map(|body| witness.add_checkpoint(body))).await;
    let cosigned: Vec<usize> = answers.iter().enumerate().filter(|(_, a)| a.0 == 200).map(|(i, _)| i + 5).collect();
    assert_eq!(cosigned.len(), 1, "{answers:?}");
    let winner = cosigned[0];
    for (status, _, body) in answers.iter().filter(|a| a.0 != 200) {
        assert_eq!((*status, body.as_str()), (409, format!("{winner}\n").as_str()));
    }

    // A restart keeps what it cosigned: the old sizes still conflict, the winner's size still holds.
    let port = witness.port;
    drop(witness);
    let witness = WitnessProcess::start(&dir, "w.key", "w.state", port, &[log.trust()]);
    let (status, _, body) = witness.add_checkpoint(&log.request(4)).await;
    assert_eq!((status, body), (409, format!("{winner}\n")));
    let (status, _, body) = witness.add_checkpoint(&log.request(winner as u64)).await;
    assert_eq!(status, 200, "{body}");
    assert!(cosignature_time(&witness_key, &log.checkpoint().body(), &body).is_some());
    // The state is one JSON file, replaced whole: nothing else is left beside it.
    let state: Value = serde_json::from_slice(&std::fs::read(dir.0.join("w.state")).unwrap()).unwrap();
    assert_eq!(state["logs"][&log.origin]["size"], 16);
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A state file that does not read stops the witness from starting afresh.
    drop(witness);
    std::fs::write(dir.0.join("w.state"), "{ not json").unwrap();
    let out = dir.output(&[
        "witness",
        "--key",
        "w.key",
        "--state",
        "w.state",
        "--listen",
        "127.0.0.1:0",
        "--log",
        &log.trust(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the witness state"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_writes_a_witness_key_once() {
    let dir = WorkDir::new();
    let vkey = keygen(&dir, "witness.example/w3", "w.key", true);
    let mut parts = vkey.splitn(3, '+');
    let (name, id, public) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    assert_eq!((name, id.len()), ("witness.example/w3", 8), "{vkey}");
    let name_and_id = format!("{name}+{id}");
    let public = STANDARD.decode(public).unwrap();
    assert_eq!((public.len(), public[0]), (33, 0x04), "signature type 0x04 and an Ed25519 key");
    let private = std::fs::read_to_string(dir.0.join("w.key")).unwrap();
    assert!(private.starts_with(&format!("PRIVATE+KEY+{name_and_id}+")), "{private}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(dir.0.join("w.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = dir.output(&["keygen", "--name", "witness.example/w3", "--output", "w.key", "--witness"]);
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(dir.0.join("w.key")).unwrap(), private, "never overwritten");
    // A checkpoint signing key is no witness key, and a witness needs logs.
    keygen(&dir, "log.example", "log.key", false);
    let out = dir.output(&["witness", "--key", "log.key", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let out = dir.output(&["witness", "--key", "missing.key", "--listen", "127.0.0.1:0", "--log", "a=b"]);
    assert!(!out.status.success());
}

async fn a_witness_cosigns_a_growing_log(backend: Backend) {
    let setup = Setup::new(backend, 1, None).await;
    let (app, key) = (&setup.app, &setup.key);
    let ledger_now = ledger(app, key).await;
    assert_eq!(ledger_now["witnessKeys"], json!([setup.witnesses[0].0]));
    assert_eq!(ledger_now["witnessQuorum"], 1);
    let first_size = record_many(app, key, "grow.first", 5).await;
    // The witness is not up yet: the checkpoint is persisted but not witnessed.
    eventually(Duration::from_secs(30), "a failed submission", async || setup.failures(0).await > 0).await;
    let checkpoint = ledger(app, key).await["checkpoint"].clone();
    assert_eq!((checkpoint["witnessed"].clone(), checkpoint["cosignatures"].clone()), (json!(false), json!([])));

    let witness = setup.start(0);
    let first = setup.witnessed(first_size).await;
    let note = first["signedNote"].as_str().unwrap();
    let lines = first["cosignatures"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{first}");
    let line = lines[0].as_str().unwrap();
    assert!(note.ends_with(line), "the note carries the cosignature last: {note}");
    assert!(cosignature_time(&setup.witnesses[0].0, &note_text(note), line).is_some(), "{line}");
    // The log's own signature still verifies with the cosignature added.
    let verifier = auditgraph::ledger::NoteVerifier::from_verifier_key(&setup.log_vkey).unwrap();
    assert_eq!(verifier.verify_checkpoint(note).unwrap().size, first_size);

    // The log grows: the witness cosigns the next checkpoint, consistent with the first.
    let second_size = record_many(app, key, "grow.second", 300).await;
    let second = setup.witnessed(second_size).await;
    let note = second["signedNote"].as_str().unwrap().to_string();
    let line = second["cosignatures"][0].as_str().unwrap().to_string();
    assert!(cosignature_time(&setup.witnesses[0].0, &note_text(&note), &line).is_some());

    // Every door serves the cosigned note: the tiles' checkpoint, REST, export.
    let text =
        app.client.get(app.url("/v1/log/checkpoint")).bearer_auth(key).send().await.unwrap().text().await.unwrap();
    assert_eq!(text, note);
    let rest: Value =
        app.client.get(app.url("/v1/ledger/checkpoint")).bearer_auth(key).send().await.unwrap().json().await.unwrap();
    assert_eq!((rest["signed_note"].as_str(), rest["witnessed"].as_bool()), (Some(note.as_str()), Some(true)));
    assert_eq!(rest["cosignatures"], json!([line]));
    let export =
        app.client.get(app.url("/export")).bearer_auth(key).query(&[("format", "ndjson")]).send().await.unwrap();
    let header = export.headers()["audit-checkpoint"].to_str().unwrap().to_string();
    assert_eq!(String::from_utf8(STANDARD.decode(header).unwrap()).unwrap(), note);
    // Persisted checkpoints keep their own cosignatures.
    let q = "{ ledger { checkpoints(first: 50) { nodes { size witnessed cosignatures signedNote } } } }";
    let persisted = app.data(key, q, json!({})).await["ledger"]["checkpoints"]["nodes"].clone();
    for size in [first_size, second_size] {
        let c = persisted.as_array().unwrap().iter().find(|c| c["size"] == size.to_string()).expect("persisted");
        assert_eq!(c["witnessed"], true, "{c}");
        let note = c["signedNote"].as_str().unwrap();
        assert!(
            cosignature_time(&setup.witnesses[0].0, &note_text(note), c["cosignatures"][0].as_str().unwrap()).is_some()
        );
    }
    // /metrics shows what the witness cosigned; the witness's state, what it holds.
    let metrics = setup.metrics().await;
    // The export's own record (`audit_log.export`) grows the log by one,
    // which the witness may have cosigned since.
    let gauge = |size: u64| {
        format!(
            "auditgraph_witness_cosigned_size{{witness=\"{}\",tenant=\"{}\"}} {size}",
            label(&setup.witnesses[0].0),
            setup.origin.rsplit_once('/').unwrap().1
        )
    };
    assert!(metrics.contains(&gauge(second_size)) || metrics.contains(&gauge(second_size + 1)), "{metrics}");
    let state: Value = serde_json::from_slice(&std::fs::read(setup.dir.0.join("w0.state")).unwrap()).unwrap();
    let held = state["logs"][&setup.origin]["size"].as_u64().unwrap();
    assert!(held == second_size || held == second_size + 1, "{state}");
    drop(witness);
}

async fn conflicts_resend_from_the_size_the_witness_names(backend: Backend) {
    let setup = Setup::new(backend, 1, None).await;
    let (app, key) = (&setup.app, &setup.key);
    let witness = setup.start(0);
    let a = record_many(app, key, "conflict.a", 3).await;
    setup.witnessed(a).await;
    // (Submissions made before the witness started failed; none fail from here on.)
    let failures = setup.failures(0).await;
    let state_at_3 = std::fs::read(setup.dir.0.join("w0.state")).unwrap();
    let b = record_many(app, key, "conflict.b", 4).await;
    setup.witnessed(b).await;

    // The witness knows an older size than the server believes (its state
    // went back to size a): the server sends old b, hears 409 "a", resends from a.
    drop(witness);
    std::fs::write(setup.dir.0.join("w0.state"), &state_at_3).unwrap();
    let witness = setup.start(0);
    let (status, content_type, body) = witness.add_checkpoint(&format!("old 0\n\n{}", ledger_note(&setup).await)).await;
    assert_eq!((status, content_type.as_str(), body), (409, "text/x.tlog.size", format!("{a}\n")));
    let c = record_many(app, key, "conflict.c", 5).await;
    setup.witnessed(c).await;

    // The witness knows a newer size than the server believes (the server lost
    // its record of it): the server sends old 0, hears 409 "c", resends from c.
    forget_positions(&setup.app.db_url).await;
    let d = record_many(app, key, "conflict.d", 2).await;
    setup.witnessed(d).await;
    let state: Value = serde_json::from_slice(&std::fs::read(setup.dir.0.join("w0.state")).unwrap()).unwrap();
    assert_eq!(state["logs"][&setup.origin]["size"], d);
    assert_eq!(setup.failures(0).await, failures, "a 409 followed by a resend is no failure");
}

/// The current signed note of the setup's tenant.
async fn ledger_note(setup: &Setup) -> String {
    ledger(&setup.app, &setup.key).await["checkpoint"]["signedNote"].as_str().unwrap().to_string()
}

/// Deletes what the server recorded of its witnesses' positions.
async fn forget_positions(url: &str) {
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(url).await.unwrap();
    db.execute_unprepared("DELETE FROM witness_position").await.unwrap();
    db.close().await.unwrap();
}

async fn refusing_witnesses_never_make_a_checkpoint_witnessed(backend: Backend) {
    // Three witnesses, all needed: one cosigns, one does not trust the
    // server's key (403), one remembers another root for the log (422).
    let setup = Setup::new(backend, 3, None).await;
    let (app, key) = (&setup.app, &setup.key);
    assert_eq!(ledger(app, key).await["witnessQuorum"], 3);
    let _good = setup.start(0);
    let (stranger, _) = NoteSigner::generate("log.example").unwrap();
    let _distrusting = setup.start_trusting(1, &stranger.verifier_key());
    let fake_root = STANDARD.encode([9u8; 32]);
    let forked = json!({ "logs": { &setup.origin: { "size": 2, "root": fake_root, "note": "" } } });
    std::fs::write(setup.dir.0.join("w2.state"), forked.to_string()).unwrap();
    let _forked = setup.start(2);

    record_many(app, key, "refused", 6).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let checkpoint = ledger(app, key).await["checkpoint"].clone();
        let (f1, f2) = (setup.failures(1).await, setup.failures(2).await);
        if checkpoint["cosignatures"].as_array().unwrap().len() == 1 && f1 >= 2 && f2 >= 2 {
            // Cosigned by the good witness only, refused by the others again and again.
            assert_eq!(checkpoint["witnessed"], false, "{checkpoint}");
            assert!(
                cosignature_time(
                    &setup.witnesses[0].0,
                    &note_text(checkpoint["signedNote"].as_str().unwrap()),
                    checkpoint["cosignatures"][0].as_str().unwrap()
                )
                .is_some()
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no refusals seen: {checkpoint} {f1} {f2}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refusing witnesses stored nothing.
    let state: Value = serde_json::from_slice(&std::fs::read(setup.dir.0.join("w2.state")).unwrap()).unwrap();
    assert_eq!(state["logs"][&setup.origin]["size"], 2);
    assert!(!setup.dir.0.join("w1.state").exists());
    let q = "{ ledger { checkpoints(first: 50) { nodes { witnessed cosignatures } } } }";
    let persisted = app.data(key, q, json!({})).await;
    for c in persisted["ledger"]["checkpoints"]["nodes"].as_array().unwrap() {
        assert_eq!(c["witnessed"], false, "{c}");
        assert!(c["cosignatures"].as_array().unwrap().len() <= 1, "{c}");
    }
}

async fn verify_requires_enough_cosignatures(backend: Backend) {
    // Two witnesses, one of which never runs; a quorum of one.
    let setup = Setup::new(backend, 2, Some(1)).await;
    let (app, key) = (&setup.app, &setup.key);
    let _witness = setup.start(0);
    let size = record_many(app, key, "verify", 9).await;
    setup.witnessed(size).await;
    let export =
        app.client.get(app.url("/export")).bearer_auth(key).query(&[("format", "ndjson")]).send().await.unwrap();
    let checkpoint = export.headers()["audit-checkpoint"].to_str().unwrap().to_string();
    let events = export.text().await.unwrap();
    let dir = &setup.dir;
    std::fs::write(dir.0.join("events.ndjson"), &events).unwrap();
    std::fs::write(dir.0.join("checkpoint.b64"), &checkpoint).unwrap();
    let note = String::from_utf8(STANDARD.decode(&checkpoint).unwrap()).unwrap();
    let (w0, w1) = (setup.witnesses[0].0.clone(), setup.witnesses[1].0.clone());
    let verify = |checkpoint: &str, extra: &[&str]| {
        let mut args =
            vec!["verify", "--export", "events.ndjson", "--checkpoint", checkpoint, "--key", &setup.log_vkey];
        args.extend_from_slice(extra);
        dir.output(&args)
    };
    let ok = |out: &std::process::Output| {
        assert!(out.status.success(), "{out:?}");
        let verified = format!("verified {size} events against checkpoint of size {size}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), verified);
    };
    let failed = |out: &std::process::Output, why: &str| {
        assert!(!out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{why:?} not in {stderr}");
    };

    // Enough: the witness that cosigned.
    let out = verify("checkpoint.b64", &["--witness-key", &w0]);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("cosigned by 1 of the 1 witnesses given (quorum 1): {}", label(&w0)))
    );
    ok(&verify("checkpoint.b64", &["--witness-key", &w0, "--witness-key", &w1, "--quorum", "1"]));
    // Not enough: both witnesses by default, or only the one that never ran.
    let out = verify("checkpoint.b64", &["--witness-key", &w0, "--witness-key", &w1]);
    failed(
        &out,
        &format!(
            "cosigned by 1 of the 2 witnesses given, fewer than the quorum of 2; no valid cosignature by {}",
            label(&w1)
        ),
    );
    failed(&verify("checkpoint.b64", &["--witness-key", &w1]), "cosigned by 0 of the 1 witnesses given");
    // Without its cosignature the checkpoint still verifies, but not with witnesses.
    let bare: String =
        note.lines().filter(|l| !l.starts_with("\u{2014} w0.example")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.0.join("bare"), &bare).unwrap();
    ok(&verify("bare", &[]));
    failed(&verify("bare", &["--witness-key", &w0]), "cosigned by 0 of the 1");
    // A cosignature that was changed spoils the checkpoint.
    let line = note.lines().find(|l| l.starts_with("\u{2014} w0.example")).unwrap();
    let (head, sig) = line.rsplit_once(' ').unwrap();
    let mut sig = STANDARD.decode(sig).unwrap();
    sig[20] ^= 1;
    std::fs::write(dir.0.join("tampered"), note.replace(line, &format!("{head} {}", STANDARD.encode(sig)))).unwrap();
    failed(&verify("tampered", &["--witness-key", &w0]), "do not verify");
    // Usage errors name what is wrong.
    failed(&verify("checkpoint.b64", &["--witness-key", &w0, "--quorum", "2"]), "--quorum must be from 1 to the 1");
    failed(&verify("checkpoint.b64", &["--witness-key", &setup.log_vkey]), "is not a witness verifier key");
    failed(&verify("checkpoint.b64", &["--quorum", "1"]), "--witness-key");
}

async fn server_and_witness_survive_restarts(backend: Backend) {
    use crate::process::Server;
    let db = crate::helpers::TestDb::new(backend).await;
    let dir = WorkDir::new();
    let key = dir.tenant_with_key(&db.url);
    let log_vkey = keygen(&dir, "log.example", "log.key", false);
    let witness_vkey = keygen(&dir, "w.example", "w.key", true);
    let port = free_port();
    let witness_arg = format!("http://127.0.0.1:{port}#{witness_vkey}");
    let args = ["--signing-key", "log.key", "--checkpoint-interval", "150ms", "--witness", &witness_arg];
    let mut server = Server::start_with(&dir, &db.url, &args).await;
    let q = "{ ledger { checkpoint { origin size witnessed cosignatures signedNote } } }";
    let origin = server.data(&key, q, json!({})).await["ledger"]["checkpoint"]["origin"].as_str().unwrap().to_string();
    let trust = format!("{origin}={log_vkey}");
    let start_witness = || WitnessProcess::start(&dir, "w.key", "w.state", port, std::slice::from_ref(&trust));
    let witnessed = async |server: &Server, size: u64| -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let c = server.data(&key, q, json!({})).await["ledger"]["checkpoint"].clone();
            if c["size"] == size.to_string() && c["witnessed"] == true {
                return c;
            }
            assert!(std::time::Instant::now() < deadline, "size {size} never witnessed: {c}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let record = async |server: &Server, n: usize| -> u64 {
        let events: Vec<Value> = (0..n).map(|i| crate::helpers::event(&format!("restart.{i}"))).collect();
        let out = crate::helpers::record_at(&reqwest::Client::new(), &server.base, &key, json!(events)).await;
        assert_eq!(out["data"]["recordAuditEvents"]["createdCount"], n, "{out}");
        let size = server.data(&key, "{ ledger { size } }", json!({})).await["ledger"]["size"].clone();
        size.as_str().unwrap().parse().unwrap()
    };

    let witness = start_witness();
    let size = record(&server, 4).await;
    witnessed(&server, size).await;
    // The witness restarts (and is down meanwhile): the next checkpoint is witnessed once it is back.
    drop(witness);
    let size = record(&server, 3).await;
    let witness = start_witness();
    witnessed(&server, size).await;
    // The server restarts: it persists its last checkpoint on the way down and
    // submits it once up again, from the size it recorded for the witness.
    let size = record(&server, 2).await;
    assert!(server.terminate(Duration::from_secs(30)).is_some_and(|s| s.success()));
    let server = Server::start_with(&dir, &db.url, &args).await;
    let last = witnessed(&server, size).await;
    let line = last["cosignatures"][0].as_str().unwrap();
    assert!(cosignature_time(&witness_vkey, &note_text(last["signedNote"].as_str().unwrap()), line).is_some());
    let size = record(&server, 1).await;
    witnessed(&server, size).await;
    let state: Value = serde_json::from_slice(&std::fs::read(dir.0.join("w.state")).unwrap()).unwrap();
    assert_eq!(state["logs"][&origin]["size"], size);
    drop(witness);
    drop(server);
}

/// The log's note split into its text, its signature lines, and its last line.
fn split_note(note: &str) -> (String, Vec<String>, String) {
    let (text, signatures) = note.rsplit_once("\n\n").unwrap();
    let lines: Vec<String> = signatures.lines().map(|l| format!("{l}\n")).collect();
    let last = lines.last().cloned().unwrap_or_default();
    (format!("{text}\n"), lines, last)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Log {
    /// A log under another key with the same name, holding `log`'s tree.
    fn clone_with_tree(&self, log: &Log) -> Log {
        Log {
            origin: log.origin.clone(),
            signer: self.signer.clone(),
            frontier: log.frontier.clone(),
            hashes: log.hashes.clone(),
        }
    }

    /// The same keys and origin, an empty tree.
    fn clone_keys(&self) -> Log {
        Log {
            origin: self.origin.clone(),
            signer: self.signer.clone(),
            frontier: Frontier::empty(),
            hashes: HashMap::new(),
        }
    }

    /// Grows with leaves of another content: a fork of any log of this origin.
    fn grow_with_prefix(&mut self, size: u64, prefix: &str) {
        while self.frontier.size() < size {
            let leaf = leaf_hash(format!("{prefix} {}", self.frontier.size()).as_bytes());
            self.hashes.extend(self.frontier.append(leaf));
        }
    }
}
