//! Logs and traces. Every HTTP request runs in a `request` span carrying its
//! request ID and its W3C trace ID (the caller's, from `traceparent`, or a
//! fresh one), so every log line written while serving it names both. With an
//! OTLP endpoint, request spans and the spans inside them are exported as
//! OpenTelemetry traces, children of the caller's span; without one there is
//! no exporter and no OpenTelemetry layer at all.

use std::io::IsTerminal as _;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{HeaderMap, HeaderName, Request};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::EnvResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, SdkTracerProvider,
};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The request ID header: taken from the caller or generated, and echoed.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const REQUEST_SPAN: &str = "request";

/// How long finished spans wait to be exported in a batch, unless
/// `OTEL_BSP_SCHEDULE_DELAY` says otherwise (the SDK's own default, 5 s, makes
/// a trace slow to show up).
const EXPORT_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
#[error("invalid --otlp-endpoint `{url}`: {reason}")]
pub struct EndpointError {
    url: String,
    reason: String,
}

/// Installed logging and tracing.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter (call it outside
    /// the async runtime: it waits for the export).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: could not export the last traces: {e}");
        }
    }
}

/// Logs go to stderr; `AUDITGRAPH_LOG` (or `RUST_LOG`) sets the filter. Traces
/// go to `otlp_endpoint` when given.
pub fn init(format: LogFormat, serving: bool, otlp_endpoint: Option<&str>) -> Result<Telemetry, EndpointError> {
    // PostgreSQL's notices ("relation already exists, skipping") are not news.
    let default = if serving { "info,sqlx::postgres::notice=warn" } else { "warn" };
    let filter = EnvFilter::try_from_env("AUDITGRAPH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default))
        // sqlx warns about connection-string parameters it does not know, and
        // about pgpass lines, quoting their values (an `sslpassword`, a
        // password): whatever the filter asks, those warnings are not logged.
        .add_directive("sqlx_postgres::options=error".parse().expect("a valid directive"));
    // Colours for a terminal only: files and log shippers get plain text.
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        // The span list: a line written in a nested span still names the request's IDs.
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(true).with_span_list(true).boxed(),
    };
    let provider = otlp_endpoint.map(exporting_provider).transpose()?;
    // Its own filter: quieter logs do not thin out the traces.
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer().with_tracer(p.tracer("auditgraph")).with_filter(dynamic_filter_fn(traced))
    });
    tracing_subscriber::registry().with(logs.with_filter(filter)).with(traces).init();
    Ok(Telemetry { provider })
}

/// Traces are requests: a request span and what happens inside it (at INFO
/// and above), not the background jobs between requests.
fn traced<S: tracing::Subscriber + for<'a> LookupSpan<'a>>(
    meta: &tracing::Metadata<'_>,
    cx: &LayerContext<'_, S>,
) -> bool {
    *meta.level() <= tracing::Level::INFO
        && ((meta.is_span() && meta.name() == REQUEST_SPAN && meta.target() == module_path!())
            || cx.lookup_current().is_some())
}

/// A batching OTLP/HTTP (protobuf) exporter to `<url>/v1/traces`. The usual
/// `OTEL_*` variables (headers, timeout, batch sizes, resource attributes,
/// service name) apply.
fn exporting_provider(url: &str) -> Result<SdkTracerProvider, EndpointError> {
    let invalid = |reason: String| EndpointError { url: url.to_string(), reason };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("an http:// or https:// URL is expected".into()));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", url.trim_end_matches('/')))
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let mut batch = BatchConfigBuilder::default();
    if std::env::var_os("OTEL_BSP_SCHEDULE_DELAY").is_none() {
        batch = batch.with_scheduled_delay(EXPORT_DELAY);
    }
    let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch.build()).build();
    let mut resource = Resource::builder_empty()
        .with_service_name("auditgraph")
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_detector(Box::new(EnvResourceDetector::new()));
    if let Some(name) = std::env::var("OTEL_SERVICE_NAME").ok().filter(|n| !n.is_empty()) {
        resource = resource.with_service_name(name);
    }
    Ok(SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource.build()).build())
}

/// The span a request is served in. Its trace ID continues the caller's trace
/// (`traceparent`, `tracestate`); a request without one starts a new trace.
pub fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
    let span = tracing::info_span!(
        REQUEST_SPAN,
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        trace_id = Empty,
        "otel.name" = Empty,
        "otel.kind" = Empty,
    );
    let caller = TraceContextPropagator::new().extract_with_context(&Context::new(), &Headers(req.headers()));
    let trace_id = if span.set_parent(caller.clone()).is_ok() {
        // Exported: the span's own context holds the caller's trace ID or a new one.
        let route = req.extensions().get::<MatchedPath>().map_or(req.uri().path(), MatchedPath::as_str);
        span.record("otel.name", format!("{} {route}", req.method()));
        span.record("otel.kind", "server");
        span.context().span().span_context().trace_id()
    } else {
        let remote = caller.span().span_context().trace_id();
        if remote != opentelemetry::TraceId::INVALID { remote } else { RandomIdGenerator::default().new_trace_id() }
    };
    span.record("trace_id", tracing::field::display(trace_id));
    span
}

/// Request headers, as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
