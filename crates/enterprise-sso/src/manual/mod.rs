//! The guide: every rule the library applies, each written once.
//!
//! The README is the front door (what the library is, the crates, how to run the quickstart,
//! the tests and the server); these chapters are the reference behind it. They describe
//! behaviour, not the API of one crate: items are named as plain code (`Connections`,
//! `SqliteRepo`), wherever they live, and each chapter says which crate a part belongs to
//! when it matters. Where the issues that specified the library were silent, the chapters
//! say which choice was made.
//!
//! Chapters, in reading order:
//!
//! 1. [`_01_model`]: connections, providers, ids, state, access settings, parameters, errors.
//! 2. [`_02_merge_and_validation`]: PATCH semantics, create, protocols, validation, URLs,
//!    domains, fetched URLs, refresh.
//! 3. [`_03_saml_inputs`]: metadata, the certificate set, certificate text, the test corpus.
//! 4. [`_04_oidc_inputs`]: discovery, issuers, activation.
//! 5. [`_05_accounts_and_sign_in`]: enterprise accounts, the sign-in step.
//! 6. [`_06_routing_and_cache`]: routing emails, paging, the read cache.
//! 7. [`_07_storage_adapters`]: the adapters, concurrency, SQLite, sled, PostgreSQL, sign-in
//!    records, writing an adapter and the conformance suite.
//! 8. [`_08_encryption_and_events`]: secrets, encryption at rest, the change feed.
//! 9. [`_09_wire_format`]: the Clerk and WorkOS JSON shapes, error codes.
//! 10. [`_10_http_server`]: the server binary, the routes, the SDKs.
//! 11. [`_11_reliability`]: crash safety, stress, damaged files, full disk, fuzzing.
//! 12. [`_12_limits`]: every bound on an input, in one table.
//!
//! Benchmarks are in `BENCHMARKS.md` at the repository root (current figures per store) and
//! `benches/HISTORY.md` (the session-by-session log).

#[doc = include_str!("01_model.md")]
pub mod _01_model {}
#[doc = include_str!("02_merge_and_validation.md")]
pub mod _02_merge_and_validation {}
#[doc = include_str!("03_saml_inputs.md")]
pub mod _03_saml_inputs {}
#[doc = include_str!("04_oidc_inputs.md")]
pub mod _04_oidc_inputs {}
#[doc = include_str!("05_accounts_and_sign_in.md")]
pub mod _05_accounts_and_sign_in {}
#[doc = include_str!("06_routing_and_cache.md")]
pub mod _06_routing_and_cache {}
#[doc = include_str!("07_storage_adapters.md")]
pub mod _07_storage_adapters {}
#[doc = include_str!("08_encryption_and_events.md")]
pub mod _08_encryption_and_events {}
#[doc = include_str!("09_wire_format.md")]
pub mod _09_wire_format {}
#[doc = include_str!("10_http_server.md")]
pub mod _10_http_server {}
#[doc = include_str!("11_reliability.md")]
pub mod _11_reliability {}
#[doc = include_str!("12_limits.md")]
pub mod _12_limits {}
#[doc = include_str!("13_sign_in.md")]
pub mod _13_sign_in {}
#[doc = include_str!("14_test_runs.md")]
pub mod _14_test_runs {}

/// The README, compiled so that its Rust quick start stays a working program (it runs as
/// a doctest); not part of the guide.
#[doc(hidden)]
#[doc = include_str!("../../../../README.md")]
pub mod _readme {}
