//! The `Node` interface and global-ID lookups (`node`, `nodes`, `auditEvent`).

use async_graphql::{Context, ID, Interface};

use super::actor::Actor;
use super::alert_rule::AlertRule;
use super::context::ContextExt;
use super::error::shared;
use super::event::AuditEvent;
use super::event_stream::EventStream;
use super::key::{ApiKey, Tenant};
use super::resource::Resource;
use crate::domain::ids::NodeId;
use crate::domain::selection::Joins;
use crate::error::Result;
use crate::service::nodes::{self, Record};

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
    AlertRule(AlertRule),
}

impl From<Record> for Node {
    fn from(record: Record) -> Node {
        match record {
            Record::Event(event) => Node::AuditEvent(AuditEvent(event)),
            Record::Actor(actor) => Node::Actor(Actor(actor)),
            Record::Resource(resource) => Node::Resource(Resource(resource)),
            Record::ApiKey(key) => Node::ApiKey(ApiKey(key)),
            Record::Tenant(tenant) => Node::Tenant(Tenant(tenant)),
            Record::EventStream(stream) => Node::EventStream(EventStream(stream)),
            Record::AlertRule(rule) => Node::AlertRule(AlertRule(rule)),
        }
    }
}

/// Resolves global IDs in the caller's tenant, in the order given; an ID that
/// does not exist there is `None`. `path` names the argument in refusals.
pub async fn resolve(ctx: &Context<'_>, ids: &[ID], path: &str) -> async_graphql::Result<Vec<Option<Node>>> {
    let parsed = ids
        .iter()
        .enumerate()
        .map(|(i, id)| NodeId::parse_input(id, &if ids.len() == 1 { path.to_string() } else { format!("{path}.{i}") }))
        .collect::<Result<Vec<_>>>()?;
    let records = nodes::resolve(ctx.session(), &parsed).await?;
    // What the selected fields of the events need, for all of them at once.
    let events: Vec<_> = records
        .iter()
        .flatten()
        .filter_map(|r| if let Record::Event(e) = r { Some(e.clone()) } else { None })
        .collect();
    ctx.loaders().prefetch(&events, &[ctx.look_ahead()], Joins::default()).await.map_err(shared)?;
    Ok(records.into_iter().map(|record| record.map(Node::from)).collect())
}
