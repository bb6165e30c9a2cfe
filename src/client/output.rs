//! How events are printed: a table for people, JSON for programs. Each batch
//! is written and flushed as it arrives; nothing is held back but the table's
//! column widths.

use std::io::{self, Write};

use clap::ValueEnum;
use serde_json::Value;

use super::table::Table;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, for a person.
    Table,
    /// One JSON array of events.
    Json,
    /// One event (JSON) a line.
    Ndjson,
}

impl Format {
    /// The format asked for, else a table on a terminal and NDJSON otherwise
    /// (a pipe, a file).
    pub fn chosen(asked: Option<Format>, terminal: bool) -> Format {
        asked.unwrap_or(if terminal { Format::Table } else { Format::Ndjson })
    }
}

/// Writes canonical events (their JSON text, as the server gives them).
pub struct Printer<W: Write> {
    format: Format,
    out: W,
    table: Table,
    printed: u64,
}

impl<W: Write> Printer<W> {
    pub fn new(format: Format, out: W) -> Self {
        Self { format, out, table: Table::default(), printed: 0 }
    }

    /// Writes `events` and flushes them.
    pub fn write(&mut self, events: &[String]) -> io::Result<()> {
        match self.format {
            Format::Table => {
                let parsed: Vec<Value> =
                    events.iter().map(|e| serde_json::from_str(e).unwrap_or(Value::Null)).collect();
                self.table.write(&mut self.out, &parsed)?;
            }
            Format::Ndjson => {
                for event in events {
                    writeln!(self.out, "{event}")?;
                }
            }
            // Each event ends its line, so a tail shows it at once: the
            // comma goes before the next one.
            Format::Json => {
                for (n, event) in events.iter().enumerate() {
                    let separator = if self.printed + n as u64 == 0 { "[\n" } else { "," };
                    writeln!(self.out, "{separator}{event}")?;
                }
            }
        }
        self.printed += events.len() as u64;
        self.out.flush()
    }

    /// Ends the output (closes the JSON array) and flushes it.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.format == Format::Json {
            self.out.write_all(if self.printed == 0 { b"[]\n" } else { b"]\n" })?;
        }
        self.out.flush()
    }

    pub fn printed(&self) -> u64 {
        self.printed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(format: Format, batches: &[&[&str]]) -> String {
        let mut printer = Printer::new(format, Vec::new());
        for batch in batches {
            printer.write(&batch.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap();
        }
        printer.finish().unwrap();
        String::from_utf8(printer.out).unwrap()
    }

    #[test]
    fn json_is_one_array_across_batches() {
        let out = print(Format::Json, &[&[r#"{"a":1}"#, r#"{"a":2}"#], &[], &[r#"{"a":3}"#]]);
        let parsed: Vec<Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(out, "[\n{\"a\":1}\n,{\"a\":2}\n,{\"a\":3}\n]\n");
        assert_eq!(print(Format::Json, &[]), "[]\n");
    }

    #[test]
    fn ndjson_is_one_event_a_line() {
        assert_eq!(print(Format::Ndjson, &[&[r#"{"a":1}"#], &[r#"{"a":2}"#]]), "{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(print(Format::Ndjson, &[]), "");
    }

    #[test]
    fn a_terminal_gets_a_table() {
        assert_eq!(Format::chosen(None, true), Format::Table);
        assert_eq!(Format::chosen(None, false), Format::Ndjson);
        assert_eq!(Format::chosen(Some(Format::Json), true), Format::Json);
    }
}
