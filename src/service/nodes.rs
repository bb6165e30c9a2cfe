//! Global-ID look-ups (`node`, `nodes`): whatever an ID names, in the
//! caller's tenant, if the caller may see it; one statement per kind of ID
//! for events, actors and resources, whatever their number.

use std::collections::HashMap;

use crate::domain::actor::Actor;
use crate::domain::alert_rule::AlertRule;
use crate::domain::api_key::ApiKey;
use crate::domain::event_stream::EventStream;
use crate::domain::filter::{ActorMatch, Condition, ResourceMatch};
use crate::domain::ids::NodeId;
use crate::domain::resource::Resource;
use crate::domain::stored_event::StoredEvent;
use crate::domain::tenant::Tenant;
use crate::error::Result;
use crate::store::{alert_rules, event_streams, keys, tenants};

use super::policy::Operation;
use super::reads;
use super::session::Session;

/// What a global ID names.
#[derive(Clone, Debug)]
pub enum Record {
    Event(StoredEvent),
    Actor(Actor),
    Resource(Resource),
    ApiKey(ApiKey),
    Tenant(Tenant),
    EventStream(EventStream),
    AlertRule(AlertRule),
}

/// The records `ids` name, in the order given; `None` for one that does not
/// exist in the caller's tenant or that it may not see. Asking for a kind the
/// caller may not read at all is `FORBIDDEN`.
pub async fn resolve(session: &Session, ids: &[NodeId]) -> Result<Vec<Option<Record>>> {
    let requester = session.requester()?;
    let tenant = requester.tenant;
    let of = |f: fn(&NodeId) -> bool| ids.iter().any(f);
    if of(|n| matches!(n, NodeId::EventId(_) | NodeId::ActorId(_) | NodeId::ResourceId(_))) {
        session.authorize(Operation::ReadEvents)?;
    }
    if of(|n| matches!(n, NodeId::EventStreamId(_) | NodeId::AlertRuleId(_))) {
        session.authorize(Operation::ManageStreams)?;
    }
    if of(|n| matches!(n, NodeId::ApiKeyId(_))) {
        session.authorize(Operation::ManageKeys)?;
    }

    let (mut event_ids, mut actor_ids, mut resource_ids) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        match id {
            NodeId::EventId(id) => event_ids.push(*id),
            NodeId::ActorId(id) => actor_ids.push(*id),
            NodeId::ResourceId(id) => resource_ids.push(*id),
            NodeId::ApiKeyId(_) | NodeId::TenantId(_) | NodeId::EventStreamId(_) | NodeId::AlertRuleId(_) => {}
        }
    }
    let mut found: HashMap<NodeId, Record> = HashMap::new();
    for event in reads::events_by_ids(session, &event_ids).await? {
        found.insert(NodeId::EventId(event.id), Record::Event(event));
    }
    if !actor_ids.is_empty() {
        for actor in reads::actors(session, &actor_ids).await? {
            let involved = Condition::Actor(ActorMatch { ids: Some(vec![actor.id]), ..Default::default() });
            if reads::sees_any(session, involved).await? {
                found.insert(NodeId::ActorId(actor.id), Record::Actor(actor));
            }
        }
    }
    if !resource_ids.is_empty() {
        for resource in reads::resources(session, &resource_ids).await? {
            let involved = Condition::RelatedTo(ResourceMatch { ids: Some(vec![resource.id]), ..Default::default() });
            if reads::sees_any(session, involved).await? {
                found.insert(NodeId::ResourceId(resource.id), Record::Resource(resource));
            }
        }
    }
    // Keys, the tenant, streams and alert rules are read on the primary: a revocation or
    // a change must show at once.
    let db = session.services().store.db();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(match id {
            NodeId::ApiKeyId(key) => keys::by_id(db, tenant, *key).await?.map(Record::ApiKey),
            NodeId::TenantId(t) if *t == tenant => tenants::by_id(db, *t).await?.map(Record::Tenant),
            NodeId::TenantId(_) => None,
            NodeId::EventStreamId(stream) => event_streams::by_id(db, tenant, *stream).await?.map(Record::EventStream),
            NodeId::AlertRuleId(rule) => alert_rules::by_id(db, tenant, *rule).await?.map(Record::AlertRule),
            other => found.get(other).cloned(),
        });
    }
    Ok(out)
}
