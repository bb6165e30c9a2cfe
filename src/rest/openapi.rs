//! The OpenAPI 3.1 document of the REST door, generated from the handlers'
//! annotations and types.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "auditgraph REST", description = "The REST door of auditgraph: events, the ledger, its C2SP tiles, RFC 9457 problems."),
    paths(
        super::events::list,
        super::events::record,
        super::events::one,
        super::stats::stats,
        super::ledger::proof,
        super::ledger::checkpoint,
        super::log::checkpoint,
        super::log::tile,
        document,
    ),
    components(schemas(super::query::Order, super::query::OutcomeParam)),
    modifiers(&Credentials),
    tags((name = "events"), (name = "ledger"), (name = "log"), (name = "meta"))
)]
pub struct Document;

/// The two ways to present a key: `Authorization: Bearer` or `X-API-Key`.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", operation_id = "getOpenApi", responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document() -> Response {
    let body = Document::openapi().to_json().unwrap_or_else(|_| "{}".into());
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
