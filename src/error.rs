//! The one error type of the server. Each variant's doc names the GraphQL
//! `extensions.code` it is shown with. Internal errors are logged with their
//! detail and shown to callers only as `INTERNAL`.

use async_graphql::ErrorExtensions;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `UNAUTHENTICATED` (HTTP 401): no key, an unknown key or a revoked key.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// `FORBIDDEN`: the key lacks the scope, or may not act in that tenant.
    #[error("{0}")]
    Forbidden(String),
    /// `BAD_USER_INPUT`, with the path of the offending input field.
    #[error("{path}: {message}")]
    BadInput { path: String, message: String },
    /// `BAD_CURSOR`: a cursor that does not decode or belongs to another ordering.
    #[error("{0}")]
    BadCursor(String),
    /// `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// `RATE_LIMITED`: too many requests, or a subscriber too slow to keep up.
    #[error("{0}")]
    RateLimited(String),
    /// `INTERNAL`, with a message: the database is out of reach for now (the
    /// message says what to do; there is no detail to hide).
    #[error("{0}")]
    Unavailable(String),
    /// `INTERNAL`: the detail is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn bad_input(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput { path: path.into(), message: message.into() }
    }

    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::BadCursor(_) => "BAD_CURSOR",
            Self::NotFound(_) => "NOT_FOUND",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Unavailable(_) | Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::internal(err)
    }
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(err: sea_orm::TransactionError<Error>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(err) => err,
        }
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(source) = self {
            tracing::error!(error = %source, "internal error");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", self.code());
            if let Self::BadInput { path, .. } = self {
                ext.set("field", path.as_str());
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

/// An error in full, for operators (logs, the command line): internal detail included.
pub fn describe(err: &Error) -> String {
    match err {
        Error::Internal(source) => source.to_string(),
        other => other.to_string(),
    }
}
