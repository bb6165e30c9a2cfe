//! Words for the events recorded before words were stored (their
//! `search_words` is empty, so `search` cannot find them): filled in the
//! background after an upgrade, from each event's stored row, a bounded
//! chunk per write transaction so ingest waits for one chunk at most. The
//! migration that made the words' index listed what is to do
//! (`store::word_backfill`); each chunk moves that mark on in the same
//! transaction, so a restart goes on where the last run stopped, and once
//! the list is empty no start looks at the events again.

use std::time::Duration;

use crate::domain::words;
use crate::error::Result;
use crate::store::rewrite::{self, RequestCopies, Rewrite};
use crate::store::{Store, events, word_backfill};

/// Sequences looked at per transaction.
const CHUNK: i64 = 1_000;
/// How long a failed chunk waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Whether any events may still lack words: one short read, at start.
pub async fn pending(store: &Store) -> Result<bool> {
    word_backfill::any(store.db()).await
}

/// Fills every listed range, then returns; a failed chunk is logged and tried again.
pub async fn run(store: Store) {
    let mut filled = 0;
    loop {
        match fill_chunk(&store).await {
            Ok(Some(n)) => filled += n,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %crate::error::describe(&e), "filling the words of older events failed; will retry");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
    tracing::info!(events = filled, "the words of events recorded before search are filled");
}

/// Fills the words of the next chunk; how many events it gave words, or
/// `None` when nothing is left.
async fn fill_chunk(store: &Store) -> Result<Option<usize>> {
    let (_gate, txn) = store.begin_write().await?;
    let Some(pending) = word_backfill::next(&txn).await? else {
        return Ok(None);
    };
    let through = pending.last.min(pending.next + CHUNK - 1);
    let chunk = events::without_words(&txn, pending.tenant, pending.next, through).await?;
    let fills: Vec<Rewrite> =
        chunk.iter().map(|event| Rewrite { event, words: words::stored_event_words(event) }).collect();
    rewrite::rewrite(&txn, pending.tenant, &fills, RequestCopies::Keep).await?;
    word_backfill::done_through(&txn, pending, through).await?;
    txn.commit().await?;
    Ok(Some(fills.len()))
}
