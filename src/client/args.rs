//! The flags of `auditgraph events …`.

use clap::{Args, Subcommand, ValueEnum};

use super::output::Format;
use crate::domain::event::{ActorType, Outcome};

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Print the events matching a filter, page after page, up to --limit
    /// (or every one with --all).
    List(ListArgs),
    /// Print each event matching a filter as it is recorded, until Ctrl-C.
    Tail(TailArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten, next_help_heading = "Server")]
    pub server: ServerArgs,
    #[command(flatten, next_help_heading = "Filter (each flag narrows; a repeated flag lists alternatives)")]
    pub filter: FilterArgs,
    /// `newest` (occurredAt, newest first), `oldest`, or `sequence` (the order recorded).
    #[arg(long, value_enum, default_value_t = Order::Newest)]
    pub order: Order,
    /// Most events to print.
    #[arg(long, default_value_t = 100, conflicts_with = "all")]
    pub limit: u64,
    /// Print every matching event (no --limit).
    #[arg(long)]
    pub all: bool,
    /// Events asked for in one request (at most 500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
    #[command(flatten, next_help_heading = "Output")]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct TailArgs {
    #[command(flatten, next_help_heading = "Server")]
    pub server: ServerArgs,
    #[command(flatten, next_help_heading = "Filter (each flag narrows; a repeated flag lists alternatives)")]
    pub filter: FilterArgs,
    #[command(flatten, next_help_heading = "Output")]
    pub output: OutputArgs,
}

/// Which server, and who is asking.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The server's base URL.
    #[arg(long, env = "AUDITGRAPH_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key with `audit.read` (or a viewer token).
    #[arg(long, env = "AUDITGRAPH_KEY", hide_env_values = true)]
    pub key: String,
    /// The tenant to read, by slug: for an `admin` key acting in another tenant.
    #[arg(long, env = "AUDITGRAPH_TENANT")]
    pub tenant: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// `table`, `json` (one array) or `ndjson` (one event a line). Default: a
    /// table when stdout is a terminal, else NDJSON. JSON events are the
    /// canonical events of the ledger (as `GET /v1/events` and `/export` give them).
    #[arg(long, env = "AUDITGRAPH_OUTPUT", value_enum)]
    pub output: Option<Format>,
}

/// Which events: each flag narrows the result (AND); a repeated flag lists
/// alternatives (OR).
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// An `AuditEventFilter` as JSON, e.g. '{"outcome":"FAILURE","httpStatus":{"gte":500}}'.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only this action (repeatable).
    #[arg(long)]
    pub action: Vec<String>,
    /// Only actions starting with this (a literal prefix, e.g. `api_key.`).
    #[arg(long)]
    pub action_prefix: Option<String>,
    /// Only this category, the action's first segment (repeatable).
    #[arg(long)]
    pub category: Vec<String>,
    /// Only this outcome: success or failure.
    #[arg(long, value_parser = outcome)]
    pub outcome: Option<Outcome>,
    /// Only events by this actor, by its external ID (repeatable).
    #[arg(long)]
    pub actor: Vec<String>,
    /// Only events by actors of this type (repeatable): user, api_key,
    /// service_account, internal_service, system, anonymous.
    #[arg(long, value_parser = actor_type)]
    pub actor_type: Vec<ActorType>,
    /// Only events whose primary resource has this external ID (repeatable).
    #[arg(long)]
    pub resource: Vec<String>,
    /// Only events whose primary resource has this type (repeatable).
    #[arg(long)]
    pub resource_type: Vec<String>,
    /// Only this environment (repeatable).
    #[arg(long)]
    pub environment: Vec<String>,
    /// Only events whose action, summary, reason or error message contains
    /// this (case-insensitive).
    #[arg(long)]
    pub text: Option<String>,
    /// Only events that occurred at or after this: RFC 3339, or a duration
    /// ago (`15m`, `2h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events that occurred before this: RFC 3339, or a duration ago.
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Order {
    Newest,
    Oldest,
    Sequence,
}

/// An `ActorType` as the API names it, in any case.
fn actor_type(text: &str) -> Result<ActorType, String> {
    ActorType::from_stored(&text.to_ascii_uppercase()).ok_or_else(|| {
        let names: Vec<_> = ActorType::ALL.iter().map(|t| t.as_str().to_ascii_lowercase()).collect();
        format!("not one of {}", names.join(", "))
    })
}

/// An `AuditOutcome` as the API names it, in any case.
fn outcome(text: &str) -> Result<Outcome, String> {
    Outcome::from_stored(&text.to_ascii_uppercase()).ok_or_else(|| "not success or failure".to_string())
}
