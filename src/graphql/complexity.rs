//! What a document costs. A connection costs its page size times what one
//! item selects, like any list; each `totalCount` costs a configured amount of
//! real work (it visits every match, however small the page), once per
//! connection it counts, multiplied by the page sizes above that connection.
//! So `first: 0` does not make counting free, and a count inside each row of a
//! page is charged once per row.
//!
//! async-graphql computes complexity with plain functions, which see neither
//! the schema's settings nor the document's fragments: the validation step
//! runs inside [`scope`], which lends both to them.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use async_graphql::Name;
use async_graphql::Positioned;
use async_graphql::parser::types::{Field, FragmentDefinition, Selection, SelectionSet};

/// What one `totalCount` costs by default: as much as reading a page of 50
/// events with 50 fields each. With the default bound of 50,000 a document
/// runs at most 20 counts, a full page of 500 events with every field still
/// has room for one, and a count in each row of a page is refused.
pub const DEFAULT_COUNT_COST: usize = 2_500;

/// The field that counts.
const COUNT_FIELD: &str = "totalCount";

/// What the complexity functions of one document see.
struct Env {
    count_cost: usize,
    fragments: HashMap<Name, Positioned<FragmentDefinition>>,
}

tokio::task_local! {
    static ENV: Arc<Env>;
}

/// Runs `validation` with `count_cost` and the document's fragments lent to
/// the complexity functions.
pub async fn scope<F: Future>(
    count_cost: usize,
    fragments: HashMap<Name, Positioned<FragmentDefinition>>,
    validation: F,
) -> F::Output {
    ENV.scope(Arc::new(Env { count_cost, fragments }), validation).await
}

/// The cost of one `totalCount`.
pub fn count_cost() -> usize {
    ENV.try_with(|env| env.count_cost).unwrap_or(DEFAULT_COUNT_COST)
}

/// The cost of a connection field of `page` items whose selection costs
/// `child_complexity` in all: the page size multiplies everything but the
/// connection's own counts.
pub fn connection(page: usize, field: &Field, child_complexity: usize) -> usize {
    let counts = ENV
        .try_with(|env| direct_counts(&field.selection_set.node, &env.fragments, &mut HashSet::new()))
        .unwrap_or_else(|_| direct_counts(&field.selection_set.node, &HashMap::new(), &mut HashSet::new()));
    let own = counts.saturating_mul(count_cost()).min(child_complexity);
    page.saturating_mul(child_complexity - own).saturating_add(own)
}

/// `totalCount` fields selected on the connection itself, through inline
/// fragments and fragment spreads as the complexity visitor sees them.
fn direct_counts<'a>(
    set: &'a SelectionSet,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    entered: &mut HashSet<&'a str>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(f.node.name.node == COUNT_FIELD),
            Selection::InlineFragment(f) => direct_counts(&f.node.selection_set.node, fragments, entered),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                // A cycle is refused by validation; here it only must not loop.
                match fragments.get(name) {
                    Some(fragment) if entered.insert(name) => {
                        let n = direct_counts(&fragment.node.selection_set.node, fragments, entered);
                        entered.remove(name);
                        n
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(doc: &str) -> (Field, HashMap<Name, Positioned<FragmentDefinition>>) {
        let doc = async_graphql::parser::parse_query(doc).unwrap();
        let (_, op) = doc.operations.iter().next().unwrap();
        let Selection::Field(f) = &op.node.selection_set.node.items[0].node else { panic!("a field") };
        (f.node.clone(), doc.fragments)
    }

    #[tokio::test]
    async fn own_counts_are_not_multiplied_by_the_page() {
        let (f, fragments) = field("{ auditEvents(first: 500) { totalCount nodes { id } } }");
        // The selection: the count (100 here) and one field per item.
        let cost = scope(100, fragments, async { connection(500, &f, 100 + 2) }).await;
        assert_eq!(cost, 500 * 2 + 100);
        let (f, fragments) = field("{ auditEvents(first: 0) { totalCount } }");
        assert_eq!(scope(100, fragments, async { connection(0, &f, 100) }).await, 100);
    }

    #[tokio::test]
    async fn counts_in_fragments_are_found() {
        let doc = "{ auditEvents(first: 0) { ...A ... on AuditEventConnection { totalCount } } } \
                   fragment A on AuditEventConnection { totalCount ...B } fragment B on AuditEventConnection { totalCount }";
        let (f, fragments) = field(doc);
        assert_eq!(scope(10, fragments, async { connection(0, &f, 30) }).await, 30);
        let cyclic = "{ auditEvents { ...A } } fragment A on AuditEventConnection { totalCount ...A }";
        let (f, fragments) = field(cyclic);
        assert_eq!(scope(10, fragments, async { connection(0, &f, 10) }).await, 10);
    }
}
