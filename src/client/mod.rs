//! The command-line client: `auditgraph events list` and `events tail` read a
//! running server through its GraphQL API, with a key, like any program would.
//! Nothing here touches a database.

pub mod args;
mod connection;
mod error;
mod events;
mod filter;
mod output;
mod subscription;
mod table;

pub use args::EventsCommand;
pub use error::{ClientError, ServerError};
pub use events::run;
pub use output::Format;
