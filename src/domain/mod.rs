//! Validated domain types: what the GraphQL layer parses its inputs into and
//! what the store accepts. Nothing here knows SQL.

pub mod actor;
pub mod address_policy;
pub mod alert_rule;
pub mod api_key;
pub mod clock;
pub mod cursor;
pub mod data_key;
pub mod database_status;
pub mod event;
pub mod event_spec;
pub mod event_stream;
pub mod exact_number;
pub mod filter;
pub mod filter_budget;
pub mod filter_spec;
pub mod ids;
pub mod json_condition;
pub mod nesting;
pub mod page;
pub mod personal;
pub mod query;
pub mod requester;
pub mod reserved_source;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod selection;
pub mod stats;
pub mod stored_event;
pub mod tenant;
pub mod wire;
pub mod words;
