//! Guards on each GraphQL request before and around execution: documents
//! nested too deeply are refused unparsed, aliases and messages are bounded,
//! and parse and validation failures carry their contract codes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::Response;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ServerError, ServerResult, ValidationResult, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::complexity;
use crate::error::code;

/// Tags parse and validation failures with their contract codes, bounds the
/// number of aliases and the length of messages, and lends the complexity
/// functions what they need (async-graphql bounds depth and complexity itself).
pub(super) struct RequestErrors {
    pub(super) max_aliases: usize,
    pub(super) max_selections: usize,
    pub(super) count_cost: usize,
}

impl ExtensionFactory for RequestErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestErrorsExtension {
            max_aliases: self.max_aliases,
            max_selections: self.max_selections,
            count_cost: self.count_cost,
            fragments: Mutex::default(),
        })
    }
}

/// Created for each request (or operation on a WebSocket).
struct RequestErrorsExtension {
    max_aliases: usize,
    max_selections: usize,
    count_cost: usize,
    /// The parsed document's fragments, for the complexity functions.
    fragments: Mutex<HashMap<Name, Positioned<FragmentDefinition>>>,
}

pub(super) fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let has_code = err.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
    if !has_code {
        err.extensions.get_or_insert_with(Default::default).set("code", code);
    }
    err
}

/// The refusal of a document nested too deeply.
pub fn too_deeply_nested() -> ServerError {
    with_code(
        ServerError::new(
            format!("the document nests brackets more than {} deep", crate::domain::nesting::MAX_NESTING),
            None,
        ),
        code::QUERY_TOO_COMPLEX,
    )
}

/// Refuses a document selecting more than `max` fields once its fragments
/// are expanded (see [`super::selection_count`]); run before validation.
pub fn bounded_selections(doc: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let selections = super::selection_count::expanded_selections(doc);
    if selections <= max as u64 {
        return Ok(());
    }
    let shown = if selections == u64::MAX { "more than 18 quintillion".to_string() } else { selections.to_string() };
    Err(with_code(
        ServerError::new(
            format!("the document selects {shown} fields once its fragments are expanded; at most {max} are allowed"),
            None,
        ),
        code::QUERY_TOO_COMPLEX,
    ))
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
    if err.path.is_empty() { code::GRAPHQL_VALIDATION_FAILED } else { code::BAD_USER_INPUT }
}

/// The longest error message sent: a message quoting its input must not
/// grow with it.
pub const MAX_MESSAGE_CHARS: usize = 1_000;

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters.
pub fn bounded_message(message: &mut String) {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
}

/// A parse error as the parser words it quotes the offending line with a
/// caret under it; the caller gets the last line (what was expected) and the
/// position, whatever the document's size.
fn compact_parse_error(mut err: ServerError) -> ServerError {
    let expected = err.message.lines().rev().find_map(|l| l.trim_start().strip_prefix("= ")).map(str::to_string);
    if let (Some(expected), Some(at)) = (expected, err.locations.first()) {
        err.message = format!("{expected} (line {}, column {})", at.line, at.column);
    }
    err
}

fn tag_uncoded(mut response: Response) -> Response {
    for err in &mut response.errors {
        if err.extensions.as_ref().is_none_or(|e| e.get("code").is_none()) {
            let code = default_code(err);
            err.extensions.get_or_insert_with(Default::default).set("code", code);
        }
        bounded_message(&mut err.message);
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
        if !crate::domain::nesting::within_bounds(query, true) {
            return Err(too_deeply_nested());
        }
        let doc = next.run(ctx, query, variables).await.map_err(|e| {
            // async-graphql bounds the nesting of selections while parsing.
            if e.message.starts_with("The recursion depth of the query") {
                with_code(e, code::QUERY_TOO_COMPLEX)
            } else {
                with_code(compact_parse_error(e), code::GRAPHQL_PARSE_FAILED)
            }
        })?;
        bounded_selections(&doc, self.max_selections)?;
        let aliases = count_aliases(&doc);
        if aliases > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!("the query uses {aliases} aliases; at most {} are allowed", self.max_aliases),
                    None,
                ),
                code::QUERY_TOO_COMPLEX,
            ));
        }
        *self.fragments.lock().unwrap() = doc.fragments.clone();
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let fragments = std::mem::take(&mut *self.fragments.lock().unwrap());
        complexity::scope(self.count_cost, fragments, next.run(ctx)).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    // async-graphql reports its depth and complexity bounds with these messages.
                    let code = if e.message == "Query is too complex." || e.message == "Query is nested too deep." {
                        code::QUERY_TOO_COMPLEX
                    } else {
                        code::GRAPHQL_VALIDATION_FAILED
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
    fn messages_are_bounded() {
        let mut long = "é".repeat(5_000);
        super::bounded_message(&mut long);
        assert_eq!(long.chars().count(), super::MAX_MESSAGE_CHARS + 1);
        let mut short = "short".to_string();
        super::bounded_message(&mut short);
        assert_eq!(short, "short");
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
