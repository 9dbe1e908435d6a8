//! Errors of opening a PostgreSQL store, and the mapping of driver errors inside operations.

use tokio_postgres::error::SqlState;

/// Why a PostgreSQL store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The connection URL could not be parsed.
    #[error("invalid PostgreSQL connection URL: {source}")]
    InvalidUrl {
        /// The driver's reason.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The schema name is not a plain lower-case SQL identifier.
    #[error("invalid schema name (use 1 to 63 of a-z, 0-9 and _, not starting with a digit)")]
    InvalidSchemaName,
    /// The server could not be reached (refused, unreachable, timed out while connecting).
    #[error("PostgreSQL server unreachable: {source}")]
    Unreachable {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The server refused the credentials.
    #[error("PostgreSQL authentication failed: {source}")]
    Authentication {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The database named in the URL does not exist.
    #[error("PostgreSQL database does not exist: {source}")]
    DatabaseMissing {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No connection could be had within the connect timeout.
    #[error("timed out waiting for a PostgreSQL connection")]
    Timeout,
    /// The schema was written by a newer version of this crate; nothing was touched.
    #[error("database schema version {found} is newer than this library supports ({supported})")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Any other server or driver error.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The runtime that drives connections for callers outside tokio could not run.
    #[error("could not run the PostgreSQL driver: {0}")]
    Runtime(#[source] crate::runtime::RuntimeError),
}

impl PostgresError {
    /// Classifies an error met while connecting.
    pub(crate) fn connecting(e: tokio_postgres::Error) -> PostgresError {
        match e.code() {
            Some(c)
                if *c == SqlState::INVALID_PASSWORD
                    || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                PostgresError::Authentication { source: e }
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                PostgresError::DatabaseMissing { source: e }
            }
            Some(_) => PostgresError::Postgres(e),
            None => PostgresError::Unreachable { source: e },
        }
    }

    /// Classifies an error from the pool while connecting.
    pub(crate) fn pool(e: deadpool_postgres::PoolError) -> PostgresError {
        match e {
            deadpool_postgres::PoolError::Backend(e) => PostgresError::connecting(e),
            deadpool_postgres::PoolError::Timeout(_) => PostgresError::Timeout,
            other => PostgresError::Runtime(crate::runtime::RuntimeError::Pool(other.to_string())),
        }
    }
}

impl From<PostgresError> for enterprise_sso::Error {
    fn from(e: PostgresError) -> Self {
        enterprise_sso::Error::storage(e)
    }
}

/// A driver error inside a repository operation.
pub(crate) fn storage(e: tokio_postgres::Error) -> enterprise_sso::Error {
    enterprise_sso::Error::storage(e)
}

/// A pool error inside a repository operation (no connection could be had).
pub(crate) fn pool(e: deadpool_postgres::PoolError) -> enterprise_sso::Error {
    enterprise_sso::Error::storage(PostgresError::pool(e))
}

/// Whether an operation's error is one the adapter runs the operation again for: a
/// serialization failure, a deadlock, or a domain claim committed by another writer after
/// the statement's snapshot (the next run sees the claim and reports it as
/// `DomainConflict`).
pub(crate) fn is_retryable(e: &enterprise_sso::Error) -> bool {
    let enterprise_sso::Error::Storage { source } = e else {
        return false;
    };
    let Some(pg) = source.downcast_ref::<tokio_postgres::Error>() else {
        return false;
    };
    pg.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    }) || unique_violation(pg) == Some("connection_domains_pkey")
}

/// The constraint a unique violation broke, if that is what `e` is.
pub(crate) fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (*db.code() == SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or_default())
}
