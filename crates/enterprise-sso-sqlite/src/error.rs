//! Errors of opening and using a SQLite store.

/// Why a SQLite store could not be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The file is not a SQLite database (random bytes, truncated, encrypted).
    #[error("not a SQLite database (corrupt or foreign file)")]
    NotADatabase,
    /// A SQLite database that belongs to something else (other tables, other application id).
    #[error("the database belongs to another application ({reason})")]
    ForeignDatabase {
        /// What gave it away.
        reason: String,
    },
    /// Written by a newer version of this crate; refusing to touch it.
    #[error("database schema version {found} is newer than this library supports ({supported})")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The journal mode could not be switched to WAL.
    #[error("could not enable WAL journal mode (got {0})")]
    NoWal(String),
    /// The worker threads have stopped.
    #[error("the SQLite worker threads have stopped")]
    WorkerStopped,
    /// Any other SQLite error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A worker thread could not be started.
    #[error("could not start a worker thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The write transaction could not begin (e.g. another process held the write lock
    /// past the busy timeout); nothing was written.
    #[error("could not begin the write transaction: {0}")]
    Begin(#[source] std::sync::Arc<rusqlite::Error>),
    /// The write ran, but the transaction it shared with other writes (group commit) did
    /// not commit; nothing of it was written.
    #[error("the write transaction did not commit: {0}")]
    Commit(#[source] std::sync::Arc<rusqlite::Error>),
    /// The write ran, but a later write of the same group commit failed in a way that made
    /// SQLite roll the whole transaction back (disk full, I/O error); nothing of it was
    /// written, and retrying it is safe.
    #[error("the write transaction was rolled back by a failing write in the same commit")]
    RolledBack,
    /// A batch of pending requests ran at `synchronous = NORMAL` and the write connection
    /// could not be set back to its own level afterwards: a durable write is refused
    /// rather than committed at the weaker level (nothing of it was written; the next
    /// write tries the level again).
    #[error("could not set the write connection back to synchronous = {level}: {source}")]
    SyncLevel {
        /// The level the connection owes (`2` = FULL, `3` = EXTRA).
        level: i64,
        /// Why setting it failed.
        #[source]
        source: std::sync::Arc<rusqlite::Error>,
    },
    /// The database file could not be created (owner-only mode).
    #[error("could not create the database file: {0}")]
    CreateFile(#[source] std::io::Error),
}

impl SqliteError {
    pub(crate) fn classify(e: rusqlite::Error) -> SqliteError {
        match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                SqliteError::NotADatabase
            }
            _ => SqliteError::Sqlite(e),
        }
    }
}

impl From<SqliteError> for enterprise_sso::Error {
    fn from(e: SqliteError) -> Self {
        enterprise_sso::Error::storage(e)
    }
}

/// Shorthand for a rusqlite error inside a repository operation.
pub(crate) fn storage(e: rusqlite::Error) -> enterprise_sso::Error {
    SqliteError::classify(e).into()
}
