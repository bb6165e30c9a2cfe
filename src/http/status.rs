//! The one mapping from an error to its HTTP status, for every HTTP answer
//! (GraphQL transport errors, REST problems, the WebSocket upgrade).

use axum::http::StatusCode;

use crate::error::Error;

pub fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::BadInput { .. } | Error::BadCursor(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
