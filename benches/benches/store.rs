//! Store benchmarks: each operation on each adapter at each store size, and the raw-engine
//! floors measured in the same run. `SSO_BENCH_1M=1` adds 1,000,000 connections.
//! Run: `cargo bench -p enterprise-sso-benches`, then `python3 benches/report.py`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::cell::Cell;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use enterprise_sso::storage::codec::{decode_connection, encode_connection};
use enterprise_sso::{
    Assertion, ConnectionId, Connections, CreateConnection, ListQuery, Patch, Provider, SamlPatch,
    Store, UpdateConnection,
};
use enterprise_sso_benches as b;
use futures_executor::block_on;

fn sizes() -> Vec<usize> {
    let mut v = vec![1_000, 100_000];
    if std::env::var("SSO_BENCH_1M").is_ok() {
        v.push(1_000_000);
    }
    v
}

/// Cycles through a sample so each iteration hits another key.
struct Cycle<T> {
    items: Vec<T>,
    at: Cell<usize>,
}

impl<T> Cycle<T> {
    fn new(items: Vec<T>) -> Self {
        assert!(!items.is_empty());
        Cycle {
            items,
            at: Cell::new(0),
        }
    }
    fn next(&self) -> &T {
        let i = self.at.get();
        self.at.set((i + 1) % self.items.len());
        &self.items[i]
    }
}

/// Floors measured right after the adapter figure they divide (same run, seconds apart).
#[derive(Default)]
struct Floors<'a> {
    get: Option<Bench<'a>>,
    write: Option<Bench<'a>>,
    /// The same write with a ~2 KB change-feed event appended in its transaction (what
    /// every write of the adapter also stores): the like-for-like floor.
    write_with_event: Option<Bench<'a>>,
}

/// A benchmark to run later.
type Bench<'a> = Box<dyn FnMut(&mut Criterion) + 'a>;

/// Every id of the store in a scattered order (keys across the whole store).
fn all_ids_scattered(repo: &dyn Store) -> Vec<ConnectionId> {
    let mut all: Vec<ConnectionId> =
        block_on(enterprise_sso::list_all(repo, &ListQuery::default()))
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
    // A fixed pseudo-random permutation (xorshift keys), so runs compare.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut keyed: Vec<(u64, ConnectionId)> = all
        .drain(..)
        .map(|id| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x, id)
        })
        .collect();
    keyed.sort_unstable_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, id)| id).collect()
}

fn adapter_ops(c: &mut Criterion, name: &str, n: usize, repo: &dyn Store, mut floors: Floors<'_>) {
    let svc = Connections::new(repo);
    // The hot set: 1,000 keys spread over the store, cycled (pages stay cached).
    let ids = Cycle::new(b::sample_ids(repo, n, 1000));
    // Keys across the whole store, each read once per pass.
    let whole = Cycle::new(all_ids_scattered(repo));
    let step = (n / 1000).max(1);
    let exact = Cycle::new(
        (0..n)
            .step_by(step)
            .map(|i| format!("user@{}", b::domain_of(i)))
            .collect(),
    );
    let sub = Cycle::new(
        (0..n)
            .step_by(step)
            .map(|i| format!("user@x.{}", b::domain_of(i)))
            .collect(),
    );
    let orgs = Cycle::new((0..n).step_by(step).map(b::org_of).collect());
    let counter = Cell::new(0u64);
    let tag = format!(
        "{n}-{}",
        ConnectionId::generate().as_str()[4..].to_lowercase()
    );

    c.bench_with_input(BenchmarkId::new(format!("get/{name}"), n), &n, |bn, _| {
        bn.iter(|| block_on(repo.get(ids.next())).unwrap())
    });
    c.bench_with_input(
        BenchmarkId::new(format!("get_whole/{name}"), n),
        &n,
        |bn, _| bn.iter(|| block_on(repo.get(whole.next())).unwrap()),
    );
    if let Some(f) = floors.get.as_mut() {
        f(c);
    }
    c.bench_with_input(
        BenchmarkId::new(format!("route_exact/{name}"), n),
        &n,
        |bn, _| bn.iter(|| block_on(svc.route_email(exact.next())).unwrap().unwrap()),
    );
    c.bench_with_input(
        BenchmarkId::new(format!("route_subdomain/{name}"), n),
        &n,
        |bn, _| bn.iter(|| block_on(svc.route_email(sub.next())).unwrap().unwrap()),
    );
    c.bench_with_input(
        BenchmarkId::new(format!("list_org_page/{name}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                let q = ListQuery {
                    organization_id: Some(orgs.next().clone()),
                    limit: 10,
                    ..Default::default()
                };
                block_on(svc.list(&q)).unwrap()
            })
        },
    );
    c.bench_with_input(
        BenchmarkId::new(format!("update/{name}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                counter.set(counter.get() + 1);
                let patch = UpdateConnection {
                    name: Patch::Value(format!("renamed {}", counter.get())),
                    ..Default::default()
                };
                block_on(svc.update(ids.next(), &patch)).unwrap()
            })
        },
    );
    if let Some(f) = floors.write.as_mut() {
        f(c);
    }
    if let Some(f) = floors.write_with_event.as_mut() {
        f(c);
    }
    let template = b::template();
    let cert = template.saml().unwrap().idp_certificate.clone().unwrap();
    c.bench_with_input(
        BenchmarkId::new(format!("create/{name}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                counter.set(counter.get() + 1);
                let mut p = CreateConnection::new(Provider::SamlOkta, "new");
                p.domains = Some(vec![format!("new{}-{tag}.example.com", counter.get())]);
                p.saml = Some(SamlPatch {
                    idp_entity_id: Patch::Value("urn:bench".into()),
                    idp_sso_url: Patch::Value("https://idp.example.com/sso".into()),
                    idp_certificate: Patch::Value(cert.clone()),
                    ..Default::default()
                });
                block_on(svc.create(&p)).unwrap()
            })
        },
    );
    let metadata = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/enterprise-sso/tests/fixtures/saml/okta.metadata.xml"
    ))
    .unwrap();
    c.bench_with_input(
        BenchmarkId::new(format!("create_metadata/{name}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                counter.set(counter.get() + 1);
                let mut p = CreateConnection::new(Provider::SamlOkta, "new");
                p.domains = Some(vec![format!("md{}-{tag}.example.com", counter.get())]);
                p.saml = Some(SamlPatch {
                    idp_metadata: Patch::Value(metadata.clone()),
                    ..Default::default()
                });
                block_on(svc.create(&p)).unwrap()
            })
        },
    );
    let users = Cycle::new((0..100).collect::<Vec<u32>>());
    let conn0 = ids.items[0].clone();
    let dom0 = block_on(repo.get(&conn0)).unwrap().unwrap().domains[0].to_string();
    c.bench_with_input(
        BenchmarkId::new(format!("sign_in/{name}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                let u = users.next();
                let a = Assertion::new(&format!("user-{u}"), [("firstName", "Bench")])
                    .with_email(&format!("u{u}@{dom0}"));
                block_on(svc.record_sign_in(&conn0, &a)).unwrap()
            })
        },
    );
}

fn floors(c: &mut Criterion, n: usize) {
    // Raw rusqlite: a prepared (cached) statement by primary key, then the same decode.
    // Private copies: the writes below never reach the pristine raw stores.
    let raw = rusqlite::Connection::open(b::scratch_copy("raw-sqlite", n)).unwrap();
    raw.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         PRAGMA mmap_size = 268435456; PRAGMA cache_size = -8192;",
    )
    .unwrap();
    let ids: Cycle<String> = Cycle::new({
        let step = (n / 1000).max(1);
        let mut st = raw.prepare("SELECT id FROM raw ORDER BY id").unwrap();
        let all: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|s| s.unwrap())
            .collect();
        all.into_iter().step_by(step).take(1000).collect()
    });
    c.bench_with_input(BenchmarkId::new("get/raw_sqlite", n), &n, |bn, _| {
        bn.iter(|| {
            let mut st = raw
                .prepare_cached("SELECT record FROM raw WHERE id = ?1")
                .unwrap();
            let bytes: Vec<u8> = st.query_row([ids.next()], |r| r.get(0)).unwrap();
            decode_connection(&bytes).unwrap()
        })
    });
    // Raw rusqlite single-row transactional write of a changed record: 1,001 distinct
    // encodings cycled over 1,000 ids, so no write repeats the stored bytes (SQLite skips
    // writing pages whose content does not change).
    let template = b::template();
    let records = Cycle::new(
        (0..1001)
            .map(|k| {
                encode_connection(&enterprise_sso::EnterpriseConnection {
                    name: format!("raw {k}"),
                    ..template.clone()
                })
            })
            .collect::<Vec<_>>(),
    );
    c.bench_with_input(BenchmarkId::new("write/raw_sqlite", n), &n, |bn, _| {
        bn.iter(|| {
            let tx = raw.unchecked_transaction().unwrap();
            tx.prepare_cached("UPDATE raw SET record = ?2 WHERE id = ?1")
                .unwrap()
                .execute(rusqlite::params![ids.next(), records.next()])
                .unwrap();
            tx.commit().unwrap()
        })
    });
    // Raw sled: a get, then the same decode; a single-key transactional write.
    let db = sled::open(b::scratch_copy("raw-sled", n)).unwrap();
    let tree = db.open_tree("raw").unwrap();
    let ids: Cycle<sled::IVec> = Cycle::new({
        let step = (n / 1000).max(1);
        tree.iter()
            .keys()
            .map(|k| k.unwrap())
            .step_by(step)
            .take(1000)
            .collect()
    });
    c.bench_with_input(BenchmarkId::new("get/raw_sled", n), &n, |bn, _| {
        bn.iter(|| decode_connection(&tree.get(ids.next()).unwrap().unwrap()).unwrap())
    });
    c.bench_with_input(BenchmarkId::new("write/raw_sled", n), &n, |bn, _| {
        bn.iter(|| {
            let (id, record) = (ids.next(), records.next());
            tree.transaction(|t| {
                t.insert(id, record.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .unwrap()
        })
    });
}

/// Floors on the adapter's own storage (same file, same WAL or log state), run right after
/// the adapter figure they divide: a raw read of the record plus decode, and a raw
/// single-row transactional write of a changed record.
fn sqlite_floors(path: &std::path::Path, n: usize) -> Floors<'static> {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA mmap_size = 268435456; PRAGMA cache_size = -8192;",
    )
    .unwrap();
    let rows: Vec<(String, Vec<u8>)> = {
        let step = (n / 1000).max(1);
        let mut st = raw
            .prepare("SELECT id, record FROM connections ORDER BY id")
            .unwrap();
        let all: Vec<(String, Vec<u8>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|x| x.unwrap())
            .collect();
        all.into_iter().step_by(step).take(1000).collect()
    };
    raw.execute_batch(
        "CREATE TABLE IF NOT EXISTS raw_events (position INTEGER PRIMARY KEY, record BLOB NOT NULL)",
    )
    .unwrap();
    let rows = std::rc::Rc::new(renamed_pairs(rows));
    let raw = std::rc::Rc::new(raw);
    let (raw2, rows2) = (raw.clone(), rows.clone());
    let (raw3, rows3) = (raw.clone(), rows.clone());
    Floors {
        get: Some(Box::new(move |c: &mut Criterion| {
            c.bench_with_input(
                BenchmarkId::new("get/raw_sqlite_same_file", n),
                &n,
                |bn, _| {
                    bn.iter(|| {
                        let mut st = raw
                            .prepare_cached("SELECT record FROM connections WHERE id = ?1")
                            .unwrap();
                        let bytes: Vec<u8> = st.query_row([&rows.next().0], |r| r.get(0)).unwrap();
                        decode_connection(&bytes).unwrap()
                    })
                },
            );
        })),
        write: Some(Box::new(move |c: &mut Criterion| {
            c.bench_with_input(
                BenchmarkId::new("write/raw_sqlite_same_file", n),
                &n,
                |bn, _| {
                    bn.iter(|| {
                        let (id, record) = rows2.next();
                        let tx = raw2.unchecked_transaction().unwrap();
                        tx.prepare_cached("UPDATE connections SET record = ?2 WHERE id = ?1")
                            .unwrap()
                            .execute(rusqlite::params![id, record])
                            .unwrap();
                        tx.commit().unwrap()
                    })
                },
            );
        })),
        write_with_event: Some(Box::new(move |c: &mut Criterion| {
            let event = vec![b'e'; 2000];
            c.bench_with_input(
                BenchmarkId::new("write/raw_sqlite_same_file_with_event", n),
                &n,
                |bn, _| {
                    bn.iter(|| {
                        let (id, record) = rows3.next();
                        let tx = raw3.unchecked_transaction().unwrap();
                        tx.prepare_cached("UPDATE connections SET record = ?2 WHERE id = ?1")
                            .unwrap()
                            .execute(rusqlite::params![id, record])
                            .unwrap();
                        tx.prepare_cached("INSERT INTO raw_events (record) VALUES (?1)")
                            .unwrap()
                            .execute([&event])
                            .unwrap();
                        tx.commit().unwrap()
                    })
                },
            );
        })),
    }
}

/// Two valid versions of each record (renamed, and as stored), alternated, so every write
/// changes the row while keeping it a consistent connection.
fn renamed_pairs<K: Clone>(rows: Vec<(K, Vec<u8>)>) -> Cycle<(K, Vec<u8>)> {
    Cycle::new(
        rows.into_iter()
            .flat_map(|(id, bytes)| {
                let c = decode_connection(&bytes).unwrap();
                let renamed = enterprise_sso::EnterpriseConnection {
                    name: format!("{} a", c.name),
                    ..c
                };
                [(id.clone(), encode_connection(&renamed)), (id, bytes)]
            })
            .collect::<Vec<_>>(),
    )
}

/// The sled floors on the adapter's own tree (its record keys); with `flush`, each write is flushed
/// (the floor of flush-on-write mode).
fn sled_floors(repo: &enterprise_sso_sled::SledRepo, n: usize, flush: bool) -> Floors<'static> {
    let db = repo.db().clone();
    let tree = repo.tree().clone();
    let step = (n / 1000).max(1);
    let rows: Vec<(sled::IVec, Vec<u8>)> = tree
        .scan_prefix([enterprise_sso_sled::Kind::Record.byte()])
        .map(|e| e.unwrap())
        .step_by(step)
        .take(1000)
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    let rows = std::rc::Rc::new(renamed_pairs(rows));
    let (tree2, rows2) = (tree.clone(), rows.clone());
    let (db3, tree3, rows3) = (db.clone(), tree.clone(), rows.clone());
    let label = if flush {
        "raw_sled_same_tree_flush"
    } else {
        "raw_sled_same_tree"
    };
    Floors {
        get: Some(Box::new(move |c: &mut Criterion| {
            c.bench_with_input(BenchmarkId::new(format!("get/{label}"), n), &n, |bn, _| {
                bn.iter(|| decode_connection(&tree.get(&rows.next().0).unwrap().unwrap()).unwrap())
            });
        })),
        write: Some(Box::new(move |c: &mut Criterion| {
            c.bench_with_input(
                BenchmarkId::new(format!("write/{label}"), n),
                &n,
                |bn, _| {
                    bn.iter(|| {
                        let (k, v) = rows2.next();
                        tree2
                            .transaction(|t| {
                                t.insert(k, v.as_slice())?;
                                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                            })
                            .unwrap();
                        if flush {
                            db.flush().unwrap();
                        }
                    })
                },
            );
        })),
        write_with_event: Some(Box::new(move |c: &mut Criterion| {
            let event = vec![b'e'; 2000];
            let mut seq = 0u64;
            c.bench_with_input(
                BenchmarkId::new(format!("write/{label}_with_event"), n),
                &n,
                |bn, _| {
                    bn.iter(|| {
                        let (k, v) = rows3.next();
                        seq += 1;
                        // Past every key kind of the store: appended at the tree's end.
                        let e = [[0xff].as_slice(), &seq.to_be_bytes()].concat();
                        tree3
                            .transaction(|t| {
                                t.insert(k, v.as_slice())?;
                                t.insert(e.as_slice(), event.as_slice())?;
                                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                            })
                            .unwrap();
                        if flush {
                            db3.flush().unwrap();
                        }
                    })
                },
            );
        })),
    }
}

/// Every adapter runs on a private copy of the pristine store of its size, so writes in
/// one run (creates, updates, sign-ins) never change what a later run reads.
fn benches(c: &mut Criterion) {
    use enterprise_sso_sled::{SledOptions, SledRepo};
    use enterprise_sso_sqlite::{Execution, SqliteOptions, SqliteRepo};
    for n in sizes() {
        if n <= 100_000 {
            let mem = b::memory(n);
            adapter_ops(c, "memory", n, &mem, Floors::default());
        }
        for (name, execution) in [
            ("sqlite", Execution::ReadsInline),
            ("sqlite_threads", Execution::Threads),
            ("sqlite_inline", Execution::Inline),
        ] {
            let path = b::scratch_copy("sqlite", n);
            let opts = SqliteOptions {
                execution,
                ..Default::default()
            };
            let repo = SqliteRepo::open_with(&path, opts).unwrap();
            let floors = if execution == Execution::ReadsInline {
                sqlite_floors(&path, n)
            } else {
                Floors::default()
            };
            adapter_ops(c, name, n, &repo, floors);
        }
        for (name, flush_on_write) in [("sled", false), ("sled_flush", true)] {
            let path = b::scratch_copy("sled", n);
            let opts = SledOptions {
                flush_on_write,
                ..Default::default()
            };
            let repo = SledRepo::open_with(&path, opts).unwrap();
            let floors = sled_floors(&repo, n, flush_on_write);
            adapter_ops(c, name, n, &repo, floors);
        }
        floors(c, n);
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = store; config = config(); targets = benches }
criterion_main!(store);
