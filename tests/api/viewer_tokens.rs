//! Viewer tokens: every read path sees only the token's filter AND-ed with the
//! holder's; writes, key management and minting are refused; tokens expire,
//! stay in their tenant and end with the key that minted them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};
use crate::subscriptions::{Client, Protocol, Received, base, wait_for_subscribers};

backend_tests!(
    every_read_path_honours_the_filter,
    lookups_outside_the_filter_are_null,
    subscriptions_deliver_only_the_filter,
    writes_keys_and_minting_are_refused,
    minting_needs_a_reading_key_and_valid_input,
    tokens_expire,
    tokens_end_with_their_key_and_stay_in_their_tenant,
);

/// Ada's workspace events and Bob's session events, one of them a failure.
async fn seed(app: &TestApp, writer: &str) -> Value {
    let mut events = Vec::new();
    for (i, (action, actor, resource)) in [
        ("workspace.create", "ada", "ws-1"),
        ("workspace.delete", "ada", "ws-2"),
        ("session.create", "bob", "s-1"),
        ("workspace.name.update", "bob", "ws-1"),
        ("session.terminate", "ada", "s-1"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = event(action);
        e["actor"] = json!({ "type": "USER", "externalId": actor });
        e["resource"] = json!({ "type": action.split('.').next().unwrap(), "externalId": resource });
        e["occurredAt"] = json!(format!("2026-01-0{}T00:00:00Z", i + 1));
        if i == 3 {
            e["outcome"] = json!("FAILURE");
        }
        events.push(e);
    }
    app.record(writer, json!(events)).await
}

fn actions(connection: &Value) -> Vec<&str> {
    connection["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect()
}

const WORKSPACE_ONLY: &str = r#"{"action": {"prefix": "workspace."}}"#;

async fn every_read_path_honours_the_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.key("audit.read,audit.write").await;
    seed(&app, &writer).await;
    let token = app.viewer_token(&writer, serde_json::from_str(WORKSPACE_ONLY).unwrap(), 600).await;
    assert!(token.starts_with("agv_"), "{token}");

    // Pages and counts, with and without a filter of the holder's own.
    let page = "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { action } } }";
    let all = app.data(&token, page, json!({})).await;
    assert_eq!(all["auditEvents"]["totalCount"], 3);
    assert_eq!(actions(&all["auditEvents"]), ["workspace.name.update", "workspace.delete"]);
    let after = all["auditEvents"]["pageInfo"]["endCursor"].as_str().unwrap();
    let next = app
        .data(
            &token,
            "query($a: String) { auditEvents(first: 5, after: $a) { nodes { action } } }",
            json!({ "a": after }),
        )
        .await;
    assert_eq!(actions(&next["auditEvents"]), ["workspace.create"]);
    // AND-ed: the holder's filter can narrow, never widen.
    let ada = app.data(&token, page, json!({ "f": { "actor": { "externalId": ["ada"] } } })).await;
    assert_eq!(ada["auditEvents"]["totalCount"], 2);
    let sessions = app.data(&token, page, json!({ "f": { "action": { "prefix": "session." } } })).await;
    assert_eq!(sessions["auditEvents"]["totalCount"], 0);
    let widened = app
        .data(
            &token,
            page,
            json!({ "f": { "or": [{ "action": { "prefix": "session." } }, { "outcome": "SUCCESS" }] } }),
        )
        .await;
    assert_eq!(actions(&widened["auditEvents"]), ["workspace.delete", "workspace.create"]);
    // The same call with the key sees everything (the tenant's and key's
    // creation, and the token's minting, too).
    assert_eq!(app.data(&writer, page, json!({})).await["auditEvents"]["totalCount"], 8);

    // Actor.events and Resource.events, reached through a visible event.
    let nested = app
        .data(
            &token,
            "{ auditEvents(first: 1, filter: {action: {eq: \"workspace.create\"}}) { nodes { actor { events { totalCount nodes { action } } } resource { events { totalCount nodes { action } } } } } }",
            json!({}),
        )
        .await;
    let node = &nested["auditEvents"]["nodes"][0];
    assert_eq!(actions(&node["actor"]["events"]), ["workspace.delete", "workspace.create"]);
    assert_eq!(node["actor"]["events"]["totalCount"], 2, "ada's session.terminate stays hidden");
    assert_eq!(actions(&node["resource"]["events"]), ["workspace.name.update", "workspace.create"]);

    // The holder sees what it is fixed to, and no key.
    let viewer =
        app.data(&token, "{ viewer { scopes tenant { slug } restriction { filter expiresAt } } }", json!({})).await;
    assert_eq!(viewer["viewer"]["scopes"], json!(["AUDIT_READ"]));
    assert_eq!(viewer["viewer"]["tenant"]["slug"], "acme");
    assert_eq!(viewer["viewer"]["restriction"]["filter"], json!({ "action": { "prefix": "workspace." } }));
    assert!(viewer["viewer"]["restriction"]["expiresAt"].as_str().unwrap().ends_with('Z'));
    let keyed = app.data(&writer, "{ viewer { restriction { expiresAt } } }", json!({})).await;
    assert_eq!(keyed["viewer"]["restriction"], Value::Null);
    let (_, body) = app.gql(&token, "{ viewer { apiKey { id } } }", json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    // Lists of actors and resources would show what lies outside the filter.
    for list in ["{ actors { nodes { id } } }", "{ resources { nodes { id } } }"] {
        let (_, body) = app.gql(&token, list, json!({})).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{list}: {body}");
    }

    // X-API-Key works as well as Authorization.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("X-API-Key", &token)
        .json(&json!({ "query": "{ auditEvents { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["data"]["auditEvents"]["totalCount"], 3);
}

async fn lookups_outside_the_filter_are_null(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.key("audit.read,audit.write").await;
    seed(&app, &writer).await;
    let everything = app
        .data(
            &writer,
            "{ auditEvents(first: 10, orderBy: {direction: ASC}) { nodes { id action actor { id externalId } resource { id externalId } } } }",
            json!({}),
        )
        .await;
    let nodes = everything["auditEvents"]["nodes"].as_array().unwrap().clone();
    let id_of = |action: &str| nodes.iter().find(|n| n["action"] == action).unwrap()["id"].clone();
    let token = app.viewer_token(&writer, json!({ "actor": { "externalId": ["bob"] } }), 600).await;

    let inside = id_of("session.create");
    let outside = id_of("workspace.create");
    for (id, visible) in [(&inside, true), (&outside, false)] {
        let one = app
            .data(&token, "query($id: ID!) { node(id: $id) { id } auditEvent(id: $id) { id } }", json!({ "id": id }))
            .await;
        assert_eq!(one["node"].is_null(), !visible, "node {id}: {one}");
        assert_eq!(one["auditEvent"].is_null(), !visible, "auditEvent {id}: {one}");
    }
    let many =
        app.data(&token, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": [outside, inside] })).await;
    assert_eq!(many["nodes"], json!([null, { "id": inside }]));

    // Actors and resources exist for the holder only through visible events.
    let actor_of = |action: &str| nodes.iter().find(|n| n["action"] == action).unwrap()["actor"]["id"].clone();
    let resource_of = |action: &str| nodes.iter().find(|n| n["action"] == action).unwrap()["resource"]["id"].clone();
    let ids = json!([
        actor_of("session.create"),
        actor_of("workspace.create"),
        resource_of("session.create"),
        resource_of("workspace.create"),
        resource_of("workspace.delete")
    ]);
    let found = app.data(&token, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).await;
    let visible: Vec<bool> = found["nodes"].as_array().unwrap().iter().map(|n| !n.is_null()).collect();
    // bob; not ada; s-1 (bob created it); ws-1 (bob renamed it); not ws-2 (only ada touched it).
    assert_eq!(visible, [true, false, true, true, false], "{found}");
}

async fn subscriptions_deliver_only_the_filter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.key("audit.read,audit.write").await;
    let token = app.viewer_token(&writer, serde_json::from_str(WORKSPACE_ONLY).unwrap(), 600).await;
    let query =
        "subscription($f: AuditEventFilter) { auditEventRecorded(filter: $f) { id action actor { externalId } } }";
    let mut all = Client::connect_with_key(&base(&app), Protocol::TransportWs, &token).await;
    all.subscribe("1", query, json!({})).await;
    let mut narrowed = Client::connect_with_key(&base(&app), Protocol::TransportWs, &token).await;
    narrowed.subscribe("1", query, json!({ "f": { "outcome": "FAILURE" } })).await;
    wait_for_subscribers(&app, 2).await;
    seed(&app, &writer).await;
    assert_eq!(all.actions(3).await, ["workspace.create", "workspace.delete", "workspace.name.update"]);
    assert_eq!(narrowed.actions(1).await, ["workspace.name.update"]);
    all.quiet().await;
    narrowed.quiet().await;
}

async fn writes_keys_and_minting_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.key("admin").await;
    let token = app.viewer_token(&admin, json!({}), 600).await;
    let key_id = app.data(&admin, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"].clone();
    let refused = [
        (
            "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }",
            json!({ "e": [event("x.y")] }),
        ),
        ("mutation { createApiKey(input: {name: \"k\", scopes: [AUDIT_READ]}) { secret } }", json!({})),
        ("mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } } }", json!({ "id": key_id })),
        ("mutation { createTenant(input: {slug: \"evil\"}) { tenant { id } } }", json!({})),
        // Not even a narrower filter, nor for a moment.
        (
            "mutation { createViewerToken(input: {filter: {action: {eq: \"x.y\"}}, ttlSeconds: 1}) { token } }",
            json!({}),
        ),
        ("query($id: ID!) { node(id: $id) { id } }", json!({ "id": key_id })),
        ("{ viewer { tenant { apiKeys { id } } } }", json!({})),
    ];
    for (query, variables) in refused {
        let (status, body) = app.gql(&token, query, variables).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{query}: {body}");
    }
    // Nothing was written: the tenant's and the key's creation, and the
    // token's minting, are all there is.
    let count = app.data(&admin, "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(count["auditEvents"]["totalCount"], 3, "{count}");
}

async fn minting_needs_a_reading_key_and_valid_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mint = "mutation($i: CreateViewerTokenInput!) { createViewerToken(input: $i) { token expiresAt } }";
    let writer = app.key("audit.write").await;
    let (_, body) = app.gql(&writer, mint, json!({ "i": {} })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    let reader = app.key("audit.read").await;
    for ttl in [0, -5, 30 * 24 * 3600 + 1] {
        let (_, body) = app.gql(&reader, mint, json!({ "i": { "ttlSeconds": ttl } })).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{ttl}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "input.ttlSeconds", "{body}");
    }
    let (_, body) = app.gql(&reader, mint, json!({ "i": { "filter": { "actor": { "id": ["evt_nope"] } } } })).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.filter.actor.id.0", "{body}");

    // The default lifetime is an hour.
    let data = app.data(&reader, mint, json!({ "i": { "ttlSeconds": null } })).await;
    let expires: chrono::DateTime<chrono::Utc> =
        data["createViewerToken"]["expiresAt"].as_str().unwrap().parse().expect("RFC 3339");
    let left = expires - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(59) && left <= chrono::Duration::minutes(60), "{left}");
    // Only the hash is stored.
    let token = data["createViewerToken"]["token"].as_str().unwrap();
    let stored: Vec<entity::viewer_token::Model> =
        <entity::viewer_token::Entity as sea_orm::EntityTrait>::find().all(app.store.db()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!format!("{stored:?}").contains(&token[4..]));
}

async fn tokens_expire(backend: Backend) {
    let (app, clock) = TestApp::spawn_with_clock(backend).await;
    let writer = app.key("audit.read,audit.write").await;
    let token = app.viewer_token(&writer, json!({}), 2).await;
    app.data(&token, "{ auditEvents { totalCount } }", json!({})).await;
    // A live subscription ends when the token expires.
    let mut client = Client::connect_with_key(&base(&app), Protocol::TransportWs, &token).await;
    client.subscribe("1", "subscription { auditEventRecorded { action } }", json!({})).await;
    wait_for_subscribers(&app, 1).await;
    clock.advance(chrono::Duration::milliseconds(2_100));
    let (status, body) = app.gql(&token, "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("expired"), "{body}");
    match client.receive(Duration::from_secs(5)).await {
        Some(Received::Errors(errors)) => assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED", "{errors}"),
        other => panic!("expected the subscription to end with an error, got {other:?}"),
    }
}

async fn tokens_end_with_their_key_and_stay_in_their_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let globex = app.create_tenant("globex").await;
    let globex_writer = app.key_in(globex, "audit.write").await;
    app.record(&globex_writer, json!([event("globex.thing")])).await;

    // An admin key mints for the tenant it names; the token stays there.
    let admin = app.key("admin").await;
    let (_, body) = in_tenant(&app, &admin, "globex", "mutation { createViewerToken(input: {}) { token } }").await;
    let globex_token = body["data"]["createViewerToken"]["token"].as_str().expect("token").to_string();
    let seen = app.data(&globex_token, "{ auditEvents { nodes { action } } }", json!({})).await;
    // Its own minting is on record in globex, the tenant it reads.
    assert_eq!(
        actions(&seen["auditEvents"]),
        ["viewer_token.create", "globex.thing", "api_key.create", "tenant.create"]
    );
    let switched = in_tenant(&app, &globex_token, "acme", "{ auditEvents { totalCount } }").await;
    assert_eq!(switched.0, StatusCode::FORBIDDEN, "{}", switched.1);

    // Revoking the minting key ends its tokens at once.
    let (acme_admin_id, token) = {
        let id = app.data(&admin, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"].clone();
        (id, app.viewer_token(&admin, json!({}), 600).await)
    };
    app.data(&token, "{ auditEvents { totalCount } }", json!({})).await;
    // Only a key holding every scope of an admin key may revoke it.
    let manager = app.key("admin").await;
    app.data(
        &manager,
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } } }",
        json!({ "id": acme_admin_id }),
    )
    .await;
    for credential in [&token, &globex_token] {
        let (status, body) = app.gql(credential, "{ auditEvents { totalCount } }", json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, _) = app.gql("agv_not-a-token", "{ auditEvents { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// POSTs `query` with `credential`, naming `tenant` in `X-Audit-Tenant`.
async fn in_tenant(app: &TestApp, credential: &str, tenant: &str, query: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(credential)
        .header("X-Audit-Tenant", tenant)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request");
    (response.status(), response.json().await.unwrap_or(Value::Null))
}
