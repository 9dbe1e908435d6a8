//! PostgreSQL benchmarks: `PostgresRepo` get, route, update, create and sign-in at 1k and
//! 100k connections, beside raw `tokio-postgres` floors measured in the same run and
//! interleaved with them (a prepared primary-key select of the same record plus the same
//! decode; a single-row compare-and-swap UPDATE in BEGIN/COMMIT). Then throughput with 16
//! concurrent tasks, adapter against the raw floor on 16 connections.
//!
//! Needs a server: `scripts/with-postgres.sh cargo bench -p enterprise-sso-benches --bench
//! postgres` (or `SSO_BENCH_POSTGRES_URL`). Without one it prints a notice and exits.
#![allow(missing_docs, clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use enterprise_sso::storage::codec::{decode_connection, encode_connection, encode_event};
use enterprise_sso::{
    Assertion, ConnectionId, ConnectionRepo, Connections, CreateConnection, Patch, Provider,
    SamlPatch, UpdateConnection,
};
use enterprise_sso_benches as b;

struct Cycle<T> {
    items: Vec<T>,
    at: Cell<usize>,
}

impl<T> Cycle<T> {
    fn new(items: Vec<T>) -> Self {
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

fn sizes() -> Vec<usize> {
    match std::env::var("SSO_BENCH_PG_SIZES") {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) => vec![1_000, 100_000],
    }
}

/// The raw write floor: one compare-and-swap `UPDATE` of `record` over `id` at `*version`
/// in its own transaction and, with `feed_row` (an `INSERT` and its record), one more row
/// in the same transaction.
async fn raw_write(
    pool: &deadpool_postgres::Pool,
    cas_sql: &str,
    id: &String,
    record: &Vec<u8>,
    version: &mut i64,
    feed_row: Option<(&str, &Vec<u8>)>,
) {
    let mut client = pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let st = tx.prepare_cached(cas_sql).await.unwrap();
    let changed = tx.execute(&st, &[id, record, &*version]).await.unwrap();
    assert_eq!(changed, 1);
    if let Some((sql, row)) = feed_row {
        let ev = tx.prepare_cached(sql).await.unwrap();
        tx.execute(&ev, &[row]).await.unwrap();
    }
    tx.commit().await.unwrap();
    *version += 1;
}

fn per_op(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str, n: usize) {
    let repo = rt.block_on(b::pg::repo(url, n, 16));
    let raw_pool = b::pg::raw_pool(url, 16);
    let table = rt.block_on(b::pg::raw_table(&raw_pool, &repo, n));
    let svc = Connections::new(repo.clone());
    // 1,000 ids spread over the whole store.
    let ids = Cycle::new(b::sample_ids(&repo, n, 1000));
    let raw_ids = Cycle::new(ids.items.iter().map(ConnectionId::to_string).collect());
    let step = (n / 1000).max(1);
    let exact = Cycle::new(
        (0..n)
            .step_by(step)
            .map(|i| format!("user@{}", b::domain_of(i)))
            .collect(),
    );
    let raw = rt.block_on(raw_pool.get()).unwrap();
    let get_sql = format!("SELECT record FROM {table} WHERE id = $1");
    let cas_sql = format!(
        "UPDATE {table} SET version = version + 1, record = $2 WHERE id = $1 AND version = $3"
    );
    let mut versions: HashMap<String, i64> = rt.block_on(async {
        let rows = raw
            .query(&format!("SELECT id, version FROM {table}"), &[])
            .await
            .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    });
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
    // Interleaved: each adapter figure right after its floor.
    c.bench_with_input(BenchmarkId::new("get/raw_postgres", n), &n, |bn, _| {
        bn.iter(|| {
            rt.block_on(async {
                let st = raw.prepare_cached(&get_sql).await.unwrap();
                let row = raw.query_one(&st, &[raw_ids.next()]).await.unwrap();
                decode_connection(row.get::<_, &[u8]>(0)).unwrap()
            })
        })
    });
    c.bench_with_input(BenchmarkId::new("get/postgres", n), &n, |bn, _| {
        bn.iter(|| rt.block_on(repo.get(ids.next())).unwrap().unwrap())
    });
    c.bench_with_input(BenchmarkId::new("route_exact/postgres", n), &n, |bn, _| {
        bn.iter(|| rt.block_on(svc.route_email(exact.next())).unwrap().unwrap())
    });
    c.bench_with_input(BenchmarkId::new("write/raw_postgres", n), &n, |bn, _| {
        bn.iter(|| {
            let id = raw_ids.next();
            let v = versions.get_mut(id).unwrap();
            rt.block_on(raw_write(&raw_pool, &cas_sql, id, records.next(), v, None))
        })
    });
    // The same write plus one feed row of the size an update appends (an event with the
    // connection's snapshot) in an append-only table: what any write that records its
    // event in the same transaction pays at least.
    let events_table = format!("{table}_events");
    rt.block_on(raw.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {events_table} \
         (seq bigserial PRIMARY KEY, created_at bigint NOT NULL, record bytea NOT NULL)"
    )))
    .unwrap();
    let event = {
        let renamed = enterprise_sso::EnterpriseConnection {
            name: "raw renamed".into(),
            ..template.clone()
        };
        let events = enterprise_sso::events::connection_events(Some(&template), Some(&renamed), 0);
        encode_event(&events[0])
    };
    let event_sql = format!("INSERT INTO {events_table} (created_at, record) VALUES (0, $1)");
    c.bench_with_input(
        BenchmarkId::new("write_event/raw_postgres", n),
        &n,
        |bn, _| {
            bn.iter(|| {
                let id = raw_ids.next();
                let v = versions.get_mut(id).unwrap();
                let feed_row = Some((event_sql.as_str(), &event));
                rt.block_on(raw_write(
                    &raw_pool,
                    &cas_sql,
                    id,
                    records.next(),
                    v,
                    feed_row,
                ))
            })
        },
    );
    let counter = Cell::new(0u64);
    c.bench_with_input(BenchmarkId::new("update/postgres", n), &n, |bn, _| {
        bn.iter(|| {
            counter.set(counter.get() + 1);
            let patch = UpdateConnection {
                name: Patch::Value(format!("renamed {}", counter.get())),
                ..Default::default()
            };
            rt.block_on(svc.update(ids.next(), &patch)).unwrap()
        })
    });
    let tag = ConnectionId::generate().as_str()[4..].to_lowercase();
    let cert = template.saml().unwrap().idp_certificate.clone().unwrap();
    let mut created = Vec::new();
    c.bench_with_input(BenchmarkId::new("create/postgres", n), &n, |bn, _| {
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
            created.push(rt.block_on(svc.create(&p)).unwrap().id)
        })
    });
    // Restore the labelled size: the created connections are deleted again.
    rt.block_on(async {
        for id in &created {
            repo.delete(id, UnixMillis::new(0)).await.unwrap();
        }
    });
    let users = Cycle::new((0..100).collect::<Vec<u32>>());
    let conn0 = ids.items[0].clone();
    let dom0 = rt.block_on(repo.get(&conn0)).unwrap().unwrap().domains[0].to_string();
    c.bench_with_input(BenchmarkId::new("sign_in/postgres", n), &n, |bn, _| {
        bn.iter(|| {
            let u = users.next();
            let a = Assertion::new(&format!("user-{u}"), [("firstName", "Bench")])
                .with_email(&format!("u{u}@{dom0}"));
            rt.block_on(svc.record_sign_in(&conn0, &a)).unwrap()
        })
    });
}

/// Operations per second of `tasks` tasks each running `op` for `secs` seconds.
async fn throughput<F, Fut>(tasks: usize, secs: u64, op: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let mut k = 0;
            while Instant::now() < deadline {
                op(t, k).await;
                k += 1;
            }
            k
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn concurrent(rt: &tokio::runtime::Runtime, url: &str, n: usize) {
    const TASKS: usize = 16;
    let repo = rt.block_on(b::pg::repo(url, n, TASKS));
    let pool = b::pg::raw_pool(url, TASKS);
    let table = rt.block_on(b::pg::raw_table(&pool, &repo, n));
    let ids: Arc<Vec<ConnectionId>> = Arc::new(b::sample_ids(&repo, n, 1024));
    let raw_ids: Arc<Vec<String>> = Arc::new(ids.iter().map(ConnectionId::to_string).collect());
    let secs = 5;
    let get_sql = Arc::new(format!("SELECT record FROM {table} WHERE id = $1"));
    let raw_reads = rt.block_on(throughput(TASKS, secs, {
        let (pool, raw_ids, get_sql) = (pool.clone(), raw_ids.clone(), get_sql.clone());
        move |t, k| {
            let (pool, raw_ids, get_sql) = (pool.clone(), raw_ids.clone(), get_sql.clone());
            async move {
                let c = pool.get().await.unwrap();
                let st = c.prepare_cached(&get_sql).await.unwrap();
                let row = c
                    .query_one(&st, &[&raw_ids[(t * 64 + k) % raw_ids.len()]])
                    .await
                    .unwrap();
                decode_connection(row.get::<_, &[u8]>(0)).unwrap();
            }
        }
    }));
    let reads = rt.block_on(throughput(TASKS, secs, {
        let (repo, ids) = (repo.clone(), ids.clone());
        move |t, k| {
            let (repo, ids) = (repo.clone(), ids.clone());
            async move {
                repo.get(&ids[(t * 64 + k) % ids.len()])
                    .await
                    .unwrap()
                    .unwrap();
            }
        }
    }));
    // Updates: each task owns its slice of connections, so writers do not contend.
    let cas_sql = Arc::new(format!(
        "UPDATE {table} SET version = version + 1, record = $2 WHERE id = $1"
    ));
    let record = Arc::new(encode_connection(&b::template()));
    let raw_writes = rt.block_on(throughput(TASKS, secs, {
        let (pool, raw_ids, cas_sql, record) = (
            pool.clone(),
            raw_ids.clone(),
            cas_sql.clone(),
            record.clone(),
        );
        move |t, k| {
            let (pool, raw_ids, cas_sql, record) = (
                pool.clone(),
                raw_ids.clone(),
                cas_sql.clone(),
                record.clone(),
            );
            async move {
                let mut c = pool.get().await.unwrap();
                let tx = c.transaction().await.unwrap();
                let st = tx.prepare_cached(&cas_sql).await.unwrap();
                let per = raw_ids.len() / TASKS;
                let id = &raw_ids[t * per + k % per];
                tx.execute(&st, &[id, &*record]).await.unwrap();
                tx.commit().await.unwrap();
            }
        }
    }));
    let writes = rt.block_on(throughput(TASKS, secs, {
        let (repo, ids) = (repo.clone(), ids.clone());
        move |t, k| {
            let (repo, ids) = (repo.clone(), ids.clone());
            async move {
                let svc = Connections::new(repo);
                let patch = UpdateConnection {
                    name: Patch::Value(format!("c{t}-{k}")),
                    ..Default::default()
                };
                let per = ids.len() / TASKS;
                svc.update(&ids[t * per + k % per], &patch).await.unwrap();
            }
        }
    }));
    println!(
        "postgres throughput n={n}, {TASKS} tasks, {secs} s each: \
         reads {reads:.0}/s vs raw {raw_reads:.0}/s ({:.2}x); \
         updates {writes:.0}/s vs raw CAS {raw_writes:.0}/s ({:.2}x)",
        reads / raw_reads,
        writes / raw_writes
    );
}

fn main() {
    let Some(url) = b::pg::url() else {
        eprintln!(
            "postgres bench: set SSO_BENCH_POSTGRES_URL or run it under scripts/with-postgres.sh"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    for n in sizes() {
        per_op(&mut c, &rt, &url, n);
        concurrent(&rt, &url, n);
    }
    c.final_summary();
}
