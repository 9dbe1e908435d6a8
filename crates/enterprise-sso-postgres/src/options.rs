//! Options of a PostgreSQL store.

use std::time::Duration;

/// Options for [`crate::PostgresRepo::connect_with`] and [`crate::PostgresRepo::from_pool`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The schema the tables live in (created if missing), so they can share the host's
    /// own database. A plain identifier: `a-z`, `0-9`, `_`, at most 63 bytes.
    pub schema: String,
    /// Most connections in the pool (ignored by `from_pool`).
    pub pool_size: usize,
    /// How long connecting, and waiting for a pooled connection, may take.
    pub connect_timeout: Duration,
    /// How many times a transaction that failed with a serialization failure or a
    /// deadlock (SQLSTATE 40001, 40P01) is run again before the error is returned.
    pub max_retries: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "enterprise_sso".into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            max_retries: 8,
        }
    }
}

/// Whether `s` is a schema name this crate accepts (so it can be spliced into SQL).
pub(crate) fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
