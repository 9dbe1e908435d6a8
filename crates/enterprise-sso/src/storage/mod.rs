//! The adapter kit: everything a storage adapter needs from the core, so that an adapter
//! only maps these onto its engine and holds no rule of its own.
//!
//! - [`codec`]: the byte encoding of connections and accounts (format tag, checksum).
//! - [`connection_keys`] / [`account_keys`]: what each record is indexed by.
//! - [`expect_version`]: the compare-and-swap rule; [`check_account_keys_unchanged`]: the
//!   account immutability rule.
//! - [`stored_id`], [`stored_domain`], [`version_to_i64`], [`version_from_i64`]: values
//!   read back from an index, checked, with a typed [`crate::Error::Corrupt`].
//! - [`crate::Page::from_overfetch`]: one page from `limit + 1` rows;
//!   [`crate::Order::is_after`]: the cursor rule.
//! - [`IntegrityError`] and [`cross_check`]: the typed errors of an adapter's `verify()`
//!   and the cross-check of indexed columns against records.
//! - [`email_key`]: the key accounts are found by email with.
//!
//! Writing an adapter: implement [`crate::ConnectionRepo`], [`crate::AccountRepo`],
//! [`crate::EventFeed`] and [`crate::SignInStore`] on one store (a [`crate::Store`]), make
//! every write atomic (record, version check, domain claims, index entries, and on
//! connection delete the unlinking of its accounts; a sign-in put or take one step across
//! processes and replicas), and run the shared
//! conformance suite (`enterprise_sso_conformance::conformance_tests!`, feature `testing`).

pub mod codec;
mod keys;
mod rules;

pub use crate::account::email_key;
pub use crate::integrity::{
    account_columns, connection_columns, cross_check, AccountColumns, ConnectionColumns,
    IntegrityError,
};
pub use keys::{account_keys, connection_keys, AccountKeys, ConnectionKeys};
pub use rules::{
    check_account_keys_unchanged, expect_version, stored_domain, stored_id, version_from_i64,
    version_to_i64,
};
