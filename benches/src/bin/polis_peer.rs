//! enterprise-sso's side of the Ory Polis comparison (`benches/polis/run.sh`): the same
//! create (from IdP metadata XML) / lookup / get-then-update as `benches/polis/polis.mjs`
//! runs on Polis, on `SqliteRepo` in its default mode (FULL sync), timed the same way.
//!
//! ```sh
//! polis_peer <connections> <ops> <metadata.xml> <db file> <tasks>
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use enterprise_sso::{
    ConnectionId, Connections, CreateConnection, Patch, Provider, SamlPatch, UpdateConnection,
};
use enterprise_sso_sqlite::SqliteRepo;

type Svc = Connections<SqliteRepo>;

fn tenant(i: usize) -> String {
    format!("t{i}.bench.example.com")
}

/// Mean microseconds of `count` calls of `op`, after a warm-up of up to 50.
async fn timed<F, Fut>(count: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for k in 0..count.min(50) {
        op(k).await;
    }
    let t0 = Instant::now();
    for k in 0..count {
        op(k).await;
    }
    t0.elapsed().as_secs_f64() * 1e6 / count as f64
}

/// `tasks` tokio tasks sharing `count` operations: completed per second, and failures.
async fn concurrent<F, Fut>(tasks: usize, count: usize, op: F) -> (f64, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (op, next, failed) = (op.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= count {
                        break;
                    }
                    if !op(k).await {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    let failed = failed.load(Ordering::Relaxed);
    ((count - failed) as f64 / t0.elapsed().as_secs_f64(), failed)
}

async fn run(n: usize, ops: usize, metadata: String, db: String, tasks: usize) -> String {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
    let svc: Arc<Svc> = Arc::new(Connections::new(SqliteRepo::open(&db).expect("open")));
    let mut ids: Vec<ConnectionId> = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        // The same per-connection entity id as the Polis side.
        let xml = match metadata.find("entityID=\"") {
            Some(at) => {
                let start = at + "entityID=\"".len();
                let end = start + metadata[start..].find('"').unwrap_or(0);
                format!("{}-{i}{}", &metadata[..end], &metadata[end..])
            }
            None => metadata.clone(),
        };
        let mut p = CreateConnection::new(Provider::SamlCustom, format!("bench {i}"));
        p.active = Some(true);
        p.domains = Some(vec![tenant(i)]);
        p.saml = Some(SamlPatch {
            idp_metadata: Patch::Value(xml),
            ..Default::default()
        });
        ids.push(svc.create(&p).await.expect("create").id);
    }
    let create_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    let ids = Arc::new(ids);
    let pick = move |k: usize| (k * 7919) % n;
    let lookup = {
        let svc = svc.clone();
        move |k: usize| {
            let svc = svc.clone();
            async move {
                svc.route_email(&format!("user@{}", tenant(pick(k))))
                    .await
                    .map(|c| c.is_some())
                    .unwrap_or(false)
            }
        }
    };
    let update = {
        let (svc, ids) = (svc.clone(), ids.clone());
        move |k: usize| {
            let (svc, ids) = (svc.clone(), ids.clone());
            async move {
                let id = &ids[pick(k)];
                if svc.get(id).await.is_err() {
                    return false;
                }
                let patch = UpdateConnection {
                    name: Patch::Value(format!("renamed {k}")),
                    ..Default::default()
                };
                svc.update(id, &patch).await.is_ok()
            }
        }
    };
    let lookup_us = timed(ops, |k| {
        let f = lookup(k);
        async move { assert!(f.await, "lookup") }
    })
    .await;
    let update_us = timed((ops / 4).max(1), |k| {
        let f = update(k);
        async move { assert!(f.await, "update") }
    })
    .await;
    // The same lookups through the read cache (Polis has none): shared answers, all hits
    // after the first pass.
    let cached = Arc::new(enterprise_sso_cache::Cached::new(
        SqliteRepo::open(&db).expect("open"),
    ));
    for i in 0..n {
        let email = format!("user@{}", tenant(i));
        cached.route_email_shared(&email).await.expect("warm");
    }
    let cached_lookup_us = timed(ops, |k| {
        let cached = cached.clone();
        async move {
            let email = format!("user@{}", tenant(pick(k)));
            assert!(cached
                .route_email_shared(&email)
                .await
                .expect("route")
                .is_some());
        }
    })
    .await;
    let (lookup_per_s, lookup_failed) = concurrent(tasks, ops, lookup).await;
    let (update_per_s, update_failed) = concurrent(tasks, (ops / 4).max(1), update).await;
    format!(
        "{{\"engine\":\"enterprise-sso-sqlite\",\"connections\":{n},\"create_us\":{create_us},\
         \"lookup_us\":{lookup_us},\"cached_lookup_us\":{cached_lookup_us},\"update_us\":{update_us},\"tasks\":{tasks},\
         \"lookup_concurrent\":{{\"per_s\":{lookup_per_s},\"failed\":{lookup_failed}}},\
         \"update_concurrent\":{{\"per_s\":{update_per_s},\"failed\":{update_failed}}}}}"
    )
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        a.get(i)
            .cloned()
            .expect("polis_peer <n> <ops> <xml> <db> <tasks>")
    };
    let metadata = std::fs::read_to_string(arg(2)).expect("metadata");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(run(
        arg(0).parse().expect("n"),
        arg(1).parse().expect("ops"),
        metadata,
        arg(3),
        arg(4).parse().expect("tasks"),
    ));
    println!("{out}");
}
