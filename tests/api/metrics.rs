//! `/metrics` follows Prometheus' conventions: every family has HELP and TYPE,
//! counters end in `_total`, units are suffixes, the pool's capacity is apart
//! from its use; build and process metrics; a separate listen address.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestDb, backend_tests};
use crate::process::{Server, WorkDir};

#[derive(Debug)]
struct Family {
    kind: String,
    samples: Vec<Sample>,
}

#[derive(Debug)]
struct Sample {
    /// The sample's own name: the family's, or a histogram's `_bucket`, `_sum`, `_count`.
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Family {
    fn value(&self, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.iter().find(|s| s.labels == want).map(|s| s.value)
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// `{a="x",b="y\"z"}` → labels and the rest of the line.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("labels open with {")?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (name, after) = rest.split_once("=\"").ok_or_else(|| format!("label without =\": {rest}"))?;
        if !is_name(name, false) || name.starts_with("__") {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} repeated"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        s => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// A strict reader of the text format: HELP then TYPE before a family's
/// samples, each family once and contiguous, valid names, labels and values,
/// no series twice, and the naming conventions.
fn parse(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut help: Option<String> = None;
    let mut series = BTreeSet::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').ok_or_else(|| format!("HELP without text: {line}"))?;
            if families.contains_key(name) || help.is_some() {
                return Err(format!("HELP out of place: {line}"));
            }
            if text.trim().is_empty() {
                return Err(format!("empty HELP: {line}"));
            }
            help = Some(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or_else(|| format!("TYPE without type: {line}"))?;
            if help.as_deref() != Some(name) {
                return Err(format!("TYPE without its HELP just before: {line}"));
            }
            help = None;
            if !is_name(name, true) {
                return Err(format!("bad metric name: {line}"));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("bad type: {line}"));
            }
            // The conventions: counters count in `_total`; a unit is a suffix.
            if (kind == "counter") != name.ends_with("_total") {
                return Err(format!("counters, and only counters, end in _total: {line}"));
            }
            let base = name.strip_suffix("_total").unwrap_or(name);
            for unit in ["seconds", "bytes", "milliseconds", "microseconds"] {
                if base.contains(&format!("_{unit}")) && !base.ends_with(&format!("_{unit}")) {
                    return Err(format!("the unit is not the suffix: {line}"));
                }
            }
            if base.contains("milliseconds") || base.contains("microseconds") || base.contains("_kb") {
                return Err(format!("not a base unit: {line}"));
            }
            families.insert(name.to_string(), Family { kind: kind.to_string(), samples: Vec::new() });
            current = Some(name.to_string());
        } else if line.starts_with('#') {
            return Err(format!("unexpected comment: {line}"));
        } else {
            let family_name = current.as_deref().ok_or_else(|| format!("sample before any TYPE: {line}"))?;
            if help.is_some() {
                return Err(format!("HELP without TYPE before: {line}"));
            }
            let split = line.find(['{', ' ']).ok_or_else(|| format!("sample without value: {line}"))?;
            let (name, rest) = line.split_at(split);
            let (labels, rest) = if rest.starts_with('{') { parse_labels(rest)? } else { (BTreeMap::new(), rest) };
            let value = rest.strip_prefix(' ').ok_or_else(|| format!("no space before the value: {line}"))?;
            let value = parse_value(value)?;
            let family = families.get_mut(family_name).expect("current family");
            let own = match family.kind.as_str() {
                "histogram" => ["", "_bucket", "_sum", "_count"].iter().any(|s| name == format!("{family_name}{s}")),
                _ => name == family_name,
            };
            if !own {
                return Err(format!("sample {name} outside its family {family_name}: {line}"));
            }
            if !series.insert(format!("{name}{labels:?}")) {
                return Err(format!("series twice: {line}"));
            }
            family.samples.push(Sample { name: name.to_string(), labels, value });
        }
    }
    if let Some(name) = help {
        return Err(format!("HELP of {name} without TYPE"));
    }
    // Histograms: cumulative buckets up to +Inf, which equals the count.
    for (name, family) in families.iter().filter(|(_, f)| f.kind == "histogram") {
        let buckets: Vec<&Sample> = family.samples.iter().filter(|s| s.name.ends_with("_bucket")).collect();
        if buckets.windows(2).any(|w| w[0].value > w[1].value) {
            return Err(format!("{name}: buckets not cumulative"));
        }
        let inf = buckets.last().filter(|b| b.labels.get("le").map(String::as_str) == Some("+Inf"));
        let count = family.samples.iter().find(|s| s.name.ends_with("_count")).map(|s| s.value);
        if inf.map(|b| b.value) != count || count.is_none() {
            return Err(format!("{name}: the +Inf bucket is not the count"));
        }
    }
    Ok(families)
}

#[test]
fn the_parser_refuses_what_breaks_the_conventions() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 2\n";
    assert!(parse(good).is_ok(), "{:?}", parse(good));
    for bad in [
        "a_total 1\n",                                                                                 // no TYPE
        "# TYPE a_total counter\na_total 1\n",                                                         // no HELP
        "# HELP a A.\n# TYPE a counter\na 1\n", // counter without _total
        "# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n", // _total gauge
        "# HELP a_seconds_max A.\n# TYPE a_seconds_max gauge\na_seconds_max 1\n", // unit not last
        "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# HELP a_total A.\n", // family twice
        "# HELP a_total A.\n# TYPE a_total counter\nb_total 1\n", // stray sample
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1} 1\n", // open label
        "# HELP a_total A.\n# TYPE a_total counter\na_total x\n", // bad value
        "# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n", // series twice
        "# HELP h A.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_count 2\n", // count
    ] {
        assert!(parse(bad).is_err(), "accepted: {bad}");
    }
}

/// Scrapes `url`, with `admin` (an admin key) on the API's listener.
async fn scrape(client: &reqwest::Client, url: &str, admin: Option<&str>) -> BTreeMap<String, Family> {
    let mut request = client.get(url);
    if let Some(admin) = admin {
        request = request.bearer_auth(admin);
    }
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

async fn metrics_follow_the_prometheus_conventions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.key("audit.read").await;
    app.data(&key, "{ auditEvents { totalCount } }", json!({})).await;
    let admin = app.key("admin").await;
    let families = scrape(&app.client, &app.url("/metrics"), Some(&admin)).await;

    for (name, kind) in [
        ("auditgraph_db_statements_total", "counter"),
        ("auditgraph_db_statement_errors_total", "counter"),
        ("auditgraph_events_recorded_total", "counter"),
        ("auditgraph_graphql_requests_total", "counter"),
        ("auditgraph_graphql_request_duration_seconds", "histogram"),
        ("auditgraph_subscriptions_active", "gauge"),
        ("auditgraph_stream_delivered_events_total", "counter"),
        ("auditgraph_stream_failed_attempts_total", "counter"),
        ("auditgraph_stream_lag_events", "gauge"),
        ("auditgraph_db_pool_connections", "gauge"),
        ("auditgraph_db_pool_max_connections", "gauge"),
        ("auditgraph_build_info", "gauge"),
    ] {
        let family = families.get(name).unwrap_or_else(|| panic!("no {name}: {:?}", families.keys()));
        assert_eq!(family.kind, kind, "{name}");
    }
    let requests = &families["auditgraph_graphql_requests_total"];
    assert!(requests.value(&[("operation", "query"), ("outcome", "ok")]).unwrap_or(0.0) >= 1.0, "{requests:?}");

    // Use apart from capacity: the test pool holds at most 4 connections.
    let pool = &families["auditgraph_db_pool_connections"];
    let states: BTreeSet<&str> =
        pool.samples.iter().filter_map(|s| s.labels.get("state").map(String::as_str)).collect();
    assert_eq!(states, BTreeSet::from(["idle", "in_use"]), "{pool:?}");
    assert_eq!(families["auditgraph_db_pool_max_connections"].value(&[]), Some(4.0));
    let open = pool.value(&[("state", "idle")]).unwrap() + pool.value(&[("state", "in_use")]).unwrap();
    assert!((1.0..=4.0).contains(&open), "{pool:?}");

    let build = &families["auditgraph_build_info"];
    assert_eq!(build.samples.len(), 1, "{build:?}");
    assert_eq!(build.samples[0].value, 1.0);
    assert_eq!(build.samples[0].labels.get("version").map(String::as_str), Some(env!("CARGO_PKG_VERSION")));

    let process: Vec<&String> = families.keys().filter(|n| n.starts_with("process_")).collect();
    if cfg!(target_os = "linux") {
        let value = |name: &str| families.get(name).and_then(|f| f.value(&[])).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(families["process_cpu_seconds_total"].kind, "counter");
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert!(value("process_resident_memory_bytes") > 1024.0 * 1024.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        let (open, max) = (value("process_open_fds"), value("process_max_fds"));
        assert!(open >= 3.0 && max >= open, "{open} of {max}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let started = value("process_start_time_seconds");
        // This test process started it: within the last day, not in the future.
        assert!(started <= now + 1.0 && started > now - 86_400.0, "{started} vs {now}");
    } else {
        assert!(process.is_empty(), "{process:?}");
    }
}

/// `--metrics-listen`: the real binary serves `/metrics` there, and no longer
/// on the API's listener.
async fn metrics_listen_serves_metrics_apart(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = WorkDir::new();
    let server = Server::start_with(&dir, &db.url, &["--metrics-listen", "127.0.0.1:0"]).await;
    let client = reqwest::Client::new();
    let stop = |c: char| c.is_whitespace() || c == '"' || c == '\x1b';
    let announced = {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = server.log.lock().unwrap().clone();
            if let Some(url) =
                log.iter().find_map(|l| l.split("serving metrics on ").nth(1)).and_then(|r| r.split(stop).next())
            {
                break url.to_string();
            }
            assert!(std::time::Instant::now() < deadline, "the metrics address is never logged: {log:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(announced.ends_with("/metrics"), "{announced}");
    assert_ne!(announced, format!("{}/metrics", server.base));
    let families = scrape(&client, &announced, None).await;
    assert!(families.contains_key("auditgraph_build_info"), "{:?}", families.keys());

    let on_api = client.get(format!("{}/metrics", server.base)).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    // …and the metrics address serves nothing else.
    let base = announced.trim_end_matches("/metrics");
    for path in ["/graphql", "/healthz", "/v1/events"] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(client.get(format!("{}/healthz", server.base)).send().await.unwrap().status(), StatusCode::OK);
}

backend_tests!(metrics_follow_the_prometheus_conventions, metrics_listen_serves_metrics_apart,);
