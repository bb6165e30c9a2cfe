//! A statement timeout for SQLite, which has none of its own.
//!
//! When a request times out its future is dropped, but SQLite keeps running
//! the statement on the connection's worker thread, holding the connection
//! (and on a write, the database) until it ends. PostgreSQL cancels it at
//! `statement_timeout`; here two hooks of the connection do: SQLite's trace
//! hook notes when each statement begins to run, and its progress handler,
//! called every few thousand virtual-machine steps of a running statement,
//! interrupts it once it has run longer than the timeout.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use libsqlite3_sys::{SQLITE_TRACE_CLOSE, SQLITE_TRACE_STMT, sqlite3_trace_v2};
use sea_orm::sqlx;
use sea_orm::sqlx::sqlite::SqliteConnection;

/// Virtual-machine steps between two looks at the clock: about a millisecond
/// of work, so an interrupt comes within a few milliseconds of the deadline.
const STEPS_BETWEEN_CHECKS: i32 = 20_000;

/// The instant run starts are measured from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// When the connection's current statement began to run, in microseconds
/// after [`EPOCH`].
#[derive(Default)]
struct RunStart(AtomicU64);

impl RunStart {
    fn mark(&self) {
        self.0.store(EPOCH.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    fn elapsed(&self) -> Duration {
        EPOCH.elapsed().saturating_sub(Duration::from_micros(self.0.load(Ordering::Relaxed)))
    }
}

/// SQLite's trace hook: a statement begins to run (`SQLITE_TRACE_STMT`, also
/// at each trigger it fires), or the connection closes and gives back the
/// reference the hook holds (`SQLITE_TRACE_CLOSE`).
unsafe extern "C" fn traced(event: c_uint, context: *mut c_void, _: *mut c_void, _: *mut c_void) -> c_int {
    let start = context as *const RunStart;
    // SAFETY: `context` is the `Arc` handed over by `install`, alive until the close event drops it.
    unsafe {
        match event {
            SQLITE_TRACE_STMT => (*start).mark(),
            SQLITE_TRACE_CLOSE => drop(Arc::from_raw(start)),
            _ => {}
        }
    }
    0
}

/// Interrupts any statement of `conn` that runs longer than `timeout`.
pub async fn install(conn: &mut SqliteConnection, timeout: Duration) -> Result<(), sqlx::Error> {
    let start = Arc::new(RunStart::default());
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is locked (no statement runs meanwhile), and the hook's
    // context is a reference of its own, released when the connection closes.
    unsafe {
        sqlite3_trace_v2(
            handle.as_raw_handle().as_ptr(),
            SQLITE_TRACE_STMT | SQLITE_TRACE_CLOSE,
            Some(traced),
            Arc::into_raw(start.clone()) as *mut c_void,
        );
    }
    // `false` interrupts the statement (SQLITE_INTERRUPT).
    handle.set_progress_handler(STEPS_BETWEEN_CHECKS, move || start.elapsed() <= timeout);
    Ok(())
}
