//! The GraphQL schema: its roots and types, and how it is built with its
//! limits and request guards.

pub mod actor;
pub mod alert_rule;
pub mod complexity;
pub mod connection;
pub mod context;
pub mod document_cache;
pub mod enums;
pub mod error;
pub mod event;
pub mod event_input;
pub mod event_stream;
pub mod filter_input;
pub mod key;
pub mod ledger;
pub mod loaders;
pub mod mutation;
pub mod node;
pub mod operation_gate;
pub mod query;
pub mod request_guard;
pub mod resource;
pub mod scalars;
pub mod selection_count;
pub mod stats;
pub mod subscription;
pub mod viewer_token;

use async_graphql::{Schema, SchemaBuilder};

use crate::service::Services;

pub type AuditSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Bounds on one GraphQL document.
#[derive(Clone, Debug)]
pub struct Limits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    /// Field selections a document may make with its fragments expanded.
    pub selections: usize,
    /// What each `totalCount` adds to the complexity.
    pub count_cost: usize,
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 16,
            complexity: 50_000,
            aliases: 100,
            selections: selection_count::DEFAULT_MAX_SELECTIONS,
            count_cost: complexity::DEFAULT_COUNT_COST,
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
        .extension(request_guard::RequestErrors {
            max_aliases: limits.aliases,
            max_selections: limits.selections,
            count_cost: limits.count_cost,
        })
        .extension(operation_gate::GatedOperations);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
