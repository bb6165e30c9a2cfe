//! The one error type of the server, and every error code the API answers
//! with. Each variant's doc names the `code` it is shown with (GraphQL
//! `extensions.code`, REST problem `code`). Internal errors are logged with
//! their detail and shown to callers only as `INTERNAL`.

/// The codes callers see, in GraphQL errors and REST problems alike.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const BAD_CURSOR: &str = "BAD_CURSOR";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL: &str = "INTERNAL";
    /// The GraphQL document does not parse.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The GraphQL document does not validate against the schema.
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The document is too deep, too wide or too costly.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `UNAUTHENTICATED` (HTTP 401): no key, an unknown key or a revoked key.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// `FORBIDDEN`: the key lacks the scope, or may not act in that tenant.
    #[error("{0}")]
    Forbidden(String),
    /// `BAD_USER_INPUT`, with the path of the offending input field and, in a
    /// query string, the 1-based character where it went wrong.
    #[error("{path}: {message}")]
    BadInput { path: String, message: String, position: Option<usize> },
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
        Self::BadInput { path: path.into(), message: message.into(), position: None }
    }

    /// Bad input in a query string at `position`, its 1-based character.
    pub fn bad_query(path: impl Into<String>, position: usize, message: impl Into<String>) -> Self {
        Self::BadInput { path: path.into(), message: message.into(), position: Some(position) }
    }

    pub fn internal(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(err.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::BadInput { .. } => code::BAD_USER_INPUT,
            Self::BadCursor(_) => code::BAD_CURSOR,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::RateLimited(_) => code::RATE_LIMITED,
            Self::Unavailable(_) | Self::Internal(_) => code::INTERNAL,
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

/// An error in full, for operators (logs, the command line): internal detail included.
pub fn describe(err: &Error) -> String {
    match err {
        Error::Internal(source) => source.to_string(),
        other => other.to_string(),
    }
}
