//! auditgraph: an audit-log server. Services record who did what to which
//! resource; people and programs read it back through one GraphQL API.
//!
//! A request is authenticated into a [`auth::Requester`], executed by the
//! [`graphql`] schema, whose resolvers validate inputs into [`domain`] types
//! and call the tenant-scoped [`store`]. Committed events are announced on the
//! [`bus`] for subscriptions.

pub mod app;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ledger;
pub mod metrics;
pub mod progress;
pub mod rest;
pub mod seed;
pub mod service;
pub mod signals;
pub mod store;
pub mod streams;
pub mod telemetry;
pub mod viewer_token;
pub mod witness;
