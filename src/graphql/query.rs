//! The `Query` root.

use async_graphql::{Context, ID, Object};

use super::actor::{Actor, ActorConnection};
use super::alert_rule::{self, AlertRule};
use super::context::ContextExt;
use super::enums::{AuditEventOrderField, StatsDimension, StatsInterval};
use super::event::{AuditEvent, AuditEventConnection, AuditEventOrder, EventsArgs, events_connection};
use super::event_stream::{self, EventStream};
use super::filter_input::{ActorMatch, AuditEventFilter, ResourceMatch};
use super::key::Viewer;
use super::ledger::Ledger;
use super::node::{self, Node};
use super::resource::{Resource, ResourceConnection};
use super::stats::{self, AuditEventStats, StatsArgs};
use crate::domain::cursor::Cursor;
use crate::domain::filter::Budget;
use crate::domain::filter_spec::{ActorMatchSpec, ResourceMatchSpec};
use crate::domain::page::PageArgs;
use crate::error::Error;
use crate::service::policy::Operation;
use crate::service::reads::{self, Owner};

/// IDs accepted by one `nodes` call.
pub const MAX_NODES: usize = 500;

pub struct Query;

#[Object]
impl Query {
    /// Fetches any object by its global ID; null if it does not exist in your tenant.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID such as `evt_…`.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        Ok(node::resolve(ctx, std::slice::from_ref(&id), "id").await?.pop().flatten())
    }

    /// Fetches objects by global ID, in the order given (at most 500); null for
    /// each that does not exist in your tenant.
    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs, at most 500.")] ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(Error::bad_input("ids", format!("at most {MAX_NODES} IDs are allowed")).into());
        }
        node::resolve(ctx, &ids, "ids").await
    }

    /// Audit events of your tenant, newest first unless `orderBy` says otherwise.
    /// Relay cursor pages: `first` (default 50, at most 500) with `after`, or `last` with `before`.
    #[graphql(complexity = "super::complexity::connection(PageArgs::cost(first, last), __field, child_complexity)")]
    async fn audit_events(
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
        events_connection(ctx, Owner::Tenant, EventsArgs { filter, query, order_by, page }).await
    }

    /// The `AuditEventFilter` a query string stands for (what a `query`
    /// argument is AND-ed with `filter` as), in the filter's JSON.
    async fn parse_audit_query(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A query string, e.g. `action:workspace.* -outcome:failure metadata.size_gb:>10`.")]
        query: String,
    ) -> async_graphql::Result<super::scalars::Json> {
        let spec = crate::service::criteria::explain(ctx.session(), &query)?;
        Ok(async_graphql::Json(spec.to_json()))
    }

    /// One audit event by ID; null if it does not exist in your tenant.
    async fn audit_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event's global ID (`evt_…`).")] id: ID,
    ) -> async_graphql::Result<Option<AuditEvent>> {
        crate::domain::ids::EventId::parse(&id, "id")?;
        Ok(match node::resolve(ctx, std::slice::from_ref(&id), "id").await?.pop().flatten() {
            Some(Node::AuditEvent(event)) => Some(event),
            _ => None,
        })
    }

    /// How many of your events match, grouped by up to 3 dimensions (the
    /// `limit` key combinations with the most events, the rest in
    /// `otherCount`) and by UTC time buckets of `timeField` with `interval`.
    /// At most 1,000 buckets. Costs like a `totalCount`.
    #[graphql(complexity = "super::complexity::count_cost() + child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn audit_event_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter (default: all).")] filter: Option<AuditEventFilter>,
        #[graphql(desc = "Only events matching this query string too.")] query: Option<String>,
        #[graphql(desc = "Group by these dimensions, in order (at most 3).")] group_by: Option<Vec<StatsDimension>>,
        #[graphql(desc = "Count per time bucket of this width too.")] interval: Option<StatsInterval>,
        #[graphql(desc = "The instant bucketed by.", default_with = "Some(AuditEventOrderField::OccurredAt)")]
        time_field: Option<AuditEventOrderField>,
        #[graphql(
            desc = "Key combinations given buckets (1–100).",
            default_with = "Some(crate::domain::stats::DEFAULT_LIMIT)"
        )]
        limit: Option<i32>,
    ) -> async_graphql::Result<AuditEventStats> {
        stats::resolve(ctx, StatsArgs { filter, query, group_by, interval, time_field, limit }).await
    }

    /// Actors of your tenant, oldest first.
    #[graphql(complexity = "super::complexity::connection(PageArgs::cost(first, last), __field, child_complexity)")]
    async fn actors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only actors matching this (default: all).")] filter: Option<ActorMatch>,
        #[graphql(desc = "Page forward: this many items (default 50, at most 500).")] first: Option<i32>,
        #[graphql(desc = "Page forward from this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: this many items (at most 500).")] last: Option<i32>,
        #[graphql(desc = "Page backward from this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<ActorConnection> {
        let m = ActorMatchSpec::from(filter.unwrap_or_default()).into_match(&mut Budget::default(), "filter")?;
        let page = PageArgs { first, after, last, before }
            .into_page(|text, path| Cursor::decode_as(text, path, Cursor::actor_id))?;
        let (rows, count) = reads::actors_page(ctx.session(), m, &page).await?;
        Ok(ActorConnection::from_page(rows, |a| Cursor::Actor(a.id.0).encode(), Actor, count))
    }

    /// Resources of your tenant, oldest first.
    #[graphql(complexity = "super::complexity::connection(PageArgs::cost(first, last), __field, child_complexity)")]
    async fn resources(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only resources matching this (default: all).")] filter: Option<ResourceMatch>,
        #[graphql(desc = "Page forward: this many items (default 50, at most 500).")] first: Option<i32>,
        #[graphql(desc = "Page forward from this cursor.")] after: Option<String>,
        #[graphql(desc = "Page backward: this many items (at most 500).")] last: Option<i32>,
        #[graphql(desc = "Page backward from this cursor.")] before: Option<String>,
    ) -> async_graphql::Result<ResourceConnection> {
        let m = ResourceMatchSpec::from(filter.unwrap_or_default()).into_match(&mut Budget::default(), "filter")?;
        let page = PageArgs { first, after, last, before }
            .into_page(|text, path| Cursor::decode_as(text, path, Cursor::resource_id))?;
        let (rows, count) = reads::resources_page(ctx.session(), m, &page).await?;
        Ok(ResourceConnection::from_page(rows, |r| Cursor::Resource(r.id.0).encode(), Resource, count))
    }

    /// Your tenant's event streams, oldest first. Needs `keys.manage` and `audit.read`.
    async fn event_streams(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<EventStream>> {
        Ok(event_stream::list(ctx).await?)
    }

    /// Your tenant's alert rules, oldest first. Needs `keys.manage` and `audit.read`.
    async fn alert_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AlertRule>> {
        Ok(alert_rule::list(ctx).await?)
    }

    /// Who is asking: the key and the tenant it acts in.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        Ok(Viewer(ctx.session().requester()?.clone()))
    }

    /// Your tenant's log as a signed Merkle tree: its size, checkpoints and
    /// consistency proofs. Needs `audit.read`.
    async fn ledger(&self, ctx: &Context<'_>) -> async_graphql::Result<Ledger> {
        ctx.session().authorize(Operation::ReadEvents)?;
        Ok(Ledger)
    }
}
