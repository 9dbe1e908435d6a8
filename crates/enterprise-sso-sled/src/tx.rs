//! Transactions: the trees a write spans, the commit counter every transaction bumps, the
//! flush gate around them, and the record-level steps (claim, index, reindex) a
//! transaction is made of.

use enterprise_sso::events::Event;
use enterprise_sso::integrity::IntegrityError;
use enterprise_sso::storage::codec::{
    decode_account, decode_connection, encode_account, encode_event,
};
use enterprise_sso::{
    ConnectionId, Domain, EnterpriseAccount, EnterpriseConnection, Error, Result,
};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::keys::{account_keys, generation_of, index_keys};
use crate::SledRepo;

/// The `meta` key of the commit counter (see `sidecar`).
pub(crate) const COMMIT_SEQ: &str = "commit_seq";

pub(crate) fn read_seq(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Counts one more commit, inside the transaction.
pub(crate) fn bump_commit_seq(meta: &TransactionalTree) -> TxResult<()> {
    let n = read_seq(meta.get(COMMIT_SEQ)?);
    meta.insert(COMMIT_SEQ, &(n + 1).to_be_bytes())?;
    Ok(())
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

/// The connection trees inside one transaction. sled's transaction cost grows with the
/// number of trees, so connection writes take only these six.
pub(crate) struct ConnTx<'a> {
    pub(crate) records: &'a TransactionalTree,
    pub(crate) domains: &'a TransactionalTree,
    pub(crate) by_org: &'a TransactionalTree,
    pub(crate) by_active: &'a TransactionalTree,
    pub(crate) by_provider: &'a TransactionalTree,
    pub(crate) by_cert_expiry: &'a TransactionalTree,
    pub(crate) meta: &'a TransactionalTree,
}

/// The `meta` key of the last event position.
pub(crate) const EVENT_SEQ: &str = "event_seq";

/// Events live in the `meta` tree, which every transaction spans already (sled's
/// transaction cost grows with the number of trees): `ev\0` + big-endian position.
pub(crate) const EVENT_PREFIX: &[u8] = b"ev\0";

/// The `meta` key of the event at `position`.
pub(crate) fn event_key(position: u64) -> [u8; 11] {
    let mut k = [0u8; 11];
    k[..3].copy_from_slice(EVENT_PREFIX);
    k[3..].copy_from_slice(&position.to_be_bytes());
    k
}

/// Every tree inside one transaction (account writes and connection deletes).
pub(crate) struct Tx<'a> {
    pub(crate) conn: ConnTx<'a>,
    pub(crate) accounts: &'a TransactionalTree,
    pub(crate) acc_by_subject: &'a TransactionalTree,
    pub(crate) acc_by_email: &'a TransactionalTree,
    pub(crate) acc_by_conn: &'a TransactionalTree,
    pub(crate) acc_gen: &'a TransactionalTree,
}

impl Tx<'_> {
    pub(crate) fn old_account(&self, id: &str) -> TxResult<Option<EnterpriseAccount>> {
        match self.accounts.get(id)? {
            None => Ok(None),
            Some(bytes) => match decode_account(&bytes) {
                Ok(a) => Ok(Some(a)),
                Err(e) => abort(e),
            },
        }
    }

    pub(crate) fn put_account(&self, a: &EnterpriseAccount) -> TxResult<()> {
        let k = account_keys(a);
        if let Some(s) = k.subject {
            self.acc_by_subject.insert(s, a.id.as_str())?;
        }
        self.acc_by_email.insert(k.email, &[])?;
        if let Some(c) = k.conn {
            self.acc_by_conn.insert(c, &[])?;
        }
        self.accounts.insert(a.id.as_str(), encode_account(a))?;
        Ok(())
    }

    pub(crate) fn drop_account_indexes(&self, a: &EnterpriseAccount) -> TxResult<()> {
        let k = account_keys(a);
        if let Some(s) = k.subject {
            self.acc_by_subject.remove(s)?;
        }
        self.acc_by_email.remove(k.email)?;
        if let Some(c) = k.conn {
            self.acc_by_conn.remove(c)?;
        }
        Ok(())
    }

    pub(crate) fn generation(&self, conn: &ConnectionId) -> TxResult<u64> {
        Ok(generation_of(self.acc_gen.get(conn.as_str())?))
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = ConnTx<'a>;
    fn deref(&self) -> &ConnTx<'a> {
        &self.conn
    }
}

impl ConnTx<'_> {
    /// Appends events in this transaction: positions continue the `event_seq` counter,
    /// which every writer reads and writes, so sled's conflict detection serialises them
    /// and positions are gap-free in commit order.
    pub(crate) fn append(&self, events: Vec<Event>) -> TxResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut last = read_seq(self.meta.get(EVENT_SEQ)?);
        for mut e in events {
            last += 1;
            e.position = last;
            self.meta.insert(&event_key(last), encode_event(&e))?;
        }
        self.meta.insert(EVENT_SEQ, &last.to_be_bytes())?;
        Ok(())
    }

    pub(crate) fn old(&self, id: &ConnectionId) -> TxResult<Option<EnterpriseConnection>> {
        match self.records.get(id.as_str())? {
            None => Ok(None),
            Some(bytes) => match decode_connection(&bytes) {
                Ok(c) => Ok(Some(c)),
                Err(e) => abort(e),
            },
        }
    }

    pub(crate) fn claim(&self, c: &EnterpriseConnection) -> TxResult<()> {
        for d in &c.domains {
            if let Some(owner) = self.domains.get(d.as_str())? {
                if owner.as_ref() != c.id.as_str().as_bytes() {
                    return abort(Error::DomainConflict { domain: d.clone() });
                }
            }
            self.domains.insert(d.as_str(), c.id.as_str())?;
        }
        Ok(())
    }

    pub(crate) fn put_indexes(&self, c: &EnterpriseConnection) -> TxResult<()> {
        let k = index_keys(c);
        if let Some(org) = k.org {
            self.by_org.insert(org, &[])?;
        }
        self.by_active.insert(k.active, &[])?;
        self.by_provider.insert(k.provider, &[])?;
        if let Some(e) = k.cert_expiry {
            self.by_cert_expiry.insert(e, &[])?;
        }
        Ok(())
    }

    /// Stores a new connection (encoded as `bytes`) with its domain claims and index entries.
    pub(crate) fn insert_new(&self, conn: &EnterpriseConnection, bytes: &[u8]) -> TxResult<()> {
        if self.records.get(conn.id.as_str())?.is_some() {
            return abort(Error::AlreadyExists {
                id: (&conn.id).into(),
            });
        }
        self.claim(conn)?;
        self.put_indexes(conn)?;
        self.records.insert(conn.id.as_str(), bytes)?;
        Ok(())
    }

    /// Moves the index entries and domain claims from `old` to `new`, touching only the
    /// entries whose keys differ (most updates change none of them).
    pub(crate) fn reindex(
        &self,
        old: &EnterpriseConnection,
        new: &EnterpriseConnection,
    ) -> TxResult<()> {
        let (o, n) = (index_keys(old), index_keys(new));
        for (tree, before, after) in [
            (self.by_org, o.org, n.org),
            (self.by_active, Some(o.active), Some(n.active)),
            (self.by_provider, Some(o.provider), Some(n.provider)),
            (self.by_cert_expiry, o.cert_expiry, n.cert_expiry),
        ] {
            if before != after {
                if let Some(k) = before {
                    tree.remove(k)?;
                }
                if let Some(k) = after {
                    tree.insert(k, &[])?;
                }
            }
        }
        for d in old.domains.iter().filter(|d| !new.domains.contains(d)) {
            self.domains.remove(d.as_str())?;
        }
        let added: Vec<Domain> = new
            .domains
            .iter()
            .filter(|d| !old.domains.contains(d))
            .cloned()
            .collect();
        if !added.is_empty() {
            self.claim(&EnterpriseConnection {
                domains: added,
                ..new.clone()
            })?;
        }
        Ok(())
    }

    /// Removes every index entry and domain claim of `old` except the domains `keep` still
    /// claims (their entries are rewritten by `claim`).
    pub(crate) fn drop_indexes(&self, old: &EnterpriseConnection, keep: &[Domain]) -> TxResult<()> {
        let k = index_keys(old);
        if let Some(org) = k.org {
            self.by_org.remove(org)?;
        }
        self.by_active.remove(k.active)?;
        self.by_provider.remove(k.provider)?;
        if let Some(e) = k.cert_expiry {
            self.by_cert_expiry.remove(e)?;
        }
        for d in old.domains.iter().filter(|d| !keep.contains(d)) {
            self.domains.remove(d.as_str())?;
        }
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

    pub(crate) fn transact<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T> {
        self.gated(|| self.transact_all(f))
    }

    pub(crate) fn transact_all<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T> {
        let trees = [
            &self.records,
            &self.domains,
            &self.by_org,
            &self.by_active,
            &self.by_provider,
            &self.by_cert_expiry,
            &self.accounts,
            &self.acc_by_subject,
            &self.acc_by_email,
            &self.acc_by_conn,
            &self.acc_gen,
            &self.meta,
        ];
        trees
            .as_slice()
            .transaction(|v: &Vec<TransactionalTree>| {
                bump_commit_seq(&v[11])?;
                f(&Tx {
                    conn: ConnTx {
                        records: &v[0],
                        domains: &v[1],
                        by_org: &v[2],
                        by_active: &v[3],
                        by_provider: &v[4],
                        by_cert_expiry: &v[5],
                        meta: &v[11],
                    },
                    accounts: &v[6],
                    acc_by_subject: &v[7],
                    acc_by_email: &v[8],
                    acc_by_conn: &v[9],
                    acc_gen: &v[10],
                })
            })
            .map_err(tx_error)
    }

    pub(crate) fn transact_connections<T>(
        &self,
        f: impl Fn(&ConnTx<'_>) -> TxResult<T>,
    ) -> Result<T> {
        self.gated(|| self.transact_connection_trees(f))
    }

    pub(crate) fn transact_connection_trees<T>(
        &self,
        f: impl Fn(&ConnTx<'_>) -> TxResult<T>,
    ) -> Result<T> {
        (
            &self.records,
            &self.domains,
            &self.by_org,
            &self.by_active,
            &self.by_provider,
            &self.by_cert_expiry,
            &self.meta,
        )
            .transaction(
                |(records, domains, by_org, by_active, by_provider, by_cert_expiry, meta)| {
                    bump_commit_seq(meta)?;
                    f(&ConnTx {
                        records,
                        domains,
                        by_org,
                        by_active,
                        by_provider,
                        by_cert_expiry,
                        meta,
                    })
                },
            )
            .map_err(tx_error)
    }

    pub(crate) async fn after_write(&self) -> Result<()> {
        if self.opts.flush_on_write {
            self.gate.flush_committed(&self.db, || {
                // Exclusive side of the gate: no transaction since the flush.
                self.record_durable(self.commit_seq()?)
            })?;
        }
        Ok(())
    }
}
