//! The core conformance suite on a temporary sled database, with and without
//! flush-on-write.
#![allow(clippy::unwrap_used)]

use enterprise_sso_sled::{SledOptions, SledRepo};

mod temporary {
    use super::*;
    enterprise_sso::conformance_tests!(|| (SledRepo::temporary().unwrap(), ()));
}

mod on_disk_flush_on_write {
    use super::*;
    enterprise_sso::conformance_tests!(|| {
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
