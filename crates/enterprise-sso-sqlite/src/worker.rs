//! Threads that own SQLite connections and run jobs sent to them.
//!
//! SQLite calls block. Running them on the caller's executor would stall an async
//! runtime, and `spawn_blocking` would tie this crate to one runtime. Instead each
//! connection lives on its own OS thread; a call sends a closure over a channel and awaits
//! a oneshot reply, which works under any executor (tokio, async-std, smol, `block_on`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use futures_channel::oneshot;
use rusqlite::Connection;

use crate::error::SqliteError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A pool of threads, each owning one connection, fed from one queue.
pub(crate) struct Worker {
    tx: Option<mpsc::Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl Worker {
    pub(crate) fn spawn(name: &str, conns: Vec<Connection>) -> Result<Worker, SqliteError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(conns.len());
        for (i, mut conn) in conns.into_iter().enumerate() {
            let rx = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || loop {
                    let job = {
                        let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
                        guard.recv()
                    };
                    match job {
                        // A panicking job drops its reply sender (the caller sees
                        // `WorkerStopped`) but must not take the thread down with it.
                        Ok(job) => {
                            let _ = catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                        }
                        Err(_) => break,
                    }
                })?;
            handles.push(handle);
        }
        Ok(Worker {
            tx: Some(tx),
            handles,
        })
    }

    /// Runs `f` on one of the worker's connections and returns its result.
    pub(crate) async fn run<T, F>(&self, f: F) -> enterprise_sso::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> enterprise_sso::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.tx
            .as_ref()
            .ok_or(SqliteError::WorkerStopped)?
            .send(job)
            .map_err(|_| SqliteError::WorkerStopped)?;
        answer.await.map_err(|_| SqliteError::WorkerStopped)?
    }
}

impl Drop for Worker {
    /// Closes the queue and waits for the threads, so the connections are closed (and the
    /// WAL checkpointed by the last one) when the repository is dropped.
    fn drop(&mut self) {
        drop(self.tx.take());
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Connections used on the caller's thread, each behind a mutex.
pub(crate) struct InlinePool {
    conns: Vec<Mutex<Connection>>,
    next: std::sync::atomic::AtomicUsize,
}

impl InlinePool {
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        InlinePool {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn run<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> enterprise_sso::Result<T>,
    ) -> enterprise_sso::Result<T> {
        let n = self.conns.len();
        if n == 0 {
            return Err(SqliteError::WorkerStopped.into());
        }
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n;
        for i in 0..n {
            if let Ok(mut conn) = self.conns[(start + i) % n].try_lock() {
                return f(&mut conn);
            }
        }
        let mut conn = self.conns[start].lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }
}

/// Where SQLite calls run: on worker threads, or inline on the caller's thread.
pub(crate) enum Runner {
    Threads(Worker),
    Inline(InlinePool),
}

impl Runner {
    pub(crate) async fn run<T, F>(&self, f: F) -> enterprise_sso::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> enterprise_sso::Result<T> + Send + 'static,
    {
        match self {
            Runner::Threads(w) => w.run(f).await,
            Runner::Inline(p) => p.run(f),
        }
    }
}
