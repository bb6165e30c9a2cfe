//! `Resource`: what was acted upon.

use async_graphql::{Context, ID, Object};
use entity::resource;

use super::connection::connection;
use super::event::{AuditEventConnection, AuditEventOrder, EventsArgs, events_connection};
use super::filter_input::AuditEventFilter;
use crate::domain::filter::{Condition, Filter, ResourceMatch};
use crate::domain::ids::{ResourceId, TenantId};
use crate::domain::page::PageArgs;

/// Something acted upon: a workspace, a session, a VM… Unique per type and external ID.
#[derive(Clone)]
pub struct Resource(pub resource::Model);

/// Something acted upon: a workspace, a session, a VM… Unique per type and external ID.
#[Object]
impl Resource {
    /// The resource's global ID (`res_…`).
    pub async fn id(&self) -> ID {
        ID(ResourceId(self.0.id).to_string())
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
        #[graphql(desc = "The order (default: newest first by `occurredAt`).")] order_by: Option<AuditEventOrder>,
        #[graphql(desc = "Page forward: this many items (default 50, at most 500).")] first: Option<i32>,
        #[graphql(desc = "Page forward from this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: this many items (at most 500).")] last: Option<i32>,
        #[graphql(desc = "Page backward from this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let mine = Filter::Cond(Condition::RelatedTo(ResourceMatch {
            ids: Some(vec![ResourceId(self.0.id)]),
            ..Default::default()
        }));
        let page = PageArgs { first, after, last, before };
        let owner = Some((TenantId(self.0.tenant_id), mine));
        Ok(events_connection(ctx, owner, EventsArgs { filter, order_by, page }).await?)
    }
}

connection!(ResourceConnection, ResourceEdge, Resource, "resource");
