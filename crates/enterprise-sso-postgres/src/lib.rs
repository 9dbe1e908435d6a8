//! # enterprise-sso-postgres
//!
//! PostgreSQL storage for [`enterprise_sso`]: [`PostgresRepo`] implements
//! [`ConnectionRepo`] and [`AccountRepo`] (so [`enterprise_sso::Store`]) on a server that
//! every replica of a host service shares. Storage only: the merge rules and validation
//! stay in the core.
//!
//! - Client: `tokio-postgres` behind a `deadpool-postgres` pool, prepared statements cached
//!   per connection. Calls made inside a tokio runtime run there; calls from any other
//!   executor run on a small shared runtime (see [`runtime`]).
//! - Schema: tables in their own schema (default `enterprise_sso`), created and migrated on
//!   open under an advisory lock, one transaction per migration; a schema newer than this
//!   build is refused ([`PostgresError::SchemaTooNew`]) before anything is written.
//! - Records: the core codec's bytes (`bytea`), the same bytes every adapter stores, beside
//!   the columns the queries filter and order on. The codec owns the format (its tag, old
//!   records, and whatever it adds later) in one place; JSONB would re-encode the record in
//!   a second format that only this adapter reads, to serve queries the indexed columns
//!   already serve.
//! - Writes: one statement or one transaction each. Update is a compare-and-swap on the
//!   version; a domain is claimed by the primary key of `connection_domains`, one claim
//!   across every replica; deleting a connection unlinks and deactivates its accounts in
//!   the same transaction. Serialization failures and deadlocks are retried
//!   ([`PostgresOptions::max_retries`]); any other server or connection error is
//!   [`enterprise_sso::Error::Storage`] with the driver's error as its source.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use enterprise_sso::Connections;
//! use enterprise_sso_postgres::PostgresRepo;
//! let repo = PostgresRepo::connect("postgres://app@db.internal/app").await?;
//! let svc = Connections::new(repo);
//! # Ok(()) }
//! ```

mod accounts;
mod connections;
mod error;
mod events;
#[cfg(test)]
mod feed_tests;
mod options;
mod pipelined;
#[cfg(test)]
mod plan_tests;
pub mod runtime;
mod schema;
mod sign_ins;
mod sql;
#[cfg(test)]
mod test_server;
mod verify;

use enterprise_sso::UnixMillis;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use enterprise_sso::{
    AccountId, AccountPage, AccountQuery, AccountRepo, Change, ConnectionId, ConnectionRepo,
    Domain, EnterpriseAccount, EnterpriseConnection, EventFeed, ListQuery, Page, Result,
};

pub use error::PostgresError;
pub use options::PostgresOptions;
pub use schema::SCHEMA_VERSION;

/// A PostgreSQL store. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PostgresRepo {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PostgresRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL (with its password) is never kept, let alone printed.
        f.debug_struct("PostgresRepo")
            .field("schema", &self.inner.sql.schema)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pool: Pool,
    sql: sql::Sql,
    sign_ins: sign_ins::Statements,
    max_retries: usize,
    /// The advisory lock under which readers place events (see `events`).
    feed_lock: i64,
}

impl Inner {
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(error::pool)
    }

    /// Runs `op` again while it fails with an error [`error::is_retryable`] names, at most
    /// `max_retries` more times.
    async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if error::is_retryable(&e) && attempt < self.max_retries => attempt += 1,
                other => return other,
            }
        }
    }
}

impl PostgresRepo {
    /// Connects to the server at `url` (`postgres://user:password@host:port/database`) with
    /// the default [`PostgresOptions`], and creates or migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, PostgresError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// [`PostgresRepo::connect`] with options. Connecting gives up after
    /// [`PostgresOptions::connect_timeout`] with [`PostgresError::Timeout`] or
    /// [`PostgresError::Unreachable`]; a refused password is
    /// [`PostgresError::Authentication`], a missing database
    /// [`PostgresError::DatabaseMissing`].
    pub async fn connect_with(url: &str, opts: PostgresOptions) -> Result<Self, PostgresError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|source| PostgresError::InvalidUrl { source })?;
        config.connect_timeout(opts.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("enterprise-sso");
        }
        // Generic plans for the prepared statements: with PostgreSQL's default (`auto`) the
        // server kept choosing a custom plan for the update statement and planned it again
        // on every execution (~0.55 ms of each update's ~0.6 ms bind here).
        let generic = "-c plan_cache_mode=force_generic_plan";
        let options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {generic}"),
            _ => generic.to_owned(),
        };
        config.options(&options);
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            // The most recently used connection first: its server process and caches are
            // warm (FIFO, deadpool's default, rotates through every idle connection and
            // cost ~60 µs per call here; see BENCHMARKS.md).
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .wait_timeout(Some(opts.connect_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| PostgresError::Runtime(runtime::RuntimeError::Pool(e.to_string())))?;
        Self::from_pool(pool, opts).await
    }

    /// A store over a pool the host already has (its size and timeouts are the host's;
    /// `pool_size` and `connect_timeout` of `opts` are not used). Creates or migrates the
    /// schema.
    pub async fn from_pool(pool: Pool, opts: PostgresOptions) -> Result<Self, PostgresError> {
        if !options::valid_schema(&opts.schema) {
            return Err(PostgresError::InvalidSchemaName);
        }
        let schema = opts.schema.clone();
        let migrated = pool.clone();
        runtime::run(async move {
            let mut client = migrated.get().await.map_err(PostgresError::pool)?;
            schema::migrate(&mut client, &schema).await
        })
        .await
        .map_err(PostgresError::Runtime)??;
        Ok(PostgresRepo {
            inner: Arc::new(Inner {
                pool,
                sql: sql::Sql::new(&opts.schema),
                sign_ins: sign_ins::Statements::new(&opts.schema),
                max_retries: opts.max_retries,
                feed_lock: schema::lock_key("feed", &opts.schema),
            }),
        })
    }

    /// Checks the whole store: every record's checksum and key, the indexed columns and
    /// the domain table against the records, and that every linked account's connection
    /// exists (one read-only snapshot). Returns the first problem found. The server's own
    /// page checks are PostgreSQL's (`data_checksums`, `amcheck`).
    pub async fn verify(&self) -> std::result::Result<(), enterprise_sso::storage::IntegrityError> {
        runtime::run(verify::verify_owned(self.inner.clone()))
            .await
            .map_err(|e| enterprise_sso::storage::IntegrityError::Engine(e.to_string()))?
    }

    /// The pool (for the host's own statements, health checks, metrics).
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.inner.sql.schema
    }

    /// Runs an operation on the driver's runtime (see [`runtime`]).
    async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(Arc<Inner>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        runtime::run(op(self.inner.clone()))
            .await
            .map_err(enterprise_sso::Error::storage)?
    }
}

#[async_trait]
impl ConnectionRepo for PostgresRepo {
    async fn insert(&self, conn: &EnterpriseConnection) -> Result<()> {
        let conn = conn.clone();
        self.run(|i| async move { connections::insert(&i, &conn).await })
            .await
    }

    async fn get(&self, id: &ConnectionId) -> Result<Option<EnterpriseConnection>> {
        let id = id.to_string();
        self.run(|i| async move { connections::get(&i, &id).await })
            .await
    }

    async fn update(&self, conn: &EnterpriseConnection, expected_version: u64) -> Result<()> {
        let conn = conn.clone();
        self.run(|i| async move { connections::update(&i, &conn, expected_version).await })
            .await
    }

    /// Lock, read, change and write in one transaction (see `connections::modify`).
    async fn modify(&self, id: &ConnectionId, change: Change) -> Result<EnterpriseConnection> {
        let id = id.clone();
        self.run(|i| async move { connections::modify(&i, &id, &change).await })
            .await
    }

    async fn delete(&self, id: &ConnectionId, now: UnixMillis) -> Result<bool> {
        let id = id.to_string();
        self.run(|i| async move { connections::delete(&i, &id, now.get()).await })
            .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let q = query.clone();
        self.run(|i| async move { connections::list(&i, &q).await })
            .await
    }

    async fn find_by_domain(&self, domain: &Domain) -> Result<Option<EnterpriseConnection>> {
        let d = domain.as_str().to_owned();
        self.run(|i| async move { connections::find_by_domain(&i, &d).await })
            .await
    }

    async fn certificates_expiring_before(
        &self,
        before: UnixMillis,
    ) -> Result<Vec<EnterpriseConnection>> {
        self.run(
            |i| async move { connections::certificates_expiring_before(&i, before.get()).await },
        )
        .await
    }

    async fn count(&self, query: &ListQuery) -> Result<u64> {
        let q = query.clone();
        self.run(|i| async move { connections::count(&i, &q).await })
            .await
    }
}

#[async_trait]
impl EventFeed for PostgresRepo {
    async fn events_after(&self, position: u64, limit: usize) -> Result<enterprise_sso::FeedPage> {
        self.run(|i| async move { events::after(&i, position, limit).await })
            .await
    }
    async fn prune_events_before(&self, before: UnixMillis) -> Result<u64> {
        self.run(|i| async move { events::prune(&i, before.get()).await })
            .await
    }
    async fn append_events(&self, evs: &[enterprise_sso::events::Event]) -> Result<()> {
        let evs = evs.to_vec();
        self.run(|i| async move {
            let mut client = i.client().await?;
            let tx = client.transaction().await.map_err(error::storage)?;
            events::append(&tx, &i, evs).await?;
            tx.commit().await.map_err(error::storage)
        })
        .await
    }
}

#[async_trait]
impl AccountRepo for PostgresRepo {
    async fn insert_account(&self, account: &EnterpriseAccount) -> Result<()> {
        let a = account.clone();
        self.run(|i| async move { accounts::insert(&i, &a).await })
            .await
    }

    async fn get_account(&self, id: &AccountId) -> Result<Option<EnterpriseAccount>> {
        let id = id.to_string();
        self.run(|i| async move { accounts::get(&i, &id).await })
            .await
    }

    async fn update_account(
        &self,
        account: &EnterpriseAccount,
        expected_version: u64,
    ) -> Result<()> {
        let a = account.clone();
        self.run(|i| async move { accounts::update(&i, &a, expected_version).await })
            .await
    }

    async fn find_account_by_subject(
        &self,
        connection: &ConnectionId,
        provider_user_id: &str,
    ) -> Result<Option<EnterpriseAccount>> {
        let c = connection.to_string();
        let s = provider_user_id.to_owned();
        self.run(|i| async move { accounts::by_subject(&i, &c, &s).await })
            .await
    }

    async fn find_accounts_by_email(&self, email: &str) -> Result<Vec<EnterpriseAccount>> {
        let e = email.to_owned();
        self.run(|i| async move { accounts::by_email(&i, &e).await })
            .await
    }

    async fn list_accounts(
        &self,
        connection: &ConnectionId,
        query: &AccountQuery,
    ) -> Result<AccountPage> {
        let c = connection.to_string();
        let q = query.clone();
        self.run(|i| async move { accounts::list(&i, &c, &q).await })
            .await
    }

    async fn delete_account(&self, id: &AccountId, now: UnixMillis) -> Result<bool> {
        let id = id.to_string();
        self.run(|i| async move { accounts::delete(&i, &id, now.get()).await })
            .await
    }
}
