//! The background deliverer: every poll it takes the streams it may deliver,
//! and for each one reads the matching events after its saved position, in
//! sequence order, up to the ledger's size, POSTs them in batches of at most
//! 100, and saves a batch's last sequence only after the destination took it.
//! A failing destination is retried with capped exponential backoff and
//! jitter, forever. At shutdown it starts no new batch, lets the batches in
//! flight end, and gives its leases up.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;

use super::deliveries::Deliveries;
use crate::domain::event_stream::EventStream;
use crate::domain::ids::{EventStreamId, TenantId};
use crate::domain::stored_event::StoredEvent;
use crate::metrics::Metrics;
use crate::streams::resolver::{self, AddressRefused, CheckedResolver};
use crate::streams::{SPLUNK_HEC, StreamSettings, destination, splunk, webhook};
/// The first wait after a failure (shorter if the cap is shorter).
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// What a delivery that reached no answer reports.
const CONNECTION_FAILED: &str = "cannot deliver: connection failed";
/// Bytes of a destination's answer kept (the rest is read and dropped).
const ANSWER_LIMIT: usize = 64 * 1024;

/// Why a pass over a stream stopped early.
enum Failure {
    /// The destination refused the batch or could not be reached: the stream is failing.
    Destination(String),
    /// The database could not be read or written: retried, the stream's state untouched.
    Store(crate::error::Error),
}

impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Self {
        Failure::Store(e)
    }
}

/// When a failing stream may be tried again.
struct Backoff {
    failures: u32,
    next: Instant,
}

pub struct Deliverer {
    deliveries: Deliveries,
    metrics: Arc<Metrics>,
    settings: StreamSettings,
    client: reqwest::Client,
    backoff: Mutex<HashMap<EventStreamId, Backoff>>,
    running: Mutex<HashSet<EventStreamId>>,
    /// Set at shutdown: passes stop before their next batch.
    stopping: AtomicBool,
}

impl Deliverer {
    pub fn new(deliveries: Deliveries, metrics: Arc<Metrics>, settings: StreamSettings) -> Arc<Self> {
        // Names resolve through the address policy, no proxy resolves them
        // instead, and a redirect is an answer, not a second destination.
        let client = reqwest::Client::builder()
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(5)))
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver(settings.destinations.clone())))
            .build()
            .expect("the delivery client builds (rustls with its bundled roots)");
        Arc::new(Self {
            deliveries,
            metrics,
            settings,
            client,
            backoff: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
            stopping: AtomicBool::new(false),
        })
    }

    /// Polls until `stop` turns true (or its sender is dropped), then lets the
    /// batches in flight end and releases this replica's leases.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.settings.poll.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
            let streams = match self.deliveries.deliverable().await {
                Ok(streams) => streams,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list event streams; will retry");
                    continue;
                }
            };
            for stream in streams {
                let id = stream.id;
                if !self.due(id) || !self.running.lock().unwrap().insert(id) {
                    continue;
                }
                tokio::spawn(self.clone().pass(stream.tenant, id));
            }
        }
        self.stop().await;
    }

    /// Waits for the passes under way (each ends after its batch in flight,
    /// within one request timeout), then gives the leases up. If one does not
    /// end in time its leases are kept: they lapse on their own.
    async fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + self.settings.request_timeout + Duration::from_secs(2);
        while !self.running.lock().unwrap().is_empty() {
            if Instant::now() >= deadline {
                tracing::warn!("event stream deliveries still under way at shutdown; their leases will lapse");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match self.deliveries.release_all().await {
            Ok(released) => tracing::info!(released, "event stream leases released"),
            Err(e) => tracing::warn!(error = %e, "cannot release event stream leases; they will lapse"),
        }
    }

    /// Whether a stream's backoff, if any, has run out.
    fn due(&self, id: EventStreamId) -> bool {
        self.backoff.lock().unwrap().get(&id).is_none_or(|b| b.next <= Instant::now())
    }

    /// Delivers one stream until it is caught up or fails.
    async fn pass(self: Arc<Self>, tenant: TenantId, id: EventStreamId) {
        match self.deliver(tenant, id).await {
            Ok(()) => {
                self.backoff.lock().unwrap().remove(&id);
            }
            Err(failure) => {
                let message = match failure {
                    Failure::Destination(message) => {
                        self.metrics.stream_failed(&id.to_string());
                        if let Err(e) = self.deliveries.failed(id, &message).await {
                            tracing::warn!(error = %e, stream = %id, "cannot record a delivery failure");
                        }
                        message
                    }
                    Failure::Store(e) => e.to_string(),
                };
                let mut backoff = self.backoff.lock().unwrap();
                let entry = backoff.entry(id).or_insert(Backoff { failures: 0, next: Instant::now() });
                entry.failures = entry.failures.saturating_add(1);
                let wait = self.wait(entry.failures);
                entry.next = Instant::now() + wait;
                tracing::warn!(stream = %id, error = %message, retry_in_ms = wait.as_millis() as u64, "event stream delivery failed");
            }
        }
        self.running.lock().unwrap().remove(&id);
    }

    /// 1 s doubling per failure up to the cap, times a random 50–100 %.
    fn wait(&self, failures: u32) -> Duration {
        let cap = self.settings.backoff_cap.max(Duration::from_millis(10));
        let base = FIRST_BACKOFF.min(cap).saturating_mul(1 << failures.saturating_sub(1).min(16)).min(cap);
        base.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    async fn deliver(&self, tenant: TenantId, id: EventStreamId) -> Result<(), Failure> {
        loop {
            if self.stopping.load(Ordering::Relaxed) || !self.deliveries.claim(id).await? {
                return Ok(());
            }
            let Some(pending) = self.deliveries.next(tenant, id).await? else {
                return Ok(());
            };
            let events = &pending.batch.events;
            if !events.is_empty() {
                self.send(&pending.stream, events).await.map_err(Failure::Destination)?;
                self.metrics.stream_delivered(&id.to_string(), events.len() as u64);
            }
            self.deliveries.delivered(id, pending.batch.through, !events.is_empty()).await?;
            self.metrics.stream_lag(&id.to_string(), pending.size.saturating_sub(pending.batch.through));
        }
    }

    /// POSTs one batch; `Err` with a short message (no secrets) unless the destination took it.
    async fn send(&self, stream: &EventStream, rows: &[StoredEvent]) -> Result<(), String> {
        let url = destination::parse(&stream.url, "url").map_err(|_| "the stored URL does not parse".to_string())?;
        // An address in the URL is dialled as written; a name goes through the resolver.
        if destination::literal_address(&url).is_some_and(|ip| !self.settings.destinations.policy.permits(ip)) {
            return Err(AddressRefused.to_string());
        }
        let now = self.deliveries.now();
        let splunk = stream.kind == SPLUNK_HEC;
        let events = self.deliveries.opened(rows).await.map_err(|_| "cannot read the events' data keys".to_string())?;
        let request = if splunk {
            splunk::request(
                &self.client,
                url.as_str(),
                &stream.secret,
                splunk::body(rows, events, stream.splunk_index.as_deref()),
            )
        } else {
            let (first, last) = (rows[0].sequence as u64, rows[rows.len() - 1].sequence as u64);
            let message_id = webhook::message_id(stream.id, first, last);
            let body = webhook::body(events, now);
            webhook::request(&self.client, url.as_str(), &stream.secret, &message_id, body, now)
                .ok_or_else(|| "the stored signing secret does not decode".to_string())?
        };
        let answer = request.send().await.map_err(|e| describe(&e))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("destination answered HTTP {}", status.as_u16()));
        }
        // An answer cut short is no answer: the batch is sent again.
        let text = read_answer(answer).await?;
        if splunk && !splunk::accepted(&text) {
            return Err("the collector's answer did not say \"code\": 0".into());
        }
        Ok(())
    }
}

/// Reads an answer to its end, keeping its first [`ANSWER_LIMIT`] bytes.
async fn read_answer(answer: reqwest::Response) -> Result<Vec<u8>, String> {
    read_limited(answer, ANSWER_LIMIT).await.map_err(|e| describe(&e))
}

/// Reads an answer to its end (so the connection can be reused), keeping
/// its first `limit` bytes.
pub(crate) async fn read_limited(mut answer: reqwest::Response, limit: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut kept = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(kept)
}

/// What went wrong with a request, in words that tell a refused address from
/// a failed connection and nothing more: which ports are closed, open or slow
/// on a network is not the stream owner's business.
fn describe(e: &reqwest::Error) -> String {
    if resolver::refused(e) { AddressRefused.to_string() } else { CONNECTION_FAILED.to_string() }
}
