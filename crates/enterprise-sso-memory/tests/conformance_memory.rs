//! The shared conformance suite on the in-memory reference repository (the read cache over
//! it runs the suite in `enterprise-sso-cache`).
#![allow(clippy::unwrap_used)]

mod conformance {
    enterprise_sso_conformance::conformance_tests!(|| (
        enterprise_sso_memory::MemoryRepo::new(),
        ()
    ));
}

/// The same suite with every secret sealed by a key ring.
mod encrypted {
    enterprise_sso_conformance::conformance_tests!(|| (
        enterprise_sso::crypto::Encrypted::new(
            enterprise_sso_memory::MemoryRepo::new(),
            enterprise_sso_conformance::test_keyring()
        ),
        ()
    ));
}
