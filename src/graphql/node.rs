//! The `Node` interface and global-ID lookups (`node`, `nodes`, `auditEvent`).

use async_graphql::{Context, ID, Interface};

use super::actor::Actor;
use super::context::ContextExt;
use super::event::AuditEvent;
use super::event_stream::EventStream;
use super::key::{ApiKey, Tenant};
use super::resource::Resource;
use crate::auth::Requester;
use crate::domain::filter::{self, Condition, Filter};
use crate::domain::ids::{ActorId, EventId, NodeId, ResourceId};
use crate::domain::page::Page;
use crate::domain::scope::Scope;
use crate::error::{Error, Result};
use crate::store::{actors, event_streams, events, keys, resources, tenants};

/// Anything with a global ID; `node(id:)` fetches it.
#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "ID", desc = "The global ID, `<prefix>_<token>`."))]
pub enum Node {
    AuditEvent(AuditEvent),
    Actor(Actor),
    Resource(Resource),
    ApiKey(ApiKey),
    Tenant(Tenant),
    EventStream(EventStream),
}

/// Resolves global IDs in the caller's tenant, in the order given; an ID that
/// does not exist there is `None`. One query per kind of ID, whatever the count.
pub async fn resolve(ctx: &Context<'_>, ids: &[ID], path: &str) -> Result<Vec<Option<Node>>> {
    let parsed = ids
        .iter()
        .enumerate()
        .map(|(i, id)| NodeId::parse_input(id, &if ids.len() == 1 { path.to_string() } else { format!("{path}.{i}") }))
        .collect::<Result<Vec<_>>>()?;
    let requester = ctx.requester()?;
    let tenant = requester.tenant;
    // Events, actors and resources from the request's reader; keys, the
    // tenant and streams from the primary.
    let (db, reader) = (ctx.store().db(), ctx.reader());

    let (mut event_ids, mut actor_ids, mut resource_ids) = (Vec::new(), Vec::new(), Vec::new());
    for id in &parsed {
        match id {
            NodeId::EventId(id) => event_ids.push(*id),
            NodeId::ActorId(id) => actor_ids.push(*id),
            NodeId::ResourceId(id) => resource_ids.push(*id),
            NodeId::ApiKeyId(_) | NodeId::TenantId(_) | NodeId::EventStreamId(_) => {}
        }
    }
    let has_keys = parsed.iter().any(|n| matches!(n, NodeId::ApiKeyId(_)));
    if parsed.iter().any(|n| matches!(n, NodeId::EventStreamId(_))) {
        crate::service::event_streams::authorize(requester)?;
    }
    if !(event_ids.is_empty() && actor_ids.is_empty() && resource_ids.is_empty()) {
        requester.require(Scope::AuditRead)?;
    }
    if has_keys {
        requester.require(Scope::KeysManage)?;
    }

    let mut found: std::collections::HashMap<NodeId, Node> = std::collections::HashMap::new();
    if !event_ids.is_empty() {
        let rows = match requester.viewer {
            None => events::by_ids(reader, tenant, &event_ids).await?,
            Some(_) => {
                let ids = Filter::Cond(Condition::Ids(event_ids.clone()));
                events::matching_in_order(reader, tenant, &requester.scope_filter(ids)).await?
            }
        };
        // What the selected fields need, for all the events at once.
        ctx.loaders()
            .prefetch(&rows, &[ctx.look_ahead()], crate::store::events::Joins::default())
            .await
            .map_err(|e| std::sync::Arc::try_unwrap(e).unwrap_or_else(|e| Error::internal(e.to_string())))?;
        for row in rows {
            found.insert(NodeId::EventId(EventId(row.id)), Node::AuditEvent(AuditEvent(row)));
        }
    }
    if !actor_ids.is_empty() {
        for row in actors::by_ids(reader, tenant, &actor_ids).await? {
            let involved =
                Condition::Actor(filter::ActorMatch { ids: Some(vec![ActorId(row.id)]), ..Default::default() });
            if !sees_any(reader, requester, involved).await? {
                continue;
            }
            found.insert(NodeId::ActorId(ActorId(row.id)), Node::Actor(Actor(row)));
        }
    }
    if !resource_ids.is_empty() {
        for row in resources::by_ids(reader, tenant, &resource_ids).await? {
            let involved = Condition::RelatedTo(filter::ResourceMatch {
                ids: Some(vec![ResourceId(row.id)]),
                ..Default::default()
            });
            if !sees_any(reader, requester, involved).await? {
                continue;
            }
            found.insert(NodeId::ResourceId(ResourceId(row.id)), Node::Resource(Resource(row)));
        }
    }
    let mut out = Vec::with_capacity(parsed.len());
    for id in parsed {
        out.push(match id {
            NodeId::ApiKeyId(key) => keys::by_id(db, tenant, key).await?.map(|k| Node::ApiKey(ApiKey(k))),
            NodeId::TenantId(t) if t == tenant => tenants::by_id(db, t).await?.map(|t| Node::Tenant(Tenant(t))),
            NodeId::TenantId(_) => None,
            NodeId::EventStreamId(stream) => {
                event_streams::by_id(db, tenant, stream).await?.map(|s| Node::EventStream(EventStream(s)))
            }
            other => found.get(&other).cloned(),
        });
    }
    Ok(out)
}

/// Whether the caller sees an event meeting `involved`: always for an API key;
/// for a viewer token, an actor or resource exists for it only through the
/// events of its filter (one indexed lookup of at most one row).
async fn sees_any(db: &impl sea_orm::ConnectionTrait, requester: &Requester, involved: Condition) -> Result<bool> {
    if requester.viewer.is_none() {
        return Ok(true);
    }
    let filter = requester.scope_filter(Filter::Cond(involved));
    let page = Page { limit: 1, backward: false, after: None, before: None };
    let rows = events::page(db, requester.tenant, &filter, Default::default(), &page, events::Detail::NONE).await?;
    Ok(!rows.items.is_empty())
}
