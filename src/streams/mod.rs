//! Event streams: a tenant's matching events pushed to a webhook or a Splunk
//! HTTP Event Collector, in sequence order, at least once. Here: the kinds,
//! their payloads, and where they may go; `service::stream_deliverer` sends them.

pub mod destination;
pub mod resolver;
pub mod splunk;
pub mod webhook;

use std::time::Duration;

/// The `kind` of a stream that POSTs Standard Webhooks.
pub const WEBHOOK: &str = "webhook";
/// The `kind` of a stream that feeds a Splunk HTTP Event Collector.
pub const SPLUNK_HEC: &str = "splunk_hec";

/// Streams one tenant may have unless the operator says otherwise.
pub const DEFAULT_MAX_PER_TENANT: usize = 20;

/// How streams are checked and delivered.
#[derive(Clone, Debug)]
pub struct StreamSettings {
    /// The addresses streams may reach, and how names are resolved.
    pub destinations: resolver::Destinations,
    /// Streams one tenant may have, and as many alert rules.
    pub max_per_tenant: usize,
    /// How often the deliverer looks for streams with events to deliver.
    pub poll: Duration,
    /// The longest wait between two attempts at a failing destination.
    pub backoff_cap: Duration,
    /// How long one delivery request may take.
    pub request_timeout: Duration,
    /// How long a hold on a stream lasts without renewal (see [`StreamSettings::lease_ttl`]).
    pub lease: Duration,
}

/// What a lease must outlast beyond one request: the reads before it and the
/// saved position after it.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

impl StreamSettings {
    /// The lease as held: never shorter than one request plus a margin, so no
    /// batch is still in flight when another replica may take the stream.
    pub fn lease_ttl(&self) -> Duration {
        self.lease.max(self.request_timeout + LEASE_MARGIN)
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            destinations: resolver::Destinations::default(),
            max_per_tenant: DEFAULT_MAX_PER_TENANT,
            poll: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(30),
        }
    }
}
