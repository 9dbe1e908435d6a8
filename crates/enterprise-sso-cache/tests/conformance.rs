//! The shared conformance suite through the read cache: every case must hold for
//! `Cached` over a store exactly as for the store itself.
#![allow(clippy::unwrap_used)]

mod cached {
    enterprise_sso_conformance::conformance_tests!(|| (
        enterprise_sso_cache::Cached::new(enterprise_sso_memory::MemoryRepo::new()),
        ()
    ));
}

/// Over a key-ring-sealed store (the order a host stacks them in).
mod cached_encrypted {
    enterprise_sso_conformance::conformance_tests!(|| (
        enterprise_sso_cache::Cached::new(enterprise_sso::crypto::Encrypted::new(
            enterprise_sso_memory::MemoryRepo::new(),
            enterprise_sso_conformance::test_keyring()
        )),
        ()
    ));
}
