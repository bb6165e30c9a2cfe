//! API keys and who is asking: key format, hashing, scopes, and the `Requester`
//! every resolver checks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::domain::api_key::ApiKey;
use crate::domain::ids::ApiKeyId;
use crate::domain::requester::Requester;
use crate::domain::scope::Scope;
use crate::domain::secret::hash_secret;
use crate::domain::tenant::Tenant;
use crate::error::{Error, Result};
use crate::store::{Store, keys, tenants};
use crate::viewer_token;

/// Entries kept by the authentication cache before it is cleared.
const CACHE_CAPACITY: usize = 10_000;

pub const TENANT_HEADER: &str = "x-audit-tenant";

/// The secret a request carries, if any: `Authorization: Bearer …` or `X-API-Key`.
pub fn secret_from_headers(headers: &HeaderMap) -> Result<Option<&str>> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| Error::Unauthenticated("the Authorization header is not valid text"))?;
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(Error::Unauthenticated("use `Authorization: Bearer <API key>` or `X-API-Key: <API key>`"));
        }
        return Ok(Some(token.trim()));
    }
    match headers.get("x-api-key") {
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim()))
            .map_err(|_| Error::Unauthenticated("the X-API-Key header is not valid text")),
        None => Ok(None),
    }
}

type KeyAndTenant = (ApiKey, Tenant);

/// Verified keys by secret hash, and how many times keys were forgotten: a
/// look-up that began before a revocation must not cache what it read.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, (Instant, KeyAndTenant)>,
    generation: u64,
}

/// Revocations this process announces before old receivers must catch up.
const REVOCATIONS_BUFFERED: usize = 1_024;

/// Turns secrets into requesters, with a short cache so a hot key costs no query.
/// A key revoked through this process leaves the cache at once; one revoked
/// through another replica is refused here within `ttl`.
pub struct Authenticator {
    store: Store,
    ttl: Duration,
    cache: Mutex<Cache>,
    viewer_tokens: viewer_token::Tokens,
    /// Keys revoked (or found revoked) by this process, for open WebSockets.
    revocations: tokio::sync::broadcast::Sender<ApiKeyId>,
}

impl Authenticator {
    pub fn new(store: Store, ttl: Duration) -> Self {
        let (revocations, _) = tokio::sync::broadcast::channel(REVOCATIONS_BUFFERED);
        Self {
            viewer_tokens: viewer_token::Tokens::new(store.clone(), ttl),
            store,
            ttl,
            cache: Mutex::default(),
            revocations,
        }
    }

    /// How long a verified key is trusted before it is looked up again.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Every key this process revokes, or finds revoked, from now on.
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<ApiKeyId> {
        self.revocations.subscribe()
    }

    /// Those of `keys` that are revoked or gone, read from the database (not
    /// the cache); each is forgotten, and announced, at once.
    pub async fn find_revoked(&self, keys: &[ApiKeyId]) -> Result<Vec<ApiKeyId>> {
        let revoked = keys::revoked_among(self.store.db(), keys).await?;
        for key in &revoked {
            self.forget(*key);
        }
        Ok(revoked)
    }

    /// The requester of a request: `None` without a key, `UNAUTHENTICATED` for an
    /// unknown or revoked key, `FORBIDDEN` for a tenant switch it may not make.
    pub async fn authenticate(&self, secret: Option<&str>, tenant_header: Option<&str>) -> Result<Option<Requester>> {
        let Some(secret) = secret else {
            return Ok(None);
        };
        if secret.starts_with(viewer_token::SECRET_PREFIX) {
            return self.viewer_tokens.authenticate(secret, tenant_header).await.map(Some);
        }
        let (key, home) =
            self.key(&hash_secret(secret)).await?.ok_or(Error::Unauthenticated("unknown or revoked API key"))?;
        let scopes = key.scopes.clone();
        let tenant = match tenant_header.map(str::trim).filter(|s| !s.is_empty()) {
            None => home,
            Some(slug) if slug == home.slug => home,
            Some(slug) if scopes.contains(Scope::Admin) => tenants::by_slug(self.store.db(), slug)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no tenant `{slug}` (header X-Audit-Tenant)")))?,
            Some(_) => {
                return Err(Error::Forbidden(
                    "only admin keys may act in another tenant (header X-Audit-Tenant)".into(),
                ));
            }
        };
        let now = self.store.now();
        if keys::is_stale(key.last_used_at, now) {
            self.mark_used(&key, now);
        }
        Ok(Some(Requester {
            tenant: tenant.id,
            tenant_slug: tenant.slug,
            key_id: key.id,
            key_name: key.name,
            scopes,
            viewer: None,
        }))
    }

    async fn key(&self, hash: &str) -> Result<Option<KeyAndTenant>> {
        let generation = {
            let cache = self.cache.lock().unwrap();
            if let Some((at, entry)) = cache.entries.get(hash)
                && at.elapsed() < self.ttl
            {
                return Ok(Some(entry.clone()));
            }
            cache.generation
        };
        let found = keys::by_hash(self.store.db(), hash).await?.filter(|(k, _)| k.revoked_at.is_none());
        self.remember(hash, found.as_ref(), generation);
        Ok(found)
    }

    /// Caches what a look-up begun at `generation` found, unless a key was
    /// forgotten since: the row it read may predate that revocation.
    fn remember(&self, hash: &str, found: Option<&KeyAndTenant>, generation: u64) {
        let mut cache = self.cache.lock().unwrap();
        match found {
            Some(entry) if !self.ttl.is_zero() && cache.generation == generation => {
                if cache.entries.len() >= CACHE_CAPACITY {
                    cache.entries.clear();
                }
                cache.entries.insert(hash.to_string(), (Instant::now(), entry.clone()));
            }
            _ => {
                cache.entries.remove(hash);
            }
        }
    }

    /// Drops a key from the cache (after it was revoked here), so that no
    /// request from now on is let in with it, and tells open WebSockets.
    pub fn forget(&self, key: ApiKeyId) {
        {
            let mut cache = self.cache.lock().unwrap();
            cache.generation += 1;
            cache.entries.retain(|_, (_, (k, _))| k.id != key);
        }
        self.viewer_tokens.forget(key);
        // Nobody listening is fine.
        let _ = self.revocations.send(key);
    }

    /// Refreshes `last_used_at` off the request path.
    fn mark_used(&self, key: &ApiKey, now: chrono::DateTime<chrono::Utc>) {
        for (_, (k, _)) in self.cache.lock().unwrap().entries.values_mut() {
            if k.id == key.id {
                k.last_used_at = Some(now);
            }
        }
        let store = self.store.clone();
        let id = key.id;
        tokio::spawn(async move {
            let _gate = store.write_gate().await;
            if let Err(err) = keys::touch(store.db(), id, now).await {
                tracing::warn!(error = %err, "could not record key use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A look-up that read the key before it was revoked, and returns after
    /// the revocation, must not put it back in the cache.
    #[tokio::test]
    async fn a_revocation_racing_a_look_up_wins() {
        let settings = crate::store::DbSettings {
            url: "sqlite::memory:".into(),
            pool_size: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
            read_urls: Vec::new(),
            max_replica_lag: Duration::from_secs(5),
            clock: Default::default(),
            data_key: None,
        };
        let store = Store::connect(&settings, Default::default()).await.unwrap();
        store.migrate().await.unwrap();
        store.install_master_key(crate::domain::data_key::MasterKey::generate());
        let bus = crate::bus::Bus::new(1);
        let tenant =
            crate::service::tenants::create_tenant(&store, &bus, "t", None, crate::service::self_audit::Acting::System)
                .await
                .unwrap();
        let scopes = crate::domain::scope::Scopes::parse_list("audit.read", "scopes").unwrap();
        let (key, secret) = crate::service::keys::create_key(
            &store,
            &bus,
            tenant.id,
            "k",
            scopes,
            crate::service::self_audit::Acting::System,
        )
        .await
        .unwrap();
        let auth = Authenticator::new(store.clone(), Duration::from_secs(60));
        let mut revocations = auth.revocations();
        let hash = hash_secret(&secret);

        // The look-up reads the row, then the key is revoked before it caches it.
        let began = auth.cache.lock().unwrap().generation;
        let read = keys::by_hash(store.db(), &hash).await.unwrap();
        auth.forget(key.id);
        auth.remember(&hash, read.as_ref(), began);
        assert!(auth.cache.lock().unwrap().entries.is_empty(), "the stale read was cached");
        assert_eq!(revocations.try_recv().unwrap(), key.id);

        // A look-up begun afterwards is cached as usual.
        assert!(auth.authenticate(Some(&secret), None).await.unwrap().is_some());
        assert_eq!(auth.cache.lock().unwrap().entries.len(), 1);
    }

    #[test]
    fn reads_both_header_styles() {
        let mut h = HeaderMap::new();
        assert_eq!(secret_from_headers(&h).unwrap(), None);
        h.insert("x-api-key", "agk_x".parse().unwrap());
        assert_eq!(secret_from_headers(&h).unwrap(), Some("agk_x"));
        h.insert("authorization", "Bearer agk_y".parse().unwrap());
        assert_eq!(secret_from_headers(&h).unwrap(), Some("agk_y"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert!(secret_from_headers(&h).is_err());
    }
}
