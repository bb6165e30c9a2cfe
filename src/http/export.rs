//! `GET /export`: the caller's events as NDJSON or CSV, streamed, with the
//! signed checkpoint of the tree size the export covers in its headers.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt as _;
use serde_json::json;

use super::AppState;
use super::graphql::{authenticate, refusal, request_id};
use crate::domain::filter_spec::FilterSpec;
use crate::error::{Error, Result};
use crate::service::export::{self, Format};
use crate::service::policy::Operation;
use crate::service::session::Session;

const JSON: &str = "application/json";

/// The format, filter and query (`q`) the query string asks for.
fn params(raw: Option<&str>) -> Result<(Format, FilterSpec, Option<String>)> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| Error::bad_input("query", format!("the query string does not decode: {e}")))?;
    let (mut format, mut filter, mut query) = (Format::Ndjson, FilterSpec::default(), None);
    for (key, value) in pairs {
        match key.as_str() {
            "format" => format = Format::parse(&value, "format")?,
            "filter" if !value.trim().is_empty() => filter = FilterSpec::from_json_text(&value, "filter")?,
            "q" if !value.trim().is_empty() => query = Some(value),
            _ => {}
        }
    }
    Ok((format, filter, query))
}

/// HTTP 400 naming the offending parameter, as GraphQL's input errors do.
fn bad_input(err: &Error) -> Option<Response> {
    let Error::BadInput { path, position, .. } = err else {
        return None;
    };
    let mut extensions = json!({ "code": err.code(), "field": path });
    if let Some(position) = position {
        extensions["position"] = json!(position);
    }
    let body = json!({ "errors": [{ "message": err.to_string(), "extensions": extensions }] });
    Some(
        (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
            .into_response(),
    )
}

/// `GET /export?format=ndjson|csv&filter=<JSON AuditEventFilter>&q=<query string>`.
pub async fn get(State(app): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let refuse = |err: Error| refusal(&err, JSON, request_id(&headers));
    let requester = match authenticate(&app, &headers, JSON).await {
        Ok(requester) => requester,
        Err(refused) => return refused,
    };
    let Some(requester) = requester else {
        return refuse(Error::Unauthenticated(
            "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
        ));
    };
    let slug = requester.tenant_slug.clone();
    let session = Session::new(&app.services, Some(requester));
    if let Err(err) = session.authorize(Operation::ReadEvents) {
        return refuse(err);
    }
    let (format, filter, query) = match params(raw.as_deref()) {
        Ok(params) => params,
        Err(err) => return bad_input(&err).unwrap_or_else(|| refuse(err)),
    };
    let export = match export::start(&session, format, filter, query.as_deref()).await {
        Ok(export) => export,
        Err(err) => return bad_input(&err).unwrap_or_else(|| refuse(err)),
    };
    let checkpoint = export.checkpoint;
    let body = export::read_ahead(export.chunks).map(|chunk| match chunk {
        Ok(chunk) => Ok(Bytes::from(chunk.bytes)),
        Err(err) => {
            // The status is sent already: cutting the body short is how the
            // client learns (the chunked encoding never terminates).
            tracing::error!(error = %crate::error::describe(&err), "export failed midway");
            Err(err)
        }
    });

    let filename = format!("auditgraph-{slug}-{}.{}", checkpoint.size, format.extension());
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("audit-tree-size", HeaderValue::from(checkpoint.size));
    if let Ok(note) = HeaderValue::from_str(&STANDARD.encode(&checkpoint.note)) {
        h.insert("audit-checkpoint", note);
    }
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}
