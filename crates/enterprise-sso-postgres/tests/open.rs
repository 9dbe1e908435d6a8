//! Opening a store: connect errors are typed and come within the timeout; migrations run
//! once when replicas open at the same moment; a newer schema is refused untouched.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use enterprise_sso::{ConnectionRepo, ListQuery};
use enterprise_sso_postgres::{PostgresError, PostgresOptions, PostgresRepo, SCHEMA_VERSION};

fn with_timeout(schema: &str, secs: u64) -> PostgresOptions {
    PostgresOptions {
        connect_timeout: Duration::from_secs(secs),
        ..common::options(schema)
    }
}

/// `url` with another user, password, port or database.
fn variant(url: &str, user: &str, port: Option<u16>, db: Option<&str>) -> String {
    let rest = url.split_once("://").unwrap().1;
    let host_and_db = rest.split_once('@').map_or(rest, |(_, h)| h);
    let (hostport, dbname) = host_and_db.split_once('/').unwrap();
    let host = hostport.split(':').next().unwrap();
    let port = port.map_or_else(
        || hostport.split(':').nth(1).unwrap_or("5432").to_owned(),
        |p| p.to_string(),
    );
    format!("postgres://{user}@{host}:{port}/{}", db.unwrap_or(dbname))
}

#[tokio::test]
async fn connect_errors_are_typed_and_timely() {
    let Some(url) = common::url() else { return };
    let schema = common::unique_schema("open");
    let deadline = Duration::from_secs(3);

    let t = Instant::now();
    let wrong = variant(&url, "sso_pw:wrong-password", None, None);
    let e = PostgresRepo::connect_with(&wrong, with_timeout(&schema, 2))
        .await
        .unwrap_err();
    assert!(matches!(e, PostgresError::Authentication { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("wrong-password"), "{e:?}");

    let missing = variant(&url, "postgres", None, Some("no_such_database"));
    let e = PostgresRepo::connect_with(&missing, with_timeout(&schema, 2))
        .await
        .unwrap_err();
    assert!(matches!(e, PostgresError::DatabaseMissing { .. }), "{e:?}");

    // A port nothing listens on: refused at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = PostgresRepo::connect_with(
        &variant(&url, "postgres", Some(closed), None),
        with_timeout(&schema, 2),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            PostgresError::Unreachable { .. } | PostgresError::Timeout
        ),
        "{e:?}"
    );
    assert!(t.elapsed() < deadline * 3, "{:?}", t.elapsed());

    // A port that accepts and never answers: the connect timeout ends it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let t = Instant::now();
    let e = PostgresRepo::connect_with(
        &variant(&url, "postgres", Some(port), None),
        with_timeout(&schema, 1),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            PostgresError::Unreachable { .. } | PostgresError::Timeout
        ),
        "{e:?}"
    );
    assert!(t.elapsed() < deadline, "took {:?}", t.elapsed());

    let e = PostgresRepo::connect_with(&url, common::options("Bad-Name; DROP"))
        .await
        .unwrap_err();
    assert!(matches!(e, PostgresError::InvalidSchemaName), "{e:?}");
    let e = PostgresRepo::connect("not a url").await.unwrap_err();
    assert!(matches!(e, PostgresError::InvalidUrl { .. }), "{e:?}");
}

#[tokio::test]
async fn replicas_opening_at_once_migrate_once() {
    let Some(url) = common::url() else { return };
    let schema = common::unique_schema("race");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (url, schema) = (url.clone(), schema.clone());
        tasks.push(tokio::spawn(async move {
            PostgresRepo::connect_with(&url, common::options(&schema)).await
        }));
    }
    let mut repos = Vec::new();
    for t in tasks {
        repos.push(t.await.unwrap().unwrap());
    }
    let client = repos[0].pool().get().await.unwrap();
    let rows = client
        .query(
            &format!("SELECT version FROM {schema}.schema_migrations ORDER BY version"),
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    assert_eq!(repos[5].schema(), schema);
    assert!(repos[3]
        .list(&ListQuery::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_untouched() {
    let Some(url) = common::url() else { return };
    let schema = common::unique_schema("newer");
    let repo = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    let client = repo.pool().get().await.unwrap();
    client
        .execute(
            &format!("INSERT INTO {schema}.schema_migrations (version) VALUES ($1)"),
            &[&(SCHEMA_VERSION + 7)],
        )
        .await
        .unwrap();
    let before = dump(&client, &schema).await;
    let e = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap_err();
    assert!(
        matches!(e, PostgresError::SchemaTooNew { found, supported } if found == SCHEMA_VERSION + 7 && supported == SCHEMA_VERSION),
        "{e:?}"
    );
    assert_eq!(dump(&client, &schema).await, before);
}

#[tokio::test]
async fn a_host_pool_and_its_own_schema() {
    let Some(url) = common::url() else { return };
    let schema = common::unique_schema("hostpool");
    let config: tokio_postgres::Config = url.parse().unwrap();
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(2)
        .build()
        .unwrap();
    let repo = PostgresRepo::from_pool(pool.clone(), common::options(&schema))
        .await
        .unwrap();
    let c = enterprise_sso_conformance::saml_connection("hp", &["hostpool.example.com"], true);
    repo.insert(&c).await.unwrap();
    let client = pool.get().await.unwrap();
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {schema}.connections"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    assert!(format!("{repo:?}").contains(&schema));
}

async fn dump(c: &deadpool_postgres::Object, schema: &str) -> (Vec<String>, Vec<i64>) {
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = $1 ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let versions: Vec<i64> = c
        .query(
            &format!("SELECT version FROM {schema}.schema_migrations ORDER BY 1"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (tables, versions)
}

#[tokio::test]
async fn verify_names_a_broken_index() {
    use enterprise_sso::storage::IntegrityError;
    let Some(url) = common::url() else { return };
    let schema = common::unique_schema("verify");
    let repo = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    let c = enterprise_sso_conformance::saml_connection("v", &["v.verify.example.com"], true);
    repo.insert(&c).await.unwrap();
    assert_eq!(repo.verify().await, Ok(()));
    let client = repo.pool().get().await.unwrap();
    client
        .batch_execute(&format!("UPDATE {schema}.connections SET active = false"))
        .await
        .unwrap();
    assert!(matches!(
        repo.verify().await,
        Err(IntegrityError::Index {
            index: "connections",
            ..
        })
    ));
    client
        .batch_execute(&format!(
            "UPDATE {schema}.connections SET active = true; DELETE FROM {schema}.connection_domains"
        ))
        .await
        .unwrap();
    assert!(matches!(
        repo.verify().await,
        Err(IntegrityError::Index {
            index: "connection_domains",
            ..
        })
    ));
}

/// The adapter's connections use generic plans for its prepared statements (with the
/// server's default the update statement was planned again on every execution), and
/// server options already in the URL are kept.
#[tokio::test]
async fn connections_use_generic_plans_and_keep_url_options() {
    let Some(url) = common::url() else { return };
    let sep = if url.contains('?') { '&' } else { '?' };
    let with_options = format!("{url}{sep}options=-c%20statement_timeout%3D12345");
    let repo = PostgresRepo::connect_with(
        &with_options,
        common::options(&common::unique_schema("plans")),
    )
    .await
    .unwrap();
    let c = repo.pool().get().await.unwrap();
    let show = |name: &'static str| {
        let c = &c;
        async move {
            c.query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(show("plan_cache_mode").await, "force_generic_plan");
    assert_eq!(show("statement_timeout").await, "12345ms");
}
