//! PostgreSQL stores for the benchmarks: `PostgresRepo` in schema `bench_pg_{n}` and the
//! raw floor table `bench_raw.raw_{n}` (id, version, record: the same encoded records),
//! both filled once per server with the same deterministic connections and reused.
//! The server is `SSO_BENCH_POSTGRES_URL`, else `SSO_TEST_POSTGRES_URL`.

use enterprise_sso::storage::codec::encode_connection;
use enterprise_sso::ConnectionRepo;
use enterprise_sso_postgres::{PostgresOptions, PostgresRepo};

use crate::{connection, template};

/// The benchmark server's URL, if one is configured.
pub fn url() -> Option<String> {
    ["SSO_BENCH_POSTGRES_URL", "SSO_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
}

/// A pool of `size` raw connections to `url`.
pub fn raw_pool(url: &str, size: usize) -> deadpool_postgres::Pool {
    let config: tokio_postgres::Config = url.parse().expect("url");
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .expect("pool")
}

/// The adapter over `n` connections (filled on first use), with a pool of `pool_size`.
pub async fn repo(url: &str, n: usize, pool_size: usize) -> PostgresRepo {
    let opts = PostgresOptions {
        schema: format!("bench_pg_{n}"),
        pool_size,
        ..PostgresOptions::default()
    };
    let repo = PostgresRepo::connect_with(url, opts)
        .await
        .expect("connect");
    let have = repo
        .count(&enterprise_sso::ListQuery::default())
        .await
        .expect("count");
    if have != n as u64 {
        let client = repo.pool().get().await.expect("client");
        client
            .batch_execute(&format!(
                "TRUNCATE bench_pg_{n}.connections, bench_pg_{n}.connection_domains, \
                 bench_pg_{n}.accounts"
            ))
            .await
            .expect("truncate");
        let t = template();
        let mut tasks = Vec::new();
        for w in 0..32 {
            let repo = repo.clone();
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                for i in (w..n).step_by(32) {
                    repo.insert(&connection(&t, i)).await.expect("insert");
                }
            }));
        }
        for task in tasks {
            task.await.expect("fill");
        }
        client
            .batch_execute(&format!("VACUUM ANALYZE bench_pg_{n}.connections"))
            .await
            .expect("analyze");
    }
    repo
}

/// The raw floor table over the same records as [`repo`] (same ids), filled on first use.
pub async fn raw_table(pool: &deadpool_postgres::Pool, repo: &PostgresRepo, n: usize) -> String {
    let table = format!("bench_raw.raw_{n}");
    let client = pool.get().await.expect("client");
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS bench_raw;
             CREATE TABLE IF NOT EXISTS {table} (
                id text COLLATE \"C\" PRIMARY KEY, version bigint NOT NULL, record bytea NOT NULL)"
        ))
        .await
        .expect("create raw");
    let have: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count")
        .get(0);
    if have != n as i64 {
        client
            .batch_execute(&format!("TRUNCATE {table}"))
            .await
            .expect("truncate");
        let all = enterprise_sso::list_all(repo, &enterprise_sso::ListQuery::default())
            .await
            .expect("list");
        for chunk in all.chunks(1000) {
            let ids: Vec<String> = chunk.iter().map(|c| c.id.to_string()).collect();
            let versions: Vec<i64> = chunk.iter().map(|c| c.version as i64).collect();
            let records: Vec<Vec<u8>> = chunk.iter().map(encode_connection).collect();
            client
                .execute(
                    &format!(
                        "INSERT INTO {table} SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])"
                    ),
                    &[&ids, &versions, &records],
                )
                .await
                .expect("fill raw");
        }
        client
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("analyze");
    }
    table
}
