//! GraphQL over HTTP: `POST` (JSON) and `GET` (queries only), media-type
//! negotiation, status codes, and the 401 of the contract.

use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ServerError, Variables};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::auth::{self, TENANT_HEADER};
use crate::domain::requester::Requester;
use crate::error::{Error, code};
use crate::http::status::status_of;
use crate::service::session::Session;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";
/// Codes of errors raised before execution: their responses carry no `data`.
const REQUEST_ERROR_CODES: [&str; 3] =
    [code::GRAPHQL_PARSE_FAILED, code::GRAPHQL_VALIDATION_FAILED, code::QUERY_TOO_COMPLEX];

/// The response media type the client accepts; `None` if it accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(JSON);
    };
    let mut best: Option<(&'static str, f32)> = None;
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let media = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = fields.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE => GRAPHQL_RESPONSE,
            JSON | "application/*" | "*/*" => JSON,
            _ => continue,
        };
        if q > 0.0
            && best.is_none_or(|(m, bq)| q > bq || (q == bq && candidate == GRAPHQL_RESPONSE && m != GRAPHQL_RESPONSE))
        {
            best = Some((candidate, q));
        }
    }
    best.map(|(m, _)| m)
}

/// A GraphQL request's parameters as the transport carried them.
#[derive(Debug, Default)]
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Map<String, Value>,
    extensions: Map<String, Value>,
}

/// An error before any GraphQL: malformed HTTP request, or authentication.
pub(super) fn transport_error(status: StatusCode, media: &'static str, code: &str, message: &str) -> Response {
    let mut message = message.to_string();
    crate::graphql::request_guard::bounded_message(&mut message);
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(media)));
    response
}

fn content_type(media: &'static str) -> &'static str {
    if media == GRAPHQL_RESPONSE {
        "application/graphql-response+json; charset=utf-8"
    } else {
        "application/json; charset=utf-8"
    }
}

fn bad_request(media: &'static str, message: &str) -> Response {
    transport_error(StatusCode::BAD_REQUEST, media, code::BAD_USER_INPUT, message)
}

fn object_param(value: Option<Value>, name: &str) -> Result<Map<String, Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(format!("`{name}` must be a JSON object")),
    }
}

impl Params {
    fn from_json(body: &[u8]) -> Result<Params, String> {
        if !crate::domain::nesting::within_bounds(&String::from_utf8_lossy(body), false) {
            return Err(format!("the body nests JSON more than {} deep", crate::domain::nesting::MAX_NESTING));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            query: Option<Value>,
            operation_name: Option<Value>,
            variables: Option<Value>,
            extensions: Option<Value>,
        }
        // Numbers in events that the parser would round are marked first, to
        // be refused at their path when the event is validated.
        let marked = std::str::from_utf8(body).map(crate::domain::exact_number::mark_inexact);
        let body = marked.as_deref().map(str::as_bytes).unwrap_or(body);
        let body: Body = serde_json::from_slice(body).map_err(|e| format!("the body is not a JSON object: {e}"))?;
        let query = match body.query {
            Some(Value::String(q)) => q,
            Some(_) => return Err("`query` must be a string".into()),
            None => return Err("the body has no `query`".into()),
        };
        let operation_name = match body.operation_name {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name),
            Some(_) => return Err("`operationName` must be a string".into()),
        };
        Ok(Params {
            query,
            operation_name,
            variables: object_param(body.variables, "variables")?,
            extensions: object_param(body.extensions, "extensions")?,
        })
    }

    fn from_query_string(raw: Option<&str>) -> Result<Params, String> {
        let mut params = Params::default();
        let mut has_query = false;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| format!("the query string does not decode: {e}"))?;
        for (key, value) in pairs {
            let json = |v: &str, name: &str| -> Result<Map<String, Value>, String> {
                object_param(Some(serde_json::from_str(v).map_err(|e| format!("`{name}` is not JSON: {e}"))?), name)
            };
            match key.as_str() {
                "query" => {
                    params.query = value;
                    has_query = true;
                }
                "operationName" if !value.is_empty() => params.operation_name = Some(value),
                "variables" if !value.is_empty() => params.variables = json(&value, "variables")?,
                "extensions" if !value.is_empty() => params.extensions = json(&value, "extensions")?,
                _ => {}
            }
        }
        if !has_query {
            return Err("the request has no `query` parameter".into());
        }
        Ok(params)
    }
}

/// A GraphQL response; `data` is absent for request errors.
#[derive(serde::Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// A document refused before execution: 400 where the media type allows
/// saying so (`application/graphql-response+json`), else 200, as GraphQL over
/// HTTP asks.
fn request_error_status(media: &str) -> StatusCode {
    if media == GRAPHQL_RESPONSE { StatusCode::BAD_REQUEST } else { StatusCode::OK }
}

/// The response media type, or HTTP 406 when the client accepts neither.
fn acceptable(headers: &HeaderMap) -> Result<&'static str, Response> {
    negotiate(headers).ok_or_else(|| {
        transport_error(
            StatusCode::NOT_ACCEPTABLE,
            JSON,
            code::BAD_USER_INPUT,
            "accept application/graphql-response+json or application/json",
        )
    })
}

/// Answers depend on the caller's key: no cache, shared or private, may keep one.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /graphql`.
pub async fn post(state: State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    no_store(answer_post(state, headers, body).await)
}

/// `GET /graphql`: the playground for browsers, else a query from the URL.
pub async fn get(state: State<AppState>, headers: HeaderMap, raw: RawQuery) -> Response {
    no_store(answer_get(state, headers, raw).await)
}

async fn answer_post(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let media = match acceptable(&headers) {
        Ok(media) => media,
        Err(refused) => return refused,
    };
    let content = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != JSON {
        return transport_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            code::BAD_USER_INPUT,
            "send the request as application/json",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the body is larger than {} bytes", app.settings.max_body_bytes)
            } else {
                rejection.body_text()
            };
            return transport_error(status, media, code::BAD_USER_INPUT, &message);
        }
    };
    match Params::from_json(&body) {
        Ok(params) => execute(app, &headers, params, media, false).await,
        Err(message) => bad_request(media, &message),
    }
}

async fn answer_get(State(app): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html && !raw.as_deref().unwrap_or("").split('&').any(|p| p.starts_with("query=")) {
        return super::console::graphiql(&app, &headers);
    }
    let media = match acceptable(&headers) {
        Ok(media) => media,
        Err(refused) => return refused,
    };
    match Params::from_query_string(raw.as_deref()) {
        Ok(params) => execute(app, &headers, params, media, true).await,
        Err(message) => bad_request(media, &message),
    }
}

fn operation_type(doc: &async_graphql::parser::types::ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
        _ => None,
    }
}

fn operation_label(ty: Option<OperationType>) -> &'static str {
    match ty {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

fn error_code(err: &ServerError) -> Option<String> {
    err.extensions.as_ref().and_then(|e| e.get("code")).and_then(|v| match v {
        async_graphql::Value::String(s) => Some(s.clone()),
        async_graphql::Value::Enum(s) => Some(s.to_string()),
        _ => None,
    })
}

/// Why a request's credentials were refused; `retry_after` (seconds) is set
/// when the key's rate limit was reached.
pub(crate) struct Refused {
    pub error: Error,
    pub retry_after: Option<u64>,
}

/// The caller of a request (`None` without credentials), with the key's rate
/// limit applied: what every door authenticates with.
pub(crate) async fn identify(app: &AppState, headers: &HeaderMap) -> Result<Option<Requester>, Refused> {
    let refused = |error: Error| Refused { error, retry_after: None };
    let secret = auth::secret_from_headers(headers).map_err(refused)?;
    let tenant = headers.get(TENANT_HEADER).and_then(|v| v.to_str().ok());
    let caller = app.services.auth.authenticate(secret, tenant).await.map_err(refused)?;
    if let (Some(limiter), Some(requester)) = (&app.rate_limiter, &caller)
        && let Err(wait) = limiter.check(requester.key_id, app.services.store.now())
    {
        let retry_after = wait.as_secs_f64().ceil().max(1.0) as u64;
        let message = format!("too many requests for this API key; retry in {retry_after} s");
        return Err(Refused { error: Error::RateLimited(message), retry_after: Some(retry_after) });
    }
    Ok(caller)
}

/// The caller of a request, or the response refusing it (401, 403, 404, 429,
/// or 503 when the key cannot be checked).
pub(super) async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    media: &'static str,
) -> Result<Option<Requester>, Response> {
    identify(app, headers).await.map_err(|refused| match refused.retry_after {
        Some(retry_after) => {
            let message = refused.error.to_string();
            let mut response = transport_error(StatusCode::TOO_MANY_REQUESTS, media, code::RATE_LIMITED, &message);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        None => refusal(&refused.error, media, request_id(headers)),
    })
}

/// The request id every response carries (set by the request-id layer).
pub(crate) fn request_id(headers: &HeaderMap) -> &str {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-")
}

/// The response to a request refused before execution.
pub(super) fn refusal(err: &Error, media: &'static str, request_id: &str) -> Response {
    match err {
        // The key could not be checked: the database is most likely out of reach.
        Error::Internal(_) | Error::Unavailable(_) => {
            if let Error::Internal(source) = err {
                tracing::error!(error = %source, "authentication failed");
            }
            let message = format!("internal error (request id {request_id}); retry shortly");
            transport_error(StatusCode::SERVICE_UNAVAILABLE, media, code::INTERNAL, &message)
        }
        _ => transport_error(status_of(err), media, err.code(), &err.to_string()),
    }
}

fn build_request(params: Params) -> async_graphql::Request {
    let mut request =
        async_graphql::Request::new(params.query).variables(Variables::from_json(Value::Object(params.variables)));
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    request.extensions = async_graphql::Extensions(
        params
            .extensions
            .into_iter()
            .map(|(k, v)| (k, async_graphql::Value::from_json(v).unwrap_or(async_graphql::Value::Null)))
            .collect(),
    );
    request
}

async fn execute(app: AppState, headers: &HeaderMap, params: Params, media: &'static str, via_get: bool) -> Response {
    let started = Instant::now();
    let mut request = build_request(params);
    // Parsed once here, reused by the executor.
    let operation_name = request.operation_name.clone();
    if !crate::domain::nesting::within_bounds(&request.query, true) {
        let err = crate::graphql::request_guard::too_deeply_nested();
        return transport_error(request_error_status(media), media, code::QUERY_TOO_COMPLEX, &err.message);
    }
    // A document sent before is copied from the cache; one that does not parse
    // is left to the executor, which reports the error.
    if let Ok(doc) = app.documents.parse(&request.query) {
        // Bounded before the key is checked or the document validated: a
        // document too large once expanded costs nothing more, whoever sends it.
        if let Err(err) = crate::graphql::request_guard::bounded_selections(&doc, app.settings.limits.selections) {
            app.services.metrics.request(operation_label(None), "rejected", started.elapsed());
            return transport_error(StatusCode::BAD_REQUEST, media, code::QUERY_TOO_COMPLEX, &err.message);
        }
        request.set_parsed_query(doc);
    }
    let op_type = request.parsed_query().ok().and_then(|doc| operation_type(doc, operation_name.as_deref()));
    let op_label = operation_label(op_type);
    let metrics = &app.services.metrics;
    if via_get && matches!(op_type, Some(OperationType::Mutation | OperationType::Subscription)) {
        let mut response = transport_error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            code::BAD_USER_INPUT,
            "only queries may be sent with GET; send mutations with POST (and subscriptions over WebSocket)",
        );
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let caller = match authenticate(&app, headers, media).await {
        Ok(caller) => caller,
        Err(refused) => {
            metrics.request(op_label, "denied", started.elapsed());
            return refused;
        }
    };
    let request = crate::graphql::context::attach(request, Session::new(&app.services, caller));
    let mut response = app.schema.execute(request).await;

    let codes: Vec<String> = response.errors.iter().filter_map(error_code).collect();
    if let Some(denied) = response.errors.iter().find(|e| error_code(e).as_deref() == Some(code::UNAUTHENTICATED)) {
        metrics.request(op_label, "denied", started.elapsed());
        return transport_error(StatusCode::UNAUTHORIZED, media, code::UNAUTHENTICATED, &denied.message);
    }
    let request_error = response.data == async_graphql::Value::Null
        && !codes.is_empty()
        && codes.iter().all(|c| REQUEST_ERROR_CODES.contains(&c.as_str()));
    let outcome = match (response.errors.is_empty(), request_error) {
        (true, _) => "ok",
        (false, true) => "rejected",
        (false, false) => "error",
    };
    metrics.request(op_label, outcome, started.elapsed());
    // Internal errors are logged with their detail; the caller gets the request
    // id to quote, nothing more.
    let request_id = request_id(headers);
    for err in response.errors.iter_mut().filter(|e| error_code(e).as_deref() == Some(code::INTERNAL)) {
        err.message = format!("internal error (request id {request_id})");
        err.extensions.get_or_insert_with(Default::default).set("requestId", request_id);
    }

    // Serialised straight from the response, so fields keep their selection order.
    let body = ResponseBody {
        data: (!request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let body = serde_json::to_string(&body)
        .unwrap_or_else(|_| r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#.into());
    let status = if request_error { request_error_status(media) } else { StatusCode::OK };
    let mut http = (status, body).into_response();
    http.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(media)));
    http
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, value.parse().unwrap());
        h
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(JSON));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json, application/json;q=0.9")),
            Some(GRAPHQL_RESPONSE)
        );
        assert_eq!(negotiate(&accept("application/json")), Some(JSON));
        assert_eq!(negotiate(&accept("*/*")), Some(JSON));
        assert_eq!(negotiate(&accept("text/plain")), None);
    }

    #[test]
    fn reads_get_parameters() {
        let p =
            Params::from_query_string(Some("query=%7B%20a%20%7D&operationName=&variables=%7B%22x%22%3A1%7D")).unwrap();
        assert_eq!(p.query, "{ a }");
        assert_eq!(p.operation_name, None);
        assert_eq!(p.variables.get("x"), Some(&json!(1)));
        assert!(Params::from_query_string(Some("variables=%5B%5D&query=x")).is_err());
        assert!(Params::from_query_string(None).is_err());
    }
}
