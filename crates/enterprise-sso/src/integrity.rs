//! What an adapter's integrity check (`verify()`) or open-time check found wrong, and the
//! values an adapter's indexed columns must hold for a record (one definition for every
//! adapter that keeps such columns).

use std::collections::BTreeSet;

use crate::account::EnterpriseAccount;
use crate::connection::EnterpriseConnection;
use crate::storage::codec::{decode_account, decode_connection};
use crate::storage::{account_keys, connection_keys};

/// The indexed columns of a stored connection: id, organization id, active, provider,
/// certificate expiry (Unix ms), version.
pub type ConnectionColumns = (String, Option<String>, bool, String, Option<i64>, i64);

/// The indexed columns of a stored account: id, linked connection, provider user id,
/// email key.
pub type AccountColumns = (String, Option<String>, Option<String>, String);

/// What the indexed columns of `c` must hold.
pub fn connection_columns(c: &EnterpriseConnection) -> ConnectionColumns {
    let k = connection_keys(c);
    (
        k.id.to_string(),
        k.organization_id.map(str::to_owned),
        k.active,
        k.provider.as_str().to_owned(),
        k.certificate_expires_at,
        i64::try_from(c.version).unwrap_or(-1),
    )
}

/// What the indexed columns of `a` must hold.
pub fn account_columns(a: &EnterpriseAccount) -> AccountColumns {
    let k = account_keys(a);
    (
        a.id.to_string(),
        k.connection.map(|c| c.to_string()),
        a.provider_user_id.clone(),
        k.email,
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

fn index(index: &'static str, detail: String) -> IntegrityError {
    IntegrityError::Index { index, detail }
}

/// The cross-check of a store that keeps records beside indexed columns and a domain
/// table (SQLite, PostgreSQL): every record decodes (checksum included) and its columns as
/// stored are the ones it calls for, the `(domain, connection id)` pairs are exactly the
/// records' claims, and every linked account's connection exists. The adapter only reads
/// the rows; table names in errors are `connections`, `connection_domains`, `accounts`.
pub fn cross_check(
    connections: impl IntoIterator<Item = (ConnectionColumns, Vec<u8>)>,
    domains: &BTreeSet<(String, String)>,
    accounts: impl IntoIterator<Item = (AccountColumns, Vec<u8>)>,
) -> Result<(), IntegrityError> {
    let mut claims = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (stored, record) in connections {
        let id = stored.0.clone();
        let c = decode_connection(&record).map_err(|e| IntegrityError::Record {
            table: "connections",
            key: id.clone(),
            reason: e.to_string(),
        })?;
        if connection_columns(&c) != stored {
            return Err(index(
                "connections",
                format!("the indexed columns of {id} disagree with its record"),
            ));
        }
        for d in &c.domains {
            claims.insert((d.as_str().to_owned(), id.clone()));
        }
        ids.insert(id);
    }
    if let Some((d, c)) = domains.difference(&claims).next() {
        return Err(index(
            "connection_domains",
            format!("{d} -> {c} has no record that claims it"),
        ));
    }
    if let Some((d, c)) = claims.difference(domains).next() {
        return Err(index(
            "connection_domains",
            format!("{c} claims {d}, which is missing"),
        ));
    }
    for (stored, record) in accounts {
        let id = stored.0.clone();
        let a = decode_account(&record).map_err(|e| IntegrityError::Record {
            table: "accounts",
            key: id.clone(),
            reason: e.to_string(),
        })?;
        let columns = account_columns(&a);
        if columns != stored {
            return Err(index(
                "accounts",
                format!("the indexed columns of {id} disagree with its record"),
            ));
        }
        if let Some(c) = columns.1.filter(|c| !ids.contains(c)) {
            return Err(IntegrityError::Record {
                table: "accounts",
                key: id,
                reason: format!("is linked to missing connection {c}"),
            });
        }
    }
    Ok(())
}
