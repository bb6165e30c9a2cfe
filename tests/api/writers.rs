//! Writers of every kind at once: recordings, key and tenant creation,
//! viewer tokens, retention changes, and the background jobs that write
//! (checkpoints every few milliseconds, the purge). On SQLite none of them may
//! ever answer "database is locked": every write holds the one write gate and
//! begins `IMMEDIATE`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, backend_tests, event, record_at};

backend_tests!(concurrent_writers_of_every_kind_never_fail);

/// POSTs a GraphQL document and returns the body, which must hold no error.
async fn ok(client: &reqwest::Client, base: &str, key: &str, query: &str, variables: Value) -> Value {
    let body: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("a JSON body");
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body
}

async fn concurrent_writers_of_every_kind_never_fail(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.ledger.checkpoint_interval = Duration::from_millis(5);
        s.ledger.purge_interval = Duration::from_millis(20);
    })
    .await;
    let writer = app.key("audit.read,audit.write").await;
    let admin = app.key("admin").await;
    let base = app.url("");
    let mut tasks = Vec::new();
    for w in 0..3 {
        let (base, key) = (base.clone(), writer.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for b in 0..15 {
                let events: Vec<Value> = (0..20).map(|i| event(&format!("race.w{w}.b{b}.e{i}"))).collect();
                let body = record_at(&client, &base, &key, json!(events)).await;
                assert_eq!(body["data"]["recordAuditEvents"]["createdCount"], 20, "{body}");
            }
        }));
    }
    let (base2, admin2) = (base.clone(), admin.clone());
    tasks.push(tokio::spawn(async move {
        let client = reqwest::Client::new();
        for i in 0..10 {
            let name = format!("k{i}");
            ok(
                &client,
                &base2,
                &admin2,
                "mutation($n: String!) { createApiKey(input: {name: $n, scopes: [AUDIT_READ]}) { secret } }",
                json!({ "n": name }),
            )
            .await;
            ok(
                &client,
                &base2,
                &admin2,
                "mutation { createViewerToken(input: {ttlSeconds: 60}) { token } }",
                json!({}),
            )
            .await;
            let slug = format!("race-{i}");
            ok(
                &client,
                &base2,
                &admin2,
                "mutation($s: String!) { createTenant(input: {slug: $s}) { tenant { id } } }",
                json!({ "s": slug }),
            )
            .await;
            let days = if i % 2 == 0 { json!(365) } else { Value::Null };
            ok(
                &client,
                &base2,
                &admin2,
                "mutation($d: Int) { setTenantRetention(input: {tenant: \"acme\", retentionDays: $d}) { slug } }",
                json!({ "d": days }),
            )
            .await;
        }
    }));
    for task in tasks {
        task.await.unwrap();
    }
    // Everything arrived, numbered without a gap.
    let count =
        app.data(&writer, r#"{ auditEvents(filter: {action: {prefix: "race."}}) { totalCount } }"#, json!({})).await;
    assert_eq!(count["auditEvents"]["totalCount"], 3 * 15 * 20);
    let size = app.data(&writer, "{ ledger { size } }", json!({})).await["ledger"]["size"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let all = app.data(&writer, "{ auditEvents { totalCount } }", json!({})).await["auditEvents"]["totalCount"]
        .as_u64()
        .unwrap();
    assert_eq!(size, all, "every sequence number up to the tree size is stored");
}
