//! The command line: `serve`, `demo`, `migrate`, `tenant`, `key`, `schema`, `seed`,
//! `keygen`, `datakey`, `verify`, `export`, `purge`, `erase`, `witness`, and the client's `events`.

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::{self, App, StartError};
use crate::bus::Bus;
use crate::config::{DatabaseArgs, ServeArgs, ServeSettings};
use crate::domain::ids::ApiKeyId;
use crate::domain::scope::Scopes;
use crate::metrics::Metrics;
use crate::service;
use crate::service::self_audit::Acting;
use crate::store::{Store, keys, redact_url, tenants};

#[derive(Parser, Debug)]
#[command(name = "auditgraph", version, about = "An audit-log server with a GraphQL API, on SQLite or PostgreSQL")]
pub struct Cli {
    #[command(flatten)]
    pub db: DatabaseArgs,

    /// Log format on stderr.
    #[arg(long, env = "AUDITGRAPH_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text, global = true)]
    pub log_format: crate::telemetry::LogFormat,

    #[command(subcommand)]
    pub command: Command,
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
    /// Write a new checkpoint signing key (a note private key, mode 0600), or
    /// with `--witness` a witness's cosigner key, and print its verifier key.
    Keygen {
        /// The key's name, shown in every signature line.
        #[arg(long, env = "AUDITGRAPH_KEY_NAME")]
        name: String,
        /// Where to write the private key (default: `<NAME>.key`); never overwritten.
        #[arg(long, env = "AUDITGRAPH_KEY_OUTPUT")]
        output: Option<std::path::PathBuf>,
        /// Write a witness's cosigner key (`cosignature/v1`, signature type
        /// 0x04, for `auditgraph witness`) instead of a checkpoint signing key.
        #[arg(long)]
        witness: bool,
    },
    /// Write a new master key for the actors' data keys to FILE (mode 0600;
    /// an existing file is never overwritten); pass it with `--data-key`.
    Datakey {
        /// Where to write the key.
        file: std::path::PathBuf,
    },
    /// Erase an actor's personal data, as `eraseActor` does: its data key
    /// destroyed, its profile's name and email cleared, recorded as
    /// `privacy.erase`. Refused while the tenant is on legal hold.
    Erase {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The actor's type (`USER`, `API_KEY`, `SERVICE_ACCOUNT`, …).
        #[arg(long)]
        actor_type: String,
        /// The actor's external ID.
        #[arg(long)]
        external_id: String,
    },
    /// Run a witness (c2sp.org/tlog-witness) that cosigns checkpoints of the
    /// logs it is given, each only if consistent with the last it cosigned.
    Witness(crate::witness::WitnessArgs),
    /// Verify the log without trusting the server: an NDJSON export against a
    /// signed checkpoint, or a tenant's stored events against its tree.
    Verify(VerifyArgs),
    /// Remove the events older than their tenant's retention (tenants on legal
    /// hold excepted), recording each purge as `retention.purge`.
    Purge {
        /// Say what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply every tenant's current retention and legal hold at once, not
        /// the most protective setting of the grace period.
        #[arg(long)]
        ignore_grace: bool,
        #[command(flatten)]
        ledger: crate::config::LedgerArgs,
    },
    /// Export a tenant's events, in sequence order, up to the tree size signed
    /// when the export begins (as `GET /export` does).
    Export(ExportArgs),
    /// Read a running server's events (with `--url` and `--key`): list them,
    /// or follow new ones as they are recorded.
    #[command(subcommand)]
    Events(crate::client::EventsCommand),
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The tenant's slug.
    #[arg(long, env = "AUDITGRAPH_TENANT")]
    pub tenant: String,
    /// `ndjson` (one canonical event a line) or `csv`.
    #[arg(long, default_value = "ndjson")]
    pub format: String,
    /// Only events matching this AuditEventFilter, written as JSON.
    #[arg(long)]
    pub filter: Option<String>,
    /// Where to write the export (default: stdout). The signed checkpoint of
    /// the tree size it covers goes to `FILE.checkpoint`.
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
    /// Where to write the signed checkpoint (default: `FILE.checkpoint` with
    /// --output, else stderr).
    #[arg(long)]
    pub checkpoint: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub ledger: crate::config::LedgerArgs,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["export", "tenant"])))]
pub struct VerifyArgs {
    /// An NDJSON export that starts at sequence 1 (`-` for stdin).
    #[arg(long, requires_all = ["checkpoint", "key"])]
    pub export: Option<std::path::PathBuf>,
    /// The signed checkpoint: the note (`ledger.checkpoint.signedNote`) or its
    /// base64 (the export's `Audit-Checkpoint` header).
    #[arg(long)]
    pub checkpoint: Option<std::path::PathBuf>,
    /// The note verifier key (`<name>+<hex id>+<base64>`).
    #[arg(long, env = "AUDITGRAPH_VERIFIER_KEY")]
    pub key: Option<String>,
    /// A witness's verifier key (`<name>+<hex id>+<base64>`, signature type
    /// 0x04) whose cosignature the checkpoint must carry (repeatable).
    #[arg(long = "witness-key", requires = "export")]
    pub witness_keys: Vec<String>,
    /// How many of the --witness-key witnesses must have cosigned the
    /// checkpoint (default: all of them).
    #[arg(long, requires = "witness_keys")]
    pub quorum: Option<usize>,
    /// Check this tenant's stored events, tree and checkpoints (with --database-url).
    #[arg(long)]
    pub tenant: Option<String>,
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
    /// Set how long a tenant's events are kept, and its legal hold.
    #[command(group(clap::ArgGroup::new("keep").args(["days", "forever"])))]
    Retention {
        slug: String,
        /// Keep events this many days after they are received (0 keeps nothing already received).
        #[arg(long)]
        days: Option<i32>,
        /// Keep events forever.
        #[arg(long)]
        forever: bool,
        /// Put the tenant on legal hold (nothing is purged) or take it off.
        #[arg(long, value_parser = ["on", "off"])]
        legal_hold: Option<String>,
    },
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
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Client(#[from] crate::client::ClientError),
    #[error(transparent)]
    Witness(#[from] crate::witness::WitnessError),
}

impl From<crate::service::verify::VerifyError> for CliError {
    fn from(err: crate::service::verify::VerifyError) -> Self {
        match err {
            crate::service::verify::VerifyError::Failed(reason) => CliError::Verify(reason),
            crate::service::verify::VerifyError::Server(e) => CliError::Api(e),
        }
    }
}

async fn open(db: &DatabaseArgs) -> Result<Store, CliError> {
    let settings = ServeSettings::new(db, &ServeArgs::default());
    Ok(app::open_store(&settings, Arc::new(Metrics::default())).await?)
}

async fn tenant_by_slug(store: &Store, slug: &str) -> Result<crate::domain::tenant::Tenant, CliError> {
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
            app.serve(crate::signals::shutdown()).await?;
        }
        Command::Demo { serve, events } => {
            let settings = ServeSettings::new(&cli.db, &serve);
            let app = App::build(&settings).await?;
            let secret = crate::demo::prepare(&app.store, events).await?;
            let addr = app.local_addr();
            println!("auditgraph demo is running.");
            // The key rides in the fragment, which browsers never send; the
            // console moves it into the tab's session storage at once.
            println!("  Console:      http://{addr}/console#token={secret}");
            println!("  Playground:   http://{addr}/graphql");
            println!("  Read key:     {secret}");
            println!("  Verifier key: {}", app.ledger.verifier_key());
            println!(
                "  Try:        curl -s http://{addr}/graphql -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' -d '{{\"query\":\"{{ auditEvents(first: 3) {{ totalCount nodes {{ action occurredAt actor {{ displayName }} }} }} }}\"}}'"
            );
            app.serve(crate::signals::shutdown()).await?;
        }
        Command::Migrate => {
            open(&cli.db).await?;
            eprintln!("migrations applied to {}", redact_url(&cli.db.database_url));
        }
        Command::Tenant(TenantCommand::Create { slug, name }) => {
            let store = open(&cli.db).await?;
            let tenant = service::tenants::create_tenant(&store, &bus, &slug, name.as_deref(), Acting::System).await?;
            println!("{}", tenant.id);
        }
        Command::Tenant(TenantCommand::List) => {
            let store = open(&cli.db).await?;
            println!("{:<24} {:<36} {:>10}  NAME", "SLUG", "ID", "EVENTS");
            for (t, n) in tenants::list_with_counts(store.db()).await? {
                println!("{:<24} {:<36} {:>10}  {}", t.slug, t.id, n, t.name);
            }
        }
        Command::Tenant(TenantCommand::Retention { slug, days, forever, legal_hold }) => {
            let days = match (days, forever) {
                (Some(d), _) => Some(Some(d)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            if days.is_none() && legal_hold.is_none() {
                return Err(CliError::Usage("say --days N, --forever or --legal-hold on|off".into()));
            }
            let hold = legal_hold.map(|h| h == "on");
            let store = open(&cli.db).await?;
            let t = crate::service::retention::set(&store, &bus, &slug, days, hold, Acting::System).await?;
            let kept = t.retention_days.map_or("forever".to_string(), |d| format!("{d} days"));
            let hold = if t.legal_hold { "on" } else { "off" };
            eprintln!("tenant {}: events kept {kept}, legal hold {hold}", t.slug);
        }
        Command::Purge { dry_run, ignore_grace, ledger } => {
            let store = open(&cli.db).await?;
            let grace = (!ignore_grace).then(|| chrono::Duration::from_std(ledger.retention_grace).unwrap_or_default());
            let options = crate::service::retention::PurgeOptions { dry_run, grace };
            let report = crate::service::retention::purge(&store, &bus, store.now(), options).await?;
            if report.busy {
                println!("another purge is running; nothing done");
                return Ok(());
            }
            let (verb, drop) = if dry_run { ("would purge", "would drop") } else { ("purged", "dropped") };
            for m in &report.months {
                println!(
                    "{drop} partition {} (events received from {} to {}): {} events",
                    m.month.events_table(),
                    m.month.from.to_rfc3339(),
                    m.month.to.to_rfc3339(),
                    m.events
                );
            }
            for p in &report.tenants {
                println!(
                    "{}: {verb} {} events received before {}, through sequence {}",
                    p.slug,
                    p.count,
                    p.before.to_rfc3339(),
                    p.through_sequence
                );
            }
            if report.is_empty() {
                println!("nothing to purge");
            }
        }
        Command::Key(KeyCommand::Create { tenant, scopes, name }) => {
            let scopes = Scopes::parse_list(&scopes, "--scopes").map_err(|e| CliError::Usage(e.to_string()))?;
            let store = open(&cli.db).await?;
            let tenant = tenant_by_slug(&store, &tenant).await?;
            let (key, secret) =
                service::keys::create_key(&store, &bus, tenant.id, &name, scopes, Acting::System).await?;
            eprintln!("created {} ({}) in tenant {}; the secret is shown only now", key.id, key.prefix, tenant.slug);
            println!("{secret}");
        }
        Command::Key(KeyCommand::List { tenant }) => {
            let store = open(&cli.db).await?;
            let tenant = tenant_by_slug(&store, &tenant).await?;
            println!("{:<36} {:<14} {:<40} {:<8} NAME", "ID", "PREFIX", "SCOPES", "STATE");
            for k in keys::list(store.db(), tenant.id).await? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{:<36} {:<14} {:<40} {:<8} {}", k.id, k.prefix, k.scopes.to_list(), state, k.name);
            }
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            let id = ApiKeyId::parse(&id, "ID").map_err(|e| CliError::Usage(e.to_string()))?;
            let store = open(&cli.db).await?;
            let key = keys::by_id_any_tenant(store.db(), id)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no API key {id}")))?;
            service::keys::revoke_key(&store, &bus, key.tenant, id, Acting::System).await?;
            eprintln!("revoked {id} ({})", key.prefix);
        }
        Command::Schema => print!("{}", crate::graphql::sdl()),
        Command::Seed(args) => {
            let store = open(&cli.db).await?;
            crate::seed::run(&store, &args).await?;
        }
        Command::Keygen { name, output, witness } => keygen(&name, output, witness)?,
        Command::Datakey { file } => {
            write_secret(&file, &crate::domain::data_key::MasterKey::generate().to_file_text())?;
            eprintln!("wrote a data key to {} (mode 0600); pass it with --data-key", file.display());
        }
        Command::Erase { tenant, actor_type, external_id } => {
            let store = open(&cli.db).await?;
            let kind = crate::domain::event::ActorType::from_stored(&actor_type.to_uppercase()).ok_or_else(|| {
                CliError::Usage(format!("--actor-type: `{actor_type}` is not an actor type (USER, API_KEY, …)"))
            })?;
            let tenant = tenant_by_slug(&store, &tenant).await?;
            let actor =
                crate::store::actors::by_key(store.db(), tenant.id, kind, &external_id).await?.ok_or_else(|| {
                    CliError::Usage(format!("no {actor_type} actor `{external_id}` in `{}`", tenant.slug))
                })?;
            let erased = service::erasure::erase(&store, &bus, tenant.id, actor.id, Acting::System).await?;
            println!("erased actor {}: {} events affected", erased.actor.id, erased.events_affected);
        }
        Command::Witness(args) => crate::witness::run(args).await?,
        Command::Verify(args) => verify(&cli.db, args).await?,
        Command::Export(args) => export(&cli.db, args).await?,
        Command::Events(command) => crate::client::run(command).await?,
    }
    Ok(())
}

/// Writes a secret to a new file only its owner may read; an existing file
/// is never overwritten.
fn write_secret(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        CliError::Usage(format!("cannot create {}: {e} (an existing key is never overwritten)", path.display()))
    })?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

fn keygen(name: &str, output: Option<std::path::PathBuf>, witness: bool) -> Result<(), CliError> {
    let usage = |e: crate::ledger::LedgerError| CliError::Usage(format!("--name: {e}"));
    let (verifier_key, private_key, use_with) = if witness {
        let (cosigner, private_key) = crate::ledger::cosignature::Cosigner::generate(name).map_err(usage)?;
        (cosigner.verifier_key(), private_key, "auditgraph witness --key")
    } else {
        let (signer, private_key) = crate::ledger::NoteSigner::generate(name).map_err(usage)?;
        (signer.verifier_key(), private_key, "--signing-key")
    };
    let path = output.unwrap_or_else(|| format!("{name}.key").into());
    write_secret(&path, &format!("{private_key}\n"))?;
    eprintln!("wrote the private key to {} (mode 0600); pass it with {use_with}", path.display());
    println!("{verifier_key}");
    Ok(())
}

async fn verify(db: &DatabaseArgs, args: VerifyArgs) -> Result<(), CliError> {
    use crate::service::verify;
    if let Some(slug) = args.tenant {
        let store = open(db).await?;
        let tenant = tenant_by_slug(&store, &slug).await?;
        let report = verify::tenant(&store, tenant.id).await?;
        let purged = match report.purged {
            0 => String::new(),
            n => format!(" ({n} purged events taken from the ledger)"),
        };
        println!(
            "verified {} events of tenant {slug} against its tree of size {}{purged} and {} persisted checkpoints",
            report.events, report.size, report.checkpoints
        );
        return Ok(());
    }
    let (Some(export), Some(checkpoint), Some(key)) = (args.export, args.checkpoint, args.key) else {
        return Err(CliError::Usage("--export needs --checkpoint and --key".into()));
    };
    let checkpoint = std::fs::read_to_string(&checkpoint)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", checkpoint.display())))?;
    let witnesses = verify::Witnesses::parse(&args.witness_keys, args.quorum).map_err(CliError::Usage)?;
    let (events, size) = if export.as_os_str() == "-" {
        verify::export(std::io::stdin().lock(), &checkpoint, &key)?
    } else {
        let file = std::fs::File::open(&export)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", export.display())))?;
        verify::export(std::io::BufReader::new(file), &checkpoint, &key)?
    };
    if let Some(witnesses) = witnesses {
        eprintln!("{}", witnesses.check(&checkpoint)?);
    }
    println!("verified {events} events against checkpoint of size {size}");
    Ok(())
}

async fn export(db: &DatabaseArgs, args: ExportArgs) -> Result<(), CliError> {
    use std::io::Write as _;

    use futures_util::StreamExt as _;

    use crate::service::export::{self, Format};
    let usage = |e: crate::error::Error| CliError::Usage(e.to_string());
    let format = Format::parse(&args.format, "--format").map_err(usage)?;
    let filter = match args.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => crate::domain::filter_spec::FilterSpec::from_json_text(text, "--filter").map_err(usage)?,
        None => Default::default(),
    };
    let mut settings = ServeSettings::new(db, &ServeArgs::default());
    settings.ledger = args.ledger;
    let store = app::open_store(&settings, Arc::new(Metrics::default())).await?;
    let ledger = app::ledger_for(&settings, &store).await?;
    let tenant = tenant_by_slug(&store, &args.tenant).await?.id;
    let started = export::start_as_operator(&store, &Bus::new(1), &ledger, tenant, format, filter).await.map_err(
        |e| match e {
            crate::error::Error::BadInput { .. } => usage(e),
            other => other.into(),
        },
    )?;
    let checkpoint = started.checkpoint;

    let create = |path: &std::path::Path| {
        std::fs::File::create(path).map_err(|e| CliError::Usage(format!("cannot create {}: {e}", path.display())))
    };
    let mut out: Box<dyn std::io::Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let progress = crate::progress::bar(checkpoint.size, "{bar:30} {pos}/{len} of the log, {msg} ({elapsed})");
    let mut written = 0u64;
    let mut chunks = std::pin::pin!(export::read_ahead(started.chunks));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        out.write_all(&chunk.bytes)?;
        written += chunk.events;
        progress.set_position(chunk.through);
        progress.set_message(format!("{written} events exported"));
    }
    out.flush()?;
    drop(out);
    progress.finish_and_clear();

    let checkpoint_path = args.checkpoint.or_else(|| {
        args.output.as_ref().map(|p| {
            let mut name = p.as_os_str().to_owned();
            name.push(".checkpoint");
            std::path::PathBuf::from(name)
        })
    });
    match &checkpoint_path {
        Some(path) => create(path)?.write_all(checkpoint.note.as_bytes())?,
        None => eprint!("{}", checkpoint.note),
    }
    eprintln!(
        "exported {written} events of tenant {} up to sequence {}{}",
        args.tenant,
        checkpoint.size,
        checkpoint_path.map(|p| format!("; checkpoint in {}", p.display())).unwrap_or_default()
    );
    Ok(())
}
