//! Validated domain types: what the GraphQL layer parses its inputs into and
//! what the store accepts. Nothing here knows SQL.

pub mod cursor;
pub mod event;
pub mod event_spec;
pub mod filter;
pub mod filter_budget;
pub mod filter_spec;
pub mod ids;
pub mod nesting;
pub mod page;
pub mod scope;
pub mod wire;

use chrono::{DateTime, SubsecRound, Utc};

/// Instants are kept to the microsecond, so that SQLite and PostgreSQL store,
/// compare and order the same instant the same way.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The current instant, to the microsecond.
pub fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}
