//! The application layer: each operation once, whichever door (GraphQL, REST,
//! WebSocket, command line) asks for it.

pub mod alert_evaluation;
pub mod alert_rules;
pub mod criteria;
pub mod data_keys;
pub mod deliveries;
pub mod erasure;
pub mod event_streams;
pub mod events;
pub mod export;
pub mod follow;
pub mod keys;
pub mod ledger;
pub mod nodes;
pub mod operations;
pub mod policy;
pub mod reads;
pub mod recording;
pub mod retention;
pub mod self_audit;
pub mod session;
pub mod stats;
pub mod stream_deliverer;
pub mod tail;
pub mod tenants;
pub mod tiles;
pub mod unit_of_work;
pub mod verify;
pub mod viewer_tokens;
pub mod witness_submissions;
pub mod witnesses;
pub mod word_backfill;

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::bus::Bus;
use crate::metrics::Metrics;
use crate::store::Store;

/// What every operation may reach, shared by every request and door.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub bus: Bus,
    pub auth: Arc<Authenticator>,
    pub metrics: Arc<Metrics>,
    /// Signs checkpoints of the tenants' trees.
    pub ledger: Arc<ledger::Ledger>,
    /// Which destinations event streams may reach.
    pub streams: crate::streams::StreamSettings,
    /// Tells the alert evaluator which tenants have rules.
    pub alerts: Arc<alert_evaluation::Watch>,
}
