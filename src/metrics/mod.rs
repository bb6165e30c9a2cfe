//! Metrics in the Prometheus text format, kept with atomics: the few series an
//! operator needs, without a metrics framework.

pub mod exposition;
pub mod process;
pub mod witnesses;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use exposition::{Exposition, Kind};
use process::ProcessStats;

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
    /// Checkpoint submissions to witnesses.
    pub witnesses: witnesses::WitnessMetrics,
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

    /// Renders every family: this process's counters, the pool, the build and
    /// the process.
    pub fn render(&self, pool: PoolStats) -> String {
        let mut out = Exposition::default();
        self.render_counters(&mut out);
        self.witnesses.render(&mut out);
        pool.render(&mut out);
        out.family("auditgraph_build_info", Kind::Gauge, "The running build; always 1.").sample(
            &[("version", env!("CARGO_PKG_VERSION")), ("os", std::env::consts::OS), ("arch", std::env::consts::ARCH)],
            1,
        );
        ProcessStats::read().render(&mut out);
        out.finish()
    }

    fn render_counters(&self, out: &mut Exposition) {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        out.family("auditgraph_db_statements_total", Kind::Counter, "SQL statements sent to the database.")
            .sample(&[], self.db_statements());
        out.family("auditgraph_db_statement_errors_total", Kind::Counter, "SQL statements that failed.")
            .sample(&[], load(&self.db_statement_errors));
        out.family("auditgraph_events_recorded_total", Kind::Counter, "Audit events stored (duplicates excluded).")
            .sample(&[], load(&self.events_recorded));
        let mut requests = out.family(
            "auditgraph_graphql_requests_total",
            Kind::Counter,
            "GraphQL requests by operation type and outcome.",
        );
        for ((op, outcome), n) in self.requests.lock().unwrap().iter() {
            requests.sample(&[("operation", op), ("outcome", outcome)], n);
        }
        out.family("auditgraph_subscriptions_active", Kind::Gauge, "Subscription streams running.")
            .sample(&[], self.subscriptions());

        let h = self.latency.lock().unwrap();
        let mut latency =
            out.family("auditgraph_graphql_request_duration_seconds", Kind::Histogram, "GraphQL request latency.");
        for (n, bound) in h.buckets.iter().zip(LATENCY_BUCKETS) {
            latency.suffixed("_bucket", &[("le", &bound.to_string())], n);
        }
        latency.suffixed("_bucket", &[("le", "+Inf")], h.count).suffixed("_sum", &[], h.sum).suffixed(
            "_count",
            &[],
            h.count,
        );
        drop(h);

        let streams = self.streams.lock().unwrap();
        for (name, help, kind, value) in [
            (
                "auditgraph_stream_delivered_events_total",
                "Events an event stream's destination took.",
                Kind::Counter,
                (|s: &StreamStats| s.delivered) as fn(&StreamStats) -> u64,
            ),
            (
                "auditgraph_stream_failed_attempts_total",
                "Failed delivery attempts of an event stream.",
                Kind::Counter,
                |s| s.failed,
            ),
            ("auditgraph_stream_lag_events", "Events an event stream has yet to examine.", Kind::Gauge, |s| s.lag),
        ] {
            let mut family = out.family(name, kind, help);
            for (stream, stats) in streams.iter() {
                family.sample(&[("stream", stream)], value(stats));
            }
        }
    }
}

/// A database pool's connections: in use and idle now, and its capacity.
#[derive(Clone, Copy, Debug)]
pub struct PoolStats {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

impl PoolStats {
    fn render(&self, out: &mut Exposition) {
        out.family("auditgraph_db_pool_connections", Kind::Gauge, "Database pool connections by state.")
            .sample(&[("state", "in_use")], self.in_use)
            .sample(&[("state", "idle")], self.idle);
        out.family("auditgraph_db_pool_max_connections", Kind::Gauge, "Most connections the database pool opens.")
            .sample(&[], self.max);
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
pub fn render_databases(databases: &[crate::domain::database_status::DatabaseStatus]) -> String {
    let mut out = Exposition::default();
    let replicas = || databases.iter().filter(|db| db.replica.is_some());
    let mut up =
        out.family("auditgraph_db_up", Kind::Gauge, "Whether the database answered its last check (1) or not (0).");
    for db in databases {
        up.sample(&[("database", &db.name)], u8::from(db.up));
    }
    let mut lag = out.family(
        "auditgraph_db_replica_lag_seconds",
        Kind::Gauge,
        "How far a read replica's replay trails the primary.",
    );
    for db in databases {
        if let Some(behind) = db.lag {
            lag.sample(&[("database", &db.name)], behind.as_secs_f64());
        }
    }
    let mut serving = out.family(
        "auditgraph_db_replica_serving",
        Kind::Gauge,
        "Whether reads go to the read replica now (up and within --max-replica-lag).",
    );
    for db in replicas() {
        serving.sample(&[("database", &db.name)], u8::from(db.serving));
    }
    let mut reads = out.family(
        "auditgraph_db_reads_total",
        Kind::Counter,
        "Read statements (pages, counts, look-ups, exports) by the database that answered them.",
    );
    for db in databases {
        reads.sample(&[("database", &db.name)], db.reads);
    }
    let mut fallbacks = out.family(
        "auditgraph_db_read_fallbacks_total",
        Kind::Counter,
        "Read statements that failed on a read replica and were answered by the primary.",
    );
    for db in replicas() {
        fallbacks.sample(&[("database", &db.name)], db.fallbacks);
    }
    out.finish()
}
