//! Events as an aligned table for a person at a terminal. Column widths come
//! from the first rows written (a page, or the first event of a tail) and then
//! stay, so rows can be printed as they arrive; a longer value is cut with `…`.
//! Control characters in values (which could steer the terminal) are shown
//! escaped.

use std::io::{self, Write};

use serde_json::Value;

struct Column {
    name: &'static str,
    min: usize,
    max: usize,
    right: bool,
}

const COLUMNS: [Column; 7] = [
    Column { name: "SEQ", min: 3, max: 20, right: true },
    Column { name: "TIME", min: 20, max: 32, right: false },
    Column { name: "OUTCOME", min: 7, max: 7, right: false },
    Column { name: "ACTION", min: 16, max: 48, right: false },
    Column { name: "ACTOR", min: 12, max: 32, right: false },
    Column { name: "RESOURCE", min: 12, max: 40, right: false },
    // The last column is not padded.
    Column { name: "SUMMARY", min: 0, max: 80, right: false },
];

/// What an absent value shows.
const NONE: &str = "-";

#[derive(Default)]
pub struct Table {
    widths: Option<[usize; COLUMNS.len()]>,
}

impl Table {
    /// Writes `events` (canonical events) as rows, after the header if these
    /// are the first.
    pub fn write(&mut self, out: &mut impl Write, events: &[Value]) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<[String; COLUMNS.len()]> = events.iter().map(cells).collect();
        let widths = match self.widths {
            Some(widths) => widths,
            None => {
                let widths = std::array::from_fn(|i| {
                    let widest = rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
                    widest.clamp(COLUMNS[i].min.max(COLUMNS[i].name.len()), COLUMNS[i].max)
                });
                self.widths = Some(widths);
                line(out, &widths, &COLUMNS.map(|c| c.name.to_string()))?;
                widths
            }
        };
        rows.iter().try_for_each(|row| line(out, &widths, row))
    }
}

fn line(out: &mut impl Write, widths: &[usize], cells: &[String]) -> io::Result<()> {
    let last = cells.len() - 1;
    for (i, cell) in cells.iter().enumerate() {
        if i == last {
            writeln!(out, "{}", fit(cell, COLUMNS[i].max))?;
            continue;
        }
        let cell = fit(cell, widths[i]);
        if COLUMNS[i].right {
            write!(out, "{cell:>width$}  ", width = widths[i])?;
        } else {
            write!(out, "{cell:<width$}  ", width = widths[i])?;
        }
    }
    Ok(())
}

/// `text` in at most `max` characters.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The cells of one canonical event.
fn cells(event: &Value) -> [String; COLUMNS.len()] {
    let text = |v: &Value| v.as_str().map(printable).unwrap_or_else(|| NONE.to_string());
    // Whole seconds read better; the JSON outputs keep the microseconds.
    let time = event["occurredAt"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| text(&event["occurredAt"]));
    let resource = match &event["resource"] {
        Value::Object(r) => format!("{}:{}", text(&r["type"]), text(&r["externalId"])),
        _ => NONE.to_string(),
    };
    [
        text(&event["sequence"]),
        time,
        text(&event["outcome"]),
        text(&event["action"]),
        text(&event["actor"]["externalId"]),
        resource,
        text(&event["summary"]),
    ]
}

/// `text` with control characters escaped (`\n`, `\u{1b}`), so a value can
/// neither break a row nor send escape sequences to the terminal.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(batches: &[Vec<Value>]) -> String {
        let mut table = Table::default();
        let mut out = Vec::new();
        for batch in batches {
            table.write(&mut out, batch).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    fn event(sequence: &str, action: &str, summary: Option<&str>) -> Value {
        json!({
            "sequence": sequence, "occurredAt": "2024-05-01T12:00:00.123456Z", "outcome": "SUCCESS",
            "action": action, "actor": { "externalId": "u-1" },
            "resource": { "type": "vm", "externalId": "vm-7" }, "summary": summary,
        })
    }

    #[test]
    fn aligns_rows_under_the_header() {
        let long = format!("a.{}", "b".repeat(60));
        let out = render(&[
            vec![event("9", "vm.start", Some("booted")), event("10", "vm.stop", None)],
            vec![event("11", &long, Some("x\ny\u{1b}[2J"))],
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        let action = lines[0].find("ACTION").unwrap();
        let summary = lines[0].find("SUMMARY").unwrap();
        assert_eq!(lines[0].find("SEQ"), Some(0));
        assert!(lines[1].starts_with("  9  2024-05-01T12:00:00Z  SUCCESS  vm.start"), "{out}");
        assert_eq!(&lines[2][action..action + 7], "vm.stop");
        assert_eq!(&lines[1][summary..], "booted");
        assert_eq!(&lines[2][summary..], "-");
        // Widths stay those of the first page: the long action is cut.
        assert_eq!(lines[3].chars().skip(action).take(16).collect::<String>(), "a.bbbbbbbbbbbbb…");
        assert!(lines[3].ends_with("x\\ny\\u{1b}[2J"), "{out}");
        assert_eq!(lines[1].find("vm:vm-7"), lines[0].find("RESOURCE"));
    }

    #[test]
    fn nothing_for_no_events() {
        assert_eq!(render(&[]), "");
        assert_eq!(render(&[vec![]]), "");
    }
}
