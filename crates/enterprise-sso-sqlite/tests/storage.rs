//! Persistence, refusal of files that are not ours, and sharing across threads.
#![allow(clippy::unwrap_used)]

use enterprise_sso::UnixMillis;
use std::sync::Arc;

use enterprise_sso::{
    ClientSecret, ConnectionRepo, Connections, Domain, ListQuery, Order, Patch, ProtocolConfig,
    UpdateConnection,
};
use enterprise_sso_conformance::{block_on, oidc_connection, saml_connection};
use enterprise_sso_sqlite::{SqliteError, SqliteRepo, APPLICATION_ID, SCHEMA_VERSION};

#[test]
fn everything_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("persist.db");
    let mut o = oidc_connection("persist-oidc", &["persist.example.com"], true);
    if let ProtocolConfig::Oidc(c) = &mut o.config {
        c.client_secret = Some(ClientSecret::new("keep-me-secret"));
        c.token_url = Some("https://idp.example.com/token".into());
    }
    o.organization_id = Some("org_p".into());
    let mut s = saml_connection("persist-saml", &["saml.persist.example.com"], false);
    if let ProtocolConfig::Saml(c) = &mut s.config {
        c.attribute_mapping.first_name = Some("givenName".into());
        c.idp_metadata =
            Some(include_str!("../../enterprise-sso/tests/fixtures/saml/okta.metadata.xml").into());
    }
    let s2 = {
        let repo = SqliteRepo::open(&path).unwrap();
        block_on(repo.insert(&o)).unwrap();
        block_on(repo.insert(&s)).unwrap();
        let svc = Connections::new(&repo);
        let patch = UpdateConnection {
            name: Patch::Value("renamed".into()),
            ..Default::default()
        };
        block_on(svc.update(&s.id, &patch)).unwrap()
    };
    for _ in 0..2 {
        let repo = SqliteRepo::open(&path).unwrap();
        assert_eq!(block_on(repo.get(&o.id)).unwrap(), Some(o.clone()));
        assert_eq!(block_on(repo.get(&s.id)).unwrap(), Some(s2.clone()));
        let got = block_on(repo.get(&o.id)).unwrap().unwrap();
        let secret = got
            .oidc()
            .unwrap()
            .client_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        assert_eq!(secret, "keep-me-secret");
        let by_domain =
            block_on(repo.find_by_domain(&Domain::parse("saml.persist.example.com").unwrap()))
                .unwrap();
        assert_eq!(by_domain, Some(s2.clone()));
        let page = block_on(repo.list(&ListQuery {
            order: Order::Asc,
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(page.items, vec![o.clone(), s2.clone()]);
    }
}

#[test]
fn random_bytes_are_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).unwrap();
    let err = SqliteRepo::open(&path).expect_err("garbage must be refused");
    assert!(matches!(err, SqliteError::NotADatabase), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file is left untouched"
    );
}

#[test]
fn a_foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'x');").unwrap();
    }
    let err = SqliteRepo::open(&path).expect_err("foreign db must be refused");
    assert!(
        matches!(err, SqliteError::ForeignDatabase { .. }),
        "{err:?}"
    );
    let c = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "nothing was added to the foreign database");

    let other_app = dir.path().join("other-app.db");
    rusqlite::Connection::open(&other_app)
        .unwrap()
        .execute_batch("PRAGMA application_id = 42;")
        .unwrap();
    let err = SqliteRepo::open(&other_app).expect_err("other application id");
    assert!(
        matches!(err, SqliteError::ForeignDatabase { .. }),
        "{err:?}"
    );
}

#[test]
fn a_newer_schema_is_refused_and_reopen_is_a_noop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    drop(SqliteRepo::open(&path).unwrap());
    let schema = |p: &std::path::Path| {
        let c = rusqlite::Connection::open(p).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let a: i64 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        let objs: i64 = c
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        (v, a, objs)
    };
    let first = schema(&path);
    assert_eq!((first.0, first.1), (SCHEMA_VERSION, APPLICATION_ID));
    drop(SqliteRepo::open(&path).unwrap());
    assert_eq!(schema(&path), first, "re-opening changes nothing");

    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    match SqliteRepo::open(&path) {
        Err(SqliteError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {:?}", other.err()),
    }
}

#[test]
fn shared_across_threads_as_dyn_repo() {
    let dir = tempfile::tempdir().unwrap();
    let repo: Arc<dyn ConnectionRepo> =
        Arc::new(SqliteRepo::open(dir.path().join("shared.db")).unwrap());
    let conns: Vec<_> = (0..8)
        .map(|i| saml_connection(&format!("sh{i}"), &[], false))
        .collect();
    for c in &conns {
        block_on(repo.insert(c)).unwrap();
    }
    let svc = Arc::new(Connections::new(Arc::clone(&repo)).with_max_retries(1000));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let svc = Arc::clone(&svc);
            let ids: Vec<_> = conns.iter().map(|c| c.id.clone()).collect();
            std::thread::spawn(move || {
                for (i, id) in ids.iter().enumerate() {
                    let patch = UpdateConnection {
                        name: Patch::Value(format!("t{t}-{i}")),
                        ..Default::default()
                    };
                    block_on(svc.update(id, &patch)).unwrap();
                    // Reads interleave with the writes on the reader pool.
                    assert!(block_on(svc.get(id)).unwrap().version >= 2);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for c in &conns {
        assert_eq!(block_on(repo.get(&c.id)).unwrap().unwrap().version, 5);
    }
}

#[test]
fn a_version_1_database_is_migrated_and_back_filled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    // A database as version 1 of this crate wrote it (no cert_expires_at column).
    let c = saml_connection("v1", &["v1.example.com"], true);
    let expires = c.saml().unwrap().idp_certificate_expires_at.unwrap();
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE connections (id TEXT PRIMARY KEY NOT NULL, organization_id TEXT,
                active INTEGER NOT NULL, provider TEXT NOT NULL, version INTEGER NOT NULL,
                record BLOB NOT NULL) WITHOUT ROWID;
             CREATE INDEX connections_by_org ON connections (organization_id, id);
             CREATE INDEX connections_by_active ON connections (active, id);
             CREATE INDEX connections_by_provider ON connections (provider, id);
             CREATE TABLE connection_domains (domain TEXT PRIMARY KEY NOT NULL,
                connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE) WITHOUT ROWID;
             CREATE INDEX connection_domains_by_connection ON connection_domains (connection_id);",
        )
        .unwrap();
        db.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
        ))
        .unwrap();
        // Version 1 wrote format tag 1: the tag, then the JSON.
        let record = enterprise_sso::storage::codec::encode_connection_tag1(&c);
        db.execute(
            "INSERT INTO connections VALUES (?1, NULL, 1, 'saml_okta', 1, ?2)",
            rusqlite::params![c.id.as_str(), record],
        )
        .unwrap();
        db.execute(
            "INSERT INTO connection_domains VALUES ('v1.example.com', ?1)",
            [c.id.as_str()],
        )
        .unwrap();
    }
    let repo = SqliteRepo::open(&path).unwrap();
    assert_eq!(block_on(repo.get(&c.id)).unwrap(), Some(c.clone()));
    // Rebuilding the connections table (schema 5) kept the domain claims that reference it.
    let d = enterprise_sso::Domain::parse("v1.example.com").unwrap();
    assert_eq!(block_on(repo.find_by_domain(&d)).unwrap(), Some(c.clone()));
    block_on(repo.verify()).unwrap();
    let due =
        block_on(repo.certificates_expiring_before(UnixMillis::new(expires.get() + 1))).unwrap();
    assert_eq!(due, vec![c.clone()], "back-filled from the stored record");
    assert!(block_on(repo.certificates_expiring_before(expires))
        .unwrap()
        .is_empty());
    drop(repo);
    let v: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    // Connections live in a rowid table now (records inline, no overflow pages), and a
    // delete still cascades into the rebuilt domains table.
    let db = rusqlite::Connection::open(&path).unwrap();
    let sql: String = db
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'connections'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
    drop(db);
    let repo = SqliteRepo::open(&path).unwrap();
    assert!(block_on(repo.delete(&c.id, UnixMillis::new(1))).unwrap());
    assert_eq!(block_on(repo.find_by_domain(&d)).unwrap(), None);
    block_on(repo.verify()).unwrap();
}

#[test]
fn bulk_insert_is_all_or_nothing() {
    let repo = SqliteRepo::open_in_memory().unwrap();
    let a = saml_connection("bulk-a", &["bulk-a.example.com"], false);
    let b = oidc_connection("bulk-b", &["bulk-b.example.com"], false);
    block_on(repo.bulk_insert(&[a.clone(), b.clone()])).unwrap();
    assert_eq!(block_on(repo.get(&a.id)).unwrap(), Some(a.clone()));
    assert_eq!(block_on(repo.get(&b.id)).unwrap(), Some(b));
    // A batch with a taken domain writes nothing.
    let c = saml_connection("bulk-c", &["bulk-c.example.com"], false);
    let clash = oidc_connection("bulk-d", &["bulk-a.example.com"], false);
    assert!(matches!(
        block_on(repo.bulk_insert(&[c.clone(), clash])),
        Err(enterprise_sso::Error::DomainConflict { .. })
    ));
    assert_eq!(block_on(repo.get(&c.id)).unwrap(), None);
}

#[test]
fn verify_catches_damaged_records_and_stale_indexes() {
    use enterprise_sso::storage::IntegrityError;
    use enterprise_sso::AccountRepo;
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        let repo = SqliteRepo::open(&path).unwrap();
        let mut c = enterprise_sso_conformance::saml_connection("v", &["v.example.com"], true);
        c.organization_id = Some("org_v".into());
        futures_executor::block_on(repo.insert(&c)).unwrap();
        let a = enterprise_sso_conformance::account_for(&c, "subj", "a@v.example.com");
        futures_executor::block_on(repo.insert_account(&a)).unwrap();
        assert_eq!(futures_executor::block_on(repo.verify()), Ok(()));
        (dir, path, repo, c)
    };
    for (what, sql, want) in [
        ("stale domain", "INSERT INTO connection_domains VALUES ('ghost.example.com', (SELECT id FROM connections))", "connection_domains"),
        ("missing domain", "DELETE FROM connection_domains", "connection_domains"),
        ("wrong org column", "UPDATE connections SET organization_id = 'org_other'", "connections"),
        ("wrong active column", "UPDATE connections SET active = 0", "connections"),
        ("wrong expiry column", "UPDATE connections SET cert_expires_at = 1", "connections"),
        ("wrong version column", "UPDATE connections SET version = 99", "connections"),
        ("wrong email key", "UPDATE accounts SET email_key = 'x@y.com'", "accounts"),
    ] {
        let (_dir, path, repo, _) = fresh();
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(sql).unwrap();
        match futures_executor::block_on(repo.verify()) {
            Err(IntegrityError::Index { index, .. }) => assert_eq!(index, want, "{what}"),
            other => panic!("{what}: not caught: {other:?}"),
        }
    }
    let (_dir, path, repo, _) = fresh();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "UPDATE connections SET record = CAST(substr(record, 1, length(record) - 2) || X'2020' AS BLOB)",
    )
    .unwrap();
    assert!(matches!(
        futures_executor::block_on(repo.verify()),
        Err(IntegrityError::Record {
            table: "connections",
            ..
        })
    ));
}
