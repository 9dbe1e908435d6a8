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
//! [`SledOptions::flush_on_write`] every write calls `flush_async` before returning, so a
//! write that returned is on disk.

use std::ops::Bound;

use async_trait::async_trait;
use enterprise_sso::codec::{decode_connection, encode_connection};
use enterprise_sso::{
    ConnectionId, ConnectionRepo, Domain, EnterpriseConnection, Error, ListQuery, Order, Page,
    Result,
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
    opts: SledOptions,
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn storage(e: sled::Error) -> Error {
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

/// The five trees inside a transaction.
struct Tx<'a> {
    records: &'a TransactionalTree,
    domains: &'a TransactionalTree,
    by_org: &'a TransactionalTree,
    by_active: &'a TransactionalTree,
    by_provider: &'a TransactionalTree,
    by_cert_expiry: &'a TransactionalTree,
}

impl Tx<'_> {
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
                    let owner = std::str::from_utf8(&owner)
                        .ok()
                        .and_then(|s| s.parse().ok());
                    return match owner {
                        Some(owner) => abort(Error::DomainConflict {
                            domain: d.clone(),
                            owner,
                        }),
                        None => abort(Error::Corrupt {
                            reason: "bad owner id in domain index".into(),
                        }),
                    };
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
        Self::from_db_with(db, DEFAULT_PREFIX, opts)
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
            db,
            opts,
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

    /// Writes everything to disk now.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map(|_| ()).map_err(storage)
    }

    fn transact<T>(&self, f: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T> {
        (
            &self.records,
            &self.domains,
            &self.by_org,
            &self.by_active,
            &self.by_provider,
            &self.by_cert_expiry,
        )
            .transaction(
                |(records, domains, by_org, by_active, by_provider, by_cert_expiry)| {
                    f(&Tx {
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
            self.flush().await?;
        }
        Ok(())
    }

    fn load(&self, id: &[u8]) -> Result<Option<EnterpriseConnection>> {
        match self.records.get(id).map_err(storage)? {
            Some(bytes) => decode_connection(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Checks that every index entry points at a live record that has that value, and
    /// that every record is reachable through each of its entries. Returns the first
    /// inconsistency found, in words.
    pub fn verify_indexes(&self) -> std::result::Result<(), String> {
        let err = |e: Error| e.to_string();
        let mut records = Vec::new();
        for item in self.records.iter() {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let c = decode_connection(&v).map_err(err)?;
            if k.as_ref() != c.id.as_str().as_bytes() {
                return Err(format!("record under key {k:?} has id {}", c.id));
            }
            records.push(c);
        }
        let by_id = |id: &[u8]| -> std::result::Result<EnterpriseConnection, String> {
            self.load(id)
                .map_err(err)?
                .ok_or_else(|| format!("index entry points at missing record {id:?}"))
        };
        for item in self.domains.iter() {
            let (d, id) = item.map_err(|e| e.to_string())?;
            let c = by_id(&id)?;
            if !c
                .domains
                .iter()
                .any(|x| x.as_str().as_bytes() == d.as_ref())
            {
                return Err(format!(
                    "domain entry {d:?} -> {} but the record lacks it",
                    c.id
                ));
            }
        }
        for (name, tree) in [
            ("by_org", &self.by_org),
            ("by_active", &self.by_active),
            ("by_provider", &self.by_provider),
        ] {
            let mut count = 0usize;
            for item in tree.iter() {
                let (k, _) = item.map_err(|e| e.to_string())?;
                let id_start = k
                    .len()
                    .checked_sub(30)
                    .ok_or_else(|| format!("{name}: short key"))?;
                let c = by_id(&k[id_start..])?;
                let keys = index_keys(&c);
                let want = match name {
                    "by_org" => keys.org,
                    "by_active" => Some(keys.active),
                    "by_cert_expiry" => keys.cert_expiry,
                    _ => Some(keys.provider),
                };
                if want.as_deref() != Some(k.as_ref()) {
                    return Err(format!("{name}: stale entry {k:?} for {}", c.id));
                }
                count += 1;
            }
            let expected = match name {
                "by_org" => records
                    .iter()
                    .filter(|c| c.organization_id.is_some())
                    .count(),
                _ => records.len(),
            };
            if count != expected {
                return Err(format!("{name}: {count} entries for {expected} records"));
            }
        }
        for c in &records {
            for d in &c.domains {
                let owner = self.domains.get(d.as_str()).map_err(|e| e.to_string())?;
                if owner.as_deref() != Some(c.id.as_str().as_bytes()) {
                    return Err(format!(
                        "{} claims {d} but the domain index says {owner:?}",
                        c.id
                    ));
                }
            }
        }
        Ok(())
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
        self.transact(|tx| {
            if tx.records.get(conn.id.as_str())?.is_some() {
                return abort(Error::AlreadyExists {
                    id: conn.id.clone(),
                });
            }
            tx.claim(conn)?;
            tx.put_indexes(conn)?;
            tx.records.insert(conn.id.as_str(), bytes.as_slice())?;
            Ok(())
        })?;
        self.after_write().await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        self.load(id.as_str().as_bytes())
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let bytes = encode_connection(conn);
        self.transact(|tx| {
            let Some(old) = tx.old(&conn.id)? else {
                return abort(Error::NotFound {
                    id: conn.id.to_string(),
                });
            };
            if old.version != expected_version {
                return abort(Error::VersionConflict {
                    id: conn.id.clone(),
                    expected: expected_version,
                    actual: old.version,
                });
            }
            tx.drop_indexes(&old, &conn.domains)?;
            tx.claim(conn)?;
            tx.put_indexes(conn)?;
            tx.records.insert(conn.id.as_str(), bytes.as_slice())?;
            Ok(())
        })?;
        self.after_write().await
    }

    async fn delete(&self, id: &ConnectionId) -> Result<bool> {
        let deleted = self.transact(|tx| {
            let Some(old) = tx.old(id)? else {
                return Ok(false);
            };
            tx.drop_indexes(&old, &[])?;
            tx.records.remove(id.as_str())?;
            Ok(true)
        })?;
        if deleted {
            self.after_write().await?;
        }
        Ok(deleted)
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
