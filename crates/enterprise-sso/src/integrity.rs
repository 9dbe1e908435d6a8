//! What an adapter's integrity check (`verify()`) or open-time check found wrong.

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
