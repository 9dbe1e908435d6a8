//! The core conformance suite on a temporary sled database, with and without
//! flush-on-write.
#![allow(clippy::unwrap_used)]

use enterprise_sso_sled::{SledOptions, SledRepo};

mod temporary {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| (SledRepo::temporary().unwrap(), ()));
}

/// The suite with every secret sealed by a key ring.
mod temporary_encrypted {
    use super::*;
    use enterprise_sso::crypto::Encrypted;
    use enterprise_sso_conformance::test_keyring;
    enterprise_sso_conformance::conformance_tests!(|| (
        Encrypted::new(SledRepo::temporary().unwrap(), test_keyring()),
        ()
    ));
}

mod on_disk_flush_on_write {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| {
        let dir = tempfile::tempdir().unwrap();
        let opts = SledOptions {
            flush_on_write: true,
            ..Default::default()
        };
        (
            SledRepo::open_with(dir.path().join("db"), opts).unwrap(),
            dir,
        )
    });
}

/// The suite through a read cache.
mod temporary_cached {
    use super::*;
    enterprise_sso_conformance::conformance_tests!(|| (
        enterprise_sso_cache::Cached::new(SledRepo::temporary().unwrap()),
        ()
    ));
}
