//! What resolvers reach through the context: the caller's session (every
//! operation goes through it to the application layer) and the request's
//! DataLoaders.

use std::sync::Arc;

use async_graphql::Context;

use crate::service::session::Session;

use super::loaders::Loaders;

/// A request to execute for the caller of `session`, with the session and a
/// fresh set of DataLoaders in its data.
pub fn attach(request: async_graphql::Request, session: Session) -> async_graphql::Request {
    let session = Arc::new(session);
    request.data(Arc::new(Loaders::new(session.clone()))).data(session)
}

pub trait ContextExt {
    /// The caller's session: who asks, and where its reads go.
    fn session(&self) -> &Session;
    fn loaders(&self) -> &Loaders;
    /// The loaders, to hold beyond the resolver (a subscription's stream).
    fn shared_loaders(&self) -> Arc<Loaders>;
}

impl ContextExt for Context<'_> {
    fn session(&self) -> &Session {
        self.data_unchecked::<Arc<Session>>()
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Arc<Loaders>>()
    }

    fn shared_loaders(&self) -> Arc<Loaders> {
        self.data_unchecked::<Arc<Loaders>>().clone()
    }
}
