//! An event filter as a caller wrote it. Event streams and viewer tokens keep
//! their filter in the contract's JSON (an `AuditEventFilter`), to show it back
//! as written and to read it again later. That input type belongs to the doors,
//! so the application layer handles it through this trait, and reads a stored
//! one back through a [`ReadFilter`] it is given.

use crate::domain::filter::Filter;
use crate::error::Result;

pub trait WrittenFilter: Send + Sync {
    /// The filter in the contract's JSON, without its unset fields: what is stored.
    fn to_json(&self) -> serde_json::Value;

    /// The filter validated into the domain's; refusals name `path`.
    fn to_domain(&self, path: &str) -> Result<Filter>;
}

/// Reads a filter stored in the contract's JSON back into the domain's;
/// refusals name `path`.
pub type ReadFilter = fn(serde_json::Value, &str) -> Result<Filter>;
