//! Group commit for flush-on-write, and the workaround for sled 0.34's flush/transaction
//! deadlock (spacejam/sled#1308: a flush racing concurrent multi-tree transactions can
//! stall every writer forever; 0.34.7 is the last release and has no fix).
//!
//! In flush-on-write mode every transaction runs under the shared side of a gate, and a
//! flush takes the exclusive side, so a flush never overlaps a transaction.
//!
//! Writers wait for durability *asynchronously*: a writer whose commit is not on disk yet
//! parks (its task yields its thread to the runtime) while a flush is running or another
//! writer is inside a transaction; both end on a thread that cannot be cancelled, and wake
//! the parked writers. A writer that finds neither becomes a candidate: it lets the
//! executor run every other ready task once (one self-wake), and flushes only if no
//! transaction committed meanwhile; otherwise it waits another turn. So with many
//! concurrent writers one flush (one `fsync`) covers every commit their tasks could make
//! before it, and a lone writer flushes at once (one turn of an otherwise idle executor).
//! Before, a writer waited on a condition variable and held its runtime thread: with two
//! worker threads no more than two writers could share a flush.

use std::future::poll_fn;
use std::sync::{Mutex, MutexGuard, RwLock};
use std::task::{Poll, Waker};

use enterprise_sso::{Error, Result};

#[derive(Default)]
struct State {
    /// Transactions committed under the gate.
    committed: u64,
    /// Commits known to be on disk.
    flushed: u64,
    /// A writer is flushing now.
    flushing: bool,
    /// Transactions running (or waiting for the gate) now.
    active: usize,
    /// Writers parked until a flush ends or no transaction is running.
    parked: Vec<Waker>,
    /// Flushes made for writers.
    flushes: u64,
}

impl State {
    fn wake_parked(&mut self) {
        for w in self.parked.drain(..) {
            w.wake();
        }
    }
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct FlushGate {
    gate: RwLock<()>,
    state: Mutex<State>,
}

fn poisoned() -> Error {
    Error::storage(std::io::Error::other("a sled writer panicked"))
}

/// Counts a running transaction; the drop (also on panic or error) uncounts it, counts
/// its commit if it made one, and wakes the parked writers when none is left, all under
/// one lock.
struct Active<'a> {
    gate: &'a FlushGate,
    committed: bool,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.gate.state.lock() {
            s.active -= 1;
            if self.committed {
                s.committed += 1;
            }
            if s.active == 0 {
                s.wake_parked();
            }
        }
    }
}

impl FlushGate {
    fn state(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Runs one transaction `f` under the shared side of the gate and counts its commit.
    pub(crate) fn transact<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.state()?.active += 1;
        let mut active = Active {
            gate: self,
            committed: false,
        };
        let out = {
            let _shared = self.gate.read().map_err(|_| poisoned())?;
            f()?
        };
        active.committed = true;
        drop(active);
        Ok(out)
    }

    /// Completes once everything committed before the call is on disk, flushing it or
    /// waiting (parked, see the module docs) for a flush that covers it.
    /// `durable` runs right after a successful flush, still on the exclusive side.
    pub(crate) async fn flush_committed(
        &self,
        db: &sled::Db,
        durable: impl Fn() -> Result<()>,
    ) -> Result<()> {
        let mine = self.state()?.committed;
        // The commit count this writer saw when it last offered to lead.
        let mut offered: Option<u64> = None;
        poll_fn(|cx| {
            let mut s = match self.state() {
                Ok(s) => s,
                Err(e) => return Poll::Ready(Err(e)),
            };
            loop {
                if s.flushed >= mine {
                    return Poll::Ready(Ok(()));
                }
                if s.flushing || s.active > 0 {
                    s.parked.push(cx.waker().clone());
                    offered = None;
                    return Poll::Pending;
                }
                if offered != Some(s.committed) {
                    // Let every other ready task run once before flushing.
                    offered = Some(s.committed);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                s.flushing = true;
                let target = s.committed;
                drop(s);
                let result = self.flush(db, &durable);
                s = match self.state() {
                    Ok(s) => s,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                s.flushing = false;
                if result.is_ok() {
                    s.flushed = s.flushed.max(target);
                    s.flushes += 1;
                }
                s.wake_parked();
                if let Err(e) = result {
                    return Poll::Ready(Err(e));
                }
            }
        })
        .await
    }

    /// Flushes now (a flush the host asked for: also writes made on the `sled::Db`
    /// outside the gate) on the exclusive side, so it waits for running transactions and
    /// none starts until it ends; counts every commit before it as flushed.
    pub(crate) fn flush_now(&self, db: &sled::Db, durable: impl Fn() -> Result<()>) -> Result<()> {
        // Commits made after this count are flushed too, only not counted as such.
        let target = self.state()?.committed;
        self.flush(db, &durable)?;
        let mut s = self.state()?;
        s.flushed = s.flushed.max(target);
        s.wake_parked();
        Ok(())
    }

    /// How many flushes writers have made (each covers every commit before it).
    pub(crate) fn flushes(&self) -> Result<u64> {
        Ok(self.state()?.flushes)
    }

    /// Flushes on the exclusive side of the gate (no transaction runs meanwhile).
    fn flush(&self, db: &sled::Db, durable: &impl Fn() -> Result<()>) -> Result<()> {
        let _exclusive = self.gate.write().map_err(|_| poisoned())?;
        db.flush().map_err(Error::storage).and_then(|_| durable())
    }
}
