//! Throughput harness: updates of distinct connections and `route_email` with 1, 4, 16
//! and 64 tokio tasks on every store and mode, each figure printed beside the raw-engine
//! floor measured just before it (interleaved), on private copies of pristine stores (no
//! run changes what a later run reads).
//!
//! ```sh
//! cargo run --release -p enterprise-sso-benches --bin throughput -- \
//!     [--size 10000] [--secs 3] [--tasks 1,4,16,64] [--stores sqlite,sqlite-threads,...]
//! ```
//!
//! Stores: `sqlite` (default mode, FULL), `sqlite-threads`, `sqlite-inline`, `sled`
//! (background flush), `sled-flush` (flush on write), `memory`, `cached-sqlite`, and
//! `postgres` when `SSO_BENCH_POSTGRES_URL` or `SSO_TEST_POSTGRES_URL` is set.
//! Workloads: `update` (Connections::update of a name, each task on its own connections,
//! keys across the whole store), `route` (route_email, keys across the whole store) and
//! `route-hot` (1,000 keys). CPU is the process's user+system time per operation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use enterprise_sso::{ConnectionId, Connections, DynStore, Patch, UpdateConnection};
use enterprise_sso_benches as b;
use enterprise_sso_cache::Cached;
use enterprise_sso_sled::{SledOptions, SledRepo};
use enterprise_sso_sqlite::{Execution, SqliteOptions, SqliteRepo};

struct Args {
    size: usize,
    secs: f64,
    tasks: Vec<usize>,
    stores: Vec<String>,
    workloads: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        size: 10_000,
        secs: 3.0,
        tasks: vec![1, 4, 16, 64],
        stores: [
            "sqlite",
            "sqlite-threads",
            "sqlite-inline",
            "sled",
            "sled-flush",
            "memory",
            "cached-sqlite",
            "postgres",
        ]
        .map(String::from)
        .to_vec(),
        workloads: ["update", "route", "route-hot"].map(String::from).to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_default();
        let list = || v.split(',').map(str::to_owned).collect::<Vec<_>>();
        match flag.as_str() {
            "--size" => a.size = v.parse().expect("--size N"),
            "--secs" => a.secs = v.parse().expect("--secs S"),
            "--tasks" => a.tasks = list().iter().map(|t| t.parse().expect("tasks")).collect(),
            "--stores" => a.stores = list(),
            "--workloads" => a.workloads = list(),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// One measured figure.
#[derive(Clone, Copy)]
struct Figure {
    ops_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_op: f64,
}

impl Figure {
    fn from(lat: &mut [u32], elapsed: Duration, cpu: Duration) -> Figure {
        lat.sort_unstable();
        let pick = |q: f64| {
            lat.get(((lat.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(0) as f64
        };
        let ops = lat.len().max(1) as f64;
        Figure {
            ops_per_s: lat.len() as f64 / elapsed.as_secs_f64(),
            p50_us: pick(0.5),
            p99_us: pick(0.99),
            cpu_us_per_op: cpu.as_secs_f64() * 1e6 / ops,
        }
    }
}

/// Runs `op(task, k)` in `tasks` tokio tasks for `secs`; `k` counts each task's calls.
async fn drive<F, Fut>(tasks: usize, secs: f64, op: F) -> Figure
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut handles = Vec::new();
    for t in 0..tasks {
        let op = Arc::clone(&op);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut k = 0u64;
            while Instant::now() < deadline {
                let s = Instant::now();
                op(t, k).await;
                lat.push(s.elapsed().as_micros().min(u32::MAX as u128) as u32);
                k += 1;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("task"));
    }
    Figure::from(&mut lat, t0.elapsed(), cpu_time().saturating_sub(cpu0))
}

/// When the current figure (ours or a floor) started, in seconds since the run began.
static FIGURE_STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Marks the start of a figure for the watchdog.
fn figure_starts(run: Instant) {
    FIGURE_STARTED.store(
        run.elapsed().as_secs(),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// Ends the run if one figure takes far longer than asked: sled 0.34 can deadlock inside
/// its own log (its background GC spinning in `Log::reserve` while writers wait in
/// `SegmentAccountant::bump_tip`; seen in the raw sled floor), and a benchmark that hangs
/// reports nothing.
fn watchdog(run: Instant, secs: f64) {
    let limit = (secs * 20.0).max(120.0) as u64;
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(5));
        let started = FIGURE_STARTED.load(std::sync::atomic::Ordering::Relaxed);
        if run.elapsed().as_secs().saturating_sub(started) > limit {
            eprintln!(
                "watchdog: one figure has run for over {limit} s; stopping \
                 (sled 0.34 can deadlock in its own log GC, see BENCHMARKS.md)"
            );
            std::process::exit(3);
        }
    });
}

/// Runs a blocking closure on `threads` OS threads for `secs` (raw floors).
fn drive_threads<F>(threads: usize, secs: f64, op: F) -> Figure
where
    F: Fn(usize, u64) -> u32 + Send + Sync,
{
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let mut lat: Vec<u32> = Vec::new();
    let mut counted = 0u64;
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let op = &op;
                s.spawn(move || {
                    let (mut lat, mut rows) = (Vec::new(), 0u64);
                    let mut k = 0;
                    while Instant::now() < deadline {
                        let st = Instant::now();
                        let n = op(t, k);
                        lat.push(st.elapsed().as_micros() as u32);
                        rows += u64::from(n);
                        k += 1;
                    }
                    (lat, rows)
                })
            })
            .collect();
        for h in hs {
            let (l, r) = h.join().expect("thread");
            lat.extend(l);
            counted += r;
        }
    });
    let mut f = Figure::from(&mut lat, t0.elapsed(), cpu_time().saturating_sub(cpu0));
    // Rows per second, not transactions.
    f.ops_per_s = counted as f64 / t0.elapsed().as_secs_f64();
    f
}

/// Deterministic pseudo-random numbers (xorshift).
fn mix(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Extra figures a store reports after a run (group commit sizes).
type Note = Box<dyn Fn() -> String>;

async fn open_store(kind: &str, n: usize) -> Option<(DynStore, &'static str, Note)> {
    let none: Note = Box::new(String::new);
    let sqlite_repo = |execution| -> Arc<SqliteRepo> {
        let path = b::scratch_copy("sqlite", n);
        let mut opts = SqliteOptions {
            execution,
            ..Default::default()
        };
        if let Ok(v) = std::env::var("SSO_BENCH_SQLITE_MMAP") {
            opts.mmap_size = v.parse().expect("SSO_BENCH_SQLITE_MMAP bytes");
        }
        Arc::new(SqliteRepo::open_with(path, opts).expect("open"))
    };
    let note = |r: &Arc<SqliteRepo>| -> Note {
        let r = Arc::clone(r);
        Box::new(move || {
            let s = r.group_commit_stats();
            if s.transactions == 0 {
                String::new()
            } else {
                format!(
                    "{:.1} writes/commit",
                    s.writes as f64 / s.transactions as f64
                )
            }
        })
    };
    let sqlite = |execution| -> (DynStore, &'static str, Note) {
        let r = sqlite_repo(execution);
        let n = note(&r);
        (r as DynStore, "sqlite", n)
    };
    let sled = |flush_on_write| -> DynStore {
        let path = b::scratch_copy("sled", n);
        let opts = SledOptions {
            flush_on_write,
            ..Default::default()
        };
        Arc::new(SledRepo::open_with(path, opts).expect("open"))
    };
    Some(match kind {
        "sqlite" => sqlite(Execution::ReadsInline),
        "sqlite-threads" => sqlite(Execution::Threads),
        "sqlite-inline" => sqlite(Execution::Inline),
        "cached-sqlite" => {
            let r = sqlite_repo(Execution::ReadsInline);
            let n = note(&r);
            (Arc::new(Cached::new(r)) as DynStore, "sqlite", n)
        }
        "sled" => (sled(false), "sled", none),
        "sled-flush" => (sled(true), "sled-flush", none),
        "memory" => (Arc::new(b::memory(n)) as DynStore, "none", none),
        "postgres" => {
            let url = b::pg::url()?;
            let repo = b::pg::repo(&url, n, 16).await;
            (Arc::new(repo) as DynStore, "postgres", none)
        }
        _ => panic!("unknown store {kind}"),
    })
}

/// The raw-engine floors for `engine` and `workload` with `tasks` callers: (label, figure).
fn floors(
    engine: &str,
    workload: &str,
    n: usize,
    tasks: usize,
    secs: f64,
) -> Vec<(String, Figure)> {
    let template = b::template();
    let records: Vec<Vec<u8>> = (0..64)
        .map(|k| {
            enterprise_sso::storage::codec::encode_connection(
                &enterprise_sso::EnterpriseConnection {
                    name: format!("raw {k}"),
                    ..template.clone()
                },
            )
        })
        .collect();
    let mut out = Vec::new();
    match (engine, workload) {
        ("sqlite", "update") => {
            let path = b::scratch_copy("raw-sqlite", n);
            let ids = raw_sqlite_ids(&path);
            // The same single-row write with its change-feed row (what every write of the
            // adapter also appends), then the plain floors.
            // With 64 writers, also 64 writes with their events to a transaction: how far
            // the engine itself scales from one write per commit to the batch size 64
            // writers reach.
            let mut floors = vec![
                (1usize, true),
                (1, false),
                (4, false),
                (16, false),
                (16, true),
            ];
            if tasks >= 64 {
                floors.push((64, true));
            }
            for (rows, with_event) in floors {
                let c = rusqlite::Connection::open(&path).unwrap();
                c.execute_batch(RAW_PRAGMAS).unwrap();
                c.execute_batch(
                    "CREATE TABLE IF NOT EXISTS raw_events \
                     (position INTEGER PRIMARY KEY, record BLOB NOT NULL)",
                )
                .unwrap();
                let c = std::sync::Mutex::new(c);
                let event = vec![b'e'; 2000];
                let f = drive_threads(1, secs, |_, k| {
                    let mut c = c.lock().unwrap();
                    let tx = c.transaction().unwrap();
                    for r in 0..rows {
                        let i = (mix(k * 64 + r as u64 + 1) as usize) % ids.len();
                        tx.prepare_cached("UPDATE raw SET record = ?2 WHERE id = ?1")
                            .unwrap()
                            .execute(rusqlite::params![ids[i], records[(k as usize + r) % 64]])
                            .unwrap();
                        if with_event {
                            tx.prepare_cached("INSERT INTO raw_events (record) VALUES (?1)")
                                .unwrap()
                                .execute([&event])
                                .unwrap();
                        }
                    }
                    tx.commit().unwrap();
                    rows as u32
                });
                let label = if with_event {
                    format!("raw {rows} row+event/tx")
                } else {
                    format!("raw {rows} row/tx")
                };
                out.push((label, f));
            }
        }
        ("sqlite", _) => {
            let path = b::scratch_copy("raw-sqlite", n);
            let ids = raw_sqlite_ids(&path);
            let hot = workload == "route-hot";
            let threads = tasks.min(2);
            let conns: Vec<_> = (0..threads)
                .map(|_| {
                    let c = rusqlite::Connection::open(&path).unwrap();
                    c.execute_batch(RAW_PRAGMAS).unwrap();
                    std::sync::Mutex::new(c)
                })
                .collect();
            let f = drive_threads(threads, secs, |t, k| {
                let c = conns[t].lock().unwrap();
                let span = if hot { ids.len().min(1000) } else { ids.len() };
                let i = (mix(k * 64 + t as u64 + 1) as usize) % span;
                let mut st = c
                    .prepare_cached("SELECT record FROM raw WHERE id = ?1")
                    .unwrap();
                let bytes: Vec<u8> = st.query_row([&ids[i]], |r| r.get(0)).unwrap();
                enterprise_sso::storage::codec::decode_connection(&bytes).unwrap();
                1
            });
            out.push((format!("raw get+decode, {threads} thr"), f));
        }
        ("sled" | "sled-flush", "update") => {
            let path = b::scratch_copy("raw-sled", n);
            let db = sled::open(&path).unwrap();
            let tree = db.open_tree("raw").unwrap();
            let ids: Vec<sled::IVec> = tree.iter().keys().map(|k| k.unwrap()).collect();
            let flush = engine == "sled-flush";
            // Plain floors, then the same writes each with a change-feed event appended
            // (what every write of the adapter also stores), like for like.
            let event = vec![b'e'; 2000];
            let seq = std::sync::atomic::AtomicU64::new(0);
            let mut floors = vec![(1usize, false), (16, false), (1, true), (16, true)];
            if tasks >= 64 {
                floors.push((64, true));
            }
            for (rows, with_event) in floors {
                let f = drive_threads(1, secs, |_, k| {
                    for r in 0..rows {
                        let i = (mix(k * 64 + r as u64 + 1) as usize) % ids.len();
                        tree.insert(&ids[i], records[(k as usize + r) % 64].as_slice())
                            .unwrap();
                        if with_event {
                            let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let key = [b"e".as_slice(), &n.to_be_bytes()].concat();
                            tree.insert(key, event.as_slice()).unwrap();
                        }
                    }
                    if flush {
                        db.flush().unwrap();
                    }
                    rows as u32
                });
                let what = if with_event { "key+event" } else { "key" };
                let per = if flush { "flush" } else { "batch" };
                out.push((format!("raw {rows} {what}/{per}"), f));
            }
        }
        ("sled" | "sled-flush", _) => {
            let path = b::scratch_copy("raw-sled", n);
            let db = sled::open(&path).unwrap();
            let tree = db.open_tree("raw").unwrap();
            let ids: Vec<sled::IVec> = tree.iter().keys().map(|k| k.unwrap()).collect();
            let hot = workload == "route-hot";
            let threads = tasks.min(2);
            let f = drive_threads(threads, secs, |t, k| {
                let span = if hot { ids.len().min(1000) } else { ids.len() };
                let i = (mix(k * 64 + t as u64 + 1) as usize) % span;
                let bytes = tree.get(&ids[i]).unwrap().unwrap();
                enterprise_sso::storage::codec::decode_connection(&bytes).unwrap();
                1
            });
            out.push((format!("raw get+decode, {threads} thr"), f));
        }
        _ => {}
    }
    out
}

/// The raw floor's settings: the adapter's defaults (WAL, FULL, memory map, cache).
const RAW_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
    PRAGMA mmap_size = 268435456; PRAGMA cache_size = -8192;";

fn raw_sqlite_ids(path: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c.prepare("SELECT id FROM raw ORDER BY id").unwrap();
    let ids: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    ids
}

async fn measure(store: DynStore, workload: &str, n: usize, tasks: usize, secs: f64) -> Figure {
    let svc = Arc::new(Connections::new(store.clone()));
    match workload {
        "update" => {
            let all: Vec<ConnectionId> =
                enterprise_sso::list_all(&store, &enterprise_sso::ListQuery::default())
                    .await
                    .expect("list")
                    .into_iter()
                    .map(|c| c.id)
                    .collect();
            let all = Arc::new(all);
            let stamp = Arc::new(AtomicU64::new(0));
            drive(tasks, secs, move |t, k| {
                let (svc, all, stamp) = (svc.clone(), all.clone(), stamp.clone());
                async move {
                    // Task t owns the connections i ≡ t (mod tasks): distinct writers.
                    let mine = all.len() / tasks;
                    let j = (mix(k + 1) as usize) % mine.max(1);
                    let id = &all[(j * tasks + t) % all.len()];
                    let s = stamp.fetch_add(1, Ordering::Relaxed);
                    let patch = UpdateConnection {
                        name: Patch::Value(format!("renamed {s}")),
                        ..Default::default()
                    };
                    svc.update(id, &patch).await.expect("update");
                }
            })
            .await
        }
        _ => {
            let span = if workload == "route-hot" {
                n.min(1000)
            } else {
                n
            };
            let emails: Arc<Vec<String>> = Arc::new(
                (0..span)
                    .map(|i| format!("user@{}", b::domain_of(i)))
                    .collect(),
            );
            drive(tasks, secs, move |t, k| {
                let (svc, emails) = (svc.clone(), emails.clone());
                async move {
                    let i = (mix(k * 64 + t as u64 + 1) as usize) % emails.len();
                    svc.route_email(&emails[i])
                        .await
                        .expect("route")
                        .expect("routed");
                }
            })
            .await
        }
    }
}

fn print_row(
    store: &str,
    workload: &str,
    tasks: usize,
    f: &Figure,
    vs: &[(String, Figure)],
    note: &str,
) {
    let ratios: Vec<String> = vs
        .iter()
        .map(|(label, fl)| {
            format!(
                "{label}: {:.0}/s ({:.0}%)",
                fl.ops_per_s,
                100.0 * f.ops_per_s / fl.ops_per_s.max(1e-9)
            )
        })
        .collect();
    println!(
        "| {store} | {workload} | {tasks} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {note} |",
        f.ops_per_s,
        f.p50_us,
        f.p99_us,
        f.cpu_us_per_op,
        ratios.join("; ")
    );
}

fn main() {
    let a = args();
    let run = Instant::now();
    watchdog(run, a.secs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "size {} connections, {} s per figure, tokio with 2 worker threads; floors measured just before each figure\n",
        a.size, a.secs
    );
    println!("| store | workload | tasks | ops/s | p50 µs | p99 µs | CPU µs/op | floor (same run): rows/s (ours as % of it) | note |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for store in &a.stores {
        for workload in &a.workloads {
            for &tasks in &a.tasks {
                let opened = rt.block_on(open_store(store, a.size));
                let Some((repo, engine, note)) = opened else {
                    eprintln!("skipping {store}: no server configured");
                    break;
                };
                figure_starts(run);
                let vs = floors(engine, workload, a.size, tasks, a.secs);
                figure_starts(run);
                let f = rt.block_on(measure(repo, workload, a.size, tasks, a.secs));
                print_row(store, workload, tasks, &f, &vs, &note());
            }
        }
    }
}
