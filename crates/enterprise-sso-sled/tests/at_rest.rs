//! What a copied sled directory reveals: with a key ring, no client secret and no test
//! run's ID token in any file;
//! the directory created owner-only.
#![allow(clippy::unwrap_used)]

use enterprise_sso::crypto::Encrypted;
use enterprise_sso::{Connections, CreateConnection, OidcPatch, Provider, Store};
use enterprise_sso_conformance::fixtures::write_test_run_record;
use enterprise_sso_conformance::{contains_bytes, dir_bytes, test_keyring};
use enterprise_sso_sled::{SledOptions, SledRepo};
use futures_executor::block_on;

const MARKER: &str = "client-secret-MARKER-b81e44c2";
const RUN_MARKER: &str = "id-token-RUN-MARKER-0c9d7e31";

fn write_secrets<S: Store>(svc: &Connections<S>) {
    block_on(async {
        for i in 0..20 {
            let p = CreateConnection::new(Provider::OidcCustom, format!("c{i}"))
                .domains([format!("c{i}.sled-at-rest.example.com")])
                .oidc(OidcPatch::default().client_id("c").client_secret(MARKER));
            svc.create(&p).await.unwrap();
        }
        write_test_run_record(svc.repo(), RUN_MARKER).await;
    });
}

fn flushing() -> SledOptions {
    SledOptions {
        flush_on_write: true,
        ..Default::default()
    }
}

#[test]
fn with_a_key_ring_no_secret_reaches_the_files() {
    let plain = tempfile::tempdir().unwrap();
    {
        let repo = SledRepo::open_with(plain.path().join("db"), flushing()).unwrap();
        write_secrets(&Connections::new(repo));
    }
    let files = dir_bytes(plain.path());
    assert!(contains_bytes(&files, MARKER), "control run");
    assert!(contains_bytes(&files, RUN_MARKER), "control run");
    let dir = tempfile::tempdir().unwrap();
    {
        let repo = SledRepo::open_with(dir.path().join("db"), flushing()).unwrap();
        write_secrets(&Connections::new(Encrypted::new(repo, test_keyring())));
    }
    let files = dir_bytes(dir.path());
    assert!(!contains_bytes(&files, MARKER) && !contains_bytes(&files, RUN_MARKER));
}

#[cfg(unix)]
#[test]
fn a_new_database_directory_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("db");
    let _repo = SledRepo::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}
