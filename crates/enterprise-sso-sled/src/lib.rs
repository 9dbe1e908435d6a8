//! # enterprise-sso-sled
//!
//! [`ConnectionRepo`](enterprise_sso::ConnectionRepo) on [sled](https://docs.rs/sled/0.34) (the stable 0.34 line: the 1.0
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
//! One tree, named `<prefix>store` (default prefix `enterprise_sso/`, so a host's own trees
//! in the same [`sled::Db`] never collide). Every key starts with a byte naming its
//! [`Kind`]:
//!
//! | kind | key | value |
//! | --- | --- | --- |
//! | `r` record | connection id | the core codec's record (format tag + payload) |
//! | `d` domain | domain | connection id |
//! | `o` by org | organization id, `0x00`, connection id | empty |
//! | `a` by active | `0`/`1`, connection id | empty |
//! | `p` by provider | provider name, `0x00`, connection id | empty |
//! | `x` by cert expiry | certificate expiry (8 bytes, order-preserving), connection id | empty |
//! | `A` account | account id | the core codec's account record |
//! | `S` account by subject | connection id, `0x00`, provider user id | account id |
//! | `E` account by email | email key, `0x00`, account id | empty |
//! | `C` account by connection | connection id, account id | empty |
//! | `G` account generation | connection id | how many accounts were ever linked to it (u64) |
//! | `m` meta | `commit_seq`, `event_seq`, `event_floor`, `index_version` | u64 (big-endian) |
//! | `e` event | position (u64, big-endian) | the core codec's event |
//! | `s` sign-in record | sign-in kind name, `0x00`, key (a SHA-256 hex) | tag, CRC-32, created and expires (i64), connection id, payload |
//!
//! So every write — record, version check, domain claims, index entries, feed event and
//! commit counter — is atomic over one tree, and no index entry can outlive or precede its
//! record ([`SledRepo::verify`] checks exactly that).
//!
//! Each write runs in its own savepoint (a refused write leaves nothing). With
//! flush-on-write, writes are grouped (see `group`): concurrent writes of one `SledRepo`
//! share one sled transaction and one flush, and the first waiting writer leads the next
//! batch; a lone writer leads at once. A raw sled transaction writing a record, an event
//! and the counters cost ~107 µs of CPU alone and ~15–20 µs each 64 to a transaction. A
//! write's future dropped while the write is queued takes it back; once a batch took it,
//! it commits with the batch. Without flush-on-write each write is a transaction of its
//! own. `modify` reads, changes and encodes on the caller and the write stores the result
//! only if the stored bytes are still the ones read (else the caller reads and changes
//! again).
//!
//! Deleting a connection unlinks its accounts in the same transaction. sled transactions
//! cannot range-scan, so the accounts are listed first and the transaction checks that the
//! connection's account generation did not move meanwhile (else it starts again).
//!
//! Ids sort by creation time, so a range scan over the records or over one prefix of an
//! index yields connections in list order, from the cursor on; no query walks every
//! record. A listing scans the most selective index its filters allow (domain,
//! organization, provider, active, then the records) and checks the other filters on the
//! decoded records.
//!
//! Stores written by layouts 1 and 2 (a tree per record kind and index: `records`,
//! `domains`, `by_org`, …, `meta`) are migrated when opened: the records and accounts are
//! copied and their index entries built afresh, the generations, counters and events
//! copied, then `index_version` 3 is written and the old trees are dropped. A migration cut
//! short (crash, full disk) leaves the old trees whole and runs again on the next open.

//! ## Durability
//!
//! By default sled writes its log to disk in the background every 500 ms: a write that
//! returned survives a clean shutdown and, after at most ~500 ms, a crash; a crash sooner
//! may lose it (never half of it: transactions recover whole or not at all). With
//! [`SledOptions::flush_on_write`] a write returns once it is on disk: each batch's leader
//! flushes after the batch's transaction, so concurrent writers share one flush, and no
//! flush overlaps a transaction: sled 0.34 deadlocks
//! when a flush races concurrent transactions (spacejam/sled#1308, unfixed in the last
//! release), which the adapter avoids this way (see `flush_gate`); a 64-writer test guards
//! it. Writes made directly on the `sled::Db` by the host (outside this repository) are not
//! gated.

mod accounts;
mod connections;
mod flush_gate;
mod group;
mod keys;
mod migrate;
mod sidecar;
mod sign_ins;
mod tx;
mod verify;

pub use keys::Kind;
pub use sidecar::FILE_NAME as COMMIT_SIDECAR;

use enterprise_sso::storage::IntegrityError;
use enterprise_sso::Result;
use sled::Tree;

use crate::tx::{read_seq, storage, storage_integrity, storage_io, COMMIT_SEQ};

/// Version of the layout this build writes (3: one tree, keys prefixed by [`Kind`]).
pub const INDEX_VERSION: u64 = 3;

/// The name of the store's tree after the prefix.
pub const TREE_NAME: &str = "store";

/// The default tree-name prefix.
pub const DEFAULT_PREFIX: &str = "enterprise_sso/";

/// Options of a [`SledRepo`].
#[derive(Debug, Clone)]
pub struct SledOptions {
    /// Flush to disk before every write returns (see the crate docs).
    pub flush_on_write: bool,
    /// Create a new database directory accessible to its owner only (0700 on Unix), so
    /// the files sled writes in it cannot be read by other users whatever their own mode.
    /// `true` by default; an existing directory keeps its mode.
    pub owner_only_files: bool,
    /// How long [`SledRepo::open_with`] waits for the database's file lock. sled releases
    /// the lock of a dropped handle from a background thread, so re-opening a path right
    /// after dropping it can briefly find it still locked.
    pub lock_timeout: std::time::Duration,
    /// Bytes of sled's page cache (`sled::Config::cache_capacity`). sled's own default is
    /// 1 GiB, which a long-running host reaches: measured 226 MB resident at 100,000
    /// connections. Default here: 64 MiB (the hot connections of a large store, a whole
    /// store of ~20,000 connections); raise it for stores that are read across the board.
    pub cache_capacity: u64,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            flush_on_write: false,
            owner_only_files: true,
            lock_timeout: std::time::Duration::from_secs(2),
            cache_capacity: 64 << 20,
        }
    }
}

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist (Unix).
fn create_owner_only_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// [`ConnectionRepo`](enterprise_sso::ConnectionRepo) on a sled database.
pub struct SledRepo {
    db: sled::Db,
    tree: Tree,
    opts: SledOptions,
    gate: flush_gate::FlushGate,
    group: group::Group,
    sidecar: Option<sidecar::Sidecar>,
    /// Set when a write or flush failed: the close then skips its flush (sled's flush
    /// after a failed write, ENOSPC above all, can block for ever).
    write_failed: std::sync::atomic::AtomicBool,
    /// Held only by this handle, and dropped last of its fields: a closer thread that
    /// holds the last sled handles waits for it (see `Drop`). Must stay the last field.
    alive: std::sync::Arc<()>,
}

/// How long dropping a [`SledRepo`] waits for its final flush.
pub const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl std::fmt::Debug for SledRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledRepo").finish_non_exhaustive()
    }
}

impl Drop for SledRepo {
    /// A close that ends. Unless a write or flush has failed, it flushes (waiting at most
    /// [`CLOSE_TIMEOUT`]) and records everything as durable in the commit sidecar (best
    /// effort: a failure here only weakens the next open's check). After a failed write,
    /// or a flush that did not end in time, it neither flushes nor lets sled's own final
    /// flush (run when the last handle drops) block the caller: a background thread takes
    /// the last handles and drops them once this handle is gone. What was not flushed is
    /// then what a crash would lose, which the next open's check reports.
    fn drop(&mut self) {
        use std::sync::atomic::Ordering;
        let seq = self.commit_seq().ok();
        let failed = self.write_failed.load(Ordering::Acquire);
        let flushed = !failed && flush_within(&self.db, CLOSE_TIMEOUT);
        if flushed {
            if let Some(seq) = seq.filter(|_| self.sidecar.is_some()) {
                let _ = self.record_durable(seq);
            }
            return;
        }
        let (db, tree) = (self.db.clone(), self.tree.clone());
        let alive = std::sync::Arc::downgrade(&self.alive);
        // If no thread can be started, the handles drop here (as before).
        let _ = std::thread::Builder::new()
            .name("enterprise-sso-sled-close".into())
            .spawn(move || {
                while alive.strong_count() > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                drop(tree);
                drop(db);
            });
    }
}

/// Flushes `db` on another thread; whether it succeeded within `timeout` (a flush that
/// does not end keeps its thread and its handle, never the caller).
fn flush_within(db: &sled::Db, timeout: std::time::Duration) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let db = db.clone();
    let spawned = std::thread::Builder::new()
        .name("enterprise-sso-sled-flush".into())
        .spawn(move || {
            let _ = tx.send(db.flush().is_ok());
        });
    spawned.is_ok() && rx.recv_timeout(timeout).unwrap_or(false)
}

impl SledRepo {
    /// Opens (creating if needed) a sled database at `path`.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::open_with(path, SledOptions::default())
    }

    /// Opens a sled database at `path` with options.
    pub fn open_with(path: impl AsRef<std::path::Path>, opts: SledOptions) -> Result<Self> {
        if opts.owner_only_files {
            create_owner_only_dir(path.as_ref()).map_err(storage_io)?;
        }
        let deadline = std::time::Instant::now() + opts.lock_timeout;
        let db = loop {
            let config = sled::Config::new()
                .path(path.as_ref())
                .cache_capacity(opts.cache_capacity);
            match config.open() {
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
        Ok(read_seq(
            self.tree.get(keys::meta(COMMIT_SEQ)).map_err(storage)?,
        ))
    }

    /// Records everything committed so far as durable in the sidecar; call only once that
    /// is true (after a flush, with no transaction in between).
    fn record_durable(&self, seq: u64) -> Result<()> {
        match &self.sidecar {
            Some(s) => s.write(seq).map_err(storage_io),
            None => Ok(()),
        }
    }

    /// [`SledRepo::record_durable`] for a batch: the count is written now and `fsync`ed in
    /// the background (see `sidecar`).
    fn record_durable_soon(&self, seq: u64) -> Result<()> {
        match &self.sidecar {
            Some(s) => s.write_sync_soon(seq).map_err(storage_io),
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
    /// A store of an older layout under that prefix is migrated first (see the crate docs).
    pub fn from_db_with(db: sled::Db, prefix: &str, opts: SledOptions) -> Result<Self> {
        let tree = migrate::open_store(&db, prefix)?;
        Ok(SledRepo {
            tree,
            db,
            opts,
            gate: flush_gate::FlushGate::default(),
            group: group::Group::default(),
            sidecar: None,
            write_failed: std::sync::atomic::AtomicBool::new(false),
            alive: std::sync::Arc::new(()),
        })
    }

    /// The store's one tree (see the crate docs for its keys).
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The underlying database.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// How many flushes flush-on-write has made so far. Concurrent writers share flushes
    /// (group commit), so under load this grows slower than the number of writes.
    pub fn write_flushes(&self) -> Result<u64> {
        Ok(self.gate.flushes())
    }

    /// Writes everything to disk now (and records it in the commit sidecar). With
    /// [`SledOptions::flush_on_write`] the flush waits for running transactions and holds
    /// new ones back until it ends, as the writers' own flushes do (spacejam/sled#1308).
    pub async fn flush(&self) -> Result<()> {
        if self.opts.flush_on_write {
            let flushed = self.gate.flush_now(&self.db, || {
                // Exclusive side of the gate: no transaction since the flush.
                self.record_durable(self.commit_seq()?)
            });
            self.note_failure(&flushed);
            return flushed;
        }
        let seq = self.commit_seq()?;
        let flushed = self.db.flush_async().await.map_err(storage);
        self.note_failure(&flushed);
        flushed?;
        self.record_durable(seq)
    }

    /// Remembers a failed write or flush (the close then skips its flush).
    pub(crate) fn note_failure<T>(&self, r: &Result<T>) {
        if matches!(r, Err(enterprise_sso::Error::Storage { .. })) {
            self.write_failed
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// [`SledRepo::verify`] with the problem in words (kept for existing callers).
    pub fn verify_indexes(&self) -> std::result::Result<(), String> {
        self.verify().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};

    /// sled#1308: in flush-on-write mode no flush may overlap a transaction, the host's
    /// own `flush` included.
    #[test]
    fn a_host_flush_waits_for_a_running_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SledOptions {
            flush_on_write: true,
            ..SledOptions::default()
        };
        let repo = Arc::new(SledRepo::open_with(dir.path().join("db"), opts).unwrap());
        let (entered, is_in) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let r = Arc::clone(&repo);
        let tx = std::thread::spawn(move || {
            r.gated(|| {
                entered.send(()).unwrap();
                released.recv().unwrap();
                Ok(())
            })
        });
        is_in.recv().unwrap();
        let flushed = Arc::new(AtomicBool::new(false));
        let (r, done) = (Arc::clone(&repo), Arc::clone(&flushed));
        let flush = std::thread::spawn(move || {
            futures_executor::block_on(r.flush()).unwrap();
            done.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !flushed.load(Ordering::SeqCst),
            "the flush ran while a transaction was running"
        );
        release.send(()).unwrap();
        tx.join().unwrap().unwrap();
        flush.join().unwrap();
        assert!(flushed.load(Ordering::SeqCst));
    }
}
