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
