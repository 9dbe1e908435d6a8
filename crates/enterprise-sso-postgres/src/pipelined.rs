//! A transaction whose `BEGIN` and `COMMIT` travel with a statement (tokio-postgres
//! pipelines requests that are in flight together), so a read-change-write costs two round
//! trips instead of four.
//!
//! If the transaction may still be open when the value is dropped (the caller's future
//! was cancelled mid-way, or ending it failed), the connection is taken out of the pool and
//! closed, and the server rolls the transaction back: a pooled connection is never handed
//! out inside a transaction.

use deadpool_postgres::Object;
use enterprise_sso::{Error, Result};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::error::storage;

/// See the module docs.
pub(crate) struct Pipelined {
    client: Option<Object>,
    /// The server may be inside this transaction.
    open: bool,
}

impl Pipelined {
    pub(crate) fn new(client: Object) -> Pipelined {
        Pipelined {
            client: Some(client),
            open: false,
        }
    }

    /// The pooled connection (for preparing statements).
    pub(crate) fn client(&self) -> Result<&Object> {
        self.client
            .as_ref()
            .ok_or_else(|| Error::storage(std::io::Error::other("connection already released")))
    }

    /// `BEGIN`, then `st` inside the new transaction: one round trip.
    pub(crate) async fn begin_with(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        self.open = true;
        let c = self.client()?;
        let (begun, row) = tokio::join!(c.batch_execute("BEGIN"), c.query_opt(st, params));
        begun.map_err(storage)?;
        row.map_err(storage)
    }

    /// `st`, then `COMMIT`: one round trip. If `st` fails, the server turns the `COMMIT`
    /// into a rollback; either way the transaction has ended once both answers are in.
    pub(crate) async fn commit_with(
        &mut self,
        st: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row> {
        let c = self.client()?;
        let (row, committed) = tokio::join!(c.query_one(st, params), c.batch_execute("COMMIT"));
        self.open = false;
        let row = row.map_err(storage)?;
        committed.map_err(storage)?;
        Ok(row)
    }

    /// Ends the transaction with `sql` (`COMMIT` or `ROLLBACK`) if it may still be open.
    pub(crate) async fn end(&mut self, sql: &str) -> Result<()> {
        if self.open {
            self.client()?.batch_execute(sql).await.map_err(storage)?;
            self.open = false;
        }
        Ok(())
    }
}

impl Drop for Pipelined {
    fn drop(&mut self) {
        if self.open {
            if let Some(client) = self.client.take() {
                // Out of the pool and closed: the server rolls the transaction back.
                drop(Object::take(client));
            }
        }
    }
}
