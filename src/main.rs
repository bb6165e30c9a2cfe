use clap::Parser;

/// Request handling allocates many small, short-lived objects; mimalloc serves
/// them much faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use auditgraph::cli::{self, Cli, LogFormat};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format, matches!(cli.command, cli::Command::Serve(_) | cli::Command::Demo { .. }));
    // Roomier stacks than the default 2 MiB: parsers and input coercion recurse
    // (inputs are bounded long before that, but a margin costs nothing).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(cli::run(cli)),
        Err(err) => Err(cli::CliError::Io(err)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `AUDITGRAPH_LOG` (or `RUST_LOG`) sets the filter.
fn init_tracing(format: LogFormat, serving: bool) {
    use tracing_subscriber::EnvFilter;
    // PostgreSQL's notices ("relation already exists, skipping") are not news.
    let default = if serving { "info,sqlx::postgres::notice=warn" } else { "warn" };
    let filter = EnvFilter::try_from_env("AUDITGRAPH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
    }
}
