//! Process metrics in the Prometheus text format, kept with atomics: the few
//! series an operator needs, without a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    db_statements: AtomicU64,
    db_statement_errors: AtomicU64,
    events_recorded: AtomicU64,
    subscriptions: AtomicU64,
    /// (operation type, outcome) → count
    requests: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    latency: Mutex<Histogram>,
    /// Event stream ID → its delivery counts.
    streams: Mutex<BTreeMap<String, StreamStats>>,
}

/// What one event stream delivered, failed and still has to deliver.
#[derive(Default)]
struct StreamStats {
    delivered: u64,
    failed: u64,
    lag: u64,
}

impl Metrics {
    pub fn db_statement(&self, failed: bool) {
        self.db_statements.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.db_statement_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn db_statements(&self) -> u64 {
        self.db_statements.load(Ordering::Relaxed)
    }

    pub fn events_recorded(&self, n: u64) {
        self.events_recorded.fetch_add(n, Ordering::Relaxed);
    }

    /// A subscription stream started; it counts until the returned guard drops.
    pub fn subscription_started(self: &std::sync::Arc<Self>) -> SubscriptionGuard {
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
        SubscriptionGuard(self.clone())
    }

    /// Subscription streams running now.
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed)
    }

    /// One GraphQL request: its operation type (`query`, `mutation`, …) and outcome.
    pub fn request(&self, operation: &'static str, outcome: &'static str, elapsed: Duration) {
        *self.requests.lock().unwrap().entry((operation, outcome)).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut h = self.latency.lock().unwrap();
        h.count += 1;
        h.sum += secs;
        for (bucket, bound) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
    }

    /// Events an event stream's destination took.
    pub fn stream_delivered(&self, stream: &str, n: u64) {
        self.streams.lock().unwrap().entry(stream.to_string()).or_default().delivered += n;
    }

    /// A failed delivery attempt of an event stream.
    pub fn stream_failed(&self, stream: &str) {
        self.streams.lock().unwrap().entry(stream.to_string()).or_default().failed += 1;
    }

    /// Events an event stream has yet to examine.
    pub fn stream_lag(&self, stream: &str, lag: u64) {
        self.streams.lock().unwrap().entry(stream.to_string()).or_default().lag = lag;
    }

    /// Renders every series; `pool` is (connections in use, idle, max).
    pub fn render(&self, pool: (u32, u32, u32)) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            &mut out,
            "auditgraph_db_statements_total",
            "SQL statements sent to the database.",
            self.db_statements(),
        );
        counter(
            &mut out,
            "auditgraph_db_statement_errors_total",
            "SQL statements that failed.",
            self.db_statement_errors.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "auditgraph_events_recorded_total",
            "Audit events stored (duplicates excluded).",
            self.events_recorded.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP auditgraph_graphql_requests_total GraphQL requests by operation type and outcome.\n# TYPE auditgraph_graphql_requests_total counter"
        );
        for ((op, outcome), n) in self.requests.lock().unwrap().iter() {
            let _ = writeln!(out, "auditgraph_graphql_requests_total{{operation=\"{op}\",outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP auditgraph_subscriptions_active Subscription streams running.\n# TYPE auditgraph_subscriptions_active gauge\nauditgraph_subscriptions_active {}",
            self.subscriptions()
        );
        let h = self.latency.lock().unwrap();
        let _ = writeln!(
            out,
            "# HELP auditgraph_graphql_request_duration_seconds GraphQL request latency.\n# TYPE auditgraph_graphql_request_duration_seconds histogram"
        );
        for (n, bound) in h.buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(out, "auditgraph_graphql_request_duration_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "auditgraph_graphql_request_duration_seconds_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(
            out,
            "auditgraph_graphql_request_duration_seconds_sum {}\nauditgraph_graphql_request_duration_seconds_count {}",
            h.sum, h.count
        );
        let streams = self.streams.lock().unwrap();
        for (name, help, kind, value) in [
            (
                "auditgraph_stream_delivered_events_total",
                "Events an event stream's destination took.",
                "counter",
                (|s: &StreamStats| s.delivered) as fn(&StreamStats) -> u64,
            ),
            (
                "auditgraph_stream_failed_attempts_total",
                "Failed delivery attempts of an event stream.",
                "counter",
                |s| s.failed,
            ),
            ("auditgraph_stream_lag_events", "Events an event stream has yet to examine.", "gauge", |s| s.lag),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (stream, stats) in streams.iter() {
                let _ = writeln!(out, "{name}{{stream=\"{stream}\"}} {}", value(stats));
            }
        }
        drop(streams);
        let (in_use, idle, max) = pool;
        let _ = writeln!(
            out,
            "# HELP auditgraph_db_pool_connections Database pool connections by state.\n# TYPE auditgraph_db_pool_connections gauge"
        );
        let _ = writeln!(
            out,
            "auditgraph_db_pool_connections{{state=\"in_use\"}} {in_use}\nauditgraph_db_pool_connections{{state=\"idle\"}} {idle}\nauditgraph_db_pool_connections{{state=\"max\"}} {max}"
        );
        out
    }
}

/// Counts one running subscription; dropping it uncounts it.
pub struct SubscriptionGuard(std::sync::Arc<Metrics>);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.subscriptions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The series of each database (primary and read replicas), from the
/// replica checks: whether it answers, how far a replica lags, and the read
/// statements each answered.
pub fn render_databases(databases: &[crate::store::DatabaseStatus]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP auditgraph_db_up Whether the database answered its last check (1) or not (0).\n# TYPE auditgraph_db_up gauge"
    );
    for db in databases {
        let _ = writeln!(out, "auditgraph_db_up{{database=\"{}\"}} {}", db.name, u8::from(db.up));
    }
    let _ = writeln!(
        out,
        "# HELP auditgraph_db_replica_lag_seconds How far a read replica's replay trails the primary.\n# TYPE auditgraph_db_replica_lag_seconds gauge"
    );
    for db in databases {
        if let Some(lag) = db.lag {
            let _ =
                writeln!(out, "auditgraph_db_replica_lag_seconds{{database=\"{}\"}} {}", db.name, lag.as_secs_f64());
        }
    }
    let _ = writeln!(
        out,
        "# HELP auditgraph_db_replica_serving Whether reads go to the read replica now (up and within --max-replica-lag).\n# TYPE auditgraph_db_replica_serving gauge"
    );
    for db in databases.iter().filter(|db| db.replica.is_some()) {
        let _ = writeln!(out, "auditgraph_db_replica_serving{{database=\"{}\"}} {}", db.name, u8::from(db.serving));
    }
    let _ = writeln!(
        out,
        "# HELP auditgraph_db_reads_total Read statements (pages, counts, look-ups, exports) by the database that answered them.\n# TYPE auditgraph_db_reads_total counter"
    );
    for db in databases {
        let _ = writeln!(out, "auditgraph_db_reads_total{{database=\"{}\"}} {}", db.name, db.reads);
    }
    let _ = writeln!(
        out,
        "# HELP auditgraph_db_read_fallbacks_total Read statements that failed on a read replica and were answered by the primary.\n# TYPE auditgraph_db_read_fallbacks_total counter"
    );
    for db in databases.iter().filter(|db| db.replica.is_some()) {
        let _ = writeln!(out, "auditgraph_db_read_fallbacks_total{{database=\"{}\"}} {}", db.name, db.fallbacks);
    }
    out
}
