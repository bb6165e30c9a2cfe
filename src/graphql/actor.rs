//! `Actor`: who did something.

use async_graphql::{Context, ID, Object};

use super::connection::connection;
use super::enums;
use super::event::{AuditEventConnection, AuditEventOrder, EventsArgs, events_connection};
use super::filter_input::AuditEventFilter;
use crate::domain::actor::Actor as StoredActor;
use crate::domain::event::ActorType;
use crate::domain::page::PageArgs;
use crate::error::{Error, Result};
use crate::service::reads::Owner;

/// Who performed actions: a user, a key, a service… Unique per type and external ID.
#[derive(Clone)]
pub struct Actor(pub StoredActor);

/// Who performed actions: a user, a key, a service… Unique per type and external ID.
#[Object]
impl Actor {
    /// The actor's global ID (`act_…`).
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What kind of actor.
    #[graphql(name = "type")]
    async fn kind(&self) -> enums::ActorType {
        self.0.kind.into()
    }

    /// The producer's ID of the actor.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }

    /// The name last recorded.
    async fn display_name(&self) -> Option<&str> {
        self.0.display_name.as_deref()
    }

    /// The email address last recorded.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// The roles last recorded.
    async fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// The events this actor performed.
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
        events_connection(ctx, Owner::Actor(self.0.id), EventsArgs { filter, query, order_by, page }).await
    }
}

connection!(ActorConnection, ActorEdge, Actor, "actor");

/// An actor exactly as one event described it when it was recorded.
#[derive(async_graphql::SimpleObject, Clone, Debug)]
pub struct ActorSnapshot {
    /// What kind of actor.
    #[graphql(name = "type")]
    pub kind: enums::ActorType,
    /// Its ID in the producer's system.
    pub external_id: String,
    /// Its display name as sent.
    pub display_name: Option<String>,
    /// Its email as sent.
    pub email: Option<String>,
    /// Its roles as sent (empty when none were sent).
    pub roles: Vec<String>,
}

impl ActorSnapshot {
    /// From the actor as recorded with an event, opened (`{"type", …}`).
    pub fn from_recorded(actor: serde_json::Value) -> Result<Self> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Stored {
            #[serde(rename = "type")]
            kind: String,
            external_id: String,
            display_name: Option<String>,
            email: Option<String>,
            roles: Option<Vec<String>>,
        }
        let stored: Stored = serde_json::from_value(actor).map_err(Error::internal)?;
        Ok(ActorSnapshot {
            kind: stored_type(&stored.kind)?,
            external_id: stored.external_id,
            display_name: stored.display_name,
            email: stored.email,
            roles: stored.roles.unwrap_or_default(),
        })
    }
}

fn stored_type(stored: &str) -> Result<enums::ActorType> {
    ActorType::from_stored(stored).map(Into::into).ok_or_else(|| Error::internal("stored actor type is unknown"))
}
