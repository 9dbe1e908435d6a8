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
//! SQLite calls block. By default ([`Execution::Threads`]) each connection lives on its
//! own OS thread: one writer, and a small pool of readers (2 by default). Async methods send
//! a job to the right thread and await a oneshot reply, so no executor thread ever blocks on
//! SQLite and the crate works under any async runtime. In WAL mode readers are never blocked
//! behind the writer: they see the last committed state. The hand-off costs tens of
//! microseconds per call on a small machine (see BENCHMARKS.md); [`Execution::Inline`] runs
//! calls on the caller's thread instead, for hosts that accept blocking briefly.
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
mod schema;
mod verify;
mod worker;

use std::path::Path;

use async_trait::async_trait;
use enterprise_sso::integrity::IntegrityError;
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, ConnectionId, ConnectionRepo, Domain,
    EnterpriseAccount, EnterpriseConnection, ListQuery, Page, Result,
};
use rusqlite::{Connection, OpenFlags};

pub use error::SqliteError;
pub use schema::{Durability, Execution, SqliteOptions, APPLICATION_ID, SCHEMA_VERSION};

use worker::{InlinePool, Runner, Worker};

/// [`ConnectionRepo`] on a SQLite database. Share it as `Arc<SqliteRepo>` or
/// `Arc<dyn ConnectionRepo>`; dropping the last handle closes the database.
pub struct SqliteRepo {
    // Field order matters: readers close before the writer, so the writer's close is the
    // last and checkpoints the WAL.
    readers: Option<Runner>,
    writer: Runner,
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
        schema::configure(&writer, &opts, true)?;
        schema::migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(opts.readers);
        for _ in 0..opts.readers {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(SqliteError::classify)?;
            schema::configure(&r, &opts, true)?;
            r.execute_batch("PRAGMA query_only = ON")
                .map_err(SqliteError::classify)?;
            readers.push(r);
        }
        let (readers, writer) = match opts.execution {
            Execution::Threads => (
                if readers.is_empty() {
                    None
                } else {
                    Some(Runner::Threads(Worker::spawn("sso-sqlite-read", readers)?))
                },
                Runner::Threads(Worker::spawn("sso-sqlite-write", vec![writer])?),
            ),
            Execution::Inline => (
                (!readers.is_empty()).then(|| Runner::Inline(InlinePool::new(readers))),
                Runner::Inline(InlinePool::new(vec![writer])),
            ),
        };
        Ok(SqliteRepo { readers, writer })
    }

    /// A private in-memory database (for tests). It has a single connection, so reads and
    /// writes share one thread; nothing is persisted.
    pub fn open_in_memory() -> std::result::Result<Self, SqliteError> {
        let mut conn = Connection::open_in_memory().map_err(SqliteError::classify)?;
        schema::configure(&conn, &SqliteOptions::default(), false)?;
        schema::migrate(&mut conn)?;
        Ok(SqliteRepo {
            readers: None,
            writer: Runner::Threads(Worker::spawn("sso-sqlite-mem", vec![conn])?),
        })
    }

    /// Stores many new connections in one transaction: all of them or none (for imports
    /// and benchmarks; the records must come from the core, e.g. [`enterprise_sso::build`]).
    pub async fn bulk_insert(&self, conns: &[EnterpriseConnection]) -> Result<()> {
        let rows = conns
            .iter()
            .map(connections::Row::new)
            .collect::<Result<Vec<_>>>()?;
        self.writer
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

    fn reader(&self) -> &Runner {
        self.readers.as_ref().unwrap_or(&self.writer)
    }
}

#[async_trait]
impl ConnectionRepo for SqliteRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let row = connections::Row::new(conn)?;
        self.writer.run(move |c| connections::insert(c, &row)).await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        let id = id.to_string();
        self.reader().run(move |c| connections::get(c, &id)).await
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let row = connections::Row::new(conn)?;
        self.writer
            .run(move |c| connections::update(c, &row, expected_version))
            .await
    }

    async fn delete(&self, id: &ConnectionId, now: i64) -> Result<bool> {
        let id = id.to_string();
        self.writer
            .run(move |c| connections::delete(c, &id, now))
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
        before_ms: i64,
    ) -> Result<Vec<EnterpriseConnection>> {
        self.reader()
            .run(move |c| connections::certificates_expiring_before(c, before_ms))
            .await
    }

    async fn count(&self, query: &ListQuery) -> Result<u64> {
        let q = query.clone();
        self.reader().run(move |c| connections::count(c, &q)).await
    }

    async fn events_after(
        &self,
        position: u64,
        limit: usize,
    ) -> Result<Vec<enterprise_sso::events::Event>> {
        self.reader()
            .run(move |c| events::after(c, position, limit))
            .await
    }

    async fn prune_events_before(&self, before_ms: i64) -> Result<u64> {
        self.writer.run(move |c| events::prune(c, before_ms)).await
    }
}

#[async_trait]
impl AccountRepo for SqliteRepo {
    async fn insert_account(&self, account: &EnterpriseAccount) -> Result<()> {
        let a = account.clone();
        self.writer.run(move |c| accounts::insert(c, &a)).await
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
        self.writer
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

    async fn delete_account(&self, id: &AccountId) -> Result<bool> {
        let id = id.to_string();
        self.writer.run(move |c| accounts::delete(c, &id)).await
    }
}
