//! The integrity check: `PRAGMA integrity_check`, then the core's cross-check of records,
//! indexed columns, domain table and accounts ([`cross_check`]). Runs in one read
//! transaction.

use std::collections::BTreeSet;

use enterprise_sso::storage::{cross_check, AccountColumns, ConnectionColumns, IntegrityError};
use rusqlite::Connection;

fn engine(e: rusqlite::Error) -> IntegrityError {
    IntegrityError::Engine(e.to_string())
}

/// Checks the whole database (see the module docs); the first problem found is returned.
pub(crate) fn verify(conn: &mut Connection) -> Result<(), IntegrityError> {
    let tx = conn.transaction().map_err(engine)?;
    let report: Vec<String> = {
        let mut st = tx.prepare("PRAGMA integrity_check").map_err(engine)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    if report != ["ok"] {
        return Err(IntegrityError::Engine(report.join("; ")));
    }
    let connections: Vec<(ConnectionColumns, Vec<u8>)> = {
        let mut st = tx
            .prepare(
                "SELECT id, organization_id, active, provider, cert_expires_at, version, record \
                 FROM connections",
            )
            .map_err(engine)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    (
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ),
                    r.get(6)?,
                ))
            })
            .map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    let domains: BTreeSet<(String, String)> = {
        let mut st = tx
            .prepare("SELECT domain, connection_id FROM connection_domains")
            .map_err(engine)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    let accounts: Vec<(AccountColumns, Vec<u8>)> = {
        let mut st = tx
            .prepare("SELECT id, connection_id, provider_user_id, email_key, record FROM accounts")
            .map_err(engine)?;
        let rows = st
            .query_map([], |r| {
                Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?), r.get(4)?))
            })
            .map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    cross_check(connections, &domains, accounts)
}
