use clap::Parser;

/// Request handling allocates many small, short-lived objects; mimalloc serves
/// them much faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use auditgraph::cli::{self, Cli};
use auditgraph::telemetry;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let serve = match &cli.command {
        cli::Command::Serve(serve) | cli::Command::Demo { serve, .. } => Some(serve),
        _ => None,
    };
    let otlp_endpoint = serve.and_then(|s| s.otlp_endpoint.as_deref()).filter(|url| !url.trim().is_empty());
    let serving = serve.is_some() || matches!(cli.command, cli::Command::Witness(_));
    let telemetry = match telemetry::init(cli.log_format, serving, otlp_endpoint) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("error: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Roomier stacks than the default 2 MiB: parsers and input coercion recurse
    // (inputs are bounded long before that, but a margin costs nothing).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(cli::run(cli)),
        Err(err) => Err(cli::CliError::Io(err)),
    };
    // After the server stopped: the spans of its last requests are exported.
    telemetry.shutdown();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
