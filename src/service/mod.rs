//! The application layer: each operation once, whichever door (GraphQL, REST,
//! WebSocket, command line) asks for it.

pub mod events;
pub mod export;
pub mod ledger;
pub mod retention;
pub mod verify;
