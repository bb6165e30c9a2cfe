//! The integration tests: one binary, the real HTTP router, each test on its
//! own fresh database (SQLite always; PostgreSQL when its URL is given).

mod helpers;

mod abuse;
mod alerts;
mod auth;
mod availability;
mod cli;
mod client;
mod console;
mod destinations;
mod erasure;
mod exact_leaves;
mod export;
mod filter_property;
mod hostile;
mod http;
mod interop;
mod isolation;
mod ledger;
mod metrics;
mod model;
mod ops;
mod partitions;
mod plans;
mod process;
mod query;
mod record;
mod reference;
mod replica;
mod rest;
mod retention;
mod schema;
mod search;
mod sockets;
mod stats;
mod streams;
mod subscriptions;
mod tiles;
mod traces;
mod upgrade;
mod validation;
mod viewer_tokens;
mod witness;
mod witnessing;
mod writers;
