//! Identifiers of the three kinds of stream: clients, owners and grants.
//!
//! All three are UUIDs chosen by the caller (the server uses v7, so ids sort by creation
//! time); the domain never generates one, because randomness comes in with commands.
//! They are pseudonymous: an [`OwnerId`] says nothing about the person behind it, which
//! is what lets an owner be erased without touching the event log.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! stream_id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            #[doc = concat!("The prefix of this kind of stream's ids: `", $prefix, "-<uuid>`.")]
            pub const STREAM_PREFIX: &'static str = $prefix;

            /// Wraps a UUID the caller chose.
            pub const fn new(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn uuid(&self) -> Uuid {
                self.0
            }

            #[doc = concat!("The event stream this id names: `", $prefix, "-<uuid>` (hyphenated, lowercase).")]
            pub fn stream_id(&self) -> String {
                format!(concat!($prefix, "-{}"), self.0.hyphenated())
            }

            /// Reads an id from its stream name; `None` if `stream_id` is not one of ours.
            pub fn from_stream_id(stream_id: &str) -> Option<Self> {
                let uuid = stream_id.strip_prefix(concat!($prefix, "-"))?;
                Uuid::try_parse(uuid).ok().map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        /// Reads the id as [`fmt::Display`] writes it.
        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(text).map(Self)
            }
        }
    };
}

stream_id_type!(
    /// A registered client (Beppa): the subject of the `client-<uuid>` stream. Not the
    /// consumer key — the key is what the client sends on the wire, the id is what the
    /// events are about, so a key could be re-issued without renaming the history.
    ClientId,
    "client"
);

stream_id_type!(
    /// One grant: one run of the three-legged flow, from temporary credentials to its
    /// end. The subject of the `grant-<uuid>` stream.
    GrantId,
    "grant"
);

stream_id_type!(
    /// A resource owner (Jane), pseudonymously: the subject of the `owner-<uuid>` stream.
    /// Her username and password live outside the events.
    OwnerId,
    "owner"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_name_the_kind_and_the_uuid() {
        let uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
        assert_eq!(ClientId::new(uuid).stream_id(), "client-01920000-0000-7000-8000-000000000001");
        assert_eq!(GrantId::new(uuid).stream_id(), "grant-01920000-0000-7000-8000-000000000001");
        assert_eq!(OwnerId::new(uuid).stream_id(), "owner-01920000-0000-7000-8000-000000000001");
    }

    #[test]
    fn stream_ids_read_back_only_for_their_own_kind() {
        let id = GrantId::new(Uuid::from_u128(42));
        assert_eq!(GrantId::from_stream_id(&id.stream_id()), Some(id));
        assert_eq!(ClientId::from_stream_id(&id.stream_id()), None);
        assert_eq!(GrantId::from_stream_id("grant-not-a-uuid"), None);
    }

    #[test]
    fn serializes_as_a_bare_uuid() {
        let id = OwnerId::new(Uuid::nil());
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""00000000-0000-0000-0000-000000000000""#);
    }
}
