//! The only place that talks SQL. Every function that reads or writes tenant
//! data takes the `TenantId` first, so a query without a tenant cannot be written.

pub mod actors;
pub mod alert_rules;
pub mod announcements;
pub mod data_keys;
pub mod day_counts;
pub mod erasure;
pub mod event_streams;
pub mod events;
pub mod filter;
pub mod identities;
pub mod keys;
mod keyset;
mod lease;
pub mod ledger;
pub mod metadata;
pub mod partitions;
mod permit;
pub mod recording;
pub mod replicas;
pub mod resources;
pub mod retention;
pub mod rewrite;
mod row;
pub mod sql;
mod sqlite_deadline;
pub mod stats;
pub mod tenants;
pub mod viewer_tokens;
pub mod witnesses;
pub mod word_backfill;
pub mod words;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, MutexGuard};

use crate::domain::clock::SharedClock;
use crate::domain::data_key::MasterKey;
use crate::metrics::{Metrics, PoolStats};

pub use replicas::Reader;
use replicas::Replicas;

use crate::domain::database_status::DatabaseStatus;

/// The advisory lock migrations hold on PostgreSQL ("auditgrp" in ASCII).
const MIGRATION_LOCK: i64 = 0x6175_6469_7467_7270;

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct DbSettings {
    pub url: String,
    /// Largest number of pooled connections.
    pub pool_size: u32,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// The longest one statement may run (`None`: no bound): PostgreSQL's
    /// `statement_timeout`, SQLite's progress handler (`sqlite_deadline`).
    pub statement_timeout: Option<Duration>,
    /// Hot standbys of the database that answer reads (PostgreSQL only).
    pub read_urls: Vec<String>,
    /// A replica further behind than this is skipped until it catches up.
    pub max_replica_lag: Duration,
    /// The clock every write is stamped by.
    pub clock: SharedClock,
    /// The master key file (`--data-key`); `None`: the one kept in the database.
    pub data_key: Option<std::path::PathBuf>,
}

/// How often a PostgreSQL backend running a statement checks that its client
/// is still connected, and aborts the statement when it is not.
const CLIENT_CHECK_INTERVAL: &str = "1s";
/// How long a connection handed back to the pool may take to answer a ping
/// before it is closed: a connection whose statement still runs was dropped
/// by a request that ended, and closing it makes PostgreSQL abort the
/// statement instead of finishing work nobody waits for.
const RELEASE_PING: Duration = Duration::from_millis(500);

/// The database handle shared by every request.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer at a time; writers queue here instead of failing
    /// with "database is locked". `None` on PostgreSQL.
    write_gate: Option<Arc<Mutex<()>>>,
    /// How it was opened: migrations open their own connection from it.
    settings: DbSettings,
    /// Read replicas (none on SQLite, or when none is configured).
    replicas: Arc<Replicas>,
    /// The key that wraps the actors' data keys, installed once at start
    /// (`service::data_keys::load_master`).
    master_key: Arc<std::sync::OnceLock<MasterKey>>,
}

impl Store {
    /// The current instant by the server's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.settings.clock.now()
    }

    /// The server's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.settings.clock
    }

    /// Installs the master key (the first one installed stays).
    pub fn install_master_key(&self, key: MasterKey) {
        let _ = self.master_key.set(key);
    }

    /// The master key; an internal error before it is installed.
    pub fn master_key(&self) -> crate::error::Result<&MasterKey> {
        self.master_key.get().ok_or_else(|| crate::error::Error::internal("the data keys' master key is not loaded"))
    }
}

/// A database URL with its password hidden, for messages: in the user
/// information and in any query parameter naming a password
/// (`?password=…`, `&sslpassword=…`).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_string(),
            },
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=***"),
                _ => param.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Pool options for `url` (the primary or a replica) under `settings`.
fn connect_options(settings: &DbSettings, url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(settings.pool_size)
        .min_connections(1)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(|o| o.options([("client_connection_check_interval", CLIENT_CHECK_INTERVAL)]))
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_release(|conn, _| {
                Box::pin(async move {
                    let answered = tokio::time::timeout(RELEASE_PING, sqlx::Connection::ping(conn)).await;
                    Ok(matches!(answered, Ok(Ok(()))))
                })
            })
        })
        .map_sqlx_sqlite_opts(|o| {
            // FULL: a commit is on disk before it is acknowledged (NORMAL
            // survives a killed process but may lose the last commits on
            // power loss), as an audit log must promise.
            o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Deleted and overwritten content is zeroed in the file, so
                // an erasure leaves no plaintext behind in free pages.
                .pragma("secure_delete", "ON")
        });
    if let Some(timeout) = settings.statement_timeout {
        options.statement_timeout(timeout);
        options.map_sqlx_sqlite_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| Box::pin(sqlite_deadline::install(conn, timeout)))
        });
    }
    options
}

impl Store {
    /// Connects and counts every statement in `metrics`, to the primary and
    /// to each read replica (whose pools open lazily: a replica down at start
    /// is skipped until it answers).
    pub async fn connect(settings: &DbSettings, metrics: Arc<Metrics>) -> Result<Store, sea_orm::DbErr> {
        replicas::check_urls(&settings.url, &settings.read_urls).map_err(sea_orm::DbErr::Custom)?;
        let mut db = Database::connect(connect_options(settings, &settings.url)).await?;
        let counted = metrics.clone();
        db.set_metric_callback(move |info| counted.db_statement(info.failed));
        let write_gate = (db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let replicas = if settings.read_urls.is_empty() {
            Replicas::none()
        } else {
            // Checks run on connections of their own: a busy pool is not a
            // failed database.
            let probe = |url: &str| {
                let mut options = connect_options(&DbSettings { pool_size: 1, ..settings.clone() }, url);
                options.min_connections(0).connect_lazy(true);
                Database::connect(options)
            };
            let mut list = Vec::new();
            for url in &settings.read_urls {
                let mut options = connect_options(settings, url);
                options.min_connections(0).connect_lazy(true);
                let mut pool = Database::connect(options).await?;
                let counted = metrics.clone();
                pool.set_metric_callback(move |info| counted.db_statement(info.failed));
                list.push((redact_url(url), pool, probe(url).await?));
            }
            Replicas::new(list, Some(probe(&settings.url).await?), settings.max_replica_lag)
        };
        Ok(Store {
            db,
            write_gate,
            settings: settings.clone(),
            replicas: Arc::new(replicas),
            master_key: Arc::default(),
        })
    }

    /// Applies pending migrations. They may take longer than any request:
    /// when statements are bounded, they run on a connection of their own
    /// without the bound.
    pub async fn migrate(&self) -> Result<(), sea_orm::DbErr> {
        if self.backend() != DbBackend::Postgres {
            // An in-memory database exists only on this pool's connections.
            if self.settings.statement_timeout.is_none() || self.settings.url.contains(":memory:") {
                return Migrator::up(&self.db, None).await;
            }
            let unbounded = DbSettings { statement_timeout: None, pool_size: 1, ..self.settings.clone() };
            let store = Store::connect(&unbounded, Arc::default()).await?;
            let migrated = Migrator::up(&store.db, None).await;
            store.db.close().await?;
            return migrated;
        }
        // One connection of its own, without the serving pool's statement
        // bound, holding an advisory lock: servers starting together on one
        // database migrate one after the other instead of racing.
        let unbounded =
            DbSettings { statement_timeout: None, pool_size: 1, read_urls: Vec::new(), ..self.settings.clone() };
        let store = Store::connect(&unbounded, Arc::default()).await?;
        store.db.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).await?;
        let migrated = Migrator::up(&store.db, None).await;
        let unlocked = store.db.execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).await;
        store.db.close().await?;
        migrated.and(unlocked.map(|_| ()))
    }

    /// The primary: writes, and the reads that must see the newest state
    /// (see [`replicas`] for the rule).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Where one request's reads go: a usable read replica, in turns, else
    /// the primary. Pages, counts, node look-ups and exports read here;
    /// [`replicas`] has the whole rule.
    pub fn reader(&self) -> Reader {
        Reader::new(self.db.clone(), self.replicas.clone())
    }

    /// Checks the read replicas once (nothing without replicas).
    pub async fn check_replicas(&self) {
        self.replicas.check().await
    }

    /// Checks the read replicas every [`replicas::CHECK_INTERVAL`] until the
    /// task is aborted; `None` without replicas.
    pub fn watch_replicas(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.replicas.is_empty() {
            return None;
        }
        let replicas = self.replicas.clone();
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(replicas::CHECK_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                replicas.check().await;
            }
        }))
    }

    /// Each database as the last checks saw it: the primary, then each
    /// replica (only the primary, always up, without replicas).
    pub fn databases(&self) -> Vec<DatabaseStatus> {
        self.replicas.status()
    }

    /// Whether read replicas are configured.
    pub fn has_replicas(&self) -> bool {
        !self.replicas.is_empty()
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Waits for the right to write (SQLite only; PostgreSQL returns at once).
    /// Every write of this process holds it: SQLite has one writer at a time.
    pub async fn write_gate(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    /// Begins a write transaction, holding the write gate. On SQLite it is
    /// `BEGIN IMMEDIATE`: the write lock is taken at once (waiting up to the
    /// busy timeout for a writer in another process), so a transaction that
    /// reads before it writes never finds its snapshot stale when it first
    /// writes (`SQLITE_BUSY_SNAPSHOT`, "database is locked", which no busy
    /// timeout retries).
    pub async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, DatabaseTransaction), sea_orm::DbErr> {
        let gate = self.write_gate().await;
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self.db.begin_with_options(options).await?;
        Ok((gate, txn))
    }

    /// Creates (or updates) actors and resources ahead of the events that will
    /// name them, in one transaction: a bulk load whose writers then never
    /// race to create the same row.
    pub async fn create_identities(
        &self,
        tenant: crate::domain::ids::TenantId,
        actors: &[crate::domain::event::NewActor],
        resources: &[crate::domain::event::NewResource],
    ) -> crate::error::Result<()> {
        const CHUNK: usize = 1_000;
        let (_gate, txn) = self.begin_write().await?;
        let now = self.now();
        for chunk in actors.chunks(CHUNK) {
            actors::upsert(&txn, tenant, chunk.iter().collect(), now).await?;
        }
        for chunk in resources.chunks(CHUNK) {
            resources::upsert(&txn, tenant, chunk.iter().collect(), now).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Refreshes the planner's statistics (after a bulk load, so plans fit the data).
    pub async fn analyze(&self) -> Result<(), sea_orm::DbErr> {
        self.db.execute_unprepared("ANALYZE").await.map(|_| ())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.db.execute_unprepared("SELECT 1").await.is_ok()
    }

    /// Pool connections in use and idle, and the most the pool opens.
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle, max) = match self.backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle() as u32, pool.options().get_max_connections())
            }
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle() as u32, pool.options().get_max_connections())
            }
        };
        PoolStats { in_use: size.saturating_sub(idle), idle, max }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_only() {
        assert_eq!(super::redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite://a.db?mode=rwc"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            super::redact_url("postgres://h/db?user=u&password=secret&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            super::redact_url("postgres://u:pw@h/db?PASSWORD=x&sslpassword=y"),
            "postgres://u:***@h/db?PASSWORD=***&sslpassword=***"
        );
        assert!(!super::redact_url("postgres://u:a@b@h/db?password=c@d").contains('c'));
    }
}
