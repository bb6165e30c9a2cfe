//! Interoperability: a tenant's tiles and its cosigned checkpoint, read by
//! Go's `golang.org/x/mod/sumdb/tlog` and `note` (`interop/check.go`). Skipped,
//! saying so, where Go or `golang.org/x/mod` is missing (Debian:
//! `apt-get install golang-go golang-golang-x-mod-dev`).

use std::path::PathBuf;
use std::process::Command;

use crate::helpers::{Backend, backend_tests};
use crate::witnessing::{Setup, record_many};

backend_tests!(go_reads_the_tiles_and_the_cosigned_checkpoint);

/// Where `golang.org/x/mod` sits in a GOPATH layout (Debian's package).
const GOPATHS: [&str; 1] = ["/usr/share/gocode"];

/// The GOPATH holding golang.org/x/mod, when `go` runs here.
fn go_with_x_mod() -> Option<PathBuf> {
    let go = Command::new("go").arg("version").output().ok()?;
    if !go.status.success() {
        return None;
    }
    GOPATHS.iter().map(PathBuf::from).find(|path| path.join("src/golang.org/x/mod/sumdb/tlog").is_dir())
}

async fn go_reads_the_tiles_and_the_cosigned_checkpoint(backend: Backend) {
    let Some(gopath) = go_with_x_mod() else {
        eprintln!(
            "skipped: Go with golang.org/x/mod is not installed \
             (apt-get install golang-go golang-golang-x-mod-dev)"
        );
        return;
    };
    let setup = Setup::new(backend, 1, None).await;
    let _witness = setup.start(0);
    // Full tiles at level 0, a partial one, and a partial level-1 tile.
    let size = record_many(&setup.app, &setup.key, "interop", 520).await;
    setup.witnessed(size).await;
    let q = "query($a: String) { auditEvents(first: 500, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { leafHash } } }";
    let (mut leaves, mut cursor) = (String::new(), None::<String>);
    loop {
        let data = setup.app.data(&setup.key, q, serde_json::json!({ "a": cursor })).await;
        let page = &data["auditEvents"];
        for node in page["nodes"].as_array().unwrap() {
            leaves.push_str(node["leafHash"].as_str().unwrap());
            leaves.push('\n');
        }
        cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
    }
    let dir = &setup.dir.0;
    std::fs::write(dir.join("leaves.txt"), leaves).unwrap();
    std::fs::write(dir.join("check.go"), include_str!("interop/check.go")).unwrap();
    let args = [
        "run".to_string(),
        "check.go".into(),
        format!("http://{}", setup.app.addr),
        setup.key.clone(),
        setup.log_vkey.clone(),
        setup.witnesses[0].0.clone(),
        "leaves.txt".into(),
    ];
    let (dir, cache) = (dir.clone(), std::env::temp_dir().join("auditgraph-go-build"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("go")
            .args(&args)
            .current_dir(&dir)
            .env("GO111MODULE", "off")
            .env("GOPATH", &gopath)
            .env("GOCACHE", &cache)
            .env("GOFLAGS", "")
            .output()
            .expect("run go")
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Go refused the log:\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), format!("ok: {size} leaves, 2 signatures"));
}
