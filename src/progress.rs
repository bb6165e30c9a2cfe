//! Progress bars for long commands (`seed`, `export`): on stderr, and only
//! when it is a terminal.

/// A progress bar on stderr of `len` steps drawn with `template`, when stderr
/// is a terminal; hidden otherwise (logs and pipes get no bar).
pub fn bar(len: u64, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    let bar = match std::io::stderr().is_terminal() {
        true => indicatif::ProgressBar::new(len),
        false => indicatif::ProgressBar::hidden(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
