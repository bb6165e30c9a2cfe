//! How many field selections a document makes with every fragment spread
//! expanded, computed before validation and before authentication.
//!
//! async-graphql's validation walks each spread into its fragment again,
//! without remembering what it found: fragments that each spread the next one
//! twice (`fragment F0 on Query { ...F1 ...F1 }`) double the work per level,
//! so a document of under a kilobyte costs seconds of a worker's CPU. Here
//! each fragment's expanded size is computed once, bottom up, so the count
//! costs time linear in the document's length however its fragments nest,
//! and a document over the bound never reaches validation.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The default bound on selections after expansion (`--max-selections`).
pub const DEFAULT_MAX_SELECTIONS: usize = 10_000;

/// What one selection set holds before its spreads are expanded: the fields
/// it selects itself (at every nesting, `__typename` included) and the names
/// of the fragments it spreads, once per spread.
#[derive(Default)]
struct Direct<'a> {
    fields: u64,
    spreads: Vec<&'a str>,
}

fn direct<'a>(set: &'a SelectionSet, into: &mut Direct<'a>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                into.fields += 1;
                direct(&field.node.selection_set.node, into);
            }
            Selection::InlineFragment(fragment) => direct(&fragment.node.selection_set.node, into),
            Selection::FragmentSpread(spread) => into.spreads.push(spread.node.fragment_name.node.as_str()),
        }
    }
}

/// The selections of every operation of `doc`, each spread counted as the
/// selections of its fragment, expanded in turn. Saturates instead of
/// overflowing. A spread of an unknown fragment, or one that closes a cycle,
/// counts nothing: validation refuses both documents anyway.
pub fn expanded_selections(doc: &ExecutableDocument) -> u64 {
    let fragments: HashMap<&str, Direct> = doc
        .fragments
        .iter()
        .map(|(name, fragment)| {
            let mut found = Direct::default();
            direct(&fragment.node.selection_set.node, &mut found);
            (name.as_str(), found)
        })
        .collect();
    let sizes = fragment_sizes(&fragments);
    doc.operations
        .iter()
        .map(|(_, operation)| {
            let mut found = Direct::default();
            direct(&operation.node.selection_set.node, &mut found);
            found.spreads.iter().fold(found.fields, |n, name| n.saturating_add(sizes.get(name).copied().unwrap_or(0)))
        })
        .fold(0u64, u64::saturating_add)
}

/// Each fragment's expanded size, by a depth-first walk on an explicit stack
/// (a chain of thousands of fragments must not exhaust the thread's stack).
fn fragment_sizes<'a>(fragments: &HashMap<&'a str, Direct<'a>>) -> HashMap<&'a str, u64> {
    enum Visit<'a> {
        Enter(&'a str),
        Leave(&'a str),
    }
    let mut sizes: HashMap<&str, u64> = HashMap::with_capacity(fragments.len());
    let mut entered: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for &root in fragments.keys() {
        let mut stack = vec![Visit::Enter(root)];
        while let Some(visit) = stack.pop() {
            match visit {
                Visit::Enter(name) => {
                    if sizes.contains_key(name) || !entered.insert(name) {
                        continue;
                    }
                    stack.push(Visit::Leave(name));
                    for &spread in &fragments[name].spreads {
                        if fragments.contains_key(spread) && !sizes.contains_key(spread) && !entered.contains(spread) {
                            stack.push(Visit::Enter(spread));
                        }
                    }
                }
                Visit::Leave(name) => {
                    let own = &fragments[name];
                    // A spread still entered (not yet sized) closes a cycle: it counts nothing.
                    let size = own
                        .spreads
                        .iter()
                        .fold(own.fields, |n, spread| n.saturating_add(sizes.get(spread).copied().unwrap_or(0)));
                    sizes.insert(name, size);
                }
            }
        }
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;
    use proptest::prelude::*;

    fn count(doc: &str) -> u64 {
        expanded_selections(&parse_query(doc).expect("parses"))
    }

    /// The fragment bomb: each level spreads the next one twice.
    fn bomb(depth: usize) -> String {
        let mut doc = String::from("query{...F0}");
        for level in 0..depth {
            doc.push_str(&format!(" fragment F{level} on Query{{...F{next} ...F{next}}}", next = level + 1));
        }
        doc.push_str(&format!(" fragment F{depth} on Query{{__typename}}"));
        doc
    }

    #[test]
    fn counts_fields_at_every_level_and_typename() {
        assert_eq!(count("{ __typename }"), 1);
        assert_eq!(count("{ viewer { scopes tenant { id slug } } }"), 5);
        assert_eq!(count("{ a: __typename b: __typename ... on Query { __typename } }"), 3);
    }

    #[test]
    fn expands_spreads_once_per_use() {
        assert_eq!(count("{ ...A ...A } fragment A on Query { __typename viewer { scopes } }"), 6);
        assert_eq!(count("{ ...A } fragment A on Query { ...B ...B } fragment B on Query { __typename }"), 2);
    }

    #[test]
    fn the_bomb_is_counted_exactly_and_quickly() {
        assert_eq!(count(&bomb(10)), 1 << 10);
        assert_eq!(count(&bomb(31)), 1 << 31);
        let started = std::time::Instant::now();
        assert_eq!(count(&bomb(60)), 1 << 60);
        assert!(count(&bomb(70)) == u64::MAX, "saturates");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn cycles_and_unknown_fragments_count_nothing_more() {
        assert_eq!(count("{ ...A } fragment A on Query { __typename ...A }"), 1);
        assert_eq!(count("{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }"), 1);
        assert_eq!(count("{ __typename ...Missing }"), 1);
    }

    #[test]
    fn a_long_chain_does_not_exhaust_the_stack() {
        let mut doc = String::from("{ ...F0 }");
        for i in 0..50_000 {
            doc.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        doc.push_str(" fragment F50000 on Query { __typename }");
        assert_eq!(count(&doc), 1);
    }

    /// Expands every spread in full, as validation does: the reference.
    fn naive(doc: &ExecutableDocument) -> u64 {
        fn set(s: &SelectionSet, doc: &ExecutableDocument, depth: usize) -> u64 {
            s.items
                .iter()
                .map(|item| match &item.node {
                    Selection::Field(f) => 1 + set(&f.node.selection_set.node, doc, depth),
                    Selection::InlineFragment(f) => set(&f.node.selection_set.node, doc, depth),
                    Selection::FragmentSpread(spread) => match doc.fragments.get(&spread.node.fragment_name.node) {
                        Some(f) if depth < 64 => set(&f.node.selection_set.node, doc, depth + 1),
                        _ => 0,
                    },
                })
                .sum()
        }
        doc.operations.iter().map(|(_, op)| set(&op.node.selection_set.node, doc, 0)).sum()
    }

    /// A random acyclic document: fragment `i` spreads only fragments above `i`.
    fn document() -> impl Strategy<Value = String> {
        let item = |fragments: usize, from: usize| {
            prop_oneof![
                Just("__typename".to_string()),
                Just("viewer { scopes }".to_string()),
                (from..fragments.max(from + 1)).prop_map(move |i| if i < fragments {
                    format!("...F{i}")
                } else {
                    "__typename".into()
                }),
                Just("... on Query { __typename }".to_string()),
            ]
        };
        (1usize..8).prop_flat_map(move |n| {
            let bodies: Vec<_> = (0..n).map(|i| prop::collection::vec(item(n, i + 1), 1..5)).collect();
            (prop::collection::vec(item(n, 0), 1..5), bodies).prop_map(move |(root, bodies)| {
                let mut doc = format!("{{ {} }}", root.join(" "));
                for (i, body) in bodies.iter().enumerate() {
                    doc.push_str(&format!(" fragment F{i} on Query {{ {} }}", body.join(" ")));
                }
                doc
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_below_the_real_expansion(doc in document()) {
            let parsed = parse_query(&doc).unwrap();
            prop_assert_eq!(expanded_selections(&parsed), naive(&parsed));
        }
    }
}
