//! Per-request DataLoaders, so a page of events costs a fixed number of SQL
//! statements whatever its size. Created for each request (never shared: the
//! cache would leak across requests and tenants) and keyed by tenant too.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Lookahead;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{actor, audit_event, resource};

use crate::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use crate::error::Error;
use crate::store::events::Joins;
use crate::store::{Store, actors, resources};

pub struct Loaders {
    pub actors: DataLoader<ActorLoader, HashMapCache>,
    pub resources: DataLoader<ResourceLoader, HashMapCache>,
    pub event_resources: DataLoader<EventResourcesLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(store: &Store) -> Self {
        Self {
            actors: DataLoader::with_cache(ActorLoader(store.clone()), tokio::spawn, HashMapCache::default()),
            resources: DataLoader::with_cache(ResourceLoader(store.clone()), tokio::spawn, HashMapCache::default()),
            event_resources: DataLoader::with_cache(
                EventResourcesLoader(store.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }

    /// Primes the caches with actors and resources fetched along with a page.
    pub async fn feed(&self, actors: Vec<actor::Model>, resources: Vec<resource::Model>) {
        if !actors.is_empty() {
            self.actors.feed_many(actors.into_iter().map(|a| ((TenantId(a.tenant_id), ActorId(a.id)), a))).await;
        }
        if !resources.is_empty() {
            self.resources
                .feed_many(resources.into_iter().map(|r| ((TenantId(r.tenant_id), ResourceId(r.id)), r)))
                .await;
        }
    }

    /// Loads at once what the selected fields of these events need: one
    /// statement per relation for the whole page, however long it takes to
    /// resolve. (Batching by delay alone splits a large page into many batches.)
    /// `selections` are where `AuditEvent` fields are selected; `joined` is
    /// what the page's own statement already fetched (and [`Self::feed`] primed).
    pub async fn prefetch(
        &self,
        rows: &[audit_event::Model],
        selections: &[Lookahead<'_>],
        joined: Joins,
    ) -> Result<(), Arc<Error>> {
        let selected = |field: &str| selections.iter().any(|s| s.field(field).exists());
        if rows.is_empty() {
            return Ok(());
        }
        if selected("actor") && !joined.actor {
            let mut keys: Vec<_> = rows.iter().map(|r| (TenantId(r.tenant_id), ActorId(r.actor_id))).collect();
            keys.sort();
            keys.dedup();
            let found = self.actors.loader().load(&keys).await?;
            self.actors.feed_many(found).await;
        }
        if selected("relatedResources") {
            // The links give the primary resources too: no statement of their own.
            let keys: Vec<_> = rows.iter().map(|r| (TenantId(r.tenant_id), EventId(r.id))).collect();
            let found = self.event_resources.loader().load(&keys).await?;
            let primaries: Vec<_> = found
                .iter()
                .filter_map(|((tenant, _), r)| r.primary.clone().map(|p| ((*tenant, ResourceId(p.id)), p)))
                .collect();
            self.resources.feed_many(primaries).await;
            self.event_resources.feed_many(found).await;
        } else if selected("resource") && !joined.resource {
            let mut keys: Vec<_> =
                rows.iter().filter_map(|r| r.resource_id.map(|id| (TenantId(r.tenant_id), ResourceId(id)))).collect();
            keys.sort();
            keys.dedup();
            let found = self.resources.loader().load(&keys).await?;
            self.resources.feed_many(found).await;
        }
        Ok(())
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

pub struct ResourceLoader(Store);

impl Loader<(TenantId, ResourceId)> for ResourceLoader {
    type Value = resource::Model;
    type Error = Arc<Error>;

    async fn load(
        &self,
        keys: &[(TenantId, ResourceId)],
    ) -> Result<HashMap<(TenantId, ResourceId), resource::Model>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for (tenant, ids) in by_tenant(keys) {
            for row in resources::by_ids(self.0.db(), tenant, &ids).await? {
                out.insert((tenant, ResourceId(row.id)), row);
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
        // Every key gets an entry, so an event without resources is cached too.
        let mut out: HashMap<(TenantId, EventId), EventResources> =
            keys.iter().map(|k| (*k, EventResources::default())).collect();
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
