//! Hash tiles (API.md Part 3, "Public verifiability"; c2sp.org/tlog-tiles):
//! the tiles of a tenant's tree, read over HTTP, hold its leaf hashes and
//! subtree roots and rebuild the root its signed checkpoint names; paths,
//! cache headers, refusals and tenancy as the spec and the REST door say.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests};
use crate::ledger::{Hash, batch, check_note, decode, merkle_root, node};

backend_tests!(tiles_hold_the_leaves_and_rebuild_the_signed_root, tiles_are_static_resources_of_one_tenant);

/// `tile/<L>/<N>[.p/<W>]` as c2sp.org/tlog-tiles spells it, written apart
/// from the server: `N` in 3-digit elements, all but the last with an `x`.
pub fn tile_path(level: u32, index: u64, width: u64) -> String {
    let mut elements = vec![format!("{:03}", index % 1000)];
    let mut rest = index / 1000;
    while rest > 0 {
        elements.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    elements.reverse();
    let partial = if width == 256 { String::new() } else { format!(".p/{width}") };
    format!("tile/{level}/{}{partial}", elements.join("/"))
}

/// Every tile of a tree of `size` leaves: (level, index, width).
pub fn tiles_of(size: u64) -> Vec<(u32, u64, u64)> {
    let mut tiles = Vec::new();
    let mut level = 0;
    while size >> (8 * level) > 0 {
        let hashes = size >> (8 * level);
        tiles.extend((0..hashes / 256).map(|n| (level, n, 256)));
        if !hashes.is_multiple_of(256) {
            tiles.push((level, hashes / 256, hashes % 256));
        }
        level += 1;
    }
    tiles
}

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client.get(app.url(&format!("/v1/log/{path}"))).bearer_auth(key).send().await.unwrap()
}

/// The leaf hash of every event, in sequence order.
async fn leaf_hashes(app: &TestApp, key: &str) -> Vec<Hash> {
    let q = "query($a: String) { auditEvents(first: 500, after: $a, orderBy: {field: SEQUENCE, direction: ASC}) { pageInfo { endCursor hasNextPage } nodes { leafHash } } }";
    let (mut leaves, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let data = app.data(key, q, json!({ "a": cursor })).await;
        let page = &data["auditEvents"];
        leaves.extend(page["nodes"].as_array().unwrap().iter().map(|n| decode(&n["leafHash"])));
        cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if !page["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return leaves;
        }
    }
}

/// The MTH of leaves `lo..hi`, taking each aligned run of 256 leaves from the
/// level-1 tiles' hashes and single leaves from the level-0 tiles.
fn root_from_tiles(lo: u64, hi: u64, level0: &[Hash], level1: &[Hash]) -> Hash {
    let n = hi - lo;
    if n == 1 {
        return level0[lo as usize];
    }
    if n == 256 && lo.is_multiple_of(256) {
        return level1[(lo / 256) as usize];
    }
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    node(&root_from_tiles(lo, lo + k, level0, level1), &root_from_tiles(lo + k, hi, level0, level1))
}

async fn tiles_hold_the_leaves_and_rebuild_the_signed_root(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    // Two full level-0 tiles, a partial one, and a partial level-1 tile.
    app.record(&key, batch("tiles.a", 600)).await;

    let response = get(&app, &key, "checkpoint").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let note = response.text().await.unwrap();
    let vkey = app.data(&key, "{ ledger { verifierKey } }", json!({})).await["ledger"]["verifierKey"].clone();
    let lines = check_note(vkey.as_str().unwrap(), &note);
    let size: u64 = lines[1].parse().unwrap();
    let root: Hash = STANDARD.decode(&lines[2]).unwrap().try_into().unwrap();
    assert!(size >= 600, "{note}");

    let mut level0 = Vec::new();
    let mut level1 = Vec::new();
    for (level, index, width) in tiles_of(size) {
        let path = tile_path(level, index, width);
        let response = get(&app, &key, &path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/octet-stream", "{path}");
        let cache = headers["cache-control"].to_str().unwrap();
        if width == 256 {
            assert_eq!(cache, "public, max-age=31536000, immutable", "{path}");
        } else {
            assert!(!cache.contains("immutable"), "a partial tile is not immutable: {path} {cache}");
        }
        assert!(headers["vary"].to_str().unwrap().to_lowercase().contains("authorization"), "{path}");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, width * 32, "{path}");
        let hashes: Vec<Hash> = bytes.chunks(32).map(|c| c.try_into().unwrap()).collect();
        match level {
            0 => level0.extend(hashes),
            1 => level1.extend(hashes),
            _ => panic!("no level-2 tile in a tree of {size}"),
        }
    }
    // Level 0 is the leaf hashes; level 1 the roots of each full level-0 tile.
    let leaves = leaf_hashes(&app, &key).await;
    assert_eq!(leaves.len() as u64, size);
    assert_eq!(level0, leaves);
    assert_eq!(level1.len() as u64, size / 256);
    for (i, hash) in level1.iter().enumerate() {
        assert_eq!(*hash, merkle_root(&leaves[i * 256..(i + 1) * 256]), "level-1 hash {i}");
    }
    assert_eq!(root_from_tiles(0, size, &level0, &level1), root);
    assert_eq!(merkle_root(&leaves), root);

    // The tree grows: the tiles served before stay as they were; a full tile
    // that was partial is the partial one extended.
    let partial = get(&app, &key, &tile_path(0, size / 256, size % 256)).await.bytes().await.unwrap();
    app.record(&key, batch("tiles.b", 200)).await;
    let full = get(&app, &key, &tile_path(0, 2, 256)).await;
    assert_eq!(full.status(), StatusCode::OK);
    let full = full.bytes().await.unwrap();
    assert_eq!(&full[..partial.len()], &partial[..]);
    assert_eq!(get(&app, &key, &tile_path(0, 0, 256)).await.bytes().await.unwrap(), level0[..256].concat());
}

async fn tiles_are_static_resources_of_one_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, batch("static", 300)).await;
    let size: u64 =
        app.data(&key, "{ ledger { size } }", json!({})).await["ledger"]["size"].as_str().unwrap().parse().unwrap();
    let width = size - 256;
    let status = async |key: &str, path: &str| get(&app, key, path).await.status();
    assert_eq!(status(&key, &tile_path(0, 1, width)).await, StatusCode::OK);
    assert_eq!(status(&key, &tile_path(1, 0, 1)).await, StatusCode::OK);

    // Beyond the tree: 404 problems, never cached.
    for path in [
        tile_path(0, 1, width + 1),
        tile_path(0, 1, 256),
        tile_path(0, 2, 1),
        tile_path(1, 0, 2),
        tile_path(1, 0, 256),
        tile_path(2, 0, 1),
        tile_path(7, 0, 1),
        tile_path(63, 0, 1),
        tile_path(0, 1_234_067, 256),
        "tile/entries/000".to_string(),
        "tile/entries/000.p/5".to_string(),
    ] {
        let response = get(&app, &key, &path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "NOT_FOUND", "{path}: {problem}");
    }
    // Not a tile path: 400 problems naming the tile.
    for path in [
        "tile/0/1",
        "tile/0/00",
        "tile/0/0000",
        "tile/00/000",
        "tile/64/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/08",
        "tile/0/x000/001",
        "tile/0/001/x002",
        "tile/-1/000",
        "tile/0/000/",
        "tile/a/000",
    ] {
        let response = get(&app, &key, path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            (problem["code"].as_str(), problem["errors"][0]["path"].as_str()),
            (Some("BAD_USER_INPUT"), Some("tile")),
            "{path}: {problem}"
        );
    }

    // Credentials as for every read: none, a key without audit.read, a viewer token.
    let first = tile_path(0, 0, 256);
    let anonymous = app.client.get(app.url(&format!("/v1/log/{first}"))).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.client.get(app.url("/v1/log/checkpoint")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let writer = app.key("audit.write").await;
    assert_eq!(status(&writer, &first).await, StatusCode::FORBIDDEN);
    assert_eq!(status(&writer, "checkpoint").await, StatusCode::FORBIDDEN);
    let viewer = app.viewer_token(&key, json!({ "action": { "prefix": "static." } }), 600).await;
    assert_eq!(status(&viewer, &first).await, StatusCode::OK);
    assert_eq!(status(&viewer, "checkpoint").await, StatusCode::OK);

    // Another tenant's tiles at the same URLs are its own tree's.
    let other = app.create_tenant("globex").await;
    let other_key = app.key_in(other, "audit.read,audit.write").await;
    app.record(&other_key, batch("globex", 3)).await;
    let other_size: u64 = app.data(&other_key, "{ ledger { size } }", json!({})).await["ledger"]["size"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(status(&other_key, &first).await, StatusCode::NOT_FOUND);
    let mine = get(&app, &key, &tile_path(0, 0, other_size)).await.bytes().await.unwrap();
    let theirs = get(&app, &other_key, &tile_path(0, 0, other_size)).await.bytes().await.unwrap();
    assert_eq!(theirs.len() as u64, other_size * 32);
    assert_ne!(mine, theirs);
    let shared = theirs.chunks(32).filter(|hash| mine.chunks(32).any(|m| m == *hash)).count();
    assert_eq!(shared, 0, "no leaf of one tenant is in the other's tiles");
}
