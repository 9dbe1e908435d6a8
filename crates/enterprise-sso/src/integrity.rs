//! What an adapter's integrity check (`verify()`) or open-time check found wrong, and the
//! values an adapter's indexed columns must hold for a record (one definition for every
//! adapter that keeps such columns).

use crate::account::{email_key, EnterpriseAccount};
use crate::connection::EnterpriseConnection;

/// The indexed columns of a stored connection: id, organization id, active, provider,
/// certificate expiry (Unix ms).
pub type ConnectionColumns = (String, Option<String>, bool, String, Option<i64>);

/// The indexed columns of a stored account: id, linked connection, provider user id,
/// email key.
pub type AccountColumns = (String, Option<String>, Option<String>, String);

/// What the indexed columns of `c` must hold.
pub fn connection_columns(c: &EnterpriseConnection) -> ConnectionColumns {
    (
        c.id.to_string(),
        c.organization_id.clone(),
        c.active,
        c.provider.as_str().to_owned(),
        crate::repo::certificate_expires_at(c),
    )
}

/// What the indexed columns of `a` must hold.
pub fn account_columns(a: &EnterpriseAccount) -> AccountColumns {
    (
        a.id.to_string(),
        a.enterprise_connection_id.as_ref().map(|c| c.to_string()),
        a.provider_user_id.clone(),
        email_key(&a.email_address),
    )
}

/// One integrity problem, named precisely enough to act on. Adapters return it from
/// `verify()`, and wrap it in [`crate::Error::Storage`] when a store is refused on open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The storage engine's own check failed (SQLite `PRAGMA integrity_check`).
    #[error("the storage engine reports damage: {0}")]
    Engine(String),
    /// A stored record could not be read (checksum, format, or key that does not match).
    #[error("{table} record {key}: {reason}")]
    Record {
        /// The table or tree.
        table: &'static str,
        /// The record's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An index disagrees with the records.
    #[error("index {index}: {detail}")]
    Index {
        /// The index (table or tree) name.
        index: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Writes that were acknowledged as durable are missing: the store holds fewer commits
    /// than were known to be on disk (a damaged file that the engine's recovery cut short).
    #[error(
        "acknowledged writes are missing: {acknowledged} commits were on disk, the store \
         recovered {found}"
    )]
    WritesLost {
        /// Commits recorded as durable outside the engine's files.
        acknowledged: u64,
        /// Commits the store holds now.
        found: u64,
    },
}
