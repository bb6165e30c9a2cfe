//! What a reader of events needs besides the events' own columns: the wide
//! columns it selected ([`Detail`]) and the rows it wants fetched in the same
//! statement ([`Joins`]). Doors work them out from what their caller asked.

use super::actor::Actor;
use super::resource::Resource;
use super::stored_event::StoredEvent;

/// The wide columns of an event that a reader may not need. One not needed is
/// fetched as a constant (`{}`, `[]`, null, false), so rows still decode as
/// models but nobody pays for reading, sending and parsing what no one selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detail {
    pub metadata: bool,
    pub changes: bool,
    /// Summary, reason and error message.
    pub texts: bool,
    /// The actor and resources as recorded (`recordedActor`).
    pub recorded: bool,
    /// The request context.
    pub request: bool,
}

impl Detail {
    pub const ALL: Detail = Detail { metadata: true, changes: true, texts: true, recorded: true, request: true };
    pub const NONE: Detail = Detail { metadata: false, changes: false, texts: false, recorded: false, request: false };
}

/// What a page fetches along with each event, in the same statement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Joins {
    /// The event's actor.
    pub actor: bool,
    /// The event's primary resource.
    pub resource: bool,
}

/// An event of a page with what [`Joins`] asked for; `None` where not asked
/// (or, for the resource, where the event has none).
pub struct Joined {
    pub event: StoredEvent,
    pub actor: Option<Actor>,
    pub resource: Option<Resource>,
}
