//! `Resource`: what was acted upon.

use async_graphql::{Context, ID, Object};

use super::connection::connection;
use super::event::{AuditEventConnection, AuditEventOrder, EventsArgs, events_connection};
use super::filter_input::AuditEventFilter;
use crate::domain::page::PageArgs;
use crate::domain::resource::Resource as StoredResource;
use crate::service::reads::Owner;

/// Something acted upon: a workspace, a session, a VM… Unique per type and external ID.
#[derive(Clone)]
pub struct Resource(pub StoredResource);

/// Something acted upon: a workspace, a session, a VM… Unique per type and external ID.
#[Object]
impl Resource {
    /// The resource's global ID (`res_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The kind of resource, e.g. `workspace`.
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The producer's ID of the resource.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }

    /// The name last recorded.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The events where this resource is the primary or a related resource.
    #[graphql(complexity = "super::complexity::connection(PageArgs::cost(first, last), __field, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter (default: all).")] filter: Option<AuditEventFilter>,
        #[graphql(
            desc = "Only events matching this query string (AND-ed with `filter`), e.g. `action:workspace.* -outcome:failure`."
        )]
        query: Option<String>,
        #[graphql(desc = "The order (default: newest first by `occurredAt`).")] order_by: Option<AuditEventOrder>,
        #[graphql(desc = "Page forward: this many items (default 50, at most 500).")] first: Option<i32>,
        #[graphql(desc = "Page forward from this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: this many items (at most 500).")] last: Option<i32>,
        #[graphql(desc = "Page backward from this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let page = PageArgs { first, after, last, before };
        events_connection(ctx, Owner::Resource(self.0.id), EventsArgs { filter, query, order_by, page }).await
    }
}

connection!(ResourceConnection, ResourceEdge, Resource, "resource");
