//! The one rule both sign-in flows apply to the request a response or callback answers:
//! taken from the sign-in store exactly once, made for this connection, and answered by the
//! browser that started it.

use crate::Flows;
use enterprise_sso::{
    sign_in_key, ConnectionId, Error, Result, SignInItem, SignInKind, SignInOp, Store, UnixMillis,
};
use std::time::Duration;

use serde::de::DeserializeOwned;

/// A flow's pending-request payload: it keeps the hashed browser binding.
pub(super) trait BoundToBrowser: DeserializeOwned {
    /// [`sign_in_key`] of the browser value given at the start.
    fn browser_key(&self) -> &str;
}

/// Why a pending request cannot be used; each flow names it in its own refusal type.
pub(super) enum PendingProblem {
    /// No live request under the key (unknown, expired or used).
    Unknown,
    /// The request was made for another connection (its id).
    OtherConnection(String),
    /// Another browser (or none) answered.
    OtherBrowser,
}

impl<R: Store> Flows<R> {
    /// Takes the pending request of `kind` under `raw_key` (used up whatever follows) and
    /// checks that it belongs to connection `id` and to `browser`.
    pub(super) async fn take_pending<T: BoundToBrowser>(
        &self,
        kind: SignInKind,
        raw_key: &str,
        id: &ConnectionId,
        browser: Option<&str>,
        now: i64,
        what: &'static str,
    ) -> Result<std::result::Result<T, PendingProblem>> {
        let Some(item) = self
            .svc
            .repo()
            .take_sign_in(kind, &sign_in_key(raw_key), UnixMillis::new(now))
            .await?
        else {
            return Ok(Err(PendingProblem::Unknown));
        };
        if item.connection_id.as_ref() != Some(id) {
            return Ok(Err(PendingProblem::OtherConnection(
                item.connection_id
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            )));
        }
        let pending: T = serde_json::from_slice(&item.payload).map_err(|_| Error::corrupt(what))?;
        Ok(if same_browser(browser, pending.browser_key()) {
            Ok(pending)
        } else {
            Err(PendingProblem::OtherBrowser)
        })
    }
}

/// A duration as milliseconds (saturating).
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What a flow's pending request is for, in refusals.
pub(super) fn kind_name(test_run: bool) -> &'static str {
    if test_run {
        "test run"
    } else {
        "sign-in"
    }
}

/// Where and how long a pending request is kept (see [`Flows::put_pending`]).
pub(super) struct PendingSlot<'a> {
    /// The record kind.
    pub(super) kind: SignInKind,
    /// The hashed key ([`sign_in_key`] of the random value the answer brings back).
    pub(super) key: String,
    /// The connection the request was made for.
    pub(super) id: &'a ConnectionId,
    /// How long it waits for its answer.
    pub(super) ttl: Duration,
}

impl<R: Store> Flows<R> {
    /// Keeps a pending request in `slot` from `now`, until its TTL. A live request under
    /// the same key means the caller's randomness is broken (its key is random): refused as
    /// argument `random` with `reason`, never overwritten. Written by
    /// [`enterprise_sso::SignInStore::commit_pending`]: a pending request a crash loses only
    /// fails its sign-in.
    pub(super) async fn put_pending(
        &self,
        slot: PendingSlot<'_>,
        payload: Vec<u8>,
        now: i64,
        reason: &'static str,
    ) -> Result<()> {
        self.put_pending_items(vec![(pending_item(slot, payload, now), reason)], now)
            .await
    }

    /// Keeps pending requests from `now` in one write, all or none, as
    /// [`Flows::put_pending`] keeps one; each comes with the `reason` its live key is
    /// refused with.
    pub(super) async fn put_pending_items(
        &self,
        items: Vec<(SignInItem, &'static str)>,
        now: i64,
    ) -> Result<()> {
        let (items, reasons): (Vec<_>, Vec<_>) = items.into_iter().unzip();
        let ops: Vec<SignInOp> = items.into_iter().map(SignInOp::Put).collect();
        match self
            .svc
            .repo()
            .commit_pending(&ops, UnixMillis::new(now))
            .await?
        {
            Ok(_) => Ok(()),
            Err(conflict) => Err(Error::InvalidArgument {
                argument: "random",
                reason: reasons
                    .get(conflict.index)
                    .copied()
                    .unwrap_or("a request is already pending"),
            }),
        }
    }
}

/// The record of a pending request kept in `slot` from `now` (see
/// [`Flows::put_pending`]).
pub(super) fn pending_item(slot: PendingSlot<'_>, payload: Vec<u8>, now: i64) -> SignInItem {
    SignInItem {
        kind: slot.kind,
        key: slot.key,
        connection_id: Some(slot.id.clone()),
        created_at: UnixMillis::new(now),
        expires_at: UnixMillis::new(now.saturating_add(millis(slot.ttl))),
        payload,
    }
}

/// Whether `browser` (the value the answer's browser brought) is the one a pending
/// request was bound to (`browser_key`: its [`sign_in_key`]), in constant time.
pub(super) fn same_browser(browser: Option<&str>, browser_key: &str) -> bool {
    browser.is_some_and(|b| {
        enterprise_sso_protocol::secret::ct_eq(sign_in_key(b).as_bytes(), browser_key.as_bytes())
    })
}
