//! The integration tests: one binary, the real HTTP router, each test on its
//! own fresh database (SQLite always; PostgreSQL when its URL is given).

mod helpers;

mod abuse;
mod auth;
mod cli;
mod console;
mod export;
mod filter_property;
mod hostile;
mod http;
mod isolation;
mod ledger;
mod model;
mod ops;
mod plans;
mod process;
mod query;
mod record;
mod reference;
mod rest;
mod retention;
mod schema;
mod sockets;
mod streams;
mod subscriptions;
mod upgrade;
mod validation;
mod viewer_tokens;
