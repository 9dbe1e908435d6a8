//! The sign-in store ([`SignInStore`]) on the `sign_in_items` table (schema 6).
//!
//! Writes (put, take, sweep) run on the writer like every other write, each one statement
//! in its own savepoint: SQLite's write lock makes it atomic against this process's other
//! writes and against every other process on the file. A put is one upsert that only
//! replaces an expired row; a take is one `DELETE … RETURNING`, so of two takes (threads
//! or processes) exactly one deletes the row and gets it. Reads run where the options say.

use async_trait::async_trait;
use enterprise_sso::storage::stored_id;
use enterprise_sso::{
    AccountWrite, ConnectionId, Error, Result, SignInCommit, SignInConflict, SignInItem,
    SignInKind, SignInOp, SignInStore, UnixMillis,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::storage;
use crate::savepoint::Savepoint;
use crate::SqliteRepo;

/// Writes a row unless a live one (`expires_at > now`) has the key; `changes()` is 1 when
/// written (inserted, or an expired row replaced) and 0 when a live row refused it.
pub(crate) const PUT_SQL: &str = "INSERT INTO sign_in_items \
     (kind, key, connection_id, created_at, expires_at, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (kind, key) DO UPDATE SET connection_id = excluded.connection_id, \
     created_at = excluded.created_at, expires_at = excluded.expires_at, \
     payload = excluded.payload WHERE sign_in_items.expires_at <= ?7";
/// Removes the row whatever its expiry and returns it (the caller drops an expired one).
pub(crate) const TAKE_SQL: &str = "DELETE FROM sign_in_items WHERE kind = ?1 AND key = ?2 \
     RETURNING connection_id, created_at, expires_at, payload";
pub(crate) const GET_SQL: &str = "SELECT connection_id, created_at, expires_at, payload \
     FROM sign_in_items WHERE kind = ?1 AND key = ?2 AND expires_at > ?3";
pub(crate) const SWEEP_SQL: &str = "DELETE FROM sign_in_items WHERE expires_at <= ?1";
/// A connection's live records of one kind: a search of the primary key's kind prefix.
pub(crate) const LIST_SQL: &str = "SELECT key, connection_id, created_at, expires_at, payload \
     FROM sign_in_items WHERE kind = ?1 AND connection_id = ?2 AND expires_at > ?3";

/// The columns after kind and key, as a row gives them.
type Columns = (Option<String>, i64, i64, Vec<u8>);

fn columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn item(
    kind: SignInKind,
    key: &str,
    (conn, created_at, expires_at, payload): Columns,
) -> Result<SignInItem> {
    Ok(SignInItem {
        kind,
        key: key.to_owned(),
        connection_id: conn
            .map(|c| stored_id::<ConnectionId>(&c, "sign_in_items"))
            .transpose()?,
        created_at: UnixMillis::new(created_at),
        expires_at: UnixMillis::new(expires_at),
        payload,
    })
}

fn put(conn: &Connection, it: &SignInItem, now: i64) -> Result<bool> {
    let tx = Savepoint::begin(conn)?;
    let n = tx
        .prepare_cached(PUT_SQL)
        .and_then(|mut st| {
            st.execute(params![
                it.kind.as_str(),
                it.key,
                it.connection_id.as_ref().map(ConnectionId::as_str),
                it.created_at.get(),
                it.expires_at.get(),
                it.payload,
                now
            ])
        })
        .map_err(storage)?;
    tx.commit()?;
    Ok(n > 0)
}

fn take(conn: &Connection, kind: SignInKind, key: &str, now: i64) -> Result<Option<SignInItem>> {
    let tx = Savepoint::begin(conn)?;
    let row = tx
        .prepare_cached(TAKE_SQL)
        .and_then(|mut st| {
            st.query_row(params![kind.as_str(), key], columns)
                .optional()
        })
        .map_err(storage)?;
    tx.commit()?;
    row.map(|cols| item(kind, key, cols))
        .transpose()
        .map(|it| it.filter(|it| it.is_live_at(UnixMillis::new(now))))
}

/// A batch ([`SignInStore::commit_sign_ins`]) in one savepoint of the writer's
/// transaction: every take and put, then the account write with its events; the first
/// operation that cannot be applied (or a refused account write) rolls the savepoint back.
fn commit(
    conn: &Connection,
    ops: &[SignInOp],
    account: Option<&AccountWrite>,
    now: i64,
) -> Result<SignInCommit> {
    let tx = Savepoint::begin(conn)?;
    let mut taken = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        let applied = match op {
            SignInOp::Take { kind, key } => match take(&tx, *kind, key, now)? {
                Some(it) => {
                    taken.push(it);
                    true
                }
                None => false,
            },
            SignInOp::Put(it) => put(&tx, it, now)?,
            // A kind of operation this adapter does not know: refuse rather than skip.
            _ => false,
        };
        if !applied {
            return Ok(Err(SignInConflict { index }));
        }
    }
    match account {
        Some(AccountWrite::Insert(a)) => crate::accounts::insert(&tx, a)?,
        Some(AccountWrite::Update {
            account,
            expected_version,
        }) => crate::accounts::update(&tx, account, *expected_version)?,
        Some(_) => {
            return Err(Error::InvalidArgument {
                argument: "account",
                reason: "an account write this store does not know",
            })
        }
        None => {}
    }
    tx.commit()?;
    Ok(Ok(taken))
}

fn get(conn: &Connection, kind: SignInKind, key: &str, now: i64) -> Result<Option<SignInItem>> {
    conn.prepare_cached(GET_SQL)
        .and_then(|mut st| {
            st.query_row(params![kind.as_str(), key, now], columns)
                .optional()
        })
        .map_err(storage)?
        .map(|cols| item(kind, key, cols))
        .transpose()
}

fn list(
    conn: &Connection,
    kind: SignInKind,
    connection_id: &str,
    now: i64,
) -> Result<Vec<SignInItem>> {
    let rows = conn
        .prepare_cached(LIST_SQL)
        .and_then(|mut st| {
            st.query_map(params![kind.as_str(), connection_id, now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<(String, Columns)>>>()
        })
        .map_err(storage)?;
    rows.into_iter()
        .map(|(key, cols)| item(kind, &key, cols))
        .collect()
}

fn sweep(conn: &mut Connection, now: i64) -> Result<u64> {
    let tx = Savepoint::begin(conn)?;
    let n = tx
        .prepare_cached(SWEEP_SQL)
        .and_then(|mut st| st.execute([now]))
        .map_err(storage)?;
    tx.commit()?;
    Ok(n as u64)
}

#[async_trait]
impl SignInStore for SqliteRepo {
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
        let it = item.clone();
        self.writes.run(move |c| put(c, &it, now.get())).await
    }

    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let key = key.to_owned();
        self.writes
            .run(move |c| take(c, kind, &key, now.get()))
            .await
    }

    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>> {
        let key = key.to_owned();
        self.reader()
            .run(move |c| get(c, kind, &key, now.get()))
            .await
    }

    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
        self.writes.run(move |c| sweep(c, now.get())).await
    }

    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>> {
        let conn_id = connection_id.as_str().to_owned();
        self.reader()
            .run(move |c| list(c, kind, &conn_id, now.get()))
            .await
    }

    async fn commit_sign_ins(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: UnixMillis,
    ) -> Result<SignInCommit> {
        let (ops, account, now) = (ops.to_vec(), account.cloned(), now.get());
        self.writes
            .run(move |c| commit(c, &ops, account.as_ref(), now))
            .await
    }

    /// On the writer like every write, in a batch that waits for the disk only if another
    /// write in it does (WAL with `synchronous = NORMAL` for the batch: atomic, ordered,
    /// seen at once by every reader; see `worker::relax`).
    async fn commit_pending(&self, ops: &[SignInOp], now: UnixMillis) -> Result<SignInCommit> {
        let (ops, now) = (ops.to_vec(), now.get());
        self.writes
            .run_pending(move |c| commit(c, &ops, None, now))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{configure, migrate, SqliteOptions};

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut st = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let n = st.parameter_count();
        let args: Vec<rusqlite::types::Value> =
            (0..n).map(|_| rusqlite::types::Value::Integer(1)).collect();
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
            .expect("plan");
        rows.map(|r| r.expect("row"))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Every statement is a search of the primary key or the expiry index, never a scan.
    #[test]
    fn every_statement_is_an_index_search() {
        let mut conn = Connection::open_in_memory().expect("open");
        configure(&conn, &SqliteOptions::default(), false).expect("configure");
        migrate(&mut conn).expect("migrate");
        for sql in [TAKE_SQL, GET_SQL, SWEEP_SQL, LIST_SQL] {
            let p = plan(&conn, sql);
            assert!(p.contains("SEARCH sign_in_items"), "{sql}: `{p}`");
            assert!(!p.contains("SCAN"), "{sql}: `{p}`");
        }
        assert!(plan(&conn, SWEEP_SQL).contains("sign_in_items_by_expiry"));
    }
}
