//! # enterprise-sso-sqlite
//!
//! A durable, indexed, concurrent [`ConnectionRepo`] on SQLite (rusqlite with the bundled
//! SQLite, so a machine needs no system library).
//!
//! ```
//! use enterprise_sso::{Connections, CreateConnection, Provider};
//! use enterprise_sso_sqlite::SqliteRepo;
//! # futures_executor::block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let svc = Connections::new(SqliteRepo::open(dir.path().join("sso.db")).unwrap());
//! let conn = svc.create(&CreateConnection::new(Provider::SamlCustom, "Acme")).await.unwrap();
//! assert_eq!(svc.get(&conn.id).await.unwrap(), conn);
//! # });
//! ```
//!
//! ## Threads and async
//!
//! SQLite calls block; [`Execution`] says where they run. By default
//! ([`Execution::ReadsInline`]) a read runs on the caller's thread on a read connection of
//! its own from a pool (WAL: it never waits for the writer; it blocks its thread for one
//! indexed statement, microseconds when the pages are cached), and a write goes to the
//! writer thread, which commits every write waiting in its queue in one transaction
//! (group commit: one fsync per batch, each write in its own savepoint so a refused write
//! rolls back alone, and no reply before the commit). Calls that complete without waiting
//! yield to the executor every few calls, so a loop of reads cannot starve a runtime's
//! timers. [`Execution::Threads`] also hands reads to threads (async callers never block,
//! a hand-off per read); [`Execution::Inline`] runs writes on the caller's thread too.
//! The futures work under any executor (tokio, async-std, smol, `block_on`).
//!
//! ## Durability
//!
//! WAL journal, `foreign_keys = ON`, a 5 s busy timeout, and by default
//! `synchronous = FULL`: when a write returns it is on disk and survives a process crash or
//! power loss. [`Durability::Normal`] trades the last writes before a power loss for speed
//! (still safe against a process crash).
//!
//! ## Schema
//!
//! Versioned migrations keyed on `PRAGMA user_version`, marked with
//! `PRAGMA application_id` = `ESSO`. Re-opening is a no-op; a file written by a newer schema,
//! a file that is not SQLite, and a SQLite database of another application are all refused
//! with a [`SqliteError`] before anything is written. Records are stored with the core's
//! storage codec; the columns beside them exist for the indexes: every query is an index
//! search (a test checks `EXPLAIN QUERY PLAN` for each).

mod accounts;
mod connections;
mod error;
mod events;
mod savepoint;
mod schema;
mod sign_ins;
mod verify;
mod worker;

use enterprise_sso::UnixMillis;
use std::path::Path;

use async_trait::async_trait;
use enterprise_sso::storage::IntegrityError;
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, Change, ConnectionId, ConnectionRepo,
    Domain, EnterpriseAccount, EnterpriseConnection, EventFeed, ListQuery, Page, Result,
};
use rusqlite::{Connection, OpenFlags};

pub use error::SqliteError;
pub use schema::{Durability, Execution, SqliteOptions, APPLICATION_ID, SCHEMA_VERSION};

use worker::{OpenReader, ReadPool, Reads, Worker, Writer, Writes, YieldEvery};

/// [`ConnectionRepo`] on a SQLite database. Share it as `Arc<SqliteRepo>` or
/// `Arc<dyn ConnectionRepo>`; dropping the last handle closes the database.
pub struct SqliteRepo {
    // Field order matters: readers close before the writer, so the writer's close is the
    // last and checkpoints the WAL.
    reads: Reads,
    writes: Writes,
}

impl std::fmt::Debug for SqliteRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteRepo").finish_non_exhaustive()
    }
}

impl SqliteRepo {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> std::result::Result<Self, SqliteError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the database at `path`.
    pub fn open_with(
        path: impl AsRef<Path>,
        opts: SqliteOptions,
    ) -> std::result::Result<Self, SqliteError> {
        let path = path.as_ref();
        if opts.owner_only_files {
            schema::create_owner_only(path).map_err(SqliteError::CreateFile)?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut writer = Connection::open_with_flags(path, flags).map_err(SqliteError::classify)?;
        // The WAL switch and the migrations need locks another process opening the same
        // file may hold; both are retried within the busy timeout.
        schema::retry_busy(opts.busy_timeout, || {
            schema::configure(&writer, &opts, true)
        })?;
        schema::retry_busy(opts.busy_timeout, || schema::migrate(&mut writer))?;
        let open_reader: OpenReader = {
            let (path, opts) = (path.to_owned(), opts.clone());
            Box::new(move || {
                let r = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(SqliteError::classify)?;
                schema::retry_busy(opts.busy_timeout, || schema::configure(&r, &opts, true))?;
                r.execute_batch("PRAGMA query_only = ON")
                    .map_err(SqliteError::classify)?;
                Ok(r)
            })
        };
        let readers = (0..opts.readers)
            .map(|_| open_reader())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let reads = match (opts.execution, readers.is_empty()) {
            (_, true) => Reads::Writer,
            (Execution::Threads, false) => {
                Reads::Threads(Worker::spawn("sso-sqlite-read", readers)?)
            }
            (Execution::ReadsInline | Execution::Inline, false) => {
                let keep = readers.len();
                Reads::Inline(ReadPool::new(readers, open_reader, keep))
            }
        };
        let writes = match opts.execution {
            Execution::Inline => {
                Writes::Inline(std::sync::Mutex::new(worker::WriteConn::new(writer)))
            }
            Execution::ReadsInline | Execution::Threads => {
                Writes::Thread(Writer::spawn("sso-sqlite-write", writer)?)
            }
        };
        Ok(SqliteRepo { reads, writes })
    }

    /// A private in-memory database (for tests). It has a single connection, so reads and
    /// writes share one thread; nothing is persisted.
    pub fn open_in_memory() -> std::result::Result<Self, SqliteError> {
        let mut conn = Connection::open_in_memory().map_err(SqliteError::classify)?;
        schema::configure(&conn, &SqliteOptions::default(), false)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteRepo {
            reads: Reads::Writer,
            writes: Writes::Thread(Writer::spawn("sso-sqlite-mem", conn)?),
        })
    }

    /// Stores many new connections in one transaction: all of them or none (for imports
    /// and benchmarks; the records must come from the core, e.g. [`enterprise_sso::build`]).
    pub async fn bulk_insert(&self, conns: &[EnterpriseConnection]) -> Result<()> {
        let rows = conns
            .iter()
            .map(connections::Row::new)
            .collect::<Result<Vec<_>>>()?;
        self.writes
            .run(move |c| connections::insert_many(c, &rows))
            .await
    }

    /// Checks the whole database: SQLite's `PRAGMA integrity_check`, every record's
    /// checksum and key, the indexed columns and the domain table against the records, and
    /// that every linked account's connection exists. Returns the first problem found.
    pub async fn verify(&self) -> std::result::Result<(), IntegrityError> {
        self.reader()
            .run(|c| Ok(verify::verify(c)))
            .await
            .map_err(|e| IntegrityError::Engine(e.to_string()))?
    }

    /// How the writer thread grouped the writes so far (zeros with
    /// [`Execution::Inline`], where each write commits alone).
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        match &self.writes {
            Writes::Thread(w) => {
                let relaxed = std::sync::atomic::Ordering::Relaxed;
                GroupCommitStats {
                    transactions: w.stats.batches.load(relaxed),
                    writes: w.stats.writes.load(relaxed),
                }
            }
            Writes::Inline(_) => GroupCommitStats::default(),
        }
    }

    /// The writer's half of `modify` (see [`connections::modify`]).
    async fn apply(
        &self,
        id: &ConnectionId,
        change: Change,
        prepared: Option<connections::Prepared>,
    ) -> Result<EnterpriseConnection> {
        let id = id.clone();
        self.writes
            .run(move |c| connections::modify(c, &id, &change, prepared))
            .await
    }

    /// Runs the read `f` where this repository's reads run.
    fn reader(&self) -> ReadRunner<'_> {
        ReadRunner(self)
    }
}

/// Counters of the writer thread's group commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed (one fsync each with [`Durability::Full`]).
    pub transactions: u64,
    /// Writes (and reads sent to the writer) they held.
    pub writes: u64,
}

/// Runs reads where the options say (see [`Execution`]).
struct ReadRunner<'a>(&'a SqliteRepo);

impl ReadRunner<'_> {
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        match &self.0.reads {
            Reads::Inline(pool) => {
                let out = pool.run(f);
                YieldEvery::tick().await;
                out
            }
            Reads::Threads(w) => w.run(f).await,
            Reads::Writer => self.0.writes.run(f).await,
        }
    }
}

#[async_trait]
impl ConnectionRepo for SqliteRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let row = connections::Row::new(conn)?;
        self.writes.run(move |c| connections::insert(c, &row)).await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        let id = id.to_string();
        self.reader().run(move |c| connections::get(c, &id)).await
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let row = connections::Row::new(conn)?;
        self.writes
            .run(move |c| connections::update(c, &row, expected_version))
            .await
    }

    /// With reads on the caller's thread (the default) and other writes waiting or running,
    /// the change is computed on the caller from a snapshot read, and the writer thread
    /// only checks the version and writes, so the merge, validation and encoding of
    /// concurrent callers run in parallel, outside the writer's serial batch. If the row
    /// changed since the snapshot, the writer reads, changes and writes again in its batch
    /// transaction: writers of one handle never see a version conflict. With the writer
    /// idle, the writer does all of it (a snapshot read first would only add latency).
    async fn modify(&self, id: &ConnectionId, change: Change) -> Result<EnterpriseConnection> {
        match &self.reads {
            Reads::Inline(_) if !self.writes.busy() => self.apply(id, change, None).await,
            Reads::Inline(pool) => {
                let answer = match pool.run(|c| connections::prepare_modify(c, id, &change)) {
                    Ok(connections::Snapshot::Write(p)) => {
                        return self.apply(id, change, Some(*p)).await
                    }
                    Ok(connections::Snapshot::Unchanged(next)) => Ok(*next),
                    Err(e) => Err(e),
                };
                YieldEvery::tick().await;
                answer
            }
            Reads::Threads(_) | Reads::Writer => self.apply(id, change, None).await,
        }
    }

    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        let id = id.to_string();
        self.writes
            .run(move |c| connections::delete(c, &id, now.get()))
            .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let q = query.clone();
        self.reader().run(move |c| connections::list(c, &q)).await
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        let d = domain.as_str().to_owned();
        self.reader()
            .run(move |c| connections::find_by_domain(c, &d))
            .await
    }

    async fn certificates_expiring_before(
        &self,
        before: UnixMillis,
    ) -> Result<Vec<EnterpriseConnection>> {
        self.reader()
            .run(move |c| connections::certificates_expiring_before(c, before.get()))
            .await
    }

    async fn count(&self, query: &ListQuery) -> Result<u64> {
        let q = query.clone();
        self.reader().run(move |c| connections::count(c, &q)).await
    }
}

#[async_trait]
impl EventFeed for SqliteRepo {
    async fn events_after(&self, position: u64, limit: usize) -> Result<enterprise_sso::FeedPage> {
        self.reader()
            .run(move |c| events::after(c, position, limit))
            .await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        self.writes
            .run(move |c| events::prune(c, before.get()))
            .await
    }
    async fn append_events(&self, evs: &[enterprise_sso::events::Event]) -> Result<()> {
        let evs = evs.to_vec();
        self.writes
            .run(move |c| {
                let tx = savepoint::Savepoint::begin(c)?;
                events::append(&tx, evs)?;
                tx.commit()
            })
            .await
    }
}

#[async_trait]
impl AccountRepo for SqliteRepo {
    async fn insert_account(&self, account: &EnterpriseAccount) -> Result<()> {
        let a = account.clone();
        self.writes.run(move |c| accounts::insert(c, &a)).await
    }

    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        let id = id.to_string();
        self.reader().run(move |c| accounts::get(c, &id)).await
    }

    async fn update_account(
        &self,
        account: &EnterpriseAccount,
        expected_version: u64,
    ) -> Result<()> {
        let a = account.clone();
        self.writes
            .run(move |c| accounts::update(c, &a, expected_version))
            .await
    }

    async fn find_account_by_subject(
        &self,
        connection: &ConnectionId,
        provider_user_id: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        let (conn_id, subject) = (connection.to_string(), provider_user_id.to_owned());
        self.reader()
            .run(move |c| accounts::by_subject(c, &conn_id, &subject))
            .await
    }

    async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        let email = email.to_owned();
        self.reader()
            .run(move |c| accounts::by_email(c, &email))
            .await
    }

    async fn list_accounts(
        &self,
        connection: &ConnectionId,
        query: &AccountQuery,
    ) -> Result<AccountPage> {
        let (conn_id, q) = (connection.to_string(), query.clone());
        self.reader()
            .run(move |c| accounts::list(c, &conn_id, &q))
            .await
    }

    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool> {
        let id = id.to_string();
        self.writes
            .run(move |c| accounts::delete(c, &id, now.get()))
            .await
    }
}
