//! Opaque cursors: base64url of a small versioned binary record that includes
//! the ordering it was issued for, so a cursor from another ordering is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::Error;

/// The field events are ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OrderField {
    /// When the event happened, as the producer said.
    #[default]
    OccurredAt,
    /// When this server stored the event.
    ReceivedAt,
    /// The event's position in its tenant's log: gapless and in commit order,
    /// the order to follow the log by.
    Sequence,
}

/// Where an event stands in an ordering: an instant in microseconds, or its
/// sequence number.
pub type SortKey = i64;

/// Which way an ordering runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SortDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// An ordering of events; ties always break on the event ID in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct EventOrder {
    pub field: OrderField,
    pub direction: SortDirection,
}

/// A position in one of the orderings the API pages through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// After or before this event, in this ordering.
    Event { order: EventOrder, key: SortKey, id: Uuid },
    /// Actors, by ID.
    Actor(Uuid),
    /// Resources, by ID.
    Resource(Uuid),
    /// Persisted checkpoints, by tree size.
    Checkpoint(i64),
}

const VERSION: u8 = 1;
/// 9999-12-31T23:59:59.999999Z, the last instant a cursor may hold.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = vec![VERSION];
        match self {
            Cursor::Event { order, key, id } => {
                bytes.push(1);
                bytes.push(match order.field {
                    OrderField::OccurredAt => 0,
                    OrderField::ReceivedAt => 1,
                    OrderField::Sequence => 2,
                });
                bytes.push(match order.direction {
                    SortDirection::Asc => 0,
                    SortDirection::Desc => 1,
                });
                bytes.extend_from_slice(&key.to_be_bytes());
                bytes.extend_from_slice(id.as_bytes());
            }
            Cursor::Actor(id) => {
                bytes.push(2);
                bytes.extend_from_slice(id.as_bytes());
            }
            Cursor::Resource(id) => {
                bytes.push(3);
                bytes.extend_from_slice(id.as_bytes());
            }
            Cursor::Checkpoint(size) => {
                bytes.push(4);
                bytes.extend_from_slice(&size.to_be_bytes());
            }
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor; `None` for anything that is not one of ours.
    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION {
            return None;
        }
        let (&tag, rest) = rest.split_first()?;
        let uuid = |b: &[u8]| Uuid::from_slice(b).ok();
        match (tag, rest.len()) {
            (1, 26) => {
                let field = match rest[0] {
                    0 => OrderField::OccurredAt,
                    1 => OrderField::ReceivedAt,
                    2 => OrderField::Sequence,
                    _ => return None,
                };
                let direction = match rest[1] {
                    0 => SortDirection::Asc,
                    1 => SortDirection::Desc,
                    _ => return None,
                };
                let key = i64::from_be_bytes(rest[2..10].try_into().ok()?);
                // Our cursors hold instants of stored events (1970 to year
                // 9999) or sequence numbers (from 1).
                let bound = if field == OrderField::Sequence { i64::MAX } else { MAX_MICROS };
                if !(0..=bound).contains(&key) {
                    return None;
                }
                Some(Cursor::Event { order: EventOrder { field, direction }, key, id: uuid(&rest[10..])? })
            }
            (2, 16) => Some(Cursor::Actor(uuid(rest)?)),
            (3, 16) => Some(Cursor::Resource(uuid(rest)?)),
            (4, 8) => Some(Cursor::Checkpoint(i64::from_be_bytes(rest.try_into().ok()?))).filter(Cursor::is_valid),
            _ => None,
        }
    }

    fn is_valid(&self) -> bool {
        !matches!(self, Cursor::Checkpoint(size) if *size < 0)
    }

    /// The ID of an actor cursor.
    pub fn actor_id(self) -> Option<Uuid> {
        match self {
            Cursor::Actor(id) => Some(id),
            _ => None,
        }
    }

    /// The ID of a resource cursor.
    pub fn resource_id(self) -> Option<Uuid> {
        match self {
            Cursor::Resource(id) => Some(id),
            _ => None,
        }
    }

    /// The tree size of a checkpoint cursor.
    pub fn checkpoint_size(self) -> Option<i64> {
        match self {
            Cursor::Checkpoint(size) => Some(size),
            _ => None,
        }
    }

    /// Decodes a cursor of the kind `pick` accepts; `BAD_CURSOR` otherwise.
    pub fn decode_as<T>(text: &str, path: &str, pick: impl Fn(Cursor) -> Option<T>) -> Result<T, Error> {
        Self::decode(text).and_then(pick).ok_or_else(|| bad_cursor(path))
    }

    /// Decodes an event cursor issued for `order`.
    pub fn decode_event(text: &str, order: EventOrder, path: &str) -> Result<(SortKey, Uuid), Error> {
        match Self::decode(text) {
            Some(Cursor::Event { order: issued, key, id }) if issued == order => Ok((key, id)),
            Some(Cursor::Event { .. }) => Err(Error::BadCursor(format!(
                "{path}: the cursor was issued for another ordering; use cursors with the orderBy they came from"
            ))),
            _ => Err(bad_cursor(path)),
        }
    }
}

pub fn bad_cursor(path: &str) -> Error {
    Error::BadCursor(format!("{path}: not a valid cursor; pass a cursor exactly as a previous page returned it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_the_ordering() {
        let order = EventOrder { field: OrderField::ReceivedAt, direction: SortDirection::Asc };
        let key = 1_700_000_000_123_456;
        let id = Uuid::now_v7();
        let text = Cursor::Event { order, key, id }.encode();
        assert_eq!(Cursor::decode_event(&text, order, "after").unwrap(), (key, id));
        let by_sequence = EventOrder { field: OrderField::Sequence, direction: SortDirection::Asc };
        let text = Cursor::Event { order: by_sequence, key: 42, id }.encode();
        assert_eq!(Cursor::decode_event(&text, by_sequence, "after").unwrap(), (42, id));
        assert!(Cursor::decode_event(&text, order, "after").is_err());
        let other = EventOrder::default();
        assert!(matches!(Cursor::decode_event(&text, other, "after"), Err(Error::BadCursor(_))));
        assert_eq!(Cursor::decode(&Cursor::Actor(id).encode()), Some(Cursor::Actor(id)));
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "x", "!!!", "AQ", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &Cursor::Actor(Uuid::nil()).encode()] {
            assert!(Cursor::decode_event(bad, EventOrder::default(), "after").is_err(), "{bad}");
        }
    }
}
