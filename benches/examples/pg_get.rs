#![allow(clippy::unwrap_used)]
use enterprise_sso::storage::codec::decode_connection;
use enterprise_sso::ConnectionRepo;
use enterprise_sso_benches as b;
use std::time::Instant;
fn main() {
    let url = b::pg::url().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let n = 1000;
    let repo = rt.block_on(b::pg::repo(&url, n, 16));
    let ids = b::sample_ids(&repo, n, 1000);
    let sids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let raw_pool = b::pg::raw_pool(&url, 16);
    let table = rt.block_on(b::pg::raw_table(&raw_pool, &repo, n));
    let raw = rt.block_on(raw_pool.get()).unwrap();
    let get_sql = format!("SELECT record FROM {table} WHERE id = $1");
    let ad_sql = format!("SELECT record FROM bench_pg_{n}.connections WHERE id = $1");
    for round in 0..3 {
        let t = Instant::now();
        for i in 0..3000 {
            rt.block_on(async {
                let st = raw.prepare_cached(&get_sql).await.unwrap();
                let row = raw.query_one(&st, &[&sids[i % 1000]]).await.unwrap();
                decode_connection(row.get::<_, &[u8]>(0)).unwrap()
            });
        }
        println!(
            "{round} raw held client: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for i in 0..3000 {
            rt.block_on(async {
                let st = raw.prepare_cached(&ad_sql).await.unwrap();
                let row = raw.query_one(&st, &[&sids[i % 1000]]).await.unwrap();
                decode_connection(row.get::<_, &[u8]>(0)).unwrap()
            });
        }
        println!(
            "{round} raw client, adapter table: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for i in 0..3000 {
            rt.block_on(async {
                let c = repo.pool().get().await.unwrap();
                let st = c.prepare_cached(&ad_sql).await.unwrap();
                let row = c.query_one(&st, &[&sids[i % 1000]]).await.unwrap();
                decode_connection(row.get::<_, &[u8]>(0)).unwrap()
            });
        }
        println!(
            "{round} adapter pool get per call: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for i in 0..3000 {
            rt.block_on(async {
                let c = raw_pool.get().await.unwrap();
                let st = c.prepare_cached(&ad_sql).await.unwrap();
                let row = c.query_one(&st, &[&sids[i % 1000]]).await.unwrap();
                decode_connection(row.get::<_, &[u8]>(0)).unwrap()
            });
        }
        println!(
            "{round} raw pool get per call: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for _ in 0..3000 {
            rt.block_on(async {
                drop(repo.pool().get().await.unwrap());
            });
        }
        println!(
            "{round} adapter pool get only: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for _ in 0..3000 {
            rt.block_on(async {
                drop(raw_pool.get().await.unwrap());
            });
        }
        println!(
            "{round} raw pool get only: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for i in 0..3000 {
            rt.block_on(repo.get(&ids[i % 1000])).unwrap().unwrap();
        }
        println!(
            "{round} repo.get: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
        let t = Instant::now();
        for i in 0..3000 {
            rt.block_on(async { repo.get(&ids[i % 1000]).await })
                .unwrap()
                .unwrap();
        }
        println!(
            "{round} repo.get in async: {:.1}",
            t.elapsed().as_secs_f64() / 3000.0 * 1e6
        );
    }
}
