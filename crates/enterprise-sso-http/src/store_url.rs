//! Opening a store from a URL (what `enterprise-sso-server --store` takes):
//! `sqlite:PATH`, `sled:DIR` or `postgres://user:password@host:port/db`, optionally with
//! its secrets sealed by a key ring.
//!
//! Each adapter is behind the crate feature of its name (`sqlite`, `sled`, `postgres`; all
//! three in the default `server` feature the binary needs). A host that only wants the
//! router turns default features off and compiles none of them; a URL for an adapter that
//! is not compiled in is [`StoreUrlError::NotCompiled`].

use std::fmt;
#[cfg(any(feature = "sqlite", feature = "sled", feature = "postgres"))]
use std::sync::Arc;

use enterprise_sso::DynStore;

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

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a store URL could not be parsed or its store opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreUrlError {
    /// Not `sqlite:PATH`, `sled:DIR` or `postgres://…`.
    #[error("--store must be sqlite:PATH, sled:DIR or postgres://…")]
    UnknownScheme,
    /// `sqlite:` or `sled:` with no path.
    #[error("{kind}: the path is empty")]
    EmptyPath {
        /// `sqlite` or `sled`.
        kind: &'static str,
    },
    /// This build has no adapter for the URL's kind (its crate feature is off).
    #[error("this build has no {kind} adapter (crate feature `{kind}` is off)")]
    NotCompiled {
        /// `sqlite`, `sled` or `postgres`.
        kind: &'static str,
    },
    /// The adapter could not open the store.
    #[error("cannot open the {kind} store: {reason}")]
    Open {
        /// `sqlite`, `sled` or `postgres`.
        kind: &'static str,
        /// The adapter's error, as text (a PostgreSQL error never carries the password).
        reason: String,
    },
    /// The key ring cannot read every value in the store (a key is missing).
    #[error("the key ring cannot read the store: {0}")]
    KeyRing(enterprise_sso::Error),
}

impl StoreUrl {
    /// Parses `sqlite:PATH`, `sled:DIR` or `postgres://…` (`postgresql://` too).
    pub fn parse(url: &str) -> Result<StoreUrl, StoreUrlError> {
        if let Some(p) = url.strip_prefix("sqlite:") {
            Ok(StoreUrl::Sqlite(p.trim_start_matches("//").to_owned()))
        } else if let Some(p) = url.strip_prefix("sled:") {
            Ok(StoreUrl::Sled(p.trim_start_matches("//").to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url.to_owned()))
        } else {
            Err(StoreUrlError::UnknownScheme)
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
pub async fn open(url: &StoreUrl) -> Result<DynStore, StoreUrlError> {
    let kind = url.kind();
    match url {
        StoreUrl::Sqlite(path) | StoreUrl::Sled(path) if path.is_empty() => {
            Err(StoreUrlError::EmptyPath { kind })
        }
        #[cfg(feature = "sqlite")]
        StoreUrl::Sqlite(path) => enterprise_sso_sqlite::SqliteRepo::open(path)
            .map(|r| Arc::new(r) as DynStore)
            .map_err(|e| open_error(kind, &e)),
        #[cfg(feature = "sled")]
        StoreUrl::Sled(path) => enterprise_sso_sled::SledRepo::open(path)
            .map(|r| Arc::new(r) as DynStore)
            .map_err(|e| open_error(kind, &e)),
        #[cfg(feature = "postgres")]
        StoreUrl::Postgres(u) => enterprise_sso_postgres::PostgresRepo::connect(u)
            .await
            .map(|r| Arc::new(r) as DynStore)
            .map_err(|e| open_error(kind, &e)),
        #[allow(unreachable_patterns)]
        _ => Err(StoreUrlError::NotCompiled { kind }),
    }
}

/// The adapter's refusal to open, as text.
#[cfg(any(feature = "sqlite", feature = "sled", feature = "postgres"))]
fn open_error(kind: &'static str, e: &dyn fmt::Display) -> StoreUrlError {
    StoreUrlError::Open {
        kind,
        reason: e.to_string(),
    }
}

/// `repo` with its secrets sealed by `ring`, after checking that every stored value's key
/// is in the ring (a missing key stops the start, naming it).
pub async fn encrypted(
    repo: DynStore,
    ring: enterprise_sso::crypto::Keyring,
) -> Result<DynStore, StoreUrlError> {
    let active = ring.active_id().to_string();
    let store = enterprise_sso::crypto::Encrypted::new(repo, ring);
    let n = store.check_keys().await.map_err(StoreUrlError::KeyRing)?;
    tracing::info!(connections = n, active_key = %active, "secrets encrypted at rest");
    Ok(std::sync::Arc::new(store) as DynStore)
}
