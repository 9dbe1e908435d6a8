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
        enterprise_sso::Cached::new(common::fresh("confcache")),
        ()
    ));
}

/// The sign-in store cases on the same variants (stamped apart until they join the one
/// case list).
mod sign_ins {
    use super::common;

    mod plain {
        use super::common;
        enterprise_sso_conformance::sign_in_store_tests!(if common::available, || (
            common::fresh("confsign"),
            ()
        ));
    }

    mod encrypted {
        use super::common;
        enterprise_sso_conformance::sign_in_store_tests!(if common::available, || (
            enterprise_sso::crypto::Encrypted::new(
                common::fresh("confsignenc"),
                enterprise_sso_conformance::test_keyring()
            ),
            ()
        ));
    }

    mod cached {
        use super::common;
        enterprise_sso_conformance::sign_in_store_tests!(if common::available, || (
            enterprise_sso::Cached::new(common::fresh("confsigncache")),
            ()
        ));
    }
}
