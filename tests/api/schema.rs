//! `schema.graphql` is the live schema's SDL.

#[test]
fn schema_file_matches_the_live_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).expect("schema.graphql exists");
    let live = auditgraph::graphql::sdl();
    assert!(on_disk == live, "schema.graphql is stale: regenerate it with `cargo run -- schema > schema.graphql`");
}

/// Every type, field, argument, input field and enum value documents itself,
/// so the playground and generated clients do too.
#[test]
fn everything_in_the_schema_has_a_description() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let doc = async_graphql::parser::parse_schema(auditgraph::graphql::sdl()).expect("the SDL parses");
    let mut missing = Vec::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else { continue };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if ty.description.is_none() && !matches!(name, "Query" | "Mutation" | "Subscription") {
            missing.push(name.to_string());
        }
        match &ty.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    let f = &f.node;
                    if f.description.is_none() {
                        missing.push(format!("{name}.{}", f.name.node));
                    }
                    for a in &f.arguments {
                        if a.node.description.is_none() {
                            missing.push(format!("{name}.{}({})", f.name.node, a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::Interface(i) => {
                for f in &i.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if v.node.description.is_none() {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
