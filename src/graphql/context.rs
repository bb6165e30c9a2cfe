//! What resolvers reach through the context: the store, the caller, the
//! request's DataLoaders.

use async_graphql::Context;

use crate::auth::Requester;
use crate::domain::scope::Scope;
use crate::error::{Error, Result};
use crate::service::Services;
use crate::store::{Reader, Store};

use super::loaders::Loaders;

/// The caller of one request (`None` when no key was sent).
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Requester>);

pub trait ContextExt {
    fn services(&self) -> &Services;
    fn store(&self) -> &Store {
        &self.services().store
    }
    /// The authenticated caller, or `UNAUTHENTICATED`.
    fn requester(&self) -> Result<&Requester>;
    /// The caller, if it has `scope` (else `FORBIDDEN`).
    fn require(&self, scope: Scope) -> Result<&Requester> {
        let requester = self.requester()?;
        requester.require(scope)?;
        Ok(requester)
    }
    fn loaders(&self) -> &Loaders;
    /// Where this request's reads go (a read replica or the primary; see
    /// `store::replicas` for what reads there).
    fn reader(&self) -> &Reader {
        self.loaders().reader()
    }
}

impl ContextExt for Context<'_> {
    fn services(&self) -> &Services {
        self.data_unchecked::<Services>()
    }

    fn requester(&self) -> Result<&Requester> {
        self.data_opt::<Caller>().and_then(|c| c.0.as_ref()).ok_or(Error::Unauthenticated(
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
        ))
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Loaders>()
    }
}
