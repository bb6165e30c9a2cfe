//! The REST door over real HTTP: every query parameter selects what the
//! equivalent GraphQL filter selects, pages follow `next_cursor` to the end,
//! recordings honour `Idempotency-Key`, refusals are RFC 9457 problems naming
//! the parameter, and the OpenAPI document matches the served routes.

use std::collections::{BTreeSet, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, event};

backend_tests!(
    every_parameter_selects_what_graphql_selects,
    pages_follow_next_cursor_to_the_end,
    records_reads_and_proves_events,
    refusals_are_problems_naming_the_input,
    viewer_tokens_read_only_their_filter,
    openapi_documents_exactly_the_served_routes,
    limits_answer_413_and_429_as_problems,
);

fn ids(events: &Value) -> BTreeSet<String> {
    events.as_array().expect("a list").iter().map(|e| e["id"].as_str().expect("an id").to_string()).collect()
}

/// Asserts a problem response: the media type, the code and the first path.
fn assert_problem(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    want: StatusCode,
    code: &str,
    path: Option<&str>,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json", "{body}");
    assert_eq!(body["status"], want.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], "about:blank");
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
    assert!(body["errors"].is_array(), "{body}");
    if let Some(path) = path {
        assert_eq!(body["errors"][0]["path"], path, "{body}");
    }
}

fn varied() -> Value {
    let mut events = Vec::new();
    let actions = ["sandbox.create", "sandbox.delete", "user.login", "billing.charge"];
    for i in 0..12 {
        events.push(json!({
            "action": actions[i % 4],
            "outcome": if i % 3 == 0 { "FAILURE" } else { "SUCCESS" },
            "occurredAt": format!("2024-05-{:02}T12:00:00Z", i + 1),
            "actor": { "type": if i % 2 == 0 { "USER" } else { "SERVICE_ACCOUNT" }, "externalId": format!("actor-{}", i % 3), "email": format!("a{}@example.com", i % 3) },
            "resource": { "type": if i % 2 == 0 { "workspace" } else { "sandbox" }, "externalId": format!("res-{}", i % 4) },
            "relatedResources": [{ "type": "project", "externalId": format!("proj-{}", i % 2) }],
            "environment": if i < 6 { "production" } else { "staging" },
            "sourceService": format!("svc-{}", i % 2),
            "correlationId": format!("corr-{}", i % 5),
            "request": { "id": format!("req-{i}"), "status": 200 + (i as i32) * 20, "ipAddress": format!("10.0.0.{}", i % 3) },
        }));
    }
    Value::Array(events)
}

async fn every_parameter_selects_what_graphql_selects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, varied()).await;
    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (
            vec![("action", "sandbox.create"), ("action", "user.login")],
            json!({ "action": { "in": ["sandbox.create", "user.login"] } }),
        ),
        (
            vec![("action_prefix", "sandbox."), ("action_prefix", "billing.")],
            json!({ "or": [{ "action": { "prefix": "sandbox." } }, { "action": { "prefix": "billing." } }] }),
        ),
        (vec![("category", "user")], json!({ "category": { "in": ["user"] } })),
        (vec![("outcome", "failure")], json!({ "outcome": "FAILURE" })),
        (vec![("actor_type", "service_account")], json!({ "actor": { "type": ["SERVICE_ACCOUNT"] } })),
        (
            vec![("actor_id", "actor-1"), ("actor_id", "actor-2")],
            json!({ "actor": { "externalId": ["actor-1", "actor-2"] } }),
        ),
        (vec![("actor_email", "a0@example.com")], json!({ "actor": { "email": ["a0@example.com"] } })),
        (
            vec![("resource_type", "workspace"), ("resource_id", "res-2")],
            json!({ "resource": { "type": ["workspace"], "externalId": ["res-2"] } }),
        ),
        (
            vec![("related_type", "project"), ("related_id", "proj-1")],
            json!({ "relatedTo": { "type": ["project"], "externalId": ["proj-1"] } }),
        ),
        (vec![("environment", "staging")], json!({ "environment": { "in": ["staging"] } })),
        (vec![("source_service", "svc-1")], json!({ "sourceService": { "in": ["svc-1"] } })),
        (
            vec![("correlation_id", "corr-1"), ("correlation_id", "corr-2")],
            json!({ "or": [{ "correlationId": "corr-1" }, { "correlationId": "corr-2" }] }),
        ),
        (vec![("request_id", "req-3")], json!({ "requestId": "req-3" })),
        (vec![("ip_address", "10.0.0.2")], json!({ "ipAddress": "10.0.0.2" })),
        (vec![("status_min", "300"), ("status_max", "400")], json!({ "httpStatus": { "gte": 300, "lte": 400 } })),
        (
            vec![("from", "2024-05-03T12:00:00Z"), ("to", "2024-05-07T12:00:00+00:00")],
            json!({ "occurredAt": { "gte": "2024-05-03T12:00:00Z", "lt": "2024-05-07T12:00:00Z" } }),
        ),
        (vec![("after_sequence", "8")], json!({ "sequence": { "gt": "8" } })),
        (
            vec![("outcome", "success"), ("environment", "production"), ("action_prefix", "sandbox.")],
            json!({ "outcome": "SUCCESS", "environment": { "eq": "production" }, "action": { "prefix": "sandbox." } }),
        ),
    ];
    for (query, filter) in cases {
        let mut params = query.clone();
        params.push(("limit", "500"));
        let (status, headers, body) = app.rest_get(&key, "/v1/events", &params).await;
        assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(body["next_cursor"], Value::Null);
        let data = app
            .data(
                &key,
                "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 500) { nodes { id } } }",
                json!({ "f": filter }),
            )
            .await;
        let want = ids(&data["auditEvents"]["nodes"]);
        assert!(!want.is_empty(), "{filter} selects nothing: a vacuous case");
        assert_eq!(ids(&body["data"]), want, "{query:?} against {filter}");
    }
    // Newest first by default: the canonical events carry every field.
    let (_, _, body) = app.rest_get(&key, "/v1/events", &[("action", "user.login")]).await;
    let times: Vec<&str> = body["data"].as_array().unwrap().iter().map(|e| e["occurredAt"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(body["data"][0]["request"]["ipAddress"], "10.0.0.1");
    let (_, _, oldest) = app.rest_get(&key, "/v1/events", &[("action", "user.login"), ("order", "oldest")]).await;
    let mut reversed: Vec<Value> = oldest["data"].as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(Value::Array(reversed), body["data"]);
}

async fn pages_follow_next_cursor_to_the_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, Value::Array((0..11).map(|i| event(&format!("page.e{i}"))).collect())).await;
    for order in ["sequence", "newest", "oldest"] {
        let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let mut query = vec![("order", order), ("limit", "4"), ("action_prefix", "page.")];
            if let Some(c) = cursor.as_deref() {
                query.push(("cursor", c));
            }
            let (status, _, body) = app.rest_get(&key, "/v1/events", &query).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            pages += 1;
            seen.extend(body["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{order}");
        assert_eq!(seen.len(), 11, "{order}");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 11, "{order}: no repeats");
    }
    // Sequence order is the log's order; after_sequence tails it.
    let (_, _, all) = app.rest_get(&key, "/v1/events", &[("order", "sequence"), ("limit", "500")]).await;
    let sequences: Vec<u64> =
        all["data"].as_array().unwrap().iter().map(|e| e["sequence"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>());
    let (_, _, tail) = app.rest_get(&key, "/v1/events", &[("order", "sequence"), ("after_sequence", "5")]).await;
    assert_eq!(tail["data"][0]["sequence"], "6");
    // A cursor of one order is refused by another.
    let (_, _, first) = app.rest_get(&key, "/v1/events", &[("order", "sequence"), ("limit", "1")]).await;
    let c = first["next_cursor"].as_str().unwrap();
    let (status, headers, body) = app.rest_get(&key, "/v1/events", &[("order", "newest"), ("cursor", c)]).await;
    assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST, "BAD_CURSOR", Some("cursor"));
}

async fn records_reads_and_proves_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let (status, body) = app.rest_record(&key, &json!([event("rest.one"), event("rest.two")]), None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["created"].as_u64(), body["duplicates"].as_u64()), (Some(2), Some(0)));
    assert_eq!(body["data"][1]["action"], "rest.two");

    // The header is the single event's idempotency key.
    let (status, first) = app.rest_record(&key, &json!([event("rest.once")]), Some("k-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!((first["created"].as_u64(), first["data"][0]["idempotencyKey"].as_str()), (Some(1), Some("k-1")));
    let (status, again) = app.rest_record(&key, &json!([event("rest.once")]), Some("k-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((again["created"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(1)));
    assert_eq!(again["data"][0]["id"], first["data"][0]["id"]);

    // Read back: the event GraphQL hashes.
    let id = first["data"][0]["id"].as_str().unwrap();
    let (status, headers, one) = app.rest_get(&key, &format!("/v1/events/{id}"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(one, first["data"][0]);
    let gql = app
        .data(&key, "query($id: ID!) { auditEvent(id: $id) { canonicalJson leafHash sequence } }", json!({ "id": id }))
        .await;
    let canonical: Value = serde_json::from_str(gql["auditEvent"]["canonicalJson"].as_str().unwrap()).unwrap();
    // The opened event: the leaf (nothing personal is sealed in this one) and its leaf hash.
    let mut opened = one.clone();
    assert_eq!(opened.as_object_mut().unwrap().remove("leafHash").unwrap(), gql["auditEvent"]["leafHash"]);
    assert_eq!(canonical, opened);

    // The checkpoint and a proof against it.
    let (status, _, checkpoint) = app.rest_get(&key, "/v1/ledger/checkpoint", &[]).await;
    assert_eq!(status, StatusCode::OK, "{checkpoint}");
    let size = checkpoint["size"].as_u64().unwrap();
    assert!(size >= 3);
    assert!(checkpoint["signed_note"].as_str().unwrap().contains(checkpoint["root_hash"].as_str().unwrap()));
    for key_name in ["origin", "issued_at"] {
        assert!(checkpoint[key_name].is_string(), "{checkpoint}");
    }
    let (status, _, proof) =
        app.rest_get(&key, &format!("/v1/events/{id}/proof"), &[("tree_size", &size.to_string())]).await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    assert_eq!(proof["tree_size"], size);
    assert_eq!(
        proof["leaf_index"].as_u64().unwrap() + 1,
        gql["auditEvent"]["sequence"].as_str().unwrap().parse::<u64>().unwrap()
    );
    assert_eq!(proof["leaf_hash"], gql["auditEvent"]["leafHash"]);
    let want = app
        .data(
            &key,
            "query($id: ID!, $n: BigInt) { auditEvent(id: $id) { inclusionProof(treeSize: $n) { hashes } } }",
            json!({ "id": id, "n": size.to_string() }),
        )
        .await;
    assert_eq!(proof["hashes"], want["auditEvent"]["inclusionProof"]["hashes"]);
    let (status, headers, body) = app.rest_get(&key, &format!("/v1/events/{id}/proof"), &[("tree_size", "1")]).await;
    assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST, "BAD_USER_INPUT", Some("tree_size"));

    // Missing, malformed and other tenants' events.
    let other_tenant = app.create_tenant("globex").await;
    let other = app.key_in(other_tenant, "audit.read").await;
    let (status, headers, body) = app.rest_get(&other, &format!("/v1/events/{id}"), &[]).await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    let (status, headers, body) = app.rest_get(&other, &format!("/v1/events/{id}/proof"), &[]).await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    let (status, headers, body) = app.rest_get(&key, "/v1/events/not-an-id", &[]).await;
    assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST, "BAD_USER_INPUT", Some("id"));
}

async fn refusals_are_problems_naming_the_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    for (query, path) in [
        (vec![("limit", "501")], "limit"),
        (vec![("limit", "ten")], "limit"),
        (vec![("order", "random")], "order"),
        (vec![("outcome", "meh")], "outcome"),
        (vec![("from", "last week")], "from"),
        (vec![("status_min", "2xx")], "status_min"),
        (vec![("actor_type", "robot")], "actor_type.0"),
        (vec![("ip_address", "10.0.0.300")], "ip_address.0"),
        (vec![("after_sequence", "-3")], "after_sequence"),
        (vec![("unknown", "1")], "unknown"),
        (vec![("cursor", "bm9wZQ")], "cursor"),
    ] {
        let (status, headers, body) = app.rest_get(&key, "/v1/events", &query).await;
        let code = if path == "cursor" { "BAD_CURSOR" } else { "BAD_USER_INPUT" };
        assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST, code, Some(path));
    }
    // Body paths are GraphQL's: `events.<index>.<field>`.
    let (status, body) = app
        .rest_record(
            &key,
            &json!([event("ok.one"), { "action": "", "actor": { "type": "USER", "externalId": "u" } }]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        (body["code"].as_str(), body["errors"][0]["path"].as_str()),
        (Some("BAD_USER_INPUT"), Some("events.1.action"))
    );
    let (status, body) = app
        .rest_record(
            &key,
            &json!([{ "action": "x.y", "actor": { "type": "USER", "externalId": "u" }, "colour": 1 }]),
            None,
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("events.0.colour")),
        "{body}"
    );
    let (status, body) = app.rest_record(&key, &json!([]), None).await;
    assert_eq!((status, body["errors"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("events")));
    let (status, body) = app.rest_record(&key, &json!({ "action": "x" }), None).await;
    assert_eq!((status, body["errors"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("events")));
    let (status, body) = app.rest_record(&key, &json!([event("a.b"), event("a.c")]), Some("k")).await;
    assert_eq!(
        (status, body["errors"][0]["path"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Idempotency-Key")),
        "{body}"
    );
    // Nothing of a refused batch is stored.
    let (_, _, listed) = app.rest_get(&key, "/v1/events", &[("action", "ok.one")]).await;
    assert_eq!(listed["data"], json!([]));
    // Not JSON: 415.
    let response = app.client.post(app.url("/v1/events")).bearer_auth(&key).body("[]").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Credentials: none, unknown, X-API-Key, and scopes.
    let response = app.client.get(app.url("/v1/events")).send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body: Value = response.json().await.unwrap();
    assert_problem(status, &headers, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", None);
    let (status, headers, body) = app.rest_get("ak_nonsense", "/v1/ledger/checkpoint", &[]).await;
    assert_problem(status, &headers, &body, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", None);
    let response = app.client.get(app.url("/v1/events")).header("X-API-Key", &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reader = app.key("audit.read").await;
    let (status, body) = app.rest_record(&reader, &json!([event("a.b")]), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("FORBIDDEN")), "{body}");
    let writer = app.key("audit.write").await;
    let (status, headers, body) = app.rest_get(&writer, "/v1/events", &[]).await;
    assert_problem(status, &headers, &body, StatusCode::FORBIDDEN, "FORBIDDEN", None);
}

async fn viewer_tokens_read_only_their_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    app.record(&key, json!([event("seen.one"), event("seen.two"), event("hidden.one")])).await;
    let token = app.viewer_token(&key, json!({ "action": { "prefix": "seen." } }), 600).await;
    let (status, _, body) = app.rest_get(&token, "/v1/events", &[("limit", "500")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actions: BTreeSet<&str> =
        body["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, BTreeSet::from(["seen.one", "seen.two"]));
    // Its filter is AND-ed with the parameters, never widened by them.
    let (_, _, body) = app.rest_get(&token, "/v1/events", &[("action", "hidden.one")]).await;
    assert_eq!(body["data"], json!([]));
    let (_, _, all) = app.rest_get(&key, "/v1/events", &[("action", "hidden.one")]).await;
    let hidden = all["data"][0]["id"].as_str().unwrap();
    let (status, headers, body) = app.rest_get(&token, &format!("/v1/events/{hidden}"), &[]).await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    let (status, body) = app.rest_record(&token, &json!([event("seen.three")]), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("FORBIDDEN")), "{body}");
}

async fn openapi_documents_exactly_the_served_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let response = app.client.get(app.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    let served: BTreeSet<(String, String)> =
        auditgraph::rest::routes().into_iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, served);
    // Generated clients name their methods after operation IDs: each is set and unique.
    let operation_ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values().map(|op| op["operationId"].as_str().expect("an operationId")))
        .collect();
    assert_eq!(operation_ids.iter().collect::<HashSet<_>>().len(), served.len(), "{operation_ids:?}");
    let params: BTreeSet<&str> = doc["paths"]["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "action",
        "action_prefix",
        "outcome",
        "actor_id",
        "related_type",
        "status_min",
        "from",
        "to",
        "after_sequence",
        "order",
        "limit",
        "cursor",
    ] {
        assert!(params.contains(name), "{name} undocumented: {params:?}");
    }
    // Every table route is really served: none answers 404 or 405 from the router.
    let recorded = app.record(&key, json!([event("route.check")])).await;
    let id = recorded["events"][0]["id"].as_str().unwrap();
    for (method, path) in served {
        // The one recorded event makes the partial tile of width 1.
        let url = app.url(&path.replace("{id}", id).replace("{tile}", "0/000.p/1"));
        let request = match method.as_str() {
            "GET" => app.client.get(url),
            "POST" => app.client.post(url).json(&json!([event("route.post")])),
            other => panic!("unexpected method {other}"),
        };
        let status = request.bearer_auth(&key).send().await.unwrap().status();
        assert!(status.is_success(), "{method} {path}: {status}");
    }
}

async fn limits_answer_413_and_429_as_problems(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.max_body_bytes = 1024;
        s.rate_limit = Some((0.01, 3));
    })
    .await;
    let key = app.key("audit.read,audit.write").await;
    let big = Value::Array((0..40).map(|i| event(&format!("big.e{i}"))).collect());
    let (status, body) = app.rest_record(&key, &big, None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!((body["code"].as_str(), body["status"].as_u64()), (Some("BAD_USER_INPUT"), Some(413)), "{body}");
    // The burst is spent (the refused post counted): the next reads are limited.
    let mut limited = None;
    for _ in 0..4 {
        let response = app.client.get(app.url("/v1/events")).bearer_auth(&key).send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("a 429 within the burst");
    let (status, headers) = (response.status(), response.headers().clone());
    assert!(headers.contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_problem(status, &headers, &body, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", None);
}
