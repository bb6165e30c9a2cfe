//! Authentication, scopes, tenants and the server's own audit trail.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, error_code, event};

const COUNT: &str = "{ auditEvents { totalCount } }";
const RECORD: &str = "mutation($e: [AuditEventInput!]!) { recordAuditEvents(events: $e) { createdCount } }";
const CREATE_KEY: &str = "mutation($name: String!, $scopes: [ApiKeyScope!]!) {
    createApiKey(input: {name: $name, scopes: $scopes}) { secret apiKey { id name prefix scopes revokedAt } } }";
const REVOKE_KEY: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id revokedAt } } }";
const CREATE_TENANT: &str = "mutation($slug: String!, $name: String) { createTenant(input: {slug: $slug, name: $name}) { tenant { id slug name } } }";
const SELF_AUDIT: &str = "query($action: String!) {
    auditEvents(filter: {action: {eq: $action}}) { nodes { action actor { type externalId } resource { type externalId } } } }";

/// HTTP 401 with exactly `{"errors":[{"message":…,"extensions":{"code":"UNAUTHENTICATED"}}]}`.
fn assert_unauthenticated(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    let top = body.as_object().unwrap_or_else(|| panic!("{what}: {body}"));
    assert_eq!(top.keys().collect::<Vec<_>>(), ["errors"], "{what}: only `errors`: {body}");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{what}: {body}");
    let error = errors[0].as_object().expect("an error object");
    let mut keys: Vec<&String> = error.keys().collect();
    keys.sort();
    assert_eq!(keys, ["extensions", "message"], "{what}: {body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: a message: {body}");
    assert_eq!(error["extensions"], json!({ "code": "UNAUTHENTICATED" }), "{what}: {body}");
}

/// A field refused for lack of scope: HTTP 200, the field null, `FORBIDDEN`.
fn assert_forbidden_field(what: &str, status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    assert_eq!(error_code(body), Some("FORBIDDEN"), "{what}: {body}");
    assert_eq!(body["errors"][0]["path"], json!([field]), "{what}: {body}");
    assert!(body["data"][field].is_null(), "{what}: {body}");
}

async fn total(app: &TestApp, key: &str) -> i64 {
    app.data(key, COUNT, json!({})).await["auditEvents"]["totalCount"].as_i64().expect("totalCount")
}

async fn key_id(app: &TestApp, key: &str) -> String {
    app.data(key, "{ viewer { apiKey { id } } }", json!({})).await["viewer"]["apiKey"]["id"]
        .as_str()
        .expect("key id")
        .to_string()
}

async fn missing_unknown_and_malformed_keys_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let unknown = "agk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let basic_valid = format!("Basic {key}");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no key", vec![]),
        ("unknown bearer key", vec![("Authorization", "Bearer agk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]),
        ("unknown X-API-Key", vec![("X-API-Key", unknown)]),
        ("garbage bearer key", vec![("Authorization", "Bearer not-a-key")]),
        ("Basic scheme", vec![("Authorization", "Basic x")]),
        ("Basic scheme with a valid key", vec![("Authorization", basic_valid.as_str())]),
        ("Bearer without a key", vec![("Authorization", "Bearer")]),
        ("a bare key without a scheme", vec![("Authorization", key.as_str())]),
    ];
    for (what, headers) in &cases {
        let (status, body) = app.post_graphql(headers, COUNT, json!({})).await;
        assert_unauthenticated(what, status, &body);
        // Mutations too, and they store nothing.
        let (status, body) = app.post_graphql(headers, RECORD, json!({ "e": [event("sneaky.write")] })).await;
        assert_unauthenticated(what, status, &body);
    }
    // A key-less request for data next to introspection is refused as a whole.
    let (status, body) = app.post_graphql(&[], "{ __typename viewer { scopes } }", json!({})).await;
    assert_unauthenticated("viewer without a key", status, &body);
    // Nothing was recorded: acme holds its two self-audit events only.
    assert_eq!(total(&app, &key).await, 2);
}

async fn both_header_styles_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let bearer = format!("Bearer {key}");
    for headers in [vec![("Authorization", bearer.as_str())], vec![("X-API-Key", key.as_str())]] {
        let (status, body) = app.post_graphql(&headers, RECORD, json!({ "e": [event("header.style")] })).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}: {body}");
        assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 1, "{headers:?}: {body}");
        let (status, body) = app.post_graphql(&headers, "{ viewer { tenant { slug } } }", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}: {body}");
        assert_eq!(body["data"]["viewer"]["tenant"]["slug"], "acme", "{headers:?}: {body}");
    }
    assert_eq!(total(&app, &key).await, 2 + 2);
}

async fn introspection_needs_no_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) =
        app.post_graphql(&[], "{ __schema { queryType { name } mutationType { name } } }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    assert_eq!(body["data"]["__schema"]["mutationType"]["name"], "Mutation");

    // `ApiKey` has no field that could expose the secret or its hash.
    let (status, body) = app.post_graphql(&[], r#"{ __type(name: "ApiKey") { fields { name } } }"#, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields: Vec<String> = body["data"]["__type"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("ApiKey fields: {body}"))
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(fields.contains(&"id".to_string()) && fields.contains(&"prefix".to_string()), "{fields:?}");
    for field in &fields {
        assert!(!["secret", "hash", "token", "digest"].iter().any(|w| field.contains(w)), "ApiKey exposes `{field}`");
    }
}

async fn viewer_shows_tenant_key_and_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.write,audit.read").await;
    let data = app
        .data(
            &key,
            "{ viewer { tenant { id slug name } apiKey { id name prefix scopes createdAt revokedAt lastUsedAt } scopes } }",
            json!({}),
        )
        .await;
    let viewer = &data["viewer"];
    assert_eq!(viewer["tenant"]["slug"], "acme");
    assert_eq!(viewer["tenant"]["name"], "Acme Inc.");
    assert_eq!(viewer["tenant"]["id"], app.tenant.to_string().as_str());
    let mut scopes: Vec<&str> = viewer["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    scopes.sort();
    assert_eq!(scopes, ["AUDIT_READ", "AUDIT_WRITE"]);
    assert_eq!(viewer["apiKey"]["scopes"], viewer["scopes"]);
    let prefix = viewer["apiKey"]["prefix"].as_str().expect("prefix");
    assert!(!prefix.is_empty() && prefix.len() < key.len() && key.starts_with(prefix), "prefix {prefix:?} of the key");
    assert!(viewer["apiKey"]["id"].as_str().unwrap().starts_with("key_"));
    assert!(viewer["apiKey"]["revokedAt"].is_null());
    // Nothing the key says about itself reveals the secret or its hash.
    let text = viewer.to_string();
    assert!(!text.contains(&key), "{text}");
    assert!(!text.contains(&auditgraph::domain::secret::hash_secret(&key)), "{text}");
}

async fn keys_are_created_and_revoked_through_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let manager = app.key("keys.manage,audit.read,audit.write").await;
    let manager_id = key_id(&app, &manager).await;

    let data = app.data(&manager, CREATE_KEY, json!({ "name": "ci", "scopes": ["AUDIT_READ", "AUDIT_WRITE"] })).await;
    let payload = &data["createApiKey"];
    let secret = payload["secret"].as_str().expect("secret").to_string();
    let new_id = payload["apiKey"]["id"].as_str().expect("id").to_string();
    assert!(new_id.starts_with("key_"));
    assert_eq!(payload["apiKey"]["name"], "ci");
    assert!(payload["apiKey"]["revokedAt"].is_null());
    let prefix = payload["apiKey"]["prefix"].as_str().unwrap();
    assert!(secret.starts_with(prefix) && secret.len() > prefix.len());
    assert!(!payload["apiKey"].to_string().contains(&secret), "{payload}");

    // The secret works at once, with the scopes granted.
    let data = app.data(&secret, "{ viewer { apiKey { id } scopes } }", json!({})).await;
    assert_eq!(data["viewer"]["apiKey"]["id"], new_id.as_str());
    assert_eq!(app.record(&secret, json!([event("new.key.write")])).await["createdCount"], 1);

    // Audited as `api_key.create` by the acting key.
    let data = app.data(&manager, SELF_AUDIT, json!({ "action": "api_key.create" })).await;
    let created: Vec<&Value> = data["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["externalId"] == new_id.as_str())
        .collect();
    assert_eq!(created.len(), 1, "{data}");
    assert_eq!(created[0]["actor"], json!({ "type": "API_KEY", "externalId": manager_id }));
    assert_eq!(created[0]["resource"]["type"], "api_key");

    // Revoked: the key stops working at once, with the contract's 401.
    let data = app.data(&manager, REVOKE_KEY, json!({ "id": new_id })).await;
    assert_eq!(data["revokeApiKey"]["apiKey"]["id"], new_id.as_str());
    assert!(data["revokeApiKey"]["apiKey"]["revokedAt"].is_string(), "{data}");
    let (status, body) = app.gql(&secret, COUNT, json!({})).await;
    assert_unauthenticated("revoked key", status, &body);
    let (status, body) =
        app.post_graphql(&[("X-API-Key", secret.as_str())], RECORD, json!({ "e": [event("x.y")] })).await;
    assert_unauthenticated("revoked key via X-API-Key", status, &body);

    // Audited as `api_key.revoke` by the acting key.
    let data = app.data(&manager, SELF_AUDIT, json!({ "action": "api_key.revoke" })).await;
    assert_eq!(
        data["auditEvents"]["nodes"],
        json!([{
            "action": "api_key.revoke",
            "actor": { "type": "API_KEY", "externalId": manager_id },
            "resource": { "type": "api_key", "externalId": new_id },
        }])
    );
    // The manager key itself still works.
    assert!(total(&app, &manager).await > 0);
}

async fn keys_without_the_scope_are_forbidden(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.key("audit.read").await;
    let writer = app.key("audit.write").await;
    let read_write = app.key("audit.read,audit.write").await;
    let manager = app.key("keys.manage,audit.read").await;
    let before = total(&app, &reader).await;

    // Reading without audit.read.
    let (status, body) = app.gql(&writer, COUNT, json!({})).await;
    assert_forbidden_field("read without audit.read", status, &body, "auditEvents");
    let (status, body) = app.gql(&manager, "{ actors { totalCount } }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    let (status, body) = app.gql(&writer, "{ resources { totalCount } }", json!({})).await;
    assert_forbidden_field("resources without audit.read", status, &body, "resources");
    // A nullable field next to an allowed one: the allowed one answers.
    let (status, body) = app
        .gql(
            &writer,
            r#"{ viewer { tenant { slug } } node(id: "evt_00000000000000000000000000000000") { id } }"#,
            json!({}),
        )
        .await;
    assert_forbidden_field("node without audit.read", status, &body, "node");
    assert_eq!(body["data"]["viewer"]["tenant"]["slug"], "acme", "{body}");

    // Recording without audit.write: refused, nothing stored.
    for key in [&reader, &manager] {
        let (status, body) = app.gql(key, RECORD, json!({ "e": [event("not.allowed")] })).await;
        assert_forbidden_field("record without audit.write", status, &body, "recordAuditEvents");
    }
    assert_eq!(total(&app, &reader).await, before);

    // Creating keys without keys.manage.
    let (status, body) = app.gql(&read_write, CREATE_KEY, json!({ "name": "x", "scopes": ["AUDIT_READ"] })).await;
    assert_forbidden_field("createApiKey without keys.manage", status, &body, "createApiKey");
    // Creating tenants without admin.
    for key in [&read_write, &manager] {
        let (status, body) = app.gql(key, CREATE_TENANT, json!({ "slug": "evil" })).await;
        assert_forbidden_field("createTenant without admin", status, &body, "createTenant");
    }
    // A keys.manage key cannot grant admin (nor any scope it does not hold).
    let (status, body) = app.gql(&manager, CREATE_KEY, json!({ "name": "root", "scopes": ["ADMIN"] })).await;
    assert_forbidden_field("granting admin", status, &body, "createApiKey");
    let (status, body) =
        app.gql(&manager, CREATE_KEY, json!({ "name": "root", "scopes": ["AUDIT_READ", "ADMIN"] })).await;
    assert_forbidden_field("granting admin among others", status, &body, "createApiKey");
    // Revoking without keys.manage.
    let victim = key_id(&app, &reader).await;
    let (status, body) = app.gql(&read_write, REVOKE_KEY, json!({ "id": victim })).await;
    assert_forbidden_field("revokeApiKey without keys.manage", status, &body, "revokeApiKey");
    assert_eq!(total(&app, &reader).await, before, "none of that was audited: nothing happened");
    let data = app.data(&manager, "{ viewer { tenant { apiKeys { name revokedAt } } } }", json!({})).await;
    let keys = data["viewer"]["tenant"]["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "no key was created: {data}");
    assert!(keys.iter().all(|k| k["revokedAt"].is_null()), "no key was revoked: {data}");

    // No tenant was created.
    let admin = format!("Bearer {}", app.key("admin").await);
    let (status, body) =
        app.post_graphql(&[("Authorization", admin.as_str()), ("X-Audit-Tenant", "evil")], COUNT, json!({})).await;
    assert_ne!(status, StatusCode::OK, "tenant `evil` must not exist: {body}");
}

async fn admin_includes_every_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.key("admin").await;
    let admin_id = key_id(&app, &admin).await;
    let data = app.data(&admin, "{ viewer { scopes } }", json!({})).await;
    assert_eq!(data["viewer"]["scopes"], json!(["ADMIN"]));
    // audit.write and audit.read
    assert_eq!(app.record(&admin, json!([event("admin.write")])).await["createdCount"], 1);
    assert_eq!(total(&app, &admin).await, 2 + 1, "setup (tenant and admin key creation), one recorded");
    // keys.manage, including granting admin
    let data = app.data(&admin, CREATE_KEY, json!({ "name": "second admin", "scopes": ["ADMIN"] })).await;
    let second = data["createApiKey"]["secret"].as_str().unwrap().to_string();
    let data = app.data(&second, "{ viewer { scopes } }", json!({})).await;
    assert_eq!(data["viewer"]["scopes"], json!(["ADMIN"]));
    let second_id = key_id(&app, &second).await;
    let data = app.data(&admin, REVOKE_KEY, json!({ "id": second_id })).await;
    assert!(data["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
    let (status, body) = app.gql(&second, COUNT, json!({})).await;
    assert_unauthenticated("revoked admin key", status, &body);

    // admin: create a tenant, audited in the new tenant with the acting key as actor.
    let data = app.data(&admin, CREATE_TENANT, json!({ "slug": "initech", "name": "Initech" })).await;
    let tenant = &data["createTenant"]["tenant"];
    assert_eq!(tenant["slug"], "initech");
    assert_eq!(tenant["name"], "Initech");
    let tenant_id = tenant["id"].as_str().unwrap().to_string();
    assert!(tenant_id.starts_with("ten_"));
    let bearer = format!("Bearer {admin}");
    let in_initech = [("Authorization", bearer.as_str()), ("X-Audit-Tenant", "initech")];
    let (status, body) = app.post_graphql(&in_initech, SELF_AUDIT, json!({ "action": "tenant.create" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["auditEvents"]["nodes"],
        json!([{
            "action": "tenant.create",
            "actor": { "type": "API_KEY", "externalId": admin_id },
            "resource": { "type": "tenant", "externalId": tenant_id },
        }])
    );
    let (status, body) = app.post_graphql(&in_initech, COUNT, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["auditEvents"]["totalCount"], 1, "only the tenant's creation: {body}");
    // acme saw none of it: still one tenant.create, its own.
    let data = app.data(&admin, SELF_AUDIT, json!({ "action": "tenant.create" })).await;
    assert_eq!(data["auditEvents"]["nodes"].as_array().map(Vec::len), Some(1), "{data}");
    assert_eq!(data["auditEvents"]["nodes"][0]["resource"]["externalId"], app.tenant.to_string().as_str());
}

async fn admin_acts_in_another_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let globex = app.create_tenant("globex").await;
    let globex_writer = app.key_in(globex, "audit.write,audit.read").await;
    app.record(&globex_writer, json!([event("globex.secret.plan"), event("globex.other.plan")])).await;
    let acme_writer = app.key("audit.write,audit.read").await;
    app.record(&acme_writer, json!([event("acme.thing.do")])).await;
    let admin = app.key("admin").await;
    let bearer = format!("Bearer {admin}");
    let as_globex = [("Authorization", bearer.as_str()), ("X-Audit-Tenant", "globex")];
    let actions_query = "{ viewer { tenant { slug } } auditEvents(first: 100) { totalCount nodes { action } } }";

    let (status, body) = app.post_graphql(&as_globex, actions_query, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["tenant"]["slug"], "globex");
    let mut actions: Vec<&str> = body["data"]["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        ["api_key.create", "globex.other.plan", "globex.secret.plan", "tenant.create"],
        "only globex's events: {body}"
    );
    assert_eq!(body["data"]["auditEvents"]["totalCount"], 4);

    // Writing there lands in globex, not in acme.
    let (status, body) = app.post_graphql(&as_globex, RECORD, json!({ "e": [event("admin.in.globex")] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 1, "{body}");
    let in_globex = app
        .data(&globex_writer, r#"{ auditEvents(filter: {action: {eq: "admin.in.globex"}}) { totalCount } }"#, json!({}))
        .await;
    assert_eq!(in_globex["auditEvents"]["totalCount"], 1);
    // Without the header the admin key acts in its own tenant.
    let data = app.data(&admin, actions_query, json!({})).await;
    assert_eq!(data["viewer"]["tenant"]["slug"], "acme");
    let acme_actions: Vec<&str> =
        data["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
    assert!(acme_actions.contains(&"acme.thing.do"), "{data}");
    assert!(!acme_actions.iter().any(|a| a.starts_with("globex.") || *a == "admin.in.globex"), "{data}");

    // A non-admin key naming another tenant is refused outright and sees nothing.
    let acme_bearer = format!("Bearer {acme_writer}");
    for headers in [
        vec![("Authorization", acme_bearer.as_str()), ("X-Audit-Tenant", "globex")],
        vec![("X-API-Key", acme_writer.as_str()), ("X-Audit-Tenant", "globex")],
    ] {
        for (query, vars) in [(actions_query, json!({})), (RECORD, json!({ "e": [event("acme.into.globex")] }))] {
            let (status, body) = app.post_graphql(&headers, query, vars).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
            assert!(body["data"].is_null(), "{body}");
            assert!(!body.to_string().contains("globex."), "{body}");
        }
    }
    // A keys.manage key is no admin either.
    let manager = format!("Bearer {}", app.key("keys.manage,audit.read").await);
    let (status, body) =
        app.post_graphql(&[("Authorization", manager.as_str()), ("X-Audit-Tenant", "globex")], COUNT, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // Naming its own tenant is fine.
    let (status, body) = app
        .post_graphql(&[("Authorization", acme_bearer.as_str()), ("X-Audit-Tenant", "acme")], COUNT, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["auditEvents"]["totalCount"], total(&app, &acme_writer).await);
    // Nothing of acme's leaked into globex.
    assert_eq!(total(&app, &globex_writer).await, 5);
}

async fn setup_actions_are_audited_as_system(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    let data = app
        .data(
            &key,
            "{ auditEvents(orderBy: {field: RECEIVED_AT, direction: ASC}) { nodes { action actor { type } resource { type externalId } } } }",
            json!({}),
        )
        .await;
    let nodes = data["auditEvents"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{data}");
    assert_eq!(nodes[0]["action"], "tenant.create");
    assert_eq!(nodes[0]["actor"]["type"], "SYSTEM");
    assert_eq!(nodes[0]["resource"], json!({ "type": "tenant", "externalId": app.tenant.to_string() }));
    assert_eq!(nodes[1]["action"], "api_key.create");
    assert_eq!(nodes[1]["actor"]["type"], "SYSTEM");
    assert_eq!(nodes[1]["resource"]["externalId"], key_id(&app, &key).await.as_str());

    // A tenant created by the operator is audited in that tenant, by SYSTEM.
    let other = app.create_tenant("umbrella").await;
    let other_key = app.key_in(other, "audit.read").await;
    let data = app.data(&other_key, SELF_AUDIT, json!({ "action": "tenant.create" })).await;
    assert_eq!(data["auditEvents"]["nodes"][0]["actor"]["type"], "SYSTEM", "{data}");
    assert_eq!(data["auditEvents"]["nodes"][0]["resource"]["externalId"], other.to_string().as_str());
    assert_eq!(data["auditEvents"]["nodes"].as_array().map(Vec::len), Some(1));
}

backend_tests!(
    missing_unknown_and_malformed_keys_are_refused,
    both_header_styles_work,
    introspection_needs_no_key,
    viewer_shows_tenant_key_and_scopes,
    keys_are_created_and_revoked_through_the_api,
    keys_without_the_scope_are_forbidden,
    admin_includes_every_scope,
    admin_acts_in_another_tenant,
    setup_actions_are_audited_as_system,
);
