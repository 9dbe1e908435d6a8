//! # enterprise-sso-sled
//!
//! [`ConnectionRepo`] on [sled](https://docs.rs/sled/0.34) (the stable 0.34 line: the 1.0
//! alphas change the on-disk format and API between releases, which a storage library
//! cannot build on).
//!
//! ```
//! use enterprise_sso::{Connections, CreateConnection, Provider};
//! use enterprise_sso_sled::SledRepo;
//! # futures_executor::block_on(async {
//! let svc = Connections::new(SledRepo::temporary().unwrap());
//! let conn = svc.create(&CreateConnection::new(Provider::SamlCustom, "Acme")).await.unwrap();
//! assert_eq!(svc.get(&conn.id).await.unwrap(), conn);
//! # });
//! ```
//!
//! ## Layout
//!
//! Trees, all named `<prefix>` + name (default prefix `enterprise_sso/`, so a host's own
//! trees in the same [`sled::Db`] never collide):
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `records` | connection id | the core codec's record (format tag + payload) |
//! | `domains` | domain | connection id |
//! | `by_org` | organization id, `0x00`, connection id | empty |
//! | `by_active` | `0`/`1`, connection id | empty |
//! | `by_provider` | provider name, `0x00`, connection id | empty |
//! | `by_cert_expiry` | certificate expiry (8 bytes, order-preserving), connection id | empty |
//! | `meta` | `index_version` | version of the index layout (2) |
//! | `accounts` | account id | the core codec's account record |
//! | `acc_by_subject` | connection id, `0x00`, provider user id | account id |
//! | `acc_by_email` | email key, `0x00`, account id | empty |
//! | `acc_by_conn` | connection id, account id | empty |
//! | `acc_gen` | connection id | how many accounts were ever linked to it (u64) |
//!
//! Deleting a connection unlinks its accounts in the same transaction. sled transactions
//! cannot range-scan, so the accounts are listed first and the transaction checks that the
//! connection's `acc_gen` did not move meanwhile (else it starts again).
//!
//! Opening a store written before an index existed builds that index from the records
//! (index version 1 had no `by_cert_expiry`).
//!
//! Ids sort by creation time, so a range scan over `records` or over one prefix of an index
//! tree yields connections in list order, from the cursor on; no query walks every record.
//! A listing scans the most selective index its filters allow (domain, organization,
//! provider, active, then `records`) and checks the other filters on the decoded records.
//!
//! Every write (record, version check, domain claims and every index entry) is one sled
//! transaction over all five trees, so no index entry can outlive or precede its record.
//! [`SledRepo::verify_indexes`] checks exactly that.
//!
//! ## Durability
//!
//! By default sled writes its log to disk in the background every 500 ms: a write that
//! returned survives a clean shutdown and, after at most ~500 ms, a crash; a crash sooner
//! may lose it (never half of it: transactions recover whole or not at all). With
//! [`SledOptions::flush_on_write`] a write returns once it is on disk. Concurrent writers
//! share flushes (group commit), and no flush overlaps a transaction: sled 0.34 deadlocks
//! when a flush races concurrent transactions (spacejam/sled#1308, unfixed in the last
//! release), which the adapter avoids this way (see `flush_gate`); a 64-writer test guards
//! it. Writes made directly on the `sled::Db` by the host (outside this repository) are not
//! gated.

mod flush_gate;
mod sidecar;
mod verify;

pub use sidecar::FILE_NAME as COMMIT_SIDECAR;

use std::ops::Bound;

use async_trait::async_trait;
use enterprise_sso::account::email_key;
use enterprise_sso::codec::{decode_account, decode_connection, encode_account, encode_connection};
use enterprise_sso::integrity::IntegrityError;
use enterprise_sso::repo::expect_version;
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, ConnectionId, ConnectionRepo, Domain,
    EnterpriseAccount, EnterpriseConnection, Error, ListQuery, Order, Page, Result,
};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};

/// Version of the index layout this build writes.
pub const INDEX_VERSION: u64 = 2;

/// The default tree-name prefix.
pub const DEFAULT_PREFIX: &str = "enterprise_sso/";

/// Options of a [`SledRepo`].
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// Flush to disk before every write returns (see the crate docs).
    pub flush_on_write: bool,
    /// How long [`SledRepo::open_with`] waits for the database's file lock. sled releases
    /// the lock of a dropped handle from a background thread, so re-opening a path right
    /// after dropping it can briefly find it still locked.
    pub lock_timeout: std::time::Duration,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            flush_on_write: false,
            lock_timeout: std::time::Duration::from_secs(2),
        }
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// [`ConnectionRepo`] on a sled database.
pub struct SledRepo {
    db: sled::Db,
    records: Tree,
    domains: Tree,
    by_org: Tree,
    by_active: Tree,
    by_provider: Tree,
    by_cert_expiry: Tree,
    meta: Tree,
    accounts: Tree,
    acc_by_subject: Tree,
    acc_by_email: Tree,
    acc_by_conn: Tree,
    acc_gen: Tree,
    opts: SledOptions,
    gate: flush_gate::FlushGate,
    sidecar: Option<sidecar::Sidecar>,
}

/// The `meta` key of the commit counter (see `sidecar`).
const COMMIT_SEQ: &str = "commit_seq";

fn read_seq(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Counts one more commit, inside the transaction.
fn bump_commit_seq(meta: &TransactionalTree) -> TxResult<()> {
    let n = read_seq(meta.get(COMMIT_SEQ)?);
    meta.insert(COMMIT_SEQ, &(n + 1).to_be_bytes())?;
    Ok(())
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn storage(e: sled::Error) -> Error {
    Error::storage(e)
}

fn storage_io(e: std::io::Error) -> Error {
    Error::storage(e)
}

fn storage_integrity(e: IntegrityError) -> Error {
    Error::storage(e)
}

fn tx_error(e: TransactionError<Error>) -> Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => storage(e),
    }
}

fn abort<T>(e: Error) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Index keys of one connection.
struct IndexKeys {
    org: Option<Vec<u8>>,
    active: Vec<u8>,
    provider: Vec<u8>,
    cert_expiry: Option<Vec<u8>>,
}

/// Big-endian with the sign bit flipped: byte order equals numeric order for all i64.
fn ordered_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn prefixed(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 1 + id.len());
    k.extend_from_slice(prefix);
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn index_keys(c: &EnterpriseConnection) -> IndexKeys {
    let id = c.id.as_str();
    let mut active = vec![u8::from(c.active)];
    active.extend_from_slice(id.as_bytes());
    IndexKeys {
        org: c
            .organization_id
            .as_deref()
            .map(|o| prefixed(o.as_bytes(), id)),
        active,
        provider: prefixed(c.provider.as_str().as_bytes(), id),
        cert_expiry: enterprise_sso::repo::certificate_expires_at(c).map(|t| {
            let mut k = ordered_i64(t).to_vec();
            k.extend_from_slice(id.as_bytes());
            k
        }),
    }
}

/// The connection trees inside one transaction. sled's transaction cost grows with the
/// number of trees, so connection writes take only these six.
struct ConnTx<'a> {
    records: &'a TransactionalTree,
    domains: &'a TransactionalTree,
    by_org: &'a TransactionalTree,
    by_active: &'a TransactionalTree,
    by_provider: &'a TransactionalTree,
    by_cert_expiry: &'a TransactionalTree,
}

/// Every tree inside one transaction (account writes and connection deletes).
struct Tx<'a> {
    conn: ConnTx<'a>,
    accounts: &'a TransactionalTree,
    acc_by_subject: &'a TransactionalTree,
    acc_by_email: &'a TransactionalTree,
    acc_by_conn: &'a TransactionalTree,
    acc_gen: &'a TransactionalTree,
}

/// A connection's account generation as stored in `acc_gen` (0 when absent).
fn generation_of(stored: Option<sled::IVec>) -> u64 {
    stored
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Keys of an account's index entries.
struct AccountKeys {
    subject: Option<Vec<u8>>,
    email: Vec<u8>,
    conn: Option<Vec<u8>>,
}

fn account_keys(a: &EnterpriseAccount) -> AccountKeys {
    let id = a.id.as_str().as_bytes();
    let conn = a.enterprise_connection_id.as_ref();
    AccountKeys {
        subject: conn
            .zip(a.provider_user_id.as_ref())
            .map(|(c, s)| prefixed(c.as_str().as_bytes(), s)),
        email: {
            let mut k = email_key(&a.email_address).into_bytes();
            k.push(0);
            k.extend_from_slice(id);
            k
        },
        conn: conn.map(|c| {
            let mut k = c.as_str().as_bytes().to_vec();
            k.extend_from_slice(id);
            k
        }),
    }
}

impl Tx<'_> {
    fn old_account(&self, id: &str) -> TxResult<Option<EnterpriseAccount>> {
        match self.accounts.get(id)? {
            None => Ok(None),
            Some(bytes) => match decode_account(&bytes) {
                Ok(a) => Ok(Some(a)),
                Err(e) => abort(e),
            },
        }
    }

    fn put_account(&self, a: &EnterpriseAccount) -> TxResult<()> {
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

    fn drop_account_indexes(&self, a: &EnterpriseAccount) -> TxResult<()> {
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

    fn generation(&self, conn: &ConnectionId) -> TxResult<u64> {
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
    fn old(&self, id: &ConnectionId) -> TxResult<Option<EnterpriseConnection>> {
        match self.records.get(id.as_str())? {
            None => Ok(None),
            Some(bytes) => match decode_connection(&bytes) {
                Ok(c) => Ok(Some(c)),
                Err(e) => abort(e),
            },
        }
    }

    fn claim(&self, c: &EnterpriseConnection) -> TxResult<()> {
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

    fn put_indexes(&self, c: &EnterpriseConnection) -> TxResult<()> {
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
    fn insert_new(&self, conn: &EnterpriseConnection, bytes: &[u8]) -> TxResult<()> {
        if self.records.get(conn.id.as_str())?.is_some() {
            return abort(Error::AlreadyExists {
                id: conn.id.to_string(),
            });
        }
        self.claim(conn)?;
        self.put_indexes(conn)?;
        self.records.insert(conn.id.as_str(), bytes)?;
        Ok(())
    }

    /// Moves the index entries and domain claims from `old` to `new`, touching only the
    /// entries whose keys differ (most updates change none of them).
    fn reindex(&self, old: &EnterpriseConnection, new: &EnterpriseConnection) -> TxResult<()> {
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
    fn drop_indexes(&self, old: &EnterpriseConnection, keep: &[Domain]) -> TxResult<()> {
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

impl Drop for SledRepo {
    /// A clean close records everything as durable in the commit sidecar (best effort: a
    /// failure here only weakens the next open's check).
    fn drop(&mut self) {
        if self.sidecar.is_some() {
            if let Ok(seq) = self.commit_seq() {
                if self.db.flush().is_ok() {
                    let _ = self.record_durable(seq);
                }
            }
        }
    }
}

impl SledRepo {
    /// Opens (creating if needed) a sled database at `path`.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::open_with(path, SledOptions::default())
    }

    /// Opens a sled database at `path` with options.
    pub fn open_with(path: impl AsRef<std::path::Path>, opts: SledOptions) -> Result<Self> {
        let deadline = std::time::Instant::now() + opts.lock_timeout;
        let db = loop {
            match sled::open(path.as_ref()) {
                Ok(db) => break db,
                Err(e) if is_lock_error(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(storage(e)),
            }
        };
        let mut repo = Self::from_db_with(db, DEFAULT_PREFIX, opts)?;
        let sidecar = sidecar::Sidecar::new(path.as_ref());
        let durable = sidecar.read().map_err(|e| {
            storage_integrity(IntegrityError::Engine(format!("commit sidecar: {e}")))
        })?;
        let found = repo.commit_seq()?;
        if let Some(acknowledged) = durable.filter(|d| *d > found) {
            return Err(storage_integrity(IntegrityError::WritesLost {
                acknowledged,
                found,
            }));
        }
        repo.sidecar = Some(sidecar);
        Ok(repo)
    }

    /// The number of transactions this store holds (its commit counter).
    fn commit_seq(&self) -> Result<u64> {
        Ok(read_seq(self.meta.get(COMMIT_SEQ).map_err(storage)?))
    }

    /// Records everything committed so far as durable in the sidecar; call only once that
    /// is true (after a flush, with no transaction in between).
    fn record_durable(&self, seq: u64) -> Result<()> {
        match &self.sidecar {
            Some(s) => s.write(seq).map_err(storage_io),
            None => Ok(()),
        }
    }

    /// A temporary database, deleted when dropped (for tests).
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(storage)?;
        Self::from_db(db)
    }

    /// Uses a database the host already owns; our trees are named with
    /// [`DEFAULT_PREFIX`].
    pub fn from_db(db: sled::Db) -> Result<Self> {
        Self::from_db_with(db, DEFAULT_PREFIX, SledOptions::default())
    }

    /// Uses a database the host already owns, with a tree-name prefix of its choice.
    pub fn from_db_with(db: sled::Db, prefix: &str, opts: SledOptions) -> Result<Self> {
        let tree = |name: &str| db.open_tree(format!("{prefix}{name}")).map_err(storage);
        let repo = SledRepo {
            records: tree("records")?,
            domains: tree("domains")?,
            by_org: tree("by_org")?,
            by_active: tree("by_active")?,
            by_provider: tree("by_provider")?,
            by_cert_expiry: tree("by_cert_expiry")?,
            meta: tree("meta")?,
            accounts: tree("accounts")?,
            acc_by_subject: tree("acc_by_subject")?,
            acc_by_email: tree("acc_by_email")?,
            acc_by_conn: tree("acc_by_conn")?,
            acc_gen: tree("acc_gen")?,
            db,
            opts,
            gate: flush_gate::FlushGate::default(),
            sidecar: None,
        };
        repo.upgrade_indexes()?;
        Ok(repo)
    }

    /// Builds the indexes a store written by an older layout lacks. Refuses a store
    /// written by a newer layout.
    fn upgrade_indexes(&self) -> Result<()> {
        let found = match self.meta.get("index_version").map_err(storage)? {
            Some(v) => {
                let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| Error::Corrupt {
                    reason: "bad index_version".into(),
                })?;
                u64::from_be_bytes(bytes)
            }
            // A store with records but no version was written by layout 1.
            None if !self.records.is_empty() => 1,
            None => INDEX_VERSION,
        };
        if found > INDEX_VERSION {
            return Err(Error::Corrupt {
                reason: format!(
                    "index layout {found} is newer than this library ({INDEX_VERSION})"
                ),
            });
        }
        if found < 2 {
            for item in self.records.iter() {
                let (_, v) = item.map_err(storage)?;
                if let Some(e) = index_keys(&decode_connection(&v)?).cert_expiry {
                    self.by_cert_expiry.insert(e, &[]).map_err(storage)?;
                }
            }
        }
        self.meta
            .insert("index_version", &INDEX_VERSION.to_be_bytes())
            .map_err(storage)?;
        Ok(())
    }

    /// The underlying database.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Stores many new connections, one transaction per chunk of 1,000 (each chunk all or
    /// nothing); for imports and benchmarks.
    pub async fn bulk_insert(&self, conns: &[EnterpriseConnection]) -> Result<()> {
        for chunk in conns.chunks(1000) {
            let encoded: Vec<_> = chunk.iter().map(|c| (c, encode_connection(c))).collect();
            self.transact_connections(|tx| {
                for (conn, bytes) in &encoded {
                    tx.insert_new(conn, bytes)?;
                }
                Ok(())
            })?;
        }
        self.after_write().await
    }

    /// Writes everything to disk now (and records it in the commit sidecar).
    pub async fn flush(&self) -> Result<()> {
        let seq = self.commit_seq()?;
        self.db.flush_async().await.map_err(storage)?;
        self.record_durable(seq)
    }

    /// Runs a sled transaction; in flush-on-write mode under the flush gate.
    fn gated<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.opts.flush_on_write {
            self.gate.transact(f)
        } else {
            f()
        }
    }

    fn transact<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T> {
        self.gated(|| self.transact_all(f))
    }

    fn transact_all<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T> {
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

    fn transact_connections<T>(&self, f: impl Fn(&ConnTx<'_>) -> TxResult<T>) -> Result<T> {
        self.gated(|| self.transact_connection_trees(f))
    }

    fn transact_connection_trees<T>(&self, f: impl Fn(&ConnTx<'_>) -> TxResult<T>) -> Result<T> {
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
                    })
                },
            )
            .map_err(tx_error)
    }

    async fn after_write(&self) -> Result<()> {
        if self.opts.flush_on_write {
            self.gate.flush_committed(&self.db, || {
                // Exclusive side of the gate: no transaction since the flush.
                self.record_durable(self.commit_seq()?)
            })?;
        }
        Ok(())
    }

    fn load(&self, id: &[u8]) -> Result<Option<EnterpriseConnection>> {
        match self.records.get(id).map_err(storage)? {
            Some(bytes) => decode_connection(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// [`SledRepo::verify`] with the problem in words (kept for existing callers).
    pub fn verify_indexes(&self) -> std::result::Result<(), String> {
        self.verify().map_err(|e| e.to_string())
    }

    fn account_generation(&self, id: &ConnectionId) -> Result<u64> {
        Ok(generation_of(
            self.acc_gen.get(id.as_str()).map_err(storage)?,
        ))
    }

    /// Ids of the accounts linked to a connection (outside any transaction).
    fn linked_accounts(&self, id: &ConnectionId) -> Result<Vec<String>> {
        let prefix = id.as_str().as_bytes();
        self.acc_by_conn
            .scan_prefix(prefix)
            .map(|e| {
                let (k, _) = e.map_err(storage)?;
                Ok(String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            })
            .collect()
    }

    fn load_account(&self, id: &[u8]) -> Result<Option<EnterpriseAccount>> {
        match self.accounts.get(id).map_err(storage)? {
            Some(bytes) => decode_account(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Picks the index for a listing: (tree, key prefix). `None` scans `records`.
    fn plan(&self, q: &ListQuery) -> Option<(&Tree, Vec<u8>)> {
        if let Some(o) = &q.organization_id {
            let mut p = o.as_bytes().to_vec();
            p.push(0);
            return Some((&self.by_org, p));
        }
        if let Some(pr) = q.provider {
            let mut p = pr.as_str().as_bytes().to_vec();
            p.push(0);
            return Some((&self.by_provider, p));
        }
        q.active.map(|a| (&self.by_active, vec![u8::from(a)]))
    }
}

/// Key range of `prefix` in `order`, starting after the cursor.
fn range_of(prefix: &[u8], q: &ListQuery) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with = |id: &ConnectionId| {
        let mut k = prefix.to_vec();
        k.extend_from_slice(id.as_str().as_bytes());
        k
    };
    let lower = Bound::Included(prefix.to_vec());
    // The first key after every key that starts with `prefix`.
    let upper = {
        let mut end = prefix.to_vec();
        while let Some(last) = end.pop() {
            if last < u8::MAX {
                end.push(last + 1);
                break;
            }
        }
        if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end)
        }
    };
    match (&q.after, q.order) {
        (None, _) => (lower, upper),
        (Some(a), Order::Asc) => (Bound::Excluded(with(a)), upper),
        (Some(a), Order::Desc) => (lower, Bound::Excluded(with(a))),
    }
}

#[async_trait]
impl ConnectionRepo for SledRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let bytes = encode_connection(conn);
        self.transact_connections(|tx| tx.insert_new(conn, &bytes))?;
        self.after_write().await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.load(id.as_str().as_bytes())
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let bytes = encode_connection(conn);
        self.transact_connections(|tx| {
            let stored = tx.old(&conn.id)?;
            let old =
                match expect_version(conn.id.as_str(), expected_version, stored, |c| c.version) {
                    Ok(old) => old,
                    Err(e) => return abort(e),
                };
            tx.reindex(&old, conn)?;
            tx.records.insert(conn.id.as_str(), bytes.as_slice())?;
            Ok(())
        })?;
        self.after_write().await
    }

    async fn delete(&self, id: &ConnectionId, now: i64) -> Result<bool> {
        loop {
            let generation = self.account_generation(id)?;
            let linked = self.linked_accounts(id)?;
            let outcome = self.transact(|tx| {
                if tx.generation(id)? != generation {
                    return Ok(None); // an account was linked meanwhile: list again
                }
                let Some(old) = tx.old(id)? else {
                    return Ok(Some(false));
                };
                for account_id in &linked {
                    if let Some(a) = tx.old_account(account_id)? {
                        if a.enterprise_connection_id.as_ref() == Some(id) {
                            tx.drop_account_indexes(&a)?;
                            tx.put_account(&a.unlinked(now))?;
                        }
                    }
                }
                tx.drop_indexes(&old, &[])?;
                tx.records.remove(id.as_str())?;
                Ok(Some(true))
            })?;
            if let Some(deleted) = outcome {
                if deleted {
                    self.after_write().await?;
                }
                return Ok(deleted);
            }
        }
    }

    async fn list(&self, q: &ListQuery) -> Result<Page> {
        let want = q.limit.saturating_add(1);
        let mut items = Vec::with_capacity(want.min(64));
        if let Some(d) = &q.domain {
            // At most one connection claims a domain.
            if let Some(c) = self.find_by_domain(d).await? {
                if q.matches(&c) && q.after_cursor(&c.id) {
                    items.push(c);
                }
            }
            return Ok(Page::from_overfetch(items, q.limit));
        }
        let (tree, prefix) = match self.plan(q) {
            Some((t, p)) => (t, p),
            None => (&self.records, Vec::new()),
        };
        let iter = tree.range(range_of(&prefix, q));
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match q.order {
            Order::Asc => Box::new(iter),
            Order::Desc => Box::new(iter.rev()),
        };
        for entry in iter {
            let (k, v) = entry.map_err(storage)?;
            let c = if prefix.is_empty() {
                decode_connection(&v)?
            } else {
                match self.load(&k[prefix.len()..])? {
                    Some(c) => c,
                    // Unreachable with transactional writes; skip rather than fail a read.
                    None => continue,
                }
            };
            if q.matches(&c) {
                items.push(c);
                if items.len() >= want {
                    break;
                }
            }
        }
        Ok(Page::from_overfetch(items, q.limit))
    }

    async fn certificates_expiring_before(
        &self,
        before_ms: i64,
    ) -> Result<Vec<EnterpriseConnection>> {
        let mut out = Vec::new();
        for entry in self.by_cert_expiry.range(..ordered_i64(before_ms).to_vec()) {
            let (k, _) = entry.map_err(storage)?;
            if let Some(c) = self.load(&k[8..])? {
                out.push(c);
            }
        }
        Ok(out)
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        match self.domains.get(domain.as_str()).map_err(storage)? {
            Some(id) => self.load(&id),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl AccountRepo for SledRepo {
    async fn insert_account(&self, a: &EnterpriseAccount) -> Result<()> {
        self.transact(|tx| {
            if tx.accounts.get(a.id.as_str())?.is_some() {
                return abort(Error::AlreadyExists {
                    id: a.id.to_string(),
                });
            }
            if let Some(c) = &a.enterprise_connection_id {
                if tx.records.get(c.as_str())?.is_none() {
                    return abort(Error::NotFound { id: c.to_string() });
                }
                if let Some(s) = account_keys(a).subject {
                    if let Some(existing) = tx.acc_by_subject.get(s)? {
                        let id = std::str::from_utf8(&existing)
                            .ok()
                            .and_then(|s| s.parse().ok());
                        return match id {
                            Some(id) => abort(Error::AccountExists { id }),
                            None => abort(Error::Corrupt {
                                reason: "bad account id in subject index".into(),
                            }),
                        };
                    }
                }
                let next = tx.generation(c)? + 1;
                tx.acc_gen.insert(c.as_str(), &next.to_be_bytes())?;
            }
            tx.put_account(a)
        })?;
        self.after_write().await
    }

    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        self.load_account(id.as_str().as_bytes())
    }

    async fn update_account(&self, a: &EnterpriseAccount, expected_version: u64) -> Result<()> {
        self.transact(|tx| {
            let stored = tx.old_account(a.id.as_str())?;
            let old = match expect_version(a.id.as_str(), expected_version, stored, |a| a.version) {
                Ok(old) => old,
                Err(e) => return abort(e),
            };
            if old.enterprise_connection_id != a.enterprise_connection_id
                || old.provider_user_id != a.provider_user_id
            {
                return abort(Error::Corrupt {
                    reason: "an account's connection and provider user id cannot change".into(),
                });
            }
            tx.drop_account_indexes(&old)?;
            tx.put_account(a)
        })?;
        self.after_write().await
    }

    async fn find_account_by_subject(
        &self,
        connection: &ConnectionId,
        provider_user_id: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        let key = prefixed(connection.as_str().as_bytes(), provider_user_id);
        match self.acc_by_subject.get(key).map_err(storage)? {
            Some(id) => self.load_account(&id),
            None => Ok(None),
        }
    }

    async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        let mut prefix = email_key(email).into_bytes();
        prefix.push(0);
        let mut out = Vec::new();
        for entry in self.acc_by_email.scan_prefix(&prefix) {
            let (k, _) = entry.map_err(storage)?;
            if let Some(a) = self.load_account(&k[prefix.len()..])? {
                out.push(a);
            }
        }
        Ok(out)
    }

    async fn list_accounts(
        &self,
        connection: &ConnectionId,
        q: &AccountQuery,
    ) -> Result<AccountPage> {
        let prefix = connection.as_str().as_bytes().to_vec();
        // Keys are connection id + account id: the prefix's range, narrowed by the cursor.
        let with = |id: &AccountId| {
            let mut k = prefix.clone();
            k.extend_from_slice(id.as_str().as_bytes());
            k
        };
        let (lower, upper) = range_of(&prefix, &ListQuery::default());
        let (lower, upper) = match (&q.after, q.order) {
            (None, _) => (lower, upper),
            (Some(a), Order::Asc) => (Bound::Excluded(with(a)), upper),
            (Some(a), Order::Desc) => (lower, Bound::Excluded(with(a))),
        };
        let iter = self.acc_by_conn.range((lower, upper));
        let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match q.order {
            Order::Asc => Box::new(iter),
            Order::Desc => Box::new(iter.rev()),
        };
        let want = q.limit.saturating_add(1);
        let mut items = Vec::new();
        for entry in iter {
            let (k, _) = entry.map_err(storage)?;
            if let Some(a) = self.load_account(&k[prefix.len()..])? {
                items.push(a);
                if items.len() >= want {
                    break;
                }
            }
        }
        Ok(AccountPage::from_overfetch(items, q.limit))
    }

    async fn delete_account(&self, id: &AccountId) -> Result<bool> {
        let deleted = self.transact(|tx| {
            let Some(old) = tx.old_account(id.as_str())? else {
                return Ok(false);
            };
            tx.drop_account_indexes(&old)?;
            tx.accounts.remove(id.as_str())?;
            Ok(true)
        })?;
        if deleted {
            self.after_write().await?;
        }
        Ok(deleted)
    }
}
