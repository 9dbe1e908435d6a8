//! Group commit for flush-on-write, and the workaround for sled 0.34's flush/transaction
//! deadlock (spacejam/sled#1308: a flush racing concurrent multi-tree transactions can
//! stall every writer forever; 0.34.7 is the last release and has no fix).
//!
//! In flush-on-write mode every transaction runs under the shared side of a gate, and a
//! flush takes the exclusive side, so a flush never overlaps a transaction. Writers that
//! wait for durability are batched: one of them flushes everything committed so far while
//! the others wait on a condition variable and return as soon as a flush that covers their
//! commit has finished (one `fsync` for many writers).

use std::sync::{Condvar, Mutex, RwLock};

use enterprise_sso::{Error, Result};

#[derive(Default)]
struct State {
    /// Transactions committed under the gate.
    committed: u64,
    /// Commits known to be on disk.
    flushed: u64,
    /// A writer is flushing now.
    flushing: bool,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct FlushGate {
    gate: RwLock<()>,
    state: Mutex<State>,
    done: Condvar,
}

fn poisoned() -> Error {
    Error::storage(std::io::Error::other("a sled writer panicked"))
}

impl FlushGate {
    /// Runs one transaction `f` under the shared side of the gate and counts its commit.
    pub(crate) fn transact<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _shared = self.gate.read().map_err(|_| poisoned())?;
        let out = f()?;
        self.state.lock().map_err(|_| poisoned())?.committed += 1;
        Ok(out)
    }

    /// Returns once everything committed before the call is on disk, flushing it or
    /// waiting for a flush that covers it.
    /// `durable` runs right after a successful flush, still on the exclusive side.
    pub(crate) fn flush_committed(
        &self,
        db: &sled::Db,
        durable: impl Fn() -> Result<()>,
    ) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        let mine = s.committed;
        loop {
            if s.flushed >= mine {
                return Ok(());
            }
            if s.flushing {
                s = self.done.wait(s).map_err(|_| poisoned())?;
                continue;
            }
            s.flushing = true;
            let target = s.committed;
            drop(s);
            let result = {
                let _exclusive = self.gate.write().map_err(|_| poisoned())?;
                db.flush().map_err(Error::storage).and_then(|_| durable())
            };
            s = self.state.lock().map_err(|_| poisoned())?;
            s.flushing = false;
            if result.is_ok() {
                s.flushed = s.flushed.max(target);
            }
            self.done.notify_all();
            result?;
        }
    }
}
