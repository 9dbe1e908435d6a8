//! Space after a realistic update load: a private copy of the pristine store of `n`
//! connections gets `rounds` updates of every connection (16 tasks), then its size on disk
//! and the process's resident memory growth are printed beside the fresh figures.
//!
//! ```sh
//! cargo run --release -p enterprise-sso-benches --bin space -- [n=10000] [rounds=5]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use enterprise_sso::{ConnectionId, Connections, DynStore, Patch, UpdateConnection};
use enterprise_sso_benches as b;
use enterprise_sso_sled::SledRepo;
use enterprise_sso_sqlite::SqliteRepo;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn load(store: DynStore, rounds: usize) -> usize {
    let svc = Arc::new(Connections::new(store.clone()));
    let ids: Arc<Vec<ConnectionId>> = Arc::new(
        enterprise_sso::list_all(&store, &enterprise_sso::ListQuery::default())
            .await
            .expect("list")
            .into_iter()
            .map(|c| c.id)
            .collect(),
    );
    let tasks = 16;
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (svc, ids) = (svc.clone(), ids.clone());
            tokio::spawn(async move {
                for r in 0..rounds {
                    for id in ids.iter().skip(t).step_by(tasks) {
                        let patch = UpdateConnection {
                            name: Patch::Value(format!("round {r}")),
                            ..Default::default()
                        };
                        svc.update(id, &patch).await.expect("update");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    ids.len() * rounds
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(10_000, |a| a.parse().expect("n"));
    let rounds: usize = args.next().map_or(5, |a| a.parse().expect("rounds"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("| store | fresh on disk | after {rounds} updates of each of {n} connections | amplification | RSS growth during the load |");
    println!("|---|---|---|---|---|");
    for kind in ["sqlite", "sled"] {
        let path = b::scratch_copy(kind, n);
        let fresh = b::disk_size(&path);
        let rss0 = b::rss_bytes();
        let updates = {
            let store: DynStore = match kind {
                "sqlite" => Arc::new(SqliteRepo::open(&path).expect("open")),
                _ => Arc::new(SledRepo::open(&path).expect("open")),
            };
            rt.block_on(load(store, rounds))
        };
        let rss = b::rss_bytes().saturating_sub(rss0);
        // The store is closed (SQLite checkpointed its WAL, sled flushed).
        std::thread::sleep(std::time::Duration::from_millis(300));
        let after = b::disk_size(&path);
        println!(
            "| {kind} | {:.1} MiB ({:.1} KB/connection) | {:.1} MiB ({:.1} KB/connection) after {updates} updates | {:.2}× | {:.1} MiB |",
            mib(fresh),
            fresh as f64 / n as f64 / 1000.0,
            mib(after),
            after as f64 / n as f64 / 1000.0,
            after as f64 / fresh.max(1) as f64,
            mib(rss)
        );
    }
}
