//! Typed IDs. In the database every ID is a UUID v7; at the API edge it is a
//! global ID `<prefix>_<32 hex digits>`, so an ID says what it names and one kind
//! can never be passed where another is expected.

use std::fmt;

use uuid::Uuid;

use crate::error::Error;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new time-ordered ID.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a global ID of this kind; `path` names the input for the error.
            pub fn parse(global: &str, path: &str) -> Result<Self, Error> {
                match NodeId::parse(global) {
                    Some(NodeId::$name(id)) => Ok(id),
                    _ => Err(Error::bad_input(
                        path,
                        format!("`{global}` is not a valid {} ID (`{}_…`)", stringify!($name), $prefix),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl From<$name> for NodeId {
            fn from(id: $name) -> Self {
                NodeId::$name(id)
            }
        }
    };
}

typed_id!(/// An audit event.
    EventId, "evt");
typed_id!(/// An actor.
    ActorId, "act");
typed_id!(/// A resource.
    ResourceId, "res");
typed_id!(/// An API key.
    ApiKeyId, "key");
typed_id!(/// A tenant.
    TenantId, "ten");
typed_id!(/// An event stream.
    EventStreamId, "str");
typed_id!(/// An alert rule.
    AlertRuleId, "alr");

/// Any global ID, as `node(id:)` receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeId {
    EventId(EventId),
    ActorId(ActorId),
    ResourceId(ResourceId),
    ApiKeyId(ApiKeyId),
    TenantId(TenantId),
    EventStreamId(EventStreamId),
    AlertRuleId(AlertRuleId),
}

impl NodeId {
    /// Decodes `<prefix>_<32 lowercase hex digits>`; anything else is `None`.
    pub fn parse(global: &str) -> Option<Self> {
        let (prefix, token) = global.split_once('_')?;
        if token.len() != 32 || !token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let uuid = Uuid::try_parse(token).ok()?;
        Some(match prefix {
            EventId::PREFIX => Self::EventId(EventId(uuid)),
            ActorId::PREFIX => Self::ActorId(ActorId(uuid)),
            ResourceId::PREFIX => Self::ResourceId(ResourceId(uuid)),
            ApiKeyId::PREFIX => Self::ApiKeyId(ApiKeyId(uuid)),
            TenantId::PREFIX => Self::TenantId(TenantId(uuid)),
            EventStreamId::PREFIX => Self::EventStreamId(EventStreamId(uuid)),
            AlertRuleId::PREFIX => Self::AlertRuleId(AlertRuleId(uuid)),
            _ => return None,
        })
    }

    /// Like [`NodeId::parse`], with a `BAD_USER_INPUT` error naming `path`.
    pub fn parse_input(global: &str, path: &str) -> Result<Self, Error> {
        Self::parse(global).ok_or_else(|| Error::bad_input(path, format!("`{global}` is not a valid ID")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        let id = EventId::generate();
        assert_eq!(NodeId::parse(&id.to_string()), Some(NodeId::EventId(id)));
        let id = TenantId::generate();
        assert_eq!(TenantId::parse(&id.to_string(), "id").unwrap(), id);
    }

    #[test]
    fn refuses_malformed_and_mismatched_ids() {
        let id = EventId::generate().to_string();
        assert!(ActorId::parse(&id, "id").is_err());
        for bad in [
            "",
            "evt",
            "evt_",
            "evt_xyz",
            "nope_0192f3a0b1c27d3e8f9a0b1c2d3e4f50",
            "evt_0192F3A0B1C27D3E8F9A0B1C2D3E4F50",
            "evt_0192f3a0-b1c2-7d3e-8f9a-0b1c2d3e4f50",
        ] {
            assert_eq!(NodeId::parse(bad), None, "{bad}");
        }
    }
}
