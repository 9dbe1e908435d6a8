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

fn adapter_ops(c: &mut Criterion, name: &str, n: usize, repo: &dyn Store) {
    let svc = Connections::new(repo);
    let ids = Cycle::new(b::sample_ids(repo, n, 1000));
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
    let raw = b::raw_sqlite(n);
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
    let (_db, tree) = b::raw_sled(n);
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

/// Floors on the adapter's own storage (same file, same WAL or log state): a raw read of the
/// record plus decode, and a raw single-row transactional write of the same bytes back.
fn same_store_floors_sqlite(c: &mut Criterion, n: usize) {
    let path = b::data_dir().join(format!("sqlite-{n}.db"));
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
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
    // Two valid, renamed versions of each record, alternated, so every write changes the
    // row while keeping it a consistent connection (its indexed columns do not change).
    let rows = Cycle::new(
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
    );
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
    c.bench_with_input(
        BenchmarkId::new("write/raw_sqlite_same_file", n),
        &n,
        |bn, _| {
            bn.iter(|| {
                let (id, record) = rows.next();
                let tx = raw.unchecked_transaction().unwrap();
                tx.prepare_cached("UPDATE connections SET record = ?2 WHERE id = ?1")
                    .unwrap()
                    .execute(rusqlite::params![id, record])
                    .unwrap();
                tx.commit().unwrap()
            })
        },
    );
}

fn same_store_floors_sled(c: &mut Criterion, n: usize, repo: &enterprise_sso_sled::SledRepo) {
    let tree = repo.db().open_tree("enterprise_sso/records").unwrap();
    let step = (n / 1000).max(1);
    let rows = Cycle::new(
        tree.iter()
            .map(|e| e.unwrap())
            .step_by(step)
            .take(1000)
            .flat_map(|(k, v)| {
                let c = decode_connection(&v).unwrap();
                let renamed = enterprise_sso::EnterpriseConnection {
                    name: format!("{} a", c.name),
                    ..c
                };
                [
                    (k.clone(), sled::IVec::from(encode_connection(&renamed))),
                    (k, v),
                ]
            })
            .collect::<Vec<_>>(),
    );
    c.bench_with_input(
        BenchmarkId::new("get/raw_sled_same_tree", n),
        &n,
        |bn, _| bn.iter(|| decode_connection(&tree.get(&rows.next().0).unwrap().unwrap()).unwrap()),
    );
    c.bench_with_input(
        BenchmarkId::new("write/raw_sled_same_tree", n),
        &n,
        |bn, _| {
            bn.iter(|| {
                let (k, v) = rows.next();
                tree.transaction(|t| {
                    t.insert(k, v)?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap()
            })
        },
    );
}

fn benches(c: &mut Criterion) {
    for n in sizes() {
        let mem = b::memory(n.min(100_000));
        if n <= 100_000 {
            adapter_ops(c, "memory", n, &mem);
        }
        drop(mem);
        let sqlite = b::sqlite(n);
        adapter_ops(c, "sqlite", n, &sqlite);
        same_store_floors_sqlite(c, n);
        drop(sqlite);
        let inline = b::sqlite_with(n, enterprise_sso_sqlite::Execution::Inline);
        adapter_ops(c, "sqlite_inline", n, &inline);
        drop(inline);
        let sled = b::sled_store(n);
        adapter_ops(c, "sled", n, &sled);
        same_store_floors_sled(c, n, &sled);
        drop(sled);
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
