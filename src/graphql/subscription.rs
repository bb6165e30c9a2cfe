//! The `Subscription` root: events as they are recorded.

use async_graphql::{Context, Subscription};
use futures_util::Stream;

use super::context::ContextExt;
use super::event::{AuditEvent, filter_arg};
use super::filter_input::AuditEventFilter;
use crate::bus::{Broadcast, Lagged};
use crate::domain::filter::{Condition, Filter};
use crate::domain::scope::Scope;
use crate::error::Error;
use crate::store::events;

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
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEvent>> + use<>> {
        let requester = ctx.require(Scope::AuditRead)?;
        let tenant = requester.tenant;
        let filter = requester.scope_filter(filter_arg(filter)?);
        // A viewer token's subscription ends when the token expires.
        let expires_at = requester.viewer.as_ref().map(|grant| grant.expires_at);
        // Its events (and their actors and resources) were just committed: a
        // replica may not have them yet.
        ctx.reader().pin_primary();
        let store = ctx.store().clone();
        let mut subscription = crate::service::subscriptions::subscribe(&store, &ctx.services().bus).await?;
        let running = ctx.services().metrics.subscription_started();
        Ok(async_stream::stream! {
            // Dropped with the stream, however it ends (client gone, error, lag).
            let _running = running;
            loop {
                let next = match expires_at {
                    Some(at) => {
                        let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                        match tokio::time::timeout(left, subscription.next()).await {
                            Ok(next) => next,
                            Err(_) => {
                                yield Err(Error::Unauthenticated("the viewer token has expired; ask for a new one").into());
                                break;
                            }
                        }
                    }
                    None => subscription.next().await,
                };
                let broadcast = match next {
                    Ok(Some(broadcast)) => broadcast,
                    Ok(None) => break,
                    Err(Lagged(missed)) => {
                        yield Err(Error::RateLimited(format!("this subscription fell behind by {missed} batches of events and was closed; subscribe again (and use a narrower filter or a faster consumer)")).into());
                        break;
                    }
                };
                let announcement = match broadcast {
                    Broadcast::Events(announcement) => announcement,
                    Broadcast::Interrupted => {
                        yield Err(Error::Unavailable("this subscription was closed because the server lost its database connection, so events may have been missed; subscribe again and catch up with auditEvents".into()).into());
                        break;
                    }
                };
                if announcement.tenant != tenant {
                    continue;
                }
                let matching = Filter::Cond(Condition::Ids(announcement.events.clone())).and(filter.clone());
                match events::matching_in_order(store.db(), tenant, &matching).await {
                    Ok(rows) => {
                        for row in rows {
                            yield Ok(AuditEvent(row));
                        }
                    }
                    Err(err) => {
                        yield Err(err.into());
                        break;
                    }
                }
            }
        })
    }
}
