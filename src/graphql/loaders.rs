//! Per-request DataLoaders, so a page of events costs a fixed number of SQL
//! statements whatever its size. Created for each request (never shared: the
//! cache would leak across requests and tenants) and keyed by tenant too.
//! They load through the request's session, so every batch is authorized
//! and read where the session reads.

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::Lookahead;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use crate::domain::actor::Actor;
use crate::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use crate::domain::personal;
use crate::domain::resource::Resource;
use crate::domain::selection::Joins;
use crate::domain::stored_event::StoredEvent;
use crate::error::Error;
use crate::service::data_keys::{self, OpeningKey};
use crate::service::ledger::InclusionProof;
use crate::service::session::Session;
use crate::service::{ledger, reads};

pub struct Loaders {
    pub actors: DataLoader<ByIdLoader<Actor>, HashMapCache>,
    pub resources: DataLoader<ByIdLoader<Resource>, HashMapCache>,
    pub event_resources: DataLoader<EventResourcesLoader, HashMapCache>,
    pub inclusion_proofs: DataLoader<InclusionProofLoader, HashMapCache>,
    /// The data keys of the events' actors, to open their sealed values.
    pub data_keys: DataLoader<ByIdLoader<OpeningKey>, HashMapCache>,
}

fn loader<T: Loader<K>, K: Send + Sync + Hash + Eq + Clone + 'static>(load: T) -> DataLoader<T, HashMapCache>
where
    T::Value: Send + Sync + Clone + 'static,
{
    DataLoader::with_cache(load, tokio::spawn, HashMapCache::default())
}

impl Loaders {
    pub fn new(session: Arc<Session>) -> Self {
        Self {
            actors: loader(ByIdLoader(session.clone(), PhantomData)),
            resources: loader(ByIdLoader(session.clone(), PhantomData)),
            event_resources: loader(EventResourcesLoader(session.clone())),
            inclusion_proofs: loader(InclusionProofLoader(session.clone())),
            data_keys: loader(ByIdLoader(session, PhantomData)),
        }
    }

    /// Primes the caches with actors and resources fetched along with a page.
    pub async fn feed(&self, actors: Vec<Actor>, resources: Vec<Resource>) {
        if !actors.is_empty() {
            self.actors.feed_many(actors.into_iter().map(|a| ((a.tenant, a.id), a))).await;
        }
        if !resources.is_empty() {
            self.resources.feed_many(resources.into_iter().map(|r| ((r.tenant, r.id), r))).await;
        }
    }

    /// Loads at once what the selected fields of these events need: one
    /// statement per relation for the whole page, however long it takes to
    /// resolve. (Batching by delay alone splits a large page into many batches.)
    /// `selections` are where `AuditEvent` fields are selected; `joined` is
    /// what the page's own statement already fetched (and [`Self::feed`] primed).
    pub async fn prefetch(
        &self,
        rows: &[StoredEvent],
        selections: &[Lookahead<'_>],
        joined: Joins,
    ) -> Result<(), Arc<Error>> {
        let selected = |field: &str| selections.iter().any(|s| s.field(field).exists());
        if rows.is_empty() {
            return Ok(());
        }
        if selected("actor") && !joined.actor {
            let mut keys: Vec<_> = rows.iter().map(|r| (r.tenant, r.actor_id)).collect();
            keys.sort();
            keys.dedup();
            let found = self.actors.loader().load(&keys).await?;
            self.actors.feed_many(found).await;
        }
        if selected("relatedResources") {
            // The links give the primary resources too: no statement of their own.
            let keys: Vec<_> = rows.iter().map(|r| (r.tenant, r.id)).collect();
            let found = self.event_resources.loader().load(&keys).await?;
            let primaries: Vec<_> =
                found.iter().filter_map(|((tenant, _), r)| r.primary.clone().map(|p| ((*tenant, p.id), p))).collect();
            self.resources.feed_many(primaries).await;
            self.event_resources.feed_many(found).await;
        } else if selected("resource") && !joined.resource {
            let mut keys: Vec<_> = rows.iter().filter_map(|r| r.resource_id.map(|id| (r.tenant, id))).collect();
            keys.sort();
            keys.dedup();
            let found = self.resources.loader().load(&keys).await?;
            self.resources.feed_many(found).await;
        }
        if ["metadata", "changes", "recordedActor", "erasedPaths"].iter().any(|f| selected(f)) {
            let mut keys: Vec<_> =
                rows.iter().filter(|r| personal::has_sealed(r)).map(|r| (r.tenant, r.actor_id)).collect();
            keys.sort();
            keys.dedup();
            if !keys.is_empty() {
                let found = self.data_keys.loader().load(&keys).await?;
                self.data_keys.feed_many(found).await;
            }
        }
        let proofs: Vec<_> = selections.iter().flat_map(|s| s.field("inclusionProof").selection_fields()).collect();
        if !proofs.is_empty() {
            // Every tree size asked for (usually one: the default), for every row.
            let mut sizes: Vec<Option<i64>> = proofs.iter().filter_map(tree_size_argument).collect();
            sizes.sort();
            sizes.dedup();
            let keys: Vec<ProofKey> = rows
                .iter()
                .flat_map(|r| sizes.iter().map(|&size| (r.tenant, ((r.sequence - 1) as u64, size))))
                .collect();
            let found = self.inclusion_proofs.loader().load(&keys).await?;
            self.inclusion_proofs.feed_many(found).await;
        }
        Ok(())
    }
}

/// The `treeSize` of one `inclusionProof` selection, variables resolved;
/// `None` when it does not parse (the field itself then reports why).
fn tree_size_argument(field: &async_graphql::SelectionField<'_>) -> Option<Option<i64>> {
    let arguments = field.arguments().ok()?;
    let Some((_, value)) = arguments.into_iter().find(|(name, _)| name.as_str() == "treeSize") else {
        return Some(None);
    };
    match value {
        async_graphql::Value::Null => Some(None),
        value => <super::scalars::BigInt as async_graphql::ScalarType>::parse(value).ok().map(|n| Some(n.0)),
    }
}

/// The keys of the session's own tenant (a request has one; the key says so
/// explicitly, and a key of another tenant finds nothing).
fn own<K: Copy>(session: &Session, keys: &[(TenantId, K)]) -> Vec<K> {
    let tenant = session.requester().map(|r| r.tenant).ok();
    keys.iter().filter(|(t, _)| Some(*t) == tenant).map(|(_, k)| *k).collect()
}

/// Records a request loads by ID through [`ByIdLoader`].
pub trait ById: Clone + Send + Sync + 'static {
    type Id: Copy + Eq + Hash + Send + Sync + 'static;

    /// The session's records with these IDs (missing ones are absent).
    fn by_ids(session: &Session, ids: &[Self::Id]) -> impl Future<Output = Result<Vec<Self>, Error>> + Send;
    fn key(&self) -> (TenantId, Self::Id);
}

impl ById for Actor {
    type Id = ActorId;

    async fn by_ids(session: &Session, ids: &[ActorId]) -> Result<Vec<Actor>, Error> {
        reads::actors(session, ids).await
    }

    fn key(&self) -> (TenantId, ActorId) {
        (self.tenant, self.id)
    }
}

impl ById for Resource {
    type Id = ResourceId;

    async fn by_ids(session: &Session, ids: &[ResourceId]) -> Result<Vec<Resource>, Error> {
        reads::resources(session, ids).await
    }

    fn key(&self) -> (TenantId, ResourceId) {
        (self.tenant, self.id)
    }
}

impl ById for OpeningKey {
    type Id = ActorId;

    async fn by_ids(session: &Session, ids: &[ActorId]) -> Result<Vec<OpeningKey>, Error> {
        data_keys::for_session(session, ids).await
    }

    fn key(&self) -> (TenantId, ActorId) {
        (self.tenant, self.actor)
    }
}

/// Loads records by ID (actors, resources, data keys): one statement per batch.
pub struct ByIdLoader<T>(Arc<Session>, PhantomData<T>);

impl<T: ById> Loader<(TenantId, T::Id)> for ByIdLoader<T> {
    type Value = T;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[(TenantId, T::Id)]) -> Result<HashMap<(TenantId, T::Id), T>, Self::Error> {
        let ids = own(&self.0, keys);
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(T::by_ids(&self.0, &ids).await?.into_iter().map(|record| (record.key(), record)).collect())
    }
}

/// The resources of an event: the primary one (if any) and the related ones in order.
#[derive(Clone, Debug, Default)]
pub struct EventResources {
    pub primary: Option<Resource>,
    pub related: Vec<Resource>,
}

pub struct EventResourcesLoader(Arc<Session>);

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
        let events = own(&self.0, keys);
        if events.is_empty() {
            return Ok(out);
        }
        let mut links = reads::event_resources(&self.0, &events).await?;
        links.sort_by_key(|(event, position, _)| (*event, *position));
        for (event, position, resource) in links {
            let entry = out.entry((resource.tenant, event)).or_default();
            if position == 0 {
                entry.primary = Some(resource);
            } else {
                entry.related.push(resource);
            }
        }
        Ok(out)
    }
}

/// An inclusion proof wanted: the tenant, and the leaf index with the tree
/// size (`None`: the current size).
pub type ProofKey = (TenantId, (u64, Option<i64>));

/// Inclusion proofs, two statements for any number of them. A proof that
/// cannot be given is an error in its own place only.
pub struct InclusionProofLoader(Arc<Session>);

impl Loader<ProofKey> for InclusionProofLoader {
    type Value = Result<InclusionProof, Arc<Error>>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ProofKey]) -> Result<HashMap<ProofKey, Self::Value>, Self::Error> {
        let wanted = own(&self.0, keys);
        let Some(&(tenant, _)) = keys.first() else {
            return Ok(HashMap::new());
        };
        let proofs = ledger::reads::inclusion_proofs_for(&self.0, &wanted).await?;
        Ok(wanted.into_iter().zip(proofs).map(|(at, proof)| ((tenant, at), proof.map_err(Arc::new))).collect())
    }
}
