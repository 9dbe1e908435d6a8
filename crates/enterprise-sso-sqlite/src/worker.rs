//! Where SQLite calls run: reader threads, the writer thread (group commit), or the
//! caller's thread.
//!
//! SQLite calls block. Reads of this crate are single indexed statements over pages that
//! are usually cached, so by default they run on the caller's thread, each on a read
//! connection of its own taken from a pool (WAL: a reader never waits for the writer).
//! Writes wait for an fsync, so they go to the writer thread, which takes every write
//! waiting in its queue into one transaction (group commit): each write runs in its own
//! savepoint, so a refused write rolls back alone, and the batch pays one fsync.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use futures_channel::oneshot;
use rusqlite::Connection;

use crate::error::SqliteError;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Largest number of writes committed together.
pub(crate) const MAX_BATCH: usize = 256;

/// A pool of threads, each owning one connection, fed from one queue (reads in
/// [`crate::Execution::Threads`] mode).
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

/// Opens one more read connection (the pool grows to the number of concurrent callers).
pub(crate) type OpenReader = Box<dyn Fn() -> Result<Connection, SqliteError> + Send + Sync>;

/// Read connections used on the caller's thread: a caller takes an idle one (or opens a
/// new one when all are in use, so no caller ever waits for another) and gives it back.
/// At most `keep` idle connections are kept.
pub(crate) struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    open: OpenReader,
    keep: usize,
}

impl ReadPool {
    pub(crate) fn new(conns: Vec<Connection>, open: OpenReader, keep: usize) -> Self {
        ReadPool {
            idle: Mutex::new(conns),
            open,
            keep: keep.max(1),
        }
    }

    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> enterprise_sso::Result<T>,
    ) -> enterprise_sso::Result<T> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match taken {
            Some(c) => c,
            None => (self.open)()?,
        };
        let out = f(&mut conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
        out
    }
}

/// What a write job leaves behind after running in the batch: the reply, sent once the
/// batch's commit succeeded (or failed).
type Reply = Box<dyn FnOnce(Option<SqliteError>) + Send>;
/// A write: runs on the writer's connection inside the batch transaction, or is told the
/// transaction could not begin.
type WriteJob = Box<dyn FnOnce(Result<&mut Connection, SqliteError>) -> Reply + Send>;

fn write_job<T, F>(f: F) -> (WriteJob, oneshot::Receiver<enterprise_sso::Result<T>>)
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> enterprise_sso::Result<T> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: WriteJob = Box::new(move |conn| {
        let result = match conn {
            Ok(conn) => f(conn),
            Err(e) => Err(e.into()),
        };
        Box::new(move |commit_failed: Option<SqliteError>| {
            let result = match (result, commit_failed) {
                (Ok(_), Some(e)) => Err(e.into()),
                (r, _) => r,
            };
            let _ = reply.send(result);
        })
    });
    (job, answer)
}

/// The write connection and the `synchronous` level it owes: set when a relaxed batch
/// (see [`relax`]) could not restore the connection's level. Until it is paid, no durable
/// batch commits.
pub(crate) struct WriteConn {
    conn: Connection,
    owed: Option<i64>,
}

impl WriteConn {
    pub(crate) fn new(conn: Connection) -> WriteConn {
        WriteConn { conn, owed: None }
    }
}

/// Runs `jobs` in as few transactions as possible: `BEGIN IMMEDIATE`, each job (its own
/// savepoint), `COMMIT`, then the replies. When SQLite rolls the transaction back by
/// itself (disk full, I/O error), the jobs before get [`SqliteError::RolledBack`] and the
/// rest start a new transaction, so no reply ever claims a write that was lost.
fn commit_batch(w: &mut WriteConn, jobs: VecDeque<WriteJob>, durable: bool) {
    commit_batch_with(w, jobs, durable, |conn, level| {
        conn.execute_batch(&format!("PRAGMA synchronous = {level}"))
    });
}

/// [`commit_batch`] with the statement that sets the level (`set`; a test's can fail). A
/// connection left at NORMAL would weaken every later write, so a level that could not be
/// restored is owed: each batch tries it first, and a durable batch is refused
/// ([`SqliteError::SyncLevel`], nothing written) while it cannot be paid.
fn commit_batch_with(
    w: &mut WriteConn,
    jobs: VecDeque<WriteJob>,
    durable: bool,
    set: impl Fn(&Connection, i64) -> rusqlite::Result<()>,
) {
    if let Some(level) = w.owed {
        match set(&w.conn, level) {
            Ok(()) => w.owed = None,
            Err(e) if durable => {
                let e = Arc::new(e);
                for job in jobs {
                    let source = Arc::clone(&e);
                    let reply = job(Err(SqliteError::SyncLevel { level, source }));
                    reply(None);
                }
                return;
            }
            // A batch of pending requests may commit at NORMAL: that is what it asks.
            Err(_) => {}
        }
    }
    let restore = if durable || w.owed.is_some() {
        None
    } else {
        relax(&w.conn)
    };
    commit_jobs(&mut w.conn, jobs);
    if let Some(level) = restore {
        if set(&w.conn, level).is_err() {
            w.owed = Some(level);
        }
    }
}

/// For a batch of pending requests only ([`Writes::run_pending`]): commits without
/// waiting for the disk. With WAL, `synchronous = NORMAL` still commits atomically and in
/// order, visible at once to every reader and process; only a power loss or OS crash may
/// lose the batch, until the next `FULL` commit syncs the log with it. Returns the level
/// to restore, or `None` when the connection already syncs no more than that.
fn relax(conn: &Connection) -> Option<i64> {
    let level: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .ok()?;
    (level > 1 && conn.execute_batch("PRAGMA synchronous = NORMAL").is_ok()).then_some(level)
}

/// [`commit_batch`]'s transactions.
fn commit_jobs(conn: &mut Connection, mut jobs: VecDeque<WriteJob>) {
    while !jobs.is_empty() {
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let e = Arc::new(e);
            for job in jobs.drain(..) {
                let reply = job(Err(SqliteError::Begin(Arc::clone(&e))));
                reply(None);
            }
            return;
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(jobs.len());
        let mut rolled_back = false;
        while let Some(job) = jobs.pop_front() {
            // A panicking job drops its reply (the caller sees `WorkerStopped`); its
            // savepoint rolled back while unwinding.
            if let Ok(reply) = catch_unwind(AssertUnwindSafe(|| job(Ok(&mut *conn)))) {
                if conn.is_autocommit() {
                    // This job's error made SQLite roll back the whole transaction: its
                    // reply already carries that error; the earlier ones lost their work.
                    for r in replies.drain(..) {
                        r(Some(SqliteError::RolledBack));
                    }
                    reply(None);
                    rolled_back = true;
                    break;
                }
                replies.push(reply);
            }
        }
        if rolled_back {
            continue;
        }
        let outcome = conn.execute_batch("COMMIT").err().map(Arc::new);
        if outcome.is_some() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for r in replies {
            r(outcome.as_ref().map(|e| SqliteError::Commit(Arc::clone(e))));
        }
    }
}

/// The writer thread: owns the write connection and commits what is queued in batches.
pub(crate) struct Writer {
    tx: Option<mpsc::Sender<(WriteJob, bool)>>,
    handle: Option<JoinHandle<()>>,
    pub(crate) stats: Arc<BatchCounters>,
}

/// How many batches the writer committed and how many writes they held.
#[derive(Default)]
pub(crate) struct BatchCounters {
    pub(crate) batches: std::sync::atomic::AtomicU64,
    pub(crate) writes: std::sync::atomic::AtomicU64,
    /// Writes sent and not yet answered (queued or in the running batch).
    pub(crate) pending: std::sync::atomic::AtomicUsize,
    /// Writes in the latest batch.
    pub(crate) last_batch: std::sync::atomic::AtomicUsize,
}

impl Writer {
    pub(crate) fn spawn(name: &str, conn: Connection) -> Result<Writer, SqliteError> {
        let mut conn = WriteConn::new(conn);
        let (tx, rx) = mpsc::channel::<(WriteJob, bool)>();
        let stats = Arc::new(BatchCounters::default());
        let counters = Arc::clone(&stats);
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Ok((first, mut durable)) = rx.recv() {
                    let mut batch = VecDeque::from([first]);
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok((job, d)) => {
                                // One durable write makes the whole batch durable.
                                durable |= d;
                                batch.push_back(job);
                            }
                            Err(_) => break,
                        }
                    }
                    let relaxed = std::sync::atomic::Ordering::Relaxed;
                    counters.batches.fetch_add(1, relaxed);
                    counters.writes.fetch_add(batch.len() as u64, relaxed);
                    counters.last_batch.store(batch.len(), relaxed);
                    commit_batch(&mut conn, batch, durable);
                }
            })?;
        Ok(Writer {
            tx: Some(tx),
            handle: Some(handle),
            stats,
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Where writes run.
pub(crate) enum Writes {
    /// On the writer thread, group-committed.
    Thread(Writer),
    /// On the caller's thread, one transaction per write, behind a mutex.
    Inline(Mutex<WriteConn>),
}

impl Writes {
    /// Runs the write `f` in its own savepoint of a write transaction and answers once the
    /// transaction committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> enterprise_sso::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> enterprise_sso::Result<T> + Send + 'static,
    {
        self.run_with(f, true).await
    }

    /// [`Writes::run`] for a write a crash may lose (`SignInStore::commit_pending`): a
    /// batch of nothing else commits without waiting for the disk (see [`relax`]).
    pub(crate) async fn run_pending<T, F>(&self, f: F) -> enterprise_sso::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> enterprise_sso::Result<T> + Send + 'static,
    {
        self.run_with(f, false).await
    }

    async fn run_with<T, F>(&self, f: F, durable: bool) -> enterprise_sso::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> enterprise_sso::Result<T> + Send + 'static,
    {
        let (job, answer) = write_job(f);
        match self {
            Writes::Thread(w) => {
                // Counted until just before its reply is sent (or the job is dropped), so a
                // caller woken by the reply never finds its own write still counted.
                let pending = Pending::count(&w.stats);
                let job: WriteJob = Box::new(move |conn| {
                    let reply = job(conn);
                    Box::new(move |outcome| {
                        drop(pending);
                        reply(outcome)
                    })
                });
                w.tx.as_ref()
                    .ok_or(SqliteError::WorkerStopped)?
                    .send((job, durable))
                    .map_err(|_| SqliteError::WorkerStopped)?;
            }
            Writes::Inline(conn) => {
                {
                    let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
                    commit_batch(&mut conn, VecDeque::from([job]), durable);
                }
                YieldEvery::tick().await;
            }
        }
        answer.await.map_err(|_| SqliteError::WorkerStopped)?
    }
}

/// One write counted in [`BatchCounters::pending`] while it lives.
struct Pending(Arc<BatchCounters>);

impl Pending {
    fn count(stats: &Arc<BatchCounters>) -> Pending {
        stats
            .pending
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Pending(Arc::clone(stats))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0
            .pending
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Writes {
    /// Whether writers are concurrent now: the writer thread has writes waiting or running,
    /// or its latest batch held more than one (between two batches of concurrent writers
    /// the queue is briefly empty); inline, another caller holds the write connection.
    pub(crate) fn busy(&self) -> bool {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        match self {
            Writes::Thread(w) => {
                w.stats.pending.load(relaxed) > 0 || w.stats.last_batch.load(relaxed) > 1
            }
            Writes::Inline(conn) => conn.try_lock().is_err(),
        }
    }
}

/// Where reads run.
pub(crate) enum Reads {
    /// On the caller's thread, from a pool of read connections.
    Inline(ReadPool),
    /// On reader threads.
    Threads(Worker),
    /// On the writer (an in-memory database, or no read connections configured).
    Writer,
}

/// Calls that complete without ever waiting never give the async runtime a turn; a task
/// looping over them would starve timers and other tasks on its thread. Every
/// [`YIELD_EVERY`]th inline call on a thread therefore yields once (wakes itself and
/// returns `Pending`), which works under any executor.
pub(crate) struct YieldEvery {
    yielded: bool,
}

/// How many inline calls a thread runs between two yields.
pub(crate) const YIELD_EVERY: u32 = 4;

thread_local! {
    static INLINE_CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl YieldEvery {
    /// Counts one inline call; the returned future yields once if this call is due.
    pub(crate) fn tick() -> YieldEvery {
        let due = INLINE_CALLS.with(|n| {
            let v = n.get().wrapping_add(1);
            n.set(v);
            v % YIELD_EVERY == 0
        });
        YieldEvery { yielded: !due }
    }
}

impl Future for YieldEvery {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, std::path::PathBuf, WriteConn) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let c = Connection::open(&path).expect("open");
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL);")
            .expect("schema");
        (dir, path, WriteConn::new(c))
    }

    impl std::ops::Deref for WriteConn {
        type Target = Connection;
        fn deref(&self) -> &Connection {
            &self.conn
        }
    }

    fn insert(k: &'static str) -> impl FnOnce(&mut Connection) -> enterprise_sso::Result<()> {
        move |c| {
            let sp = c.savepoint().map_err(crate::error::storage)?;
            sp.execute("INSERT INTO t VALUES (?1)", [k])
                .map_err(crate::error::storage)?;
            sp.commit().map_err(crate::error::storage)
        }
    }

    fn rows(path: &std::path::Path) -> Vec<String> {
        let c = Connection::open(path).expect("open");
        let mut st = c.prepare("SELECT k FROM t ORDER BY k").expect("prepare");
        let out = st
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<Vec<String>>>()
            .expect("rows");
        out
    }

    /// The connection's `synchronous` level (1 = NORMAL, 2 = FULL).
    fn level(c: &Connection) -> i64 {
        c.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("level")
    }

    /// A write of row `k` that notes the level it ran at in `seen`.
    fn probe(
        k: &'static str,
        seen: &Arc<Mutex<Vec<i64>>>,
    ) -> (WriteJob, oneshot::Receiver<enterprise_sso::Result<()>>) {
        let seen = Arc::clone(seen);
        write_job(move |c: &mut Connection| -> enterprise_sso::Result<()> {
            seen.lock().expect("lock").push(level(c));
            insert(k)(c)
        })
    }

    /// A write of a pending request commits at `synchronous = NORMAL` (no wait for the
    /// disk) and leaves the connection as it found it; a batch with a durable write in it
    /// stays at FULL; a connection already at NORMAL is left alone.
    #[test]
    fn a_pending_batch_commits_at_normal_and_restores_the_level() {
        let (_dir, path, mut conn) = db();
        conn.execute_batch("PRAGMA synchronous = FULL")
            .expect("full");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, ra) = probe("a", &seen);
        commit_batch(&mut conn, VecDeque::from([a]), false);
        let (b, rb) = probe("b", &seen);
        commit_batch(&mut conn, VecDeque::from([b]), true);
        let block = futures_executor::block_on;
        assert!(block(ra).expect("reply").is_ok() && block(rb).expect("reply").is_ok());
        // 1 = NORMAL while the pending batch ran, 2 = FULL for the durable one.
        assert_eq!(*seen.lock().expect("lock"), [1, 2]);
        assert_eq!(level(&conn), 2, "the connection syncs fully again");
        assert_eq!(rows(&path), ["a", "b"]);
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .expect("normal");
        let (c, rc) = probe("c", &seen);
        commit_batch(&mut conn, VecDeque::from([c]), false);
        assert!(block(rc).expect("reply").is_ok());
        assert_eq!(level(&conn), 1, "a connection at NORMAL stays there");
    }

    /// When the level cannot be set back after a pending batch, the connection owes it:
    /// a durable batch is refused (nothing written, a typed error) until a later batch
    /// sets it, and is never committed at NORMAL.
    #[test]
    fn a_level_not_restored_is_owed_and_refuses_durable_writes_until_paid() {
        let (_dir, path, mut conn) = db();
        conn.execute_batch("PRAGMA synchronous = FULL")
            .expect("full");
        let fail = |_: &Connection, _: i64| Err(rusqlite::Error::InvalidQuery);
        let set = |c: &Connection, l: i64| c.execute_batch(&format!("PRAGMA synchronous = {l}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let block = futures_executor::block_on;
        let (a, ra) = probe("a", &seen);
        commit_batch_with(&mut conn, VecDeque::from([a]), false, fail);
        assert!(block(ra).expect("reply").is_ok());
        assert_eq!(level(&conn), 1, "the restore failed");
        // Durable, and the level still cannot be set: refused, nothing written.
        let (b, rb) = probe("b", &seen);
        commit_batch_with(&mut conn, VecDeque::from([b]), true, fail);
        let refused = block(rb).expect("reply").expect_err("refused");
        assert!(refused.to_string().contains("synchronous = 2"), "{refused}");
        // Another pending batch may still run (at NORMAL).
        let (c, rc) = probe("c", &seen);
        commit_batch_with(&mut conn, VecDeque::from([c]), false, fail);
        assert!(block(rc).expect("reply").is_ok());
        // Once the level can be set, it is paid first and the durable write runs at FULL.
        let (d, rd) = probe("d", &seen);
        commit_batch_with(&mut conn, VecDeque::from([d]), true, set);
        assert!(block(rd).expect("reply").is_ok());
        assert_eq!(*seen.lock().expect("lock"), [1, 1, 2]);
        assert_eq!(level(&conn), 2);
        assert_eq!(rows(&path), ["a", "c", "d"]);
        assert!(conn.owed.is_none());
    }

    #[test]
    fn a_batch_is_one_transaction_and_a_refused_write_rolls_back_alone() {
        let (_dir, path, mut conn) = db();
        let seen_before_commit = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&seen_before_commit);
        let probe = path.clone();
        let (a, ra) = write_job(insert("a"));
        // Writes "b" and then fails: its savepoint must roll back, "a" and "c" stay.
        let (b, rb) = write_job(|c: &mut Connection| -> enterprise_sso::Result<()> {
            let sp = c.savepoint().map_err(crate::error::storage)?;
            sp.execute("INSERT INTO t VALUES ('b')", [])
                .map_err(crate::error::storage)?;
            sp.execute("INSERT INTO t VALUES ('a')", [])
                .map_err(crate::error::storage)?;
            sp.commit().map_err(crate::error::storage)
        });
        let (c, rc) = write_job(move |c: &mut Connection| -> enterprise_sso::Result<()> {
            insert("c")(c)?;
            // Another connection does not see "a" yet: the batch has not committed.
            *seen.lock().expect("lock") = Some(rows(&probe));
            Ok(())
        });
        commit_batch(&mut conn, VecDeque::from([a, b, c]), true);
        let block = futures_executor::block_on;
        assert!(block(ra).expect("reply").is_ok());
        assert!(block(rb).expect("reply").is_err());
        assert!(block(rc).expect("reply").is_ok());
        assert_eq!(
            seen_before_commit.lock().expect("lock").clone(),
            Some(vec![])
        );
        assert_eq!(rows(&path), ["a", "c"]);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_transaction_sqlite_rolled_back_fails_the_writes_before_and_not_after() {
        let (_dir, path, mut conn) = db();
        let (a, ra) = write_job(insert("a"));
        // Stands in for a disk-full error: SQLite ends the transaction on its own.
        let (b, rb) = write_job(|c: &mut Connection| -> enterprise_sso::Result<()> {
            c.execute_batch("ROLLBACK").map_err(crate::error::storage)?;
            Err(SqliteError::WorkerStopped.into())
        });
        let (c, rc) = write_job(insert("c"));
        commit_batch(&mut conn, VecDeque::from([a, b, c]), true);
        let block = futures_executor::block_on;
        let ra = block(ra).expect("reply");
        assert!(
            ra.as_ref()
                .is_err_and(|e| e.to_string().contains("rolled back")),
            "{ra:?}"
        );
        assert!(block(rb).expect("reply").is_err());
        assert!(block(rc).expect("reply").is_ok());
        assert_eq!(rows(&path), ["c"]);
    }

    #[test]
    fn a_failed_commit_fails_every_write_of_the_batch() {
        let (_dir, path, mut conn) = db();
        // A deferred foreign key fails only at COMMIT.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p (id TEXT PRIMARY KEY);
             CREATE TABLE ch (p TEXT REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .expect("schema");
        let (a, ra) = write_job(insert("a"));
        let (b, rb) = write_job(|c: &mut Connection| -> enterprise_sso::Result<()> {
            c.execute("INSERT INTO ch VALUES ('missing')", [])
                .map(drop)
                .map_err(crate::error::storage)
        });
        commit_batch(&mut conn, VecDeque::from([a, b]), true);
        let block = futures_executor::block_on;
        assert!(block(ra).expect("reply").is_err());
        assert!(block(rb).expect("reply").is_err());
        assert!(rows(&path).is_empty());
        assert!(conn.is_autocommit());
    }

    #[test]
    fn inline_calls_yield_to_the_executor_now_and_then() {
        use std::task::Wake;
        struct Count(std::sync::atomic::AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(0.into()));
        let waker = std::task::Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let mut pending = 0;
        for _ in 0..(YIELD_EVERY * 4) {
            let mut f = YieldEvery::tick();
            if Pin::new(&mut f).poll(&mut cx).is_pending() {
                pending += 1;
                assert!(Pin::new(&mut f).poll(&mut cx).is_ready());
            }
        }
        assert_eq!(pending, 4);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 4);
    }
}
