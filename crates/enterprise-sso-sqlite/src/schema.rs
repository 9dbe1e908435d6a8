//! Connection settings and versioned schema migrations (`PRAGMA user_version` steps).

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::SqliteError;

/// `PRAGMA application_id` of our databases: "ESSO".
pub const APPLICATION_ID: i64 = 0x4553_534F;

/// Migrations in order; `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: connections, with the columns every listing filter needs, and claimed domains.
    "CREATE TABLE connections (
        id              TEXT PRIMARY KEY NOT NULL,
        organization_id TEXT,
        active          INTEGER NOT NULL,
        provider        TEXT NOT NULL,
        version         INTEGER NOT NULL,
        record          BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX connections_by_org ON connections (organization_id, id);
     CREATE INDEX connections_by_active ON connections (active, id);
     CREATE INDEX connections_by_provider ON connections (provider, id);
     CREATE TABLE connection_domains (
        domain        TEXT PRIMARY KEY NOT NULL,
        connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE
     ) WITHOUT ROWID;
     CREATE INDEX connection_domains_by_connection ON connection_domains (connection_id);",
    // 2: certificate expiry, for renewal reminders; back-filled from the stored records
    // (format tag 1 is followed by JSON; tag 2 by a 4-byte checksum, then JSON).
    "ALTER TABLE connections ADD COLUMN cert_expires_at INTEGER;
     UPDATE connections SET cert_expires_at =
        json_extract(CAST(substr(record, 2) AS TEXT), '$.saml.cert_expires_at')
        WHERE substr(record, 1, 1) = X'01';
     UPDATE connections SET cert_expires_at =
        json_extract(CAST(substr(record, 6) AS TEXT), '$.saml.cert_expires_at')
        WHERE substr(record, 1, 1) = X'02';
     CREATE INDEX connections_by_cert_expiry ON connections (cert_expires_at, id)
        WHERE cert_expires_at IS NOT NULL;",
    // 3: enterprise accounts. (connection, provider user id) is unique among linked
    // accounts; unlinked accounts keep their record but leave the per-connection indexes.
    "CREATE TABLE accounts (
        id               TEXT PRIMARY KEY NOT NULL,
        connection_id    TEXT,
        provider_user_id TEXT,
        email_key        TEXT NOT NULL,
        version          INTEGER NOT NULL,
        record           BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE UNIQUE INDEX accounts_by_subject ON accounts (connection_id, provider_user_id)
        WHERE connection_id IS NOT NULL AND provider_user_id IS NOT NULL;
     CREATE INDEX accounts_by_connection ON accounts (connection_id, id)
        WHERE connection_id IS NOT NULL;
     CREATE INDEX accounts_by_email ON accounts (email_key, id);",
    // 4: the change feed. A write's events take the positions after the table's largest
    // (the rowid's rightmost entry: no extra page per commit), or after `pruned_to` when
    // pruning emptied the table, so positions are gap-free in commit order (one writer at
    // a time) and never reused.
    "CREATE TABLE events (
        position   INTEGER PRIMARY KEY NOT NULL,
        created_at INTEGER NOT NULL,
        record     BLOB NOT NULL
     );
     CREATE TABLE events_pruned (
        id        INTEGER PRIMARY KEY NOT NULL CHECK (id = 0),
        pruned_to INTEGER NOT NULL
     );
     INSERT INTO events_pruned (id, pruned_to) VALUES (0, 0);",
    // 5: connections in a rowid table (id unique). In a WITHOUT ROWID table a row's
    // payload is stored inline only up to ~1 KB of a 4 KiB page, and a record with a
    // certificate is ~1.7 KB: every update rewrote overflow pages too (measured on raw
    // SQLite: 1.5x the time and 2.2x the WAL bytes per update of a rowid table). The
    // parent is renamed rather than dropped (dropping it would cascade into the domains),
    // the domains table is rebuilt to reference the new one, then the old ones go.
    "ALTER TABLE connections RENAME TO connections_v4;
     CREATE TABLE connections (
        id              TEXT NOT NULL UNIQUE,
        organization_id TEXT,
        active          INTEGER NOT NULL,
        provider        TEXT NOT NULL,
        version         INTEGER NOT NULL,
        record          BLOB NOT NULL,
        cert_expires_at INTEGER
     );
     INSERT INTO connections
        (id, organization_id, active, provider, version, record, cert_expires_at)
        SELECT id, organization_id, active, provider, version, record, cert_expires_at
        FROM connections_v4 ORDER BY id;
     ALTER TABLE connection_domains RENAME TO connection_domains_v4;
     CREATE TABLE connection_domains (
        domain        TEXT PRIMARY KEY NOT NULL,
        connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE
     ) WITHOUT ROWID;
     INSERT INTO connection_domains (domain, connection_id)
        SELECT domain, connection_id FROM connection_domains_v4;
     DROP TABLE connection_domains_v4;
     DROP TABLE connections_v4;
     CREATE INDEX connections_by_org ON connections (organization_id, id);
     CREATE INDEX connections_by_active ON connections (active, id);
     CREATE INDEX connections_by_provider ON connections (provider, id);
     CREATE INDEX connections_by_cert_expiry ON connections (cert_expires_at, id)
        WHERE cert_expires_at IS NOT NULL;
     CREATE INDEX connection_domains_by_connection ON connection_domains (connection_id);",
    // 6: sign-in records (pending requests, the assertion replay cache, codes and tokens),
    // keyed by kind and hashed key; the expiry index makes a sweep a range delete.
    "CREATE TABLE sign_in_items (
        kind          TEXT NOT NULL,
        key           TEXT NOT NULL,
        connection_id TEXT,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        payload       BLOB NOT NULL,
        PRIMARY KEY (kind, key)
     ) WITHOUT ROWID;
     CREATE INDEX sign_in_items_by_expiry ON sign_in_items (expires_at);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How much SQLite syncs to disk on commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL` (default): a write that returned survives a process crash and
    /// power loss.
    #[default]
    Full,
    /// `synchronous = NORMAL`: a write that returned survives a process crash; the last
    /// writes before a power loss or OS crash may be rolled back (never corrupted).
    Normal,
}

/// Where SQLite calls run. In every mode a read never waits for a write (WAL) and every
/// write commits before its call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Execution {
    /// Default. Reads run on the caller's thread, each on a read connection of its own
    /// (an idle one from the pool, or a new one when every pooled one is in use, so a
    /// reader never waits for another); a read blocks its thread for one indexed
    /// statement: microseconds from SQLite's page cache, one disk read per uncached page
    /// otherwise. Writes go to the writer thread, which commits every write waiting in its
    /// queue in one transaction (group commit, one fsync per batch, each write in its own
    /// savepoint); the caller awaits the commit without blocking.
    #[default]
    ReadsInline,
    /// Reads on reader threads too ([`SqliteOptions::readers`] of them): async callers
    /// never block on SQLite, at the cost of a thread hand-off per read (tens of
    /// microseconds on a small machine). Writes as in `ReadsInline`.
    Threads,
    /// Everything on the caller's thread: reads as in `ReadsInline`, writes one
    /// transaction each behind a mutex, so a write blocks its executor thread for its
    /// fsync (milliseconds) and can wait up to the busy timeout for another process's
    /// lock; concurrent writers queue on the mutex and each pays its own fsync. For
    /// synchronous hosts that call from their own threads.
    Inline,
}

/// Options for [`crate::SqliteRepo::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// Read connections opened up front and kept idle in the pool (reader threads in
    /// [`Execution::Threads`]); 0 sends reads to the writer.
    pub readers: usize,
    /// Sync setting.
    pub durability: Durability,
    /// Where calls run.
    pub execution: Execution,
    /// Bytes of the database file SQLite reads through a memory map (`PRAGMA mmap_size`;
    /// default 256 MiB, 0 turns it off): reads of cached pages then cost no system call
    /// and no copy. The map is shared by every connection and counts as page cache, not
    /// as the process's own memory. An I/O error on a mapped page raises SIGBUS instead of
    /// an error (see SQLite's "Memory-Mapped I/O" page); hosts on unreliable storage set 0.
    pub mmap_size: u64,
    /// Page cache of each connection, KiB (`PRAGMA cache_size`; default 8 MiB).
    pub cache_kib: u64,
    /// Create a new database file readable and writable by its owner only (0600 on Unix;
    /// SQLite gives its `-wal` and `-shm` files the database file's mode). `true` by
    /// default: the file holds IdP configuration and, without a key ring, client secrets.
    /// An existing file keeps its mode.
    pub owner_only_files: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
            readers: 2,
            durability: Durability::Full,
            execution: Execution::ReadsInline,
            owner_only_files: true,
            mmap_size: 256 << 20,
            cache_kib: 8 << 10,
        }
    }
}

/// Creates `path` empty with mode 0600 if it does not exist yet (Unix), so SQLite opens a
/// file no other user can read, and creates its WAL and shared-memory files alike.
pub(crate) fn create_owner_only(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let special = path
            .to_str()
            .is_some_and(|p| p.is_empty() || p == ":memory:" || p.starts_with("file:"));
        if special || path.exists() {
            return Ok(());
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Whether opening hit another connection's lock: `SQLITE_BUSY` / `SQLITE_LOCKED`, or a
/// WAL switch that could not take effect yet (SQLite then answers the old journal mode).
fn is_busy(e: &SqliteError) -> bool {
    match e {
        SqliteError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ),
        SqliteError::NoWal(_) => true,
        _ => false,
    }
}

/// Runs a step of opening again while another connection holds a lock it needs, until
/// `timeout` has passed. SQLite's busy handler does not cover every such step: the switch
/// to WAL and a `BEGIN IMMEDIATE` that would deadlock fail at once with `SQLITE_BUSY`
/// (seen with 12 processes opening one fresh file).
pub(crate) fn retry_busy<T>(
    timeout: std::time::Duration,
    mut step: impl FnMut() -> Result<T, SqliteError>,
) -> Result<T, SqliteError> {
    let deadline = std::time::Instant::now() + timeout;
    let mut pause = std::time::Duration::from_millis(1);
    loop {
        match step() {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// Per-connection settings: busy timeout, WAL, foreign keys, sync level, statement cache.
pub(crate) fn configure(
    conn: &Connection,
    opts: &SqliteOptions,
    wal: bool,
) -> Result<(), SqliteError> {
    conn.busy_timeout(opts.busy_timeout)
        .map_err(SqliteError::classify)?;
    if wal {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(SqliteError::classify)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(SqliteError::NoWal(mode));
        }
    }
    let sync = match opts.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {sync}; PRAGMA mmap_size = {}; \
         PRAGMA cache_size = -{};",
        opts.mmap_size,
        opts.cache_kib.max(64)
    ))
    .map_err(SqliteError::classify)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`]; a no-op when it is there already. Refuses
/// foreign databases and newer schemas before changing anything.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(SqliteError::classify)?;
    let app_id: i64 = tx
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(SqliteError::classify)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(SqliteError::classify)?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(SqliteError::ForeignDatabase {
            reason: format!("application_id {app_id:#x}"),
        });
    }
    if app_id == 0 {
        let objects: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )
            .map_err(SqliteError::classify)?;
        if objects > 0 || version != 0 {
            return Err(SqliteError::ForeignDatabase {
                reason: format!("{objects} unrelated schema objects, user_version {version}"),
            });
        }
    }
    if version > SCHEMA_VERSION {
        return Err(SqliteError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    for step in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.execute_batch(step).map_err(SqliteError::classify)?;
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .map_err(SqliteError::classify)?;
    tx.commit().map_err(SqliteError::classify)?;
    Ok(())
}
