//! The core conformance suite over the store stack the server builds from `--store`: an
//! `Arc<dyn Store>` opened from a URL, and the same wrapped in `Encrypted` when
//! `ENTERPRISE_SSO_KEYRING` is set (after its key check).
#![allow(clippy::unwrap_used)]

use enterprise_sso_conformance::test_keyring;
use enterprise_sso_http::store_url::{encrypted, open, StoreUrl};
use futures_executor::block_on;

fn url(scheme: &str, dir: &tempfile::TempDir) -> StoreUrl {
    StoreUrl::parse(&format!("{scheme}:{}", dir.path().join("store").display())).unwrap()
}

mod sqlite_url {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = block_on(open(&url("sqlite", &dir))).unwrap();
        (store, dir)
    });
}

mod sled_url_with_keyring {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = block_on(open(&url("sled", &dir))).unwrap();
        let store = block_on(encrypted(store, test_keyring())).unwrap();
        (store, dir)
    });
}

#[test]
fn store_urls_are_parsed_strictly_and_never_print_a_password() {
    assert!(StoreUrl::parse("mysql://x").is_err());
    assert!(StoreUrl::parse("sqlite").is_err());
    let pg = StoreUrl::parse("postgres://u:hunter2@db:5432/sso").unwrap();
    assert_eq!(pg.kind(), "postgres");
    assert!(!pg.to_string().contains("hunter2"));
    let dir = tempfile::tempdir().unwrap();
    assert!(block_on(open(&StoreUrl::parse("sled:").unwrap())).is_err());
    assert_eq!(url("sqlite", &dir).kind(), "sqlite");
}
