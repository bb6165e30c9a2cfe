//! Per-request DataLoaders, so a page of events costs a fixed number of SQL
//! statements whatever its size. Created for each request (never shared: the
//! cache would leak across requests and tenants) and keyed by tenant too.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{actor, resource};

use crate::domain::ids::{ActorId, EventId, TenantId};
use crate::error::Error;
use crate::store::{Store, actors, resources};

pub struct Loaders {
    pub actors: DataLoader<ActorLoader>,
    pub event_resources: DataLoader<EventResourcesLoader>,
}

impl Loaders {
    pub fn new(store: &Store) -> Self {
        Self {
            actors: DataLoader::new(ActorLoader(store.clone()), tokio::spawn),
            event_resources: DataLoader::new(EventResourcesLoader(store.clone()), tokio::spawn),
        }
    }
}

/// Groups keys by tenant (a request has one, but the key says so explicitly).
fn by_tenant<K: Copy>(keys: &[(TenantId, K)]) -> HashMap<TenantId, Vec<K>> {
    let mut groups: HashMap<TenantId, Vec<K>> = HashMap::new();
    for (tenant, key) in keys {
        groups.entry(*tenant).or_default().push(*key);
    }
    groups
}

pub struct ActorLoader(Store);

impl Loader<(TenantId, ActorId)> for ActorLoader {
    type Value = actor::Model;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[(TenantId, ActorId)],
    ) -> Result<HashMap<(TenantId, ActorId), actor::Model>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for (tenant, ids) in by_tenant(keys) {
            for row in actors::by_ids(self.0.db(), tenant, &ids).await? {
                out.insert((tenant, ActorId(row.id)), row);
            }
        }
        Ok(out)
    }
}

/// The resources of an event: the primary one (if any) and the related ones in order.
#[derive(Clone, Debug, Default)]
pub struct EventResources {
    pub primary: Option<resource::Model>,
    pub related: Vec<resource::Model>,
}

pub struct EventResourcesLoader(Store);

impl Loader<(TenantId, EventId)> for EventResourcesLoader {
    type Value = EventResources;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[(TenantId, EventId)],
    ) -> Result<HashMap<(TenantId, EventId), EventResources>, Self::Error> {
        let mut out: HashMap<(TenantId, EventId), EventResources> = HashMap::with_capacity(keys.len());
        for (tenant, events) in by_tenant(keys) {
            let mut links = resources::for_events(self.0.db(), tenant, &events).await?;
            links.sort_by_key(|l| (l.event_id, l.position));
            for link in links {
                let entry = out.entry((tenant, EventId(link.event_id))).or_default();
                if link.position == 0 {
                    entry.primary = Some(link.into_model());
                } else {
                    entry.related.push(link.into_model());
                }
            }
        }
        Ok(out)
    }
}
