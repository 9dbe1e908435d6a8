//! What the database's tables reveal: with a key ring, no client secret and no test run's
//! ID token in any stored record (read back with plain SQL).
#![allow(clippy::unwrap_used)]

mod common;

use enterprise_sso::crypto::Encrypted;
use enterprise_sso::{Connections, CreateConnection, OidcPatch, Provider, Store};
use enterprise_sso_conformance::fixtures::write_test_run_record;
use enterprise_sso_conformance::test_keyring;
use enterprise_sso_postgres::PostgresRepo;

const MARKER: &str = "client-secret-MARKER-3d0c7b55";
const RUN_MARKER: &str = "id-token-RUN-MARKER-e4f1a276";

async fn write_secrets<S: Store>(svc: &Connections<S>) {
    for i in 0..5 {
        let p = CreateConnection::new(Provider::OidcCustom, format!("c{i}"))
            .domains([format!("c{i}.pg-at-rest.example.com")])
            .oidc(OidcPatch::default().client_id("c").client_secret(MARKER));
        svc.create(&p).await.unwrap();
    }
    write_test_run_record(svc.repo(), RUN_MARKER).await;
}

/// Every column of every row of the schema's tables, as text.
async fn table_text(url: &str, schema: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut out = String::new();
    for table in ["connections", "connection_domains", "sign_in_items"] {
        let rows = client
            .query(&format!("SELECT t::text FROM {schema}.{table} t"), &[])
            .await
            .unwrap();
        for r in rows {
            out.push_str(r.get::<_, &str>(0));
        }
    }
    // bytea shows as hex in text: decode the records and payloads as well.
    for (column, table) in [("record", "connections"), ("payload", "sign_in_items")] {
        let rows = client
            .query(&format!("SELECT {column} FROM {schema}.{table}"), &[])
            .await
            .unwrap();
        for r in rows {
            out.push_str(&String::from_utf8_lossy(r.get::<_, &[u8]>(0)));
        }
    }
    out
}

#[tokio::test]
async fn with_a_key_ring_no_secret_reaches_the_tables() {
    let Some(url) = common::url() else { return };
    let plain_schema = common::unique_schema("atrestplain");
    let plain = PostgresRepo::connect_with(&url, common::options(&plain_schema))
        .await
        .unwrap();
    write_secrets(&Connections::new(plain)).await;
    let text = table_text(&url, &plain_schema).await;
    assert!(text.contains(MARKER), "control run");
    assert!(text.contains(RUN_MARKER), "control run");

    let schema = common::unique_schema("atrest");
    let repo = PostgresRepo::connect_with(&url, common::options(&schema))
        .await
        .unwrap();
    let svc = Connections::new(Encrypted::new(repo, test_keyring()));
    write_secrets(&svc).await;
    let text = table_text(&url, &schema).await;
    assert!(!text.contains(MARKER) && !text.contains(RUN_MARKER));
}
