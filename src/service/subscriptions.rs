//! Opening a subscription to committed events: where it starts is fixed
//! against the commits, so that nothing committed after it returns is missed
//! and nothing committed before is delivered.

use std::time::Duration;

use crate::bus::{Bus, Subscription};
use crate::error::{Error, Result};
use crate::store::{Store, announcements};

/// How long a fence may take to come back through PostgreSQL.
const FENCE_LIMIT: Duration = Duration::from_secs(10);

/// Starts a subscription: events committed after this returns are delivered.
pub async fn subscribe(store: &Store, bus: &Bus) -> Result<Subscription> {
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
