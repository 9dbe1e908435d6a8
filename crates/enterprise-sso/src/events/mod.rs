//! The change feed: every write that changes a connection or an account appends events in
//! the same transaction as the change.
//!
//! - [`Event`]: a position (strictly increasing per store, gap-free in commit order), a
//!   stable id (`evt_` + ULID), a [`EventKind`], the record's id, the changed field paths
//!   (for `*.updated`) and a snapshot of the record after the write (a connection's client
//!   secret is never in it; its path may be in `changed`).
//! - [`connection_events`] / [`account_events`]: the one rule that turns a write (the
//!   record before and after) into events. Adapters call it inside their write transaction
//!   and store what it returns ([`crate::storage::codec::encode_event`]); they decide
//!   nothing about events themselves.
//! - Reading: [`crate::EventFeed::events_after`] (commit order; consumers keep their own
//!   position, delivery is at least once), [`crate::EventFeed::prune_events_before`].

mod event;
mod rules;

pub use event::{Event, EventKind, SignInFailure};
pub use rules::{account_events, connection_events};
