//! Shared setup for the benchmarks and the footprint report: deterministic data sets,
//! stores built once per size and reused, and the raw-engine floors.

use enterprise_sso::UnixMillis;
use std::path::{Path, PathBuf};

use enterprise_sso::storage::codec::encode_connection;
use enterprise_sso::testing::saml_connection;
use enterprise_sso::{ConnectionId, ConnectionRepo, Domain, EnterpriseConnection};
use enterprise_sso_memory::MemoryRepo;
use enterprise_sso_sled::SledRepo;
use enterprise_sso_sqlite::SqliteRepo;
use futures_executor::block_on;

pub mod hosted;
pub mod pg;

/// Connections per organization in the data sets.
pub const PER_ORG: usize = 20;

/// The domain claimed by connection `i`.
pub fn domain_of(i: usize) -> String {
    format!("d{i}.bench.example.com")
}

/// The organization of connection `i`.
pub fn org_of(i: usize) -> String {
    format!("org_{}", i / PER_ORG)
}

/// Connection `i` of a data set: active SAML, one domain, subdomains allowed, already
/// authenticated once (so sign-ins do not also activate it).
pub fn connection(template: &EnterpriseConnection, i: usize) -> EnterpriseConnection {
    let mut c = template.clone();
    c.id = ConnectionId::generate();
    c.name = format!("bench {i}");
    c.organization_id = Some(org_of(i));
    c.domains = vec![Domain::from_normalized(domain_of(i))];
    c.allow_subdomains = true;
    c.first_authenticated_at = Some(UnixMillis::new(1));
    c
}

/// A template connection (validated through the core once).
pub fn template() -> EnterpriseConnection {
    saml_connection("bench", &[], true)
}

/// Where built stores are kept between runs (`SSO_BENCH_DATA` overrides it).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SSO_BENCH_DATA") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-data")
}

fn complete_marker(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".complete");
    PathBuf::from(p)
}

/// What a complete store's marker holds: the record format it was built with, so a store
/// built by an older encoding is rebuilt rather than measured.
fn marker_text() -> String {
    format!(
        "complete, record format {}, SQLite schema {}",
        enterprise_sso::storage::codec::FORMAT_V4,
        enterprise_sso_sqlite::SCHEMA_VERSION
    )
}

/// Whether the store at `path` was built completely, with the current record format.
fn is_complete(path: &Path) -> bool {
    std::fs::read_to_string(complete_marker(path)).is_ok_and(|t| t == marker_text())
}

/// Builds (or reuses) a store of `n` connections with `build`, which receives the path and
/// the connections in chunks.
fn build_once(path: &Path, n: usize, mut fill: impl FnMut(&[EnterpriseConnection])) {
    if is_complete(path) {
        return;
    }
    let t = template();
    let mut i = 0;
    while i < n {
        let chunk: Vec<_> = (i..(i + 10_000).min(n))
            .map(|k| connection(&t, k))
            .collect();
        fill(&chunk);
        i += chunk.len();
    }
    let _ = std::fs::write(complete_marker(path), marker_text());
}

/// The SQLite store of `n` connections (built once, then reused), default options.
pub fn sqlite(n: usize) -> SqliteRepo {
    sqlite_with(n, enterprise_sso_sqlite::Execution::default())
}

/// The SQLite store of `n` connections with the given execution mode.
pub fn sqlite_with(n: usize, execution: enterprise_sso_sqlite::Execution) -> SqliteRepo {
    let path = data_dir().join(format!("sqlite-{n}.db"));
    if !is_complete(&path) {
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::create_dir_all(data_dir());
        let repo = SqliteRepo::open(&path).expect("open sqlite");
        build_once(&path, n, |chunk| {
            block_on(repo.bulk_insert(chunk)).expect("bulk insert")
        });
    }
    let opts = enterprise_sso_sqlite::SqliteOptions {
        execution,
        ..Default::default()
    };
    SqliteRepo::open_with(&path, opts).expect("open sqlite")
}

/// The sled store of `n` connections (built once, then reused).
pub fn sled_store(n: usize) -> SledRepo {
    let path = data_dir().join(format!("sled-{n}"));
    if !is_complete(&path) {
        let _ = std::fs::remove_dir_all(&path);
        let repo = SledRepo::open(&path).expect("open sled");
        build_once(&path, n, |chunk| {
            block_on(repo.bulk_insert(chunk)).expect("bulk insert")
        });
        block_on(repo.flush()).expect("flush");
    }
    SledRepo::open(&path).expect("open sled")
}

/// A memory store of `n` connections.
pub fn memory(n: usize) -> MemoryRepo {
    let repo = MemoryRepo::new();
    let t = template();
    for i in 0..n {
        block_on(repo.insert(&connection(&t, i))).expect("insert");
    }
    repo
}

/// The raw SQLite floor: `raw(id TEXT UNIQUE, record BLOB)`, a rowid table like the
/// adapter's `connections` (records stored inline, not in overflow pages), with the same
/// encoded records, same journal and sync settings as the adapter (WAL, FULL).
pub fn raw_sqlite(n: usize) -> rusqlite::Connection {
    let path = data_dir().join(format!("raw-sqlite-{n}.db"));
    let open = || {
        let c = rusqlite::Connection::open(&path).expect("open raw sqlite");
        c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .expect("pragmas");
        c
    };
    if !is_complete(&path) {
        let _ = std::fs::create_dir_all(data_dir());
        let _ = std::fs::remove_file(&path);
        let mut c = open();
        c.execute_batch("CREATE TABLE raw (id TEXT NOT NULL UNIQUE, record BLOB NOT NULL)")
            .expect("create");
        build_once(&path, n, |chunk| {
            let tx = c.transaction().expect("tx");
            for conn in chunk {
                tx.execute(
                    "INSERT INTO raw VALUES (?1, ?2)",
                    rusqlite::params![conn.id.as_str(), encode_connection(conn)],
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
        });
    }
    open()
}

/// The raw sled floor: one tree, id -> the same encoded record.
pub fn raw_sled(n: usize) -> (sled::Db, sled::Tree) {
    let path = data_dir().join(format!("raw-sled-{n}"));
    if !is_complete(&path) {
        let _ = std::fs::remove_dir_all(&path);
    }
    let open = || {
        let db = sled::open(&path).expect("open raw sled");
        let tree = db.open_tree("raw").expect("tree");
        (db, tree)
    };
    if !is_complete(&path) {
        let (db, tree) = open();
        build_once(&path, n, |chunk| {
            for conn in chunk {
                tree.insert(conn.id.as_str(), encode_connection(conn))
                    .expect("insert");
            }
        });
        db.flush().expect("flush");
    }
    open()
}

/// Up to `k` ids of a store, spread over it (looked up by their domains).
pub fn sample_ids(repo: &dyn ConnectionRepo, n: usize, k: usize) -> Vec<ConnectionId> {
    let step = (n / k).max(1);
    (0..n)
        .step_by(step)
        .take(k)
        .filter_map(|i| {
            let d = Domain::from_normalized(domain_of(i));
            block_on(repo.find_by_domain(&d))
                .ok()
                .flatten()
                .map(|c| c.id)
        })
        .collect()
}

/// On-disk size of a file (with its WAL) or folder, in bytes.
pub fn disk_size(path: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    let mut total = walk(path);
    for ext in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        total += walk(Path::new(&p));
    }
    total
}

/// Copies `from` (a file or a folder) to `to`, replacing what was there.
fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let _ = std::fs::remove_file(to);
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read dir").flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy");
    }
}

/// A private copy of the pristine `n`-connection store `name` (`sqlite`, `sled`,
/// `raw-sqlite`, `raw-sled`) for a benchmark that writes: the pristine store is built once
/// and never written after that, so every run starts from exactly `n` connections.
pub fn scratch_copy(name: &str, n: usize) -> PathBuf {
    let (pristine, ext) = match name {
        "sqlite" => {
            drop(sqlite(n));
            (data_dir().join(format!("sqlite-{n}.db")), ".db")
        }
        "sled" => {
            drop(sled_store(n));
            (data_dir().join(format!("sled-{n}")), "")
        }
        "raw-sqlite" => {
            drop(raw_sqlite(n));
            (data_dir().join(format!("raw-sqlite-{n}.db")), ".db")
        }
        "raw-sled" => {
            drop(raw_sled(n));
            (data_dir().join(format!("raw-sled-{n}")), "")
        }
        other => panic!("no pristine store {other}"),
    };
    // sled releases its file lock from a background thread after the handle drops.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let dir = data_dir().join("scratch");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let to = dir.join(format!("{name}-{n}{ext}"));
    for suffix in ["-wal", "-shm"] {
        let mut p = to.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    copy_tree(&pristine, &to);
    to
}

/// Resident set size of this process, from `/proc/self/statm` (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}
