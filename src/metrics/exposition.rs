//! The Prometheus text exposition format (version 0.0.4): each family once,
//! with its HELP and TYPE lines, then its samples.

use std::fmt::{Display, Write as _};

/// A family's type, as its TYPE line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A scrape being written.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: writes its HELP and TYPE lines. Counters end in `_total`.
    pub fn family<'a>(&'a mut self, name: &'a str, kind: Kind, help: &str) -> Family<'a> {
        debug_assert!(kind != Kind::Counter || name.ends_with("_total"), "counter {name} must end in _total");
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {}", kind.as_str());
        Family { out: &mut self.out, name }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// The samples of one family.
pub struct Family<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl Family<'_> {
    /// `name{labels} value`.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Display) -> &mut Self {
        self.suffixed("", labels, value)
    }

    /// `name_suffix{labels} value`: a histogram's `_bucket`, `_sum` and `_count`.
    pub fn suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: impl Display) -> &mut Self {
        let _ = write!(self.out, "{}{suffix}", self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, raw)) in labels.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(self.out, "{sep}{label}=\"");
                escape_label_value(self.out, raw);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
        self
    }
}

/// Backslash, double quote and line feed are escaped in label values.
fn escape_label_value(out: &mut String, raw: &str) {
    for c in raw.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_type_and_escaped_labels() {
        let mut e = Exposition::default();
        e.family("x_total", Kind::Counter, "Things.\nMore").sample(&[("a", "q\"\\\n")], 3).sample(&[], 4);
        assert_eq!(
            e.finish(),
            "# HELP x_total Things.\\nMore\n# TYPE x_total counter\nx_total{a=\"q\\\"\\\\\\n\"} 3\nx_total 4\n"
        );
    }
}
