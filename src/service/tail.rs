//! The live tail: a caller's matching events as they are committed, once
//! each, in commit order. Where it starts is fixed against the commits, so
//! that nothing committed after it opens is missed and nothing before is
//! delivered; a viewer token's tail ends when the token expires.

use std::time::Duration;

use futures_util::Stream;

use crate::bus::{Broadcast, Lagged};
use crate::domain::filter::{Condition, Filter};
use crate::domain::stored_event::StoredEvent;
use crate::error::{Error, Result};
use crate::store::{Store, announcements, events};

use super::policy::Operation;
use super::session::Session;

/// How long a fence may take to come back through PostgreSQL.
const FENCE_LIMIT: Duration = Duration::from_secs(10);

/// Opens the caller's tail of the events matching `filter`: each item is an
/// event, or the error that ends the tail (a subscriber too far behind, a
/// lost database connection, an expired viewer token).
pub async fn open(session: &Session, filter: Filter) -> Result<impl Stream<Item = Result<StoredEvent>> + use<>> {
    let requester = session.authorize(Operation::ReadEvents)?;
    let tenant = requester.tenant;
    let filter = Session::confine(requester, filter);
    let expires_at = requester.viewer.as_ref().map(|grant| grant.expires_at);
    let services = session.services();
    // Its events were just committed: they, and their actors and resources,
    // are read on the primary, which a replica may trail.
    session.pin_primary();
    let store = services.store.clone();
    let mut subscription = subscribe(&store, &services.bus).await?;
    let running = services.metrics.subscription_started();
    Ok(async_stream::stream! {
        // Dropped with the stream, however it ends (client gone, error, lag).
        let _running = running;
        loop {
            let next = match expires_at {
                Some(at) => {
                    tokio::select! {
                        next = subscription.next() => next,
                        _ = store.clock().sleep_until(at) => {
                            yield Err(Error::Unauthenticated("the viewer token has expired; ask for a new one"));
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
                    yield Err(Error::RateLimited(format!("this subscription fell behind by {missed} batches of events and was closed; subscribe again (and use a narrower filter or a faster consumer)")));
                    break;
                }
            };
            let announcement = match broadcast {
                Broadcast::Events(announcement) => announcement,
                Broadcast::Interrupted => {
                    yield Err(Error::Unavailable("this subscription was closed because the server lost its database connection, so events may have been missed; subscribe again and catch up with auditEvents".into()));
                    break;
                }
            };
            if announcement.tenant != tenant {
                continue;
            }
            let matching = Filter::Cond(Condition::Ids(announcement.events.clone())).and(filter.clone());
            match events::matching_in_order(store.db(), tenant, &matching).await {
                Ok(found) => {
                    for event in found {
                        yield Ok(event);
                    }
                }
                Err(err) => {
                    yield Err(err);
                    break;
                }
            }
        }
    })
}

/// Starts a subscription on the bus: events committed after this returns are delivered.
async fn subscribe(store: &Store, bus: &crate::bus::Bus) -> Result<crate::bus::Subscription> {
    let opening = bus.open();
    let after = match opening.fence() {
        // PostgreSQL: a NOTIFY of our own, ordered with the commits' NOTIFYs.
        Some(fence) => {
            announcements::fence(store.db(), fence.token).await?;
            fence
                .arrival(FENCE_LIMIT)
                .await
                .ok_or_else(|| Error::internal("the subscription's fence never came back"))?
        }
        // In process: writers publish while they hold the write gate.
        None => {
            let _gate = store.write_gate().await;
            bus.last_number()
        }
    };
    Ok(opening.start_after(after))
}
