//! The `Subscription` root: events as they are recorded.

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};

use super::context::ContextExt;
use super::event::AuditEvent;
use super::filter_input::AuditEventFilter;
use crate::domain::ids::{ActorId, TenantId};
use crate::service::tail;

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Each event of your tenant that matches `filter` and is recorded after the
    /// subscription starts, once, in the order recorded. A subscriber that falls
    /// too far behind receives an error saying so, and the stream ends.
    async fn audit_event_recorded(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter (default: all).")] filter: Option<AuditEventFilter>,
        #[graphql(
            desc = "Only events matching this query string (AND-ed with `filter`), e.g. `action:workspace.* -outcome:failure`."
        )]
        query: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEvent>> + use<>> {
        let filter = AuditEventFilter::combine(ctx, filter, query.as_deref())?;
        let events = tail::open(ctx.session(), filter).await?;
        // The subscription's loaders live as long as it does: data keys are
        // read afresh for each event, so one made after an erasure opens.
        let loaders = ctx.shared_loaders();
        Ok(events.map(move |event| {
            loaders.data_keys.clear::<(TenantId, ActorId)>();
            event.map(AuditEvent).map_err(Into::into)
        }))
    }
}
