//! RFC 9457 problem details: every refusal of the REST door, with the
//! contract's error code and the path of each offending parameter.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;
use crate::http::graphql::Refused;
use crate::http::status::status_of;

pub const MEDIA_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Serialize, ToSchema, Debug)]
pub struct Problem {
    /// Always `about:blank`: `title` is the HTTP status's phrase.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// The contract's error code: `UNAUTHENTICATED`, `FORBIDDEN`,
    /// `BAD_USER_INPUT`, `BAD_CURSOR`, `NOT_FOUND`, `RATE_LIMITED` or `INTERNAL`.
    pub code: String,
    /// The offending inputs: a query parameter, a header or a body path such as `events.3.action`.
    pub errors: Vec<FieldProblem>,
}

/// One offending input.
#[derive(Serialize, ToSchema, Debug)]
pub struct FieldProblem {
    pub path: String,
    pub message: String,
    /// In a query string (`q`), the 1-based character where it went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// A refused REST request, on its way to becoming a problem response.
pub struct Refusal {
    pub error: Error,
    pub status: Option<StatusCode>,
    pub retry_after: Option<u64>,
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal { error, status: None, retry_after: None }
    }
}

impl From<Refused> for Refusal {
    fn from(refused: Refused) -> Self {
        // Credentials that could not be checked: the database is most likely out of reach.
        let status = matches!(refused.error, Error::Internal(_)).then_some(StatusCode::SERVICE_UNAVAILABLE);
        Refusal { error: refused.error, status, retry_after: refused.retry_after }
    }
}

impl Refusal {
    /// A refusal with its own status (413, 415) and `BAD_USER_INPUT` at `path`.
    pub fn with_status(status: StatusCode, path: &str, message: impl Into<String>) -> Self {
        Refusal { error: Error::bad_input(path, message), status: Some(status), retry_after: None }
    }

    /// The response; internal detail is logged, and the caller gets the request id.
    pub fn into_response(self, request_id: &str) -> Response {
        let Refusal { error, status, retry_after } = self;
        let status = status.unwrap_or_else(|| status_of(&error));
        let (detail, errors) = match &error {
            Error::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                (format!("internal error (request id {request_id})"), Vec::new())
            }
            Error::BadInput { path, message, position } => (
                error.to_string(),
                vec![FieldProblem { path: path.clone(), message: message.clone(), position: *position }],
            ),
            Error::BadCursor(_) => (
                error.to_string(),
                vec![FieldProblem { path: "cursor".into(), message: error.to_string(), position: None }],
            ),
            other => (other.to_string(), Vec::new()),
        };
        let problem = Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            code: error.code().into(),
            errors,
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
