//! Reliability harnesses for the enterprise-sso stores: shared helpers for the crash
//! writer binary and the crash, concurrency and bad-input tests.

use enterprise_sso::{Result, Store};
use enterprise_sso_sled::{SledOptions, SledRepo};
use enterprise_sso_sqlite::{Durability, SqliteOptions, SqliteRepo};

/// A store kind the harnesses run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SqliteRepo` with `synchronous = FULL`.
    Sqlite,
    /// `SledRepo` with flush-on-write.
    Sled,
}

impl Kind {
    /// Both durable kinds.
    pub const ALL: [Kind; 2] = [Kind::Sqlite, Kind::Sled];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Sled => "sled",
        }
    }

    /// Parses the command-line name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Opens the durable store of this kind at `path` (a file for SQLite, a folder for sled).
    pub fn open(self, path: &std::path::Path) -> std::result::Result<Box<dyn Store>, String> {
        self.open_checked(path).map(Opened::into_store)
    }
}

/// A durable store opened by kind, with its integrity check.
#[derive(Debug)]
pub enum Opened {
    /// SQLite.
    Sqlite(SqliteRepo),
    /// sled.
    Sled(SledRepo),
}

impl Opened {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        match self {
            Opened::Sqlite(r) => r,
            Opened::Sled(r) => r,
        }
    }

    /// The store, boxed.
    pub fn into_store(self) -> Box<dyn Store> {
        match self {
            Opened::Sqlite(r) => Box::new(r),
            Opened::Sled(r) => Box::new(r),
        }
    }

    /// The adapter's full integrity check (`verify`).
    pub fn verify(&self) -> std::result::Result<(), enterprise_sso::storage::IntegrityError> {
        match self {
            Opened::Sqlite(r) => futures_executor::block_on(r.verify()),
            Opened::Sled(r) => r.verify(),
        }
    }
}

impl Kind {
    /// Opens the durable store of this kind at `path`, keeping its concrete type.
    pub fn open_checked(self, path: &std::path::Path) -> std::result::Result<Opened, String> {
        match self {
            Kind::Sqlite => SqliteRepo::open_with(
                path,
                SqliteOptions {
                    durability: Durability::Full,
                    ..SqliteOptions::default()
                },
            )
            .map(Opened::Sqlite)
            .map_err(|e| e.to_string()),
            Kind::Sled => SledRepo::open_with(
                path,
                SledOptions {
                    flush_on_write: true,
                    ..SledOptions::default()
                },
            )
            .map(Opened::Sled)
            .map_err(|e| e.to_string()),
        }
    }
}

/// Every connection in a store, oldest first.
pub async fn all_connections(
    repo: &dyn Store,
) -> Result<Vec<enterprise_sso::EnterpriseConnection>> {
    let q = enterprise_sso::ListQuery {
        order: enterprise_sso::Order::Asc,
        ..Default::default()
    };
    enterprise_sso::list_all(repo, &q).await
}

/// A small deterministic generator (xorshift64*), so runs can be replayed from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is mapped to a fixed non-zero seed).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
