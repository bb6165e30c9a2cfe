//! `auditgraph events list` pages through `auditEvents` (Relay cursors), one
//! page in memory at a time; `events tail` follows `auditEventRecorded`. Both
//! send the same `AuditEventFilter` and print canonical events.

use crate::domain::clock::{Clock as _, SystemClock};
use std::io::{BufWriter, IsTerminal as _, Write};

use serde_json::{Value, json};

use super::args::{EventsCommand, ListArgs, Order, OutputArgs, TailArgs};
use super::connection::Connection;
use super::error::ClientError;
use super::filter;
use super::output::{Format, Printer};
use super::subscription::Subscription;

const LIST: &str = "query($filter: AuditEventFilter, $orderBy: AuditEventOrder, $first: Int, $after: String) {
  auditEvents(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    nodes { canonicalJson }
    pageInfo { hasNextPage endCursor }
  }
}";

const TAIL: &str = "subscription($filter: AuditEventFilter) { auditEventRecorded(filter: $filter) { canonicalJson } }";

pub async fn run(command: EventsCommand) -> Result<(), ClientError> {
    let result = match command {
        EventsCommand::List(args) => list(args).await,
        EventsCommand::Tail(args) => tail(args).await,
    };
    match result {
        // The reader went away (`… | head`): that is how such a pipe ends.
        Err(ClientError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn printer(args: &OutputArgs) -> Printer<impl Write> {
    let stdout = std::io::stdout();
    Printer::new(Format::chosen(args.output, stdout.is_terminal()), BufWriter::new(stdout))
}

async fn list(args: ListArgs) -> Result<(), ClientError> {
    let connection = Connection::new(&args.server)?;
    let filter = filter::from_args(&args.filter, SystemClock.now())?;
    let order_by = match args.order {
        Order::Newest => json!({ "field": "OCCURRED_AT", "direction": "DESC" }),
        Order::Oldest => json!({ "field": "OCCURRED_AT", "direction": "ASC" }),
        Order::Sequence => json!({ "field": "SEQUENCE", "direction": "ASC" }),
    };
    let mut printer = printer(&args.output);
    let mut left = if args.all { u64::MAX } else { args.limit };
    let mut after: Option<String> = None;
    while left > 0 {
        let first = left.min(u64::from(args.page_size));
        let variables = json!({ "filter": filter, "orderBy": order_by, "first": first, "after": after });
        let data = connection.query(LIST, variables).await?;
        let page = &data["auditEvents"];
        let nodes = page["nodes"].as_array().ok_or_else(|| connection.unexpected("auditEvents without nodes"))?;
        let events = nodes.iter().map(|node| canonical(&connection, node)).collect::<Result<Vec<_>, _>>()?;
        printer.write(&events)?;
        left = left.saturating_sub(events.len() as u64);
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if events.is_empty() || page["pageInfo"]["hasNextPage"] != true || after.is_none() {
            break;
        }
    }
    printer.finish()?;
    if printer.printed() == 0 && std::io::stderr().is_terminal() {
        eprintln!("no events match");
    }
    Ok(())
}

async fn tail(args: TailArgs) -> Result<(), ClientError> {
    let connection = Connection::new(&args.server)?;
    let filter = filter::from_args(&args.filter, SystemClock.now())?;
    let mut printer = printer(&args.output);
    let mut subscription = Subscription::start(&connection, TAIL, json!({ "filter": filter })).await?;
    if std::io::stderr().is_terminal() {
        eprintln!("following new events at {}; Ctrl-C stops", connection.url(""));
    }
    let interrupted = crate::signals::interrupted();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            next = subscription.next() => match next? {
                Some(data) => printer.write(&[canonical(&connection, &data["auditEventRecorded"])?])?,
                None => return Err(ClientError::Closed { code: None, reason: "it ended the operation; run tail again to go on".into() }),
            },
        }
    }
    subscription.stop().await;
    printer.finish()?;
    Ok(())
}

/// The canonical event (JSON text) of an `AuditEvent` selection.
fn canonical(connection: &Connection, event: &Value) -> Result<String, ClientError> {
    event["canonicalJson"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| connection.unexpected(format!("an event without canonicalJson: {event}")))
}
