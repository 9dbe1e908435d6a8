//! The shared conformance suite on the in-memory reference repository.
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

/// The same suite through a read cache over a key-ring-sealed store (the order a host
/// stacks them in).
mod cached {
    enterprise_sso_conformance::conformance_tests!(|| (
        enterprise_sso_cache::Cached::new(enterprise_sso::crypto::Encrypted::new(
            enterprise_sso_memory::MemoryRepo::new(),
            enterprise_sso_conformance::test_keyring()
        )),
        ()
    ));
}
