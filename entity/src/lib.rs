//! SeaORM models of the auditgraph database.
//!
//! Models only: no GraphQL derives and no business rules. Rows serialise to
//! JSON under their column names (the PostgreSQL bulk insert sends them so). Every table but
//! `tenant` carries `tenant_id`, and the store always filters on it.

pub mod actor;
pub mod alert_firing;
pub mod alert_rule;
pub mod api_key;
pub mod audit_event;
pub mod data_key;
pub mod data_master;
pub mod event_resource;
pub mod event_stream;
pub mod ledger_checkpoint;
pub mod ledger_cosignature;
pub mod ledger_hash;
pub mod ledger_head;
pub mod resource;
pub mod retention_change;
pub mod signing_key;
pub mod tenant;
pub mod viewer_token;
pub mod witness_position;
pub mod word_backfill;
