//! What a copied database file reveals: with a key ring, no client secret and no test
//! run's ID token in the database, WAL or shared-memory file; files created owner-only.
#![allow(clippy::unwrap_used)]

use enterprise_sso::crypto::Encrypted;
use enterprise_sso::{Connections, CreateConnection, OidcPatch, Provider, Store};
use enterprise_sso_conformance::fixtures::write_test_run_record;
use enterprise_sso_conformance::{contains_bytes, dir_bytes, test_keyring};
use enterprise_sso_sqlite::SqliteRepo;
use futures_executor::block_on;

const MARKER: &str = "client-secret-MARKER-7f3c9a1d";
const RUN_MARKER: &str = "id-token-RUN-MARKER-52aa0e19";

/// Every byte of every file in `dir` (database, WAL, shm).
fn write_secrets<S: Store>(svc: &Connections<S>) {
    block_on(async {
        for i in 0..20 {
            let p = CreateConnection::new(Provider::OidcCustom, format!("c{i}"))
                .domains([format!("c{i}.at-rest.example.com")])
                .oidc(OidcPatch::default().client_id("c").client_secret(MARKER));
            let c = svc.create(&p).await.unwrap();
            // Rotate the secret too: the old value must not linger either.
            let u = enterprise_sso::UpdateConnection::default()
                .oidc(OidcPatch::default().client_secret(format!("{MARKER}-rotated")));
            svc.update(&c.id, &u).await.unwrap();
        }
        write_test_run_record(svc.repo(), RUN_MARKER).await;
    });
}

#[test]
fn with_a_key_ring_no_secret_reaches_the_files() {
    // Control: without a ring the secret is in the files, so the scan can see it.
    let plain = tempfile::tempdir().unwrap();
    {
        let svc = Connections::new(SqliteRepo::open(plain.path().join("s.db")).unwrap());
        write_secrets(&svc);
        let files = dir_bytes(plain.path());
        assert!(contains_bytes(&files, MARKER), "control run");
        assert!(contains_bytes(&files, RUN_MARKER), "control run");
    }
    let dir = tempfile::tempdir().unwrap();
    let svc = Connections::new(Encrypted::new(
        SqliteRepo::open(dir.path().join("s.db")).unwrap(),
        test_keyring(),
    ));
    write_secrets(&svc);
    // While open (the WAL holds the recent pages) and after close (checkpointed).
    let reveals = |needle| contains_bytes(&dir_bytes(dir.path()), needle);
    assert!(!reveals(MARKER) && !reveals(RUN_MARKER));
    drop(svc);
    assert!(!reveals(MARKER) && !reveals(RUN_MARKER));
}

#[cfg(unix)]
#[test]
fn new_database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let svc = Connections::new(SqliteRepo::open(dir.path().join("s.db")).unwrap());
    write_secrets(&svc);
    // Still open: the WAL and shared-memory files exist.
    let mut seen = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        let mode = e.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?}", e.file_name());
        seen += 1;
    }
    assert!(seen >= 2, "database and WAL at least");
    drop(svc);
    // Opting out leaves the process umask in charge.
    let other = tempfile::tempdir().unwrap();
    let opts = enterprise_sso_sqlite::SqliteOptions {
        owner_only_files: false,
        ..Default::default()
    };
    let _repo = SqliteRepo::open_with(other.path().join("s.db"), opts).unwrap();
    let mode = std::fs::metadata(other.path().join("s.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o777, 0o600, "umask-derived mode");
}
