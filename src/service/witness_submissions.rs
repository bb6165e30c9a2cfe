//! Submitting persisted checkpoints to the witnesses (`add-checkpoint`,
//! `c2sp.org/tlog-witness`). Each witness has a task of its own that follows
//! every tenant's newest persisted checkpoint: it sends it with the
//! consistency proof from the size the witness cosigned last (resending from
//! the size the witness names when it answers `409`), checks the cosignature
//! it gets back, and stores it. A witness that is down, slow or refusing
//! delays no recording and no other witness: its requests time out, and its
//! tenants are retried with capped exponential backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::witnesses::{Witness, WitnessSet};
use crate::domain::ids::TenantId;
use crate::ledger::add_checkpoint::{AddCheckpoint, parse_size_body};
use crate::metrics::Metrics;
use crate::store::{Store, ledger as ledger_store, witnesses as stored};

/// How long one request to a witness may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait after a failure, doubling up to [`BACKOFF_CAP`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// Tenants submitted to one witness at once.
const CONCURRENCY: usize = 4;
/// `409` answers followed for one submission (a racing replica can move the witness once more).
const CONFLICTS_FOLLOWED: usize = 3;
/// Bytes of a witness's answer read at most.
const ANSWER_LIMIT: usize = 64 * 1024;

/// When a tenant's failing submission may be tried again.
struct Backoff {
    failures: u32,
    next: Instant,
}

/// The submission tasks' shared parts.
pub struct Submissions {
    store: Store,
    witnesses: Arc<WitnessSet>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    /// How often each task looks for new checkpoints without being told.
    poll: Duration,
}

impl Submissions {
    pub fn new(store: Store, witnesses: Arc<WitnessSet>, metrics: Arc<Metrics>, poll: Duration) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(REQUEST_TIMEOUT.min(Duration::from_secs(5)))
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Arc::new(Submissions { store, witnesses, metrics, client, poll: poll.max(Duration::from_millis(100)) })
    }

    /// Starts one task per witness; each looks again whenever `persisted`
    /// changes (a checkpoint was persisted), at every poll, and when a
    /// backoff ends. Abort the tasks to stop them: a submission cut short is
    /// simply made again.
    pub fn spawn(self: &Arc<Self>, persisted: &watch::Receiver<u64>) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.witnesses.witnesses().len()).map(|i| tokio::spawn(self.clone().follow(i, persisted.clone()))).collect()
    }

    async fn follow(self: Arc<Self>, witness: usize, mut persisted: watch::Receiver<u64>) {
        let witness = &self.witnesses.witnesses()[witness];
        let label = witness.key.label();
        self.metrics.witnesses.known(&label);
        let mut backoff: HashMap<TenantId, Backoff> = HashMap::new();
        loop {
            if let Err(e) = self.pass(witness, &mut backoff).await {
                tracing::warn!(witness = %label, error = %crate::error::describe(&e), "cannot read checkpoints to submit; will retry");
            }
            let retry = backoff.values().map(|b| b.next).min();
            let wake = retry.map_or(Instant::now() + self.poll, |at| at.min(Instant::now() + self.poll));
            tokio::select! {
                changed = persisted.changed() => {
                    if changed.is_err() {
                        // The server stopped persisting checkpoints: poll on.
                        persisted.mark_unchanged();
                        tokio::time::sleep_until(wake).await;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Submits every tenant's newest checkpoint that the witness has not
    /// cosigned yet and whose backoff, if any, has ended.
    async fn pass(&self, witness: &Witness, backoff: &mut HashMap<TenantId, Backoff>) -> crate::error::Result<()> {
        let db = self.store.db();
        let label = witness.key.label();
        let newest = ledger_store::checkpointed_sizes(db).await?;
        let positions = stored::positions(db, &label).await?;
        for (tenant, size) in &positions {
            self.metrics.witnesses.cosigned(&label, &tenant.to_string(), *size);
        }
        let now = Instant::now();
        let due: Vec<(TenantId, u64, u64)> = newest
            .into_iter()
            .filter_map(|(tenant, size)| {
                let cosigned = positions.get(&tenant).copied().unwrap_or(0);
                let waiting = backoff.get(&tenant).is_some_and(|b| b.next > now);
                (cosigned < size && !waiting).then_some((tenant, size, cosigned))
            })
            .collect();
        let outcomes: Vec<(TenantId, Result<(), String>)> = futures_util::stream::iter(due)
            .map(|(tenant, size, cosigned)| async move { (tenant, self.submit(witness, tenant, size, cosigned).await) })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (tenant, outcome) in outcomes {
            match outcome {
                Ok(()) => {
                    backoff.remove(&tenant);
                }
                Err(reason) => {
                    self.metrics.witnesses.failed(&label);
                    let entry = backoff.entry(tenant).or_insert(Backoff { failures: 0, next: now });
                    entry.failures = entry.failures.saturating_add(1);
                    let wait =
                        FIRST_BACKOFF.saturating_mul(1 << entry.failures.saturating_sub(1).min(16)).min(BACKOFF_CAP);
                    entry.next = Instant::now() + wait;
                    tracing::warn!(witness = %label, %tenant, error = %reason, retry_in_ms = wait.as_millis() as u64, "witness submission failed");
                }
            }
        }
        Ok(())
    }

    /// Submits the tenant's checkpoint of `size` to the witness, whose last
    /// cosigned size is believed to be `cosigned`; on success the
    /// cosignature is stored and the witness's position advanced.
    async fn submit(&self, witness: &Witness, tenant: TenantId, size: u64, mut cosigned: u64) -> Result<(), String> {
        let db = self.store.db();
        let internal = |e: crate::error::Error| crate::error::describe(&e);
        let row = ledger_store::checkpoint_at(db, tenant, size)
            .await
            .map_err(internal)?
            .ok_or_else(|| format!("the checkpoint of size {size} is not persisted"))?;
        let text = match row.signed_note.rsplit_once("\n\n") {
            Some((text, _)) => format!("{text}\n"),
            None => return Err("the persisted checkpoint is not a signed note".into()),
        };
        for _ in 0..=CONFLICTS_FOLLOWED {
            if cosigned > size {
                return Err(format!(
                    "the witness has cosigned size {cosigned} of this log, beyond its newest checkpoint ({size}): \
                     another log may be using this origin, or this database was rolled back"
                ));
            }
            let proof = super::ledger::consistency_proof(db, tenant, cosigned as i64, Some(size as i64))
                .await
                .map_err(internal)?;
            let body = AddCheckpoint { old_size: cosigned, proof, note: row.signed_note.clone() }.body();
            let answer =
                self.client.post(&witness.add_checkpoint_url).body(body).send().await.map_err(|e| describe(&e))?;
            let status = answer.status();
            let bytes = read_answer(answer).await?;
            match status.as_u16() {
                200 => return self.keep(witness, tenant, size, &text, &bytes).await,
                409 => {
                    let named = parse_size_body(&bytes).map_err(|e| format!("the witness answered 409 with {e}"))?;
                    if named == cosigned {
                        return Err(format!("the witness answered 409 naming the old size sent, {named}"));
                    }
                    tracing::info!(witness = %witness.key.label(), %tenant, believed = cosigned, cosigned = named, "witness named another cosigned size; resending");
                    cosigned = named;
                }
                _ => return Err(format!("the witness answered HTTP {}: {}", status.as_u16(), first_line(&bytes))),
            }
        }
        Err("the witness kept answering 409".into())
    }

    /// Stores the witness's valid cosignature from its answer, and its new position.
    async fn keep(
        &self,
        witness: &Witness,
        tenant: TenantId,
        size: u64,
        text: &str,
        answer: &[u8],
    ) -> Result<(), String> {
        let label = witness.key.label();
        let answer = String::from_utf8_lossy(answer);
        let (line, timestamp) = answer
            .split_inclusive('\n')
            .find_map(|line| witness.key.verify_line(text, line).ok().map(|t| (line, t)))
            .ok_or_else(|| format!("the witness answered 200 without a valid cosignature by {label}"))?;
        let cosigned_at = chrono::DateTime::from_timestamp(timestamp as i64, 0).unwrap_or_default();
        let line = if line.ends_with('\n') { line.to_string() } else { format!("{line}\n") };
        let db = self.store.db();
        let internal = |e: crate::error::Error| crate::error::describe(&e);
        let _gate = self.store.write_gate().await;
        stored::insert_cosignature(db, tenant, size, &label, &line, cosigned_at).await.map_err(internal)?;
        stored::advance(db, &label, tenant, size, self.store.now()).await.map_err(internal)?;
        drop(_gate);
        self.metrics.witnesses.cosigned(&label, &tenant.to_string(), size);
        tracing::info!(witness = %label, %tenant, size, "checkpoint cosigned");
        Ok(())
    }
}

/// Reads an answer, keeping its first [`ANSWER_LIMIT`] bytes.
async fn read_answer(answer: reqwest::Response) -> Result<Vec<u8>, String> {
    crate::service::stream_deliverer::read_limited(answer, ANSWER_LIMIT).await.map_err(|e| describe(&e))
}

/// A refusal's first line, printable and short, for the log.
fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or_default();
    line.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the witness did not answer in time".into()
    } else if e.is_connect() {
        "cannot connect to the witness".into()
    } else if e.is_redirect() {
        "the witness redirected; redirects are not followed".into()
    } else {
        "the request to the witness failed".into()
    }
}
