//! The SQL behind the account operations (synchronous; run on worker threads).

use enterprise_sso::events::{account_events, Event};
use enterprise_sso::storage::codec::{decode_account, encode_account};
use enterprise_sso::storage::email_key;
use enterprise_sso::storage::{
    account_keys, check_account_keys_unchanged, expect_version, stored_id, version_to_i64,
};
use enterprise_sso::{AccountPage, AccountQuery, EnterpriseAccount, Error, Order, Result};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::storage;
use crate::savepoint::Savepoint;

pub(crate) const GET_SQL: &str = "SELECT record FROM accounts WHERE id = ?1";
pub(crate) const BY_SUBJECT_SQL: &str =
    "SELECT record FROM accounts WHERE connection_id = ?1 AND provider_user_id = ?2";
pub(crate) const ID_BY_SUBJECT_SQL: &str =
    "SELECT id FROM accounts WHERE connection_id = ?1 AND provider_user_id = ?2";
/// `CAST`: an equality on a bare parameter beside `ORDER BY`, or a bare `LIMIT ?`, makes
/// SQLite compile the statement again for every new binding (a test checks).
pub(crate) const BY_EMAIL_SQL: &str =
    "SELECT record FROM accounts WHERE email_key = CAST(?1 AS TEXT) ORDER BY id";
pub(crate) const LIST_ASC_SQL: &str = "SELECT record FROM accounts \
     WHERE connection_id = CAST(?1 AS TEXT) AND id > ?2 ORDER BY id ASC LIMIT CAST(?3 AS INTEGER)";
pub(crate) const LIST_DESC_SQL: &str = "SELECT record FROM accounts \
     WHERE connection_id = CAST(?1 AS TEXT) AND id < ?2 ORDER BY id DESC LIMIT CAST(?3 AS INTEGER)";
pub(crate) const INSERT_SQL: &str = "INSERT INTO accounts \
     (id, connection_id, provider_user_id, email_key, version, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
pub(crate) const UPDATE_SQL: &str = "UPDATE accounts SET connection_id = ?2, email_key = ?3, \
     version = ?4, record = ?5 WHERE id = ?1";
pub(crate) const DELETE_SQL: &str = "DELETE FROM accounts WHERE id = ?1";
pub(crate) const OF_CONNECTION_SQL: &str = "SELECT record FROM accounts WHERE connection_id = ?1";
pub(crate) const CONNECTION_EXISTS_SQL: &str = "SELECT 1 FROM connections WHERE id = ?1";

fn one(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Option<EnterpriseAccount>> {
    let mut st = conn.prepare_cached(sql).map_err(storage)?;
    let bytes: Option<Vec<u8>> = st
        .query_row(args, |r| r.get(0))
        .optional()
        .map_err(storage)?;
    bytes.map(|b| decode_account(&b)).transpose()
}

fn many(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<EnterpriseAccount>> {
    let mut st = conn.prepare_cached(sql).map_err(storage)?;
    let rows = st
        .query_map(args, |r| r.get::<_, Vec<u8>>(0))
        .map_err(storage)?;
    let mut out = Vec::new();
    for bytes in rows {
        out.push(decode_account(&bytes.map_err(storage)?)?);
    }
    Ok(out)
}

pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<EnterpriseAccount>> {
    one(conn, GET_SQL, [id])
}

pub(crate) fn by_subject(
    conn: &Connection,
    connection: &str,
    subject: &str,
) -> Result<Option<EnterpriseAccount>> {
    one(conn, BY_SUBJECT_SQL, [connection, subject])
}

pub(crate) fn by_email(conn: &Connection, email: &str) -> Result<Vec<EnterpriseAccount>> {
    many(conn, BY_EMAIL_SQL, [email_key(email)])
}

pub(crate) fn list(conn: &Connection, connection: &str, q: &AccountQuery) -> Result<AccountPage> {
    let limit = i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let cursor = q.after.as_ref().map(|a| a.as_str().to_owned());
    let items = match q.order {
        Order::Asc => many(
            conn,
            LIST_ASC_SQL,
            params![connection, cursor.unwrap_or_default(), limit],
        )?,
        Order::Desc => many(
            conn,
            LIST_DESC_SQL,
            params![connection, cursor.unwrap_or_else(|| "~".into()), limit],
        )?,
    };
    Ok(AccountPage::from_overfetch(items, q.limit))
}

pub(crate) fn insert(conn: &Connection, a: &EnterpriseAccount) -> Result<()> {
    let tx = Savepoint::begin(conn)?;
    if get(&tx, a.id.as_str())?.is_some() {
        return Err(Error::AlreadyExists { id: (&a.id).into() });
    }
    let linked = a.enterprise_connection_id.as_ref().map(|c| c.as_str());
    if let Some(c) = &a.enterprise_connection_id {
        let exists: Option<i64> = tx
            .prepare_cached(CONNECTION_EXISTS_SQL)
            .and_then(|mut st| st.query_row([c.as_str()], |r| r.get(0)).optional())
            .map_err(storage)?;
        if exists.is_none() {
            return Err(Error::not_found(c));
        }
    }
    let inserted = tx
        .prepare_cached(INSERT_SQL)
        .map_err(storage)?
        .execute(params![
            a.id.as_str(),
            linked,
            a.provider_user_id,
            account_keys(a).email,
            version_to_i64(a.version)?,
            encode_account(a)
        ]);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            let existing: String = tx
                .prepare_cached(ID_BY_SUBJECT_SQL)
                .and_then(|mut st| st.query_row(params![linked, a.provider_user_id], |r| r.get(0)))
                .map_err(storage)?;
            return Err(Error::AccountExists {
                id: stored_id(&existing, "accounts")?,
            });
        }
        Err(e) => return Err(storage(e)),
    }
    crate::events::append(&tx, account_events(None, Some(a), a.updated_at.get()))?;
    tx.commit()
}

/// Writes `a` over the stored row (inside the caller's transaction).
fn overwrite(tx: &Connection, a: &EnterpriseAccount) -> Result<()> {
    tx.prepare_cached(UPDATE_SQL)
        .and_then(|mut st| {
            st.execute(params![
                a.id.as_str(),
                a.enterprise_connection_id.as_ref().map(|c| c.as_str()),
                account_keys(a).email,
                version_to_i64(a.version).unwrap_or(i64::MAX),
                encode_account(a)
            ])
        })
        .map(drop)
        .map_err(storage)
}

pub(crate) fn update(conn: &Connection, a: &EnterpriseAccount, expected: u64) -> Result<()> {
    let tx = Savepoint::begin(conn)?;
    // One read of the stored record gives the version, the keys and the diff's `old`.
    let old = expect_version(&a.id, expected, get(&tx, a.id.as_str())?, |o| o.version)?;
    check_account_keys_unchanged(
        old.enterprise_connection_id.as_ref(),
        old.provider_user_id.as_deref(),
        a,
    )?;
    overwrite(&tx, a)?;
    crate::events::append(&tx, account_events(Some(&old), Some(a), a.updated_at.get()))?;
    tx.commit()
}

pub(crate) fn delete(conn: &mut Connection, id: &str, now: i64) -> Result<bool> {
    let tx = Savepoint::begin(conn)?;
    let Some(old) = get(&tx, id)? else {
        return Ok(false);
    };
    let n = tx
        .prepare_cached(DELETE_SQL)
        .and_then(|mut st| st.execute([id]))
        .map_err(storage)?;
    crate::events::append(&tx, account_events(Some(&old), None, now))?;
    tx.commit()?;
    Ok(n > 0)
}

/// Deactivates and unlinks the accounts of a connection being deleted, inside the
/// caller's transaction; the events of those writes.
pub(crate) fn unlink_all(tx: &Connection, connection: &str, now: i64) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    for a in many(tx, OF_CONNECTION_SQL, [connection])? {
        let unlinked = a.unlinked(now);
        overwrite(tx, &unlinked)?;
        events.extend(account_events(Some(&a), Some(&unlinked), now));
    }
    Ok(events)
}
