//! Opening a store from a URL (what `enterprise-sso-server --store` takes):
//! `sqlite:PATH`, `sled:DIR` or `postgres://user:password@host:port/db`, optionally with
//! its secrets sealed by a key ring.

use std::fmt;
use std::sync::Arc;

use enterprise_sso::repo::DynStore;

/// A parsed store URL. Its `Display` never shows a PostgreSQL password.
#[derive(Clone)]
pub enum StoreUrl {
    /// A SQLite database file.
    Sqlite(String),
    /// A sled database directory.
    Sled(String),
    /// A PostgreSQL server.
    Postgres(String),
}

impl StoreUrl {
    /// Parses `sqlite:PATH`, `sled:DIR` or `postgres://…` (`postgresql://` too).
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        if let Some(p) = url.strip_prefix("sqlite:") {
            Ok(StoreUrl::Sqlite(p.trim_start_matches("//").to_owned()))
        } else if let Some(p) = url.strip_prefix("sled:") {
            Ok(StoreUrl::Sled(p.trim_start_matches("//").to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url.to_owned()))
        } else {
            Err("--store must be sqlite:PATH, sled:DIR or postgres://…".into())
        }
    }

    /// `sqlite`, `sled` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreUrl::Sqlite(_) => "sqlite",
            StoreUrl::Sled(_) => "sled",
            StoreUrl::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite:{p}"),
            StoreUrl::Sled(p) => write!(f, "sled:{p}"),
            StoreUrl::Postgres(_) => f.write_str("postgres://…"),
        }
    }
}

/// Opens (creating if needed) the store `url` names, with each adapter's defaults.
pub async fn open(url: &StoreUrl) -> Result<DynStore, String> {
    if url.to_string().ends_with(':') {
        return Err(format!("{url}: the path is empty"));
    }
    match url {
        StoreUrl::Sqlite(path) => enterprise_sso_sqlite::SqliteRepo::open(path)
            .map(|r| Arc::new(r) as DynStore)
            .map_err(|e| e.to_string()),
        StoreUrl::Sled(path) => enterprise_sso_sled::SledRepo::open(path)
            .map(|r| Arc::new(r) as DynStore)
            .map_err(|e| e.to_string()),
        StoreUrl::Postgres(u) => enterprise_sso_postgres::PostgresRepo::connect(u)
            .await
            .map(|r| Arc::new(r) as DynStore)
            .map_err(|e| e.to_string()),
    }
}

/// `repo` with its secrets sealed by `ring`, after checking that every stored value's key
/// is in the ring (a missing key stops the start, naming it).
pub async fn encrypted(
    repo: DynStore,
    ring: enterprise_sso::crypto::Keyring,
) -> Result<DynStore, String> {
    let active = ring.active_id().to_string();
    let store = enterprise_sso::crypto::Encrypted::new(repo, ring);
    let n = store
        .check_keys()
        .await
        .map_err(|e| format!("the key ring cannot read the store: {e}"))?;
    tracing::info!(connections = n, active_key = %active, "secrets encrypted at rest");
    Ok(Arc::new(store) as DynStore)
}
