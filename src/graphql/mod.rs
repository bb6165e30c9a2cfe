//! The GraphQL schema: roots, types, limits, and the extension that gives every
//! request-level error its contract code.

pub mod actor;
pub mod connection;
pub mod context;
pub mod event;
pub mod inputs;
pub mod key;
pub mod loaders;
pub mod mutation;
pub mod node;
pub mod query;
pub mod resource;
pub mod scalars;
pub mod subscription;

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Schema, SchemaBuilder, ServerError, ServerResult, ValidationResult, Variables};

pub use context::{Caller, Services};
pub use loaders::Loaders;

pub type AuditSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Bounds on one GraphQL document.
#[derive(Clone, Debug)]
pub struct Limits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 16,
            complexity: 50_000,
            aliases: 100,
            introspection: true,
        }
    }
}

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription).register_output_type::<node::Node>()
}

/// The schema, serving `services`, bounded by `limits`.
pub fn build(services: Services, limits: &Limits) -> AuditSchema {
    let mut builder = builder()
        .data(services)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .extension(RequestErrors {
            max_aliases: limits.aliases,
        });
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// Tags parse and validation failures with their contract codes, and bounds
/// the number of aliases (async-graphql bounds depth and complexity itself).
struct RequestErrors {
    max_aliases: usize,
}

impl ExtensionFactory for RequestErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestErrorsExtension {
            max_aliases: self.max_aliases,
        })
    }
}

struct RequestErrorsExtension {
    max_aliases: usize,
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let has_code = err.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
    if !has_code {
        err.extensions.get_or_insert_with(Default::default).set("code", code);
    }
    err
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn walk(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => usize::from(f.node.alias.is_some()) + walk(&f.node.selection_set.node),
                Selection::InlineFragment(f) => walk(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    doc.operations
        .iter()
        .map(|(_, op)| walk(&op.node.selection_set.node))
        .sum::<usize>()
        + doc
            .fragments
            .values()
            .map(|f| walk(&f.node.selection_set.node))
            .sum::<usize>()
}

#[async_trait::async_trait]
impl Extension for RequestErrorsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, "GRAPHQL_PARSE_FAILED"))?;
        let aliases = count_aliases(&doc);
        if aliases > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!(
                        "the query uses {aliases} aliases; at most {} are allowed",
                        self.max_aliases
                    ),
                    None,
                ),
                "QUERY_TOO_COMPLEX",
            ));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    // async-graphql reports its depth and complexity bounds with these messages.
                    let code = if e.message == "Query is too complex." || e.message == "Query is nested too deep." {
                        "QUERY_TOO_COMPLEX"
                    } else {
                        "GRAPHQL_VALIDATION_FAILED"
                    };
                    with_code(e, code)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_aliases_everywhere() {
        let doc = async_graphql::parser::parse_query(
            "query { a: viewer { b: scopes } ...F ... on Query { c: viewer { scopes } } } fragment F on Query { d: viewer { scopes } }",
        )
        .unwrap();
        assert_eq!(super::count_aliases(&doc), 4);
    }
}
