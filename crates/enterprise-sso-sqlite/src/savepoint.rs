//! A savepoint run from cached statements.
//!
//! `rusqlite::Savepoint` sends `SAVEPOINT name` and `RELEASE name` as new SQL text every
//! time (parsed and compiled on each write); every write of this crate opens one inside the
//! writer's batch transaction, so these take the three statements from the connection's
//! statement cache instead.

use std::ops::Deref;

use enterprise_sso::Result;
use rusqlite::Connection;

use crate::error::storage;

const BEGIN_SQL: &str = "SAVEPOINT sso_write";
const RELEASE_SQL: &str = "RELEASE sso_write";
const ROLLBACK_SQL: &str = "ROLLBACK TO sso_write";

/// An open savepoint: [`Savepoint::commit`] releases it; dropping it uncommitted rolls
/// back everything done since it began (and releases it). Savepoints of the same name
/// nest, so a write may run inside another's.
pub(crate) struct Savepoint<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Savepoint<'c> {
    /// Begins a savepoint (a transaction, when none is open).
    pub(crate) fn begin(conn: &'c Connection) -> Result<Savepoint<'c>> {
        run(conn, BEGIN_SQL).map_err(storage)?;
        Ok(Savepoint { conn, open: true })
    }

    /// Keeps what was done since [`Savepoint::begin`].
    pub(crate) fn commit(mut self) -> Result<()> {
        self.open = false;
        run(self.conn, RELEASE_SQL).map_err(storage)
    }
}

fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

impl Deref for Savepoint<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        // Nothing to undo when SQLite already rolled the whole transaction back (an I/O
        // error, a full disk): both statements then fail and the writer sees autocommit.
        if self.open && !self.conn.is_autocommit() {
            let _ = run(self.conn, ROLLBACK_SQL);
            let _ = run(self.conn, RELEASE_SQL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_dropped_savepoint_undoes_only_its_own_writes() {
        let c = Connection::open_in_memory().expect("open");
        c.execute_batch("CREATE TABLE t (k INTEGER); BEGIN; INSERT INTO t VALUES (1);")
            .expect("setup");
        let kept = Savepoint::begin(&c).expect("begin");
        kept.execute("INSERT INTO t VALUES (2)", [])
            .expect("insert");
        {
            let inner = Savepoint::begin(&kept).expect("nested");
            inner
                .execute("INSERT INTO t VALUES (3)", [])
                .expect("insert");
            assert_eq!(count(&inner), 3);
        }
        assert_eq!(count(&c), 2, "the dropped savepoint's row is gone");
        kept.commit().expect("commit");
        let dropped = Savepoint::begin(&c).expect("begin");
        dropped
            .execute("INSERT INTO t VALUES (4)", [])
            .expect("insert");
        drop(dropped);
        c.execute_batch("COMMIT").expect("commit");
        assert_eq!(count(&c), 2, "rows 1 and 2 stay, 3 and 4 were rolled back");
        assert!(c.is_autocommit(), "no savepoint is left open");
    }

    #[test]
    fn a_savepoint_outside_a_transaction_is_one() {
        let c = Connection::open_in_memory().expect("open");
        c.execute_batch("CREATE TABLE t (k INTEGER)")
            .expect("setup");
        let sp = Savepoint::begin(&c).expect("begin");
        sp.execute("INSERT INTO t VALUES (1)", []).expect("insert");
        assert!(!c.is_autocommit());
        sp.commit().expect("commit");
        assert!(
            c.is_autocommit(),
            "releasing the outermost savepoint commits"
        );
        assert_eq!(count(&c), 1);
    }
}
