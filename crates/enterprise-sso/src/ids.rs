//! Prefixed, time-sortable, unguessable identifiers.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

/// Prefix of every connection id.
pub const CONNECTION_ID_PREFIX: &str = "ent_";
/// Prefix of every enterprise account id.
pub const ACCOUNT_ID_PREFIX: &str = "eac_";
/// Prefix of every change-feed event id.
pub const EVENT_ID_PREFIX: &str = "evt_";
/// Prefix of every connection test run id.
pub const TEST_RUN_ID_PREFIX: &str = "tr_";

static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

fn next_ulid() -> ulid::Ulid {
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow of the random part within one millisecond is astronomically unlikely; a
    // fresh random ULID is still unique, only not monotonic.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// Text that is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id (expected `{prefix}` followed by a 26-character ULID)")]
pub struct InvalidId {
    /// The prefix that was expected.
    pub prefix: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:ident) => {
        $(#[$doc])*
        ///
        /// A ULID starts with a millisecond timestamp and carries 80 random bits, so ids sort
        /// by creation time (ids order pagination) and cannot be guessed. Ids made in one
        /// process are strictly increasing, even within one millisecond.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Makes a new id, greater than every id made before it in this process.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, next_ulid()))
            }

            /// An id below every real id (a range start for ordered indexes).
            pub fn min() -> Self {
                Self(String::new())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Milliseconds since the Unix epoch encoded in the id.
            pub fn timestamp_ms(&self) -> u64 {
                self.0
                    .strip_prefix($prefix)
                    .and_then(|s| ulid::Ulid::from_string(s).ok())
                    .map(|u| u.timestamp_ms())
                    .unwrap_or(0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bad = InvalidId { prefix: $prefix };
                let rest = s.strip_prefix($prefix).ok_or(bad.clone())?;
                let ulid = ulid::Ulid::from_string(rest).map_err(|_| bad)?;
                // Canonical (upper-case) form so that byte order equals time order.
                Ok(Self(format!("{}{}", $prefix, ulid)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

prefixed_id!(
    /// Identifier of an enterprise connection: `ent_` followed by a ULID.
    ConnectionId,
    CONNECTION_ID_PREFIX
);
prefixed_id!(
    /// Identifier of a change-feed event: `evt_` followed by a ULID.
    EventId,
    EVENT_ID_PREFIX
);

prefixed_id!(
    /// Identifier of an enterprise account: `eac_` followed by a ULID.
    AccountId,
    ACCOUNT_ID_PREFIX
);

prefixed_id!(
    /// Identifier of a connection test run: `tr_` followed by a ULID.
    TestRunId,
    TEST_RUN_ID_PREFIX
);

/// The id of a stored record of either kind, as errors name it: which kind of record was
/// missing or raced is kept, not only its text.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordId {
    /// An enterprise connection.
    Connection(ConnectionId),
    /// An enterprise account.
    Account(AccountId),
}

impl RecordId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        match self {
            RecordId::Connection(id) => id.as_str(),
            RecordId::Account(id) => id.as_str(),
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordId::Connection(id) => fmt::Debug::fmt(id, f),
            RecordId::Account(id) => fmt::Debug::fmt(id, f),
        }
    }
}

impl From<ConnectionId> for RecordId {
    fn from(id: ConnectionId) -> Self {
        RecordId::Connection(id)
    }
}

impl From<&ConnectionId> for RecordId {
    fn from(id: &ConnectionId) -> Self {
        RecordId::Connection(id.clone())
    }
}

impl From<AccountId> for RecordId {
    fn from(id: AccountId) -> Self {
        RecordId::Account(id)
    }
}

impl From<&AccountId> for RecordId {
    fn from(id: &AccountId) -> Self {
        RecordId::Account(id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_monotonic_and_parse_back() {
        let ids: Vec<_> = (0..1000).map(|_| ConnectionId::generate()).collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{:?} !< {:?}", w[0], w[1]);
        }
        let id = &ids[0];
        assert!(id.as_str().starts_with("ent_"));
        assert_eq!(id.as_str().len(), 4 + 26);
        assert_eq!(&id.as_str().parse::<ConnectionId>().unwrap(), id);
        assert!(id.timestamp_ms() > 1_600_000_000_000);
        let a = AccountId::generate();
        assert!(a.as_str().starts_with("eac_"));
        assert_eq!(&a.as_str().parse::<AccountId>().unwrap(), &a);
        assert!(a.as_str().parse::<ConnectionId>().is_err());
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in [
            "",
            "ent_",
            "conn_01E4ZCR3C56J083X43JQXF3JK5",
            "ent_xyz",
            "ent_01E4ZCR3C56J083X43JQXF3JK5X",
        ] {
            assert!(bad.parse::<ConnectionId>().is_err(), "{bad}");
        }
    }
}
