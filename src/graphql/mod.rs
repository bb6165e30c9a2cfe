//! The GraphQL schema: roots, types, limits, and the extension that gives every
//! request-level error its contract code.

pub mod actor;
pub mod connection;
pub mod context;
pub mod event;
pub mod inputs;
pub mod key;
pub mod ledger;
pub mod loaders;
pub mod mutation;
pub mod node;
pub mod query;
pub mod resource;
pub mod scalars;
pub mod subscription;
pub mod viewer_token;

use std::sync::Arc;

use async_graphql::Response;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Schema, SchemaBuilder, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

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
        Self { depth: 16, complexity: 50_000, aliases: 100, introspection: true }
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
        .extension(RequestErrors { max_aliases: limits.aliases });
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
        Arc::new(RequestErrorsExtension { max_aliases: self.max_aliases })
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

/// Brackets one document (or JSON body) may nest: parsers recurse on them, so
/// deeper text is refused unparsed, well before it could exhaust a stack.
pub const MAX_NESTING: usize = 64;

/// Whether `text` nests `{`, `[` and `(` at most [`MAX_NESTING`] deep, outside
/// strings (and, in GraphQL, comments and block strings).
pub fn nesting_within_bounds(text: &str, graphql: bool) -> bool {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' if graphql => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if graphql && bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return false;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    true
}

/// The refusal of a document nested too deeply.
pub fn too_deeply_nested() -> ServerError {
    with_code(
        ServerError::new(format!("the document nests brackets more than {MAX_NESTING} deep"), None),
        "QUERY_TOO_COMPLEX",
    )
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
    doc.operations.iter().map(|(_, op)| walk(&op.node.selection_set.node)).sum::<usize>()
        + doc.fragments.values().map(|f| walk(&f.node.selection_set.node)).sum::<usize>()
}

/// The code of an error async-graphql raised without one: request-level ones
/// (unknown operation, wrong transport) fail validation; errors on a field are
/// its arguments failing to coerce (wrong types, unparsable values).
fn default_code(err: &ServerError) -> &'static str {
    if err.path.is_empty() { "GRAPHQL_VALIDATION_FAILED" } else { "BAD_USER_INPUT" }
}

fn tag_uncoded(mut response: Response) -> Response {
    for err in &mut response.errors {
        if err.extensions.as_ref().is_none_or(|e| e.get("code").is_none()) {
            let code = default_code(err);
            err.extensions.get_or_insert_with(Default::default).set("code", code);
        }
    }
    response
}

#[async_trait::async_trait]
impl Extension for RequestErrorsExtension {
    /// Every error leaves with a code.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        tag_uncoded(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        Box::pin(next.run(ctx, stream).map(tag_uncoded))
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if !nesting_within_bounds(query, true) {
            return Err(too_deeply_nested());
        }
        let doc = next.run(ctx, query, variables).await.map_err(|e| {
            // async-graphql bounds the nesting of selections while parsing.
            let code = if e.message.starts_with("The recursion depth of the query") {
                "QUERY_TOO_COMPLEX"
            } else {
                "GRAPHQL_PARSE_FAILED"
            };
            with_code(e, code)
        })?;
        let aliases = count_aliases(&doc);
        if aliases > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!("the query uses {aliases} aliases; at most {} are allowed", self.max_aliases),
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
    fn bounds_nesting_outside_strings_and_comments() {
        use super::{MAX_NESTING, nesting_within_bounds};
        let deep = format!("{}{}", "{".repeat(MAX_NESTING + 1), "}".repeat(MAX_NESTING + 1));
        assert!(!nesting_within_bounds(&deep, true));
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(nesting_within_bounds(&ok, false));
        let hidden = format!("{{ a(s: \"{deep}\") }} # {deep}\n{{ b(t: \"\"\"{deep}\\\"\"\" \"\"\") }}");
        assert!(nesting_within_bounds(&hidden, true), "{hidden}");
        assert!(nesting_within_bounds(&format!("{{\"q\": \"{deep}\"}}"), false));
    }

    #[test]
    fn counts_aliases_everywhere() {
        let doc = async_graphql::parser::parse_query(
            "query { a: viewer { b: scopes } ...F ... on Query { c: viewer { scopes } } } fragment F on Query { d: viewer { scopes } }",
        )
        .unwrap();
        assert_eq!(super::count_aliases(&doc), 4);
    }
}
