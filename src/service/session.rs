//! One caller's use of the server: who asks (the [`Requester`], checked by
//! the policy point on every operation), what the operations may reach
//! ([`Services`]), and where this caller's reads go, chosen once so that all
//! of them see one database's state.

use crate::domain::filter::Filter;
use crate::domain::requester::Requester;
use crate::error::{Error, Result};
use crate::store::Reader;

use super::Services;
use super::policy::{self, Operation};

pub struct Session {
    services: Services,
    requester: Option<Requester>,
    reader: Reader,
}

impl Session {
    /// A session for a door's caller (`None`: no credentials were sent).
    pub fn new(services: &Services, requester: Option<Requester>) -> Session {
        Session { reader: services.store.reader(), services: services.clone(), requester }
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The authenticated caller, or `UNAUTHENTICATED`.
    pub fn requester(&self) -> Result<&Requester> {
        self.requester.as_ref().ok_or(Error::Unauthenticated(
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
        ))
    }

    /// The caller, if it may do `operation` (`UNAUTHENTICATED`, `FORBIDDEN`).
    pub fn authorize(&self, operation: Operation) -> Result<&Requester> {
        let requester = self.requester()?;
        policy::authorize(requester, operation)?;
        Ok(requester)
    }

    /// Whether the caller may do `operation` (a door choosing what to show).
    pub fn may(&self, operation: Operation) -> bool {
        self.authorize(operation).is_ok()
    }

    /// `filter` narrowed to what the caller may see: a viewer token's fixed
    /// filter is AND-ed into it. Every read of events goes through here.
    pub(super) fn confine(requester: &Requester, filter: Filter) -> Filter {
        match &requester.viewer {
            Some(grant) => filter.and(grant.filter.clone()),
            None => filter,
        }
    }

    /// Where this session's reads go: a read replica while it has not written.
    pub(super) fn reader(&self) -> &Reader {
        &self.reader
    }

    /// From now on this session reads the primary: after it wrote (what it
    /// reads must include the write, which a replica may not have yet), or
    /// for what was just committed (a tail).
    pub(super) fn pin_primary(&self) {
        self.reader.pin_primary();
    }
}
