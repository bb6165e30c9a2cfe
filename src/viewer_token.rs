//! Viewer tokens: bearer credentials that can only read, in one tenant, the
//! events matching a filter fixed when the token was minted, until it expires.
//! They let a product embed the console for its own customers' admins.
//!
//! A token is stored like an API key (a SHA-256 hash of a random secret), not
//! signed: the server needs no signing secret shared between replicas, and a
//! token ends the moment the key that minted it is revoked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::requester::{Requester, ViewerGrant};
use crate::domain::scope::{Scope, Scopes};
use crate::domain::secret;
use crate::error::{Error, Result};
use crate::store::{Store, viewer_tokens};

/// Every viewer token starts with this (API keys start with `agk_`).
pub const SECRET_PREFIX: &str = "agv_";
/// The longest life a token may be given: 30 days.
pub const MAX_TTL_SECONDS: i32 = 30 * 24 * 3600;
/// Entries kept by the cache before it is cleared.
const CACHE_CAPACITY: usize = 10_000;

/// Turns viewer-token secrets into requesters, with a short cache like the
/// one for keys. Expiry is checked on every use, cached or not.
pub struct Tokens {
    store: Store,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Requester)>>,
}

impl Tokens {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self { store, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The requester of a viewer token; `UNAUTHENTICATED` when it is unknown,
    /// expired or its key was revoked, `FORBIDDEN` for another tenant's header.
    pub async fn authenticate(&self, secret: &str, tenant_header: Option<&str>) -> Result<Requester> {
        let hash = secret::hash_secret(secret);
        let requester = match self.cached(&hash) {
            Some(requester) => requester,
            None => {
                let requester = self.load(&hash).await?;
                let mut cache = self.cache.lock().unwrap();
                if !self.ttl.is_zero() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(hash.clone(), (Instant::now(), requester.clone()));
                }
                requester
            }
        };
        let grant = requester.viewer.as_ref().ok_or_else(|| Error::internal("a viewer token without a grant"))?;
        if grant.expires_at <= self.store.now() {
            self.cache.lock().unwrap().remove(&hash);
            return Err(Error::Unauthenticated("the viewer token has expired; ask for a new one"));
        }
        if let Some(slug) = tenant_header.map(str::trim).filter(|s| !s.is_empty())
            && slug != requester.tenant_slug
        {
            return Err(Error::Forbidden("a viewer token reads only its own tenant (header X-Audit-Tenant)".into()));
        }
        Ok(requester)
    }

    fn cached(&self, hash: &str) -> Option<Requester> {
        let cache = self.cache.lock().unwrap();
        cache.get(hash).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, r)| r.clone())
    }

    async fn load(&self, hash: &str) -> Result<Requester> {
        let found = viewer_tokens::by_hash(self.store.db(), hash)
            .await?
            .ok_or(Error::Unauthenticated("unknown viewer token"))?;
        if found.key.revoked_at.is_some() {
            return Err(Error::Unauthenticated("the API key that minted this viewer token was revoked"));
        }
        let filter = FilterSpec::read_stored(found.token.filter.clone(), "filter")
            .map_err(|e| Error::internal(format!("a stored viewer token filter no longer parses: {e}")))?;
        Ok(Requester {
            tenant: TenantId(found.tenant.id),
            tenant_slug: found.tenant.slug,
            key_id: ApiKeyId(found.key.id),
            key_name: found.key.name,
            scopes: Scopes::new(vec![Scope::AuditRead]),
            viewer: Some(Arc::new(ViewerGrant {
                filter,
                filter_json: found.token.filter,
                expires_at: found.token.expires_at,
            })),
        })
    }

    /// Drops the tokens minted by `key` from the cache (after it was revoked here).
    pub fn forget(&self, key: ApiKeyId) {
        self.cache.lock().unwrap().retain(|_, (_, r)| r.key_id != key);
    }
}
