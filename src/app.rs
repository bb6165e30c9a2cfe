//! The application: build the router, bind (port 0 works), serve with
//! graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::auth::Authenticator;
use crate::bus::Bus;
use crate::config::ServeSettings;
use crate::graphql;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::service::Services;
use crate::service::{self, ledger::Ledger};
use crate::store::{Store, redact_url};
use crate::telemetry::{self, REQUEST_ID};

/// How long a browser may cache a CORS preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database at {url}: {source}")]
    Database { url: String, source: sea_orm::DbErr },
    #[error("cannot migrate the database at {url}: {source}")]
    Migrate { url: String, source: sea_orm::DbErr },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot listen for events on {url}: {source}")]
    Listen { url: String, source: sea_orm::sqlx::Error },
    #[error("invalid --cors-origin `{0}`")]
    CorsOrigin(String),
    #[error("cannot prepare the ledger: {}", crate::error::describe(.0))]
    Ledger(crate::error::Error),
    #[error("cannot make the months of the event tables: {}", crate::error::describe(.0))]
    Partitions(crate::error::Error),
    #[error("{0}")]
    ReadReplicas(String),
    #[error("{0}")]
    Witnesses(String),
    #[error("cannot load the data keys' master key: {}", crate::error::describe(.0))]
    DataKey(crate::error::Error),
}

/// Opens and migrates the database.
pub async fn open_store(settings: &ServeSettings, metrics: Arc<Metrics>) -> Result<Store, StartError> {
    let url = redact_url(&settings.db.url);
    crate::store::replicas::check_urls(&settings.db.url, &settings.db.read_urls).map_err(StartError::ReadReplicas)?;
    let store = Store::connect(&settings.db, metrics)
        .await
        .map_err(|source| StartError::Database { url: url.clone(), source })?;
    store.migrate().await.map_err(|source| StartError::Migrate { url, source })?;
    let master =
        service::data_keys::load_master(&store, settings.db.data_key.as_deref()).await.map_err(StartError::DataKey)?;
    store.install_master_key(master);
    // PostgreSQL: this month and the next ones exist before anything records
    // (the purge job makes them again as time goes by).
    crate::store::partitions::ensure_ahead(store.db(), store.now()).await.map_err(StartError::Partitions)?;
    Ok(store)
}

/// The bus for this database: `LISTEN`/`NOTIFY` on PostgreSQL, in-process on SQLite.
pub async fn bus_for(settings: &ServeSettings, store: &Store) -> Result<Bus, StartError> {
    match store.backend() {
        sea_orm::DbBackend::Postgres => Bus::listen_postgres(&settings.db.url, settings.subscriber_buffer)
            .await
            .map_err(|e| StartError::Listen { url: redact_url(&settings.db.url), source: e }),
        _ => Ok(Bus::new(settings.subscriber_buffer)),
    }
}

/// The checkpoint signer: builds the trees of events stored before the ledger
/// existed, then loads (or generates) the signing key.
pub async fn ledger_for(settings: &ServeSettings, store: &Store) -> Result<Arc<Ledger>, StartError> {
    service::ledger::catch_up(store).await.map_err(StartError::Ledger)?;
    let signer = service::ledger::load_signer(store, settings.ledger.signing_key.as_deref())
        .await
        .map_err(StartError::Ledger)?;
    let witnesses = service::witnesses::WitnessSet::parse(&settings.ledger.witnesses, settings.ledger.witness_quorum)
        .map_err(StartError::Witnesses)?;
    Ok(Arc::new(Ledger::new(signer, &settings.ledger.log_origin).with_witnesses(Arc::new(witnesses))))
}

/// The API's router and, with `--metrics-listen`, the one `/metrics` is
/// served by instead.
pub struct Routers {
    pub api: Router,
    pub metrics: Option<Router>,
}

/// Builds the routers over an open store.
pub fn router(
    settings: &ServeSettings,
    store: Store,
    bus: Bus,
    metrics: Arc<Metrics>,
    ledger: Arc<Ledger>,
    draining: Arc<AtomicBool>,
    alerts: Arc<service::alert_evaluation::Watch>,
) -> Result<Routers, StartError> {
    let services = Services {
        auth: Arc::new(Authenticator::new(store.clone(), settings.auth_cache_ttl)),
        bus,
        store,
        metrics,
        ledger,
        streams: settings.streams.clone(),
        alerts,
    };
    let state = AppState {
        schema: graphql::build(services.clone(), &settings.limits),
        services,
        settings: Arc::new(settings.clone()),
        documents: Arc::default(),
        ws_connections: Arc::new(http::ws::Connections::new(settings.ws_max_connections_per_key)),
        draining,
        rate_limiter: settings
            .rate_limit
            .map(|(per_second, burst)| Arc::new(http::rate_limit::RateLimiter::new(per_second, burst))),
    };

    let origins = settings
        .cors_origins
        .iter()
        .map(|o| HeaderValue::from_str(o).map_err(|_| StartError::CorsOrigin(o.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    // Without configured origins there is no CORS layer at all: browsers on
    // other origins are refused by their same-origin policy.
    let cors = (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static(crate::auth::TENANT_HEADER),
                REQUEST_ID,
                // W3C trace context, so browser traces continue on the server.
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("tracestate"),
                // What Apollo Client and Apollo's tooling send.
                HeaderName::from_static("apollographql-client-name"),
                HeaderName::from_static("apollographql-client-version"),
                HeaderName::from_static("apollo-require-preflight"),
                HeaderName::from_static("x-apollo-operation-name"),
            ])
            .expose_headers([REQUEST_ID])
            .max_age(CORS_MAX_AGE)
    });

    // One line per request, in a span carrying the request and trace IDs:
    // every log line written while serving it names them.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<_>| telemetry::request_span(req))
        .on_request(())
        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Micros));

    // Scrapes on their own address never reach the API's listener; there,
    // `/metrics` is for admin keys.
    let (on_api, apart) = match settings.metrics_listen {
        None => (Router::new().route("/metrics", get(http::ops::metrics_for_admins)), None),
        Some(_) => {
            let scrape = Router::new().route("/metrics", get(http::ops::metrics));
            (Router::new(), Some(scrape.with_state(state.clone())))
        }
    };
    let api = Router::new()
        .route("/graphql", get(http::graphql::get).post(http::graphql::post))
        .route("/graphql/ws", get(http::ws::upgrade))
        .route("/", get(http::console::root))
        .route("/console", get(http::console::console))
        .route("/console/", get(http::console::console))
        .route("/console/assets/{name}", get(http::console::asset).layer(CompressionLayer::new()))
        .route("/export", get(http::export::get))
        .route("/healthz", get(http::ops::healthz))
        .route("/readyz", get(http::ops::readyz))
        .merge(on_api)
        .merge(crate::rest::router())
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(axum::middleware::map_response(http::close_after_refused_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(tower::util::option_layer(cors))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    Ok(Routers { api, metrics: apart })
}

/// A handler panicked: the caller gets `INTERNAL`, the log gets the detail.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    let body = r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#;
    (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A bound, not yet serving application.
pub struct App {
    pub listener: TcpListener,
    pub router: Router,
    /// `/metrics` on its own address (`--metrics-listen`).
    pub metrics_listener: Option<(TcpListener, Router)>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub ledger: Arc<Ledger>,
    bus: Bus,
    draining: Arc<AtomicBool>,
    checkpoint_interval: Duration,
    purge_interval: Duration,
    retention_grace: Duration,
    streams: crate::streams::StreamSettings,
    alerts: Arc<service::alert_evaluation::Watch>,
    /// Whether older events may still lack their search words.
    words_pending: bool,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
}

/// Runs `job` every `interval` (the first time one interval from now) until
/// the returned task is aborted; a failed run is logged and tried next time.
fn every<F, Fut>(interval: Duration, what: &'static str, job: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = crate::error::Result<()>> + Send,
{
    let interval = interval.max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            ticks.tick().await;
            if let Err(e) = job().await {
                tracing::warn!(error = %crate::error::describe(&e), "{what} failed; will retry");
            }
        }
    })
}

impl App {
    /// Opens the database, migrates it, builds the router and binds.
    pub async fn build(settings: &ServeSettings) -> Result<App, StartError> {
        let metrics = Arc::new(Metrics::default());
        let store = open_store(settings, metrics.clone()).await?;
        let bus = bus_for(settings, &store).await?;
        let ledger = ledger_for(settings, &store).await?;
        // Replicas found healthy now take reads from the first request on.
        store.check_replicas().await;
        // Looked at once here, so a server without older events never starts
        // the job (should the look fail, the job runs and finds out).
        let words_pending = service::word_backfill::pending(&store).await.unwrap_or(true);
        let draining = Arc::new(AtomicBool::new(false));
        let alerts = Arc::new(service::alert_evaluation::Watch::default());
        let routers = router(
            settings,
            store.clone(),
            bus.clone(),
            metrics.clone(),
            ledger.clone(),
            draining.clone(),
            alerts.clone(),
        )?;
        let listener = bind(settings.listen).await?;
        let metrics_listener = match settings.metrics_listen.zip(routers.metrics) {
            Some((addr, router)) => Some((bind(addr).await?, router)),
            None => None,
        };
        Ok(App {
            listener,
            router: routers.api,
            metrics_listener,
            store,
            metrics,
            ledger,
            bus,
            draining,
            checkpoint_interval: settings.ledger.checkpoint_interval,
            purge_interval: settings.ledger.purge_interval,
            retention_grace: settings.ledger.retention_grace,
            streams: settings.streams.clone(),
            alerts,
            words_pending,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Where `/metrics` is served when it has its own listener.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(l, _)| l.local_addr().expect("a bound listener has an address"))
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests and
    /// persists a last checkpoint of every tree that grew. Meanwhile checkpoints
    /// are persisted every `--checkpoint-interval`, retention is applied (and,
    /// on PostgreSQL, the months ahead are made) every `--purge-interval`, and
    /// event streams are delivered.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        if let Some(addr) = self.metrics_addr() {
            tracing::info!("serving metrics on http://{addr}/metrics");
        }
        // Witnesses hear of each checkpoint persisted (and look every interval anyway).
        let (persisted, persisted_rx) = tokio::sync::watch::channel(0u64);
        let persisted = Arc::new(persisted);
        let witness_submissions = service::witness_submissions::Submissions::new(
            self.store.clone(),
            self.ledger.witnesses().clone(),
            self.metrics.clone(),
            self.checkpoint_interval,
        )
        .spawn(&persisted_rx);
        let (store, ledger) = (self.store.clone(), self.ledger.clone());
        let checkpoints = every(self.checkpoint_interval, "persisting checkpoints", move || {
            let (store, ledger, persisted) = (store.clone(), ledger.clone(), persisted.clone());
            async move {
                if ledger.persist_grown(&store).await? > 0 {
                    persisted.send_modify(|n| *n += 1);
                }
                Ok(())
            }
        });
        let (store, bus) = (self.store.clone(), self.bus.clone());
        let grace = chrono::Duration::from_std(self.retention_grace).ok();
        let options = service::retention::PurgeOptions { dry_run: false, grace };
        let purges = every(self.purge_interval, "the retention purge", move || {
            let (store, bus) = (store.clone(), bus.clone());
            async move { service::retention::purge(&store, &bus, store.now(), options).await.map(|_| ()) }
        });
        let replicas = self.store.watch_replicas();
        let word_backfill = self.words_pending.then(|| tokio::spawn(service::word_backfill::run(self.store.clone())));
        // The deliverer stops as soon as shutdown begins (not after the requests
        // drain) and gives its leases up, so another replica takes over at once.
        let (stop_deliveries, stop) = tokio::sync::watch::channel(false);
        let evaluator = service::alert_evaluation::Evaluator::new(
            self.store.clone(),
            self.bus.clone(),
            self.alerts.clone(),
            self.streams.lease_ttl(),
            self.streams.poll,
        );
        let evaluator = tokio::spawn(evaluator.run(stop.clone()));
        let deliveries = service::deliveries::Deliveries::new(self.store.clone(), self.streams.lease_ttl());
        let deliverer =
            crate::service::stream_deliverer::Deliverer::new(deliveries, self.metrics.clone(), self.streams);
        let deliverer = tokio::spawn(deliverer.run(stop));
        // Scrapes are short and answered until the API has drained.
        let metrics_server = self
            .metrics_listener
            .map(|(listener, router)| tokio::spawn(async move { axum::serve(listener, router).await }));
        let draining = self.draining.clone();
        let shutdown = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = stop_deliveries.send(true);
        };
        let served = axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await;
        checkpoints.abort();
        purges.abort();
        if let Some(backfill) = word_backfill {
            backfill.abort();
        }
        witness_submissions.iter().for_each(|task| task.abort());
        let _ = deliverer.await;
        let _ = evaluator.await;
        if let Some(server) = metrics_server {
            server.abort();
        }
        if let Some(replicas) = replicas {
            replicas.abort();
        }
        if let Err(e) = self.ledger.persist_grown(&self.store).await {
            tracing::error!(error = %e, "could not persist the last checkpoints");
        }
        served
    }
}
