//! Per-request DataLoaders, so a page of events costs a fixed number of SQL
//! statements whatever its size. Created for each request (never shared: the
//! cache would leak across requests and tenants) and keyed by tenant too.
//! They read through the request's [`Reader`]: a read replica, unless the
//! request wrote.

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::Lookahead;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{actor, audit_event, resource};

use crate::domain::ids::{ActorId, EventId, ResourceId, TenantId};
use crate::error::Error;
use crate::service::ledger::InclusionProof;
use crate::store::actors::{self, Actors};
use crate::store::events::Joins;
use crate::store::resources::{self, Resources};
use crate::store::{Reader, Store};

pub struct Loaders {
    pub actors: DataLoader<ByIdLoader<Actors>, HashMapCache>,
    pub resources: DataLoader<ByIdLoader<Resources>, HashMapCache>,
    pub event_resources: DataLoader<EventResourcesLoader, HashMapCache>,
    /// Where this request's reads go, chosen once, so that they all see one
    /// database's state.
    reader: Reader,
    pub inclusion_proofs: DataLoader<InclusionProofLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(store: &Store) -> Self {
        let reader = store.reader();
        Self {
            actors: DataLoader::with_cache(ByIdLoader::new(reader.clone()), tokio::spawn, HashMapCache::default()),
            resources: DataLoader::with_cache(ByIdLoader::new(reader.clone()), tokio::spawn, HashMapCache::default()),
            event_resources: DataLoader::with_cache(
                EventResourcesLoader(reader.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            reader,
            inclusion_proofs: DataLoader::with_cache(
                InclusionProofLoader(store.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }

    /// The request's reads: pages, counts, look-ups.
    pub fn reader(&self) -> &Reader {
        &self.reader
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
        let proofs: Vec<_> = selections.iter().flat_map(|s| s.field("inclusionProof").selection_fields()).collect();
        if !proofs.is_empty() {
            // Every tree size asked for (usually one: the default), for every row.
            let mut sizes: Vec<Option<i64>> = proofs.iter().filter_map(tree_size_argument).collect();
            sizes.sort();
            sizes.dedup();
            let keys: Vec<ProofKey> = rows
                .iter()
                .flat_map(|r| sizes.iter().map(|&size| (TenantId(r.tenant_id), ((r.sequence - 1) as u64, size))))
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

/// Groups keys by tenant (a request has one, but the key says so explicitly).
fn by_tenant<K: Copy>(keys: &[(TenantId, K)]) -> HashMap<TenantId, Vec<K>> {
    let mut groups: HashMap<TenantId, Vec<K>> = HashMap::new();
    for (tenant, key) in keys {
        groups.entry(*tenant).or_default().push(*key);
    }
    groups
}

/// Rows a request loads by ID, tenant by tenant, through [`ByIdLoader`].
pub trait ById: Send + Sync + 'static {
    type Id: Copy + Eq + Hash + Send + Sync + 'static;
    type Row: Clone + Send + Sync + 'static;

    /// The tenant's rows with these IDs (missing ones are absent).
    fn by_ids(
        reader: &Reader,
        tenant: TenantId,
        ids: &[Self::Id],
    ) -> impl Future<Output = Result<Vec<Self::Row>, Error>> + Send;
    fn id(row: &Self::Row) -> Self::Id;
}

impl ById for Actors {
    type Id = ActorId;
    type Row = actor::Model;

    async fn by_ids(reader: &Reader, tenant: TenantId, ids: &[ActorId]) -> Result<Vec<actor::Model>, Error> {
        actors::by_ids(reader, tenant, ids).await
    }

    fn id(row: &actor::Model) -> ActorId {
        ActorId(row.id)
    }
}

impl ById for Resources {
    type Id = ResourceId;
    type Row = resource::Model;

    async fn by_ids(reader: &Reader, tenant: TenantId, ids: &[ResourceId]) -> Result<Vec<resource::Model>, Error> {
        resources::by_ids(reader, tenant, ids).await
    }

    fn id(row: &resource::Model) -> ResourceId {
        ResourceId(row.id)
    }
}

/// Loads the rows of a [`ById`] (actors, resources): one statement per tenant.
pub struct ByIdLoader<T>(Reader, PhantomData<T>);

impl<T> ByIdLoader<T> {
    fn new(reader: Reader) -> Self {
        Self(reader, PhantomData)
    }
}

impl<T: ById> Loader<(TenantId, T::Id)> for ByIdLoader<T> {
    type Value = T::Row;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[(TenantId, T::Id)]) -> Result<HashMap<(TenantId, T::Id), T::Row>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for (tenant, ids) in by_tenant(keys) {
            for row in T::by_ids(&self.0, tenant, &ids).await? {
                out.insert((tenant, T::id(&row)), row);
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

pub struct EventResourcesLoader(Reader);

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
            let mut links = resources::for_events(&self.0, tenant, &events).await?;
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

/// An inclusion proof wanted: the tenant, and the leaf index with the tree
/// size (`None`: the current size).
pub type ProofKey = (TenantId, (u64, Option<i64>));

/// Inclusion proofs, two statements per tenant for any number of them. A proof
/// that cannot be given is an error in its own place only.
pub struct InclusionProofLoader(Store);

impl Loader<ProofKey> for InclusionProofLoader {
    type Value = Result<InclusionProof, Arc<Error>>;
    type Error = Arc<Error>;

    async fn load(&self, keys: &[ProofKey]) -> Result<HashMap<ProofKey, Self::Value>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for (tenant, wanted) in by_tenant(keys) {
            let proofs = crate::service::ledger::inclusion_proofs(self.0.db(), tenant, &wanted).await?;
            for (at, proof) in wanted.into_iter().zip(proofs) {
                out.insert((tenant, at), proof.map_err(Arc::new));
            }
        }
        Ok(out)
    }
}
