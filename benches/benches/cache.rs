//! The read cache: `route_email` and `get` answered from `Cached` at 1,000, 100,000 and
//! (with `SSO_BENCH_1M=1`) 1,000,000 connections, over the memory store and over SQLite
//! (100,000), beside the same calls without the cache. A hit must cost the same at every
//! size: it never touches the store.
#![allow(missing_docs, clippy::unwrap_used)]

use std::cell::Cell;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use enterprise_sso::{ConnectionRepo, Connections, EventFeed};
use enterprise_sso_benches as b;
use enterprise_sso_cache::{CacheOptions, Cached};
use futures_executor::block_on;

fn sizes() -> Vec<usize> {
    let mut v = vec![1_000, 100_000];
    if std::env::var("SSO_BENCH_1M").is_ok() {
        v.push(1_000_000);
    }
    v
}

/// 1,000 emails spread over the store (the hot set the cache holds).
fn hot(n: usize) -> Vec<String> {
    let step = (n / 1000).max(1);
    (0..n)
        .step_by(step)
        .take(1000)
        .map(|i| format!("user@{}", b::domain_of(i)))
        .collect()
}

fn run<S: ConnectionRepo + EventFeed>(c: &mut Criterion, label: &str, n: usize, store: S) {
    let emails = hot(n);
    let cached = Cached::with_options(
        store,
        CacheOptions {
            sync_interval: Duration::from_secs(3600),
            ..CacheOptions::default()
        },
    );
    let svc = Connections::new(&cached);
    let ids: Vec<_> = emails
        .iter()
        .map(|e| block_on(svc.route_email(e)).unwrap().unwrap().id)
        .collect();
    let at = Cell::new(0usize);
    let next = || {
        let i = at.get();
        at.set((i + 1) % emails.len());
        i
    };
    c.bench_with_input(
        BenchmarkId::new(format!("route_hit/{label}"), n),
        &n,
        |bn, _| bn.iter(|| block_on(svc.route_email(&emails[next()])).unwrap().unwrap()),
    );
    c.bench_with_input(
        BenchmarkId::new(format!("get_hit/{label}"), n),
        &n,
        |bn, _| bn.iter(|| block_on(svc.get(&ids[next()])).unwrap()),
    );
    c.bench_with_input(
        BenchmarkId::new(format!("route_hit_shared/{label}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                block_on(cached.route_email_shared(&emails[next()]))
                    .unwrap()
                    .unwrap()
            })
        },
    );
    c.bench_with_input(
        BenchmarkId::new(format!("get_hit_shared/{label}"), n),
        &n,
        |bn, _| bn.iter(|| block_on(cached.get_shared(&ids[next()])).unwrap().unwrap()),
    );
    let stats = cached.stats();
    assert!(stats.hits > stats.misses, "{stats:?}");
    let plain = Connections::new(cached.inner());
    c.bench_with_input(
        BenchmarkId::new(format!("route_uncached/{label}"), n),
        &n,
        |bn, _| {
            bn.iter(|| {
                block_on(plain.route_email(&emails[next()]))
                    .unwrap()
                    .unwrap()
            })
        },
    );
}

fn benches(c: &mut Criterion) {
    for n in sizes() {
        run(c, "memory", n, b::memory(n));
        if n == 100_000 {
            let path = b::scratch_copy("sqlite", n);
            run(
                c,
                "sqlite",
                n,
                enterprise_sso_sqlite::SqliteRepo::open(path).unwrap(),
            );
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = cache; config = config(); targets = benches }
criterion_main!(cache);
