//! `auditEventStats` and `GET /v1/events/stats` against a computation of
//! their own over the recorded events (read back through `auditEvents`).

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::{Value, json};

use auditgraph::bus::Bus;
use auditgraph::service::retention;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::helpers::{Backend, TestApp, backend_tests, error_code};

backend_tests!(
    stats_agree_with_a_count_of_their_own,
    buckets_start_at_utc_boundaries,
    viewer_tokens_count_only_their_events,
    bounds_are_refused_with_their_path,
    rest_answers_like_graphql,
    counts_per_day_answer_like_the_events,
);

const STATS: &str =
    "query($f: AuditEventFilter, $g: [StatsDimension!], $i: StatsInterval, $t: AuditEventOrderField, $l: Int) {
    auditEventStats(filter: $f, groupBy: $g, interval: $i, timeField: $t, limit: $l) {
        total otherCount buckets { start key count } } }";

/// A recorded event as the dimensions see it.
struct Seen {
    occurred: DateTime<Utc>,
    received: DateTime<Utc>,
    values: HashMap<&'static str, Option<String>>,
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Events spread over five days from Friday 2026-02-27 22:00 UTC: across
/// hours, days, the month's end and a Monday.
fn inputs(n: usize, seed: u64) -> Vec<Value> {
    let mut rng = Lcg(seed);
    let base = at("2026-02-27T22:00:00Z");
    (0..n)
        .map(|i| {
            let action =
                ["user.login", "user.logout", "doc.delete", "doc.export", "billing.charge"][rng.next(5) as usize];
            let mut e = json!({
                "action": action,
                "outcome": if rng.next(3) == 0 { "FAILURE" } else { "SUCCESS" },
                "occurredAt": crate::helpers::rfc3339(base + Duration::seconds(rng.next(5 * 86_400) as i64)),
                "actor": { "type": "USER", "externalId": format!("u-{}", rng.next(6)) },
                "idempotencyKey": format!("stats-{seed}-{i}"),
            });
            match rng.next(3) {
                0 => {}
                1 => e["environment"] = json!("prod"),
                _ => e["environment"] = json!("dev"),
            }
            if rng.next(2) == 0 {
                e["sourceService"] = json!(["api", "worker"][rng.next(2) as usize]);
            }
            match rng.next(4) {
                0 => {}
                k => {
                    let status = [200, 403, 500][k as usize - 1];
                    e["request"] = json!({ "status": status });
                }
            }
            if rng.next(3) != 0 {
                let kind = ["doc", "user"][rng.next(2) as usize];
                e["resource"] = json!({ "type": kind, "externalId": format!("r-{}", rng.next(4)) });
            }
            e
        })
        .collect()
}

/// Every event of the tenant that `key` sees, read back.
async fn read_back(app: &TestApp, key: &str) -> Vec<Seen> {
    let query = "query($after: String) { auditEvents(first: 500, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { action category outcome occurredAt receivedAt environment sourceService
                actor { id } resource { type } request { status } } } }";
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.data(key, query, json!({ "after": after })).await;
        let page = &data["auditEvents"];
        for e in page["nodes"].as_array().unwrap() {
            let text = |v: &Value| v.as_str().map(String::from);
            let values = HashMap::from([
                ("ACTION", text(&e["action"])),
                ("CATEGORY", text(&e["category"])),
                ("OUTCOME", text(&e["outcome"])),
                ("ACTOR", text(&e["actor"]["id"])),
                ("RESOURCE_TYPE", text(&e["resource"]["type"])),
                ("ENVIRONMENT", text(&e["environment"])),
                ("SOURCE_SERVICE", text(&e["sourceService"])),
                ("HTTP_STATUS", e["request"]["status"].as_i64().map(|s| s.to_string())),
            ]);
            out.push(Seen {
                occurred: at(e["occurredAt"].as_str().unwrap()),
                received: at(e["receivedAt"].as_str().unwrap()),
                values,
            });
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The first instant of the bucket of `t`, computed from calendar fields.
fn floor(t: DateTime<Utc>, interval: &str) -> DateTime<Utc> {
    let ymd = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    match interval {
        "MINUTE" => Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), t.minute(), 0).unwrap(),
        "HOUR" => Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), 0, 0).unwrap(),
        "DAY" => ymd(t.year(), t.month(), t.day()),
        "WEEK" => ymd(t.year(), t.month(), t.day()) - Duration::days(t.weekday().num_days_from_monday() as i64),
        "MONTH" => ymd(t.year(), t.month(), 1),
        other => panic!("{other}"),
    }
}

type Key = Vec<Option<String>>;
type Bucket = (Option<DateTime<Utc>>, Key, i64);

fn key_order(a: &Key, b: &Key) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// The contract's answer computed here: (total, buckets, otherCount).
fn expected(
    events: &[&Seen],
    dims: &[&str],
    interval: Option<&str>,
    received: bool,
    limit: usize,
) -> (i64, Vec<Bucket>, i64) {
    let total = events.len() as i64;
    let key = |e: &Seen| dims.iter().map(|d| e.values[d].clone()).collect::<Key>();
    let mut per_key: HashMap<Key, i64> = HashMap::new();
    for e in events {
        *per_key.entry(key(e)).or_default() += 1;
    }
    let mut ranked: Vec<(Key, i64)> = per_key.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(key_order(&a.0, &b.0)));
    if !dims.is_empty() {
        ranked.truncate(limit);
    }
    let other = if dims.is_empty() { 0 } else { total - ranked.iter().map(|(_, n)| n).sum::<i64>() };
    let mut buckets: Vec<Bucket> = match interval {
        None => ranked.into_iter().filter(|_| total > 0).map(|(k, n)| (None, k, n)).collect(),
        Some(interval) => {
            let mut per: HashMap<(DateTime<Utc>, Key), i64> = HashMap::new();
            for e in events {
                let k = key(e);
                if ranked.iter().any(|(top, _)| *top == k) {
                    let t = if received { e.received } else { e.occurred };
                    *per.entry((floor(t, interval), k)).or_default() += 1;
                }
            }
            per.into_iter().map(|((s, k), n)| (Some(s), k, n)).collect()
        }
    };
    buckets.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(key_order(&a.1, &b.1)));
    (total, buckets, other)
}

/// The server's answer in the same shape.
fn answer(stats: &Value) -> (i64, Vec<Bucket>, i64) {
    let buckets = stats["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let key = b["key"].as_array().unwrap().iter().map(|k| k.as_str().map(String::from)).collect();
            (b["start"].as_str().map(at), key, b["count"].as_i64().unwrap())
        })
        .collect();
    let other = stats.get("otherCount").or(stats.get("other_count")).unwrap();
    (stats["total"].as_i64().unwrap(), buckets, other.as_i64().unwrap())
}

async fn stats(app: &TestApp, key: &str, vars: Value) -> Value {
    app.data(key, STATS, vars).await["auditEventStats"].clone()
}

async fn record_inputs(app: &TestApp, key: &str, events: &[Value]) {
    for chunk in events.chunks(500) {
        app.record(key, json!(chunk)).await;
    }
}

async fn stats_agree_with_a_count_of_their_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    record_inputs(&app, &key, &inputs(240, 7)).await;
    // The server's own events (the key's creation) happen now: left out.
    let before = at("2026-06-01T00:00:00Z");
    let early = json!({ "occurredAt": { "lt": "2026-06-01T00:00:00Z" } });
    let seen = read_back(&app, &key).await;
    let all: Vec<&Seen> = seen.iter().filter(|e| e.occurred < before).collect();
    assert_eq!(all.len(), 240);

    let cases: &[(&[&str], Option<&str>, usize)] = &[
        (&[], None, 20),
        (&["ACTION"], None, 20),
        (&["ACTION", "OUTCOME"], None, 3),
        (&["ACTOR"], Some("DAY"), 4),
        (&["ENVIRONMENT", "HTTP_STATUS", "RESOURCE_TYPE"], Some("HOUR"), 5),
        (&["SOURCE_SERVICE", "ENVIRONMENT"], None, 100),
        (&[], Some("WEEK"), 20),
        (&[], Some("MONTH"), 20),
        (&["CATEGORY"], Some("WEEK"), 2),
        (&["HTTP_STATUS"], Some("DAY"), 1),
    ];
    for (dims, interval, limit) in cases {
        let got = stats(&app, &key, json!({ "f": early, "g": dims, "i": interval, "l": limit })).await;
        assert_eq!(answer(&got), expected(&all, dims, *interval, false, *limit), "{dims:?} {interval:?} {limit}");
    }

    // A filter narrows every count; minutes fit in a two-hour window.
    let (from, to) = (at("2026-03-01T23:00:00Z"), at("2026-03-02T01:00:00Z"));
    let filter = json!({ "action": { "in": ["user.login", "doc.delete"] },
                         "occurredAt": { "gte": crate::helpers::rfc3339(from), "lt": crate::helpers::rfc3339(to) } });
    let some: Vec<&Seen> = seen
        .iter()
        .filter(|e| {
            let a = e.values["ACTION"].as_deref();
            (a == Some("user.login") || a == Some("doc.delete")) && e.occurred >= from && e.occurred < to
        })
        .collect();
    assert!(!some.is_empty());
    let got = stats(&app, &key, json!({ "f": filter, "g": ["OUTCOME"], "i": "MINUTE" })).await;
    assert_eq!(answer(&got), expected(&some, &["OUTCOME"], Some("MINUTE"), false, 20));

    // Buckets of `receivedAt`: every event was received in the last minutes.
    let got = stats(&app, &key, json!({ "f": early, "g": ["ACTION"], "i": "DAY", "t": "RECEIVED_AT" })).await;
    assert_eq!(answer(&got), expected(&all, &["ACTION"], Some("DAY"), true, 20));

    // Nothing matches: no buckets.
    let got =
        stats(&app, &key, json!({ "f": { "action": { "eq": "nothing.here" } }, "g": ["ACTION"], "i": "DAY" })).await;
    assert_eq!(got, json!({ "total": 0, "otherCount": 0, "buckets": [] }));

    // Statements a call costs (the key's last use written before counting):
    // PostgreSQL reads the matches once, SQLite, without grouping sets, three times.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = app.statements();
    stats(&app, &key, json!({ "f": early, "g": ["ACTION", "OUTCOME"], "i": "DAY" })).await;
    let once = if backend == Backend::Postgres { 1 } else { 3 };
    assert_eq!(app.statements() - before, once, "statements of one stats call");
}

async fn buckets_start_at_utc_boundaries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    // Sunday 2026-03-01 is the last day of a week; Monday 2026-03-02 starts one.
    let instants = [
        "2026-02-28T23:59:59.999999Z",
        "2026-03-01T00:00:00Z",
        "2026-03-01T23:59:59.999999Z",
        "2026-03-02T00:00:00Z",
        "2026-03-02T00:59:59.999999Z",
        "2026-03-02T01:00:00Z",
        "2026-03-02T01:00:59.999999Z",
    ];
    let events: Vec<Value> = instants
        .iter()
        .map(|t| json!({ "action": "edge.test", "occurredAt": t, "actor": { "type": "USER", "externalId": "u" } }))
        .collect();
    app.record(&key, json!(events)).await;
    let starts = |got: &Value| -> Vec<(String, i64)> {
        got["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["start"].as_str().unwrap().to_string(), b["count"].as_i64().unwrap()))
            .collect()
    };
    let s = |v: &[(&str, i64)]| v.iter().map(|(a, n)| (a.to_string(), *n)).collect::<Vec<_>>();
    // Only these events, not the server's own (the key's creation).
    let edge = json!({ "action": { "eq": "edge.test" } });
    let got = stats(&app, &key, json!({ "i": "MONTH", "f": edge })).await;
    assert_eq!(starts(&got), s(&[("2026-02-01T00:00:00Z", 1), ("2026-03-01T00:00:00Z", 6)]));
    let got = stats(&app, &key, json!({ "i": "WEEK", "f": edge })).await;
    assert_eq!(starts(&got), s(&[("2026-02-23T00:00:00Z", 3), ("2026-03-02T00:00:00Z", 4)]));
    let got = stats(&app, &key, json!({ "i": "DAY", "f": edge })).await;
    assert_eq!(
        starts(&got),
        s(&[("2026-02-28T00:00:00Z", 1), ("2026-03-01T00:00:00Z", 2), ("2026-03-02T00:00:00Z", 4)])
    );
    let got = stats(
        &app,
        &key,
        json!({ "i": "HOUR", "f": { "occurredAt": { "gte": "2026-03-01T12:00:00Z", "lt": "2026-03-03T00:00:00Z" } } }),
    )
    .await;
    assert_eq!(
        starts(&got),
        s(&[("2026-03-01T23:00:00Z", 1), ("2026-03-02T00:00:00Z", 2), ("2026-03-02T01:00:00Z", 2)])
    );
    let got = stats(&app, &key, json!({ "i": "MINUTE", "f": { "occurredAt": { "gte": "2026-03-02T00:30:00Z", "lt": "2026-03-02T02:00:00Z" } } })).await;
    assert_eq!(starts(&got), s(&[("2026-03-02T00:59:00Z", 1), ("2026-03-02T01:00:00Z", 2)]));
}

async fn viewer_tokens_count_only_their_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    record_inputs(&app, &key, &inputs(60, 11)).await;
    let seen = read_back(&app, &key).await;
    let token = app.viewer_token(&key, json!({ "action": { "prefix": "user." } }), 600).await;
    let theirs: Vec<&Seen> =
        seen.iter().filter(|e| e.values["ACTION"].as_deref().is_some_and(|a| a.starts_with("user."))).collect();
    assert!(!theirs.is_empty() && theirs.len() < seen.len());
    let got = stats(&app, &token, json!({ "g": ["ACTION"], "i": "DAY" })).await;
    assert_eq!(answer(&got), expected(&theirs, &["ACTION"], Some("DAY"), false, 20));
    // Their own filter cannot widen it.
    let got = stats(&app, &token, json!({ "f": { "action": { "eq": "doc.delete" } } })).await;
    assert_eq!(got["total"], 0);
    let (status, _, body) = app.rest_get(&token, "/v1/events/stats", &[("group_by", "action")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(answer(&body), expected(&theirs, &["ACTION"], None, false, 20));
    // A key without `audit.read` may not.
    let writer = app.key("audit.write").await;
    let (_, body) = app.gql(&writer, STATS, json!({})).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
}

async fn bounds_are_refused_with_their_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let events = [
        json!({ "action": "a.b", "occurredAt": "2026-01-01T00:00:00Z", "actor": { "type": "USER", "externalId": "u" } }),
        json!({ "action": "a.b", "occurredAt": "2026-01-02T00:00:00Z", "actor": { "type": "USER", "externalId": "u" } }),
    ];
    app.record(&key, json!(events)).await;
    let refused = async |vars: Value| {
        let (status, body) = app.gql(&key, STATS, vars).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        body["errors"][0]["extensions"]["field"].as_str().unwrap_or_default().to_string()
    };
    // 1,441 minutes between the two events.
    let ours = json!({ "action": { "eq": "a.b" } });
    assert_eq!(refused(json!({ "i": "MINUTE", "f": ours })).await, "interval");
    // A range bounded on both ends is checked before counting: 1,001 hours.
    let wide = json!({ "occurredAt": { "gte": "2030-01-01T00:00:00Z", "lt": "2030-02-11T17:00:00Z" } });
    assert_eq!(refused(json!({ "i": "HOUR", "f": wide })).await, "interval");
    let fits = json!({ "occurredAt": { "gte": "2030-01-01T00:00:00Z", "lt": "2030-02-11T16:00:00Z" } });
    assert_eq!(stats(&app, &key, json!({ "i": "HOUR", "f": fits })).await["total"], 0);
    assert_eq!(stats(&app, &key, json!({ "i": "HOUR", "f": ours })).await["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(refused(json!({ "g": ["ACTION", "ACTOR", "OUTCOME", "CATEGORY"] })).await, "groupBy");
    assert_eq!(refused(json!({ "g": ["ACTION"], "l": 0 })).await, "limit");
    assert_eq!(refused(json!({ "g": ["ACTION"], "l": 101 })).await, "limit");
    assert_eq!(refused(json!({ "i": "DAY", "t": "SEQUENCE" })).await, "timeField");
    let (_, body) = app.gql(&key, "{ auditEventStats(query: \"action:(\") { total } }", json!({})).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    // A query string narrows like a filter, in both doors.
    let (_, body) = app.gql(&key, "{ auditEventStats(query: \"action:a.b\") { total } }", json!({})).await;
    assert_eq!(body["data"]["auditEventStats"]["total"], 2, "{body}");
    let (status, _, body) = app.rest_get(&key, "/v1/events/stats", &[("q", "action:a.b")]).await;
    assert_eq!((status.as_u16(), &body["total"]), (200, &json!(2)), "{body}");

    // Each call costs a count: 20 fit the default budget of 50,000, 21 do not.
    let calls = |n: usize| {
        format!("{{ {} }}", (0..n).map(|i| format!("s{i}: auditEventStats {{ total }}")).collect::<String>())
    };
    let (_, body) = app.gql(&key, &calls(19), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app.gql(&key, &calls(21), json!({})).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_COMPLEX"), "{body}");

    // REST names its parameters.
    for (params, path) in [
        (vec![("interval", "minute"), ("action", "a.b")], "interval"),
        (vec![("group_by", "colour")], "group_by.0"),
        (vec![("limit", "0"), ("group_by", "action")], "limit"),
        (vec![("time_field", "sequence")], "time_field"),
        (vec![("cursor", "x")], "cursor"),
        (vec![("colour", "red")], "colour"),
    ] {
        let (status, _, body) = app.rest_get(&key, "/v1/events/stats", &params).await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert!(body.to_string().contains(path), "{params:?}: {body}");
    }
}

async fn rest_answers_like_graphql(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read,audit.write").await;
    record_inputs(&app, &key, &inputs(80, 3)).await;
    let cases: [(&[(&str, &str)], Value); 3] = [
        (
            &[("group_by", "action,outcome"), ("interval", "day"), ("limit", "4")],
            json!({ "g": ["ACTION", "OUTCOME"], "i": "DAY", "l": 4 }),
        ),
        (
            &[("group_by", "actor"), ("group_by", "http_status"), ("outcome", "failure")],
            json!({ "g": ["ACTOR", "HTTP_STATUS"], "f": { "outcome": "FAILURE" } }),
        ),
        (
            &[("interval", "hour"), ("time_field", "received_at"), ("action", "doc.export")],
            json!({ "i": "HOUR", "t": "RECEIVED_AT", "f": { "action": { "eq": "doc.export" } } }),
        ),
    ];
    for (params, vars) in cases {
        let (status, _, body) = app.rest_get(&key, "/v1/events/stats", params).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(answer(&body), answer(&stats(&app, &key, vars).await), "{params:?}");
        assert!(body.get("other_count").is_some());
    }
    let (_, _, doc) = app.rest_get(&key, "/v1/openapi.json", &[]).await;
    let params = &doc["paths"]["/v1/events/stats"]["get"]["parameters"];
    assert!(params.as_array().unwrap().iter().any(|p| p["name"] == "group_by"), "{doc}");
}

/// Rows of `audit_event_day_count` that a count of the events, made here,
/// does not have, and rows it has that the table does not: 0 when they agree.
pub async fn day_counts_differ(db: &DatabaseConnection) -> i64 {
    let backend = db.get_database_backend();
    let (day, actor) = match backend {
        DbBackend::Postgres => (
            "CAST(EXTRACT(EPOCH FROM date_trunc('day', occurred_at AT TIME ZONE 'UTC')) AS BIGINT)",
            "replace(CAST(actor_id AS TEXT), '-', '')",
        ),
        _ => ("CAST(strftime('%s', substr(occurred_at, 1, 10)) AS INTEGER)", "lower(hex(actor_id))"),
    };
    let per = |dimension: i32, key: &str| {
        format!(
            "SELECT tenant_id, {dimension} AS dimension, {day} AS day, {key} AS key, COUNT(*) AS n FROM audit_event GROUP BY 1, 3, 4"
        )
    };
    let sql = format!(
        "WITH recount AS ({} UNION ALL {} UNION ALL {}),
              kept AS (SELECT tenant_id, CAST(dimension AS INTEGER) AS dimension, day, key, n FROM audit_event_day_count)
         SELECT (SELECT COUNT(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM recount) AS a)
              + (SELECT COUNT(*) FROM (SELECT * FROM recount EXCEPT SELECT * FROM kept) AS b)",
        per(0, "action"),
        per(1, "outcome"),
        per(2, actor),
    );
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Stats that whole days of counts answer (a range of `occurredAt` at most,
/// one of action, outcome and actor at most, buckets of days or longer) agree
/// with the events, at the parts of days at a range's ends too, and still
/// after a purge.
async fn counts_per_day_answer_like_the_events(backend: Backend) {
    let (app, clock) = TestApp::spawn_with_clock(backend).await;
    let key = app.key("audit.read,audit.write").await;
    let admin = app.key("admin").await;
    record_inputs(&app, &key, &inputs(200, 5)).await;
    assert_eq!(day_counts_differ(app.store.db()).await, 0);

    type Within = fn(DateTime<Utc>) -> bool;
    let ranges: [(Value, Within); 7] = [
        (json!(null), |_| true),
        (json!({ "occurredAt": { "gte": "2026-02-28T00:00:00Z", "lt": "2026-03-03T00:00:00Z" } }), |t| {
            t >= at("2026-02-28T00:00:00Z") && t < at("2026-03-03T00:00:00Z")
        }),
        (json!({ "occurredAt": { "gte": "2026-02-28T05:30:00Z", "lte": "2026-03-03T17:15:00.5Z" } }), |t| {
            t >= at("2026-02-28T05:30:00Z") && t <= at("2026-03-03T17:15:00.5Z")
        }),
        (json!({ "occurredAt": { "gt": "2026-03-01T00:00:00Z" } }), |t| t > at("2026-03-01T00:00:00Z")),
        (json!({ "occurredAt": { "lt": "2026-03-02T12:00:00Z" } }), |t| t < at("2026-03-02T12:00:00Z")),
        // Within one day: counted from the events alone.
        (json!({ "occurredAt": { "gte": "2026-03-01T03:00:00Z", "lt": "2026-03-01T20:00:00Z" } }), |t| {
            t >= at("2026-03-01T03:00:00Z") && t < at("2026-03-01T20:00:00Z")
        }),
        (
            json!({ "and": [{ "occurredAt": { "gte": "2026-02-27T23:00:00Z" } }, { "occurredAt": { "lt": "2026-03-04T01:00:00Z" } }] }),
            |t| t >= at("2026-02-27T23:00:00Z") && t < at("2026-03-04T01:00:00Z"),
        ),
    ];
    let shapes: &[(&[&str], Option<&str>, usize)] = &[
        (&[], None, 20),
        (&["ACTION"], None, 20),
        (&["OUTCOME"], None, 20),
        (&["ACTOR"], None, 3),
        (&[], Some("DAY"), 20),
        (&[], Some("WEEK"), 20),
        (&[], Some("MONTH"), 20),
        (&["ACTION"], Some("DAY"), 3),
        (&["ACTOR"], Some("WEEK"), 2),
        (&["OUTCOME"], Some("MONTH"), 20),
    ];
    let compare = async |when: &str| {
        let seen = read_back(&app, &key).await;
        for (filter, within) in &ranges {
            let matching: Vec<&Seen> = seen.iter().filter(|e| within(e.occurred)).collect();
            for (dims, interval, limit) in shapes {
                let got = stats(&app, &key, json!({ "f": filter, "g": dims, "i": interval, "l": limit })).await;
                let want = expected(&matching, dims, *interval, false, *limit);
                assert_eq!(answer(&got), want, "{when}: {filter} {dims:?} {interval:?}");
            }
        }
    };
    compare("recorded").await;

    // One statement, where SQLite would group the events in three.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = app.statements();
    stats(&app, &key, json!({ "g": ["ACTOR"], "l": 5 })).await;
    assert_eq!(app.statements() - before, 1, "statements of one stats call from the counts");
    // A viewer token of the whole tenant (the console's) is answered alike.
    let token = app.viewer_token(&key, json!({}), 600).await;
    for vars in [json!({ "g": ["ACTOR"], "l": 5 }), json!({ "i": "DAY" })] {
        assert_eq!(stats(&app, &token, vars.clone()).await, stats(&app, &key, vars).await);
    }

    // A purge takes the first events out of the counts, and only them.
    let set = "mutation { setTenantRetention(input: { tenant: \"acme\", retentionDays: 1 }) { retentionDays } }";
    app.data(&admin, set, json!({})).await;
    clock.advance(chrono::Duration::hours(49));
    record_inputs(&app, &key, &inputs(120, 6)).await;
    let options = retention::PurgeOptions { dry_run: false, grace: Some(chrono::Duration::hours(24)) };
    let report = retention::purge(&app.store, &Bus::new(1), app.store.now(), options).await.unwrap();
    assert_eq!(report.tenants.iter().map(|t| t.count).sum::<i64>(), 200, "{report:?}");
    assert_eq!(day_counts_differ(app.store.db()).await, 0);
    compare("purged").await;
}
