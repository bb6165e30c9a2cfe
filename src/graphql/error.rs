//! How the server's errors appear in GraphQL: the message, `extensions.code`
//! and, for bad input, `extensions.field`.

use async_graphql::ErrorExtensions;

use crate::error::Error;

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(source) = self {
            tracing::error!(error = %source, "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Self::BadInput { path, position, .. } = self {
                ext.set("field", path.as_str());
                if let Some(position) = position {
                    ext.set("position", *position as u64);
                }
            }
        })
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        err.extend()
    }
}

/// Converts an error shared by a DataLoader batch.
pub fn shared(err: std::sync::Arc<Error>) -> async_graphql::Error {
    err.extend()
}
