//! The integrity check: `PRAGMA integrity_check`, then every record decodes (checksum
//! included) under its own key, the indexed columns and the domain table agree with the
//! records, and every linked account's connection exists. Runs in one read transaction.

use std::collections::BTreeSet;

use enterprise_sso::codec::{decode_account, decode_connection};
use enterprise_sso::integrity::{account_columns, connection_columns, IntegrityError};
use rusqlite::Connection;

fn engine(e: rusqlite::Error) -> IntegrityError {
    IntegrityError::Engine(e.to_string())
}

fn index(index: &'static str, detail: String) -> IntegrityError {
    IntegrityError::Index { index, detail }
}

type ConnRow = (String, Option<String>, bool, String, Option<i64>, Vec<u8>);
type AccRow = (String, Option<String>, Option<String>, String, Vec<u8>);

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
    let rows: Vec<ConnRow> = {
        let mut st = tx
            .prepare(
                "SELECT id, organization_id, active, provider, cert_expires_at, record \
                 FROM connections",
            )
            .map_err(engine)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    let mut expected_domains = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (id, org, active, provider, cert, record) in rows {
        let c = decode_connection(&record).map_err(|e| IntegrityError::Record {
            table: "connections",
            key: id.clone(),
            reason: e.to_string(),
        })?;
        if connection_columns(&c) != (id.clone(), org, active, provider, cert) {
            return Err(index(
                "connections",
                format!("the indexed columns of {id} disagree with its record"),
            ));
        }
        for d in &c.domains {
            expected_domains.insert((d.as_str().to_owned(), id.clone()));
        }
        ids.insert(id);
    }
    let found_domains: BTreeSet<(String, String)> = {
        let mut st = tx
            .prepare("SELECT domain, connection_id FROM connection_domains")
            .map_err(engine)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    if let Some((d, c)) = found_domains.difference(&expected_domains).next() {
        return Err(index(
            "connection_domains",
            format!("{d} -> {c} has no record that claims it"),
        ));
    }
    if let Some((d, c)) = expected_domains.difference(&found_domains).next() {
        return Err(index(
            "connection_domains",
            format!("{c} claims {d}, which is missing"),
        ));
    }
    let accounts: Vec<AccRow> = {
        let mut st = tx
            .prepare("SELECT id, connection_id, provider_user_id, email_key, record FROM accounts")
            .map_err(engine)?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(engine)?;
        rows.collect::<rusqlite::Result<_>>().map_err(engine)?
    };
    for (id, connection, subject, key, record) in accounts {
        let a = decode_account(&record).map_err(|e| IntegrityError::Record {
            table: "accounts",
            key: id.clone(),
            reason: e.to_string(),
        })?;
        let linked = a.enterprise_connection_id.as_ref().map(|c| c.to_string());
        if account_columns(&a) != (id.clone(), connection, subject, key) {
            return Err(index(
                "accounts",
                format!("the indexed columns of {id} disagree with its record"),
            ));
        }
        if let Some(c) = linked.filter(|c| !ids.contains(c)) {
            return Err(IntegrityError::Record {
                table: "accounts",
                key: id,
                reason: format!("is linked to missing connection {c}"),
            });
        }
    }
    Ok(())
}
