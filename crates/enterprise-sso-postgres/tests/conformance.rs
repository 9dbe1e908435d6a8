//! The core conformance suite on a real PostgreSQL server, each test in its own schema.
#![allow(clippy::unwrap_used)]

mod common;

mod conformance {
    use super::common;
    enterprise_sso_conformance::conformance_tests!(if common::available, || (
        common::fresh("conf"),
        ()
    ));
}

/// The suite with every secret sealed by a key ring.
mod encrypted {
    use super::common;
    use enterprise_sso::crypto::Encrypted;
    use enterprise_sso_conformance::test_keyring;
    enterprise_sso_conformance::conformance_tests!(if common::available, || (
        Encrypted::new(common::fresh("confenc"), test_keyring()),
        ()
    ));
}

/// The suite through a read cache.
mod cached {
    use super::common;
    enterprise_sso_conformance::conformance_tests!(if common::available, || (
        enterprise_sso_cache::Cached::new(common::fresh("confcache")),
        ()
    ));
}
