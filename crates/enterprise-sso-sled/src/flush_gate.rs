//! The workaround for sled 0.34's flush/transaction deadlock (spacejam/sled#1308: a flush
//! racing concurrent transactions can stall every writer forever; 0.34.7 is the last
//! release and has no fix).
//!
//! In flush-on-write mode every transaction runs under the shared side of a gate, and a
//! flush takes the exclusive side, so a flush never overlaps a transaction: the batches'
//! own flushes (see `group`: one leader runs a batch's transaction, then its flush) and
//! the host's [`crate::SledRepo::flush`] alike.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use enterprise_sso::{Error, Result};

/// See the module docs.
#[derive(Default)]
pub(crate) struct FlushGate {
    gate: RwLock<()>,
    /// Flushes made for batches.
    flushes: AtomicU64,
}

fn poisoned() -> Error {
    Error::storage(std::io::Error::other("a sled writer panicked"))
}

impl FlushGate {
    /// Runs one transaction `f` under the shared side of the gate.
    pub(crate) fn transact<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _shared = self.gate.read().map_err(|_| poisoned())?;
        f()
    }

    /// A batch's flush (counted); see [`FlushGate::flush_now`].
    pub(crate) fn flush_batch(
        &self,
        db: &sled::Db,
        durable: impl Fn() -> Result<()>,
    ) -> Result<()> {
        self.flush_now(db, durable)?;
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Flushes on the exclusive side of the gate, so it waits for running transactions
    /// and none starts until it ends (also writes made on the `sled::Db` outside the
    /// gate). `durable` runs right after a successful flush, still on the exclusive side.
    pub(crate) fn flush_now(&self, db: &sled::Db, durable: impl Fn() -> Result<()>) -> Result<()> {
        let _exclusive = self.gate.write().map_err(|_| poisoned())?;
        db.flush().map_err(Error::storage).and_then(|_| durable())
    }

    /// How many flushes batches have made (each covers every write of its batch).
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}
