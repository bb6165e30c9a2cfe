//! GraphQL over HTTP, with real HTTP: media types, status codes, GET rules, the
//! playground, operational endpoints, request IDs, body limits, CORS and the
//! query limits.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs a raw body to `/graphql` with these headers; returns status, headers and body text.
async fn post_raw(
    app: &TestApp,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = app.client.post(app.url("/graphql")).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

/// POSTs `{query, variables}` as JSON with a key and an `Accept` header.
async fn post_accept(app: &TestApp, key: &str, accept: Option<&str>, query: &str) -> (StatusCode, HeaderMap, Value) {
    let mut request = app.client.post(app.url("/graphql")).bearer_auth(key).json(&json!({ "query": query }));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, headers, body)
}

/// GETs `/graphql` with these URL parameters (URL-encoded here).
async fn get_graphql(app: &TestApp, key: Option<&str>, params: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let qs = serde_urlencoded::to_string(params).expect("encode");
    let mut request = app.client.get(app.url(&format!("/graphql?{qs}")));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

fn content_type(headers: &HeaderMap) -> String {
    headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase()
}

fn media_type(headers: &HeaderMap) -> String {
    content_type(headers).split(';').next().unwrap_or("").trim().to_string()
}

fn charset_utf8(headers: &HeaderMap) -> bool {
    content_type(headers).split(';').skip(1).any(|p| p.trim().replace(' ', "") == "charset=utf-8")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn count_events(app: &TestApp, key: &str) -> i64 {
    let data = app.data(key, "{ auditEvents { totalCount } }", json!({})).await;
    data["auditEvents"]["totalCount"].as_i64().expect("totalCount")
}

async fn post_json_runs_queries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("workspace.create")])).await;
    let (status, headers, body) = post_raw(
        &app,
        &[("content-type", "application/json"), ("authorization", &format!("Bearer {key}"))],
        json!({
            "query": "query Q($a: String!) { auditEvents(filter: {action: {eq: $a}}) { totalCount nodes { action } } }",
            "operationName": "Q",
            "variables": { "a": "workspace.create" },
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(media_type(&headers), "application/json");
    let body = json(&body);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["auditEvents"], json!({ "totalCount": 1, "nodes": [{ "action": "workspace.create" }] }));
}

async fn response_media_type_follows_accept(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let query = "{ viewer { scopes } }";
    for (accept, expected) in [
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (Some("application/graphql-response+json, application/json;q=0.9"), GRAPHQL_RESPONSE),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (None, "application/json"),
    ] {
        let (status, headers, body) = post_accept(&app, &key, accept, query).await;
        assert_eq!(status, StatusCode::OK, "Accept {accept:?}: {body}");
        assert_eq!(media_type(&headers), expected, "Accept {accept:?}");
        assert!(charset_utf8(&headers), "Accept {accept:?}: {:?}", content_type(&headers));
        assert_eq!(body["data"]["viewer"]["scopes"], json!(["AUDIT_READ"]), "{body}");
    }
}

/// A request error (parse, validation, limits): the code, no `data`, 400 with
/// graphql-response+json and 200 with application/json.
async fn assert_request_error(app: &TestApp, key: &str, query: &str, code: &str) {
    let (status, headers, body) = post_accept(app, key, Some(GRAPHQL_RESPONSE), query).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(media_type(&headers), GRAPHQL_RESPONSE);
    assert_eq!(error_code(&body), Some(code), "{body}");
    assert!(body.get("data").is_none(), "no data key expected: {body}");

    let (status, headers, body) = post_accept(app, key, Some("application/json"), query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(media_type(&headers), "application/json");
    assert_eq!(error_code(&body), Some(code), "{body}");
    assert!(body.get("data").is_none(), "no data key expected: {body}");
}

async fn parse_failure_is_graphql_parse_failed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    assert_request_error(&app, &key, "{ auditEvents { totalCount ", "GRAPHQL_PARSE_FAILED").await;
    assert_request_error(&app, &key, "this is not graphql", "GRAPHQL_PARSE_FAILED").await;
}

async fn validation_failure_is_graphql_validation_failed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    assert_request_error(&app, &key, "{ auditEvents { noSuchField } }", "GRAPHQL_VALIDATION_FAILED").await;
    assert_request_error(&app, &key, "{ noSuchRoot }", "GRAPHQL_VALIDATION_FAILED").await;
    // A variable of the wrong type fails validation too.
    let (status, _, body) = post_raw(
        &app,
        &[
            ("content-type", "application/json"),
            ("accept", GRAPHQL_RESPONSE),
            ("authorization", &format!("Bearer {key}")),
        ],
        json!({ "query": "query($n: Int) { auditEvents(first: $n) { totalCount } }", "variables": { "n": "ten" } })
            .to_string(),
    )
    .await;
    let body = json(&body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert!(error_code(&body).is_some(), "{body}");
}

async fn get_runs_queries_with_variables(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("session.create"), event("session.exec"), event("session.exec")])).await;
    let query =
        "query Q($f: AuditEventFilter, $n: Int) { auditEvents(filter: $f, first: $n) { totalCount nodes { action } } }";
    let variables = json!({ "f": { "action": { "eq": "session.exec" } }, "n": 1 }).to_string();
    let (status, headers, body) =
        get_graphql(&app, Some(&key), &[("query", query), ("variables", &variables), ("operationName", "Q")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(media_type(&headers), "application/json");
    let body = json(&body);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["auditEvents"], json!({ "totalCount": 2, "nodes": [{ "action": "session.exec" }] }));
}

async fn get_refuses_mutations_with_405(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let before = count_events(&app, &key).await;
    let mutation = r#"mutation { recordAuditEvents(events: [{action: "sneaky.get", actor: {type: USER, externalId: "u-1"}}]) { createdCount } }"#;
    let (status, headers, body) = get_graphql(&app, Some(&key), &[("query", mutation)]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let allow = headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(allow.to_ascii_uppercase().contains("POST"), "Allow: {allow:?}");
    assert!(error_code(&json(&body)).is_some(), "{body}");
    // Also when the mutation is chosen by operationName among several operations.
    let doc = format!("query Q {{ viewer {{ scopes }} }} {}", mutation.replacen("mutation", "mutation M", 1));
    let (status, _, body) = get_graphql(&app, Some(&key), &[("query", &doc), ("operationName", "M")]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(count_events(&app, &key).await, before, "a GET mutation stored something");
    let data =
        app.data(&key, r#"{ auditEvents(filter: {action: {eq: "sneaky.get"}}) { totalCount } }"#, json!({})).await;
    assert_eq!(data["auditEvents"]["totalCount"], 0);
    // The query of that same document runs over GET.
    let (status, _, body) = get_graphql(&app, Some(&key), &[("query", &doc), ("operationName", "Q")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["data"]["viewer"]["scopes"], json!(["AUDIT_READ", "AUDIT_WRITE"]));
}

async fn browsers_get_the_graphiql_playground(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(media_type(response.headers()), "text/html");
    let html = response.text().await.expect("body");
    assert!(html.to_ascii_lowercase().contains("graphiql"), "not GraphiQL");
    // Subscriptions are wired to `/graphql/ws` through a graphql-ws client.
    assert!(html.contains("graphql-ws"), "no graphql-ws client");
    assert!(html.contains("createClient"), "no graphql-ws client created");
    assert!(
        html.contains("/graphql/ws") || (html.contains("\"/graphql\"") && html.contains("\"/ws\"")),
        "the page does not point subscriptions at /graphql/ws"
    );
    // Its script comes from this server (no CDN) and carries that client.
    let script =
        html.split("<script type=\"module\" src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script");
    assert!(script.starts_with("/console/assets/"), "{script}");
    let bundle = app.client.get(app.url(script)).send().await.unwrap().text().await.unwrap();
    assert!(bundle.contains("graphql-transport-ws") && bundle.contains("/ws"), "the bundle has no graphql-ws client");
    // And that endpoint speaks graphql-transport-ws.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (_ws, response) = tokio_tungstenite::connect_async(request).await.expect("WebSocket upgrade");
    assert_eq!(
        response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
}

async fn malformed_requests_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let auth = format!("Bearer {key}");
    let json_headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    for (what, body) in [
        ("invalid JSON", r#"{"query": "{ viewer { scopes } }""#.to_string()),
        ("not an object", r#"["{ viewer { scopes } }"]"#.to_string()),
        ("no query", json!({ "variables": {} }).to_string()),
        ("query not a string", json!({ "query": 42 }).to_string()),
        ("variables an array", json!({ "query": "{ viewer { scopes } }", "variables": [1] }).to_string()),
        ("variables a string", json!({ "query": "{ viewer { scopes } }", "variables": "{}" }).to_string()),
    ] {
        let (status, headers, text) = post_raw(&app, &json_headers, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
        assert_eq!(media_type(&headers), "application/json", "{what}");
        let body = json(&text);
        assert!(error_code(&body).is_some(), "{what}: no code in {text}");
        assert!(body.get("data").is_none(), "{what}: {text}");
    }
    // Wrong media type: 415.
    let (status, _, text) = post_raw(
        &app,
        &[("content-type", "text/plain"), ("authorization", auth.as_str())],
        json!({ "query": "{ viewer { scopes } }" }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    assert!(error_code(&json(&text)).is_some(), "{text}");
    // application/json with a charset parameter is fine.
    let (status, _, text) = post_raw(
        &app,
        &[("content-type", "application/json; charset=utf-8"), ("authorization", auth.as_str())],
        json!({ "query": "{ viewer { scopes } }" }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // GET without a query (not a browser): 400.
    let (status, _, text) = get_graphql(&app, Some(&key), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    // GET with variables that are not a JSON object: 400.
    let (status, _, text) =
        get_graphql(&app, Some(&key), &[("query", "{ viewer { scopes } }"), ("variables", "[1]")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
}

async fn health_readiness_and_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    // On the API's listener the metrics (every tenant's streams) are for
    // admin keys only.
    let anonymous = app.client.get(app.url("/metrics")).send().await.expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let reader = app.client.get(app.url("/metrics")).bearer_auth(&key).send().await.expect("request");
    assert_eq!(reader.status(), StatusCode::FORBIDDEN);
    let admin = app.key("admin").await;
    let response = app.client.get(app.url("/metrics")).bearer_auth(&admin).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(media_type(response.headers()), "text/plain");
    let text = response.text().await.expect("body");
    assert!(text.contains("# TYPE auditgraph_db_statements_total counter"), "{text}");
    assert!(text.contains("# TYPE auditgraph_graphql_requests_total counter"), "{text}");
    let sample = |prefix: &str| -> f64 {
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    assert!(sample("auditgraph_db_statements_total") >= 1.0, "{text}");
    let ok_queries = text
        .lines()
        .filter(|l| {
            l.starts_with("auditgraph_graphql_requests_total{")
                && l.contains("operation=\"query\"")
                && l.contains("outcome=\"ok\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert!(ok_queries >= 1.0, "the query was not counted: {text}");
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or("");
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "not a Prometheus sample: {line}"
        );
    }
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let request_id = |headers: &HeaderMap| -> String {
        headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    };
    let mut seen = std::collections::HashSet::new();
    let requests = [
        app.client.get(app.url("/healthz")),
        app.client.get(app.url("/metrics")),
        app.client.get(app.url("/no-such-path")),
        app.client.post(app.url("/graphql")).json(&json!({ "query": "{ viewer { scopes } }" })),
        app.client.post(app.url("/graphql")).bearer_auth(&key).json(&json!({ "query": "{ viewer { scopes } }" })),
        app.client.post(app.url("/graphql")).bearer_auth(&key).body("{"),
    ];
    for request in requests {
        let response = request.send().await.expect("request");
        let id = request_id(response.headers());
        assert!(!id.is_empty(), "no X-Request-Id on {} ({})", response.url(), response.status());
        assert!(seen.insert(id.clone()), "request ID {id} reused");
    }
    // The caller's own ID is echoed.
    for request in [
        app.client.get(app.url("/healthz")),
        app.client.post(app.url("/graphql")).bearer_auth(&key).json(&json!({ "query": "{ viewer { scopes } }" })),
        app.client.post(app.url("/graphql")).json(&json!({ "query": "{ viewer { scopes } }" })),
    ] {
        let response = request.header("x-request-id", "caller-req-42").send().await.expect("request");
        assert_eq!(request_id(response.headers()), "caller-req-42", "{}", response.url());
    }
}

async fn bodies_over_the_limit_get_413(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.max_body_bytes = 1024).await;
    let key = app.key("audit.read,audit.write").await;
    let small = json!({ "query": "{ viewer { scopes } }" }).to_string();
    let (status, _, text) =
        post_raw(&app, &[("content-type", "application/json"), ("authorization", &format!("Bearer {key}"))], small)
            .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let padding = "#".repeat(2048);
    let big = json!({ "query": format!("{{ viewer {{ scopes }} }}\n{padding}\n") }).to_string();
    assert!(big.len() > 1024);
    let (status, headers, text) =
        post_raw(&app, &[("content-type", "application/json"), ("authorization", &format!("Bearer {key}"))], big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    // The unread rest of the body makes the connection unusable: the client is told.
    assert_eq!(headers.get("connection").map(|v| v.as_bytes()), Some(&b"close"[..]), "{headers:?}");
    // A large mutation is refused the same way and stores nothing.
    let before = count_events(&app, &key).await;
    let events: Vec<Value> = (0..40).map(|i| event(&format!("big.body{i}"))).collect();
    let (status, _, text) = post_raw(
        &app,
        &[("content-type", "application/json"), ("authorization", &format!("Bearer {key}"))],
        json!({
            "query": "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            "variables": { "e": events },
        })
        .to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert_eq!(count_events(&app, &key).await, before);
}

/// Every header a browser client may ask to send: ours, W3C trace context and Apollo Client's.
const CORS_HEADERS: [&str; 11] = [
    "authorization",
    "x-api-key",
    "x-audit-tenant",
    "content-type",
    "x-request-id",
    "traceparent",
    "tracestate",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
];

fn preflight_headers() -> [(&'static str, String); 2] {
    [("access-control-request-method", "POST".into()), ("access-control-request-headers", CORS_HEADERS.join(","))]
}

async fn preflight(app: &TestApp, origin: &str) -> HeaderMap {
    let response = send_preflight(app, origin).await;
    assert!(response.status().is_success(), "preflight: {}", response.status());
    response.headers().clone()
}

async fn send_preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    let mut request = app.client.request(reqwest::Method::OPTIONS, app.url("/graphql")).header("origin", origin);
    for (name, value) in preflight_headers() {
        request = request.header(name, value);
    }
    request.send().await.expect("preflight")
}

fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn cors_allows_only_configured_origins(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.cors_origins = vec!["https://app.example".into()]).await;
    let key = app.key("audit.read").await;
    let allowed = preflight(&app, "https://app.example").await;
    assert_eq!(allowed.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("https://app.example"));
    let headers = header_list(&allowed, "access-control-allow-headers");
    for needed in CORS_HEADERS {
        assert!(headers.iter().any(|h| h == needed), "{needed} not allowed: {headers:?}");
    }
    // Browsers keep the answer for an hour instead of asking before every request.
    assert_eq!(allowed.get("access-control-max-age").and_then(|v| v.to_str().ok()), Some("3600"), "{allowed:?}");
    let methods = header_list(&allowed, "access-control-allow-methods");
    assert!(methods.iter().any(|m| m == "post" || m == "*"), "{methods:?}");

    let other = preflight(&app, "https://evil.example").await;
    assert!(other.get("access-control-allow-origin").is_none(), "{other:?}");

    // The actual request: the allowed origin is echoed, another is not.
    for (origin, allowed) in [("https://app.example", true), ("https://evil.example", false)] {
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("origin", origin)
            .bearer_auth(&key)
            .json(&json!({ "query": "{ viewer { scopes } }" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let acao = response.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok());
        assert_eq!(acao, allowed.then_some(origin), "{origin}");
    }
}

async fn no_cors_headers_without_configured_origins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("origin", "https://app.example")
        .bearer_auth(&key)
        .json(&json!({ "query": "{ viewer { scopes } }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let simple = response.headers().clone();
    // Without CORS the preflight is an ordinary OPTIONS request, which /graphql does not serve.
    let preflight = send_preflight(&app, "https://app.example").await.headers().clone();
    // No origin is allowed…
    for headers in [&simple, &preflight] {
        assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");
        assert!(headers.get("access-control-allow-credentials").is_none(), "{headers:?}");
    }
    // …and CORS is off altogether: no CORS header at all.
    let cors = |headers: &HeaderMap| -> Vec<String> {
        headers.keys().map(|k| k.as_str().to_string()).filter(|k| k.starts_with("access-control-")).collect()
    };
    assert!(cors(&simple).is_empty(), "CORS headers without configured origins: {:?}", cors(&simple));
    assert!(
        cors(&preflight).is_empty(),
        "CORS headers on a preflight without configured origins: {:?}",
        cors(&preflight)
    );
}

/// `actor { events(first: 1) { nodes { … } } }` nested `levels` times under a
/// page of one, around `leaf`: depth 2 + 3 × levels + the leaf's depth.
fn nested_query(levels: usize, leaf: &str) -> String {
    let mut inner = leaf.to_string();
    for _ in 0..levels {
        inner = format!("actor {{ events(first: 1) {{ nodes {{ {inner} }} }} }}");
    }
    format!("{{ auditEvents(first: 1) {{ nodes {{ {inner} }} }} }}")
}

async fn query_depth_is_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("depth.test")])).await;
    // Depth 16 (2 + 12 + `actor { id }`): allowed, and answered.
    let (status, _, body) = post_accept(&app, &key, Some(GRAPHQL_RESPONSE), &nested_query(4, "actor { id }")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let mut node = &body["data"]["auditEvents"]["nodes"][0];
    for _ in 0..4 {
        node = &node["actor"]["events"]["nodes"][0];
    }
    assert!(node["actor"]["id"].as_str().is_some_and(|id| id.starts_with("act_")), "{body}");
    // Depth 17: refused.
    assert_request_error(
        &app,
        &key,
        &nested_query(4, "actor { roles events(first: 1) { totalCount } }"),
        "QUERY_TOO_COMPLEX",
    )
    .await;
    // Much deeper: refused as well.
    assert_request_error(&app, &key, &nested_query(8, "id"), "QUERY_TOO_COMPLEX").await;
}

async fn query_aliases_are_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let (status, _, body) = post_accept(&app, &key, Some(GRAPHQL_RESPONSE), &aliases(100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["a99"], "Query");
    assert_request_error(&app, &key, &aliases(101), "QUERY_TOO_COMPLEX").await;
    // Aliases inside fragments count too.
    let fields: Vec<String> = (0..101).map(|i| format!("f{i}: __typename")).collect();
    let doc = format!("{{ ...F }} fragment F on Query {{ {} }}", fields.join(" "));
    assert_request_error(&app, &key, &doc, "QUERY_TOO_COMPLEX").await;
}

const EVERY_EVENT_FIELD: &str = "id action category outcome occurredAt receivedAt summary reason errorMessage \
    environment sourceService correlationId metadata idempotencyKey \
    actor { id type externalId displayName email roles } \
    resource { id type externalId name } \
    relatedResources { id type externalId name } \
    request { id method path status latencyMs ipAddress userAgent } \
    changes { field before after }";

async fn a_full_page_with_every_field_is_allowed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let full = json!({
        "action": "workspace.snapshot.create",
        "outcome": "FAILURE",
        "actor": { "type": "USER", "externalId": "42", "displayName": "Ada", "email": "ada@example.com", "roles": ["admin"] },
        "resource": { "type": "snapshot", "externalId": "snap-1", "name": "nightly" },
        "relatedResources": [{ "type": "vm", "externalId": "vm-1" }],
        "summary": "s", "reason": "r", "errorMessage": "e", "environment": "production",
        "sourceService": "workspaces", "correlationId": "c",
        "request": { "id": "req-1", "method": "POST", "path": "/p", "status": 507, "latencyMs": 1.5, "ipAddress": "10.0.0.1", "userAgent": "ua" },
        "metadata": { "k": 1 },
        "changes": [{ "field": "state", "before": "a", "after": "b" }]
    });
    let events: Vec<Value> = (0..20).map(|_| full.clone()).collect();
    app.record(&key, json!(events)).await;
    let query = format!(
        "{{ auditEvents(first: 500) {{ totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} \
         nodes {{ {EVERY_EVENT_FIELD} }} }} }}"
    );
    let (status, _, body) = post_accept(&app, &key, Some(GRAPHQL_RESPONSE), &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "a full page was refused: {}", body["errors"]);
    let nodes = body["data"]["auditEvents"]["nodes"].as_array().expect("nodes");
    // acme's tenant.create and the key's api_key.create, plus the 20 recorded.
    assert_eq!(nodes.len(), 22);
    let snapshot = nodes.iter().find(|n| n["action"] == "workspace.snapshot.create").unwrap();
    assert_eq!(snapshot["request"]["status"], 507);
    assert_eq!(snapshot["relatedResources"][0]["externalId"], "vm-1");
    // The same page through edges is allowed too.
    let query = format!("{{ auditEvents(first: 500) {{ edges {{ cursor node {{ {EVERY_EVENT_FIELD} }} }} }} }}");
    let (status, _, body) = post_accept(&app, &key, Some(GRAPHQL_RESPONSE), &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{}", body["errors"]);
}

async fn nested_full_pages_are_too_complex(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("nested.page")])).await;
    let query = "{ auditEvents(first: 500) { nodes { id action actor { id events(first: 500) { nodes { id action occurredAt } } } } } }";
    assert_request_error(&app, &key, query, "QUERY_TOO_COMPLEX").await;
    // Through Resource.events as well.
    let query = "{ auditEvents(first: 500) { nodes { id resource { events(first: 500) { totalCount nodes { id action } } } } } }";
    assert_request_error(&app, &key, query, "QUERY_TOO_COMPLEX").await;
    // The default page size (50) still counts: 500 × 50 × 3 > 50,000.
    let query = "{ auditEvents(first: 500) { nodes { actor { events { nodes { id action occurredAt } } } } } }";
    assert_request_error(&app, &key, query, "QUERY_TOO_COMPLEX").await;
    // A small nested page is fine.
    let query = "{ auditEvents(first: 10) { nodes { id actor { events(first: 10) { nodes { id action } } } } } }";
    let (status, _, body) = post_accept(&app, &key, Some(GRAPHQL_RESPONSE), query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
}

backend_tests!(
    post_json_runs_queries,
    response_media_type_follows_accept,
    parse_failure_is_graphql_parse_failed,
    validation_failure_is_graphql_validation_failed,
    get_runs_queries_with_variables,
    get_refuses_mutations_with_405,
    browsers_get_the_graphiql_playground,
    malformed_requests_are_refused,
    health_readiness_and_metrics,
    every_response_carries_a_request_id,
    bodies_over_the_limit_get_413,
    cors_allows_only_configured_origins,
    no_cors_headers_without_configured_origins,
    query_depth_is_bounded,
    query_aliases_are_bounded,
    a_full_page_with_every_field_is_allowed,
    nested_full_pages_are_too_complex,
);
