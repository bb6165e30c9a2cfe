//! The command line: `serve`, `demo`, `migrate`, `tenant`, `key`, `schema`, `seed`.

use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::admin::{self, Acting};
use crate::app::{self, App, StartError};
use crate::bus::Bus;
use crate::config::{DatabaseArgs, ServeArgs, ServeSettings};
use crate::domain::ids::{ApiKeyId, TenantId};
use crate::domain::scope::Scopes;
use crate::metrics::Metrics;
use crate::store::{Store, keys, redact_url, tenants};

#[derive(Parser, Debug)]
#[command(name = "auditgraph", version, about = "An audit-log server with a GraphQL API, on SQLite or PostgreSQL")]
pub struct Cli {
    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Log format on stderr.
    #[arg(long, env = "AUDITGRAPH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database, then serve the API.
    Serve(ServeArgs),
    /// Serve on the embedded default with a demo tenant and sample events; prints the
    /// console URL and a read key.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Sample events to create in a new demo tenant.
        #[arg(long, env = "AUDITGRAPH_DEMO_EVENTS", default_value_t = 5_000)]
        events: usize,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Bulk-load realistic, deterministic data into new tenants seed-1 … seed-T.
    Seed(crate::seed::SeedArgs),
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant and print its ID.
    Create {
        slug: String,
        /// Display name (default: the slug).
        #[arg(long, env = "AUDITGRAPH_TENANT_NAME")]
        name: Option<String>,
    },
    /// List tenants with their event counts.
    List,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create a key and print its secret alone on stdout.
    Create {
        /// The tenant's slug.
        #[arg(long, env = "AUDITGRAPH_TENANT")]
        tenant: String,
        /// Comma-separated: audit.read, audit.write, keys.manage, admin.
        #[arg(long, env = "AUDITGRAPH_SCOPES")]
        scopes: String,
        /// What the key is for.
        #[arg(long, env = "AUDITGRAPH_KEY_NAME", default_value = "command line key")]
        name: String,
    },
    /// List a tenant's keys (never their secrets).
    List {
        /// The tenant's slug.
        #[arg(long, env = "AUDITGRAPH_TENANT")]
        tenant: String,
    },
    /// Revoke a key by ID (`key_…`).
    Revoke { id: String },
}

/// A failure of a command, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Api(#[from] crate::error::Error),
    #[error("{0}")]
    Usage(String),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

async fn open(db: &DatabaseArgs) -> Result<Store, CliError> {
    let settings = ServeSettings::new(db, &ServeArgs::default());
    Ok(app::open_store(&settings, Arc::new(Metrics::default())).await?)
}

async fn tenant_by_slug(store: &Store, slug: &str) -> Result<entity::tenant::Model, CliError> {
    tenants::by_slug(store.db(), slug)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no tenant `{slug}` (see `auditgraph tenant list`)")))
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let bus = Bus::new(1);
    match cli.command {
        Command::Serve(serve) => {
            let settings = ServeSettings::new(&cli.db, &serve);
            let app = App::build(&settings).await?;
            tracing::info!(addr = %app.local_addr(), database = %redact_url(&settings.db.url), "serving");
            eprintln!("auditgraph listening on http://{}/graphql", app.local_addr());
            app.serve(app::shutdown_signal()).await?;
        }
        Command::Demo { serve, events } => {
            let settings = ServeSettings::new(&cli.db, &serve);
            let app = App::build(&settings).await?;
            let secret = crate::demo::prepare(&app.store, events).await?;
            let addr = app.local_addr();
            println!("auditgraph demo is running.");
            // The key rides in the fragment, which browsers never send; the
            // console moves it into the tab's session storage at once.
            println!("  Console:    http://{addr}/console#token={secret}");
            println!("  Playground: http://{addr}/graphql");
            println!("  Read key:   {secret}");
            println!(
                "  Try:        curl -s http://{addr}/graphql -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' -d '{{\"query\":\"{{ auditEvents(first: 3) {{ totalCount nodes {{ action occurredAt actor {{ displayName }} }} }} }}\"}}'"
            );
            app.serve(app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            open(&cli.db).await?;
            eprintln!("migrations applied to {}", redact_url(&cli.db.database_url));
        }
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let store = open(&cli.db).await?;
            let tenant = admin::create_tenant(&store, &bus, &slug, name.as_deref(), Acting::System).await?;
            println!("{}", TenantId(tenant.id));
        }
        Command::Tenant(TenantCommand::List) => {
            let store = open(&cli.db).await?;
            println!("{:<24} {:<36} {:>10}  NAME", "SLUG", "ID", "EVENTS");
            for (t, n) in tenants::list_with_counts(store.db()).await? {
                println!("{:<24} {:<36} {:>10}  {}", t.slug, TenantId(t.id), n, t.name);
            }
        }
        Command::Key(KeyCommand::Create { tenant, scopes, name }) => {
            let scopes = Scopes::parse_list(&scopes, "--scopes").map_err(|e| CliError::Usage(e.to_string()))?;
            let store = open(&cli.db).await?;
            let tenant = tenant_by_slug(&store, &tenant).await?;
            let (key, secret) =
                admin::create_key(&store, &bus, TenantId(tenant.id), &name, scopes, Acting::System).await?;
            eprintln!(
                "created {} ({}) in tenant {}; the secret is shown only now",
                ApiKeyId(key.id),
                key.prefix,
                tenant.slug
            );
            println!("{secret}");
        }
        Command::Key(KeyCommand::List { tenant }) => {
            let store = open(&cli.db).await?;
            let tenant = tenant_by_slug(&store, &tenant).await?;
            println!("{:<36} {:<14} {:<40} {:<8} NAME", "ID", "PREFIX", "SCOPES", "STATE");
            for k in keys::list(store.db(), TenantId(tenant.id)).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{:<36} {:<14} {:<40} {:<8} {}", ApiKeyId(k.id), k.prefix, k.scopes, state, k.name);
            }
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            let id = ApiKeyId::parse(&id, "ID").map_err(|e| CliError::Usage(e.to_string()))?;
            let store = open(&cli.db).await?;
            let key = keys::by_id_any_tenant(store.db(), id)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no API key {id}")))?;
            admin::revoke_key(&store, &bus, TenantId(key.tenant_id), id, Acting::System).await?;
            eprintln!("revoked {id} ({})", key.prefix);
        }
        Command::Schema => print!("{}", crate::graphql::sdl()),
        Command::Seed(args) => {
            let store = open(&cli.db).await?;
            crate::seed::run(&store, &args).await?;
        }
    }
    Ok(())
}
