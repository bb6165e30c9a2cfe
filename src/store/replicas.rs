//! Read replicas: PostgreSQL hot standbys that answer reads, each checked
//! every second and skipped while it fails or lags.
//!
//! The routing rule. Reads that may trail the primary by up to
//! `--max-replica-lag` go through [`Store::reader`](super::Store::reader):
//! event, actor and resource pages and counts, node look-ups and the
//! DataLoaders, REST lists and reads, exports (on a replica that already
//! holds the tree size the export pins). Everything else uses
//! [`Store::db`](super::Store::db), the primary: writes; the ledger head,
//! checkpoints and proofs (the newest events must be provable at once);
//! keys, tenants and viewer tokens (small, and a revocation must hold at
//! once); event streams and their delivery positions; subscriptions (they
//! read the events just announced); and whatever a request reads after it
//! wrote ([`Reader::pin_primary`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::database_status::DatabaseStatus;
use futures_util::future::BoxFuture;
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, sqlx,
};

/// How often every database is checked, and how long one check may take.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// Primary positions remembered while a replica has not replayed them (an
/// hour of checks; a replica further behind is skipped long before).
const HISTORY: usize = 3_600;

/// Refuses read replicas the primary cannot have: replicas need PostgreSQL,
/// for the primary and for each of them.
pub fn check_urls(primary: &str, replicas: &[String]) -> Result<(), String> {
    let postgres = |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
    if replicas.is_empty() {
        return Ok(());
    }
    if !postgres(primary) {
        return Err(format!(
            "--read-database-url: read replicas need PostgreSQL, and the database ({}) is not; \
             remove --read-database-url (or AUDITGRAPH_READ_DATABASE_URL)",
            super::redact_url(primary)
        ));
    }
    match replicas.iter().find(|url| !postgres(url)) {
        Some(url) => Err(format!(
            "--read-database-url: `{}` is not a PostgreSQL URL (postgres://USER@HOST/DB)",
            super::redact_url(url)
        )),
        None => Ok(()),
    }
}

/// The replicas of one primary.
pub struct Replicas {
    list: Vec<Replica>,
    /// The next replica to try first (round robin).
    next: AtomicUsize,
    max_lag: Duration,
    /// A connection of its own for checks, so a busy pool never looks like a
    /// failed database. `None` without replicas.
    primary_probe: Option<DatabaseConnection>,
    primary_up: AtomicBool,
    primary_reads: AtomicU64,
}

/// One hot standby.
pub struct Replica {
    /// `replica-1`, `replica-2`, … in the order given.
    name: String,
    /// Its URL, password hidden.
    url: String,
    db: DatabaseConnection,
    probe: DatabaseConnection,
    /// Up and within the lag bound: reads may come here.
    usable: AtomicBool,
    reads: AtomicU64,
    fallbacks: AtomicU64,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    /// Why the last check (or read) failed; `None` while it answers.
    error: Option<String>,
    checked: bool,
    lag: Option<Duration>,
    tracker: LagTracker,
}

impl Replicas {
    /// No replicas: every read goes to the primary.
    pub fn none() -> Replicas {
        Self::new(Vec::new(), None, Duration::ZERO)
    }

    /// `replicas` are (redacted URL, pool, probe connection).
    pub fn new(
        replicas: Vec<(String, DatabaseConnection, DatabaseConnection)>,
        primary_probe: Option<DatabaseConnection>,
        max_lag: Duration,
    ) -> Replicas {
        let list = replicas
            .into_iter()
            .enumerate()
            .map(|(i, (url, db, probe))| Replica {
                name: format!("replica-{}", i + 1),
                url,
                db,
                probe,
                usable: AtomicBool::new(false),
                reads: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
                health: Mutex::new(Health::default()),
            })
            .collect();
        Replicas {
            list,
            next: AtomicUsize::new(0),
            max_lag,
            primary_probe,
            primary_up: AtomicBool::new(true),
            primary_reads: AtomicU64::new(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A usable replica, taking turns; `None` when there is none.
    fn choose(&self) -> Option<usize> {
        let n = self.list.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|i| (start + i) % n).find(|&i| self.list[i].usable.load(Ordering::Relaxed))
    }

    /// Checks every replica once: does it answer, and how far behind the
    /// primary is its replay.
    pub async fn check(&self) {
        let Some(probe) = &self.primary_probe else {
            return;
        };
        let primary = match tokio::time::timeout(CHECK_TIMEOUT, wal_position(probe)).await {
            Ok(Ok(lsn)) => Some(lsn),
            _ => None,
        };
        self.primary_up.store(primary.is_some(), Ordering::Relaxed);
        let now = Instant::now();
        futures_util::future::join_all(self.list.iter().map(|r| r.check(now, primary, self.max_lag))).await;
    }

    /// The state of each database.
    pub fn status(&self) -> Vec<DatabaseStatus> {
        let primary_up = self.primary_up.load(Ordering::Relaxed);
        let mut out = vec![DatabaseStatus {
            name: "primary".into(),
            replica: None,
            up: primary_up,
            lag: None,
            serving: primary_up,
            error: None,
            reads: self.primary_reads.load(Ordering::Relaxed),
            fallbacks: 0,
        }];
        for r in &self.list {
            let health = r.health.lock().unwrap();
            out.push(DatabaseStatus {
                name: r.name.clone(),
                replica: Some(r.url.clone()),
                up: health.checked && health.error.is_none(),
                lag: health.lag,
                serving: r.usable.load(Ordering::Relaxed),
                error: if health.checked { health.error.clone() } else { Some("not checked yet".into()) },
                reads: r.reads.load(Ordering::Relaxed),
                fallbacks: r.fallbacks.load(Ordering::Relaxed),
            });
        }
        out
    }
}

impl Replica {
    async fn check(&self, now: Instant, primary: Option<u64>, max_lag: Duration) {
        let answer = match tokio::time::timeout(CHECK_TIMEOUT, replay_state(&self.probe)).await {
            Ok(Ok(Some(state))) => Ok(state),
            Ok(Ok(None)) => Err("it is not a standby (pg_is_in_recovery() is false)".to_string()),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs_f64())),
        };
        let mut health = self.health.lock().unwrap();
        let was_usable = self.usable.load(Ordering::Relaxed);
        health.checked = true;
        match answer {
            Ok((replayed, since_commit)) => {
                if health.error.take().is_some() {
                    tracing::info!(replica = %self.name, "read replica answers again");
                }
                let lag = health.tracker.observe(now, primary, replayed, since_commit).or(health.lag);
                health.lag = lag;
                let within = lag.is_some_and(|lag| lag <= max_lag);
                self.usable.store(within, Ordering::Relaxed);
                if was_usable && !within {
                    tracing::warn!(
                        replica = %self.name,
                        lag_seconds = lag.map(|l| l.as_secs_f64()),
                        "read replica lags more than --max-replica-lag; its reads go elsewhere"
                    );
                }
            }
            Err(reason) => {
                if health.error.is_none() {
                    tracing::warn!(replica = %self.name, %reason, "read replica is down; its reads go elsewhere");
                }
                health.error = Some(reason);
                health.lag = None;
                health.tracker = LagTracker::default();
                self.usable.store(false, Ordering::Relaxed);
            }
        }
    }

    /// A read failed here in a way another database would not: stop sending
    /// reads until the next check says it is back.
    fn failed(&self, err: &DbErr) {
        self.usable.store(false, Ordering::Relaxed);
        let mut health = self.health.lock().unwrap();
        if health.error.is_none() {
            tracing::warn!(replica = %self.name, error = %err, "a read failed on a replica; retried on the primary");
        }
        health.error = Some(err.to_string());
    }
}

/// How far a replica trails the primary. Clocks are not compared: the
/// tracker remembers when the primary was at each position the replica has
/// not replayed yet, so an idle primary shows no lag, and a replica that
/// stops replaying shows the time since the primary first moved past it.
/// Until a replica is once seen caught up (after it starts or comes back),
/// the time since its last replayed commit stands in, which overstates
/// rather than hides a replica far behind.
#[derive(Default)]
struct LagTracker {
    caught_up_once: bool,
    /// (when, primary position) for positions beyond the replica's replay.
    unreplayed: VecDeque<(Instant, u64)>,
}

impl LagTracker {
    /// `primary` is the primary's WAL position (`None` when it did not answer),
    /// `replayed` the replica's, `since_commit` the age of the replica's last
    /// replayed commit. `None`: unknown.
    fn observe(
        &mut self,
        now: Instant,
        primary: Option<u64>,
        replayed: u64,
        since_commit: Option<Duration>,
    ) -> Option<Duration> {
        if let Some(position) = primary
            && position > replayed
            && self.unreplayed.back().is_none_or(|&(_, last)| last < position)
            && self.unreplayed.len() < HISTORY
        {
            self.unreplayed.push_back((now, position));
        }
        while self.unreplayed.front().is_some_and(|&(_, position)| position <= replayed) {
            self.unreplayed.pop_front();
        }
        match self.unreplayed.front() {
            None if primary.is_some() => {
                self.caught_up_once = true;
                Some(Duration::ZERO)
            }
            None => None,
            Some(&(since, _)) if self.caught_up_once => Some(now - since),
            // No commit replayed since it started: nothing tells how far behind.
            Some(&(since, _)) => since_commit.map(|age| age.max(now - since)),
        }
    }
}

/// The primary's current WAL position, in bytes.
async fn wal_position(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT (pg_current_wal_lsn() - '0/0')::bigint"))
        .await?
        .ok_or_else(|| DbErr::Custom("no WAL position".into()))?;
    Ok(row.try_get_by_index::<i64>(0)? as u64)
}

/// A standby's replayed WAL position and the age of its last replayed commit;
/// `None` when it is not a standby.
async fn replay_state(db: &DatabaseConnection) -> Result<Option<(u64, Option<Duration>)>, DbErr> {
    let sql = "SELECT pg_is_in_recovery(), (pg_last_wal_replay_lsn() - '0/0')::bigint, \
               EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8";
    let Some(row) = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await? else {
        return Ok(None);
    };
    let (standby, replayed, since) = (
        row.try_get_by_index::<bool>(0)?,
        row.try_get_by_index::<Option<i64>>(1)?,
        row.try_get_by_index::<Option<f64>>(2)?,
    );
    Ok(match (standby, replayed) {
        (true, Some(replayed)) => {
            Some((replayed as u64, since.map(|s| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or_default())))
        }
        _ => None,
    })
}

/// How a read that failed on a replica is handled.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// The replica is gone (connection refused or lost, shut down): retry on
    /// the primary and skip the replica until a check finds it back.
    Down,
    /// The replica could not serve this one read (its pool was busy, or
    /// replay cancelled the query): retry on the primary.
    Busy,
}

fn failure(err: &DbErr) -> Option<Failure> {
    let sqlx = match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => return Some(Failure::Busy),
        DbErr::ConnectionAcquire(_) => return Some(Failure::Down),
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return Some(Failure::Down),
        _ => return None,
    };
    match &**sqlx {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // A conflict with recovery cancelled the query.
                "40001" => Some(Failure::Busy),
                // Statement timeout or cancelled: the primary would fare no better.
                "57014" => None,
                // Connection exceptions; shut down, crashed, starting up.
                c if c.starts_with("08") || c.starts_with("57") => Some(Failure::Down),
                _ => None,
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => {
            Some(Failure::Down)
        }
        sqlx::Error::PoolClosed => Some(Failure::Down),
        sqlx::Error::PoolTimedOut => Some(Failure::Busy),
        _ => None,
    }
}

/// Where one request's reads go: the replica chosen when it began, while it
/// stays usable, else the primary. Once a read falls back to the primary (or
/// the request wrote, [`Reader::pin_primary`]), the rest of the request reads
/// there too, so it never sees time go backwards. Runs the store's functions
/// like any connection.
#[derive(Clone)]
pub struct Reader {
    primary: DatabaseConnection,
    replicas: Arc<Replicas>,
    replica: Option<usize>,
    pinned: Arc<AtomicBool>,
}

impl Reader {
    pub(super) fn new(primary: DatabaseConnection, replicas: Arc<Replicas>) -> Reader {
        let replica = replicas.choose();
        Reader { primary, replicas, replica, pinned: Arc::new(AtomicBool::new(false)) }
    }

    /// From now on this request (every clone of this reader) reads from the
    /// primary: it wrote, and must see what it wrote.
    pub fn pin_primary(&self) {
        self.pinned.store(true, Ordering::Relaxed);
    }

    fn replica(&self) -> Option<&Replica> {
        if self.pinned.load(Ordering::Relaxed) {
            return None;
        }
        let replica = &self.replicas.list[self.replica?];
        replica.usable.load(Ordering::Relaxed).then_some(replica)
    }

    async fn run<T: Send>(
        &self,
        op: impl for<'c> Fn(&'c DatabaseConnection) -> BoxFuture<'c, Result<T, DbErr>> + Send + Sync,
    ) -> Result<T, DbErr> {
        if let Some(replica) = self.replica() {
            let answer = op(&replica.db).await;
            match answer.as_ref().err().and_then(failure) {
                None => {
                    replica.reads.fetch_add(1, Ordering::Relaxed);
                    return answer;
                }
                Some(kind) => {
                    if kind == Failure::Down {
                        replica.failed(answer.as_ref().err().expect("an error"));
                    }
                    replica.fallbacks.fetch_add(1, Ordering::Relaxed);
                    self.pin_primary();
                }
            }
        }
        self.replicas.primary_reads.fetch_add(1, Ordering::Relaxed);
        op(&self.primary).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Reader {
    fn get_database_backend(&self) -> DbBackend {
        self.primary.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run(|db| {
            let stmt = stmt.clone();
            Box::pin(async move { db.execute_raw(stmt).await })
        })
        .await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.run(|db| {
            let sql = sql.to_owned();
            Box::pin(async move { db.execute_unprepared(&sql).await })
        })
        .await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.run(|db| {
            let stmt = stmt.clone();
            Box::pin(async move { db.query_one_raw(stmt).await })
        })
        .await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.run(|db| {
            let stmt = stmt.clone();
            Box::pin(async move { db.query_all_raw(stmt).await })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn an_idle_primary_shows_no_lag() {
        let mut t = LagTracker::default();
        let start = Instant::now();
        // Caught up: the last commit may be an hour old, the lag is zero.
        assert_eq!(t.observe(start, Some(100), 100, Some(3_600 * S)), Some(Duration::ZERO));
        assert_eq!(t.observe(start + 10 * S, Some(100), 100, Some(3_610 * S)), Some(Duration::ZERO));
        // A write after the long idle: behind by one check, not by an hour.
        assert_eq!(t.observe(start + 11 * S, Some(200), 100, Some(3_611 * S)), Some(Duration::ZERO));
        assert_eq!(t.observe(start + 12 * S, Some(200), 100, Some(3_612 * S)), Some(S));
        assert_eq!(t.observe(start + 13 * S, Some(300), 200, Some(S)), Some(Duration::ZERO));
        assert_eq!(t.observe(start + 14 * S, Some(300), 200, Some(S)), Some(S));
        assert_eq!(t.observe(start + 15 * S, Some(300), 300, Some(S)), Some(Duration::ZERO));
    }

    #[test]
    fn a_replica_that_stops_replaying_lags_more_and_more() {
        let mut t = LagTracker::default();
        let start = Instant::now();
        t.observe(start, Some(100), 100, None);
        for (i, position) in (1..=10u32).zip((200..).step_by(100)) {
            let lag = t.observe(start + i * S, Some(position), 100, None);
            assert_eq!(lag, Some((i - 1) * S));
        }
        // It resumes: caught up with the positions it has replayed.
        assert_eq!(t.observe(start + 11 * S, Some(1_200), 700, None), Some(4 * S));
        assert_eq!(t.observe(start + 12 * S, Some(1_200), 1_200, None), Some(Duration::ZERO));
    }

    #[test]
    fn a_replica_behind_from_its_first_check_counts_its_commit_age() {
        let mut t = LagTracker::default();
        let start = Instant::now();
        assert_eq!(t.observe(start, Some(500), 100, Some(7_200 * S)), Some(7_200 * S));
        assert_eq!(t.observe(start + S, Some(500), 500, Some(S)), Some(Duration::ZERO));
        // Once caught up, the tracker's own clock rules.
        assert_eq!(t.observe(start + 2 * S, Some(600), 500, Some(7_200 * S)), Some(Duration::ZERO));
    }

    #[test]
    fn an_unknown_primary_position_keeps_the_lag_unknown() {
        let mut t = LagTracker::default();
        assert_eq!(t.observe(Instant::now(), None, 100, None), None);
    }

    #[test]
    fn only_failures_of_the_replica_fall_back() {
        let io = DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )))));
        assert_eq!(failure(&io), Some(Failure::Down));
        assert_eq!(failure(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)), Some(Failure::Busy));
        assert_eq!(failure(&DbErr::Custom("bad".into())), None);
        assert_eq!(failure(&DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx::Error::RowNotFound)))), None);
    }
}
