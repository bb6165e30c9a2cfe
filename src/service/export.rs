//! Export: a tenant's matching events in sequence order, as NDJSON (one
//! canonical event a line, so an unfiltered export verifies against its
//! checkpoint) or CSV (the canonical event flattened), read in keyset chunks so
//! memory stays flat whatever the size. The HTTP door and the command line
//! both stream what [`chunks`] produces.

use futures_util::Stream;
use serde_json::Value;
use tokio::sync::mpsc;

use serde_json::json;

use super::follow::Follow;
use super::ledger::{Ledger, SignedCheckpoint};
use super::policy::Operation;
use super::self_audit::{Acting, record_self_audit, self_audit};
use super::session::Session;
use crate::bus::Bus;
use crate::domain::event::NewResource;
use crate::domain::filter::Filter;
use crate::domain::filter_spec::FilterSpec;
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::Store;

/// Events read per query. About 1 KiB each encoded, so a chunk is a few MiB at most.
pub const CHUNK_EVENTS: u64 = 2_000;
/// Encoded chunks a producer may hold ahead of a slow reader.
const CHUNKS_AHEAD: usize = 2;

/// The CSV columns: the canonical event's keys, nested objects flattened
/// with a dot. Arrays and objects are written as JSON text.
pub const CSV_COLUMNS: [&str; 32] = [
    "id",
    "tenantId",
    "sequence",
    "action",
    "outcome",
    "occurredAt",
    "receivedAt",
    "actor.type",
    "actor.externalId",
    "actor.displayName",
    "actor.email",
    "actor.roles",
    "resource.type",
    "resource.externalId",
    "resource.name",
    "relatedResources",
    "summary",
    "reason",
    "errorMessage",
    "environment",
    "sourceService",
    "correlationId",
    "request.id",
    "request.method",
    "request.path",
    "request.status",
    "request.latencyMs",
    "request.ipAddress",
    "request.userAgent",
    "metadata",
    "changes",
    "idempotencyKey",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// `ndjson` or `csv`; `path` names the input in the refusal.
    pub fn parse(text: &str, path: &str) -> Result<Format> {
        match text {
            "ndjson" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            other => Err(Error::bad_input(path, format!("unknown format `{other}`: use `ndjson` or `csv`"))),
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

/// One piece of an export, ready to write.
#[derive(Debug)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    /// Events in this chunk.
    pub events: u64,
    /// The export has now covered the log up to this sequence.
    pub through: u64,
}

/// The export of the tenant's events matching `filter` with sequence at most
/// `pinned` (the tree size signed when the export began), in sequence order.
/// Lazy: each chunk is read when the previous one was taken, so a reader that
/// stops pulling stops the queries. CSV starts with its header row.
pub fn chunks(
    store: Store,
    tenant: TenantId,
    filter: Filter,
    format: Format,
    pinned: u64,
) -> impl Stream<Item = Result<Chunk>> + Send + 'static {
    async_stream::try_stream! {
        if format == Format::Csv {
            yield Chunk { bytes: csv_row(CSV_COLUMNS.iter().map(|c| c.to_string()))?, events: 0, through: 0 };
        }
        // A replica may read the export only once it holds the pinned tree
        // size, or the export would lack the newest events (a tenant too new
        // for it has no head there yet).
        let reader = store.reader();
        if pinned > 0 && !crate::store::ledger::head(&reader, tenant).await.is_ok_and(|head| head.size() >= pinned) {
            reader.pin_primary();
        }
        let mut follow = Follow::new(tenant, filter, 0, CHUNK_EVENTS);
        while let Some(batch) = follow.next(&reader, pinned).await? {
            let mut bytes = Vec::with_capacity(batch.events.len() * 1_024);
            match format {
                // The leaves, which `auditgraph verify` checks against the tree.
                Format::Ndjson => {
                    for event in &batch.events {
                        bytes.extend(crate::ledger::event::bytes(event));
                        bytes.push(b'\n');
                    }
                }
                // The opened events, as people read them.
                Format::Csv => {
                    let opened = super::data_keys::open_events(&reader, store.master_key()?, &batch.events).await?;
                    for event in &opened {
                        bytes.extend(csv_row(CSV_COLUMNS.iter().map(|column| csv_field(event, column)))?);
                    }
                }
            }
            yield Chunk { bytes, events: batch.events.len() as u64, through: batch.through };
        }
    }
}

/// An export as it begins: the checkpoint of the tree size it covers, and its chunks.
pub struct Export<S> {
    pub checkpoint: SignedCheckpoint,
    pub chunks: S,
}

/// Starts the caller's export of its events matching `filter` and `query`
/// (confined to a viewer token's).
pub async fn start(
    session: &Session,
    format: Format,
    filter: FilterSpec,
    query: Option<&str>,
) -> Result<Export<impl Stream<Item = Result<Chunk>> + Send + 'static>> {
    let requester = session.authorize(Operation::ReadEvents)?;
    let s = session.services();
    let written = Written { filter: filter.to_json(), query: query.map(str::to_string) };
    let combined = super::criteria::combine_at(Some(filter), "filter", query, "q", s.store.now())?;
    let confined = Session::confine(requester, combined);
    begin(&s.store, &s.bus, &s.ledger, requester.tenant, Acting::Key(requester), format, written, confined).await
}

/// The criteria of an export as the caller wrote them, for its record.
struct Written {
    filter: serde_json::Value,
    query: Option<String>,
}

/// Starts an export for the operator at the command line.
pub async fn start_as_operator(
    store: &Store,
    bus: &Bus,
    ledger: &Ledger,
    tenant: TenantId,
    format: Format,
    filter: FilterSpec,
) -> Result<Export<impl Stream<Item = Result<Chunk>> + Send + 'static>> {
    let written = Written { filter: filter.to_json(), query: None };
    let filter = filter.into_filter("--filter")?;
    begin(store, bus, ledger, tenant, Acting::System, format, written, filter).await
}

/// Pins the tree size the export covers (its head read and signed once, so
/// the size and the note agree), records `audit_log.export` with the format,
/// filter and tree size, and returns the export's chunks.
#[allow(clippy::too_many_arguments)]
async fn begin(
    store: &Store,
    bus: &Bus,
    ledger: &Ledger,
    tenant: TenantId,
    acting: Acting<'_>,
    format: Format,
    written: Written,
    filter: Filter,
) -> Result<Export<impl Stream<Item = Result<Chunk>> + Send + 'static>> {
    let checkpoint = ledger.current(store.db(), tenant, store.now()).await?;
    let event = self_audit(
        store.now(),
        "audit_log.export",
        &acting,
        NewResource { kind: "audit_log".into(), external_id: tenant.to_string(), name: None },
        format!("Export of {} events as {}", checkpoint.size, format.extension()),
        json!({
            "format": format.extension(),
            "filter": written.filter,
            "query": written.query,
            "treeSize": checkpoint.size.to_string(),
        }),
    );
    record_self_audit(store, bus, tenant, event).await?;
    let chunks = chunks(store.clone(), tenant, filter, format, checkpoint.size);
    Ok(Export { checkpoint, chunks })
}

/// Runs `chunks` on a task of its own, at most [`CHUNKS_AHEAD`] chunks ahead of
/// the reader: reading the database overlaps writing to the client, and a slow
/// client holds back the reads instead of filling memory. The task ends when
/// the reader is dropped.
pub fn read_ahead(
    chunks: impl Stream<Item = Result<Chunk>> + Send + 'static,
) -> impl Stream<Item = Result<Chunk>> + Send + 'static {
    use futures_util::StreamExt as _;
    let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
    tokio::spawn(async move {
        let mut chunks = std::pin::pin!(chunks);
        while let Some(chunk) = chunks.next().await {
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) })
}

/// The text of one CSV cell: strings as they are, absent values empty, other
/// scalars as JSON, arrays and objects as JSON text; neutralised as a formula.
fn csv_field(event: &Value, column: &str) -> String {
    let value = column.split('.').fold(event, |v, key| v.get(key).unwrap_or(&Value::Null));
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    not_a_formula(text)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab or
/// a carriage return first) is prefixed with `'`, so it shows as text.
fn not_a_formula(text: String) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text,
    }
}

/// One CSV record, quoted where needed (RFC 4180, CRLF line ends).
fn csv_row(fields: impl IntoIterator<Item = String>) -> Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(fields.into_iter()).map_err(Error::internal)?;
    writer.into_inner().map_err(|e| Error::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_and_quotes() {
        let event = json!({
            "id": "evt_1", "sequence": "7", "actor": { "type": "USER", "roles": ["a", "b"] },
            "resource": null, "metadata": { "note": "a, \"q\"\nb" }, "request": { "status": 200 },
        });
        assert_eq!(csv_field(&event, "sequence"), "7");
        assert_eq!(csv_field(&event, "actor.roles"), r#"["a","b"]"#);
        assert_eq!(csv_field(&event, "resource.type"), "");
        assert_eq!(csv_field(&event, "request.status"), "200");
        let row = csv_row(["x".to_string(), csv_field(&event, "metadata")]).unwrap();
        assert_eq!(String::from_utf8(row).unwrap(), "x,\"{\"\"note\"\":\"\"a, \\\"\"q\\\"\"\\nb\"\"}\"\r\n");
    }

    #[test]
    fn formulas_become_text() {
        for (cell, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(csv_field(&json!({ "summary": cell }), "summary"), shown);
        }
    }

    #[test]
    fn parses_formats() {
        assert_eq!(Format::parse("csv", "format").unwrap(), Format::Csv);
        assert_eq!(Format::parse("ndjson", "format").unwrap(), Format::Ndjson);
        assert!(matches!(Format::parse("xml", "format"), Err(Error::BadInput { .. })));
    }
}
