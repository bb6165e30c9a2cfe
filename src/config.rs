//! Settings, from flags with environment fallbacks. Every default is
//! documented in the README's configuration table.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::graphql::Limits;
use crate::store::DbSettings;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://auditgraph.db?mode=rwc";
const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(5);

/// Where the database is (accepted by every command).
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(long, env = "AUDITGRAPH_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "AUDITGRAPH_DB_POOL_SIZE", default_value_t = 8, global = true)]
    pub db_pool_size: u32,

    /// The master key that wraps every actor's data key (a file that
    /// `auditgraph datakey FILE` writes). Without it the server keeps a
    /// master key in the database, where a copy of the database holds
    /// everything needed to read the sealed personal data.
    #[arg(long, env = "AUDITGRAPH_DATA_KEY", global = true)]
    pub data_key: Option<std::path::PathBuf>,
}

impl DatabaseArgs {
    pub fn settings(&self) -> DbSettings {
        DbSettings {
            url: self.database_url.clone(),
            pool_size: self.db_pool_size.max(1),
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: None,
            read_urls: Vec::new(),
            max_replica_lag: DEFAULT_MAX_REPLICA_LAG,
            clock: Default::default(),
            data_key: self.data_key.clone(),
        }
    }
}

/// How the server listens and what it allows.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "AUDITGRAPH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Serve `/metrics` on this address instead of on `--listen` (e.g. a port
    /// kept off the public network).
    #[arg(long, env = "AUDITGRAPH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Export traces over OTLP/HTTP (protobuf) to this collector URL, e.g.
    /// `http://localhost:4318` (spans go to `<URL>/v1/traces`); off by default.
    #[arg(long, env = "AUDITGRAPH_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// A browser origin allowed by CORS (repeatable; none by default).
    #[arg(long = "cors-origin", env = "AUDITGRAPH_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Deepest selection nesting a query may have.
    #[arg(long, env = "AUDITGRAPH_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,

    /// Largest query complexity (a connection costs its page size times its selection).
    #[arg(long, env = "AUDITGRAPH_MAX_COMPLEXITY", default_value_t = 50_000)]
    pub max_complexity: usize,

    /// What each `totalCount` adds to a query's complexity (multiplied by the
    /// page sizes above it, like any field).
    #[arg(long, env = "AUDITGRAPH_COUNT_COST", default_value_t = crate::graphql::complexity::DEFAULT_COUNT_COST)]
    pub count_cost: usize,

    /// Most aliases one query may use.
    #[arg(long, env = "AUDITGRAPH_MAX_ALIASES", default_value_t = 100)]
    pub max_aliases: usize,

    /// Most field selections a document may make once its fragments are
    /// expanded (`__typename` included), checked before validation.
    #[arg(long, env = "AUDITGRAPH_MAX_SELECTIONS", default_value_t = crate::graphql::selection_count::DEFAULT_MAX_SELECTIONS)]
    pub max_selections: usize,

    /// Largest request body in bytes (larger: HTTP 413).
    #[arg(long, env = "AUDITGRAPH_MAX_BODY_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a request may take before it is answered with HTTP 408.
    #[arg(long, env = "AUDITGRAPH_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Turn off introspection (the schema and the playground's documentation).
    #[arg(long, env = "AUDITGRAPH_NO_INTROSPECTION")]
    pub no_introspection: bool,

    /// Milliseconds a verified API key is trusted before it is looked up again
    /// (a key revoked on another replica stops working within this time).
    #[arg(long, env = "AUDITGRAPH_AUTH_CACHE_MS", default_value_t = 5_000)]
    pub auth_cache_ms: u64,

    /// Batches of events buffered for each subscriber before it is dropped as too slow.
    #[arg(long, env = "AUDITGRAPH_SUBSCRIBER_BUFFER", default_value_t = 1_024)]
    pub subscriber_buffer: usize,

    /// Seconds between WebSocket pings; a client silent for three of them is dropped.
    #[arg(long, env = "AUDITGRAPH_WS_KEEPALIVE_SECS", default_value_t = 15)]
    pub ws_keepalive_secs: u64,

    /// Requests per second allowed per API key (token bucket; 0, the default, turns limiting off).
    #[arg(long, env = "AUDITGRAPH_RATE_LIMIT_PER_SECOND", default_value_t = 0.0)]
    pub rate_limit_per_second: f64,

    /// Requests a key may make in a burst above its rate.
    #[arg(long, env = "AUDITGRAPH_RATE_LIMIT_BURST", default_value_t = 50)]
    pub rate_limit_burst: u32,

    /// WebSocket connections one API key may hold open at once.
    #[arg(long, env = "AUDITGRAPH_WS_MAX_CONNECTIONS_PER_KEY", default_value_t = 32)]
    pub ws_max_connections_per_key: usize,

    /// Seconds a WebSocket has to send `connection_init` before it is closed (4408).
    #[arg(long, env = "AUDITGRAPH_WS_INIT_TIMEOUT_SECS", default_value_t = 10)]
    pub ws_init_timeout_secs: u64,

    /// Operations (subscriptions, queries, mutations) one WebSocket may run at once.
    #[arg(long, env = "AUDITGRAPH_WS_MAX_OPERATIONS", default_value_t = 100)]
    pub ws_max_operations: usize,

    #[command(flatten)]
    pub ledger: LedgerArgs,

    #[command(flatten)]
    pub streams: StreamArgs,

    #[command(flatten)]
    pub replicas: ReplicaArgs,
}

/// Hot standbys that answer reads (PostgreSQL).
#[derive(clap::Args, Clone, Debug)]
pub struct ReplicaArgs {
    /// A PostgreSQL hot standby of the database that answers reads: pages,
    /// counts, look-ups, exports (repeatable; the environment variable takes a
    /// comma-separated list).
    #[arg(long = "read-database-url", env = "AUDITGRAPH_READ_DATABASE_URL", value_delimiter = ',')]
    pub read_database_urls: Vec<String>,

    /// A replica further behind the primary than this (e.g. `5s`) gets no
    /// reads until it catches up.
    #[arg(long, env = "AUDITGRAPH_MAX_REPLICA_LAG", default_value = "5s", value_parser = humantime::parse_duration)]
    pub max_replica_lag: Duration,
}

/// How event streams are checked and delivered.
#[derive(clap::Args, Clone, Debug)]
pub struct StreamArgs {
    /// An address range event streams may reach although it is loopback,
    /// private, link-local or another refused class, as CIDR (`10.0.0.0/8`)
    /// or one address (repeatable).
    #[arg(
        long = "allow-stream-destination",
        env = "AUDITGRAPH_ALLOW_STREAM_DESTINATION",
        value_delimiter = ',',
        value_parser = crate::domain::address_policy::parse_range
    )]
    pub allow_stream_destinations: Vec<ipnet::IpNet>,

    /// Event streams one tenant may have, and as many alert rules.
    #[arg(long, env = "AUDITGRAPH_MAX_STREAMS_PER_TENANT", default_value_t = crate::streams::DEFAULT_MAX_PER_TENANT)]
    pub max_streams_per_tenant: usize,

    /// How often the deliverer looks for events to deliver (e.g. `250ms`).
    #[arg(long, env = "AUDITGRAPH_STREAM_POLL", default_value = "250ms", value_parser = humantime::parse_duration)]
    pub stream_poll: Duration,

    /// The longest wait between attempts at a failing destination.
    #[arg(long, env = "AUDITGRAPH_STREAM_BACKOFF_CAP", default_value = "60s", value_parser = humantime::parse_duration)]
    pub stream_backoff_cap: Duration,

    /// How long one delivery request may take.
    #[arg(long, env = "AUDITGRAPH_STREAM_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub stream_timeout: Duration,

    /// How long a replica's hold on a stream lasts without renewal: how soon
    /// another replica takes over from one that died (at least
    /// `--stream-timeout` plus 5 s). A replica shutting down gives its streams
    /// up at once.
    #[arg(long, env = "AUDITGRAPH_STREAM_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub stream_lease: Duration,
}

impl Default for ServeArgs {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Defaults::parse_from(["auditgraph"]).serve
    }
}

/// How checkpoints are signed and kept.
#[derive(clap::Args, Clone, Debug)]
pub struct LedgerArgs {
    /// The checkpoint signing key: a file holding a note private key
    /// (`PRIVATE+KEY+…`, as `auditgraph keygen` writes it). Without it the server
    /// generates one and keeps it in the database, where anyone who can write
    /// the database could use it to forge checkpoints.
    #[arg(long, env = "AUDITGRAPH_SIGNING_KEY")]
    pub signing_key: Option<std::path::PathBuf>,

    /// The log origin: checkpoints name `<origin>/<tenant ID>`.
    #[arg(long, env = "AUDITGRAPH_LOG_ORIGIN", default_value = "auditgraph")]
    pub log_origin: String,

    /// How often a checkpoint is persisted for every tenant whose tree grew
    /// (e.g. `60s`, `5m`); one is also persisted at shutdown.
    #[arg(long, env = "AUDITGRAPH_CHECKPOINT_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub checkpoint_interval: Duration,

    /// How often events past their tenant's retention are purged (e.g. `1h`).
    #[arg(long, env = "AUDITGRAPH_PURGE_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub purge_interval: Duration,

    /// How long a change that shortens retention or lifts a legal hold waits
    /// before the purge applies it: until then the most protective setting in
    /// force at any moment of this period applies (e.g. `24h`).
    #[arg(long, env = "AUDITGRAPH_RETENTION_GRACE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub retention_grace: Duration,

    /// A witness (c2sp.org/tlog-witness) every persisted checkpoint is
    /// submitted to, as `URL#VERIFIER_KEY`: its submission prefix and its
    /// cosigner key (repeatable; the environment variable takes entries
    /// separated by spaces).
    #[arg(long = "witness", env = "AUDITGRAPH_WITNESS", value_delimiter = ' ')]
    pub witnesses: Vec<String>,

    /// How many of the witnesses must cosign a checkpoint for it to count as
    /// witnessed (default: all of them).
    #[arg(long, env = "AUDITGRAPH_WITNESS_QUORUM")]
    pub witness_quorum: Option<usize>,
}

/// Everything `serve` needs, resolved.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub db: DbSettings,
    pub listen: SocketAddr,
    /// Where `/metrics` is served when not on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    pub cors_origins: Vec<String>,
    pub limits: Limits,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub auth_cache_ttl: Duration,
    pub subscriber_buffer: usize,
    pub ws_keepalive: Duration,
    pub ws_max_connections_per_key: usize,
    /// How long a WebSocket may wait before sending `connection_init`.
    pub ws_init_timeout: Duration,
    /// Operations one WebSocket may run at once.
    pub ws_max_operations: usize,
    /// (requests per second, burst) per key, when limiting is on.
    pub rate_limit: Option<(f64, u32)>,
    pub ledger: LedgerArgs,
    pub streams: crate::streams::StreamSettings,
}

impl ServeSettings {
    pub fn new(db: &DatabaseArgs, serve: &ServeArgs) -> Self {
        let request_timeout = Duration::from_secs(serve.request_timeout_secs.max(1));
        Self {
            // No statement outlives the request that sent it.
            db: DbSettings {
                statement_timeout: Some(request_timeout),
                read_urls: serve
                    .replicas
                    .read_database_urls
                    .iter()
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect(),
                max_replica_lag: serve.replicas.max_replica_lag,
                clock: Default::default(),
                ..db.settings()
            },
            listen: serve.listen,
            metrics_listen: serve.metrics_listen,
            cors_origins: serve.cors_origins.iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect(),
            limits: Limits {
                depth: serve.max_depth,
                complexity: serve.max_complexity,
                aliases: serve.max_aliases,
                selections: serve.max_selections,
                count_cost: serve.count_cost,
                introspection: !serve.no_introspection,
            },
            max_body_bytes: serve.max_body_bytes,
            request_timeout,
            auth_cache_ttl: Duration::from_millis(serve.auth_cache_ms),
            subscriber_buffer: serve.subscriber_buffer,
            ws_keepalive: Duration::from_secs(serve.ws_keepalive_secs.max(1)),
            ws_max_connections_per_key: serve.ws_max_connections_per_key,
            ws_init_timeout: Duration::from_secs(serve.ws_init_timeout_secs.max(1)),
            ws_max_operations: serve.ws_max_operations.max(1),
            rate_limit: (serve.rate_limit_per_second > 0.0)
                .then_some((serve.rate_limit_per_second, serve.rate_limit_burst)),
            ledger: serve.ledger.clone(),
            streams: crate::streams::StreamSettings {
                destinations: crate::streams::resolver::Destinations {
                    policy: crate::domain::address_policy::AddressPolicy::allowing(
                        serve.streams.allow_stream_destinations.clone(),
                    ),
                    ..Default::default()
                },
                max_per_tenant: serve.streams.max_streams_per_tenant,
                poll: serve.streams.stream_poll,
                backoff_cap: serve.streams.stream_backoff_cap,
                request_timeout: serve.streams.stream_timeout.max(Duration::from_millis(100)),
                lease: serve.streams.stream_lease,
            },
        }
    }

    /// Defaults for `url`, listening on a free loopback port (tests, tools).
    pub fn for_url(url: &str) -> Self {
        let db = DatabaseArgs { database_url: url.to_string(), db_pool_size: 8, data_key: None };
        let serve = ServeArgs { listen: "127.0.0.1:0".parse().expect("valid address"), ..ServeArgs::default() };
        Self::new(&db, &serve)
    }
}
