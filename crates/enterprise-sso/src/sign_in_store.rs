//! The sign-in store: short-lived records that a sign-in uses once. A capability trait of
//! its own beside [`crate::ConnectionRepo`], [`crate::AccountRepo`] and
//! [`crate::EventFeed`] (object_store's one-trait-per-capability model).
//!
//! What it holds, each under a [`SignInKind`]:
//! - pending requests (a SAML AuthnRequest ID, an OIDC `state`), taken exactly once by the
//!   response or callback that answers them;
//! - the replay cache of SAML assertion IDs (per connection), remembered until the
//!   assertion's `NotOnOrAfter` plus skew;
//! - authorization codes (taken once) and access tokens (read until they expire) of the
//!   hosted sign-in API, and the client's authorization requests they answer;
//! - connection test runs (Clerk's `test_runs`): the run itself (kept a week, listed per
//!   connection), its start token (taken once) and its request at the IdP.
//!
//! Keys reach the store already hashed ([`sign_in_key`]: SHA-256 of the raw value), so a
//! store's files never hold a code, token or state that could be replayed. The rules
//! (what expires when, what a take means) live here and in the flows; a store only keeps
//! the records and makes each operation atomic, also across processes and replicas.

use async_trait::async_trait;
use sha2::Digest;

use crate::account::EnterpriseAccount;
use crate::error::Result;
use crate::ids::ConnectionId;
use crate::millis::UnixMillis;

/// What a sign-in record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SignInKind {
    /// A pending SAML AuthnRequest, keyed by its request ID.
    SamlRequest,
    /// A SAML assertion ID already used (the replay cache), keyed per connection.
    SamlAssertion,
    /// A pending OIDC authorization request, keyed by its `state`.
    OidcState,
    /// An authorization code of the hosted sign-in API.
    AuthorizationCode,
    /// An access token of the hosted sign-in API.
    AccessToken,
    /// A client's authorization request of the hosted sign-in API, waiting for the IdP's
    /// answer (keyed by the SAML request ID or the OIDC state it rides on).
    HostedRequest,
    /// A connection test run (its outcome and logs), keyed by its id; listed per
    /// connection ([`SignInStore::list_sign_ins`]).
    TestRun,
    /// The short-lived token of a test run's URL, taken once when the URL is visited.
    TestRunStart,
    /// A test run's request at the IdP, keyed by the SAML RelayState or the OIDC state it
    /// rides on: the answer is a test run, never a sign-in.
    TestRunRequest,
}

impl SignInKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SignInKind; 9] = [
        SignInKind::SamlRequest,
        SignInKind::SamlAssertion,
        SignInKind::OidcState,
        SignInKind::AuthorizationCode,
        SignInKind::AccessToken,
        SignInKind::HostedRequest,
        SignInKind::TestRun,
        SignInKind::TestRunStart,
        SignInKind::TestRunRequest,
    ];

    /// A stable name, as stores write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInKind::SamlRequest => "saml_request",
            SignInKind::SamlAssertion => "saml_assertion",
            SignInKind::OidcState => "oidc_state",
            SignInKind::AuthorizationCode => "authorization_code",
            SignInKind::AccessToken => "access_token",
            SignInKind::HostedRequest => "hosted_request",
            SignInKind::TestRun => "test_run",
            SignInKind::TestRunStart => "test_run_start",
            SignInKind::TestRunRequest => "test_run_request",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(s: &str) -> Option<SignInKind> {
        SignInKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One sign-in record.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInItem {
    /// What it is.
    pub kind: SignInKind,
    /// Its key: [`sign_in_key`] of the raw value (never the raw value).
    pub key: String,
    /// The connection it belongs to, when it belongs to one.
    pub connection_id: Option<ConnectionId>,
    /// When it was written.
    pub created_at: UnixMillis,
    /// From this moment on it is gone: not taken, not read, and its key may be written
    /// again.
    pub expires_at: UnixMillis,
    /// The flow's own data (opaque to stores). It may hold secrets (a PKCE verifier), so
    /// `Debug` shows only its length.
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for SignInItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInItem")
            .field("kind", &self.kind)
            .field("key", &self.key)
            .field("connection_id", &self.connection_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl SignInItem {
    /// Whether it is still there at `now`.
    pub fn is_live_at(&self, now: UnixMillis) -> bool {
        now < self.expires_at
    }
}

/// The key a raw value (request ID, state, code, token, `connection:assertion-id`) is
/// stored under: lower-case hex SHA-256.
pub fn sign_in_key(raw: &str) -> String {
    let digest = sha2::Sha256::digest(raw.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// One step of [`SignInStore::commit_sign_ins`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInOp {
    /// Takes the live record of `kind` under `key`, as [`SignInStore::take_sign_in`]; the
    /// batch fails when there is none (absent, expired or taken).
    Take {
        /// The record kind.
        kind: SignInKind,
        /// Its key ([`sign_in_key`]).
        key: String,
    },
    /// Writes the record, as [`SignInStore::put_sign_in`]; the batch fails when a live
    /// record has its kind and key.
    Put(SignInItem),
}

/// The account write a batch makes together with its records: the same write, checks,
/// errors and change-feed events as [`crate::AccountRepo::insert_account`] and
/// [`crate::AccountRepo::update_account`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AccountWrite {
    /// A new account.
    Insert(EnterpriseAccount),
    /// The stored account replaced if its version is `expected_version`.
    Update {
        /// The account as it is to be stored.
        account: EnterpriseAccount,
        /// The version it must have now (compare-and-swap).
        expected_version: u64,
    },
}

impl AccountWrite {
    /// The account as written.
    pub fn account(&self) -> &EnterpriseAccount {
        match self {
            AccountWrite::Insert(a) => a,
            AccountWrite::Update { account, .. } => account,
        }
    }
}

/// Why a batch of [`SignInStore::commit_sign_ins`] wrote nothing: its operation at `index`
/// could not be applied (a take found no live record, a put found a live one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInConflict {
    /// The failing operation's position in the batch.
    pub index: usize,
}

/// What a batch did: the records its takes took, in the order of the takes, or the
/// operation that stopped it (nothing written).
pub type SignInCommit = std::result::Result<Vec<SignInItem>, SignInConflict>;

/// Short-lived, use-once records of the sign-in flows. Every method is one atomic step,
/// also between processes sharing a file and replicas sharing a server.
#[async_trait]
pub trait SignInStore: Send + Sync + std::fmt::Debug {
    /// Writes `item` unless a live record (one with `expires_at > now`) has its kind and
    /// key: `true` when written (an expired record under the key is replaced), `false`
    /// when a live one was there (nothing changes). This is both "store a new pending
    /// request" and "remember an assertion ID, refusing a second use".
    async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool>;

    /// Takes the record: returns it and removes it in one step, so of two concurrent takes
    /// exactly one gets it. `None` when absent or expired (an expired one is removed).
    async fn take_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>>;

    /// Reads a live record without taking it (an access token is used until it expires).
    async fn get_sign_in(
        &self,
        kind: SignInKind,
        key: &str,
        now: UnixMillis,
    ) -> Result<Option<SignInItem>>;

    /// Removes every record that has expired at `now`; how many.
    async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64>;

    /// Every live record of `kind` that belongs to `connection_id`, in any order (the
    /// caller sorts and pages: a connection's test runs are few, see
    /// `Flows::list_test_runs`).
    async fn list_sign_ins(
        &self,
        kind: SignInKind,
        connection_id: &ConnectionId,
        now: UnixMillis,
    ) -> Result<Vec<SignInItem>>;

    /// Applies `ops` in order (each sees what the earlier ones did) and then `account`, as
    /// one atomic, durable write: all of it or nothing. A sign-in's steps (the pending
    /// request taken, the assertion ID remembered, the account written with its events,
    /// the code stored) commit once instead of once each.
    ///
    /// `Ok(Ok(taken))`: everything was written; `taken` holds the records the takes took,
    /// in order. `Ok(Err(conflict))`: the first operation that could not be applied (a
    /// take with no live record, a put over a live one); nothing was written, not even an
    /// expired record removed. `Err`: the account write failed
    /// ([`crate::Error::AccountExists`], [`crate::Error::VersionConflict`],
    /// [`crate::Error::NotFound`], [`crate::Error::AlreadyExists`]) or the store did;
    /// nothing was written. Of two batches taking the same record at once, exactly one
    /// applies. Stores only apply the batch: which operations a sign-in needs, and what a
    /// conflict means, is the flows' business.
    async fn commit_sign_ins(
        &self,
        ops: &[SignInOp],
        account: Option<&AccountWrite>,
        now: UnixMillis,
    ) -> Result<SignInCommit>;

    /// [`SignInStore::commit_sign_ins`] without an account, for records a crash may lose:
    /// the pending requests a sign-in start writes. A lost one only fails the sign-in that
    /// needed it (its answer finds no pending request and is refused), which the user
    /// starts again; nothing is ever accepted because of a lost write. So a store may
    /// commit these without waiting for the disk (SQLite: `synchronous = NORMAL` for the
    /// batch; PostgreSQL: `synchronous_commit = off` for the transaction), as long as the
    /// batch stays atomic, is seen at once by every reader (other processes and replicas
    /// included), and is ordered before every later write, so the next durable commit
    /// makes it durable too. Everything else (takes of pending requests, assertion IDs,
    /// accounts, codes, tokens) stays on the durable path. The default is the durable
    /// commit.
    async fn commit_pending(&self, ops: &[SignInOp], now: UnixMillis) -> Result<SignInCommit> {
        self.commit_sign_ins(ops, None, now).await
    }
}

macro_rules! forward_sign_in_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<R: SignInStore + ?Sized> SignInStore for $ty {
            async fn put_sign_in(&self, item: &SignInItem, now: UnixMillis) -> Result<bool> {
                (**self).put_sign_in(item, now).await
            }
            async fn take_sign_in(
                &self,
                kind: SignInKind,
                key: &str,
                now: UnixMillis,
            ) -> Result<Option<SignInItem>> {
                (**self).take_sign_in(kind, key, now).await
            }
            async fn get_sign_in(
                &self,
                kind: SignInKind,
                key: &str,
                now: UnixMillis,
            ) -> Result<Option<SignInItem>> {
                (**self).get_sign_in(kind, key, now).await
            }
            async fn sweep_sign_ins(&self, now: UnixMillis) -> Result<u64> {
                (**self).sweep_sign_ins(now).await
            }
            async fn list_sign_ins(
                &self,
                kind: SignInKind,
                connection_id: &ConnectionId,
                now: UnixMillis,
            ) -> Result<Vec<SignInItem>> {
                (**self).list_sign_ins(kind, connection_id, now).await
            }
            async fn commit_sign_ins(
                &self,
                ops: &[SignInOp],
                account: Option<&AccountWrite>,
                now: UnixMillis,
            ) -> Result<SignInCommit> {
                (**self).commit_sign_ins(ops, account, now).await
            }
            async fn commit_pending(&self, ops: &[SignInOp], now: UnixMillis) -> Result<SignInCommit> {
                (**self).commit_pending(ops, now).await
            }
        }
    )*};
}

forward_sign_in_store!(std::sync::Arc<R>, Box<R>, &R);

/// Implements [`SignInStore`] for a wrapper by handing every call to its inner store
/// (`$inner`, an expression of `$s`, the receiver): the read cache leaves sign-in records
/// alone (they are short-lived and read once or a few times; caching them would only
/// delay the single-use rules). The encrypting wrapper has its own impl: it seals test
/// runs' payloads.
#[doc(hidden)]
#[macro_export]
macro_rules! forward_sign_in_store_to_inner {
    (impl[$($g:tt)*] for $ty:ty, |$s:ident| $inner:expr) => {
        #[async_trait::async_trait]
        impl<$($g)*> $crate::SignInStore for $ty {
            async fn put_sign_in(&self, item: &$crate::SignInItem, now: $crate::UnixMillis) -> $crate::Result<bool> {
                let $s = self;
                $inner.put_sign_in(item, now).await
            }
            async fn take_sign_in(
                &self,
                kind: $crate::SignInKind,
                key: &str,
                now: $crate::UnixMillis,
            ) -> $crate::Result<Option<$crate::SignInItem>> {
                let $s = self;
                $inner.take_sign_in(kind, key, now).await
            }
            async fn get_sign_in(
                &self,
                kind: $crate::SignInKind,
                key: &str,
                now: $crate::UnixMillis,
            ) -> $crate::Result<Option<$crate::SignInItem>> {
                let $s = self;
                $inner.get_sign_in(kind, key, now).await
            }
            async fn sweep_sign_ins(&self, now: $crate::UnixMillis) -> $crate::Result<u64> {
                let $s = self;
                $inner.sweep_sign_ins(now).await
            }
            async fn list_sign_ins(
                &self,
                kind: $crate::SignInKind,
                connection_id: &$crate::ConnectionId,
                now: $crate::UnixMillis,
            ) -> $crate::Result<Vec<$crate::SignInItem>> {
                let $s = self;
                $inner.list_sign_ins(kind, connection_id, now).await
            }
            async fn commit_sign_ins(
                &self,
                ops: &[$crate::SignInOp],
                account: Option<&$crate::AccountWrite>,
                now: $crate::UnixMillis,
            ) -> $crate::Result<$crate::SignInCommit> {
                let $s = self;
                $inner.commit_sign_ins(ops, account, now).await
            }
            async fn commit_pending(
                &self,
                ops: &[$crate::SignInOp],
                now: $crate::UnixMillis,
            ) -> $crate::Result<$crate::SignInCommit> {
                let $s = self;
                $inner.commit_pending(ops, now).await
            }
        }
    };
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sha256_hex_and_kinds_round_trip() {
        assert_eq!(
            sign_in_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for k in SignInKind::ALL {
            assert_eq!(SignInKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(SignInKind::parse("nope"), None);
    }

    #[test]
    fn debug_never_shows_the_payload() {
        let item = SignInItem {
            kind: SignInKind::OidcState,
            key: sign_in_key("s"),
            connection_id: None,
            created_at: UnixMillis::new(0),
            expires_at: UnixMillis::new(1),
            payload: b"pkce-verifier-secret".to_vec(),
        };
        assert!(!format!("{item:?}").contains("pkce-verifier-secret"));
    }
}
