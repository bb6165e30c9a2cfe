//! `schema.graphql` is the live schema's SDL.

#[test]
fn schema_file_matches_the_live_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).expect("schema.graphql exists");
    let live = auditgraph::graphql::sdl();
    assert!(
        on_disk == live,
        "schema.graphql is stale: regenerate it with `cargo run -- schema > schema.graphql`"
    );
}
