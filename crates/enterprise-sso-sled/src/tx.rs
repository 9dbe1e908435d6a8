//! Transactions: the commit counter every transaction bumps, the savepoint each write of a
//! batch runs in ([`Tx`]), the batch (see `group`) and the flush gate around it, and the
//! record-level steps (claim, index, reindex, append) a write is made of. Everything lives
//! in one tree, so every batch is a one-tree sled transaction.

use std::cell::RefCell;
use std::collections::BTreeMap;

use enterprise_sso::events::Event;
use enterprise_sso::storage::codec::{
    decode_account, decode_connection, encode_account, encode_event_at,
};
use enterprise_sso::storage::IntegrityError;
use enterprise_sso::{
    ConnectionId, Domain, EnterpriseAccount, EnterpriseConnection, Error, Result,
};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::IVec;

use crate::group::{Group, Job};
use crate::keys::{self, account_keys, generation_of, index_keys};
use crate::SledRepo;

/// The name of the commit counter (see `sidecar`).
pub(crate) const COMMIT_SEQ: &str = "commit_seq";

/// The name of the last event position.
pub(crate) const EVENT_SEQ: &str = "event_seq";
/// The name of the prune floor: the largest event position a prune removed.
pub(crate) const EVENT_FLOOR: &str = "event_floor";

pub(crate) fn read_seq(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

pub(crate) type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

pub(crate) fn storage(e: sled::Error) -> Error {
    Error::storage(e)
}

pub(crate) fn storage_io(e: std::io::Error) -> Error {
    Error::storage(e)
}

pub(crate) fn storage_integrity(e: IntegrityError) -> Error {
    Error::storage(e)
}

pub(crate) fn tx_error(e: TransactionError<Error>) -> Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => storage(e),
    }
}

pub(crate) fn abort<T>(e: Error) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

type Unabortable<T> = std::result::Result<T, UnabortableTransactionError>;

/// One write's view of the store's tree inside a batch's transaction: a savepoint. Its
/// writes are buffered (and read back by its own reads); [`Tx::release`] hands them to
/// the transaction, and dropping it without that undoes them.
pub(crate) struct Tx<'a> {
    t: &'a TransactionalTree,
    writes: RefCell<BTreeMap<Vec<u8>, Option<IVec>>>,
}

/// Counts one more commit (once per batch).
fn bump_commit_seq(t: &TransactionalTree) -> Unabortable<()> {
    let key = keys::meta(COMMIT_SEQ);
    let n = read_seq(t.get(&key)?);
    t.insert(key, &(n + 1).to_be_bytes())?;
    Ok(())
}

impl<'a> Tx<'a> {
    pub(crate) fn savepoint(t: &'a TransactionalTree) -> Tx<'a> {
        Tx {
            t,
            writes: RefCell::new(BTreeMap::new()),
        }
    }

    /// Keeps this write's changes in the transaction.
    pub(crate) fn release(self) -> Unabortable<()> {
        for (k, v) in self.writes.into_inner() {
            match v {
                Some(v) => self.t.insert(k, v)?,
                None => self.t.remove(k)?,
            };
        }
        Ok(())
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Unabortable<Option<IVec>> {
        match self.writes.borrow().get(key.as_ref()) {
            Some(v) => Ok(v.clone()),
            None => self.t.get(key),
        }
    }

    pub(crate) fn put(&self, key: impl AsRef<[u8]>, value: impl Into<IVec>) {
        self.writes
            .borrow_mut()
            .insert(key.as_ref().to_vec(), Some(value.into()));
    }

    /// Forgets every change this write made so far (it then writes nothing unless it
    /// changes more).
    pub(crate) fn discard(&self) {
        self.writes.borrow_mut().clear();
    }

    pub(crate) fn del(&self, key: impl AsRef<[u8]>) {
        self.writes.borrow_mut().insert(key.as_ref().to_vec(), None);
    }
}

impl Tx<'_> {
    /// Appends events: positions continue the `event_seq` counter, which every writer
    /// reads and writes, so sled's conflict detection serialises them and positions are
    /// gap-free in commit order.
    pub(crate) fn append(&self, events: &[Event]) -> TxResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let seq = keys::meta(EVENT_SEQ);
        let mut last = read_seq(self.get(&seq)?);
        for e in events {
            last += 1;
            self.put(keys::event(last), encode_event_at(e, last));
        }
        self.put(seq, &last.to_be_bytes());
        Ok(())
    }

    pub(crate) fn old(&self, id: &ConnectionId) -> TxResult<Option<EnterpriseConnection>> {
        match self.get(keys::record(id.as_str()))? {
            None => Ok(None),
            Some(bytes) => match decode_connection(&bytes) {
                Ok(c) => Ok(Some(c)),
                Err(e) => abort(e),
            },
        }
    }

    /// The stored bytes of connection `id`'s record.
    pub(crate) fn record_bytes(&self, id: &ConnectionId) -> TxResult<Option<IVec>> {
        Ok(self.get(keys::record(id.as_str()))?)
    }

    pub(crate) fn exists(&self, id: &ConnectionId) -> TxResult<bool> {
        Ok(self.get(keys::record(id.as_str()))?.is_some())
    }

    pub(crate) fn put_record(&self, id: &ConnectionId, bytes: &[u8]) -> TxResult<()> {
        self.put(keys::record(id.as_str()), bytes);
        Ok(())
    }

    pub(crate) fn remove_record(&self, id: &ConnectionId) -> TxResult<()> {
        self.del(keys::record(id.as_str()));
        Ok(())
    }

    pub(crate) fn claim(&self, c: &EnterpriseConnection) -> TxResult<()> {
        self.claim_domains(&c.id, &c.domains)
    }

    fn claim_domains(&self, id: &ConnectionId, domains: &[Domain]) -> TxResult<()> {
        for d in domains {
            let key = keys::domain(d.as_str());
            if let Some(owner) = self.get(&key)? {
                if owner.as_ref() != id.as_str().as_bytes() {
                    return abort(Error::DomainConflict { domain: d.clone() });
                }
            }
            self.put(key, id.as_str());
        }
        Ok(())
    }

    pub(crate) fn put_indexes(&self, c: &EnterpriseConnection) -> TxResult<()> {
        let k = index_keys(c);
        for key in k.all() {
            self.put(key, &[]);
        }
        Ok(())
    }

    /// Stores a new connection (encoded as `bytes`) with its domain claims and index entries.
    pub(crate) fn insert_new(&self, conn: &EnterpriseConnection, bytes: &[u8]) -> TxResult<()> {
        if self.exists(&conn.id)? {
            return abort(Error::AlreadyExists {
                id: (&conn.id).into(),
            });
        }
        self.claim(conn)?;
        self.put_indexes(conn)?;
        self.put_record(&conn.id, bytes)
    }

    /// Moves the index entries and domain claims from `old` to `new`, touching only the
    /// entries whose keys differ (most updates change none of them).
    pub(crate) fn reindex(
        &self,
        old: &EnterpriseConnection,
        new: &EnterpriseConnection,
    ) -> TxResult<()> {
        let (o, n) = (index_keys(old), index_keys(new));
        for (before, after) in [
            (o.org, n.org),
            (Some(o.active), Some(n.active)),
            (Some(o.provider), Some(n.provider)),
            (o.cert_expiry, n.cert_expiry),
        ] {
            if before != after {
                if let Some(k) = before {
                    self.del(k);
                }
                if let Some(k) = after {
                    self.put(k, &[]);
                }
            }
        }
        for d in old.domains.iter().filter(|d| !new.domains.contains(d)) {
            self.del(keys::domain(d.as_str()));
        }
        let added: Vec<Domain> = new
            .domains
            .iter()
            .filter(|d| !old.domains.contains(d))
            .cloned()
            .collect();
        self.claim_domains(&new.id, &added)
    }

    /// Removes every index entry and domain claim of `old`.
    pub(crate) fn drop_indexes(&self, old: &EnterpriseConnection) -> TxResult<()> {
        let k = index_keys(old);
        for key in k.all() {
            self.del(key);
        }
        for d in &old.domains {
            self.del(keys::domain(d.as_str()));
        }
        Ok(())
    }

    pub(crate) fn old_account(&self, id: &str) -> TxResult<Option<EnterpriseAccount>> {
        match self.get(keys::account(id))? {
            None => Ok(None),
            Some(bytes) => match decode_account(&bytes) {
                Ok(a) => Ok(Some(a)),
                Err(e) => abort(e),
            },
        }
    }

    pub(crate) fn account_exists(&self, id: &str) -> TxResult<bool> {
        Ok(self.get(keys::account(id))?.is_some())
    }

    /// The account id that holds `subject_key` (an [`keys::AccountKeys::subject`]).
    pub(crate) fn subject_owner(&self, subject_key: &[u8]) -> TxResult<Option<sled::IVec>> {
        Ok(self.get(subject_key)?)
    }

    pub(crate) fn put_account(&self, a: &EnterpriseAccount) -> TxResult<()> {
        let k = account_keys(a);
        if let Some(s) = k.subject {
            self.put(s, a.id.as_str());
        }
        self.put(k.email, &[]);
        if let Some(c) = k.conn {
            self.put(c, &[]);
        }
        self.put(keys::account(a.id.as_str()), encode_account(a));
        Ok(())
    }

    pub(crate) fn remove_account(&self, id: &str) -> TxResult<()> {
        self.del(keys::account(id));
        Ok(())
    }

    pub(crate) fn drop_account_indexes(&self, a: &EnterpriseAccount) -> TxResult<()> {
        let k = account_keys(a);
        for key in [k.subject, Some(k.email), k.conn].into_iter().flatten() {
            self.del(key);
        }
        Ok(())
    }

    pub(crate) fn generation(&self, conn: &ConnectionId) -> TxResult<u64> {
        Ok(generation_of(self.get(keys::generation(conn.as_str()))?))
    }

    pub(crate) fn set_generation(&self, conn: &ConnectionId, n: u64) -> TxResult<()> {
        self.put(keys::generation(conn.as_str()), &n.to_be_bytes());
        Ok(())
    }
}

impl SledRepo {
    /// Runs a sled transaction; in flush-on-write mode under the flush gate.
    pub(crate) fn gated<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.opts.flush_on_write {
            self.gate.transact(f)
        } else {
            f()
        }
    }

    /// Writes: `f` runs in its own savepoint inside a batch's transaction (see `group`),
    /// possibly more than once (sled runs a transaction again after a conflict). In
    /// flush-on-write mode concurrent writes share batches and this completes once its
    /// batch is on disk; otherwise the write is a batch of its own, run at once.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Tx<'_>) -> TxResult<T> + Send + 'static,
    {
        let r = if self.opts.flush_on_write {
            self.group.write(f, |jobs| self.batch(jobs)).await
        } else {
            Group::write_alone(f, |jobs| self.batch(jobs))
        };
        self.note_failure(&r);
        r
    }

    /// One batch: one transaction (the commit counter bumped once), then the flush.
    fn batch(&self, jobs: &[Box<dyn Job>]) -> Result<()> {
        self.gated(|| {
            self.tree
                .transaction(|t| {
                    bump_commit_seq(t)?;
                    for j in jobs {
                        j.run(t)?;
                    }
                    Ok(())
                })
                .map_err(tx_error)
        })?;
        if self.opts.flush_on_write {
            self.gate.flush_batch(&self.db, || {
                // Exclusive side of the gate: no transaction since the flush.
                self.record_durable_soon(self.commit_seq()?)
            })?;
        }
        Ok(())
    }

    /// In flush-on-write mode, completes once every write made so far is on disk (for
    /// writes made outside a batch).
    pub(crate) async fn after_write(&self) -> Result<()> {
        if self.opts.flush_on_write {
            self.write(|_| Ok(())).await?;
        }
        Ok(())
    }
}
