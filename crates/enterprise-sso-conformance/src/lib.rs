//! # enterprise-sso-conformance
//!
//! The conformance suite every store runs: each adapter crate dev-depends on this crate and
//! stamps the cases into its own tests.
//!
//! Each case is a plain async function taking the repository under test; they panic on
//! failure. [`conformance_tests!`](crate::conformance_tests) stamps all of them into
//! `#[test]` functions given a constructor returning `(repo, guard)`, where `guard` keeps
//! whatever the repository needs alive (a temporary directory, or `()`):
//!
//! ```
//! mod conformance {
//!     enterprise_sso_conformance::conformance_tests!(|| (enterprise_sso_memory::MemoryRepo::new(), ()));
//! }
//! ```
//!
//! Cases run their futures with a small executor ([`block_on`]) and use OS threads for
//! concurrency, so the suite needs no async runtime.
//!
//! As in object_store's `integration` module, each case is a `pub async fn(&dyn Store)`
//! a backend can also call by hand. The cases live by concern in private modules
//! (connections: CRUD, domains, listing, routing, concurrency, certificates; accounts;
//! sign-in; the sign-in records, taken once; the sign-in batches, all or nothing; refusals, the storage-level refusals that must
//! leave the store byte for byte as it was; the change feed; the read cache); [`fixtures`]
//! holds what they share. The list of cases
//! is written once (`__conformance_case_list!`), and both [`CASES`] and the macro are made
//! from it.

mod accounts;
mod cache;
mod connections;
mod feed;
pub mod model;
mod refusals;
mod sign_in;
mod sign_in_batch;
mod sign_ins;

/// Fixtures the cases share (the core's `testing` module, feature `testing`).
pub use enterprise_sso::testing as fixtures;

pub use accounts::*;
pub use cache::*;
pub use connections::*;
pub use enterprise_sso::testing::{
    account_for, contains_bytes, dir_bytes, oidc_connection, saml_connection, test_keyring,
    TEST_CERT_PEM,
};
pub use feed::*;
pub use refusals::*;
pub use sign_in::*;
pub use sign_in_batch::*;
pub use sign_ins::*;

pub use futures_executor::block_on;

/// The names of every case, in the order the macro stamps them (from the one case list).
pub const CASES: &[&str] = crate::__conformance_case_list!(names);

/// The one list of conformance cases. Both [`CASES`] and
/// [`conformance_tests!`](crate::conformance_tests) are made from it, so a case cannot be
/// in one and missing from the other; a test checks that every `pub async fn` case in
/// this folder is on it.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case_list {
    ($($mode:tt)*) => {
        $crate::__conformance_apply! { [$($mode)*]
            crud,
            insert_duplicate_id,
            cas_conflict,
            modify_reads_changes_and_writes_in_one_step,
            domain_conflicts,
            domains_released_on_change_and_delete,
            nested_config_and_secret_round_trip,
            filters,
            pagination,
            offset_paging_and_counts,
            listing_several_providers,
            pagination_under_concurrent_inserts,
            routing,
            failed_writes_change_nothing,
            concurrent_updates_lose_nothing,
            in_process_writers_never_conflict,
            state_transitions,
            certificate_expiry_query,
            storage_refusals_change_nothing,
            account_crud,
            account_lookups_and_pagination,
            deleting_a_connection_unlinks_its_accounts,
            sign_in_creates_then_finds_the_account,
            refused_sign_ins_write_nothing,
            concurrent_first_sign_ins_make_one_account,
            sign_in_honours_routing,
            sign_in_items_are_taken_once,
            sign_in_put_refuses_a_live_key,
            concurrent_sign_in_takes_one_wins,
            sign_in_sweep_removes_only_expired,
            sign_in_list_is_per_connection_and_kind,
            sign_in_batches_are_all_or_nothing,
            pending_batches_follow_the_batch_rules,
            concurrent_sign_in_batches_one_wins,
            feed_records_every_write,
            refused_writes_append_nothing,
            feed_replay_reproduces_connections,
            concurrent_writers_get_gap_free_positions,
            pruning_keeps_positions,
            feed_reports_its_prune_floor,
            refused_sign_ins_append_their_failure,
            certificate_renewal_reminders_once,
            cache_follows_writes_of_other_replicas,
            cache_resets_after_the_feed_was_pruned,
            cache_resets_when_the_feed_was_pruned_to_its_end,
            cache_model_two_replicas
        }
    };
}

/// Applies the case list: `names` gives the names, `stamp` one `#[test]` per case.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_apply {
    ([names] $($case:ident),* $(,)?) => {
        &[$(stringify!($case)),*]
    };
    ([stamp $available:expr, $make:expr] $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if !($available)() {
                    return;
                }
                let fixture = ($make)();
                $crate::block_on($crate::$case(&fixture.0));
            }
        )*
    };
}

/// Stamps every conformance case into a `#[test]`. The argument is an expression that,
/// called with no arguments, returns `(repo, guard)` where `repo` is an
/// [`enterprise_sso::Store`]. With `if available, make`, each test
/// first calls `available()` and returns at once when it is false (for stores that need a
/// server the machine may not have; the caller decides whether that is allowed).
#[macro_export]
macro_rules! conformance_tests {
    (if $available:expr, $make:expr) => {
        $crate::__conformance_case_list!(stamp $available, $make);
    };
    ($make:expr) => {
        $crate::conformance_tests!(if || true, $make);
    };
}
